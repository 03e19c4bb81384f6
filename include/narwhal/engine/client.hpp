// The Docker Engine API client: unix or tcp (optionally TLS) transport, API version negotiation,
// GET calls that return bodies or typed errors, and the streaming events call. One Client is used
// by one thread at a time (the watcher and the events reader each own one).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "narwhal/util/result.hpp"

namespace narwhal::engine {

// Oldest and newest Engine API versions narwhal speaks.
inline constexpr std::string_view kOldestApi = "1.41";
inline constexpr std::string_view kNewestApi = "1.47";

struct Endpoint {
  enum class Kind { unix_socket, tcp };
  Kind kind = Kind::unix_socket;
  std::string path;  // unix socket path
  std::string host;  // tcp host
  int port = 2375;
  bool tls = false;
  std::string cert_path;  // ca.pem, cert.pem, key.pem (DOCKER_CERT_PATH)
  [[nodiscard]] std::string describe() const;
};

enum class ErrorKind {
  unreachable,      // connection refused, reset, timed out, truncated
  http_status,      // the engine answered with a non-2xx status
  bad_body,         // a 2xx answer whose body is not what the API promises
  unsupported_api,  // the engine is older than kOldestApi
  cancelled,        // stop() was called
};

struct Error {
  ErrorKind kind = ErrorKind::unreachable;
  int status = 0;       // for http_status
  std::string message;  // the engine's {"message"} or what failed and why, in words
  std::string call;     // "GET /v1.41/tasks": the call that failed ("" when none was made)
  // "engine unreachable: GET /v1.41/tasks: no response within 10 s"
  [[nodiscard]] std::string describe() const;
};

template <class T>
using Result = util::Result<T, Error>;

// Parses DOCKER_HOST syntax: "unix:///path", "tcp://host:port", "/path". With `tls` the tcp
// endpoint uses TLS with the certificates in `cert_path`.
[[nodiscard]] util::Result<Endpoint, std::string> parse_endpoint(std::string_view docker_host,
                                                                 bool tls,
                                                                 const std::string& cert_path);

// "1.41" < "1.45" < "1.100": compares dotted versions numerically.
[[nodiscard]] int compare_versions(std::string_view a, std::string_view b) noexcept;

class Client {
 public:
  Client(Endpoint endpoint, std::chrono::milliseconds timeout);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Reads /_ping's Api-Version (and /version's minimum) and pins
  // min(engine, kNewestApi). Fails with unsupported_api below kOldestApi.
  Result<std::string> negotiate();
  [[nodiscard]] const std::string& api_version() const noexcept { return api_version_; }
  // Pins a version negotiated by another Client for the same engine.
  void set_api_version(std::string version) { api_version_ = std::move(version); }

  // GET /v<api><path_and_query>; the body of a 2xx answer, otherwise an Error.
  Result<std::string> get(std::string_view path_and_query);
  // GET /_ping within `timeout`: proves the engine answers (a frozen one accepts connections
  // but never replies).
  Result<util::Ok> ping(std::chrono::milliseconds timeout);

  // GET /v<api>/events?<query>: calls on_line for every complete line of the stream until the
  // stream ends (an error: engines cut it on shutdown), on_line returns false, stop() is called,
  // or nothing arrives for `silence` (the watchdog).
  // `on_open` runs once the engine has answered 200, i.e. the subscription is in place.
  using LineHandler = std::function<bool(std::string_view line)>;
  Result<util::Ok> stream_events(std::string_view query, std::chrono::milliseconds silence,
                                 const std::function<void()>& on_open, const LineHandler& on_line);

  // Aborts a running call from another thread.
  void stop();

 private:
  struct Transport;
  [[nodiscard]] Error transport_error(int error, std::string call,
                                      std::chrono::steady_clock::time_point started,
                                      std::chrono::milliseconds timeout) const;
  Endpoint endpoint_;
  std::chrono::milliseconds timeout_;
  std::string api_version_;
  std::unique_ptr<Transport> transport_;
};

}  // namespace narwhal::engine
