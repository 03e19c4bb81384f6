#include "narwhal/watch/watcher.hpp"

#include <atomic>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "event_queue.hpp"
#include "narwhal/util/log.hpp"
#include "narwhal/util/time.hpp"
#include "narwhal/watch/plan.hpp"

namespace narwhal::watch {

using Clock = std::chrono::steady_clock;
using state::Kind;

namespace {

// Why a step stopped: the engine went away (reconnect) or answered badly (keep going).
enum class Outcome { ok, lost, failed };

Outcome classify(const engine::Error& e) {
  return (e.kind == engine::ErrorKind::unreachable || e.kind == engine::ErrorKind::cancelled)
             ? Outcome::lost
             : Outcome::failed;
}

// Resubscribing with `since` a little before the last event seen covers events the engine
// recorded while the old stream was dying; duplicates only cost a re-read.
constexpr std::int64_t kResumeSlackNano = 2'000'000'000;

}  // namespace

struct Watcher::Impl {
  Options options;
  state::Store& store;
  std::atomic<bool> stopping{false};
  std::thread control;
  std::mutex clients_mutex;  // guards the two pointers below, for stop()
  engine::Client* active_client = nullptr;
  engine::Client* events_client = nullptr;
  std::mutex wait_mutex;
  std::condition_variable wait_cv;
  EventQueue* queue = nullptr;
  std::atomic<std::int64_t> last_event_nano{0};
  std::string last_error;
  bool connected = false;
  std::mt19937_64 rng{std::random_device{}()};

  Impl(Options o, state::Store& s) : options(std::move(o)), store(s) {}

  void publish_engine(bool is_connected, const std::string& api_version) {
    const auto snap = store.snapshot();
    state::EngineState e = snap->engine;
    if (e.connected != is_connected || e.since == 0) e.since = util::now_micros();
    e.connected = is_connected;
    e.endpoint = options.endpoint.describe();
    if (!api_version.empty()) e.api_version = api_version;
    e.last_error = last_error;
    if (is_connected) e.synced = true;
    store.set_engine(std::move(e));
    connected = is_connected;
  }

  // Sleeps for `d` unless stop() is called; false when stopping.
  bool sleep_for(Millis d) {
    std::unique_lock lock(wait_mutex);
    wait_cv.wait_for(lock, d, [&] { return stopping.load(); });
    return !stopping;
  }

  Outcome full_sync(engine::Client& client) {
    const auto started = Clock::now();
    state::Change change;
    for (std::size_t k = 0; k < state::kEngineKinds; ++k) {
      const Kind kind = static_cast<Kind>(k);
      auto body = client.get(list_path(kind));
      if (!body) {
        last_error =
            "listing " + std::string(state::kind_collection(kind)) + ": " + body.error().describe();
        return classify(body.error());
      }
      auto listed = state::parse_list(kind, *body, &store.snapshot()->table(kind));
      if (!listed.error.empty()) {
        last_error = "listing " + std::string(state::kind_collection(kind)) + ": " + listed.error;
        return Outcome::failed;
      }
      if (listed.skipped > 0) {
        util::log::warn(
            "engine listing had unusable items",
            {{"kind", state::kind_name(kind)}, {"skipped", std::to_string(listed.skipped)}});
      }
      change.full.at(k) = std::move(listed.objects);
    }
    if (auto info = client.get("/info")) change.info = std::move(*info);
    if (auto swarm = client.get("/swarm")) change.swarm = std::move(*swarm);
    const auto entries = store.apply(change);
    const auto ms = std::chrono::duration_cast<Millis>(Clock::now() - started).count();
    util::log::info("full sync done",
                    {{"changes", std::to_string(entries.size())}, {"ms", std::to_string(ms)}});
    return Outcome::ok;
  }

  Outcome poll_tasks(engine::Client& client) {
    const auto started = Clock::now();
    auto body = client.get(list_path(Kind::task));
    if (!body) {
      util::log::warn("task re-list failed", {{"error", body.error().describe()}});
      return classify(body.error());
    }
    auto listed = state::parse_list(Kind::task, *body, &store.snapshot()->table(Kind::task));
    if (!listed.error.empty()) {
      util::log::warn("task re-list unusable", {{"error", listed.error}});
      return Outcome::failed;
    }
    state::Change change;
    const auto tasks = listed.objects.size();
    change.full.at(static_cast<std::size_t>(Kind::task)) = std::move(listed.objects);
    const auto entries = store.apply(change);
    if (util::log::enabled(util::log::Level::debug)) {
      const auto ms = std::chrono::duration_cast<Millis>(Clock::now() - started).count();
      util::log::debug("tasks re-listed", {{"tasks", std::to_string(tasks)},
                                           {"changes", std::to_string(entries.size())},
                                           {"ms", std::to_string(ms)}});
    }
    return Outcome::ok;
  }

  Outcome execute(engine::Client& client, const Plan& plan, std::int64_t observed) {
    state::Change change;
    change.observed = observed;
    for (const auto& [kind, id] : plan.reread) {
      auto body = client.get(read_path(kind, id));
      if (!body) {
        if (body.error().kind == engine::ErrorKind::http_status && body.error().status == 404) {
          change.removals.emplace_back(kind, id);
          continue;
        }
        util::log::warn(
            "re-read failed",
            {{"kind", state::kind_name(kind)}, {"id", id}, {"error", body.error().describe()}});
        if (classify(body.error()) == Outcome::lost) return Outcome::lost;
        continue;
      }
      if (kind == Kind::network || kind == Kind::volume) {
        // Filtered listings match by substring; keep the exact one.
        auto listed = state::parse_list(kind, *body);
        bool found = false;
        for (auto& o : listed.objects) {
          if (o->id == id) {
            change.upserts.push_back(std::move(o));
            found = true;
          }
        }
        if (!found && listed.error.empty()) change.removals.emplace_back(kind, id);
        continue;
      }
      auto parsed = state::parse_object(kind, *body);
      if (parsed.object) {
        change.upserts.push_back(std::move(parsed.object));
      } else {
        util::log::warn("engine sent an unusable object",
                        {{"kind", state::kind_name(kind)}, {"id", id}, {"error", parsed.error}});
      }
    }
    auto scoped = [&](bool by_service, const std::string& id) -> Outcome {
      auto body = client.get(tasks_of_path(by_service, id));
      if (!body) return classify(body.error());
      auto listed = state::parse_list(Kind::task, *body);
      if (!listed.error.empty()) return Outcome::failed;
      change.scoped_tasks.push_back(
          {by_service ? state::Change::Scoped::By::service : state::Change::Scoped::By::node, id,
           std::move(listed.objects)});
      return Outcome::ok;
    };
    for (const auto& id : plan.service_tasks) {
      if (scoped(true, id) == Outcome::lost) return Outcome::lost;
    }
    for (const auto& id : plan.node_tasks) {
      if (scoped(false, id) == Outcome::lost) return Outcome::lost;
    }
    store.apply(change);
    return Outcome::ok;
  }

  void read_events(engine::Client& client, EventQueue& q) {
    // Silence past the watchdog: resubscribe from the last event seen. Only a failed
    // resubscription ends the reader (and so the connection).
    bool first = true;
    while (!stopping) {
      auto since = last_event_nano.load();
      if (since > 0) since -= kResumeSlackNano;
      auto last_data = Clock::now();
      auto result = client.stream_events(
          events_query(first ? 0 : std::max<std::int64_t>(since, 1)), options.event_watchdog,
          [&] { q.mark_open(); },
          [&](std::string_view line) {
            last_data = Clock::now();
            if (auto ev = engine::parse_event(line)) {
              if (ev->time_nano > 0) last_event_nano = ev->time_nano;
              q.push(std::move(*ev));
            } else {
              util::log::warn("ignored a malformed engine event", {{"line", line.substr(0, 200)}});
            }
            return !stopping.load();
          });
      first = false;
      if (stopping) break;
      const bool silent = Clock::now() - last_data >= options.event_watchdog - Millis(100);
      if (!result && silent && result.error().kind == engine::ErrorKind::unreachable) {
        util::log::debug("events stream silent; resubscribing");
        if (last_event_nano.load() == 0) {
          last_event_nano = util::now_micros() * 1000 - options.event_watchdog.count() * 1'000'000;
        }
        continue;
      }
      q.close(result ? "events stream ended" : result.error().describe());
      return;
    }
    q.close("stopping");
  }

  Millis backoff(int attempt) {
    const auto base = std::min<std::int64_t>(options.backoff_max.count(),
                                             options.backoff_min.count() << std::min(attempt, 16));
    std::uniform_int_distribution<std::int64_t> jitter(base / 2, base);
    return Millis(jitter(rng));
  }

  void run() {
    int attempt = 0;
    while (!stopping) {
      const bool synced = session();
      if (stopping) break;
      attempt = synced ? 0 : attempt + 1;
      publish_engine(false, {});
      util::log::warn("engine connection lost", {{"error", last_error}});
      if (!sleep_for(backoff(attempt))) break;
    }
  }

  // One connection: subscribe, sync, follow. Returns whether a full sync succeeded.
  bool session() {
    engine::Client client(options.endpoint, options.request_timeout);
    engine::Client ev_client(options.endpoint, options.request_timeout);
    {
      const std::lock_guard lock(clients_mutex);
      active_client = &client;
      events_client = &ev_client;
    }
    struct Detach {
      Impl& self;
      ~Detach() {
        const std::lock_guard lock(self.clients_mutex);
        self.active_client = nullptr;
        self.events_client = nullptr;
      }
    } detach{*this};

    auto version = client.negotiate();
    if (!version) {
      last_error = version.error().describe();
      return false;
    }
    ev_client.set_api_version(*version);
    EventQueue q;
    {
      const std::lock_guard lock(clients_mutex);
      queue = &q;
    }
    std::thread reader([&] { read_events(ev_client, q); });
    struct Join {
      Impl& self;
      engine::Client& ev;
      std::thread& t;
      ~Join() {
        ev.stop();
        t.join();
        const std::lock_guard lock(self.clients_mutex);
        self.queue = nullptr;
      }
    } join{*this, ev_client, reader};

    if (!q.wait_open(options.request_timeout)) {
      last_error = "could not subscribe to engine events";
      return false;
    }
    if (full_sync(client) != Outcome::ok) return false;
    last_error.clear();
    publish_engine(true, *version);
    util::log::info("following engine",
                    {{"engine", options.endpoint.describe()}, {"api", *version}});
    follow(client, q);
    return true;
  }

  void follow(engine::Client& client, EventQueue& q) {
    Plan plan;
    auto next_poll = Clock::now() + options.task_poll_interval;
    auto next_resync = Clock::now() + options.resync_interval;
    std::optional<Clock::time_point> flush_at;
    std::int64_t observed = 0;  // when the plan's first event arrived
    std::deque<engine::Event> events;
    std::optional<std::string> closed;
    while (!stopping) {
      auto deadline = std::min(next_poll, next_resync);
      if (flush_at) deadline = std::min(deadline, *flush_at);
      q.wait_and_take(deadline, events, closed);
      for (const auto& ev : events) {
        if (add_to_plan(ev, plan) && !flush_at) {
          flush_at = Clock::now() + options.coalesce_window;
          observed = util::now_micros();
        }
      }
      events.clear();
      if (stopping) return;
      if (closed) {
        last_error = *closed;
        return;
      }
      const auto now = Clock::now();
      Outcome outcome = Outcome::ok;
      if (flush_at && now >= *flush_at) {
        outcome = execute(client, plan, observed);
        plan.clear();
        flush_at.reset();
      }
      if (outcome == Outcome::ok && now >= next_resync) {
        outcome = full_sync(client);
        next_resync = now + options.resync_interval;
        next_poll = now + options.task_poll_interval;
      } else if (outcome == Outcome::ok && now >= next_poll) {
        outcome = poll_tasks(client);
        next_poll = now + options.task_poll_interval;
      }
      if (outcome == Outcome::lost) return;
      if (outcome == Outcome::failed) {
        // The engine answers but badly: keep the last good state and try a full resync soon.
        next_resync = std::min(next_resync, now + options.backoff_min * 4);
      }
    }
  }
};

Watcher::Watcher(Options options, state::Store& store)
    : impl_(std::make_unique<Impl>(std::move(options), store)) {}

Watcher::~Watcher() {
  stop();
}

void Watcher::start() {
  impl_->control = std::thread([this] { impl_->run(); });
}

void Watcher::stop() {
  if (impl_->stopping.exchange(true)) {
    if (impl_->control.joinable()) impl_->control.join();
    return;
  }
  {
    const std::lock_guard lock(impl_->clients_mutex);
    if (impl_->active_client != nullptr) impl_->active_client->stop();
    if (impl_->events_client != nullptr) impl_->events_client->stop();
    if (impl_->queue != nullptr) impl_->queue->wake();
  }
  impl_->wait_cv.notify_all();
  if (impl_->control.joinable()) impl_->control.join();
}

}  // namespace narwhal::watch
