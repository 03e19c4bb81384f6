// The watcher: event → work mapping (pure), then the whole loop against the simulated engine,
// including its faults. The real engine is proven in tests/integration.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <thread>

#include "../../src/watch/follow_up.hpp"
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

  explicit SimWatch(std::chrono::milliseconds request_timeout = 2s,
                    const std::function<void(watch::Options&)>& tweak = {}) {
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
    if (tweak) tweak(w);
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

TEST_CASE("a removed service's tasks stay while the engine lists them, then leave once") {
  SimWatch w;
  REQUIRE(wait_until(10s, [&] { return w.connected(); }));
  const std::string id = w.engine->create_service("leaving", 3);
  auto tasks_of = [&] {
    std::vector<state::ObjectPtr> out;
    // Held: a temporary snapshot would die before the loop runs.
    const auto held_t = w.store.snapshot();
    for (const auto& t : held_t->table(Kind::task).items) {
      if (t->service_id == id) out.push_back(t);
    }
    return out;
  };
  REQUIRE(wait_until(5s, [&] {
    const auto ts = tasks_of();
    return ts.size() == 3 &&
           std::all_of(ts.begin(), ts.end(), [](const auto& t) { return t->state == "running"; });
  }));
  const auto last_before = w.store.history().last_id();
  REQUIRE(w.engine->remove_service("leaving"));
  REQUIRE(wait_until(5s, [&] { return w.service("leaving") == nullptr; }));
  // The engine still lists them (desired state "remove"): so does narwhal, with their names.
  const auto lingering = tasks_of();
  CHECK(lingering.size() == 3);
  for (const auto& t : lingering) CHECK(t->name.starts_with("leaving."));
  REQUIRE(wait_until(5s, [&] { return tasks_of().empty(); }));
  std::this_thread::sleep_for(700ms);  // two more task polls: no ghost may come back
  CHECK(tasks_of().empty());
  std::map<std::string, int> removes;
  for (const auto& e : w.store.history().latest(500)) {
    if (e.id <= last_before || e.kind != Kind::task || e.object == nullptr ||
        e.object->service_id != id) {
      continue;
    }
    CHECK_MESSAGE(e.action != state::Action::create, "ghost task create: " << e.summary);
    CHECK_MESSAGE(!e.name.empty(), "a task entry without a name: " << e.summary);
    if (e.action == state::Action::remove) ++removes[e.object_id];
  }
  CHECK(removes.size() == 3);
  for (const auto& [task, n] : removes) CHECK_MESSAGE(n == 1, task << " removed " << n << " times");
}

TEST_CASE("an engine that is no swarm manager: last state kept as stale, timers on, recovery") {
  SimWatch w;
  REQUIRE(wait_until(10s, [&] { return w.connected(); }));
  const auto before = w.services();
  sim::Faults f;
  f.not_manager = true;
  w.engine->set_faults(f);
  w.engine->create_service("while-not-manager", 1);  // not visible: the engine says 503
  CHECK(wait_until(6s, [&] {
    const auto e = w.store.snapshot()->engine;
    return !e.manager && e.connected && e.stale_since != 0 &&
           e.last_error.find("not a swarm manager") != std::string::npos;
  }));
  CHECK(w.services() == before);
  const auto stats_before = w.watcher->stats();
  std::this_thread::sleep_for(1500ms);
  // The task poll keeps asking (and keeps being told 503).
  CHECK(w.watcher->stats().request_errors.size() >= 1);
  std::uint64_t errors_before = 0, errors_after = 0;
  for (const auto& e : stats_before.request_errors) errors_before += e.value;
  for (const auto& e : w.watcher->stats().request_errors) errors_after += e.value;
  CHECK(errors_after > errors_before);
  w.engine->set_faults({});
  CHECK(wait_until(10s, [&] {
    const auto e = w.store.snapshot()->engine;
    return e.manager && e.stale_since == 0 && w.service("while-not-manager") != nullptr;
  }));
}

TEST_CASE("a frozen engine is lost within one watchdog interval, whatever the other timers") {
  SimWatch w(2s, [](watch::Options& o) {
    o.task_poll_interval = 10min;
    o.resync_interval = 10min;
    o.event_watchdog = 1s;
  });
  REQUIRE(wait_until(10s, [&] { return w.connected(); }));
  sim::Faults f;
  f.frozen = true;
  w.engine->set_faults(f);
  // Resubscribing to a frozen engine "works" (the socket accepts); only a ping tells.
  CHECK(wait_until(4s, [&] { return !w.store.snapshot()->engine.connected; }));
  const auto e = w.store.snapshot()->engine;
  CHECK_MESSAGE(e.last_error.find("GET /_ping: no response within") != std::string::npos,
                e.last_error);
  CHECK(e.stale_since != 0);
  CHECK(w.watcher->stats().watchdog_failures >= 1);
  w.engine->set_faults({});
  CHECK(wait_until(10s, [&] { return w.connected(); }));
  CHECK(w.store.snapshot()->engine.stale_since == 0);
}

TEST_CASE("a stopping engine's local destroy events do not remove its swarm networks") {
  SimWatch w;
  REQUIRE(wait_until(10s, [&] { return w.connected(); }));
  std::size_t overlays = 0;
  // Held: a temporary snapshot would die before the loop runs.
  const auto held_n = w.store.snapshot();
  for (const auto& n : held_n->table(Kind::network).items)
    overlays += n->scope == "swarm";
  REQUIRE(overlays > 0);
  const auto last_before = w.store.history().last_id();
  w.engine->begin_shutdown();
  std::this_thread::sleep_for(500ms);
  for (const auto& e : w.store.history().latest(200)) {
    if (e.id <= last_before) continue;
    CHECK_MESSAGE(!(e.kind == Kind::network && e.action == state::Action::remove),
                  "network " << e.name << " removed by a local event");
  }
  std::size_t after = 0;
  // Held: a temporary snapshot would die before the loop runs.
  const auto held_n2 = w.store.snapshot();
  for (const auto& n : held_n2->table(Kind::network).items) after += n->scope == "swarm";
  CHECK(after == overlays);
}

TEST_CASE("the watcher counts what it does for the metrics") {
  SimWatch w;
  REQUIRE(wait_until(10s, [&] { return w.connected(); }));
  w.engine->create_service("counted", 2);
  REQUIRE(wait_until(5s, [&] { return w.service("counted") != nullptr; }));
  REQUIRE(wait_until(3s, [&] { return w.watcher->stats().task_relists > 0; }));
  const auto s = w.watcher->stats();
  CHECK(s.connects == 1);
  CHECK(s.full_syncs >= 1);
  CHECK(s.last_full_sync_seconds > 0);
  CHECK(s.task_relist_bytes_total > 0);
  CHECK(s.last_event_micros > 0);
  std::uint64_t service_events = 0;
  for (const auto& c : s.events_by_type) {
    if (c.label == "service") service_events = c.value;
  }
  CHECK(service_events >= 1);
}

namespace {

state::SnapshotPtr with_task(const std::string& id, const std::string& state_name,
                             std::uint64_t version, const std::string& service = "s1") {
  auto t = std::make_shared<state::Object>();
  t->kind = Kind::task;
  t->id = id;
  t->state = state_name;
  t->desired_state = "running";
  t->version = version;
  t->service_id = service;
  auto snap = std::make_shared<state::Snapshot>();
  auto table = std::make_shared<state::Table>();
  table->items.push_back(std::move(t));
  snap->tables.at(static_cast<std::size_t>(Kind::task)) = std::move(table);
  return snap;
}

}  // namespace

TEST_CASE("a started container's task is re-read until the engine says running (three tries)") {
  using Clock = std::chrono::steady_clock;
  watch::FollowUps f;
  const auto starting = with_task("t1", "starting", 5);
  f.note_event(event("container", "start", "c1", {{"com.docker.swarm.task.id", "t1"}}), *starting);
  const auto t0 = Clock::now();
  f.after_execute(*starting, t0);  // the first re-read still saw "starting"
  REQUIRE(f.next_due().has_value());
  CHECK(*f.next_due() == t0 + 300ms);
  watch::Plan plan;
  CHECK_FALSE(f.take_due(t0 + 100ms, plan));
  CHECK(f.take_due(t0 + 300ms, plan));
  CHECK(plan.reread.contains({Kind::task, "t1"}));
  f.after_execute(*with_task("t1", "running", 6), t0 + 350ms);
  CHECK(f.pending() == 0);

  // Never catching up: three more tries, then it gives up.
  watch::FollowUps g;
  g.note_event(event("container", "start", "c1", {{"com.docker.swarm.task.id", "t1"}}), *starting);
  auto now = t0;
  int tries = 0;
  g.after_execute(*starting, now);
  while (const auto due = g.next_due()) {
    watch::Plan p;
    REQUIRE(g.take_due(*due, p));
    ++tries;
    now = *due;
    g.after_execute(*starting, now);
  }
  CHECK(tries == 3);
  CHECK(now - t0 == 300ms + 1000ms + 3000ms);
}

TEST_CASE("a changed service whose tasks have not settled has them re-listed") {
  watch::FollowUps f;
  const auto pending = with_task("t1", "pending", 5, "s1");
  f.note_event(event("service", "update", "s1"), *pending);
  const auto t0 = std::chrono::steady_clock::now();
  // The service must exist for its tasks to be "settling" rather than "leaving".
  auto snap = std::make_shared<state::Snapshot>(*pending);
  auto services = std::make_shared<state::Table>();
  auto svc = std::make_shared<state::Object>();
  svc->kind = Kind::service;
  svc->id = "s1";
  services->items.push_back(svc);
  snap->tables.at(static_cast<std::size_t>(Kind::service)) = services;
  f.after_execute(*snap, t0);
  REQUIRE(f.next_due().has_value());
  watch::Plan plan;
  CHECK(f.take_due(t0 + 1s, plan));
  CHECK(plan.service_tasks.contains("s1"));
  // Settled: every task that should run runs.
  auto settled = std::make_shared<state::Snapshot>(*with_task("t1", "running", 6, "s1"));
  settled->tables.at(static_cast<std::size_t>(Kind::service)) = services;
  f.after_execute(*settled, t0 + 1100ms);
  CHECK(f.pending() == 0);
}

TEST_CASE("a frozen engine is lost at the watchdog even while a call waits on it") {
  // The task poll (every 500 ms) is stuck on the frozen engine for its 8 s request timeout when
  // the watchdog (1 s) finds the events silent: the loss must not wait for that call to give up.
  SimWatch w(8s, [](watch::Options& o) {
    o.task_poll_interval = 500ms;
    o.resync_interval = 10min;
    o.event_watchdog = 1s;
  });
  REQUIRE(wait_until(10s, [&] { return w.connected(); }));
  sim::Faults f;
  f.frozen = true;
  w.engine->set_faults(f);
  CHECK(wait_until(4s, [&] { return !w.store.snapshot()->engine.connected; }));
  // The reason is the watchdog's, not the aborted call's (or nothing, as it once was).
  const auto why = w.store.snapshot()->engine.last_error;
  CHECK_MESSAGE(why.find("GET /_ping: no response within") != std::string::npos, why);
  w.engine->set_faults({});
  CHECK(wait_until(10s, [&] { return w.connected(); }));
}
