// What narwhal shows is what the swarm is, item by item (issue "live truth"), against a real
// dockerd: each scenario provokes one behaviour of the engine and checks narwhal tells it right.
// Every wait is a bounded poll; nothing is proven by sleeping. Each scenario leaves the swarm
// healthy and narwhal ready (RAII guards undo what it froze, cut, left or created, also when a
// check failed).
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fault_fixture.hpp"

namespace {

using namespace narwhal::itest;

constexpr auto kReady = 30s;     // back to ready after something narwhal had to recover from
constexpr auto kConverge = 20s;  // a swarm change shows in narwhal

long long ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string join(const std::vector<std::string>& v, const char* sep = "; ") {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : sep) + x;
  return out;
}

// wait_until that gives up as soon as narwhal has died, saying so in `last`.
template <class Pred>
bool eventually(FaultSwarm& s, std::chrono::milliseconds budget, std::string& last, Pred&& pred,
                std::chrono::milliseconds step = 100ms) {
  bool dead = false;
  const bool ok = wait_until(
      budget,
      [&] {
        if (!s.narwhal.alive()) {
          dead = true;
          last = "narwhal is not running (" + s.narwhal.exit_description() + "); last: " + last;
          return true;
        }
        return pred();
      },
      step);
  return ok && !dead;
}

// `docker args...`, REQUIREd to succeed; its trimmed stdout.
std::string docker_ok(FaultSwarm& s, const std::vector<std::string>& args) {
  std::string why;
  auto out = s.docker(args, &why);
  REQUIRE_MESSAGE(why.empty(), why);
  return out;
}

std::string create_service(FaultSwarm& s, const std::string& name, int replicas,
                           const std::string& image = "tiny:latest",
                           const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{"service",       "create", "--detach",   "--quiet",
                                "--name",        name,     "--replicas", std::to_string(replicas),
                                "--stop-signal", "KILL"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(image);
  if (image == "tiny:latest") args.emplace_back("/busybox");  // the whole rootfs is busybox
  args.insert(args.end(), {"sleep", "1000"});
  return docker_ok(s, args);
}

struct TaskSeen {
  std::string id, state, desired, err, service_name;
};

// The engine's own tasks of a service (by ID, client-side: a removed service's name no longer
// resolves in a filter); nullopt when the engine did not answer.
std::optional<std::vector<TaskSeen>> engine_tasks(FaultSwarm& s, const std::string& service_id,
                                                  std::string& last) {
  const auto r = s.engine_get("/tasks");
  if (r.status != 200 || !r.json_ok || !r.json.IsArray()) {
    last = r.describe();
    return std::nullopt;
  }
  std::vector<TaskSeen> out;
  for (const auto& t : r.json.GetArray()) {
    if (!service_id.empty() && str_at(t, "/ServiceID") != service_id) continue;
    out.push_back({str_at(t, "/ID"),
                   str_at(t, "/Status/State"),
                   str_at(t, "/DesiredState"),
                   str_at(t, "/Status/Err"),
                   {}});
  }
  return out;
}

std::optional<std::size_t> engine_task_count(FaultSwarm& s) {
  const auto r = s.engine_get("/tasks");
  if (r.status != 200 || !r.json_ok || !r.json.IsArray()) return std::nullopt;
  return r.json.GetArray().Size();
}

// narwhal's tasks of a service (all of its tasks when service_id is empty).
std::optional<std::vector<TaskSeen>> narwhal_tasks(FaultSwarm& s, const std::string& service_id,
                                                   std::string& last) {
  const auto r = s.api->get("/tasks?limit=200");
  last = r.describe();
  if (r.status != 200 || !r.json_ok) return std::nullopt;
  std::vector<TaskSeen> out;
  for (const auto* t : items_of(r)) {
    if (!service_id.empty() && str_at(*t, "/ServiceID") != service_id) continue;
    out.push_back({str_at(*t, "/ID"), str_at(*t, "/Status/State"), str_at(*t, "/DesiredState"),
                   str_at(*t, "/Status/Err"), str_at(*t, "/serviceName")});
  }
  return out;
}

std::optional<std::int64_t> narwhal_task_total(FaultSwarm& s) {
  const auto r = s.api->get("/tasks?limit=1");
  if (r.status != 200 || !r.json_ok) return std::nullopt;
  return int_at(r.json, "/total");
}

std::set<std::string> ids_in_state(const std::vector<TaskSeen>& tasks, const std::string& state) {
  std::set<std::string> out;
  for (const auto& t : tasks) {
    if (state.empty() || t.state == state) out.insert(t.id);
  }
  return out;
}

// narwhal shows `want` running tasks of the service, exactly the ones the engine runs.
bool running_in_both(FaultSwarm& s, const std::string& service_id, std::size_t want,
                     std::string& last) {
  const auto engine = engine_tasks(s, service_id, last);
  const auto ours = narwhal_tasks(s, service_id, last);
  if (!engine || !ours) return false;
  const auto e = ids_in_state(*engine, "running");
  const auto n = ids_in_state(*ours, "running");
  last = "engine runs " + std::to_string(e.size()) + ", narwhal shows " + std::to_string(n.size()) +
         " running";
  return e.size() == want && e == n;
}

std::string describe_changes(const std::vector<Change>& changes) {
  std::ostringstream out;
  for (const auto& c : changes) {
    out << "\n  #" << c.id << " " << c.type << " " << c.action << " " << c.resource_id << " '"
        << c.name << "': " << c.summary;
  }
  return out.str();
}

// The value of an unlabelled sample, or nullopt.
std::optional<double> metric(const std::string& text, const std::string& name) {
  for (const auto& line : split_lines(text)) {
    if (line.rfind(name + " ", 0) == 0) return std::strtod(line.c_str() + name.size() + 1, nullptr);
  }
  return std::nullopt;
}

// The sum over every sample of a family (labelled or not); nullopt when it has none.
std::optional<double> metric_sum(const std::string& text, const std::string& name) {
  std::optional<double> sum;
  for (const auto& line : split_lines(text)) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    const char next = line[name.size()];
    if (next != ' ' && next != '{') continue;
    const auto space = line.rfind(' ');
    sum = sum.value_or(0) + std::strtod(line.c_str() + space + 1, nullptr);
  }
  return sum;
}

// Removes what a scenario created, whatever happened to it; waits until the engine lists none of
// the services' tasks, so the next scenario starts from a quiet swarm.
struct Created {
  FaultSwarm& s;
  std::vector<std::string> services, networks;
  explicit Created(FaultSwarm& swarm) : s(swarm) {}
  Created(const Created&) = delete;
  Created& operator=(const Created&) = delete;
  ~Created() {
    for (const auto& id : services) {
      (void)s.dockerd->docker({"service", "rm", id});
    }
    for (const auto& id : services) {
      std::string last;
      (void)wait_until(kConverge, [&] {
        const auto left = engine_tasks(s, id, last);
        return left && left->empty();
      });
    }
    for (const auto& id : networks) {
      (void)wait_until(
          kConverge,
          [&] {
            return s.dockerd->docker({"network", "rm", id}).ok();
          },
          250ms);
    }
  }
};

// Leaves narwhal ready for the next scenario (the wait fails the scenario when it does not).
void end_ready(FaultSwarm& s) {
  const auto why = s.wait_ready(kReady);
  CHECK_MESSAGE(why.empty(), "narwhal is not ready at the end of the scenario: " << why);
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("truth 1: a removed service's tasks stay, named, until the engine drops them") {
  FaultSwarm& s = require_fault_swarm();
  REQUIRE(s.wait_ready(kReady).empty());
  Created created{s};
  std::string last;
  const auto id = create_service(s, "gone", 2);
  created.services.push_back(id);
  REQUIRE_MESSAGE(eventually(s, kConverge, last, [&] { return running_in_both(s, id, 2, last); }),
                  "gone never ran 2 tasks in narwhal: " << last);
  const auto before = engine_tasks(s, id, last);
  REQUIRE_MESSAGE(before.has_value(), last);
  const auto task_ids = ids_in_state(*before, "");
  const auto h0 = s.last_change_id();

  const auto t0 = Clock::now();
  docker_ok(s, {"service", "rm", id});
  created.services.clear();

  // Sample both sides until the engine has dropped every task and a few seconds have passed. A
  // sample agrees when narwhal shows the engine's count (read just before or after) within 1 s.
  int samples = 0, engine_listed_samples = 0;
  long long worst_total_lag = 0, left_engine_ms = -1;
  std::vector<std::string> disagreements;
  const auto sampling_end = t0 + 6s;
  while (Clock::now() < sampling_end || left_engine_ms < 0) {
    if (ms_since(t0) > 30'000) break;
    ++samples;
    const auto engine = engine_tasks(s, id, last);
    REQUIRE_MESSAGE(engine.has_value(), last);
    if (!engine->empty()) {
      ++engine_listed_samples;
      // Every task the engine still lists (desired state "remove"), narwhal lists, named.
      std::string why;
      const bool listed = eventually(s, 1s, why, [&] {
        const auto again = engine_tasks(s, id, why);
        const auto ours = narwhal_tasks(s, id, why);
        if (!again || !ours) return false;
        if (again->empty()) return true;  // gone from the engine meanwhile: nothing to show
        for (const auto& t : *again) {
          const auto it = std::find_if(ours->begin(), ours->end(),
                                       [&](const TaskSeen& o) { return o.id == t.id; });
          if (it == ours->end()) {
            why = "task " + t.id + " (engine: " + t.state + ", desired " + t.desired +
                  ") is not in narwhal";
            return false;
          }
          if (it->service_name != "gone") {
            why = "task " + t.id + " shows serviceName '" + it->service_name + "' (desired " +
                  it->desired + ")";
            return false;
          }
        }
        return true;
      });
      if (!listed) {
        disagreements.push_back("at " + std::to_string(ms_since(t0)) + " ms: " + why);
      }
    } else if (left_engine_ms < 0) {
      left_engine_ms = ms_since(t0);
    }
    // The totals: narwhal's /tasks against the engine's whole task list.
    const auto sample_start = Clock::now();
    std::string why;
    const bool totals = eventually(s, 1s, why, [&] {
      const auto e1 = engine_task_count(s);
      const auto n = narwhal_task_total(s);
      const auto e2 = engine_task_count(s);
      if (!e1 || !n || !e2) {
        why = "a listing did not answer";
        return false;
      }
      why = "narwhal /tasks total " + std::to_string(*n) + ", engine " + std::to_string(*e1) + "/" +
            std::to_string(*e2);
      return static_cast<std::size_t>(*n) == *e1 || static_cast<std::size_t>(*n) == *e2;
    });
    worst_total_lag = std::max(worst_total_lag, ms_since(sample_start));
    if (!totals) disagreements.push_back("at " + std::to_string(ms_since(t0)) + " ms: " + why);
    std::this_thread::sleep_for(150ms);  // pacing between samples, not a proof
  }
  MESSAGE("service rm: the engine listed the tasks for "
          << left_engine_ms << " ms; " << engine_listed_samples << " of " << samples
          << " samples saw them; worst /tasks "
             "total lag "
          << worst_total_lag << " ms");
  CHECK_MESSAGE(engine_listed_samples > 0,
                "the engine had dropped the tasks before the first sample: nothing was observed");
  CHECK_MESSAGE(left_engine_ms >= 0, "the engine still lists gone's tasks after 30 s");
  CHECK_MESSAGE(disagreements.empty(), disagreements.size()
                                           << " disagreements, first: "
                                           << (disagreements.empty() ? "" : disagreements[0]));

  // They leave narwhal once they left the engine.
  const auto gone_at = Clock::now();
  const bool gone = eventually(s, 10s, last, [&] {
    const auto ours = narwhal_tasks(s, id, last);
    if (!ours) return false;
    last = std::to_string(ours->size()) + " tasks of gone still in narwhal";
    return ours->empty();
  });
  CHECK_MESSAGE(gone, last);
  MESSAGE("gone's tasks left narwhal " << ms_since(gone_at)
                                       << " ms after the engine's list was seen empty");

  // The history since the remove: one task remove each, no task create, no entry without name.
  const auto changes = s.changes_since(h0);
  std::map<std::string, int> removes;
  std::vector<std::string> bad;
  bool service_removed = false;
  for (const auto& c : changes) {
    if (c.name.empty()) bad.push_back("entry #" + std::to_string(c.id) + " has no name");
    if (c.type == "service" && c.resource_id == id && c.action == "remove") service_removed = true;
    if (c.type != "task" || !task_ids.contains(c.resource_id)) continue;
    if (c.action == "create") bad.push_back("task " + c.resource_id + " created after the remove");
    if (c.action == "remove") removes[c.resource_id] += 1;
    if (c.name.rfind("gone.", 0) != 0) {
      bad.push_back("task " + c.resource_id + " " + c.action + " named '" + c.name + "'");
    }
  }
  for (const auto& t : task_ids) {
    if (removes[t] != 1) {
      bad.push_back("task " + t + " removed " + std::to_string(removes[t]) + " times");
    }
  }
  CHECK_MESSAGE(service_removed, "no service remove for gone:" << describe_changes(changes));
  CHECK_MESSAGE(bad.empty(), join(bad) << describe_changes(changes));
  end_ready(s);
}

// ---------------------------------------------------------------------------------------------

// Puts the node back in a swarm if a scenario left it outside one.
struct SwarmBack {
  FaultSwarm& s;
  explicit SwarmBack(FaultSwarm& swarm) : s(swarm) {}
  SwarmBack(const SwarmBack&) = delete;
  SwarmBack& operator=(const SwarmBack&) = delete;
  ~SwarmBack() {
    if (s.docker({"info", "--format", "{{.Swarm.LocalNodeState}}"}) != "active") {
      (void)s.dockerd->docker(
          {"swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377"});
    }
  }
};

TEST_CASE("truth 2: swarm leave makes the state stale, swarm init makes it current again") {
  FaultSwarm& s = require_fault_swarm();
  REQUIRE(s.wait_ready(kReady).empty());
  SwarmBack back{s};
  std::string last;
  const auto id = create_service(s, "kept", 1);
  REQUIRE_MESSAGE(eventually(s, kConverge, last, [&] { return running_in_both(s, id, 1, last); }),
                  "kept never ran in narwhal: " << last);

  const auto t0 = Clock::now();
  docker_ok(s, {"swarm", "leave", "--force"});
  HttpReply ready;
  const bool not_manager = eventually(s, 10s, last, [&] {
    ready = s.api->get("/-/ready");
    last = ready.describe();
    return ready.status == 503 && ends_with(str_at(ready.json, "/type"), "/api/errors/ENG002");
  });
  REQUIRE_MESSAGE(not_manager, "/-/ready did not turn ENG002 within 10 s: " << last);
  MESSAGE("swarm leave: /-/ready ENG002 after " << ms_since(t0) << " ms");
  CHECK_MESSAGE(contains(str_at(ready.json, "/detail"), "not a swarm manager"), ready.describe());

  HttpReply cluster;
  (void)eventually(s, 5s, last, [&] {
    cluster = s.api->get("/cluster");
    last = cluster.describe();
    const auto* e = at(cluster.json, "/engine");
    return e != nullptr && at(*e, "/manager") != nullptr && at(*e, "/manager")->IsFalse() &&
           contains(str_at(*e, "/lastError"), "This node is not a swarm manager");
  });
  REQUIRE_MESSAGE(cluster.status == 200, cluster.describe());
  const auto* engine = at(cluster.json, "/engine");
  REQUIRE_MESSAGE(engine != nullptr, cluster.describe());
  auto is_bool = [&](const char* p, bool v) {
    const auto* b = at(*engine, p);
    return b != nullptr && b->IsBool() && b->GetBool() == v;
  };
  CHECK_MESSAGE(is_bool("/manager", false), cluster.body);
  CHECK_MESSAGE(is_bool("/stale", true), cluster.body);
  CHECK_MESSAGE(!str_at(*engine, "/staleSince").empty(), cluster.body);
  CHECK_MESSAGE(is_bool("/connected", true), cluster.body);
  CHECK_MESSAGE(contains(str_at(*engine, "/lastError"), "This node is not a swarm manager"),
                cluster.body);

  const auto services = s.api->get("/services");
  CHECK_MESSAGE(services.status == 200, services.describe());
  CHECK_MESSAGE(mentions(services.json, id),
                "the last known services are not served: " << services.describe());
  CHECK_MESSAGE(services.header("Warning") == "110 narwhal \"Response is Stale\"",
                "Warning: '" << services.header("Warning") << "'");

  const auto m1 = s.api->get("/-/metrics");
  CHECK_MESSAGE(metric(m1.body, "narwhal_engine_manager") == 0.0, m1.body.substr(0, 2000));
  CHECK_MESSAGE(metric(m1.body, "narwhal_state_stale") == 1.0, m1.body.substr(0, 2000));
  const auto errors0 = metric_sum(m1.body, "narwhal_engine_request_errors_total").value_or(0);
  double errors1 = errors0;
  const bool growing = wait_until(8s, [&] {
    errors1 = metric_sum(s.api->get("/-/metrics").body, "narwhal_engine_request_errors_total")
                  .value_or(0);
    return errors1 > errors0;
  });
  CHECK_MESSAGE(growing, "narwhal_engine_request_errors_total stayed at " << errors0 << " for 8 s");
  MESSAGE("request errors while not a manager: " << errors0 << " → " << errors1);

  const auto t1 = Clock::now();
  docker_ok(s,
            {"swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377"});
  const auto why = s.wait_ready(15s);
  REQUIRE_MESSAGE(why.empty(), "not ready within 15 s of swarm init: " << why);
  MESSAGE("swarm init: ready again after " << ms_since(t1) << " ms");
  cluster = s.api->get("/cluster");
  engine = at(cluster.json, "/engine");
  REQUIRE_MESSAGE(engine != nullptr, cluster.describe());
  CHECK_MESSAGE(is_bool("/stale", false), cluster.body);
  CHECK_MESSAGE(is_bool("/manager", true), cluster.body);
  CHECK_MESSAGE(str_at(*engine, "/staleSince").empty(), cluster.body);
  const auto fresh = s.api->get("/services");
  CHECK_MESSAGE(fresh.header("Warning").empty(), fresh.describe());
  CHECK_MESSAGE(!mentions(fresh.json, id), "the old swarm's service is still served");
  std::vector<std::string> diff;
  CHECK_MESSAGE(eventually(s, kConverge, last,
                           [&] {
                             diff = s.differences();
                             return diff.empty();
                           }),
                join(diff));
  end_ready(s);
}

// ---------------------------------------------------------------------------------------------

// Thaws the daemon whatever happened.
struct Thaw {
  FaultSwarm& s;
  explicit Thaw(FaultSwarm& swarm) : s(swarm) {}
  Thaw(const Thaw&) = delete;
  Thaw& operator=(const Thaw&) = delete;
  ~Thaw() { (void)s.dockerd_sh("signal", {"CONT"}); }
};

TEST_CASE("truth 3: a frozen engine is noticed by the watchdog, not by the task poll") {
  FaultSwarm& s = require_fault_swarm();
  REQUIRE(s.wait_ready(kReady).empty());
  std::string last;
  {
    Thaw thaw{s};
    const auto t0 = Clock::now();
    const auto stop = s.dockerd_sh("signal", {"STOP"});
    REQUIRE_MESSAGE(stop.ok(), stop.describe());
    const bool noticed = eventually(s, kWatchdog + 3s + 2s, last, [&] {
      const auto r = s.api->get("/-/ready");
      last = r.describe();
      return r.status == 503;
    });
    const auto detected = ms_since(t0);
    MESSAGE("frozen engine: not ready " << detected << " ms after SIGSTOP (watchdog "
                                        << kWatchdog.count() << " s)");
    REQUIRE_MESSAGE(noticed, "still ready " << detected << " ms after SIGSTOP: " << last);
    CHECK(detected <=
          std::chrono::duration_cast<std::chrono::milliseconds>(kWatchdog + 3s).count());
    HttpReply cluster;
    const bool said = eventually(s, 3s, last, [&] {
      cluster = s.api->get("/cluster");
      last = cluster.describe();
      return contains(str_at(cluster.json, "/engine/lastError"), "GET /_ping: no response within");
    });
    CHECK_MESSAGE(said, "engine.lastError does not name the ping: " << last);
  }
  const auto t1 = Clock::now();
  const auto why = s.wait_ready(20s);
  CHECK_MESSAGE(why.empty(), "not ready within 20 s of SIGCONT: " << why);
  std::vector<std::string> diff;
  CHECK_MESSAGE(eventually(s, 20s, last,
                           [&] {
                             diff = s.differences();
                             return diff.empty();
                           }),
                join(diff));
  MESSAGE("thawed: ready and equal to the engine " << ms_since(t1) << " ms after SIGCONT");
  end_ready(s);
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("truth 4: a clean daemon restart removes no network and no stack") {
  FaultSwarm& s = require_fault_swarm();
  REQUIRE(s.wait_ready(kReady).empty());
  Created created{s};
  std::string last;
  const auto net = docker_ok(s, {"network", "create", "-d", "overlay", "--label",
                                 "com.docker.stack.namespace=st", "st_default"});
  created.networks.push_back(net);
  const auto svc =
      create_service(s, "st_web", 1, "tiny:latest",
                     {"--label", "com.docker.stack.namespace=st", "--network", "st_default"});
  created.services.insert(created.services.begin(), svc);
  REQUIRE_MESSAGE(eventually(s, kConverge, last,
                             [&] {
                               const auto r = s.api->get("/stacks/st");
                               last = r.describe();
                               return r.status == 200 && mentions(r.json, svc) &&
                                      mentions(r.json, net);
                             }),
                  "/stacks/st never listed st_web and st_default: " << last);
  REQUIRE_MESSAGE(eventually(s, kConverge, last, [&] { return running_in_both(s, svc, 1, last); }),
                  last);
  const auto h0 = s.last_change_id();

  const auto t0 = Clock::now();
  const auto restart = s.dockerd_sh("restart-daemon", {"2"});
  REQUIRE_MESSAGE(restart.ok(), restart.describe());
  const auto restart_ms = ms_since(t0);
  const auto why = s.wait_ready(60s);
  REQUIRE_MESSAGE(why.empty(), "not ready within 60 s of the restart: " << why);
  std::vector<std::string> diff;
  CHECK_MESSAGE(eventually(s, 30s, last,
                           [&] {
                             diff = s.differences();
                             return diff.empty();
                           }),
                join(diff));
  MESSAGE("restart-daemon 2 took " << restart_ms << " ms; narwhal ready and equal to the engine "
                                   << ms_since(t0) << " ms after it began");

  const auto changes = s.changes_since(h0);
  std::vector<std::string> bad;
  for (const auto& c : changes) {
    if (c.type == "network" && c.resource_id == net && c.action == "remove")
      bad.push_back("network remove #" + std::to_string(c.id));
    if (c.type == "stack" && c.name == "st" && (c.action == "remove" || c.action == "update"))
      bad.push_back("stack " + c.action + " #" + std::to_string(c.id) + ": " + c.summary);
  }
  CHECK_MESSAGE(bad.empty(), join(bad) << describe_changes(changes));
  const auto pairs = FaultSwarm::spurious_pairs(changes);
  CHECK_MESSAGE(pairs.empty(), join(pairs) << describe_changes(changes));
  MESSAGE(changes.size() << " history entries across the restart");
  end_ready(s);
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("truth 5: task states reach narwhal without the task poll") {
  FaultSwarm& s = require_fault_swarm();
  REQUIRE(s.wait_ready(kReady).empty());
  Created created{s};
  std::string last;
  const auto id = create_service(s, "lag", 2);
  created.services.push_back(id);
  REQUIRE_MESSAGE(eventually(s, kConverge, last, [&] { return running_in_both(s, id, 2, last); }),
                  "lag never ran 2 tasks in narwhal: " << last);

  docker_ok(s, {"service", "scale", "--detach", "lag=4"});
  std::set<std::string> engine_running;
  const bool four = wait_until(
      kConverge,
      [&] {
        const auto e = engine_tasks(s, id, last);
        if (!e) return false;
        engine_running = ids_in_state(*e, "running");
        return engine_running.size() == 4;
      },
      25ms);
  REQUIRE_MESSAGE(four, "the engine never ran 4 tasks of lag: " << last);
  const auto t_engine = Clock::now();
  std::set<std::string> ours;
  const bool shown = eventually(
      s, 5s, last,
      [&] {
        const auto n = narwhal_tasks(s, id, last);
        if (!n) return false;
        ours = ids_in_state(*n, "running");
        return std::includes(ours.begin(), ours.end(), engine_running.begin(),
                             engine_running.end());
      },
      25ms);
  const auto lag = ms_since(t_engine);
  MESSAGE("scale 2 → 4: narwhal showed the 4 running tasks " << lag
                                                             << " ms after the engine listed them");
  CHECK_MESSAGE(shown, "narwhal shows " << ours.size() << " of the 4 running: " << last);
  CHECK(lag <= 2000);

  // Rejected tasks have no container, so no event: only narwhal's follow-up re-lists find them.
  const auto t0 = Clock::now();
  const auto bad = create_service(s, "unpullable", 1, "busybox:latest");
  created.services.push_back(bad);
  std::string err;
  const bool rejected = eventually(s, 15s, last, [&] {
    const auto n = narwhal_tasks(s, bad, last);
    if (!n) return false;
    for (const auto& t : *n) {
      if (t.state == "rejected" && !t.err.empty()) {
        err = t.err;
        return true;
      }
    }
    last = std::to_string(n->size()) + " tasks of unpullable in narwhal, none rejected with Err";
    return false;
  });
  MESSAGE("unpullable: a rejected task in narwhal " << ms_since(t0) << " ms after create: " << err);
  CHECK_MESSAGE(rejected, last);
  end_ready(s);
}

// ---------------------------------------------------------------------------------------------

// Brings the relay back (and waits for narwhal to be ready) whatever happened.
struct RelayBack {
  FaultSwarm& s;
  explicit RelayBack(FaultSwarm& swarm) : s(swarm) {}
  RelayBack(const RelayBack&) = delete;
  RelayBack& operator=(const RelayBack&) = delete;
  ~RelayBack() { (void)s.relay_up(); }
};

TEST_CASE("truth 6: before the first full sync, narwhal says why it has no data") {
  FaultSwarm& s = require_fault_swarm();
  REQUIRE(s.wait_ready(kReady).empty());
  std::string last;
  {
    RelayBack back{s};
    s.relay_cut();
    REQUIRE(s.restart_narwhal().empty());
    const std::string reason = "connect " + s.relay_socket();
    HttpReply services;
    const bool said = eventually(s, 10s, last, [&] {
      services = s.api->get("/services");
      last = services.describe();
      return services.status == 503 && contains(str_at(services.json, "/detail"), reason);
    });
    CHECK_MESSAGE(said, "/services does not say '" << reason << "': " << last);
    CHECK_MESSAGE(!services.header("Retry-After").empty(), services.describe());
    CHECK_MESSAGE(ends_with(str_at(services.json, "/type"), "/api/errors/ENG001"),
                  services.describe());
    MESSAGE("before the first sync: " << str_at(services.json, "/detail"));
    const auto health = s.api->get("/-/health");
    CHECK_MESSAGE(health.status == 200, health.describe());
    CHECK_MESSAGE(
        eventually(s, 10s, last,
                   [&] { return contains(s.narwhal.log_text(), "cannot reach the engine"); }),
        "the log never says 'cannot reach the engine':\n"
            << s.narwhal.log_text());
    CHECK_MESSAGE(!contains(s.narwhal.log_text(), "engine connection lost"), s.narwhal.log_text());
    REQUIRE(s.relay_up().empty());
  }
  const auto t0 = Clock::now();
  const auto why = s.wait_ready(kReady);
  REQUIRE_MESSAGE(why.empty(), "not ready after the relay came back: " << why);
  MESSAGE("ready " << ms_since(t0) << " ms after the relay came back");
  const auto log = s.narwhal.log_text();
  std::string sync_line;
  for (const auto& line : split_lines(log)) {
    if (contains(line, "full sync done")) sync_line = line;
  }
  CHECK_MESSAGE(contains(sync_line, "loaded=\"1 nodes "), "no full sync line with 1 node:\n"
                                                              << log);
  CHECK_MESSAGE(!contains(log, "engine connection lost"), log);
  MESSAGE(sync_line);
  end_ready(s);
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("truth 7: an engine socket narwhal may not open is named as such") {
  FaultSwarm& s = require_fault_swarm();
  REQUIRE(s.wait_ready(kReady).empty());
  const char* bin = std::getenv("NARWHAL_BIN");
  REQUIRE(bin != nullptr);
  const std::vector<std::string> as_nobody{"setpriv", "--reuid=65534", "--regid=65534",
                                           "--clear-groups"};
  auto probe = as_nobody;
  probe.insert(probe.end(), {"test", "-x", bin});
  if (!run_command(probe, 10s).ok()) {
    MESSAGE("SKIPPED the permission check: uid 65534 cannot execute " << bin
                                                                      << " (a directory on its "
                                                                         "path is not "
                                                                         "world-searchable)");
    return;
  }
  const auto port = free_tcp_port();
  REQUIRE(port.has_value());
  auto argv = as_nobody;
  argv.insert(argv.end(), {bin, "--listen", "127.0.0.1:" + std::to_string(*port), "--docker-host",
                           "unix://" + s.relay_socket(), "--ready-grace", "1s"});
  ServerProcess nobody;
  REQUIRE(nobody.spawn(argv, s.base() + "/narwhal-nobody.log").empty());
  HttpApi api("127.0.0.1", *port);
  std::string last;
  HttpReply ready;
  const bool said = wait_until(10s, [&] {
    if (!nobody.alive()) return true;
    ready = api.get("/-/ready");
    last = ready.describe();
    return ready.status == 503 && contains(str_at(ready.json, "/detail"), "Permission denied");
  });
  const bool alive = nobody.alive();
  const auto log = nobody.log_text();
  nobody.stop();
  REQUIRE_MESSAGE(alive, "narwhal as uid 65534 exited (" << nobody.exit_description() << "):\n"
                                                         << log);
  CHECK_MESSAGE(said, "/-/ready does not say 'Permission denied': " << last);
  CHECK_MESSAGE(contains(str_at(ready.json, "/detail"), "group that owns the socket"),
                ready.describe());
  MESSAGE("as uid 65534: " << str_at(ready.json, "/detail"));
  end_ready(s);
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("truth 8: /-/metrics parses with the Prometheus client and has the watcher's families") {
  FaultSwarm& s = require_fault_swarm();
  REQUIRE(s.wait_ready(kReady).empty());
  Created created{s};
  std::string last;
  const auto id = create_service(s, "metered", 1);
  created.services.push_back(id);
  REQUIRE_MESSAGE(eventually(s, kConverge, last, [&] { return running_in_both(s, id, 1, last); }),
                  last);

  (void)s.api->get("/services?filter=" + std::string("nonsense%20%3D%3D"));  // a FLT problem
  const auto m = s.api->get("/-/metrics");
  REQUIRE_MESSAGE(m.status == 200, m.describe());
  CHECK_MESSAGE(m.body.find("narwhal_http_requests_total{method=\"GET\",route=\"/services\",") !=
                    std::string::npos,
                m.body.substr(0, 2000));
  CHECK(m.body.find("narwhal_http_problems_total{code=\"FLT") != std::string::npos);
  // Debian's python3-prometheus-client lives in the system python; a python3 earlier in PATH
  // (pyenv) may not have it.
  const std::string python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
  const auto parsed =
      run_command({python, "-c",
                   "import sys\n"
                   "from prometheus_client.parser import text_string_to_metric_families\n"
                   "for f in text_string_to_metric_families(sys.stdin.read()):\n"
                   "    print('F', f.name, f.type)\n"
                   "    if f.name == 'narwhal_engine_events':\n"
                   "        for x in f.samples:\n"
                   "            print('S', x.labels.get('type', ''), x.value)\n"},
                  30s, m.body);
  REQUIRE_MESSAGE(parsed.ok(), "the Prometheus parser failed: " << parsed.describe());
  std::map<std::string, std::string> families;
  std::map<std::string, double> events;
  for (const auto& line : split_lines(parsed.out)) {
    std::istringstream in(line);
    std::string tag, a, b;
    in >> tag >> a >> b;
    if (tag == "F") families[a] = b;
    if (tag == "S") events[a] = std::strtod(b.c_str(), nullptr);
  }
  const std::map<std::string, std::string> want{{"narwhal_engine_events", "counter"},
                                                {"narwhal_engine_reconnects", "counter"},
                                                {"narwhal_engine_full_syncs", "counter"},
                                                {"narwhal_engine_full_sync_seconds", "counter"},
                                                {"narwhal_engine_task_relists", "counter"},
                                                {"narwhal_engine_task_relist_seconds", "counter"},
                                                {"narwhal_engine_task_relist_bytes", "counter"},
                                                {"narwhal_engine_request_errors", "counter"},
                                                {"narwhal_engine_last_event_age_seconds", "gauge"},
                                                {"narwhal_state_stale", "gauge"},
                                                {"narwhal_http_requests", "counter"},
                                                {"narwhal_http_request_duration_seconds",
                                                 "histogram"},
                                                {"narwhal_render_jobs", "counter"},
                                                {"narwhal_render_rejected", "counter"},
                                                {"narwhal_render_queue_depth", "gauge"}};
  for (const auto& [name, type] : want) {
    const auto it = families.find(name);
    CHECK_MESSAGE(it != families.end(), "no family " << name << " in the parse");
    if (it != families.end()) CHECK_MESSAGE(it->second == type, name << " is " << it->second);
  }
  CHECK_MESSAGE(events["container"] > 0, "events by type: " << parsed.out);
  std::string by_type;
  for (const auto& [t, v] : events) by_type += " " + t + "=" + std::to_string(v);
  MESSAGE(families.size() << " families parsed; engine events by type:" << by_type);
  end_ready(s);
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("truth 9: history summaries say what changed") {
  FaultSwarm& s = require_fault_swarm();
  REQUIRE(s.wait_ready(kReady).empty());
  Created created{s};
  std::string last;
  const auto id = create_service(s, "summed", 2);
  created.services.push_back(id);
  REQUIRE_MESSAGE(eventually(s, kConverge, last, [&] { return running_in_both(s, id, 2, last); }),
                  last);
  auto h = s.last_change_id();
  // The first entry of the service after `after` whose summary contains `text`.
  auto entry_saying = [&](std::uint64_t after, const std::string& text,
                          std::chrono::milliseconds budget) -> std::optional<Change> {
    std::optional<Change> found;
    std::vector<Change> changes;
    (void)eventually(s, budget, last, [&] {
      changes = s.changes_since(after);
      for (const auto& c : changes) {
        if (c.type == "service" && c.resource_id == id && contains(c.summary, text)) {
          found = c;
          return true;
        }
      }
      return false;
    });
    if (!found) last = "no service entry says '" + text + "':" + describe_changes(changes);
    return found;
  };
  for (const auto& [args, text] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--label-add", "tier=web"}, "label tier added"},
           {{"--label-add", "tier=api"}, "label tier: web → api"},
           {{"--label-rm", "tier"}, "label tier removed"}}) {
    std::vector<std::string> cmd{"service", "update", "--detach"};
    cmd.insert(cmd.end(), args.begin(), args.end());
    cmd.push_back(id);
    docker_ok(s, cmd);
    const auto e = entry_saying(h, text, 10s);
    CHECK_MESSAGE(e.has_value(), last);
    if (e) {
      MESSAGE("#" << e->id << " " << e->action << ": " << e->summary);
      h = e->id;
    }
  }

  const auto t0 = Clock::now();
  docker_ok(s, {"service", "update", "--detach", "--force", "--update-delay", "1s", id});
  const auto started = entry_saying(h, "update started", 30s);
  REQUIRE_MESSAGE(started.has_value(), last);
  MESSAGE("#" << started->id << ": " << started->summary);
  const auto completed = entry_saying(started->id, "→ completed", 30s);
  CHECK_MESSAGE(completed.has_value(), last);
  if (completed) {
    MESSAGE("#" << completed->id << ": " << completed->summary << " (" << ms_since(t0)
                << " ms after the update)");
  }
  end_ready(s);
}

TEST_CASE("truth 10: secret-looking environment values appear in no representation") {
  FaultSwarm& s = require_fault_swarm();
  REQUIRE(s.wait_ready(kReady).empty());
  Created created{s};
  std::string last;
  const auto id = create_service(s, "hushed", 1, "tiny:latest",
                                 {"--env", "DB_PASSWORD=hunter2", "--env", "MODE=prod"});
  created.services.push_back(id);
  REQUIRE_MESSAGE(eventually(s, kConverge, last, [&] { return running_in_both(s, id, 1, last); }),
                  last);
  // The engine has it; narwhal shows the name and never the value.
  CHECK(s.engine_get("/services/" + id).body.find("hunter2") != std::string::npos);
  docker_ok(s, {"service", "update", "--detach", "--env-add", "DB_PASSWORD=swordfish", id});
  REQUIRE_MESSAGE(eventually(s, kConverge, last,
                             [&] {
                               const auto r = s.api->get("/services/" + id);
                               last = r.describe();
                               return r.body.find("PreviousSpec") != std::string::npos;
                             }),
                  last);
  for (const std::string& path : std::vector<std::string>{
           "/services/" + id, "/services?search=hushed", "/tasks?search=hushed&limit=200",
           "/services/" + id + "/tasks", "/services/" + id + ".atom", "/history?limit=200",
           "/history.atom?limit=200", "/search?q=hushed", "/search.atom?q=hushed"}) {
    CAPTURE(path);
    const auto r = s.api->get(path);
    CHECK_MESSAGE(r.status == 200, r.describe());
    CHECK(r.body.find("hunter2") == std::string::npos);
    CHECK(r.body.find("swordfish") == std::string::npos);
  }
  const auto svc = s.api->get("/services/" + id);
  CHECK(svc.body.find("DB_PASSWORD=[redacted]") != std::string::npos);
  CHECK(svc.body.find("MODE=prod") != std::string::npos);
  end_ready(s);
}

}  // namespace
