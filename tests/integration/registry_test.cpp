// The error registry against the running server (SPEC §10): every code narwhal's sources can
// emit is registered, and every registered code is answered, over a real socket, to a request
// made for it — so /api/errors lists exactly what clients can meet.
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

#include "../support/samples.hpp"
#include "narwhal/http/handler.hpp"
#include "narwhal/http/server.hpp"
#include "narwhal/live/hub.hpp"
#include "narwhal/render/errors.hpp"
#include "narwhal/render/problem.hpp"

using namespace narwhal;

namespace {

// While shut, the metrics source holds its caller (a long render), at most 20 s.
struct MetricsGate {
  std::mutex m;
  std::condition_variable cv;
  bool shut = false;
  int inside = 0;
};
MetricsGate& metrics_gate() {
  static MetricsGate g;
  return g;
}

struct Served {
  state::Store store{1000};
  live::Hub hub;
  http::Handler handler;
  http::Server server;
  Served()
      : hub(hub_options(), store), handler(settings(), store, &hub), server(options(), handler) {
    (void)store.apply(test::full_sync());
    state::Change twins;  // two objects of each kind sharing an ID prefix: ambiguity
    const std::map<state::Kind, std::string> bodies{
        {state::Kind::node, R"("Description":{"Hostname":"h"})"},
        {state::Kind::service, R"("Spec":{"Name":"s"})"},
        {state::Kind::task, R"("ServiceID":"x","Slot":1)"},
        {state::Kind::config, R"("Spec":{"Name":"c"})"},
        {state::Kind::secret, R"("Spec":{"Name":"k"})"},
        {state::Kind::network, R"("Name":"n")"},
    };
    for (const auto& [kind, body] : bodies) {
      for (const char* id : {"twin1", "twin2"}) {
        auto o = state::parse_object(
            kind, R"({"ID":")" + std::string(id) + R"(","Version":{"Index":1},)" + body + "}");
        REQUIRE_MESSAGE(o.object, "cannot build a " << state::kind_name(kind) << ": " << o.error);
        twins.upserts.push_back(o.object);
      }
    }
    (void)store.apply(twins);
    set_synced(true);
    hub.start();
    server.start();
  }
  ~Served() { hub.stop(); }
  void set_synced(bool synced, bool manager = true) {
    state::EngineState e;
    e.connected = e.synced = synced;
    e.manager = manager;
    store.set_engine(e);
  }
  static live::HubOptions hub_options() {
    live::HubOptions o;
    o.max_streams = 1;
    return o;
  }
  static http::Settings settings() {
    http::Settings s;
    // A metrics source that fails stands for any bug inside a request: the 500 it gets.
    s.metrics = []() -> std::string {
      auto& g = metrics_gate();
      {
        std::unique_lock lock(g.m);
        ++g.inside;
        g.cv.notify_all();
        g.cv.wait_for(lock, std::chrono::seconds(20), [&] { return !g.shut; });
        --g.inside;
      }
      throw std::runtime_error("metrics source failed");
    };
    return s;
  }
  static http::ServerOptions options() {
    http::ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    o.header_timeout = std::chrono::milliseconds(2000);
    o.max_connections = 4;  // so that API012 can be reached with a few sockets
    o.render_threads = 1;   // and API014 with two renders
    o.render_queue = 1;
    return o;
  }
  int connect() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server.port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
  }
  // Sends raw bytes; returns what comes back until the server closes or `enough` bytes came.
  std::string raw(const std::string& bytes, std::size_t enough = SIZE_MAX) const {
    const int fd = connect();
    (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    std::string out;
    char buf[4096];
    while (out.size() < enough) {
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
  }
};

// The registry code a raw HTTP answer carries ("/api/errors/XXX000" in its body).
std::string code_in(const std::string& reply) {
  static const std::regex re(R"(/api/errors/([A-Z]{3}[0-9]{3}))");
  std::smatch m;
  return std::regex_search(reply, m, re) ? m[1].str() : "";
}

std::string get(const Served& s, const std::string& target, const std::string& headers = "") {
  return s.raw("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers +
               "\r\n");
}

}  // namespace

TEST_CASE("every code in narwhal's sources is registered") {
  std::set<std::string> registered;
  for (const auto& c : render::error_registry()) registered.insert(std::string(c.code));
  // Literal codes, and the per-type ones made from a domain ("NOD") and a number ("001").
  const std::regex literal(R"re("([A-Z]{3}[0-9]{3})")re");
  std::set<std::string> emitted;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(std::string(NARWHAL_SOURCE_ROOT) + "/src")) {
    if (entry.path().extension() != ".cpp" || entry.path().filename() == "problem.cpp") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    const std::string src = text.str();
    for (std::sregex_iterator it(src.begin(), src.end(), literal), end; it != end; ++it) {
      emitted.insert((*it)[1].str());
    }
  }
  CHECK(emitted.size() > 10);
  for (const auto& code : emitted) {
    INFO(code);
    CHECK(registered.contains(code));
  }
}

TEST_CASE("every registered code is reachable by a request") {
  Served s;
  std::map<std::string, std::string> answered;  // code → the reply that carried it
  auto record = [&](const std::string& reply) {
    const auto code = code_in(reply);
    if (!code.empty()) answered.emplace(code, reply);
  };
  record(get(s, "/swarm", "Accept: text/event-stream\r\n"));  // API001
  record(s.raw(                                               // API002
      "POST /services HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"));
  record(get(s, "/services", "Accept: application/xml\r\n"));                 // API003
  record(get(s, "/nosuch"));                                                  // API004
  record(get(s, "/services", "X-Big: " + std::string(20000, 'a') + "\r\n"));  // API005
  record(get(s, "/services?limit=abc"));                                      // API006
  record(get(s, "/services?x=%zz"));                                          // API007
  record(get(s, "/-/metrics"));                                               // API008
  record(get(s, "/services", "Range: items=500-510\r\n"));                    // API010
  record(get(s, "/api/errors/NOPE999"));                                      // API011
  record(get(s, "/services?filter=" + std::string(600, 'a')));                // FLT001
  record(get(s, "/services?filter=nosuch%20%3D%3D%201"));                     // FLT002
  record(get(s, "/search"));                                                  // SEA001
  record(get(s, "/search?q=" + std::string(201, 'a')));                       // SEA002
  for (const auto* kind : {"nodes", "services", "tasks", "configs", "secrets", "networks"}) {
    record(get(s, std::string("/") + kind + "/twin"));    // xxx001: ambiguous
    record(get(s, std::string("/") + kind + "/nosuch"));  // xxx002: not found
  }
  record(get(s, "/volumes/nosuch"));  // VOL002
  record(get(s, "/stacks/nosuch"));   // STK002
  {
    // SSE001: the one stream the cap allows is held open while a second is refused.
    const int held = s.connect();
    const std::string rq = "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
    (void)::send(held, rq.data(), rq.size(), MSG_NOSIGNAL);
    char buf[512];
    REQUIRE(::recv(held, buf, sizeof buf, 0) > 0);  // its head: the stream is open
    const std::string refused = get(s, "/events", "Accept: text/event-stream\r\n");
    CHECK(refused.find("Retry-After: 5") != std::string::npos);
    record(refused);
    ::close(held);
  }
  {
    // API012: four idle connections fill the cap; the fifth is told so (and /-/ is answered).
    std::vector<int> held;
    for (int i = 0; i < 4; ++i) held.push_back(s.connect());
    const std::string over = get(s, "/services");
    CHECK(over.find("Retry-After: 1") != std::string::npos);
    record(over);
    CHECK(get(s, "/-/health").starts_with("HTTP/1.1 200 "));
    for (const int fd : held) ::close(fd);
  }
  record(s.raw("GET /services HTTP/1.1\r\nHost: x\r\n"));  // API013: never finished
  {
    // API014: one render runs, one waits, the next is refused.
    auto& g = metrics_gate();
    {
      const std::lock_guard lock(g.m);
      g.shut = true;
    }
    std::thread running([&] { (void)get(s, "/-/metrics"); });
    {
      std::unique_lock lock(g.m);
      REQUIRE(g.cv.wait_for(lock, std::chrono::seconds(10), [&] { return g.inside == 1; }));
    }
    std::thread waiting([&] { (void)get(s, "/-/metrics"); });
    for (int i = 0; i < 2000 && s.server.stats().render_waiting == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    record(get(s, "/-/metrics"));
    {
      const std::lock_guard lock(g.m);
      g.shut = false;
    }
    g.cv.notify_all();
    running.join();
    waiting.join();
  }
  s.set_synced(false);
  record(get(s, "/-/ready"));  // ENG001
  s.set_synced(true, false);
  record(get(s, "/-/ready"));  // ENG002
  s.set_synced(true);

  for (const auto& c : render::error_registry()) {
    const std::string code(c.code);
    INFO(code);
    const auto it = answered.find(code);
    REQUIRE_MESSAGE(it != answered.end(), "no request reached " << code);
    CHECK(it->second.starts_with("HTTP/1.1 " + std::to_string(c.status) + " "));
    CHECK(it->second.find("application/problem+json") != std::string::npos);
  }
  for (const auto& [code, reply] : answered) {
    INFO(code);
    CHECK(render::find_error_code(code) != nullptr);  // nothing unregistered came back either
  }
}
