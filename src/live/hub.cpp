#include "narwhal/live/hub.hpp"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

#include "narwhal/util/log.hpp"
#include "narwhal/util/text.hpp"
#include "narwhal/util/time.hpp"

namespace narwhal::live {

using Clock = std::chrono::steady_clock;

// ---- Stream ----

namespace {

// Shape, kind, id, types and the filter programs (shared by the filter cache for the same text).
std::string key_of(const Scope& s) {
  std::string key;
  key += static_cast<char>('0' + static_cast<int>(s.shape));
  key += static_cast<char>('0' + static_cast<int>(s.kind));
  key += std::to_string(s.kinds);
  key += s.filtered ? 'f' : '-';
  for (const auto& f : s.filters) {
    key += std::to_string(reinterpret_cast<std::uintptr_t>(f.get()));
    key += ',';
  }
  key += s.id;
  return key;
}

}  // namespace

Stream::Stream(Scope scope, std::size_t queue_bytes,
               std::shared_ptr<std::atomic<std::uint64_t>> open)
    : scope_(std::move(scope)),
      scope_key_(key_of(scope_)),
      limit_(queue_bytes),
      open_(std::move(open)),
      last_push_(util::steady_millis()) {}

Stream::~Stream() {
  if (!closed_ && open_) open_->fetch_sub(1);
}

void Stream::set_waker(std::function<void()> waker) {
  // A copy taken under the lock: close() may move waker_ out at any moment once it is released.
  std::function<void()> call;
  {
    const std::lock_guard lock(mutex_);
    waker_ = std::move(waker);
    if (!queue_.empty() || closed_) call = waker_;
  }
  if (call) call();
}

Stream::Taken Stream::take() {
  Taken t;
  t.closed = take_into(t.frames);
  return t;
}

bool Stream::take_into(std::vector<Frame>& out) {
  out.clear();
  const std::lock_guard lock(mutex_);
  out.swap(queue_);
  bytes_ = 0;
  sync_pending_ = false;
  return closed_;
}

void Stream::close() {
  std::function<void()> waker;
  {
    const std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    queue_.clear();
    bytes_ = 0;
    waker = std::move(waker_);  // last call: what the waker holds must not outlive the server
    waker_ = nullptr;
  }
  if (open_) open_->fetch_sub(1);
  if (waker) waker();
}

bool Stream::closed() const {
  const std::lock_guard lock(mutex_);
  return closed_;
}

void Stream::push_first(const Frame& frame) {
  const std::lock_guard lock(mutex_);
  queue_.push_back(frame);
  bytes_ += frame->size();
  ++counters_.frames;
}

void Stream::push_if_idle(const Frame& frame) {
  std::function<void()> waker;
  {
    const std::lock_guard lock(mutex_);
    if (closed_ || !queue_.empty()) return;
    queue_.push_back(frame);
    bytes_ += frame->size();
    waker = waker_;
  }
  last_push_.store(util::steady_millis());
  if (waker) waker();
}

Stream::Pushed Stream::push(const Frame& frame, const Frame& sync) {
  std::function<void()> waker;
  Pushed out;
  {
    const std::lock_guard lock(mutex_);
    if (closed_) return {false, false, 0};
    const bool was_empty = queue_.empty();
    if (sync_pending_) {
      ++counters_.dropped;
      out = {false, false, 1};
    } else if (!was_empty && bytes_ + frame->size() > limit_) {
      // The client does not keep up: drop its backlog and tell it to reload instead. (A frame
      // that meets an empty queue is always taken: one big batch is not falling behind, and
      // memory stays bounded by the limit plus one frame.)
      out = {false, true, queue_.size() + 1};
      counters_.dropped += out.dropped;
      ++counters_.overflows;
      queue_.clear();
      queue_.push_back(sync);
      bytes_ = sync->size();
      sync_pending_ = true;
    } else {
      queue_.push_back(frame);
      bytes_ += frame->size();
      ++counters_.frames;
    }
    if (was_empty && !queue_.empty()) waker = waker_;
  }
  last_push_.store(util::steady_millis());
  if (waker) waker();
  return out;
}

Stream::Counters Stream::counters() const {
  const std::lock_guard lock(mutex_);
  return counters_;
}

// ---- Hub ----

namespace {

Frame make_frame(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

Frame sync_frame(std::uint64_t id, std::string_view reason) {
  std::string f =
      "id: " + std::to_string(id) + "\nevent: sync\ndata: {\"type\":\"sync\",\"reason\":";
  util::append_json_string(f, reason);
  f += "}\n\n";
  return make_frame(std::move(f));
}

// A single event's frame as shown `how`, sharing the event.
Frame frame_of(const Shown& s) {
  return {s.event, &s.event->frame_as(s.how)};
}

}  // namespace

struct Hub::Impl {
  HubOptions o;
  const state::Store& store;
  const std::uint64_t seed;
  const Frame retry_frame;
  const Frame keepalive_frame = make_frame(":keepalive\n\n");
  std::shared_ptr<std::atomic<std::uint64_t>> open_count =
      std::make_shared<std::atomic<std::uint64_t>>(0);

  // The store's writer → the hub's thread: only the newest snapshot and how far the history
  // it came with reaches. The entries themselves are read from the history's immutable view,
  // so however far the hub falls behind, it holds one snapshot; entries the history evicted
  // before the hub read them turn into a `sync` for every stream.
  mutable std::mutex inbox_mutex;
  std::condition_variable inbox_cv;
  state::SnapshotPtr inbox_snapshot;
  std::uint64_t inbox_through = 0;  // the newest entry ID published
  std::uint64_t inbox_pending = 0;  // publishes not taken yet
  bool stopping = false;
  bool flush_requested = false;
  std::thread thread;
  std::atomic<bool> started{false}, stopped{false};

  // Shared with open(): guarded by `mutex`.
  mutable std::mutex mutex;
  std::vector<std::weak_ptr<Stream>> streams;
  std::deque<EventPtr> ring;               // delivered events, oldest first
  std::uint64_t ring_evicted_through = 0;  // the newest event the ring dropped
  std::uint64_t last_id;                   // the newest delivered event (the seed before any)
  Frame cluster_frame;                     // the current summary's frame; null = render on demand
  std::string cluster_body;
  state::SnapshotPtr cluster_of;  // the snapshot and readiness cluster_body was rendered from
  bool cluster_ready_of = false;

  // The hub's thread only.
  state::SnapshotPtr previous = std::make_shared<const state::Snapshot>();
  std::uint64_t taken_through;  // the newest history entry turned into an event
  bool lost = false;            // entries were evicted before the hub read them
  std::vector<EventPtr> pending;
  bool cluster_dirty = false;
  bool last_ready = false;
  std::optional<Clock::time_point> deadline;
  Clock::time_point last_flush{};

  std::atomic<std::uint64_t> opened{0}, rejected{0}, events{0}, frames_out{0}, overflows{0},
      dropped{0}, replays{0}, replay_syncs{0};

  Impl(HubOptions opts, const state::Store& st)
      : o(std::move(opts)),
        store(st),
        seed(st.history().seed()),
        retry_frame(make_frame("retry: " + std::to_string(o.retry.count()) + "\n\n")),
        last_id(seed),
        // What the history held before the hub existed is not news to any stream.
        taken_through(st.history().last_id()) {}

  bool ready() const { return !o.ready || o.ready(); }

  // Records a freshly rendered summary; true when it differs from the last one. With `mutex`.
  bool take_cluster(std::string body, state::SnapshotPtr of, bool was_ready) {
    cluster_of = std::move(of);
    cluster_ready_of = was_ready;
    if (cluster_frame && body == cluster_body) return false;
    cluster_body = std::move(body);
    cluster_frame = cluster_frame_of(last_id, cluster_body);
    return true;
  }

  static Frame cluster_frame_of(std::uint64_t id, const std::string& body) {
    return make_frame("id: " + std::to_string(id) + "\nevent: cluster\ndata: " + body + "\n\n");
  }

  void run() {
    std::unique_lock lock(inbox_mutex);
    auto next_tick = Clock::now() + std::chrono::seconds(1);
    while (!stopping) {
      const auto wake_at = deadline ? std::min(*deadline, next_tick) : next_tick;
      inbox_cv.wait_until(lock, wake_at,
                          [&] { return stopping || inbox_snapshot || flush_requested; });
      if (stopping) break;
      const state::SnapshotPtr snapshot = std::exchange(inbox_snapshot, nullptr);
      const std::uint64_t through = inbox_through;
      inbox_pending = 0;
      bool flush_now = std::exchange(flush_requested, false);
      lock.unlock();
      // The earliest change heard of in this wake-up.
      const std::int64_t observed = snapshot ? absorb(snapshot, through) : 0;
      const auto now = Clock::now();
      if (!pending.empty() || cluster_dirty) {
        // The window counts from when narwhal heard of the change, so the watcher's
        // coalescing and re-reads are spent inside it rather than added to it; and flushes are
        // at least half a window apart. A change heard of long ago does not wait for the
        // deadline a younger one (or a summary-only wake-up) set: the earlier deadline wins.
        const auto age =
            std::chrono::microseconds(observed > 0 ? util::now_micros() - observed : 0);
        const auto due = std::max(
            now + o.batch_interval -
                std::clamp<Clock::duration>(age, Clock::duration::zero(), o.batch_interval),
            last_flush + o.batch_interval / 2);
        if (!deadline || due < *deadline) deadline = due;
      }
      if (deadline && (flush_now || now >= *deadline)) {
        flush();
        deadline.reset();
        last_flush = Clock::now();
      }
      if (now >= next_tick) {
        tick();
        next_tick = now + std::chrono::seconds(1);
      }
      lock.lock();
    }
  }

  // Renders the history's entries published since the last wake-up (up to `through`, the
  // newest that came with `snapshot`), placing them in `snapshot` and the one before it.
  // Returns when the earliest of them was first heard of (0 = none).
  std::int64_t absorb(const state::SnapshotPtr& snapshot, std::uint64_t through) {
    std::int64_t observed = 0;
    if (through > taken_through) {
      const auto view = store.history().view();
      if (view->evicted_through() > taken_through) lost = true;
      for (std::size_t i = view->first_after(taken_through); i < view->size(); ++i) {
        const state::HistoryEntry& entry = view->at(i);
        if (entry.id > through) break;  // its snapshot has not been published yet
        if (entry.observed > 0 && (observed == 0 || entry.observed < observed)) {
          observed = entry.observed;
        }
        try {
          pending.push_back(make_event(entry, *snapshot, *previous, o.site));
          events.fetch_add(1, std::memory_order_relaxed);
        } catch (const std::exception& e) {
          util::log::error("live: cannot render an event", {{"error", e.what()}});
        }
      }
      taken_through = through;
    }
    previous = snapshot;
    cluster_dirty = true;
    return observed;
  }

  // Moves the pending events into the replay ring and queues them to every stream that shows
  // them: one frame per event, one batch frame per distinct set of events.
  void flush() {
    std::vector<StreamPtr> targets;
    Frame cluster;
    std::uint64_t id = 0;
    {
      const std::lock_guard lock(mutex);
      for (const auto& e : pending) {
        ring.push_back(e);
        if (ring.size() > std::max<std::size_t>(o.replay_events, 1)) {
          ring_evicted_through = ring.front()->id;
          ring.pop_front();
        }
      }
      if (!pending.empty()) last_id = pending.back()->id;
      id = last_id;
      targets = live_streams();
    }
    if (std::exchange(cluster_dirty, false)) {
      // The summary is rendered for /cluster streams only; with none open it is dropped, and
      // the next one to open renders it.
      const bool watched = std::any_of(targets.begin(), targets.end(), [](const StreamPtr& s) {
        return s->scope().shape == Scope::Shape::cluster;
      });
      const auto snap = watched ? store.snapshot() : nullptr;
      const bool is_ready = ready();
      std::string body = watched ? render::render_cluster(*snap, o.site, is_ready) : "";
      const std::lock_guard lock(mutex);
      if (!watched) {
        cluster_frame = nullptr;
        cluster_of = nullptr;
      } else if (take_cluster(std::move(body), snap, is_ready)) {
        cluster = cluster_frame;
      }
    }
    if (std::exchange(lost, false)) {
      // The history moved on faster than the hub read it: what was lost cannot be shown, so
      // every stream reloads (a summary stream gets the summary as usual).
      const Frame sync = sync_frame(id, "events were lost before they could be sent; reload");
      for (const auto& s : targets) {
        if (s->scope().shape == Scope::Shape::cluster) continue;
        s->push_first(sync);
        overflows.fetch_add(1, std::memory_order_relaxed);
      }
      // A stream resuming from an ID inside the gap cannot be served from the ring either.
      const std::lock_guard lock(mutex);
      ring_evicted_through = std::max(ring_evicted_through, id);
      ring.clear();
      pending.clear();
      if (cluster) deliver(targets, cluster, id);
      return;
    }
    if (pending.empty() && !cluster) return;
    deliver(targets, cluster, id);
    pending.clear();
  }

  void deliver(const std::vector<StreamPtr>& targets, const Frame& cluster, std::uint64_t id) {
    const Frame sync = sync_frame(id, "this stream fell behind; reload and reconnect");
    const auto snap = store.snapshot();
    // Streams showing the same events (each in the same variant) share one batch frame; streams
    // with the same scope share the decision (10 000 dashboards mostly watch a few dozen scopes).
    struct MaskHash {
      std::size_t operator()(const std::pair<std::uint64_t, std::uint64_t>& m) const noexcept {
        return std::hash<std::uint64_t>{}(m.first ^ (m.second * 0x9E3779B97F4A7C15ULL));
      }
    };
    // Up to 64 pending events: a bit per event shown, and a bit per event shown as leaving.
    std::unordered_map<std::pair<std::uint64_t, std::uint64_t>, Frame, MaskHash> by_mask;
    // More: the list of (index << 1 | leaving).
    std::map<std::vector<std::uint32_t>, Frame> by_list;
    std::unordered_map<std::string_view, Frame> by_scope;
    std::vector<std::uint32_t> shown;
    std::vector<Shown> picked;
    for (const auto& s : targets) {
      Frame frame;
      // A stream that resumed ahead of the hub skips what it has seen, so it decides alone.
      const bool alone = !pending.empty() && s->skip_through() >= pending.front()->id;
      const auto known = alone ? by_scope.end() : by_scope.find(s->scope_key());
      if (known != by_scope.end()) {
        frame = known->second;
      } else if (s->scope().shape == Scope::Shape::cluster) {
        frame = cluster;
      } else if (!pending.empty()) {
        shown.clear();
        for (std::uint32_t i = 0; i < pending.size(); ++i) {
          if (pending[i]->id <= s->skip_through()) continue;
          const Show how = shows(s->scope(), *pending[i], *snap);
          if (how != Show::no) shown.push_back(i << 1 | (how == Show::left ? 1U : 0U));
        }
        const auto pick = [&](std::uint32_t v) {
          return Shown{pending[v >> 1], (v & 1U) != 0 ? Show::left : Show::yes};
        };
        if (shown.size() == 1) {
          frame = frame_of(pick(shown[0]));
        } else if (shown.size() > 1) {
          auto build = [&] {
            picked.clear();
            for (const auto v : shown) picked.push_back(pick(v));
            return make_frame(batch_frame(picked.data(), picked.size()));
          };
          if (pending.size() <= 64) {
            std::pair<std::uint64_t, std::uint64_t> mask{0, 0};
            for (const auto v : shown) {
              mask.first |= std::uint64_t{1} << (v >> 1);
              mask.second |= std::uint64_t{v & 1U} << (v >> 1);
            }
            auto& f = by_mask[mask];
            if (!f) f = build();
            frame = f;
          } else {
            auto& f = by_list[shown];
            if (!f) f = build();
            frame = f;
          }
        }
      }
      if (!alone && known == by_scope.end()) by_scope.emplace(s->scope_key(), frame);
      if (!frame) continue;
      const auto pushed = s->push(frame, sync);
      if (pushed.queued) frames_out.fetch_add(1, std::memory_order_relaxed);
      if (pushed.overflow) overflows.fetch_add(1, std::memory_order_relaxed);
      if (pushed.dropped > 0) dropped.fetch_add(pushed.dropped, std::memory_order_relaxed);
    }
  }

  // Once a second: keepalives for idle streams; the cluster summary when readiness flipped
  // without a change (the grace period running out).
  void tick() {
    const bool now_ready = ready();
    if (now_ready != last_ready) {
      last_ready = now_ready;
      cluster_dirty = true;
      if (!deadline) deadline = Clock::now();
    }
    std::vector<StreamPtr> targets;
    {
      const std::lock_guard lock(mutex);
      targets = live_streams();
    }
    const std::int64_t now = util::steady_millis();
    for (const auto& s : targets) {
      if (now - s->last_push() >= o.keepalive.count()) s->push_if_idle(keepalive_frame);
    }
  }

  // The streams still open, forgetting the others. Called with `mutex` held.
  std::vector<StreamPtr> live_streams() {
    std::vector<StreamPtr> out;
    out.reserve(streams.size());
    std::erase_if(streams, [&](const std::weak_ptr<Stream>& w) {
      auto s = w.lock();
      if (!s || s->closed()) return true;
      out.push_back(std::move(s));
      return false;
    });
    return out;
  }

  StreamPtr open(Scope scope, std::string_view last_event_id) {
    // The cap counts streams still open; closed ones leave it at once.
    std::uint64_t n = open_count->load();
    do {
      if (n >= o.max_streams) {
        rejected.fetch_add(1);
        return nullptr;
      }
    } while (!open_count->compare_exchange_weak(n, n + 1));
    opened.fetch_add(1);
    const bool is_cluster = scope.shape == Scope::Shape::cluster;
    auto s = std::make_shared<Stream>(std::move(scope), o.queue_bytes, open_count);
    s->push_first(retry_frame);
    const auto snap = store.snapshot();
    std::optional<std::string> body;  // a summary rendered for this stream, when needed
    const bool is_ready = is_cluster && ready();
    if (is_cluster) {
      bool fresh = false;
      {
        const std::lock_guard lock(mutex);
        fresh = cluster_frame && cluster_of == snap && cluster_ready_of == is_ready;
      }
      if (!fresh) body = render::render_cluster(*snap, o.site, is_ready);
    }
    // Under the lock: whether the client's ID is known, and a copy of the pointers to what it
    // missed. The filters run after it is released, so a reconnect storm replaying thousands of
    // events does not stall fan-out; events delivered meanwhile are caught up under the lock
    // again (few), and only then does the stream join, so it sees each event once, in order.
    std::vector<EventPtr> candidates;
    std::uint64_t upto = 0;
    std::uint64_t resume_after = 0;
    {
      const std::lock_guard lock(mutex);
      if (body) take_cluster(std::move(*body), snap, is_ready);
      const auto trimmed = util::trim(last_event_id);
      bool replay = false;
      if (!trimmed.empty()) {
        const auto from = util::parse_uint(trimmed);
        // Known: issued by this process (above the seed), not in the future, and nothing after
        // it evicted from the ring. An ID the history has recorded but the hub has not
        // delivered yet (a client that read it from /history within the batch window) is known
        // too: the stream starts after it.
        const std::uint64_t recorded = store.history().last_id();
        const bool ahead = from && *from > last_id && *from <= recorded;
        const bool known =
            from && *from >= seed && (*from <= last_id || ahead) && *from >= ring_evicted_through;
        if (ahead) s->skip_through(*from);
        if (!known) {
          replay_syncs.fetch_add(1);
          s->push_first(sync_frame(last_id, "unknown or expired Last-Event-ID; reload"));
        } else {
          replays.fetch_add(1);
          if (is_cluster) {
            if (*from < last_id) s->push_first(cluster_frame);
          } else {
            replay = true;
            resume_after = *from;
            upto = std::max(last_id, *from);
            for (auto it = first_after(resume_after); it != ring.end(); ++it) {
              candidates.push_back(*it);
            }
          }
        }
      } else if (is_cluster) {
        s->push_first(cluster_frame);  // a summary stream starts with the summary
      }
      if (!replay) {
        streams.push_back(s);
        return s;
      }
    }
    // Decided as the live stream decides, and in the same variants' bytes.
    std::vector<Shown> missed;
    const auto decide = [&](const EventPtr& e) {
      const Show how = shows(s->scope(), *e, *snap);
      if (how != Show::no) missed.push_back({e, how});
    };
    for (const auto& e : candidates) decide(e);
    const std::lock_guard lock(mutex);
    if (last_id > upto) {
      if (ring_evicted_through > upto) {
        // Thousands of events went by while this stream was being caught up: reload.
        overflows.fetch_add(1);
        s->push_first(sync_frame(last_id, "too many missed events; reload"));
        streams.push_back(s);
        return s;
      }
      for (auto it = first_after(upto); it != ring.end(); ++it) decide(*it);
    }
    if (missed.size() == 1) {
      s->push_first(frame_of(missed[0]));
    } else if (missed.size() > 1) {
      const Frame f = make_frame(batch_frame(missed.data(), missed.size()));
      if (f->size() > o.queue_bytes) {
        // More than the stream may hold: a reload is cheaper for both sides.
        overflows.fetch_add(1);
        s->push_first(sync_frame(last_id, "too many missed events; reload"));
      } else {
        s->push_first(f);
      }
    }
    streams.push_back(s);
    return s;
  }

  // The first delivered event after `id`. With `mutex`.
  std::deque<EventPtr>::const_iterator first_after(std::uint64_t id) const {
    return std::upper_bound(ring.begin(), ring.end(), id,
                            [](std::uint64_t v, const EventPtr& e) { return v < e->id; });
  }

  void stop() {
    {
      const std::lock_guard lock(inbox_mutex);
      stopping = true;
    }
    inbox_cv.notify_all();
    if (thread.joinable()) thread.join();
    std::vector<StreamPtr> all;
    {
      const std::lock_guard lock(mutex);
      all = live_streams();
      streams.clear();
    }
    for (const auto& s : all) s->close();
  }
};

Hub::Hub(HubOptions options, const state::Store& store)
    : impl_(std::make_unique<Impl>(std::move(options), store)) {}

Hub::~Hub() {
  stop();
}

void Hub::start() {
  if (impl_->started.exchange(true)) return;
  impl_->last_ready = impl_->ready();
  impl_->thread = std::thread([this] { impl_->run(); });
}

void Hub::stop() {
  if (impl_->stopped.exchange(true)) return;
  impl_->stop();
  // What the thread did not take is dropped with its snapshot: nothing will ever send it.
  const std::lock_guard lock(impl_->inbox_mutex);
  impl_->inbox_snapshot = nullptr;
  impl_->inbox_pending = 0;
}

void Hub::publish(const state::SnapshotPtr& snapshot,
                  const std::vector<state::HistoryEntry>& entries) {
  {
    const std::lock_guard lock(impl_->inbox_mutex);
    // After stop() nothing drains the inbox: a watcher still publishing must not fill it.
    if (impl_->stopped.load()) return;
    impl_->inbox_snapshot = snapshot;
    if (!entries.empty()) impl_->inbox_through = std::max(impl_->inbox_through, entries.back().id);
    ++impl_->inbox_pending;
  }
  impl_->inbox_cv.notify_one();
}

StreamPtr Hub::open(Scope scope, std::string_view last_event_id) {
  if (impl_->stopped.load()) return nullptr;
  return impl_->open(std::move(scope), last_event_id);
}

bool Hub::full() const {
  return impl_->stopped.load() || impl_->open_count->load() >= impl_->o.max_streams;
}

void Hub::flush_now() {
  {
    const std::lock_guard lock(impl_->inbox_mutex);
    impl_->flush_requested = true;
  }
  impl_->inbox_cv.notify_one();
}

Hub::Stats Hub::stats() const {
  const auto& i = *impl_;
  Stats s;
  s.streams_open = i.open_count->load();
  s.streams_opened = i.opened.load();
  s.streams_rejected = i.rejected.load();
  s.events = i.events.load();
  s.frames_out = i.frames_out.load();
  s.overflows = i.overflows.load();
  s.frames_dropped = i.dropped.load();
  s.replays = i.replays.load();
  s.replay_syncs = i.replay_syncs.load();
  {
    const std::lock_guard lock(i.inbox_mutex);
    s.inbox = i.inbox_pending;
  }
  return s;
}

}  // namespace narwhal::live
