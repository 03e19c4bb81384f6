// The HTTP server over real sockets: headers of SPEC §7, limits of §15, malformed requests.
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include "../support/samples.hpp"
#include "narwhal/http/handler.hpp"
#include "narwhal/http/server.hpp"
#include "narwhal/live/hub.hpp"

using namespace narwhal;

namespace {

struct Running {
  state::Store store{100};
  http::Handler handler{http::Settings{}, store};
  http::Server server;
  explicit Running(http::ServerOptions o = options()) : server(std::move(o), handler) {
    (void)store.apply(test::full_sync());
    state::EngineState e;
    e.connected = e.synced = true;
    store.set_engine(e);
    server.start();
  }
  static http::ServerOptions options() {
    http::ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    o.header_timeout = std::chrono::milliseconds(1000);
    return o;
  }
  httplib::Client client() const { return httplib::Client("127.0.0.1", server.port()); }

  // Sends raw bytes and returns everything the server answers until it closes.
  std::string raw(const std::string& bytes) const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server.port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const auto n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    std::string out;
    char buf[4096];
    for (;;) {
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
  }
};

}  // namespace

TEST_CASE("every response carries the cross-cutting headers") {
  Running r;
  auto c = r.client();
  auto res = c.Get("/services");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "application/json");
  CHECK(res->get_header_value("X-Content-Type-Options") == "nosniff");
  CHECK(res->get_header_value("X-Frame-Options") == "DENY");
  CHECK(res->get_header_value("Referrer-Policy") == "no-referrer");
  CHECK_FALSE(res->get_header_value("Content-Security-Policy").empty());
  CHECK(res->get_header_value("Vary") == "Accept, Accept-Encoding");
  CHECK(res->get_header_value("Allow") == "GET, HEAD, OPTIONS");
  CHECK(res->get_header_value("Link").find("rel=\"service-desc\"") != std::string::npos);
  CHECK(res->get_header_value("Link").find("rel=\"first\"") != std::string::npos);
  CHECK(res->get_header_value_count("Link") == 1);
  CHECK(res->get_header_value("Request-Id").size() == 16);
  CHECK_FALSE(res->get_header_value("Date").empty());
  CHECK_FALSE(res->get_header_value("ETag").empty());
  auto health = c.Get("/-/health");
  REQUIRE(health);
  CHECK(health->get_header_value("Link").empty());
}

TEST_CASE("a client's Request-Id is echoed, a bad one replaced") {
  Running r;
  auto c = r.client();
  auto res = c.Get("/nope", {{"Request-Id", "abc-123"}});
  REQUIRE(res);
  CHECK(res->status == 404);
  CHECK(res->get_header_value("Request-Id") == "abc-123");
  CHECK(res->body.find("\"requestId\":\"abc-123\"") != std::string::npos);
  auto bad = c.Get("/nope", {{"Request-Id", std::string(100, 'x')}});
  REQUIRE(bad);
  CHECK(bad->get_header_value("Request-Id").size() == 16);
}

TEST_CASE("304 over the wire has no body; HEAD announces the length") {
  Running r;
  auto c = r.client();
  auto first = c.Get("/services");
  REQUIRE(first);
  auto again = c.Get("/services", {{"If-None-Match", first->get_header_value("ETag")}});
  REQUIRE(again);
  CHECK(again->status == 304);
  CHECK(again->body.empty());
  auto head = c.Head("/services");
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->body.empty());
  CHECK(head->get_header_value("Content-Length") == std::to_string(first->body.size()));
}

TEST_CASE("oversized headers get a 431 problem") {
  Running r;
  const std::string reply =
      r.raw("GET /services HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  CHECK(reply.starts_with("HTTP/1.1 431"));
  CHECK(reply.find("application/problem+json") != std::string::npos);
  CHECK(reply.find("/api/errors/API005") != std::string::npos);
  CHECK(r.server.stats().header_limit_hits == 1);
}

TEST_CASE("garbage gets a 400 problem, never a crash") {
  Running r;
  const std::string reply = r.raw("NOT HTTP AT ALL\r\n\r\n");
  CHECK(reply.starts_with("HTTP/1.1 400"));
  CHECK(reply.find("/api/errors/API007") != std::string::npos);
  // and the server still serves
  auto c = r.client();
  auto res = c.Get("/-/health");
  REQUIRE(res);
  CHECK(res->status == 200);
}

TEST_CASE("a connection that never finishes its request line is told 408, then closed") {
  Running r;
  const std::string reply = r.raw("GET /serv");  // never finishes its request line
  CHECK(reply.starts_with("HTTP/1.1 408 "));
  CHECK(reply.find("Connection: close") != std::string::npos);
}

TEST_CASE("keep-alive and pipelined requests are answered in order") {
  Running r;
  const std::string reply = r.raw(
      "GET /-/health HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /nosuch HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const auto first = reply.find("HTTP/1.1 200");
  const auto second = reply.find("HTTP/1.1 404");
  CHECK(first != std::string::npos);
  CHECK(second != std::string::npos);
  CHECK(first < second);
}

TEST_CASE("stop() drains and returns") {
  Running r;
  auto c = r.client();
  REQUIRE(c.Get("/-/health"));
  r.server.stop();
  auto after = c.Get("/-/health");
  CHECK_FALSE(after);
}

TEST_CASE("HTTPS: served with the configured certificate, with HSTS") {
  char dir_template[] = "/tmp/narwhal-tls-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-keyout " +
      dir + "/key.pem -out " + dir + "/cert.pem 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  auto o = Running::options();
  o.tls_cert = dir + "/cert.pem";
  o.tls_key = dir + "/key.pem";
  Running r(o);
  httplib::SSLClient c("127.0.0.1", r.server.port());
  c.enable_server_certificate_verification(false);
  auto res = c.Get("/services");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Strict-Transport-Security") == "max-age=31536000");
  // plain HTTP to the TLS port gets nothing it could mistake for an answer
  auto plain = r.client().Get("/services");
  CHECK((!plain || plain->status != 200));
  std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("HTTPS: an unreadable certificate is a clear startup error") {
  auto o = Running::options();
  o.tls_cert = "/nonexistent/cert.pem";
  o.tls_key = "/nonexistent/key.pem";
  state::Store store(10);
  http::Handler handler(http::Settings{}, store);
  http::Server server(o, handler);
  CHECK_THROWS_WITH_AS(server.start(), doctest::Contains("/nonexistent/cert.pem"),
                       std::runtime_error);
}

// ---- Server-Sent Events over the wire (§8) ----

namespace {

// A server with a live hub, fed by the store like main() wires it.
struct Streaming {
  state::Store store{1000};
  live::Hub hub;
  http::Handler handler;
  http::Server server;
  explicit Streaming(std::size_t queue_bytes = 1024 * 1024)
      : hub(hub_options(queue_bytes), store),
        handler(http::Settings{}, store, &hub),
        server(Running::options(), handler) {
    store.set_listener([this](const state::SnapshotPtr& s,
                              const std::vector<state::HistoryEntry>& e) { hub.publish(s, e); });
    (void)store.apply(test::full_sync());
    state::EngineState e;
    e.connected = e.synced = true;
    store.set_engine(e);
    hub.start();
    server.start();
  }
  static live::HubOptions hub_options(std::size_t queue_bytes) {
    live::HubOptions o;
    o.batch_interval = std::chrono::milliseconds(0);
    o.queue_bytes = queue_bytes;
    return o;
  }
  // A config change: one event on /configs.
  void change(int i) {
    auto o = state::parse_object(state::Kind::config,
                                 R"({"ID":"cfgx","Version":{"Index":)" + std::to_string(1000 + i) +
                                     R"(},"Spec":{"Name":"c)" + std::string(1500, 'x') +
                                     std::to_string(i) + R"("}})");
    state::Change c;
    c.upserts = {o.object};
    (void)store.apply(c);
  }
  // Connects and sends a stream request; rcvbuf > 0 shrinks the client's receive buffer first.
  int open(const std::string& target, int rcvbuf = 0) const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server.port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const std::string rq =
        "GET " + target + " HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
    REQUIRE(::send(fd, rq.data(), rq.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(rq.size()));
    return fd;
  }
};

// Reads from fd until `text` holds what `done` wants or `budget` passes.
std::string read_until(int fd, const std::function<bool(const std::string&)>& done,
                       std::chrono::milliseconds budget = std::chrono::milliseconds(3000)) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + budget;
  char buf[16384];
  while (!done(out) && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// Whatever fd has ready now, without waiting.
std::string drain_now(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    const auto n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

bool has(const std::string& text, std::string_view what) {
  return text.find(what) != std::string::npos;
}

}  // namespace

TEST_CASE("an event stream over the wire: chunked, retry first, then the changes") {
  Streaming s;
  const int fd = s.open("/configs");
  const auto head = read_until(fd, [](const std::string& t) { return has(t, "retry: 2000"); });
  CHECK(head.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(has(head, "\r\nContent-Type: text/event-stream\r\n"));
  CHECK(has(head, "\r\nTransfer-Encoding: chunked\r\n"));
  CHECK(has(head, "\r\nCache-Control: no-cache\r\n"));
  CHECK(has(head, "\r\nX-Accel-Buffering: no\r\n"));
  CHECK_FALSE(has(head, "Content-Length"));
  CHECK_FALSE(has(head, "ETag"));
  // The first chunk: its size line, then the retry frame.
  CHECK(has(head, "\r\n\r\nd\r\nretry: 2000\n\n\r\n"));
  s.change(1);
  const auto got = read_until(fd, [](const std::string& t) { return has(t, "event: config"); });
  CHECK(has(got, "event: config\ndata: {\"@id\":\"/configs/cfgx\""));
  ::close(fd);
}

TEST_CASE("a client that leaves frees its stream at once") {
  Streaming s;
  const int fd = s.open("/events");
  (void)read_until(fd, [](const std::string& t) { return has(t, "retry:"); });
  CHECK(s.hub.stats().streams_open == 1);
  ::close(fd);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (s.hub.stats().streams_open != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(s.hub.stats().streams_open == 0);
}

TEST_CASE("a reader that stalls gets a sync instead of an unbounded backlog") {
  Streaming s(256 * 1024);
  const int slow = s.open("/configs", 4096);
  const int fast = s.open("/configs");
  (void)read_until(slow, [](const std::string& t) { return has(t, "retry:"); });
  std::string fast_text;
  std::atomic<bool> done{false};
  std::thread fast_reader([&] {  // a client that keeps up: always reading
    while (!done.load()) {
      pollfd p{fast, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) fast_text += drain_now(fast);
    }
    fast_text += drain_now(fast);
  });
  // Megabytes of events while the slow client reads nothing: more than the socket buffers hold.
  for (int i = 0; i < 6000 && s.hub.stats().overflows == 0; ++i) {
    s.change(i);
    if (i % 20 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (s.hub.stats().overflows == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(s.hub.stats().overflows >= 1);
  CHECK(s.hub.stats().frames_dropped >= 1);
  // Now the slow client reads: what it finds ends with a sync, not with thousands of events.
  // Read until the whole line is in: a read can end inside the frame, right after its name.
  const std::string sync = "event: sync\ndata: {\"type\":\"sync\"";
  const auto text = read_until(
      slow, [&](const std::string& t) { return has(t, sync); }, std::chrono::milliseconds(10000));
  CHECK(has(text, sync));
  // The fast client was never dropped.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  done = true;
  fast_reader.join();
  CHECK(has(fast_text, "event: config"));
  CHECK_FALSE(has(fast_text, "event: sync"));
  ::close(slow);
  ::close(fast);
}

TEST_CASE("stopping the hub ends streams with a proper last chunk") {
  Streaming s;
  const int fd = s.open("/events");
  (void)read_until(fd, [](const std::string& t) { return has(t, "retry:"); });
  s.hub.stop();
  const auto text = read_until(fd, [](const std::string& t) { return t.ends_with("0\r\n\r\n"); });
  CHECK(text.ends_with("0\r\n\r\n"));
  ::close(fd);
}

TEST_CASE("request framing a proxy could read differently is refused and the connection closed") {
  Running r;
  // A body after a Transfer-Encoding that is not chunked (or is chunked twice) would otherwise be
  // read as a second request: request smuggling behind a proxy (RFC 9112 §6.3).
  for (const std::string te : {"gzip", "identity", "chunked, chunked", "chunked, gzip"}) {
    CAPTURE(te);
    const auto out = r.raw("POST /services HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te +
                           "\r\n\r\nGET /nodes HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(out.starts_with("HTTP/1.1 400 "));
    CHECK(out.find("Transfer-Encoding must") != std::string::npos);
    CHECK(out.find("HTTP/1.1", 10) == std::string::npos);  // one answer: the rest is not a request
  }
  const auto both = r.raw(
      "GET /services HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: "
      "chunked\r\n\r\n");
  CHECK(both.starts_with("HTTP/1.1 400 "));
  // HTTP/1.1 needs exactly one Host (RFC 9112 §3.2).
  const auto none = r.raw("GET /services HTTP/1.1\r\n\r\n");
  CHECK(none.starts_with("HTTP/1.1 400 "));
  CHECK(none.find("exactly one Host") != std::string::npos);
  CHECK(none.find("\"instance\":\"/services\"") != std::string::npos);
  const auto two = r.raw("GET /services HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  CHECK(two.starts_with("HTTP/1.1 400 "));
  // HTTP/1.0 may leave it out.
  CHECK(r.raw("GET /services HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 200 "));
}

TEST_CASE("a method with a body gets 405 with Allow, and its body is never read as a request") {
  Running r;
  const auto out = r.raw(
      "POST /services HTTP/1.1\r\nHost: x\r\nContent-Length: 38\r\n\r\n"
      "GET /nodes HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(out.starts_with("HTTP/1.1 405 "));
  CHECK(out.find("Allow: GET, HEAD, OPTIONS") != std::string::npos);
  CHECK(out.find("\"instance\":\"/services\"") != std::string::npos);
  CHECK(out.find("HTTP/1.1", 10) == std::string::npos);
  for (const char* method : {"PUT", "DELETE", "PATCH"}) {
    CAPTURE(method);
    const auto m = r.raw(std::string(method) +
                         " /services/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
    CHECK(m.starts_with("HTTP/1.1 405 "));
  }
}

TEST_CASE("absolute-form targets are served like their origin form") {
  Running r;
  const auto out = r.raw(
      "GET http://narwhal.example/services?limit=1 HTTP/1.1\r\nHost: "
      "narwhal.example\r\nConnection: close\r\n\r\n");
  CHECK(out.starts_with("HTTP/1.1 200 "));
  CHECK(out.find("\"@id\":\"/services?limit=1\"") != std::string::npos);
}

TEST_CASE("a request head that does not arrive in time gets 408 before the close") {
  Running r;  // header timeout 1 s
  const auto out = r.raw("GET /services HTTP/1.1\r\nHost: x\r\n");
  CHECK(out.starts_with("HTTP/1.1 408 "));
  CHECK(out.find("/api/errors/API013") != std::string::npos);
  CHECK(out.find("\"instance\":\"/services\"") != std::string::npos);
  // A connection that sends nothing is closed without a word.
  CHECK(r.raw("").empty());
}

namespace {

// A metrics source that holds its caller while the gate is shut: a render that takes as long
// as the test wants. It gives up after 20 s so that a regression fails instead of hanging.
struct Gate {
  std::mutex m;
  std::condition_variable cv;
  bool shut = false;
  int inside = 0;
  std::string pass() {
    std::unique_lock lock(m);
    ++inside;
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(20), [&] { return !shut; });
    --inside;
    return "# the gate opened\n";
  }
  void set(bool s) {
    {
      const std::lock_guard lock(m);
      shut = s;
    }
    cv.notify_all();
  }
  bool wait_inside(int n) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return inside >= n; });
  }
};

bool eventually(const std::function<bool()>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace

TEST_CASE("renders run on their own pool: probes and cached answers never wait behind one") {
  Gate gate;
  state::Store store{100};
  http::Settings settings;
  settings.metrics = [&gate] { return gate.pass(); };
  http::Handler handler{settings, store};
  http::ServerOptions o = Running::options();
  o.threads = 1;  // one I/O thread: anything it waited for would hold up every connection
  o.render_threads = 1;
  o.render_queue = 1;
  http::Server server(o, handler);
  (void)store.apply(test::full_sync());
  state::EngineState e;
  e.connected = e.synced = true;
  store.set_engine(e);
  server.start();
  const auto client = [&] {
    httplib::Client c("127.0.0.1", server.port());
    c.set_read_timeout(30, 0);
    return c;
  };
  REQUIRE(client().Get("/services")->status == 200);  // rendered once: cached from now on
  const auto jobs_before = server.stats().render_jobs;
  CHECK(jobs_before >= 1);

  gate.set(true);
  std::atomic<int> first_status{0}, second_status{0};
  std::thread first([&] { first_status = client().Get("/-/metrics")->status; });
  REQUIRE(gate.wait_inside(1));  // the render thread is busy
  std::thread second([&] { second_status = client().Get("/-/metrics")->status; });
  REQUIRE(eventually([&] { return server.stats().render_waiting == 1; }));  // the queue is full

  // A third render is refused at once, with a precise problem and Retry-After.
  const auto refused = client().Get("/services?limit=7");
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK(refused->get_header_value("Retry-After") == "1");
  CHECK(refused->body.find("/api/errors/API014") != std::string::npos);
  CHECK(server.stats().render_rejected == 1);
  // Quick answers do not queue: a probe, a cached list, a problem.
  CHECK(client().Get("/-/health")->status == 200);
  const auto hit = client().Get("/services");
  REQUIRE(hit);
  CHECK(hit->status == 200);
  CHECK(client().Get("/nowhere")->status == 404);
  CHECK(first_status == 0);  // still held

  gate.set(false);
  first.join();
  second.join();
  CHECK(first_status == 200);
  CHECK(second_status == 200);
  CHECK(server.stats().render_jobs == jobs_before + 2);
  CHECK(server.stats().render_waiting == 0);
  CHECK(server.stats().render_running == 0);
  server.stop();
}
