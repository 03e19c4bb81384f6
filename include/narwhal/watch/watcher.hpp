// The watcher follows one Docker Engine into the store: it subscribes to events, then lists
// everything (so nothing between the two is lost), turns events into targeted re-reads coalesced
// over a short window, re-lists tasks on a timer (the engine emits no task events), resyncs fully
// on a timer and after every reconnect, and reconnects with jittered exponential backoff.
// It owns two threads: the control loop and the events reader, which never blocks on the rest of
// the process (the engine silently drops events for a subscriber that reads slowly).
#pragma once

#include <chrono>
#include <memory>

#include "narwhal/engine/client.hpp"
#include "narwhal/state/store.hpp"

namespace narwhal::watch {

using Millis = std::chrono::milliseconds;

struct Options {
  engine::Endpoint endpoint;
  Millis request_timeout{10'000};
  Millis coalesce_window{50};
  Millis task_poll_interval{10'000};
  Millis resync_interval{300'000};
  Millis event_watchdog{60'000};
  Millis backoff_min{500};
  Millis backoff_max{30'000};
};

class Watcher {
 public:
  Watcher(Options options, state::Store& store);
  ~Watcher();  // stop()s
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  void start();
  void stop();  // idempotent; returns once both threads have ended

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace narwhal::watch
