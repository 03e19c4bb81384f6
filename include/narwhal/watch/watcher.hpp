// The watcher follows one Docker Engine into the store: it subscribes to events, then lists
// everything (so nothing between the two is lost), turns events into targeted re-reads coalesced
// over a short window, re-lists tasks on a timer (the engine emits no task events), resyncs fully
// on a timer and after every reconnect, and reconnects with jittered exponential backoff.
// It owns two threads: the control loop and the events reader, which never blocks on the rest of
// the process (the engine silently drops events for a subscriber that reads slowly).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "narwhal/engine/client.hpp"
#include "narwhal/state/redact.hpp"
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
  // How long the watchdog waits for /_ping after a silent stretch before it calls the engine
  // lost (capped by request_timeout).
  Millis ping_timeout{5'000};
  // Events buffered between the reader and the control loop; past this the oldest are dropped
  // and a full resync is due (the state converges, memory stays bounded).
  std::size_t event_queue_limit = 65'536;
  // Environment variables whose values never leave narwhal (--redact-env).
  state::EnvRedactor redact;
};

// What the watcher has done since it started, read by /-/metrics at scrape time.
struct Stats {
  struct Count {
    std::string label;  // an event type, or "<endpoint> <status>" for errors
    std::uint64_t value = 0;
  };
  std::vector<Count> events_by_type;  // engine events received, by their Type
  struct RequestError {
    std::string endpoint;  // "/tasks", "/services/{id}", "/_ping", "/events"
    std::string status;    // "503", "timeout", "unreachable", "malformed"
    std::uint64_t value = 0;
  };
  std::vector<RequestError> request_errors;
  std::uint64_t connects = 0;    // sessions that completed a full sync
  std::uint64_t reconnects = 0;  // connections lost (or never made) and tried again
  std::uint64_t full_syncs = 0, full_sync_failures = 0;
  double full_sync_seconds_total = 0, last_full_sync_seconds = 0;
  std::uint64_t task_relists = 0;
  double task_relist_seconds_total = 0;
  std::uint64_t task_relist_bytes_total = 0;
  std::uint64_t follow_up_reads = 0;   // re-reads scheduled after an event (tasks settling)
  std::uint64_t events_dropped = 0;    // the queue overflowed (a resync followed)
  std::int64_t last_event_micros = 0;  // wall clock of the newest engine event, 0 = none
  std::uint64_t watchdog_pings = 0, watchdog_failures = 0;
};

class Watcher {
 public:
  Watcher(Options options, state::Store& store);
  ~Watcher();  // stop()s
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  void start();
  void stop();                        // idempotent; returns once both threads have ended
  [[nodiscard]] Stats stats() const;  // any thread

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace narwhal::watch
