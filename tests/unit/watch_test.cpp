// The watcher: event → work mapping (pure), then the whole loop against the simulated engine,
// including its faults. The real engine is proven in tests/integration.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "narwhal/sim/engine.hpp"
#include "narwhal/state/store.hpp"
#include "narwhal/watch/plan.hpp"
#include "narwhal/watch/watcher.hpp"

using namespace narwhal;
using state::Kind;
using namespace std::chrono_literals;

namespace {

engine::Event event(std::string type, std::string action, std::string id,
                    std::vector<std::pair<std::string, std::string>> attrs = {}) {
  engine::Event e;
  e.type = std::move(type);
  e.action = std::move(action);
  e.actor_id = std::move(id);
  e.attributes = std::move(attrs);
  return e;
}

bool wait_until(std::chrono::milliseconds limit, const std::function<bool()>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

struct SimWatch {
  std::filesystem::path dir;
  std::unique_ptr<sim::Engine> engine;
  state::Store store{1000};
  std::unique_ptr<watch::Watcher> watcher;

  explicit SimWatch(std::chrono::milliseconds request_timeout = 2s) {
    dir = std::filesystem::temp_directory_path() /
          ("narwhal-watch-test-" + std::to_string(::getpid()) + "-" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    std::filesystem::create_directories(dir);
    sim::Options o;
    o.socket_path = (dir / "engine.sock").string();
    o.churn_per_second = 0;
    engine = std::make_unique<sim::Engine>(o);
    engine->start();
    watch::Options w;
    w.endpoint = engine::parse_endpoint(engine->docker_host(), false, "").value();
    w.request_timeout = request_timeout;
    w.coalesce_window = 20ms;
    w.task_poll_interval = 300ms;
    w.resync_interval = 2s;
    w.event_watchdog = 3s;
    w.backoff_min = 50ms;
    w.backoff_max = 400ms;
    watcher = std::make_unique<watch::Watcher>(w, store);
    watcher->start();
  }
  ~SimWatch() {
    watcher->stop();
    engine->stop();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  [[nodiscard]] bool connected() const {
    const auto s = store.snapshot();
    return s->engine.connected && s->engine.synced;
  }
  [[nodiscard]] const state::Object* service(const std::string& name) const {
    return store.snapshot()->table(Kind::service).lookup(name).found;
  }
  std::size_t services() const { return store.snapshot()->table(Kind::service).items.size(); }
};

}  // namespace

TEST_CASE("service events re-read the service and re-list its tasks") {
  watch::Plan p;
  CHECK(watch::add_to_plan(event("service", "update", "s1", {{"replicas.new", "3"}}), p));
  CHECK(p.reread.contains({Kind::service, "s1"}));
  CHECK(p.service_tasks.contains("s1"));
}

TEST_CASE("node events re-read the node and the tasks on it") {
  watch::Plan p;
  CHECK(watch::add_to_plan(event("node", "update", "n1", {{"availability.new", "drain"}}), p));
  CHECK(p.reread.contains({Kind::node, "n1"}));
  CHECK(p.node_tasks.contains("n1"));
}

TEST_CASE("container events of swarm tasks drive task updates; others are ignored") {
  watch::Plan p;
  CHECK(watch::add_to_plan(event("container", "die", "c1",
                                 {{"com.docker.swarm.task.id", "t1"},
                                  {"com.docker.swarm.service.id", "s1"},
                                  {"exitCode", "137"}}),
                           p));
  CHECK(p.reread.contains({Kind::task, "t1"}));
  CHECK(p.service_tasks.contains("s1"));
  watch::Plan q;
  CHECK_FALSE(watch::add_to_plan(event("container", "start", "c2"), q));  // not a task
  CHECK_FALSE(watch::add_to_plan(
      event("container", "exec_start", "c3", {{"com.docker.swarm.task.id", "t1"}}), q));
  CHECK_FALSE(watch::add_to_plan(event("image", "tag", "sha256:x"), q));
  CHECK_FALSE(watch::add_to_plan(event("network", "connect", "n1"), q));
  CHECK(q.empty());
}

TEST_CASE("remove and destroy events re-read, so a 404 decides removal") {
  watch::Plan p;
  CHECK(watch::add_to_plan(event("config", "remove", "c1"), p));
  CHECK(watch::add_to_plan(event("volume", "destroy", "vol1"), p));
  CHECK(watch::add_to_plan(event("network", "destroy", "net1"), p));
  CHECK(p.reread.size() == 3);
}

TEST_CASE("paths and the events query are encoded for the engine") {
  CHECK(watch::list_path(Kind::volume) == "/volumes");
  CHECK(watch::read_path(Kind::service, "abc") == "/services/abc");
  CHECK(watch::read_path(Kind::network, "n1").starts_with("/networks?filters=%7B%22id%22"));
  CHECK(watch::tasks_of_path(true, "s1") == "/tasks?filters=%7B%22service%22%3A%5B%22s1%22%5D%7D");
  CHECK(watch::events_query(0).find("since") == std::string::npos);
  CHECK(watch::events_query(1795341744431104576).ends_with("since=1795341744.431104576"));
  CHECK(watch::events_query(1795341744000000001).ends_with("since=1795341744.000000001"));
}

TEST_CASE("the watcher syncs the simulated swarm and follows its changes") {
  SimWatch w;
  REQUIRE(wait_until(10s, [&] { return w.connected(); }));
  CHECK(w.services() == w.engine->service_count());
  CHECK(w.store.snapshot()->table(Kind::task).items.size() == w.engine->task_count());
  CHECK_FALSE(w.store.snapshot()->stacks->empty());

  const std::string id = w.engine->create_service("narwhal-test", 2);
  REQUIRE(wait_until(5s, [&] { return w.service("narwhal-test") != nullptr; }));
  REQUIRE(w.engine->scale_service("narwhal-test", 5));
  CHECK(wait_until(5s, [&] {
    const auto* s = w.service("narwhal-test");
    return s != nullptr && s->replicas == 5 && w.store.snapshot()->tally(id).desired == 5;
  }));
  REQUIRE(w.engine->remove_service("narwhal-test"));
  CHECK(wait_until(5s, [&] { return w.service("narwhal-test") == nullptr; }));
  bool removed = false;
  for (const auto& e : w.store.history().latest(50)) {
    removed |=
        e.kind == Kind::service && e.action == state::Action::remove && e.name == "narwhal-test";
  }
  CHECK(removed);
}

TEST_CASE("a dropped event stream reconnects and resyncs") {
  SimWatch w;
  REQUIRE(wait_until(10s, [&] { return w.connected(); }));
  w.engine->drop_event_streams();
  // whatever happens while the stream is down is found by the resync after reconnecting
  w.engine->create_service("after-drop", 1);
  CHECK(wait_until(10s, [&] { return w.service("after-drop") != nullptr && w.connected(); }));
}

TEST_CASE("engine 500s keep the last good state and recover") {
  SimWatch w;
  REQUIRE(wait_until(10s, [&] { return w.connected(); }));
  const auto before = w.services();
  sim::Faults f;
  f.status_code = 500;
  w.engine->set_faults(f);
  w.engine->drop_event_streams();
  CHECK(wait_until(5s, [&] {
    const auto s = w.store.snapshot();
    return !s->engine.connected && s->engine.last_error.find("500") != std::string::npos;
  }));
  CHECK(w.services() == before);
  w.engine->set_faults({});
  w.engine->create_service("after-500", 1);
  CHECK(wait_until(10s, [&] { return w.connected() && w.service("after-500") != nullptr; }));
}

TEST_CASE("garbage JSON from the engine keeps the last good state and recovers") {
  SimWatch w;
  REQUIRE(wait_until(10s, [&] { return w.connected(); }));
  const auto before = w.services();
  sim::Faults f;
  f.garbage = true;
  w.engine->set_faults(f);
  w.engine->drop_event_streams();
  std::this_thread::sleep_for(600ms);
  CHECK(w.services() == before);
  w.engine->set_faults({});
  w.engine->create_service("after-garbage", 1);
  CHECK(wait_until(10s, [&] { return w.connected() && w.service("after-garbage") != nullptr; }));
}

TEST_CASE("malformed lines in the event stream are skipped") {
  SimWatch w;
  REQUIRE(wait_until(10s, [&] { return w.connected(); }));
  sim::Faults f;
  f.events_garbage = true;
  w.engine->set_faults(f);
  w.engine->create_service("amid-garbage", 1);
  CHECK(wait_until(5s, [&] { return w.service("amid-garbage") != nullptr; }));
  CHECK(w.connected());
}

TEST_CASE("answers slower than the request timeout count as a lost engine; state is kept") {
  SimWatch w(500ms);
  REQUIRE(wait_until(10s, [&] { return w.connected(); }));
  const auto before = w.services();
  sim::Faults f;
  f.delay = 1500ms;
  w.engine->set_faults(f);
  w.engine->drop_event_streams();
  CHECK(wait_until(6s, [&] { return !w.store.snapshot()->engine.connected; }));
  CHECK(w.services() == before);
  w.engine->set_faults({});
  CHECK(wait_until(10s, [&] { return w.connected(); }));
}

TEST_CASE("stop() returns promptly while the engine is unreachable") {
  state::Store store(10);
  watch::Options o;
  o.endpoint = engine::parse_endpoint("unix:///nonexistent/narwhal.sock", false, "").value();
  o.backoff_min = 10s;
  watch::Watcher w(o, store);
  w.start();
  std::this_thread::sleep_for(100ms);
  const auto t0 = std::chrono::steady_clock::now();
  w.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  CHECK_FALSE(store.snapshot()->engine.connected);
  CHECK_FALSE(store.snapshot()->engine.last_error.empty());
}
