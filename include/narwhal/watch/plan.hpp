// What an engine event asks the watcher to re-read. Pure, so the mapping of every event shape
// seen on the wire (REAL-DOCKERD.md) is unit-tested without an engine.
#pragma once

#include <set>
#include <string>
#include <utility>

#include "narwhal/engine/event.hpp"
#include "narwhal/state/object.hpp"

namespace narwhal::watch {

struct Plan {
  std::set<std::pair<state::Kind, std::string>> reread;  // objects to read again (404 = gone)
  std::set<std::string> service_tasks;                   // services whose tasks to re-list
  std::set<std::string> node_tasks;                      // nodes whose tasks to re-list
  // Networks a swarm-scope event named. A local-scope event alone is the node's view and never
  // removes a swarm-scope network (a stopping daemon destroys its overlays locally).
  std::set<std::string> swarm_scoped;

  [[nodiscard]] bool empty() const noexcept {
    return reread.empty() && service_tasks.empty() && node_tasks.empty();
  }
  void clear() {
    reread.clear();
    service_tasks.clear();
    node_tasks.clear();
    swarm_scoped.clear();
  }
};

// Adds the work `ev` calls for; returns false when the event is of no interest.
bool add_to_plan(const engine::Event& ev, Plan& plan);

// The events subscription's query: the types narwhal follows, and `since` when resuming
// (unix seconds with nanoseconds, as the engine takes it).
[[nodiscard]] std::string events_query(std::int64_t since_nano);

// URL paths of the calls the watcher makes.
[[nodiscard]] std::string list_path(state::Kind kind);
[[nodiscard]] std::string read_path(state::Kind kind, const std::string& id);
[[nodiscard]] std::string tasks_of_path(bool by_service, const std::string& id);

}  // namespace narwhal::watch
