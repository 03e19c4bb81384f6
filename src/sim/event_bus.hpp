// The engine's event log: every change publishes one event, rendered once; readers follow a
// cursor. Like dockerd, only the last 256 events can be replayed with `since`, and a reader that
// falls too far behind silently misses events.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "clock.hpp"
#include "swarm.hpp"

namespace narwhal::sim {

struct Event {
  std::string type;  // service, node, container, ...
  std::string action;
  std::string actor_id;
  Labels attributes;
  std::string scope;  // swarm | local
  std::string from;   // containers only: the image, for the legacy status/id/from fields
  Nanos time = 0;
};

struct PublishedEvent {
  std::uint64_t seq = 0;
  Event event;
  std::string line;  // JSON + "\n": one chunk of the stream
};

using EventPtr = std::shared_ptr<const PublishedEvent>;

[[nodiscard]] std::string render_event(const Event& event);

class EventBus {
 public:
  static constexpr std::size_t kReplayLimit = 256;  // dockerd's events buffer
  static constexpr std::size_t kLiveWindow = 4096;  // how far a slow reader may lag

  struct Cursor {
    std::uint64_t next = 0;
    std::uint64_t generation = 0;
  };
  struct Subscription {
    Cursor cursor;
    std::vector<EventPtr> replay;
  };
  struct Batch {
    std::vector<EventPtr> events;
    bool ended = false;  // the stream must be cut: stop() or drop_streams()
  };

  void publish(Event event);
  // `since` replays buffered events at or after that time (only the last kReplayLimit).
  [[nodiscard]] Subscription subscribe(std::optional<Nanos> since);
  // Waits up to `timeout` for events after the cursor and advances it.
  [[nodiscard]] Batch next(Cursor& cursor, std::chrono::milliseconds timeout);
  void drop_streams();
  void close();
  [[nodiscard]] std::uint64_t published() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<EventPtr> recent_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t generation_ = 0;
  bool closed_ = false;
};

}  // namespace narwhal::sim
