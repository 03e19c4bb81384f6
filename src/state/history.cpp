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

std::size_t HistoryView::first_after(std::uint64_t id) const noexcept {
  // IDs increase with the index: a binary search.
  std::size_t lo = 0;
  std::size_t hi = count_;
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (at(mid).id <= id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

std::vector<HistoryEntry> HistoryView::latest(std::size_t limit, std::uint64_t before) const {
  HistoryQuery q;
  q.limit = limit;
  q.before = before;
  return query(q);
}

std::vector<HistoryEntry> HistoryView::query(const HistoryQuery& q) const {
  std::vector<HistoryEntry> out;
  if (q.before == 0) return out;
  // Entries at or above `before` are skipped by starting below them.
  std::size_t i = q.before == UINT64_MAX ? count_ : first_after(q.before - 1);
  while (i > 0 && out.size() < q.limit) {
    const HistoryEntry& e = at(--i);
    if (q.kind && e.kind != *q.kind) continue;
    if (!q.resource_id.empty() && e.object_id != q.resource_id) continue;
    if (q.match && !q.match(e)) continue;
    out.push_back(e);
  }
  return out;
}

// IDs follow the wall clock in microseconds, so they keep increasing across restarts as long as
// fewer than a million changes a second are recorded on average; each is also above the last,
// so a clock stepped back never repeats one.
History::History(std::size_t capacity, Clock clock)
    : capacity_(std::max<std::size_t>(capacity, 1)),
      clock_(clock ? std::move(clock) : Clock{[] { return util::now_micros(); }}),
      seed_(static_cast<std::uint64_t>(std::max<std::int64_t>(clock_(), 0))) {
  auto v = std::make_shared<HistoryView>();
  v->last_id_ = seed_;
  view_.store(std::move(v));
}

void History::append(std::vector<HistoryEntry>& entries) {
  if (entries.empty()) return;
  const std::lock_guard lock(writer_);
  const HistoryViewPtr before = view_.load();
  auto next = std::make_shared<HistoryView>(*before);  // copies chunk pointers only
  HistoryView& v = *next;
  for (auto& e : entries) {
    const auto now = static_cast<std::uint64_t>(std::max<std::int64_t>(clock_(), 0));
    e.id = std::max(v.last_id_ + 1, now);
    v.last_id_ = e.id;
    const std::size_t pos = v.first_ + v.count_;
    if (pos / HistoryView::kChunk >= v.chunks_.size()) {
      v.chunks_.push_back(std::make_shared<HistoryView::Chunk>());
    }
    // A slot past every published view's count: no reader looks at it until `next` is out.
    v.chunks_[pos / HistoryView::kChunk]->entries[pos % HistoryView::kChunk] = e;
    ++v.count_;
    if (v.count_ > capacity_) {
      v.evicted_through_ = v.at(0).id;
      --v.count_;
      if (++v.first_ == HistoryView::kChunk) {
        v.chunks_.erase(v.chunks_.begin());
        v.first_ = 0;
      }
    }
  }
  view_.store(std::move(next));
}

}  // namespace narwhal::state
