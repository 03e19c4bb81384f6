// The change history: a bounded ring of what changed, in narwhal's receive order. Event IDs
// increase strictly and never repeat across restarts (seeded from the wall clock in microseconds).
// Appended by the store's single writer; read by any thread under a short lock.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "narwhal/state/object.hpp"

namespace narwhal::state {

enum class Action : std::uint8_t { create, update, remove };
[[nodiscard]] std::string_view action_name(Action a) noexcept;

struct HistoryEntry {
  std::uint64_t id = 0;
  std::int64_t time = 0;  // microseconds
  Kind kind = Kind::node;
  Action action = Action::update;
  std::string object_id;
  std::string name;
  std::string summary;
  // The object as the change left it (as it was, for a removal); null for stacks. Lets streams
  // and feeds place the change (a task's service and node, a member's stack) and filter on it.
  ObjectPtr object;
  // The object as it was before the change (updates and removals; null for creates and stacks):
  // a stream whose scope or filter it matched learns that the change took it out (SPEC §8).
  ObjectPtr previous = nullptr;
  // When narwhal first heard of the change (µs, ≤ time): the live hub's batch window counts
  // from here, so the watcher's coalescing is part of the window rather than added to it.
  std::int64_t observed = 0;
};

// What /history asks for: newest first, at most `limit`, IDs below `before`, optionally one kind
// and one resource.
struct HistoryQuery {
  std::size_t limit = 50;
  std::uint64_t before = UINT64_MAX;
  std::optional<Kind> kind;
  std::string resource_id;  // "" = any
  // Any other condition (a feed's scope); called under the history's lock, so it must be quick
  // and must not touch the history.
  std::function<bool(const HistoryEntry&)> match;
};

class History {
 public:
  explicit History(std::size_t capacity);

  // Assigns IDs to `entries` and appends them, evicting the oldest past capacity.
  void append(std::vector<HistoryEntry>& entries);
  // Newest first, at most `limit`, optionally only IDs below `before`.
  [[nodiscard]] std::vector<HistoryEntry> latest(std::size_t limit,
                                                 std::uint64_t before = UINT64_MAX) const;
  [[nodiscard]] std::vector<HistoryEntry> query(const HistoryQuery& q) const;
  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] std::uint64_t last_id() const;
  // The ID this process started counting from: every ID it assigns is above it, and any ID at
  // or below it comes from an earlier process.
  [[nodiscard]] std::uint64_t seed() const noexcept { return seed_; }

 private:
  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::deque<HistoryEntry> ring_;
  std::uint64_t seed_;
  std::uint64_t last_id_;
};

}  // namespace narwhal::state
