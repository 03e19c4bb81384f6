// The change history: a bounded ring of what changed, in narwhal's receive order. Event IDs
// increase strictly and never repeat across restarts (seeded from the wall clock in microseconds).
// Appended by the store's single writer; read by any thread without a lock (HistoryView).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "narwhal/state/object.hpp"
#include "narwhal/util/atomic_ptr.hpp"

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
  // Any other condition (a feed's scope, a compiled filter). It runs over an immutable view and
  // holds up no writer.
  std::function<bool(const HistoryEntry&)> match;
};

// An immutable picture of the history: what a reader sees, without any lock, while the writer
// appends. Entries are stored in fixed chunks that are written once and never reused; a view
// names the chunks it spans, so appends and evictions after it was taken do not touch it.
class HistoryView {
 public:
  static constexpr std::size_t kChunk = 256;
  struct Chunk {
    std::array<HistoryEntry, kChunk> entries;
  };

  [[nodiscard]] std::size_t size() const noexcept { return count_; }
  [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
  // 0 is the oldest entry still kept.
  [[nodiscard]] const HistoryEntry& at(std::size_t i) const noexcept {
    const std::size_t pos = first_ + i;
    return chunks_[pos / kChunk]->entries[pos % kChunk];
  }
  [[nodiscard]] const HistoryEntry& newest() const noexcept { return at(count_ - 1); }
  // The index of the first entry whose ID is above `id` (size() when there is none).
  [[nodiscard]] std::size_t first_after(std::uint64_t id) const noexcept;
  // The ID of the newest entry ever appended (the seed before any): also of evicted ones.
  [[nodiscard]] std::uint64_t last_id() const noexcept { return last_id_; }
  // The ID of the newest entry evicted (0 before any): a reader that had taken everything up
  // to an ID below it has missed entries.
  [[nodiscard]] std::uint64_t evicted_through() const noexcept { return evicted_through_; }

  // Newest first, at most `limit`, optionally only IDs below `before`.
  [[nodiscard]] std::vector<HistoryEntry> latest(std::size_t limit,
                                                 std::uint64_t before = UINT64_MAX) const;
  [[nodiscard]] std::vector<HistoryEntry> query(const HistoryQuery& q) const;

 private:
  friend class History;
  std::vector<std::shared_ptr<Chunk>> chunks_;
  std::size_t first_ = 0;  // the oldest entry's place in chunks_[0]
  std::size_t count_ = 0;
  std::uint64_t last_id_ = 0;
  std::uint64_t evicted_through_ = 0;
};
using HistoryViewPtr = std::shared_ptr<const HistoryView>;

class History {
 public:
  using Clock = std::function<std::int64_t()>;  // microseconds since the epoch
  // `clock` is the wall clock unless a test steps it.
  explicit History(std::size_t capacity, Clock clock = {});

  // Assigns IDs to `entries` and appends them, evicting the oldest past capacity. One writer
  // at a time (the store's); readers never wait for it.
  void append(std::vector<HistoryEntry>& entries);
  // What is recorded now. Lock-free for readers: they run filters over it for as long as they
  // like without holding up the writer.
  [[nodiscard]] HistoryViewPtr view() const { return view_.load(); }
  // Shorthands over view().
  [[nodiscard]] std::vector<HistoryEntry> latest(std::size_t limit,
                                                 std::uint64_t before = UINT64_MAX) const {
    return view()->latest(limit, before);
  }
  [[nodiscard]] std::vector<HistoryEntry> query(const HistoryQuery& q) const {
    return view()->query(q);
  }
  [[nodiscard]] std::size_t size() const { return view()->size(); }
  [[nodiscard]] std::uint64_t last_id() const { return view()->last_id(); }
  // The ID this process started counting from: every ID it assigns is above it, and any ID at
  // or below it comes from an earlier process.
  [[nodiscard]] std::uint64_t seed() const noexcept { return seed_; }

 private:
  std::size_t capacity_;
  Clock clock_;
  std::uint64_t seed_;
  std::mutex writer_;  // appends are serialised; readers take no lock
  util::AtomicPtr<HistoryView> view_;
};

}  // namespace narwhal::state
