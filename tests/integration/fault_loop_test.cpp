// The fault loop: a real dockerd driven through a crash, a freeze, a clean restart, a swarm leave
// and a burst of changes while narwhal is cut off from it. After each, narwhal's state must equal
// the engine's own listings (every kind, IDs and Version.Index) with no made-up create/remove
// pair in the history. Prints, per fault, the time to detect, the time to recover and the events
// emitted: the table in the README.
#include <doctest/doctest.h>

#include <atomic>
#include <functional>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "fault_fixture.hpp"

namespace {

using namespace narwhal::itest;

constexpr auto kRecoverBudget = 90s;  // healed → state equal to the engine's

// Polls /cluster in the background and notes when narwhal first says its state is no longer
// current (disconnected, or no manager): the moment it detected the fault.
class Detector {
 public:
  explicit Detector(const FaultSwarm& s) : s_(s), thread_([this] { run(); }) {}
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;
  ~Detector() {
    stop_ = true;
    thread_.join();
  }
  [[nodiscard]] std::optional<Clock::time_point> detected() const {
    const std::lock_guard lock(mutex_);
    return detected_;
  }

 private:
  void run() {
    while (!stop_) {
      const auto r = s_.api->get("/cluster");
      const bool current = r.status == 200 && r.json_ok && at(r.json, "/engine/connected") &&
                           at(r.json, "/engine/connected")->IsTrue() &&
                           at(r.json, "/engine/manager") && at(r.json, "/engine/manager")->IsTrue();
      if (!current) {
        const std::lock_guard lock(mutex_);
        if (!detected_) detected_ = Clock::now();
        return;
      }
      std::this_thread::sleep_for(25ms);
    }
  }
  const FaultSwarm& s_;
  mutable std::mutex mutex_;
  std::optional<Clock::time_point> detected_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Row {
  std::string fault;
  long long detect_ms = -1, recover_ms = -1;
  std::size_t events = 0, spurious = 0, differences = 0;
};

long long ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

// Waits until narwhal is ready and its state equals the engine's; the differences left when the
// budget ran out.
std::vector<std::string> converge(FaultSwarm& s, std::chrono::milliseconds budget) {
  std::vector<std::string> diff{"never compared"};
  (void)wait_until(
      budget,
      [&] {
        if (s.api->get("/-/ready").status != 200) {
          diff = {"narwhal is not ready"};
          return false;
        }
        diff = s.differences();
        return diff.empty();
      },
      250ms);
  return diff;
}

// The workload every fault runs against: a stack of two services on an overlay network with a
// config, as `docker stack deploy` would make it.
void deploy(FaultSwarm& s) {
  std::string why;
  const std::string label = "com.docker.stack.namespace=loop";
  REQUIRE_MESSAGE(
      !s.docker({"network", "create", "-d", "overlay", "--label", label, "loop_net"}, &why).empty(),
      why);
  REQUIRE_MESSAGE(
      !s.docker({"config", "create", "--label", label, "loop_conf", "-"}, &why, "listen 80\n")
           .empty(),
      why);
  for (const char* name : {"loop_web", "loop_api"}) {
    REQUIRE_MESSAGE(!s.docker({"service",
                               "create",
                               "--detach",
                               "--quiet",
                               "--name",
                               name,
                               "--replicas",
                               "2",
                               "--stop-signal",
                               "KILL",
                               "--label",
                               label,
                               "--container-label",
                               label,
                               "--network",
                               "loop_net",
                               "--config",
                               "source=loop_conf,target=/conf",
                               "tiny:latest",
                               "/busybox",
                               "sleep",
                               "100000"},
                              &why)
                         .empty(),
                    why);
  }
  // Settled: both services at 2/2.
  REQUIRE_MESSAGE(
      wait_until(60s,
                 [&] {
                   return s.docker({"service", "ls", "--format", "{{.Replicas}}"}) == "2/2\n2/2";
                 }),
      "the loop stack never ran: " << s.docker({"service", "ls"}));
}

// 300 configs through the engine's API, faster than 300 CLI runs: more changes than the 256
// events the engine keeps for a resubscription.
void burst(FaultSwarm& s, int count) {
  const std::string script =
      "for i in $(seq 1 " + std::to_string(count) +
      "); do curl -sf --unix-socket \"$0\" -X POST -H 'Content-Type: application/json' "
      "-d \"{\\\"Name\\\":\\\"burst$i\\\",\\\"Data\\\":\\\"eA==\\\"}\" "
      "http://docker/v1.41/configs/create >/dev/null || exit 1; done";
  const auto r = run_command({"sh", "-c", script, s.dockerd->socket()}, 120s);
  REQUIRE_MESSAGE(r.ok(), r.describe());
}

}  // namespace

TEST_CASE("fault loop: crash, freeze, clean restart, swarm leave, a burst while cut off") {
  FaultSwarm& s = require_fault_swarm();
  REQUIRE_MESSAGE(s.wait_ready(30s).empty(), "narwhal never became ready");
  deploy(s);
  {
    const auto diff = converge(s, 30s);
    REQUIRE_MESSAGE(diff.empty(), "before any fault: " << diff.front());
  }

  struct Fault {
    std::string name;
    std::function<void()> inject;  // returns once the fault is in place (or over)
    std::function<void()> heal;    // ends it; the recovery clock starts after
  };
  const std::vector<Fault> faults{
      {"dockerd killed (SIGKILL) and restarted",
       [&] {
         const auto r = s.dockerd_sh("crash-restart");
         REQUIRE_MESSAGE(r.ok(), r.describe());
       },
       [] {}},
      {"dockerd frozen (SIGSTOP) for 10 s",
       [&] {
         const auto r = s.dockerd_sh("signal", {"STOP"});
         REQUIRE_MESSAGE(r.ok(), r.describe());
         std::this_thread::sleep_for(10s);
       },
       [&] {
         const auto r = s.dockerd_sh("signal", {"CONT"});
         REQUIRE_MESSAGE(r.ok(), r.describe());
       }},
      {"dockerd stopped (SIGTERM), down 2 s, started",
       [&] {
         const auto r = s.dockerd_sh("restart-daemon", {"2"});
         REQUIRE_MESSAGE(r.ok(), r.describe());
       },
       [] {}},
      {"swarm leave --force, then swarm init",
       [&] {
         std::string why;
         (void)s.docker({"swarm", "leave", "--force"}, &why);
         REQUIRE_MESSAGE(why.empty(), why);
         std::this_thread::sleep_for(kWatchdog);
       },
       [&] {
         std::string why;
         (void)s.docker(
             {"swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377"},
             &why);
         REQUIRE_MESSAGE(why.empty(), why);
       }},
      {"relay cut, 300 configs created, relay restored",
       [&] {
         s.relay_cut();
         burst(s, 300);
       },
       [&] { REQUIRE_MESSAGE(s.relay_up().empty(), "relay"); }},
  };

  std::vector<Row> rows;
  for (const auto& f : faults) {
    INFO(f.name);
    Row row;
    row.fault = f.name;
    const auto before = s.last_change_id();
    const auto t0 = Clock::now();
    std::optional<Clock::time_point> detected;
    {
      Detector d(s);
      f.inject();
      // A fault narwhal cannot see is still detected if it changed the state: give it the
      // watchdog interval.
      (void)wait_until(
          kWatchdog + 3s, [&] { return d.detected().has_value(); }, 50ms);
      detected = d.detected();
    }
    f.heal();
    const auto healed = Clock::now();
    const auto diff = converge(s, kRecoverBudget);
    const auto recovered = Clock::now();
    // Every one of these faults leaves the state served no longer current: narwhal must say so,
    // within one watchdog interval of the fault starting (plus 2 s of slack for a loaded machine).
    CHECK_MESSAGE(detected.has_value(), "narwhal never said its state was not current");
    if (detected) {
      row.detect_ms = ms_between(t0, *detected);
      CHECK(row.detect_ms <=
            std::chrono::duration_cast<std::chrono::milliseconds>(kWatchdog + 2s).count());
    }
    row.recover_ms = diff.empty() ? ms_between(healed, recovered) : -1;
    row.differences = diff.size();
    const auto changes = s.changes_since(before);
    row.events = changes.size();
    const auto spurious = FaultSwarm::spurious_pairs(changes);
    row.spurious = spurious.size();
    CHECK_MESSAGE(diff.empty(),
                  diff.size() << " differences, first: " << (diff.empty() ? "" : diff.front()));
    CHECK_MESSAGE(spurious.empty(), (spurious.empty() ? "" : spurious.front()));
    for (const auto& c : changes) CHECK_MESSAGE(!c.name.empty(), c.type << " " << c.resource_id);
    rows.push_back(row);
    if (f.name.starts_with("swarm leave")) {
      // A new swarm is an empty one: the next faults need their workload again.
      deploy(s);
      const auto again = converge(s, 30s);
      REQUIRE_MESSAGE(again.empty(), "after redeploying: " << again.front());
    }
  }
  const auto configs = s.api->get("/configs?limit=1");
  CHECK(int_at(configs.json, "/total").value_or(0) >= 300);

  std::ostringstream table;
  table << "\n| fault | detected after | state equal to the engine's after | events | "
           "made-up create/remove pairs |\n|---|---|---|---|---|\n";
  for (const auto& r : rows) {
    auto ms = [](long long v) { return v < 0 ? std::string("never") : std::to_string(v) + " ms"; };
    table << "| " << r.fault << " | " << ms(r.detect_ms) << " | " << ms(r.recover_ms) << " | "
          << r.events << " | " << r.spurious << " |\n";
  }
  std::cout << table.str() << std::flush;
  MESSAGE(table.str());
  for (const auto& r : rows) {
    if (r.differences > 0 || r.spurious > 0 || r.recover_ms < 0) s.any_failure = true;
  }
}
