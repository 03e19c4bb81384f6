// Internal to the http module: the handler's state and what its files share. handler.cpp
// dispatches and negotiates; resources.cpp serves the swarm's objects; feeds.cpp the history
// (JSON and Atom) and event streams; meta.cpp search, /api and the error registry.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "narwhal/http/handler.hpp"
#include "narwhal/http/negotiate.hpp"
#include "narwhal/http/routes.hpp"
#include "narwhal/live/event.hpp"
#include "narwhal/query/filter.hpp"
#include "narwhal/query/list_query.hpp"
#include "narwhal/render/json.hpp"
#include "narwhal/util/encoding.hpp"

namespace narwhal::http {

namespace detail {

inline constexpr std::string_view kNoCache = "no-cache";
inline constexpr std::string_view kNoStore = "no-store";
inline constexpr std::string_view kPublicHour = "public, max-age=3600";
inline constexpr std::string_view kProblemType = "application/problem+json";
// Bodies at or under this size are sent as they are: compressing them gains too little (§2).
inline constexpr std::size_t kCompressAbove = 1024;
// On data responses while the state served is no longer refreshed from a swarm manager.
inline constexpr std::string_view kStaleWarning = "110 narwhal \"Response is Stale\"";

// The quick pass (Handler::handle_quick) runs on the I/O threads and must not do anything that
// may take milliseconds: rendering, filtering and sorting, compressing, building /-/metrics,
// replaying a stream. Where such work would start, `needs_work()` throws NeedsWork in that pass
// (before any state is touched), and the server runs the whole request on its render pool.
struct NeedsWork {};
inline thread_local bool t_quick_pass = false;
inline void needs_work() {
  if (t_quick_pass) throw NeedsWork{};
}

// What a rendered body depends on: the generations of the kinds it shows, the meta generation
// and the newest history ID; a cached body is reused only while all of them are unchanged.
inline constexpr std::size_t kMetaSlot = state::kKinds;
inline constexpr std::size_t kHistorySlot = state::kKinds + 1;
using Deps = std::array<std::uint64_t, state::kKinds + 2>;

[[nodiscard]] Deps deps_of(const state::Snapshot& snap, std::initializer_list<state::Kind> kinds,
                           bool meta = false);

struct CacheEntry {
  Deps deps{};
  std::shared_ptr<const std::string> body;
  std::string etag;
  std::int64_t last_modified = 0;
  std::size_t total = 0;  // lists: items after search and filter
  std::string links;      // lists: the paging Link header value
  // The body compressed with each coding, made on first demand and kept as long as the body:
  // a popular page is compressed once per change of what it shows, not once per request.
  [[nodiscard]] std::shared_ptr<const std::string> encoded(util::Coding c) const;

 private:
  mutable std::mutex encoded_mutex_;
  mutable std::array<std::shared_ptr<const std::string>, 4> encoded_;
};

// What a render produces; lists add their total and paging links.
struct Fresh {
  Fresh() = default;
  Fresh(render::Body b) : body(std::move(b)) {}  // NOLINT(google-explicit-constructor)
  render::Body body;
  std::size_t total = 0;
  std::string links;
};

// One request as routed: what it asked for and in which representation.
struct Call {
  const Request& rq;
  const Route& route;
  const std::vector<std::string>& args;
  Representation rep;
  std::string_view path;   // as requested, base path included
  std::string_view query;  // raw query string
  state::SnapshotPtr snap;
  [[nodiscard]] std::string self() const;  // path?query
};

// The value of query parameter `name`, or nullopt.
[[nodiscard]] std::optional<std::string> param(const std::vector<query::Param>& params,
                                               std::string_view name);
// limit= of a history page, a feed or a search, 1 to 200, into `limit` when present; the
// problem detail when it is malformed.
[[nodiscard]] std::optional<std::string> parse_limit(const std::vector<query::Param>& params,
                                                     std::size_t& limit);
// A JSON string of `s` (at most 128 bytes of it), for problem details.
[[nodiscard]] std::string quoted(std::string_view s);
// A type named as in events ("service") or as its collection ("services").
[[nodiscard]] std::optional<state::Kind> kind_named(std::string_view name);
// The detail of a problem for an unknown type in parameter `param`.
[[nodiscard]] std::string unknown_type(std::string_view param, std::string_view name);
// The kind's code prefix for not-found and ambiguity problems (NOD, SVC, …).
[[nodiscard]] std::string_view code_domain(state::Kind k);
// "Services", "Task", …: a kind as people write it at the start of a title.
[[nodiscard]] std::string display_name(state::Kind k, bool plural);

}  // namespace detail

struct Handler::Impl {
  using CacheEntry = detail::CacheEntry;
  using Call = detail::Call;
  using Deps = detail::Deps;

  Settings settings;
  const state::Store& store;
  live::Hub* hub;
  render::Site site;
  std::int64_t started;
  // The rendered-response cache: LRU, bounded by entries and by bytes. Concurrent misses of one
  // key render once (the others wait for that render).
  struct CacheSlot {
    std::shared_ptr<const CacheEntry> entry;
    std::list<std::string>::iterator recency;  // in `lru`, most recent first
    std::size_t bytes = 0;
  };
  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, CacheSlot> cache;
  mutable std::list<std::string> lru;
  mutable std::size_t cache_bytes = 0;
  mutable std::unordered_map<std::string, std::shared_future<std::shared_ptr<const CacheEntry>>>
      rendering;
  mutable std::atomic<std::uint64_t> hits{0}, misses{0}, evictions{0}, shared_renders{0};
  mutable query::FilterCache filters;
  // A filter compiled (with its RE2 programs) or taken from the cache; in the quick pass only
  // from the cache, since compiling may take a while.
  util::Result<query::FilterPtr, query::FilterError> compile(state::Kind kind,
                                                             std::string_view text) const {
    if (detail::t_quick_pass) {
      if (auto hit = filters.find(kind, text)) return std::move(*hit);
      detail::needs_work();
    }
    return filters.get(kind, text);
  }

  Impl(Settings s, const state::Store& st, live::Hub* h);

  // handler.cpp: problems, the cache, answers, routing and negotiation.
  Reply problem(std::string code, std::string detail, std::string_view instance,
                std::string_view request_id, std::vector<std::string> candidates = {}) const;
  Reply problem(const Call& c, std::string code, std::string detail) const {
    return problem(std::move(code), std::move(detail), c.path, c.rq.request_id);
  }
  bool ready(const state::Snapshot& snap) const;
  std::shared_ptr<const CacheEntry> cached(const std::string& key, const Deps& deps,
                                           const std::function<detail::Fresh()>& render) const;
  // The answer of a rendered body: validators, conditional requests, compression, Vary.
  Reply respond(const Request& rq, Representation rep, const CacheEntry& entry) const;
  // The same for a body rendered for this request alone.
  Reply respond_fresh(const Request& rq, Representation rep, std::string body,
                      std::int64_t last_modified = 0) const;
  Reply handle(const Request& rq) const;
  Reply route(const Request& rq, const std::vector<std::string>& segs, std::string_view path,
              std::string_view query) const;
  // The representation `route` answers `rq` with, or the 406 saying why there is none.
  std::variant<Representation, Reply> negotiate(const Request& rq, const Route& route,
                                                std::optional<Representation> extension,
                                                std::string_view path) const;
  Reply serve(const Call& c) const;
  // 503 ENG001/ENG002 with Retry-After: the engine's reason there is no data yet.
  Reply not_synced(const Request& rq, const state::Snapshot& snap, std::string_view path) const;
  // The built-in page for text/html until the dashboard is built.
  // `base` is the URL without extension; `suffix` a query string both views keep ("?q=web").
  Reply html_page(const Call& c, std::string title, std::string description,
                  const std::string& base, bool has_feed,
                  std::vector<std::pair<std::string, std::string>> links = {},
                  const std::string& suffix = {}) const;

  // resources.cpp: the swarm's objects as JSON (and their pages).
  Reply index(const Call& c) const;
  Reply list(const Call& c, state::Kind kind, const state::Object* owner) const;
  Reply detail(const Call& c, state::Kind kind, std::string_view key) const;
  Reply tasks_of(const Call& c) const;
  Reply cluster(const Call& c) const;
  Reply swarm(const Call& c) const;
  // A detail URL's object: found, or the 404/409 problem.
  std::variant<const state::Object*, Reply> find_object(const Call& c, state::Kind kind,
                                                        std::string_view key) const;
  // Link-Template of a list of `kind` (§4).
  std::string item_template(state::Kind kind) const;

  // feeds.cpp: the history as JSON and Atom, and the event streams.
  Reply history(const Call& c) const;
  // The Atom feed of the changes `in_scope` selects. `scope` is the feed's path without base
  // path or extension ("/services/<id>"), which names it permanently; `kept` the query
  // parameters every page of it keeps ("q=web&").
  Reply feed(const Call& c, const std::string& scope, std::string title, std::string alternate,
             std::function<bool(const state::HistoryEntry&)> in_scope,
             const std::string& kept = {}) const;
  Reply events(const Call& c) const;
  // Opens an event stream of `scope` (§8), or says why not.
  Reply stream(const Call& c, live::Scope scope) const;
  // ?filter= for a stream of `kinds`: the expression compiled for each kind it applies to.
  std::optional<Reply> stream_filter(const Call& c, const std::vector<query::Param>& params,
                                     std::uint16_t kinds, live::Scope& scope) const;

  // meta.cpp: search, the OpenAPI document, the JSON-LD context and the error registry.
  Reply search(const Call& c) const;
  Reply api(const Call& c) const;
  Reply context(const Call& c) const;
  Reply errors(const Call& c) const;
  Reply error(const Call& c) const;
  Reply health(const Call& c) const;
  Reply readiness(const Call& c) const;
  Reply metrics(const Call& c) const;
};

}  // namespace narwhal::http
