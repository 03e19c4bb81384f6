// The live hub (SPEC §8): turns the store's changes into SSE frames and fans them out to every
// open stream. Each event is rendered once on the hub's own thread and its frame shared by all
// streams that show it; batches are shared by every stream that shows the same events. Each
// stream has a bounded queue: a client that falls behind loses its backlog and gets one `sync`.
// The hub keeps the last events (as many as the history) to replay a reconnecting stream's misses.
// Thread rules: publish() from the store's writer, open() and the Stream API from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "narwhal/live/event.hpp"
#include "narwhal/render/json.hpp"
#include "narwhal/state/store.hpp"

namespace narwhal::live {

using Frame = std::shared_ptr<const std::string>;

struct HubOptions {
  std::chrono::milliseconds batch_interval{100};
  std::chrono::milliseconds keepalive{15'000};
  std::chrono::milliseconds retry{2'000};  // the reconnect delay streams announce first
  std::size_t max_streams = 10'000;
  std::size_t queue_bytes = 1024 * 1024;  // per stream: frames waiting past this → sync
  std::size_t replay_events = 10'000;     // events kept for replay (the history's size)
  render::Site site;
  std::function<bool()> ready;  // for the cluster summary; null = always ready
};

// One client's stream: a queue of frames the server writes out. Thread-safe. The server owns it;
// the hub only follows it, so a stream whose connection is gone is gone.
class Stream {
 public:
  // `open` counts the hub's open streams; close() takes this one off it.
  Stream(Scope scope, std::size_t queue_bytes, std::shared_ptr<std::atomic<std::uint64_t>> open);
  ~Stream();  // a stream nobody holds any more is closed
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  [[nodiscard]] const Scope& scope() const noexcept { return scope_; }
  // Equal for streams whose scopes show the same events: the hub decides once per key.
  [[nodiscard]] const std::string& scope_key() const noexcept { return scope_key_; }
  // Events up to this ID are not for this stream (it resumed from an ID the history had
  // recorded but the hub had not delivered yet). Set before the hub follows the stream.
  void skip_through(std::uint64_t id) noexcept { skip_through_ = id; }
  [[nodiscard]] std::uint64_t skip_through() const noexcept { return skip_through_; }

  // Server side. `waker` is called (from any thread, without locks held) when frames arrive
  // after the queue was drained, or when the stream is closed.
  void set_waker(std::function<void()> waker);
  struct Taken {
    std::vector<Frame> frames;
    bool closed = false;
  };
  [[nodiscard]] Taken take();
  // The same into `out` (cleared first), whose storage the queue reuses: a server that keeps
  // one vector per stream allocates nothing per wake-up. Returns whether the stream is closed.
  bool take_into(std::vector<Frame>& out);
  // The client is gone or the server stops; the hub forgets the stream.
  void close();
  [[nodiscard]] bool closed() const;

  // Hub side: queues `frame`; when it would take a backlog past the limit, the backlog is
  // replaced by `sync` (once, until the client has taken it).
  struct Pushed {
    bool queued = true;
    bool overflow = false;    // this push replaced the backlog with the sync
    std::size_t dropped = 0;  // frames lost by this push
  };
  Pushed push(const Frame& frame, const Frame& sync);
  // Queues `frame` whatever the limit (the first frames of a stream).
  void push_first(const Frame& frame);
  // Queues `frame` only when nothing else waits (keepalives).
  void push_if_idle(const Frame& frame);
  [[nodiscard]] std::int64_t last_push() const noexcept { return last_push_.load(); }

  struct Counters {
    std::uint64_t overflows = 0, dropped = 0, frames = 0;
  };
  [[nodiscard]] Counters counters() const;

 private:
  const Scope scope_;
  const std::string scope_key_;
  std::uint64_t skip_through_ = 0;
  const std::size_t limit_;
  mutable std::mutex mutex_;
  std::vector<Frame> queue_;
  std::size_t bytes_ = 0;
  bool sync_pending_ = false;
  bool closed_ = false;
  std::function<void()> waker_;
  std::shared_ptr<std::atomic<std::uint64_t>> open_;
  Counters counters_;
  std::atomic<std::int64_t> last_push_;
};
using StreamPtr = std::shared_ptr<Stream>;

class Hub {
 public:
  Hub(HubOptions options, const state::Store& store);
  ~Hub();  // stop()s
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  void start();
  // Closes every stream and ends the hub's thread. Idempotent.
  void stop();

  // The store's listener: hands the newest snapshot to the hub's thread, which reads the
  // entries (already in the store's history) from the history's view; never blocks on streams.
  void publish(const state::SnapshotPtr& snapshot, const std::vector<state::HistoryEntry>& entries);

  // Opens a stream of `scope`. `last_event_id` is what the client sent ("" = a fresh stream):
  // the events it missed are queued first, or one `sync` when they cannot be known. Null when
  // the streams are at their cap. The stream stays open while the caller holds it.
  [[nodiscard]] StreamPtr open(Scope scope, std::string_view last_event_id);

  // Whether open() would refuse a stream now (the cap is reached, or the hub stopped): what a
  // HEAD of a stream URL answers, so that HEAD and GET agree.
  [[nodiscard]] bool full() const;

  // Delivers what is pending now instead of at the end of the batch window (tests).
  void flush_now();

  struct Stats {
    std::uint64_t streams_open = 0, streams_opened = 0, streams_rejected = 0;
    std::uint64_t events = 0;          // events rendered
    std::uint64_t frames_out = 0;      // frames queued to streams
    std::uint64_t overflows = 0;       // slow streams that lost their backlog (got a sync)
    std::uint64_t frames_dropped = 0;  // frames not queued because of that
    std::uint64_t replays = 0, replay_syncs = 0;
    std::uint64_t inbox = 0;  // publishes not yet taken by the hub's thread (one snapshot kept)
  };
  [[nodiscard]] Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace narwhal::live
