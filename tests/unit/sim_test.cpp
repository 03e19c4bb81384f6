// The simulated engine, driven over its unix socket the way narwhal's engine client drives dockerd.
#include <doctest/doctest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <rapidjson/reader.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "narwhal/sim/engine.hpp"

namespace {

using narwhal::sim::Engine;
using narwhal::sim::Faults;
using narwhal::sim::Options;
using Clock = std::chrono::steady_clock;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "narwhal-sim-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A started engine in a private directory; churn is off unless a test asks for it.
struct Sim {
  explicit Sim(Options options = {}) : engine(with_socket(std::move(options), dir)) {
    engine.start();
  }

  static Options with_socket(Options options, const TempDir& dir) {
    options.socket_path = dir.path() + "/docker.sock";
    if (options.churn_per_second == Options{}.churn_per_second) options.churn_per_second = 0;
    return options;
  }

  [[nodiscard]] std::string socket() const { return dir.path() + "/docker.sock"; }

  [[nodiscard]] std::unique_ptr<httplib::Client> client() const {
    auto c = std::make_unique<httplib::Client>(socket());
    c->set_address_family(AF_UNIX);
    c->set_read_timeout(30);
    c->set_default_headers({{"Host", "docker"}});  // the path is no host name (see below)
    return c;
  }

  httplib::Result get(const std::string& path) const { return client()->Get(path.c_str()); }

  TempDir dir;
  Engine engine;
};

std::string url_encode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string with_filters(const std::string& path, const std::string& filters) {
  return path + (path.find('?') == std::string::npos ? "?" : "&") +
         "filters=" + url_encode(filters);
}

rapidjson::Document parse(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

std::string now_seconds() {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  const auto frac = std::to_string(1'000'000'000 + ns % 1'000'000'000).substr(1);
  return std::to_string(ns / 1'000'000'000) + "." + frac;
}

// Follows /events on its own thread and keeps every line it receives. The constructor returns
// once the response headers arrived: the engine subscribed before sending them, so nothing
// published afterwards can be missed.
class EventReader {
 public:
  EventReader(const Sim& sim, std::string path) : client_(sim.client()) {
    thread_ = std::thread([this, path = std::move(path)] {
      auto on_headers = [this](const httplib::Response&) {
        std::lock_guard lock(mutex_);
        connected_ = true;
        changed_.notify_all();
        return true;
      };
      auto result = client_->Get(path, on_headers, [this](const char* data, std::size_t size) {
        std::lock_guard lock(mutex_);
        partial_.append(data, size);
        for (auto nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n')) {
          lines_.push_back(partial_.substr(0, nl));
          partial_.erase(0, nl + 1);
        }
        changed_.notify_all();
        return true;
      });
      std::lock_guard lock(mutex_);
      error_ = result.error();
      done_ = true;
      changed_.notify_all();
    });
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(3), [this] { return connected_ || done_; });
    REQUIRE(connected_);
  }
  ~EventReader() {
    if (thread_.joinable()) thread_.join();
  }
  EventReader(const EventReader&) = delete;
  EventReader& operator=(const EventReader&) = delete;

  // True once `pred` holds for the lines so far, false after `timeout`.
  bool wait_for(const std::function<bool(const std::vector<std::string>&)>& pred,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return pred(lines_); });
  }
  bool wait_done(std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return done_; });
  }
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  httplib::Error error() {
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  std::unique_ptr<httplib::Client> client_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> lines_;
  std::string partial_;
  bool connected_ = false;
  bool done_ = false;
  httplib::Error error_ = httplib::Error::Success;
  std::thread thread_;
};

bool has_line(const std::vector<std::string>& lines, const std::string& a,
              const std::string& b = "", const std::string& c = "") {
  for (const auto& line : lines) {
    if (line.find(a) != std::string::npos && line.find(b) != std::string::npos &&
        line.find(c) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string first_id(const Sim& sim, const std::string& path) {
  auto doc = parse(sim.get(path)->body);
  REQUIRE(doc.IsArray());
  REQUIRE(doc.Size() > 0);
  return doc[0]["ID"].GetString();
}

// Counts the elements of a top-level array without building a DOM of 100 000 tasks.
struct TopLevelCounter : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, TopLevelCounter> {
  bool StartObject() {
    if (depth++ == 1) ++objects;
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    --depth;
    return true;
  }
  bool StartArray() {
    ++depth;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    --depth;
    return true;
  }
  int depth = 0;
  std::size_t objects = 0;
};

// Descriptors this process has open. The engine runs in it, so its accepted sockets count too.
std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n;
}

// GET /events on a raw socket; returns the socket once the engine answered (its subscription is
// then in place), or -1 when no answer came within 5 s.
int open_events_socket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(path.size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API takes sockaddr*
  REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  const timeval patience{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
  const std::string request = "GET /v1.45/events HTTP/1.1\r\nHost: docker\r\n\r\n";
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  std::string head;
  std::array<char, 1024> buf{};
  while (head.find("\r\n\r\n") == std::string::npos) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) {
      ::close(fd);
      return -1;
    }
    head.append(buf.data(), static_cast<std::size_t>(n));
  }
  CHECK(head.starts_with("HTTP/1.1 200"));
  return fd;
}

// Polls until this process has at most `fds` descriptors open, or 10 s have passed.
bool fds_back_to(std::size_t fds) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (open_fds() > fds) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace

TEST_CASE("sim: /_ping answers OK with the engine's headers") {
  Sim sim;
  auto res = sim.get("/_ping");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == "OK");
  CHECK(res->get_header_value("Api-Version") == "1.45");
  CHECK(res->get_header_value("Content-Type") == "text/plain; charset=utf-8");
  CHECK(res->get_header_value("Server").starts_with("Docker/26.1.5"));
  CHECK(sim.engine.docker_host() == "unix://" + sim.socket());

  auto versioned = sim.get("/v1.41/_ping");
  REQUIRE(versioned);
  CHECK(versioned->status == 200);
}

TEST_CASE("sim: API versions above the maximum are a JSON 400, below 1.12 a plain-text 400") {
  Sim sim;
  auto too_new = sim.get("/v1.99/version");
  REQUIRE(too_new);
  CHECK(too_new->status == 400);
  CHECK(too_new->get_header_value("Content-Type") == "application/json");
  CHECK(too_new->body ==
        "{\"message\":\"client version 1.99 is too new. Maximum supported API version is "
        "1.45\"}\n");

  auto too_old = sim.get("/v1.11/version");
  REQUIRE(too_old);
  CHECK(too_old->status == 400);
  CHECK(too_old->get_header_value("Content-Type").starts_with("text/plain"));

  auto version = sim.get("/v1.45/version");
  REQUIRE(version);
  CHECK(version->status == 200);
  auto doc = parse(version->body);
  CHECK(std::string(doc["ApiVersion"].GetString()) == "1.45");
  CHECK(std::string(doc["MinAPIVersion"].GetString()) == "1.24");
  CHECK(version->body.back() == '\n');
}

TEST_CASE("sim: Options::api_version sets what the engine claims to be") {
  Options options;
  options.api_version = "1.41";
  Sim sim(options);
  auto ping = sim.get("/_ping");
  REQUIRE(ping);
  CHECK(ping->get_header_value("Api-Version") == "1.41");
  CHECK(ping->get_header_value("Server") == "Docker/20.10.24+dfsg1 (linux)");
  auto too_new = sim.get("/v1.45/services");
  REQUIRE(too_new);
  CHECK(too_new->status == 400);
  CHECK(sim.get("/v1.41/services")->status == 200);
}

TEST_CASE("sim: /info and /swarm describe an active swarm manager") {
  Sim sim;
  auto info = parse(sim.get("/info")->body);
  CHECK(std::string(info["Swarm"]["LocalNodeState"].GetString()) == "active");
  CHECK(info["Swarm"]["ControlAvailable"].GetBool());
  CHECK(info["NCPU"].GetInt() > 0);
  CHECK(info["MemTotal"].GetInt64() > 0);
  CHECK(std::string(info["ServerVersion"].GetString()).starts_with("26.1.5"));
  const std::string node_id = info["Swarm"]["NodeID"].GetString();
  CHECK(std::string(info["Swarm"]["Cluster"]["ID"].GetString()).size() == 25);

  auto swarm = parse(sim.get("/swarm")->body);
  CHECK(std::string(swarm["JoinTokens"]["Worker"].GetString()).starts_with("SWMTKN-1-"));
  CHECK(swarm["Version"]["Index"].GetUint64() > 0);

  auto node = parse(sim.get("/nodes/" + node_id)->body);
  CHECK(node["ManagerStatus"]["Leader"].GetBool());
}

TEST_CASE("sim: every list answers the engine's shapes") {
  Sim sim;
  std::set<std::uint64_t> versions;
  auto check_ids = [&](const rapidjson::Value& list, const char* id_key, std::size_t id_size) {
    REQUIRE(list.IsArray());
    CHECK(list.Size() > 0);
    for (const auto& item : list.GetArray()) {
      const std::string id = item[id_key].GetString();
      CHECK(id.size() == id_size);
      if (item.HasMember("Version")) {
        const auto index = item["Version"]["Index"].GetUint64();
        CHECK(index > 0);
        CHECK(versions.insert(index).second);  // one global counter: no two objects share one
      }
    }
  };
  for (const char* kind : {"/nodes", "/services", "/tasks", "/configs", "/secrets"}) {
    CAPTURE(kind);
    auto res = sim.get(kind);
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->get_header_value("Content-Type") == "application/json");
    CHECK(res->body.back() == '\n');
    CHECK(std::count(res->body.begin(), res->body.end(), '\n') == 1);
    auto doc = parse(res->body);
    check_ids(doc, "ID", 25);
  }

  auto secrets = parse(sim.get("/secrets")->body);
  for (const auto& s : secrets.GetArray()) CHECK_FALSE(s["Spec"].HasMember("Data"));
  auto configs = parse(sim.get("/configs")->body);
  for (const auto& c : configs.GetArray()) CHECK(c["Spec"].HasMember("Data"));

  auto networks = parse(sim.get("/networks")->body);
  REQUIRE(networks.IsArray());
  bool ingress = false;
  for (const auto& n : networks.GetArray()) {
    CHECK(n.HasMember("Id"));
    ingress = ingress || n["Ingress"].GetBool();
  }
  CHECK(ingress);

  auto volumes = parse(sim.get("/volumes")->body);
  REQUIRE(volumes.IsObject());
  CHECK(volumes["Volumes"].IsArray());
  CHECK(volumes["Volumes"].Size() > 0);
  CHECK(volumes["Warnings"].IsNull());

  auto services = parse(sim.get("/services")->body);
  std::set<std::string> stacks;
  for (const auto& s : services.GetArray()) {
    const auto& labels = s["Spec"]["Labels"];
    if (labels.HasMember("com.docker.stack.namespace")) {
      const std::string stack = labels["com.docker.stack.namespace"].GetString();
      stacks.insert(stack);
      CHECK(std::string(s["Spec"]["Name"].GetString()).starts_with(stack + "_"));
    }
  }
  CHECK(stacks.size() == 3);

  auto tasks = parse(sim.get("/tasks")->body);
  bool rejected = false;
  bool global = false;
  for (const auto& t : tasks.GetArray()) {
    const std::string state = t["Status"]["State"].GetString();
    if (state == "rejected") {
      rejected = true;
      CHECK(std::string(t["Status"]["Err"].GetString()).starts_with("No such image: "));
    }
    if (state == "running") {
      CHECK(std::string(t["Status"]["ContainerStatus"]["ContainerID"].GetString()).size() == 64);
      global = global || !t.HasMember("Slot");
    }
  }
  CHECK(rejected);
  CHECK(global);
}

TEST_CASE("sim: services?status=true adds ServiceStatus") {
  Sim sim;
  auto doc = parse(sim.get("/services?status=true")->body);
  REQUIRE(doc.IsArray());
  bool broken = false;
  for (const auto& s : doc.GetArray()) {
    REQUIRE(s.HasMember("ServiceStatus"));
    const auto& status = s["ServiceStatus"];
    CHECK(status.HasMember("CompletedTasks"));
    if (std::string(s["Spec"]["Name"].GetString()) == "nightly-report") {
      broken = true;
      CHECK(status["RunningTasks"].GetUint() == 0);
      CHECK(status["DesiredTasks"].GetUint() == 1);
    } else {
      CHECK(status["RunningTasks"].GetUint() == status["DesiredTasks"].GetUint());
    }
  }
  CHECK(broken);
  auto plain = parse(sim.get("/services")->body);
  CHECK_FALSE(plain[0].HasMember("ServiceStatus"));
}

TEST_CASE("sim: task filters by service (name or ID), node and desired state") {
  Sim sim;
  auto by_name = parse(sim.get(with_filters("/tasks", R"({"service":["shop_web"]})"))->body);
  REQUIRE(by_name.IsArray());
  CHECK(by_name.Size() >= 3);
  const std::string service_id = by_name[0]["ServiceID"].GetString();
  for (const auto& t : by_name.GetArray())
    CHECK(std::string(t["ServiceID"].GetString()) == service_id);

  auto by_id =
      parse(sim.get(with_filters("/tasks", R"({"service":[")" + service_id + "\"]}"))->body);
  CHECK(by_id.Size() == by_name.Size());

  const std::string node_id = by_name[0]["NodeID"].GetString();
  auto by_node = parse(sim.get(with_filters("/tasks", R"({"node":[")" + node_id + "\"]}"))->body);
  REQUIRE(by_node.Size() > 0);
  for (const auto& t : by_node.GetArray()) CHECK(std::string(t["NodeID"].GetString()) == node_id);

  auto running = parse(
      sim.get(with_filters("/tasks", R"({"service":["shop_web"],"desired-state":["running"]})"))
          ->body);
  CHECK(running.Size() == 3);

  auto legacy = parse(sim.get(with_filters("/services", R"({"name":{"shop_":true}})"))->body);
  CHECK(legacy.Size() == 5);
  auto by_label = parse(
      sim.get(with_filters("/services", R"({"label":["com.docker.stack.namespace=blog"]})"))->body);
  CHECK(by_label.Size() == 2);

  auto bad_state = sim.get(with_filters("/tasks", R"({"desired-state":["bogus"]})"));
  CHECK(bad_state->status == 500);
  CHECK(bad_state->body == "{\"message\":\"Invalid desired-state filter: 'bogus'\"}\n");
  auto unknown_service = sim.get(with_filters("/tasks", R"({"service":["nope"]})"));
  CHECK(unknown_service->status == 404);
}

TEST_CASE("sim: lookups take an ID, a unique prefix or a name; unknown ones are a JSON 404") {
  Sim sim;
  const std::string id = first_id(sim, "/services");
  auto by_id = parse(sim.get("/services/" + id)->body);
  const std::string name = by_id["Spec"]["Name"].GetString();
  CHECK(std::string(parse(sim.get("/services/" + id.substr(0, 12))->body)["ID"].GetString()) == id);
  CHECK(std::string(parse(sim.get("/v1.45/services/" + name)->body)["ID"].GetString()) == id);

  const std::string task = first_id(sim, "/tasks");
  CHECK(sim.get("/tasks/" + task)->status == 200);
  CHECK(sim.get("/nodes/manager-1")->status == 200);
  CHECK(sim.get("/volumes/shop_db_data")->status == 200);
  CHECK(sim.get("/networks/ingress")->status == 200);
  CHECK(sim.get("/configs/shop_nginx_conf")->status == 200);
  auto secret = parse(sim.get("/secrets/shop_db_password")->body);
  CHECK_FALSE(secret["Spec"].HasMember("Data"));

  struct Missing {
    const char* path;
    const char* body;
  };
  for (const Missing& m : {Missing{"/services/nonexistent", "service nonexistent not found"},
                           Missing{"/tasks/nonexistent", "task nonexistent not found"},
                           Missing{"/nodes/nonexistent", "node nonexistent not found"},
                           Missing{"/configs/nonexistent", "config nonexistent not found"},
                           Missing{"/secrets/nonexistent", "secret nonexistent not found"},
                           Missing{"/networks/nonexistent", "network nonexistent not found"},
                           Missing{"/volumes/nonexistent", "get nonexistent: no such volume"}}) {
    CAPTURE(m.path);
    auto res = sim.get(m.path);
    CHECK(res->status == 404);
    CHECK(res->get_header_value("Content-Type") == "application/json");
    CHECK(res->body == std::string("{\"message\":\"") + m.body + "\"}\n");
  }
  CHECK(sim.get("/no/such/route")->status == 404);
}

TEST_CASE("sim: malformed filters are a 500, unknown filter keys a 400") {
  Sim sim;
  for (const char* path : {"/services", "/tasks", "/nodes", "/volumes", "/events"}) {
    CAPTURE(path);
    auto res = sim.get(std::string(path) + "?filters=%7Bbad");
    CHECK(res->status == 500);
    CHECK(res->body ==
          "{\"message\":\"invalid character 'b' looking for beginning of object key string\"}\n");
  }
  auto unknown = sim.get(with_filters("/services", R"({"colour":["red"]})"));
  CHECK(unknown->status == 400);
  CHECK(unknown->body == "{\"message\":\"invalid filter 'colour'\"}\n");
}

TEST_CASE("sim: scaling emits a service update and container events for the new tasks") {
  Sim sim;
  EventReader reader(sim, "/events");
  REQUIRE(sim.engine.scale_service("shop_web", 5));
  CHECK(reader.wait_for([](const auto& lines) {
    return has_line(lines, "\"replicas.new\":\"5\",\"replicas.old\":\"3\"");
  }));
  // Two new tasks, each a container create then start (scope local, with the swarm labels).
  CHECK(reader.wait_for([](const auto& lines) {
    int starts = 0;
    for (const auto& l : lines) {
      if (l.find("\"Action\":\"start\"") != std::string::npos &&
          l.find("\"com.docker.swarm.service.name\":\"shop_web\"") != std::string::npos) {
        ++starts;
      }
    }
    return starts == 2;
  }));
  const auto seen = reader.lines();
  CHECK(has_line(seen, "\"Type\":\"container\",\"Action\":\"create\"", "com.docker.swarm.task.id",
                 "\"scope\":\"local\""));
  CHECK_FALSE(has_line(seen, "\"Type\":\"task\""));

  auto status =
      parse(sim.get(with_filters("/services?status=true", R"({"name":["shop_web"]})"))->body);
  CHECK(status[0]["ServiceStatus"]["RunningTasks"].GetUint() == 5);
  CHECK(status[0]["Spec"]["Mode"]["Replicated"]["Replicas"].GetUint() == 5);

  REQUIRE(sim.engine.fail_task_of("shop_api"));
  CHECK(reader.wait_for([](const auto& lines) {
    return has_line(lines, "\"Action\":\"die\"", "\"exitCode\":\"1\"");
  }));
  REQUIRE(sim.engine.remove_service("blog_mysql"));
  CHECK(reader.wait_for([](const auto& lines) {
    return has_line(lines, "\"Type\":\"service\",\"Action\":\"remove\"", "blog_mysql");
  }));
  const std::string id = sim.engine.create_service("shop_search", 2, "shop");
  CHECK(id.size() == 25);
  CHECK(reader.wait_for([&](const auto& lines) {
    return has_line(lines, "\"Action\":\"create\"", id, "shop_search");
  }));
  CHECK_FALSE(sim.engine.scale_service("no-such-service", 1));
  sim.engine.drop_event_streams();
  CHECK(reader.wait_done());
}

TEST_CASE("sim: since replays buffered events, type filters select, until ends the stream") {
  Sim sim;
  const std::string before = now_seconds();
  REQUIRE(sim.engine.scale_service("shop_api", 3));
  REQUIRE(sim.engine.scale_service("shop_api", 2));
  auto res = sim.get("/events?since=" + before + "&until=" + now_seconds() + "&" +
                     "filters=" + url_encode(R"({"type":["service"]})"));
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(std::count(res->body.begin(), res->body.end(), '\n') == 2);
  CHECK(res->body.find("\"replicas.new\":\"3\"") != std::string::npos);
  CHECK(res->body.find("\"replicas.new\":\"2\"") != std::string::npos);

  auto tasks_only = sim.get("/events?since=" + before + "&until=" + now_seconds() + "&" +
                            "filters=" + url_encode(R"({"type":["task"]})"));
  REQUIRE(tasks_only);
  CHECK(tasks_only->status == 200);
  CHECK(tasks_only->body.empty());

  auto future = sim.get("/events?since=" + std::to_string(std::time(nullptr) + 100) +
                        "&until=" + now_seconds());
  REQUIRE(future);
  CHECK(future->body.empty());
}

TEST_CASE("sim: only the last 256 events can be replayed") {
  Sim sim;
  for (int i = 0; i < 300; ++i) REQUIRE(sim.engine.scale_service("shop_cache", i % 2 == 0 ? 2 : 1));
  auto res = sim.get("/events?since=0&until=" + now_seconds());
  REQUIRE(res);
  CHECK(std::count(res->body.begin(), res->body.end(), '\n') == 256);
}

TEST_CASE("sim: injected faults: status codes, garbage, delays") {
  Sim sim;
  Faults faults;
  faults.status_code = 500;
  sim.engine.set_faults(faults);
  for (const char* path : {"/_ping", "/services", "/tasks/x", "/info"}) {
    auto res = sim.get(path);
    REQUIRE(res);
    CHECK(res->status == 500);
    CHECK(res->body == "{\"message\":\"injected fault\"}\n");
  }

  faults = {};
  faults.garbage = true;
  sim.engine.set_faults(faults);
  for (const char* path : {"/services", "/tasks", "/volumes", "/nodes/manager-1"}) {
    CAPTURE(path);
    auto res = sim.get(path);
    REQUIRE(res);
    CHECK(res->status == 200);
    rapidjson::Document doc;
    doc.Parse(res->body.c_str());
    CHECK(doc.HasParseError());
  }
  CHECK(sim.get("/_ping")->body == "OK");

  faults = {};
  faults.delay = std::chrono::milliseconds(150);
  sim.engine.set_faults(faults);
  const auto start = Clock::now();
  CHECK(sim.get("/_ping")->status == 200);
  CHECK(Clock::now() - start >= std::chrono::milliseconds(150));

  sim.engine.set_faults({});
  CHECK(parse(sim.get("/services")->body).IsArray());
}

TEST_CASE("sim: events_garbage interleaves malformed lines; the status fault spares /events") {
  Sim sim;
  Faults faults;
  faults.events_garbage = true;
  faults.status_code = 503;
  sim.engine.set_faults(faults);
  EventReader reader(sim, "/events");
  REQUIRE(sim.engine.scale_service("shop_worker", 3));
  CHECK(reader.wait_for([](const auto& lines) { return lines.size() >= 4; }));
  std::size_t valid = 0;
  std::size_t invalid = 0;
  for (const auto& line : reader.lines()) {
    rapidjson::Document doc;
    doc.Parse(line.c_str());
    (doc.HasParseError() ? invalid : valid) += 1;
  }
  CHECK(valid >= 2);
  CHECK(invalid >= 1);
  sim.engine.drop_event_streams();
  CHECK(reader.wait_done());
}

TEST_CASE("sim: drop_event_streams cuts the stream without its final chunk") {
  Sim sim;
  EventReader reader(sim, "/events");
  REQUIRE(sim.engine.scale_service("shop_web", 4));
  REQUIRE(reader.wait_for([](const auto& lines) { return !lines.empty(); }));
  sim.engine.drop_event_streams();
  REQUIRE(reader.wait_done());
  // A clean end would be Success; a body cut mid-stream is a read error for the client.
  CHECK(reader.error() != httplib::Error::Success);
  // The engine keeps serving, and new streams work.
  EventReader again(sim, "/events");
  REQUIRE(sim.engine.scale_service("shop_web", 3));
  CHECK(again.wait_for([](const auto& lines) { return !lines.empty(); }));
  sim.engine.drop_event_streams();
  CHECK(again.wait_done());
}

TEST_CASE("sim: stop() returns promptly with an open event stream") {
  Sim sim;
  EventReader reader(sim, "/events");
  REQUIRE(sim.engine.scale_service("shop_web", 4));
  REQUIRE(reader.wait_for([](const auto& lines) { return !lines.empty(); }));
  sim.engine.stop();
  CHECK(reader.wait_done());  // within its 3 s: stop() does not wait for the stream to end
  CHECK(reader.error() != httplib::Error::Success);
  CHECK_FALSE(std::filesystem::exists(sim.socket()));
  sim.engine.stop();  // idempotent
}

TEST_CASE("sim: an events stream whose client hung up is closed, though nothing was sent on it") {
  Sim sim;  // churn is off: a still swarm writes nothing to its streams
  const std::size_t baseline = open_fds();

  // What narwhal's watchdog does on a still swarm: subscribe, hear nothing, hang up.
  std::vector<int> streams;
  for (int i = 0; i < 3; ++i) {
    const int fd = open_events_socket(sim.socket());
    REQUIRE(fd >= 0);
    streams.push_back(fd);
  }
  CHECK(open_fds() >= baseline + 2 * streams.size());  // both ends of each stream are ours
  for (const int fd : streams) ::close(fd);
  CHECK_MESSAGE(fds_back_to(baseline), "the engine kept the sockets of streams nobody reads");

  // More hang-ups than the engine has workers: each stream held one until its socket closed.
  for (int i = 0; i < 40; ++i) {
    const int fd = open_events_socket(sim.socket());
    REQUIRE_MESSAGE(fd >= 0, "stream " << i << " got no answer: every worker is held");
    ::close(fd);
  }
  CHECK(fds_back_to(baseline));
  const auto ping = sim.get("/_ping");
  REQUIRE(ping);
  CHECK(ping->status == 200);
}

TEST_CASE("sim: churn keeps the swarm moving and consistent") {
  Sim sim;
  EventReader reader(sim, "/events");
  for (int i = 0; i < 40; ++i) sim.engine.churn_once();
  CHECK(reader.wait_for([](const auto& lines) { return lines.size() >= 10; }));
  // Every task still points at a service that exists.
  auto services = parse(sim.get("/services")->body);
  std::set<std::string> service_ids;
  for (const auto& s : services.GetArray()) service_ids.insert(s["ID"].GetString());
  auto tasks = parse(sim.get("/tasks")->body);
  CHECK(tasks.Size() > 0);
  for (const auto& t : tasks.GetArray()) CHECK(service_ids.contains(t["ServiceID"].GetString()));
  sim.engine.drop_event_streams();
  CHECK(reader.wait_done());
}

TEST_CASE("sim: a generated swarm of 10 000 services and 100 000 tasks builds and lists quickly") {
  const auto start = Clock::now();
  Options options;
  options.services = 10'000;
  options.tasks_per_service = 10;
  Sim sim(options);
  const auto built = Clock::now() - start;
  // A figure, not an assertion: a loaded machine must not fail the test command over it.
  MESSAGE("built in " << std::chrono::duration_cast<std::chrono::milliseconds>(built).count()
                      << " ms");
  CHECK(sim.engine.service_count() == 10'000);
  CHECK(sim.engine.task_count() == 100'000);

  auto res = sim.get("/tasks");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  TopLevelCounter counter;
  rapidjson::Reader reader;
  rapidjson::StringStream stream(res->body.c_str());
  CHECK(reader.Parse(stream, counter));
  CHECK(counter.objects == 100'000);

  auto nodes = parse(sim.get("/nodes")->body);
  CHECK(nodes.Size() == 10'000 / 100 + 3);
  auto one = parse(sim.get(with_filters("/tasks", R"({"service":["app0042_web"]})"))->body);
  CHECK(one.Size() == 10);
}

TEST_CASE("a Host header that is not a host name is refused, as Go's net/http does") {
  Sim sim;
  httplib::Client raw(sim.socket());
  raw.set_address_family(AF_UNIX);  // cpp-httplib then sends the socket path as Host
  const auto res = raw.Get("/_ping");
  REQUIRE(res);
  CHECK(res->status == 400);
  CHECK(res->body == "400 Bad Request: malformed Host header");
}
