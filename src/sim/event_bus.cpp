#include "event_bus.hpp"

#include <algorithm>

#include "json.hpp"

namespace narwhal::sim {

std::string render_event(const Event& e) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  if (!e.from.empty()) {
    // Containers still carry the pre-1.22 fields, before the structured ones.
    put_field(w, "status", e.action);
    put_field(w, "id", e.actor_id);
    put_field(w, "from", e.from);
  }
  put_field(w, "Type", e.type);
  put_field(w, "Action", e.action);
  w.Key("Actor");
  w.StartObject();
  put_field(w, "ID", e.actor_id);
  w.Key("Attributes");
  put_labels(w, e.attributes);
  w.EndObject();
  put_field(w, "scope", e.scope);
  w.Key("time");
  w.Int64(e.time / kNanosPerSecond);
  w.Key("timeNano");
  w.Int64(e.time);
  w.EndObject();
  return take_body(buffer);
}

void EventBus::publish(Event event) {
  auto published = std::make_shared<PublishedEvent>();
  published->line = render_event(event);
  published->event = std::move(event);
  {
    std::lock_guard lock(mutex_);
    published->seq = next_seq_++;
    recent_.push_back(std::move(published));
    if (recent_.size() > kLiveWindow) recent_.pop_front();
  }
  changed_.notify_all();
}

EventBus::Subscription EventBus::subscribe(std::optional<Nanos> since) {
  std::lock_guard lock(mutex_);
  Subscription sub;
  sub.cursor = {next_seq_, generation_};
  if (since) {
    const std::size_t window = std::min(recent_.size(), kReplayLimit);
    auto first = recent_.end() - static_cast<std::ptrdiff_t>(window);
    auto from = std::find_if(first, recent_.end(),
                             [&](const EventPtr& e) { return e->event.time >= *since; });
    sub.replay.assign(from, recent_.end());
  }
  return sub;
}

EventBus::Batch EventBus::next(Cursor& cursor, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] {
    return closed_ || cursor.generation != generation_ || next_seq_ > cursor.next;
  });
  Batch batch;
  if (closed_ || cursor.generation != generation_) {
    batch.ended = true;
    return batch;
  }
  if (recent_.empty() || next_seq_ <= cursor.next) return batch;
  const std::uint64_t oldest = recent_.front()->seq;
  // A reader that lagged past the window skips what it missed, as dockerd does.
  const std::uint64_t from = std::max(cursor.next, oldest);
  batch.events.assign(recent_.begin() + static_cast<std::ptrdiff_t>(from - oldest), recent_.end());
  cursor.next = next_seq_;
  return batch;
}

void EventBus::drop_streams() {
  {
    std::lock_guard lock(mutex_);
    ++generation_;
  }
  changed_.notify_all();
}

void EventBus::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  changed_.notify_all();
}

std::uint64_t EventBus::published() const {
  std::lock_guard lock(mutex_);
  return next_seq_ - 1;
}

}  // namespace narwhal::sim
