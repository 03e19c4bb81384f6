// The hand-off between the events reader and the control loop: an unbounded-by-count but
// short-lived queue (the control loop drains it every coalescing window), plus end-of-stream.
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
  void push(engine::Event ev) {
    {
      const std::lock_guard lock(mutex_);
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
  // Waits until something arrives or `deadline`; moves out what is there.
  void wait_and_take(std::chrono::steady_clock::time_point deadline, std::deque<engine::Event>& out,
                     std::optional<std::string>& closed) {
    std::unique_lock lock(mutex_);
    cv_.wait_until(lock, deadline,
                   [&] { return !events_.empty() || closed_.has_value() || woken_; });
    woken_ = false;
    out.swap(events_);
    events_.clear();
    closed = closed_;
  }
  void wake() {
    {
      const std::lock_guard lock(mutex_);
      woken_ = true;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<engine::Event> events_;
  std::optional<std::string> closed_;
  bool open_ = false;
  bool woken_ = false;
};

}  // namespace narwhal::watch
