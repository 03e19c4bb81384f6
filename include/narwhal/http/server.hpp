// The HTTP server (Boost.Beast): accepts connections on N threads, reads requests within the
// limits of SPEC §15, asks the Handler for a Reply and writes it with the cross-cutting headers
// of §7. One coroutine per connection on its own strand; every read and write has a deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "narwhal/http/handler.hpp"

namespace narwhal::http {

struct ServerOptions {
  std::string host = "0.0.0.0";
  std::uint16_t port = 9000;  // 0 = any free port (tests)
  unsigned threads = 1;
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds idle_timeout{120'000};
  std::chrono::milliseconds drain_timeout{3'000};
  // An event stream whose client takes longer than this to accept a write is closed.
  std::chrono::milliseconds stream_write_timeout{30'000};
  std::string tls_cert;  // PEM certificate chain and key: serve HTTPS (with HSTS) when set
  std::string tls_key;
  // Connections served at once; 0 = derived from RLIMIT_NOFILE at start, keeping an eighth of
  // the descriptors (at least 64) for the engine, the log and the connections over the cap,
  // which get one request: /-/health, /-/ready and /-/metrics are answered, anything else 503.
  std::size_t max_connections = 0;
  // Requests whose answer needs rendering, filtering, sorting or compressing run on this many
  // threads of their own (Handler::handle_quick decides); at most `render_queue` wait for one,
  // and the next is answered 503 API014 with Retry-After.
  unsigned render_threads = 1;
  std::size_t render_queue = 64;
  // Called for every answer written (from the I/O threads; it must be quick): the route
  // pattern and problem code of the reply, its method and status, and the seconds from the
  // request's head read to the answer written (for an event stream, its head).
  struct Observation {
    std::string_view route, method, problem;
    int status = 0;
    double seconds = 0;
  };
  std::function<void(const Observation&)> observe;
};

// The connection cap ServerOptions::max_connections = 0 stands for, given a descriptor limit.
[[nodiscard]] std::size_t default_max_connections(std::uint64_t fd_limit) noexcept;

class Server {
 public:
  Server(ServerOptions options, const Handler& handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds (throws std::runtime_error naming the address on failure) and starts the threads.
  void start();
  // The base path the discovery Link headers carry (SPEC §7); call before start().
  void set_links_base(std::string_view base_path);
  [[nodiscard]] std::uint16_t port() const noexcept;
  // Stops accepting, lets requests in flight finish (bounded), then stops the threads.
  void stop();
  // Blocks until stop() has completed (from another thread or a signal).
  void wait();

  struct Stats {
    std::uint64_t connections_open = 0, requests = 0, header_limit_hits = 0, timeouts = 0;
    std::uint64_t internal_errors = 0;        // requests answered 500 API008
    std::uint64_t connection_limit_hits = 0;  // connections over the cap (answered 503 API012)
    std::uint64_t accept_errors = 0;          // failed accepts (out of descriptors, mostly)
    std::uint64_t max_connections = 0;        // the cap in force
    std::uint64_t render_jobs = 0;            // requests run on the render pool
    std::uint64_t render_waiting = 0;         // waiting for a render thread now
    std::uint64_t render_running = 0;         // on a render thread now
    std::uint64_t render_rejected = 0;        // answered 503 API014: the queue was full
    unsigned render_threads = 0;
  };
  [[nodiscard]] Stats stats() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace narwhal::http
