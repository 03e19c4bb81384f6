#include "narwhal/state/history.hpp"

#include <algorithm>

#include "narwhal/util/time.hpp"

namespace narwhal::state {

std::string_view action_name(Action a) noexcept {
  switch (a) {
    case Action::create: return "create";
    case Action::update: return "update";
    case Action::remove: return "remove";
  }
  return "update";
}

// Seeding from the boot time in microseconds keeps IDs increasing across restarts as long as
// fewer than a million changes a second are recorded on average.
History::History(std::size_t capacity)
    : capacity_(std::max<std::size_t>(capacity, 1)),
      seed_(static_cast<std::uint64_t>(util::now_micros())),
      last_id_(seed_) {}

void History::append(std::vector<HistoryEntry>& entries) {
  const std::lock_guard lock(mutex_);
  for (auto& e : entries) {
    e.id = ++last_id_;
    ring_.push_back(e);
    if (ring_.size() > capacity_) ring_.pop_front();
  }
}

std::vector<HistoryEntry> History::latest(std::size_t limit, std::uint64_t before) const {
  const std::lock_guard lock(mutex_);
  std::vector<HistoryEntry> out;
  for (auto it = ring_.rbegin(); it != ring_.rend() && out.size() < limit; ++it) {
    if (it->id < before) out.push_back(*it);
  }
  return out;
}

std::vector<HistoryEntry> History::query(const HistoryQuery& q) const {
  const std::lock_guard lock(mutex_);
  std::vector<HistoryEntry> out;
  for (auto it = ring_.rbegin(); it != ring_.rend() && out.size() < q.limit; ++it) {
    if (it->id >= q.before) continue;
    if (q.kind && it->kind != *q.kind) continue;
    if (!q.resource_id.empty() && it->object_id != q.resource_id) continue;
    if (q.match && !q.match(*it)) continue;
    out.push_back(*it);
  }
  return out;
}

std::size_t History::size() const {
  const std::lock_guard lock(mutex_);
  return ring_.size();
}

std::uint64_t History::last_id() const {
  const std::lock_guard lock(mutex_);
  return last_id_;
}

}  // namespace narwhal::state
