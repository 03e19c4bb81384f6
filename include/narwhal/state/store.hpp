// The store: applies changes read from the engine to the current snapshot and publishes the
// result atomically. apply() is a pure function of (snapshot, change) so tests and fuzzers can
// drive it without threads; Store adds publication and the history. One writer (the watcher),
// any number of lock-free readers.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "narwhal/state/history.hpp"
#include "narwhal/state/snapshot.hpp"
#include "narwhal/util/atomic_ptr.hpp"

namespace narwhal::state {

// What the watcher learned from the engine in one step.
struct Change {
  struct Scoped {  // a listing of the tasks of one service or one node
    enum class By { service, node } by = By::service;
    std::string id;
    std::vector<ObjectPtr> tasks;
  };
  std::array<std::optional<std::vector<ObjectPtr>>, kEngineKinds> full;  // complete listings
  std::vector<ObjectPtr> upserts;                      // objects re-read one by one
  std::vector<std::pair<Kind, std::string>> removals;  // objects known to be gone
  std::vector<Scoped> scoped_tasks;
  std::optional<std::string> info;   // raw /info
  std::optional<std::string> swarm;  // raw /swarm
  // When narwhal first heard of this change (µs since the epoch): the arrival of the earliest
  // engine event behind it. 0 = now (syncs and polls).
  std::int64_t observed = 0;

  [[nodiscard]] bool empty() const noexcept;
};

struct Applied {
  SnapshotPtr snapshot;               // == input when nothing changed
  std::vector<HistoryEntry> entries;  // without IDs yet
};

// Pure: the snapshot after `change`, and what changed. `now` stamps the entries.
[[nodiscard]] Applied apply(const SnapshotPtr& before, const Change& change, std::int64_t now);

class Store {
 public:
  explicit Store(std::size_t history_size);

  [[nodiscard]] SnapshotPtr snapshot() const noexcept { return current_.load(); }
  [[nodiscard]] const History& history() const noexcept { return history_; }

  // Writer side (one thread). Returns the history entries recorded, with their IDs.
  std::vector<HistoryEntry> apply(const Change& change);
  void set_engine(EngineState engine);

  // Called after each publish with the new snapshot and its entries (the live hub's feed).
  using Listener = std::function<void(const SnapshotPtr&, const std::vector<HistoryEntry>&)>;
  void set_listener(Listener listener);  // set before the watcher starts

 private:
  void publish(SnapshotPtr next, std::vector<HistoryEntry>& entries);

  util::AtomicPtr<Snapshot> current_;
  History history_;
  Listener listener_;
};

}  // namespace narwhal::state
