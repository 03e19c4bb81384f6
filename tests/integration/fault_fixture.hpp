// The environment of the fault tests: a private dockerd in swarm mode of their own (they freeze,
// kill and restart it, and make it leave its swarm, so they cannot share the real_swarm suite's),
// a socat relay between narwhal and the engine's socket that a test can cut (a network partition
// while the engine keeps running), one narwhal child behind the relay, and the checks the
// scenarios share: narwhal's state against the engine's own listings, and the history since a
// point. Failures are values; the tests decide what to assert.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"

namespace narwhal::itest {

// narwhal's timers in these tests: polls and resyncs far away, so every recovery below is the
// watcher's own doing (events, follow-ups, the watchdog, the resync after a reconnect).
inline constexpr auto kWatchdog = 4s;

struct Change {  // one /history entry
  std::uint64_t id = 0;
  std::string type, action, resource_id, name, summary;
};

class FaultSwarm {
 public:
  FaultSwarm() { bring_up(); }
  FaultSwarm(const FaultSwarm&) = delete;
  FaultSwarm& operator=(const FaultSwarm&) = delete;
  ~FaultSwarm();

  std::string error;  // why the environment is unusable; empty when it is fine
  std::unique_ptr<Dockerd> dockerd;
  ServerProcess narwhal;
  std::unique_ptr<HttpApi> api;
  bool any_failure = false;

  [[nodiscard]] const std::string& base() const { return base_; }
  [[nodiscard]] std::string relay_socket() const { return base_ + "/relay.sock"; }

  // The relay: up (empty on success, else why not) and cut (every connection through it closes,
  // new ones are refused).
  [[nodiscard]] std::string relay_up();
  void relay_cut();

  // Starts narwhal again with the standard flags plus `extra` (empty on success); waits for
  // nothing.
  [[nodiscard]] std::string restart_narwhal(const std::vector<std::string>& extra = {});
  // Waits until /-/ready answers 200; empty when it did, else the last answer.
  [[nodiscard]] std::string wait_ready(std::chrono::milliseconds budget);

  // `dockerd.sh <command> <base> args...`
  [[nodiscard]] CommandResult dockerd_sh(const std::string& command,
                                         const std::vector<std::string>& args = {},
                                         std::chrono::seconds timeout = 120s) const;
  // `docker -H <engine socket> args...`: its stdout, trimmed; "" when it failed (`why` says how).
  [[nodiscard]] std::string docker(const std::vector<std::string>& args, std::string* why = nullptr,
                                   const std::string& stdin_data = {}) const;

  // GET on the engine's own socket (not through the relay).
  [[nodiscard]] HttpReply engine_get(const std::string& path) const;

  // What differs between narwhal's state and the engine's own listings, kind by kind: IDs and
  // Version.Index (names for volumes). Empty when they agree; a line per difference otherwise.
  [[nodiscard]] std::vector<std::string> differences() const;
  // The history entries after `after`, oldest first (paged through /history).
  [[nodiscard]] std::vector<Change> changes_since(std::uint64_t after) const;
  // The newest history ID (0 when the history is empty or unreadable).
  [[nodiscard]] std::uint64_t last_change_id() const;
  // The same object both removed and created in `changes`: what a fault must never make up.
  [[nodiscard]] static std::vector<std::string> spurious_pairs(const std::vector<Change>& changes);

 private:
  void bring_up();
  std::string base_;
  std::string engine_api_ = "v1.41";
  std::vector<std::string> narwhal_argv_;
  ServerProcess relay_;
};

// Every fault scenario starts here: brings the environment up on first use; a broken
// environment fails the calling test with its reason.
FaultSwarm& require_fault_swarm();

}  // namespace narwhal::itest
