// The hand-off between the events reader and the control loop, bounded by count: past the limit
// the oldest events are dropped and `overflowed` tells the control loop that only a full resync
// can make the state right again. The reader never blocks on it (the engine silently skips
// events for a subscriber that reads slowly). Also carries the end of the stream.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "narwhal/engine/event.hpp"

namespace narwhal::watch {

class EventQueue {
 public:
  explicit EventQueue(std::size_t limit = 65'536) : limit_(limit == 0 ? 1 : limit) {}

  void push(engine::Event ev) {
    {
      const std::lock_guard lock(mutex_);
      if (events_.size() >= limit_) {
        events_.pop_front();
        ++dropped_;
      }
      events_.push_back(std::move(ev));
    }
    cv_.notify_one();
  }
  void close(std::string reason) {
    {
      const std::lock_guard lock(mutex_);
      closed_ = std::move(reason);
    }
    cv_.notify_one();
  }
  void mark_open() {
    {
      const std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_one();
  }
  // Waits until the subscription is in place or the stream closed; false on close/timeout.
  bool wait_open(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return open_ || closed_.has_value(); });
    return open_ && !closed_;
  }
  // The reason the stream closed, if it did.
  [[nodiscard]] std::optional<std::string> closed() const {
    const std::lock_guard lock(mutex_);
    return closed_;
  }
  // Waits until something arrives or `deadline`; moves out what is there. `dropped` is how many
  // events were lost to the bound since the last call.
  void wait_and_take(std::chrono::steady_clock::time_point deadline, std::deque<engine::Event>& out,
                     std::optional<std::string>& closed, std::size_t& dropped) {
    std::unique_lock lock(mutex_);
    cv_.wait_until(lock, deadline,
                   [&] { return !events_.empty() || closed_.has_value() || woken_; });
    woken_ = false;
    out.swap(events_);
    events_.clear();
    closed = closed_;
    dropped = dropped_;
    dropped_ = 0;
  }
  void wake() {
    {
      const std::lock_guard lock(mutex_);
      woken_ = true;
    }
    cv_.notify_one();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::size_t limit_;
  std::deque<engine::Event> events_;
  std::size_t dropped_ = 0;
  std::optional<std::string> closed_;
  bool open_ = false;
  bool woken_ = false;
};

}  // namespace narwhal::watch
