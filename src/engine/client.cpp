#include "narwhal/engine/client.hpp"

#include <grp.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "narwhal/util/text.hpp"

namespace narwhal::engine {

std::string Endpoint::describe() const {
  if (kind == Kind::unix_socket) return "unix://" + path;
  return std::string(tls ? "tcp+tls://" : "tcp://") + host + ":" + std::to_string(port);
}

std::string Error::describe() const {
  const std::string at = call.empty() ? std::string() : call + ": ";
  switch (kind) {
    case ErrorKind::unreachable: return "engine unreachable: " + at + message;
    case ErrorKind::http_status:
      return "engine answered " + at + std::to_string(status) + " " + message;
    case ErrorKind::bad_body: return "engine sent a malformed body: " + at + message;
    case ErrorKind::unsupported_api: return "engine API too old: " + message;
    case ErrorKind::cancelled: return "cancelled";
  }
  return message;
}

util::Result<Endpoint, std::string> parse_endpoint(std::string_view docker_host, bool tls,
                                                   const std::string& cert_path) {
  Endpoint ep;
  if (docker_host.starts_with("unix://")) {
    ep.path = std::string(docker_host.substr(7));
  } else if (docker_host.starts_with("/")) {
    ep.path = std::string(docker_host);
  } else if (docker_host.starts_with("tcp://")) {
    ep.kind = Endpoint::Kind::tcp;
    std::string_view rest = docker_host.substr(6);
    if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
      rest = rest.substr(0, slash);
    }
    std::string_view host = rest;
    std::string_view port;
    if (rest.starts_with("[")) {
      const auto close = rest.find(']');
      if (close == std::string_view::npos) {
        return util::Unexpected{"\"" + std::string(docker_host) + "\" has an unclosed IPv6 ["};
      }
      host = rest.substr(1, close - 1);
      if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
    } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
    }
    ep.host = std::string(host);
    ep.tls = tls;
    ep.port = tls ? 2376 : 2375;
    if (!port.empty()) {
      const auto p = util::parse_uint(port);
      if (!p || *p == 0 || *p > 65535) {
        return util::Unexpected{"\"" + std::string(docker_host) + "\" has a bad port"};
      }
      ep.port = static_cast<int>(*p);
    }
    if (ep.host.empty()) {
      return util::Unexpected{"\"" + std::string(docker_host) + "\" has no host"};
    }
    ep.cert_path = cert_path;
  } else {
    return util::Unexpected{"\"" + std::string(docker_host) +
                            "\" is not a Docker host (use unix:///path or tcp://host:port)"};
  }
  if (ep.kind == Endpoint::Kind::unix_socket && ep.path.empty()) {
    return util::Unexpected{"\"" + std::string(docker_host) + "\" names no socket path"};
  }
  return ep;
}

int compare_versions(std::string_view a, std::string_view b) noexcept {
  while (!a.empty() || !b.empty()) {
    unsigned x = 0, y = 0;
    auto take = [](std::string_view& s, unsigned& out) {
      const auto dot = s.find('.');
      const auto part = s.substr(0, dot);
      std::from_chars(part.data(), part.data() + part.size(), out);
      s = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
    };
    take(a, x);
    take(b, y);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

struct Client::Transport {
  std::unique_ptr<httplib::Client> http;
};

Client::Client(Endpoint endpoint, std::chrono::milliseconds timeout)
    : endpoint_(std::move(endpoint)), timeout_(timeout), transport_(std::make_unique<Transport>()) {
  std::unique_ptr<httplib::Client> c;
  if (endpoint_.kind == Endpoint::Kind::unix_socket) {
    c = std::make_unique<httplib::Client>(endpoint_.path);
    c->set_address_family(AF_UNIX);
  } else if (endpoint_.tls) {
    const std::string base = endpoint_.cert_path.empty() ? "" : endpoint_.cert_path + "/";
    c = std::make_unique<httplib::Client>(
        "https://" + endpoint_.host + ":" + std::to_string(endpoint_.port), base + "cert.pem",
        base + "key.pem");
    c->set_ca_cert_path(base + "ca.pem");
    c->enable_server_certificate_verification(true);
  } else {
    c = std::make_unique<httplib::Client>(endpoint_.host, endpoint_.port);
  }
  c->set_connection_timeout(timeout_);
  c->set_read_timeout(timeout_);
  c->set_write_timeout(timeout_);
  c->set_keep_alive(true);
  // cpp-httplib would send the socket path as Host for unix sockets, which the engine (Go's
  // net/http) rejects with 400 "malformed Host header"; the docker CLI sends a plain name too.
  if (endpoint_.kind == Endpoint::Kind::unix_socket) c->set_default_headers({{"Host", "docker"}});
  transport_->http = std::move(c);
}

Client::~Client() = default;

namespace {

std::string engine_message(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    const auto it = doc.FindMember("message");
    if (it != doc.MemberEnd() && it->value.IsString()) return it->value.GetString();
  }
  // Some answers (a too-old API version) are text/plain.
  std::string text = body.substr(0, 300);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

std::string seconds(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

// Why connect() to a unix socket fails, in the words an operator can act on. The most common
// real-world failure is a user outside the group that owns the socket.
std::string unix_connect_failure(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "connect " + path + ": " + std::strerror(errno);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    ::close(fd);
    return "connect " + path + ": the path is longer than a unix socket path may be";
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API takes sockaddr*
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int err = errno;
  ::close(fd);
  if (rc == 0) return "connect " + path + ": the connection failed, then succeeded on a retry";
  std::string why = "connect " + path + ": " + std::strerror(err);
  if (err == EACCES || err == EPERM) {
    struct stat st {};
    std::string owner = "docker";
    if (::stat(path.c_str(), &st) == 0) {
      if (const struct group* g = ::getgrgid(st.st_gid); g != nullptr) owner = g->gr_name;
    }
    why += " (run narwhal as root or as a user in the group that owns the socket: " + owner + ")";
  } else if (err == ENOENT) {
    why += " (is dockerd running, and is this its socket? set --docker-host or DOCKER_HOST)";
  } else if (err == ECONNREFUSED) {
    why += " (nothing is listening: dockerd is not running)";
  }
  return why;
}

}  // namespace

Error Client::transport_error(int code, std::string call,
                              std::chrono::steady_clock::time_point started,
                              std::chrono::milliseconds timeout) const {
  const auto e = static_cast<httplib::Error>(code);
  Error out{ErrorKind::unreachable, 0, {}, std::move(call)};
  const auto elapsed = std::chrono::steady_clock::now() - started;
  switch (e) {
    case httplib::Error::Canceled: return {ErrorKind::cancelled, 0, "cancelled", out.call};
    case httplib::Error::Connection:
      out.message = endpoint_.kind == Endpoint::Kind::unix_socket
                        ? unix_connect_failure(endpoint_.path)
                        : "cannot connect to " + endpoint_.describe() +
                              " (refused or unreachable: is dockerd listening there?)";
      break;
    case httplib::Error::ConnectionTimeout:
      out.message = "no connection to " + endpoint_.describe() + " within " + seconds(timeout);
      break;
    case httplib::Error::Read:
      // cpp-httplib reports a timeout and a closed connection alike; the clock tells them apart.
      out.message = elapsed + std::chrono::milliseconds(50) >= timeout
                        ? "no response within " + seconds(timeout)
                        : "the engine closed the connection before answering";
      break;
    case httplib::Error::Write:
      out.message = "could not send the request (the connection was closed)";
      break;
    case httplib::Error::SSLConnection:
      out.message = "the TLS handshake with " + endpoint_.describe() + " failed";
      break;
    case httplib::Error::SSLLoadingCerts:
      out.message = "cannot load the TLS certificates (ca.pem, cert.pem, key.pem) from " +
                    (endpoint_.cert_path.empty() ? std::string("the working directory")
                                                 : endpoint_.cert_path);
      break;
    case httplib::Error::SSLServerVerification:
      out.message = "the engine's TLS certificate is not signed by ca.pem";
      break;
    default: out.message = httplib::to_string(e); break;
  }
  return out;
}

Result<std::string> Client::negotiate() {
  const auto started = std::chrono::steady_clock::now();
  auto ping = transport_->http->Get("/_ping");
  if (!ping)
    return util::Unexpected{
        transport_error(static_cast<int>(ping.error()), "GET /_ping", started, timeout_)};
  if (ping->status != 200) {
    return util::Unexpected{
        Error{ErrorKind::http_status, ping->status, engine_message(ping->body), "GET /_ping"}};
  }
  std::string engine_version = ping->get_header_value("Api-Version");
  if (engine_version.empty()) {
    // Very old engines: ask /version.
    const auto asked = std::chrono::steady_clock::now();
    auto ver = transport_->http->Get("/version");
    if (!ver) {
      return util::Unexpected{
          transport_error(static_cast<int>(ver.error()), "GET /version", asked, timeout_)};
    }
    rapidjson::Document doc;
    doc.Parse(ver->body.data(), ver->body.size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("ApiVersion") ||
        !doc["ApiVersion"].IsString()) {
      return util::Unexpected{
          Error{ErrorKind::bad_body, ver->status, "/version has no ApiVersion", "GET /version"}};
    }
    engine_version = doc["ApiVersion"].GetString();
  }
  if (compare_versions(engine_version, kOldestApi) < 0) {
    return util::Unexpected{Error{ErrorKind::unsupported_api, 0,
                                  "engine speaks API " + engine_version + ", narwhal needs " +
                                      std::string(kOldestApi) + " or newer",
                                  "GET /_ping"}};
  }
  api_version_ =
      compare_versions(engine_version, kNewestApi) > 0 ? std::string(kNewestApi) : engine_version;
  return api_version_;
}

Result<std::string> Client::get(std::string_view path_and_query) {
  const std::string path = "/v" + api_version_ + std::string(path_and_query);
  const auto started = std::chrono::steady_clock::now();
  auto res = transport_->http->Get(path);
  if (!res)
    return util::Unexpected{
        transport_error(static_cast<int>(res.error()), "GET " + path, started, timeout_)};
  if (res->status < 200 || res->status > 299) {
    return util::Unexpected{
        Error{ErrorKind::http_status, res->status, engine_message(res->body), "GET " + path}};
  }
  return std::move(res->body);
}

Result<util::Ok> Client::ping(std::chrono::milliseconds timeout) {
  transport_->http->set_read_timeout(timeout);
  transport_->http->set_connection_timeout(timeout);
  const auto started = std::chrono::steady_clock::now();
  auto res = transport_->http->Get("/_ping");
  transport_->http->set_read_timeout(timeout_);
  transport_->http->set_connection_timeout(timeout_);
  if (!res)
    return util::Unexpected{
        transport_error(static_cast<int>(res.error()), "GET /_ping", started, timeout)};
  if (res->status != 200) {
    return util::Unexpected{
        Error{ErrorKind::http_status, res->status, engine_message(res->body), "GET /_ping"}};
  }
  return util::Ok{};
}

Result<util::Ok> Client::stream_events(std::string_view query, std::chrono::milliseconds silence,
                                       const std::function<void()>& on_open,
                                       const LineHandler& on_line) {
  const std::string path = "/v" + api_version_ + "/events?" + std::string(query);
  const auto started = std::chrono::steady_clock::now();
  transport_->http->set_read_timeout(silence);
  int status = 0;
  std::string error_body;
  std::string pending;
  bool stopped_by_handler = false;
  auto res = transport_->http->Get(
      path,
      [&](const httplib::Response& r) {
        status = r.status;
        if (status >= 200 && status <= 299 && on_open) on_open();
        return true;
      },
      [&](const char* data, std::size_t len) {
        if (status < 200 || status > 299) {
          if (error_body.size() < 4096) error_body.append(data, len);
          return true;
        }
        pending.append(data, len);
        std::size_t start = 0;
        for (;;) {
          const auto nl = pending.find('\n', start);
          if (nl == std::string::npos) break;
          const std::string_view line(pending.data() + start, nl - start);
          start = nl + 1;
          if (!line.empty() && !on_line(line)) {
            stopped_by_handler = true;
            return false;
          }
        }
        pending.erase(0, start);
        // A line without a newline that grows without bound is not an event stream.
        if (pending.size() > (1U << 20)) return false;
        return true;
      });
  transport_->http->set_read_timeout(timeout_);
  if (stopped_by_handler) return util::Ok{};
  if (status != 0 && (status < 200 || status > 299)) {
    return util::Unexpected{
        Error{ErrorKind::http_status, status, engine_message(error_body), "GET /events"}};
  }
  if (!res) {
    auto e = transport_error(static_cast<int>(res.error()), "GET /events", started, silence);
    // Silence on an open stream is not a timeout of the call: the watchdog decides what it means.
    if (status != 0 && res.error() == httplib::Error::Read) e.message = "the events stream ended";
    return util::Unexpected{std::move(e)};
  }
  // A clean end of the events stream still means the engine went away.
  return util::Unexpected{
      Error{ErrorKind::unreachable, 0, "the events stream ended", "GET /events"}};
}

void Client::stop() {
  transport_->http->stop();
}

}  // namespace narwhal::engine
