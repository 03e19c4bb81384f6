// The shared environment of the real-swarm integration tests: one private dockerd in swarm mode
// (tests/support/dockerd.sh) and one narwhal child process for the whole run, torn down at exit and
// on fatal signals, plus the checks the scenarios share. A broken environment is an error string
// that fails every test with its reason; it never lets a test pass.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "harness.hpp"

namespace narwhal::itest {

struct Swarm {
  std::string error;  // why the environment is unusable; empty when it is fine
  std::string base;
  std::unique_ptr<Dockerd> dockerd;
  ServerProcess narwhal;
  std::unique_ptr<HttpApi> api;
  std::vector<std::string> narwhal_argv;  // how narwhal was started, for restart_narwhal()
  std::uint16_t api_port = 0;             // narwhal's; a restart keeps it
  std::string node_id, hostname;
  // Handed from scenario to scenario.
  std::string web_id, bad_id, config_id, secret_id, network_id, again_id;
  bool any_failure = false;

  Swarm() { bring_up(); }
  Swarm(const Swarm&) = delete;
  Swarm& operator=(const Swarm&) = delete;
  ~Swarm();

  // Stops narwhal and starts it again with the same argv (same port), its earlier log kept as
  // narwhal.1.log; waits until /-/ready answers 200. Empty on success, else why not.
  [[nodiscard]] std::string restart_narwhal(std::chrono::milliseconds ready_budget);

  static long long ms_since(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
  }

 private:
  void bring_up();
  void keep_logs() const;
};

// Every scenario starts here: brings the environment up on first use; a broken environment fails
// the calling test with its reason.
Swarm& require_swarm();

// `docker -H <our socket> args...`, REQUIREd to succeed; its trimmed stdout.
std::string docker_ok(Swarm& s, std::vector<std::string> args, const std::string& stdin_data = {});

inline HttpReply get(Swarm& s, const std::string& path,
                     const std::multimap<std::string, std::string>& headers = {}) {
  return s.api->get(path, headers);
}

// wait_until that also gives up as soon as narwhal has died, saying so in `last`.
template <class Pred>
bool eventually(Swarm& s, std::chrono::milliseconds budget, std::string& last, Pred&& pred,
                std::chrono::milliseconds step = 100ms) {
  return wait_until(
             budget,
             [&] {
               if (!s.narwhal.alive()) {
                 last =
                     "narwhal is not running (" + s.narwhal.exit_description() + "); last: " + last;
                 return true;
               }
               return pred();
             },
             step) &&
         s.narwhal.alive();
}

// Time left until deadline, but at least half a second (so a late check still gets one poll).
std::chrono::milliseconds left(Clock::time_point deadline);

// An RFC 9457 problem with this status.
bool is_problem(const HttpReply& r, int status);
// A {"@id","id","name"} reference.
bool is_ref(const rapidjson::Value& v, const std::string& at_id, const std::string& id,
            const std::string& name);
// The detail body lists the service in "usedBy".
bool used_by_service(const HttpReply& r, const std::string& service_id, const std::string& name);

struct TaskRow {
  std::string id, state, service_name, node_hostname, at_id, type;
  std::string json;
};
// The tasks of a task list URL, or nullopt when it does not answer 200 with JSON.
std::optional<std::vector<TaskRow>> task_rows(Swarm& s, const std::string& path, std::string& last);
std::set<std::string> running_ids(const std::vector<TaskRow>& rows);
// What the engine itself says: IDs of a service's tasks that are running now.
std::set<std::string> docker_running_task_ids(Swarm& s, const std::string& service);
// narwhal shows the service with `want` running tasks, serviceStatus agrees, and the running task
// IDs are exactly the engine's.
bool service_converged(Swarm& s, const std::string& service_id, const std::string& name, int want,
                       std::string& last);
// The list URL has an item with this ID (or name).
bool listed(Swarm& s, const std::string& list_path, const std::string& id);
// Gone from the list, and the detail URL answers a 404 problem.
bool gone(Swarm& s, const std::string& list_path, const std::string& id, std::string& last);

}  // namespace narwhal::itest
