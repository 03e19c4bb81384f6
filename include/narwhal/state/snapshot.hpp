// An immutable view of the whole swarm at one moment. Requests read a snapshot without locks;
// the watcher publishes a new one per change. Tables that did not change are shared between
// consecutive snapshots, so a change costs O(size of the changed kinds), not O(swarm).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "narwhal/state/object.hpp"

namespace narwhal::state {

// One kind's objects, sorted by ID.
struct Table {
  std::vector<ObjectPtr> items;

  [[nodiscard]] const Object* find(std::string_view id) const noexcept;
  [[nodiscard]] ObjectPtr get(std::string_view id) const noexcept;  // shared; null when absent
  // Like the docker CLI: exact ID, then exact name, then unique ID prefix. On ambiguity `found`
  // is null and `candidates` lists the matches.
  struct Lookup {
    const Object* found = nullptr;
    std::vector<const Object*> candidates;
  };
  [[nodiscard]] Lookup lookup(std::string_view key) const;
};
using TablePtr = std::shared_ptr<const Table>;

struct ServiceTally {
  std::uint64_t running = 0;
  std::uint64_t desired = 0;
  std::int64_t tasks_updated = 0;  // the newest UpdatedAt of its tasks (µs): the counts' age
};

// A stack exists while at least one service carries its namespace label.
struct Stack {
  std::string name;
  std::array<std::vector<ObjectPtr>, kEngineKinds> members;  // by Kind; nodes and tasks empty
  std::int64_t updated = 0;                                  // newest `updated` of the members
  [[nodiscard]] const std::vector<ObjectPtr>& of(Kind k) const {
    return members.at(static_cast<std::size_t>(k));
  }
  [[nodiscard]] bool same_members(const Stack& other) const noexcept;
};
using StackList = std::vector<Stack>;  // sorted by name

struct EngineState {
  bool connected = false;
  bool synced = false;  // a full sync has completed at least once
  // False while the engine answers but is no swarm manager (it left the swarm, or is a worker):
  // its swarm endpoints answer 503 and the state narwhal holds cannot be refreshed.
  bool manager = true;
  std::string endpoint;  // what narwhal talks to
  std::string api_version;
  std::string last_error;
  std::int64_t since = 0;  // microseconds: when `connected` last changed
  // Microseconds since when the state served is no longer refreshed from a manager (connection
  // lost, or not a manager); 0 while it is current.
  std::int64_t stale_since = 0;
};

struct Snapshot {
  std::uint64_t generation = 0;
  std::array<TablePtr, kEngineKinds> tables;
  // Per-kind generation (stack included); bumped when that kind's table changes.
  std::array<std::uint64_t, kKinds> generations{};
  std::uint64_t meta_generation = 0;  // info, swarm, engine state
  std::shared_ptr<const std::unordered_map<std::string, ServiceTally>> tallies;
  std::shared_ptr<const StackList> stacks;
  std::shared_ptr<const std::string> info;   // /info, minified
  std::shared_ptr<const std::string> swarm;  // /swarm without JoinTokens
  EngineState engine;

  Snapshot();
  [[nodiscard]] const Table& table(Kind k) const { return *tables.at(static_cast<std::size_t>(k)); }
  [[nodiscard]] std::uint64_t generation_of(Kind k) const {
    return generations.at(static_cast<std::size_t>(k));
  }
  [[nodiscard]] ServiceTally tally(std::string_view service_id) const;
  [[nodiscard]] const Stack* stack(std::string_view name) const;
};
using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace narwhal::state
