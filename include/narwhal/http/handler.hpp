// The request handler: routing, negotiation, lookup, conditional requests and the cache of
// rendered responses, as a pure function of (request, current snapshot). It never touches a
// socket, so every HTTP behaviour is unit-tested without one; the server only moves bytes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "narwhal/state/store.hpp"

namespace narwhal::live {
class Hub;
class Stream;
}  // namespace narwhal::live

namespace narwhal::http {

struct Request {
  std::string_view method;  // "GET", "HEAD", …
  std::string_view target;  // origin-form: path and query
  std::string_view accept;
  std::string_view accept_encoding;
  std::string_view if_none_match;
  std::string_view if_modified_since;
  std::string_view range;           // Range: items=a-b
  std::string_view origin;          // CORS
  std::string_view request_method;  // Access-Control-Request-Method (preflight)
  std::string_view last_event_id;   // SSE reconnects
  std::string request_id;           // already chosen: the client's or a generated one
};

struct Reply {
  int status = 200;
  std::string_view content_type;  // "" when there is no body (304, 204)
  std::shared_ptr<const std::string> body;
  bool send_body = true;  // false for HEAD and 304
  std::string etag;
  std::int64_t last_modified = 0;  // microseconds; 0 = none
  std::string_view cache_control;
  bool vary_accept = false;
  bool vary_encoding = false;         // the body may be compressed (Vary: Accept-Encoding)
  std::string_view content_encoding;  // "gzip", "br", "zstd"; "" = identity
  bool discovery_links = true;        // Link: service-desc/describedby (not on /-/…)
  std::string links;                  // more Link values (paging), sent in the same Link field
  std::string content_location;
  std::vector<std::pair<std::string_view, std::string>> headers;  // any others
  // Server-Sent Events: the body is a stream of unknown length (set also for HEAD, which gets
  // the head only); `stream` is the open stream for GET.
  bool event_stream = false;
  std::shared_ptr<live::Stream> stream;
  // For the request metrics: the pattern of the route that answered ("" = none), and the
  // problem code of a problem answer ("" = none); both view static tables.
  std::string_view route;
  std::string_view problem;
};

struct Settings {
  std::string base_path;
  std::chrono::milliseconds ready_grace{30'000};
  std::size_t max_search_chars = 200;
  std::vector<std::string> cors_origins;
  std::string version = "0.1.0";
  std::size_t cache_entries = 4096;
  std::size_t max_filter_chars = 512;
  // The body of /-/metrics (Prometheus text format); null: not served.
  std::function<std::string()> metrics;
  // The authority of the permanent tag: URIs of feeds and entries (RFC 4151), a domain name
  // the operator owns.
  std::string tag_authority = "narwhal.localhost";
  // The rendered-response cache keeps at most this many bytes of bodies (least recently used
  // go first), whatever clients ask for.
  std::size_t cache_bytes = 256 * 1024 * 1024;
};

class Handler {
 public:
  // `hub` serves the event streams; without one, streams are refused (406 API001).
  Handler(Settings settings, const state::Store& store, live::Hub* hub = nullptr);
  ~Handler();
  Handler(const Handler&) = delete;
  Handler& operator=(const Handler&) = delete;

  [[nodiscard]] Reply handle(const Request& request) const;
  // The same when it is quick (a cached body, a probe, a problem, a page): nullopt when the
  // answer needs work that may take milliseconds (rendering, filtering, sorting, compressing,
  // /-/metrics, a stream's replay), which the server then runs with handle() on its render pool
  // so that the threads that accept, read and write never wait behind it.
  [[nodiscard]] std::optional<Reply> handle_quick(const Request& request) const;
  // A problem reply for errors found before routing (bad request line, headers too large).
  [[nodiscard]] Reply problem(std::string code, std::string detail, std::string_view instance,
                              std::string_view request_id) const;
  [[nodiscard]] bool ready() const;

  struct CacheStats {
    std::uint64_t hits = 0, misses = 0;
    std::size_t entries = 0;
    std::size_t bytes = 0;             // of the bodies kept
    std::uint64_t evictions = 0;       // entries dropped to stay within the budget
    std::uint64_t shared_renders = 0;  // misses that waited for a render another request ran
  };
  [[nodiscard]] CacheStats cache_stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace narwhal::http
