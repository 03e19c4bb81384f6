#include "narwhal/watch/watcher.hpp"

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "event_queue.hpp"
#include "follow_up.hpp"
#include "narwhal/util/log.hpp"
#include "narwhal/util/time.hpp"
#include "narwhal/watch/plan.hpp"

namespace narwhal::watch {

using Clock = std::chrono::steady_clock;
using state::Kind;

namespace {

// Why a step stopped: the engine went away (reconnect), answers but is no swarm manager (keep
// the last state, marked stale, and keep asking), or answered badly (keep going).
enum class Outcome { ok, lost, not_manager, failed };

Outcome classify(const engine::Error& e) {
  if (e.kind == engine::ErrorKind::unreachable || e.kind == engine::ErrorKind::cancelled) {
    return Outcome::lost;
  }
  // dockerd answers every swarm endpoint with 503 "This node is not a swarm manager…" once it
  // left the swarm, or when it is a worker.
  if (e.kind == engine::ErrorKind::http_status && e.status == 503) return Outcome::not_manager;
  return Outcome::failed;
}

// Resubscribing with `since` a little before the last event seen covers events the engine
// recorded while the old stream was dying; duplicates only cost a re-read.
constexpr std::int64_t kResumeSlackNano = 2'000'000'000;

// While the engine is no manager, how often a full sync asks again (a 503 costs it nothing): the
// state is current again within this of a `swarm init` or re-join.
constexpr Millis kNotManagerRetry{2000};

// Event types counted in the metrics; anything else is "other".
constexpr std::array<std::string_view, 7> kEventTypes = {"service", "node",   "config",   "secret",
                                                         "network", "volume", "container"};

// "/v1.41/services/abc?x" → "/services/{id}": the label of an engine call in the metrics.
std::string endpoint_label(std::string_view call) {
  if (const auto sp = call.find(' '); sp != std::string_view::npos) call.remove_prefix(sp + 1);
  if (const auto q = call.find('?'); q != std::string_view::npos) call = call.substr(0, q);
  if (call.starts_with("/v")) {
    const auto slash = call.find('/', 1);
    call = slash == std::string_view::npos ? std::string_view("/") : call.substr(slash);
  }
  const auto second = call.find('/', 1);
  if (second == std::string_view::npos) return std::string(call);
  return std::string(call.substr(0, second)) + "/{id}";
}

std::string status_label(const engine::Error& e) {
  switch (e.kind) {
    case engine::ErrorKind::http_status: return std::to_string(e.status);
    case engine::ErrorKind::bad_body: return "malformed";
    case engine::ErrorKind::unsupported_api: return "unsupported";
    case engine::ErrorKind::cancelled: return "cancelled";
    case engine::ErrorKind::unreachable:
      return e.message.starts_with("no response") ? "timeout" : "unreachable";
  }
  return "unknown";
}

// Why the engine is no manager, from /info (Swarm.LocalNodeState, Swarm.ControlAvailable) when
// it answers, else the engine's own message.
std::string not_manager_reason(engine::Client& client, const engine::Error& e) {
  std::string why = "the engine is not a swarm manager";
  if (auto info = client.get("/info")) {
    const std::string_view body = *info;
    if (body.find("\"LocalNodeState\":\"inactive\"") != std::string_view::npos) {
      why = "the engine is not part of a swarm (it left, or never joined)";
    } else if (body.find("\"ControlAvailable\":false") != std::string_view::npos &&
               body.find("\"LocalNodeState\":\"active\"") != std::string_view::npos) {
      why = "the engine is a swarm worker, not a manager";
    }
  }
  return why + " (" + e.call + " answered " + std::to_string(e.status) + ": " + e.message + ")";
}

}  // namespace

struct Watcher::Impl {
  Options options;
  state::Store& store;
  std::atomic<bool> stopping{false};
  std::thread control;
  std::mutex clients_mutex;  // guards the three pointers below, for stop()
  engine::Client* active_client = nullptr;
  engine::Client* events_client = nullptr;
  EventQueue* queue = nullptr;
  std::mutex wait_mutex;
  std::condition_variable wait_cv;
  std::atomic<std::int64_t> last_event_nano{0};
  std::string last_error;
  bool connected = false;
  bool manager = true;
  std::mt19937_64 rng{std::random_device{}()};

  // Stats: counters are atomics; the error table takes a lock (errors are rare).
  std::array<std::atomic<std::uint64_t>, kEventTypes.size() + 1> events_by_type{};
  std::atomic<std::uint64_t> connects{0}, reconnects{0}, full_syncs{0}, full_sync_failures{0};
  std::atomic<std::uint64_t> full_sync_micros{0}, last_full_sync_micros{0};
  std::atomic<std::uint64_t> task_relists{0}, task_relist_micros{0}, task_relist_bytes{0};
  std::atomic<std::uint64_t> follow_up_reads{0}, events_dropped{0};
  std::atomic<std::uint64_t> watchdog_pings{0}, watchdog_failures{0};
  std::atomic<std::int64_t> last_event_micros{0};
  mutable std::mutex errors_mutex;
  std::map<std::pair<std::string, std::string>, std::uint64_t> request_errors;

  Impl(Options o, state::Store& s) : options(std::move(o)), store(s) {}

  void count_error(const engine::Error& e) {
    if (e.kind == engine::ErrorKind::cancelled) return;
    const std::lock_guard lock(errors_mutex);
    ++request_errors[{endpoint_label(e.call), status_label(e)}];
  }

  // An engine GET that is never started once stop() was called (stop() only aborts the call in
  // flight), and whose failures are counted.
  engine::Result<std::string> get(engine::Client& client, std::string_view path) {
    if (stopping) {
      return util::Unexpected{engine::Error{engine::ErrorKind::cancelled, 0, "stopping", {}}};
    }
    auto body = client.get(path);
    if (!body) count_error(body.error());
    return body;
  }

  // Publishes what narwhal knows of its engine: reachable, a manager, and since when the state
  // it serves is stale.
  void publish_engine(bool is_connected, bool is_manager, const std::string& api_version) {
    const auto snap = store.snapshot();
    state::EngineState e = snap->engine;
    const auto now = util::now_micros();
    if (e.connected != is_connected || e.since == 0) e.since = now;
    e.connected = is_connected;
    e.manager = is_manager;
    e.endpoint = options.endpoint.describe();
    if (!api_version.empty()) e.api_version = api_version;
    e.last_error = last_error;
    const bool current = is_connected && is_manager && synced_now;
    if (current) {
      e.synced = true;
      e.stale_since = 0;
    } else if (e.synced && e.stale_since == 0) {
      e.stale_since = now;
    }
    store.set_engine(std::move(e));
    connected = is_connected;
    manager = is_manager;
  }
  bool synced_now = false;  // the last full sync of this session succeeded

  // Sleeps for `d` unless stop() is called; false when stopping.
  bool sleep_for(Millis d) {
    std::unique_lock lock(wait_mutex);
    wait_cv.wait_for(lock, d, [&] { return stopping.load(); });
    return !stopping;
  }

  Outcome full_sync(engine::Client& client) {
    const auto started = Clock::now();
    state::Change change;
    std::string loaded;
    for (std::size_t k = 0; k < state::kEngineKinds; ++k) {
      const Kind kind = static_cast<Kind>(k);
      auto body = get(client, list_path(kind));
      if (!body) {
        full_sync_failures.fetch_add(1, std::memory_order_relaxed);
        const Outcome o = classify(body.error());
        last_error = o == Outcome::not_manager ? not_manager_reason(client, body.error())
                                               : body.error().describe();
        return o;
      }
      auto listed = state::parse_list(kind, *body, &store.snapshot()->table(kind), &options.redact);
      if (!listed.error.empty()) {
        full_sync_failures.fetch_add(1, std::memory_order_relaxed);
        last_error = "listing " + std::string(state::kind_collection(kind)) + ": " + listed.error;
        return Outcome::failed;
      }
      if (listed.skipped > 0) {
        util::log::warn(
            "engine listing had unusable items",
            {{"kind", state::kind_name(kind)}, {"skipped", std::to_string(listed.skipped)}});
      }
      loaded += (loaded.empty() ? "" : " ") + std::to_string(listed.objects.size()) + " " +
                std::string(state::kind_collection(kind));
      change.full.at(k) = std::move(listed.objects);
    }
    if (auto info = get(client, "/info")) change.info = std::move(*info);
    if (auto swarm = get(client, "/swarm")) change.swarm = std::move(*swarm);
    const auto entries = store.apply(change);
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
    full_syncs.fetch_add(1, std::memory_order_relaxed);
    full_sync_micros.fetch_add(static_cast<std::uint64_t>(micros), std::memory_order_relaxed);
    last_full_sync_micros.store(static_cast<std::uint64_t>(micros), std::memory_order_relaxed);
    util::log::info("full sync done", {{"loaded", loaded},
                                       {"changes", std::to_string(entries.size())},
                                       {"ms", std::to_string(micros / 1000)}});
    return Outcome::ok;
  }

  Outcome poll_tasks(engine::Client& client) {
    const auto started = Clock::now();
    auto body = get(client, list_path(Kind::task));
    if (!body) {
      util::log::warn("task re-list failed", {{"error", body.error().describe()}});
      const Outcome o = classify(body.error());
      if (o == Outcome::not_manager) last_error = not_manager_reason(client, body.error());
      if (o == Outcome::lost) last_error = body.error().describe();
      return o;
    }
    const auto bytes = body->size();
    auto listed =
        state::parse_list(Kind::task, *body, &store.snapshot()->table(Kind::task), &options.redact);
    if (!listed.error.empty()) {
      util::log::warn("task re-list unusable", {{"error", listed.error}});
      return Outcome::failed;
    }
    state::Change change;
    const auto tasks = listed.objects.size();
    change.full.at(static_cast<std::size_t>(Kind::task)) = std::move(listed.objects);
    const auto entries = store.apply(change);
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
    task_relists.fetch_add(1, std::memory_order_relaxed);
    task_relist_micros.fetch_add(static_cast<std::uint64_t>(micros), std::memory_order_relaxed);
    task_relist_bytes.fetch_add(bytes, std::memory_order_relaxed);
    if (util::log::enabled(util::log::Level::debug)) {
      util::log::debug("tasks re-listed", {{"tasks", std::to_string(tasks)},
                                           {"changes", std::to_string(entries.size())},
                                           {"ms", std::to_string(micros / 1000)}});
    }
    return Outcome::ok;
  }

  // Runs the re-reads of `plan`. `all_tasks` is set when a task listing had to be a full one
  // (the tasks of a removed service can only be found that way).
  Outcome execute(engine::Client& client, const Plan& plan, std::int64_t observed,
                  bool& all_tasks) {
    state::Change change;
    change.observed = observed;
    const auto snap = store.snapshot();
    for (const auto& [kind, id] : plan.reread) {
      auto body = get(client, read_path(kind, id));
      if (!body) {
        if (body.error().kind == engine::ErrorKind::http_status && body.error().status == 404) {
          change.removals.emplace_back(kind, id);
          continue;
        }
        util::log::warn(
            "re-read failed",
            {{"kind", state::kind_name(kind)}, {"id", id}, {"error", body.error().describe()}});
        const Outcome o = classify(body.error());
        if (o == Outcome::lost || o == Outcome::not_manager) {
          last_error = o == Outcome::not_manager ? not_manager_reason(client, body.error())
                                                 : body.error().describe();
          return o;
        }
        continue;
      }
      if (kind == Kind::network || kind == Kind::volume) {
        // Filtered listings match by substring; keep the exact one.
        auto listed = state::parse_list(kind, *body, nullptr, &options.redact);
        bool found = false;
        for (auto& o : listed.objects) {
          if (o->id == id) {
            change.upserts.push_back(std::move(o));
            found = true;
          }
        }
        if (!found && listed.error.empty()) {
          // A local-scope event is the node's view: an overlay network leaves the node (a
          // stopping daemon shuts the cluster down first and lists none) while it lives on in
          // the swarm. Only the swarm's own word, or a full listing, removes it.
          const state::Object* known = snap->table(kind).find(id);
          if (kind == Kind::network && known != nullptr && known->scope == "swarm" &&
              !plan.swarm_scoped.contains(id)) {
            util::log::debug("kept a swarm network a local event called gone", {{"id", id}});
            continue;
          }
          change.removals.emplace_back(kind, id);
        }
        continue;
      }
      auto parsed = state::parse_object(kind, *body, &options.redact);
      if (parsed.object) {
        change.upserts.push_back(std::move(parsed.object));
      } else {
        util::log::warn("engine sent an unusable object",
                        {{"kind", state::kind_name(kind)}, {"id", id}, {"error", parsed.error}});
      }
    }
    auto scoped = [&](bool by_service, const std::string& id) -> Outcome {
      auto body = get(client, tasks_of_path(by_service, id));
      if (!body) {
        // The engine resolves a service filter first: a removed service's tasks (still listed,
        // desired state "remove") are found only by a full listing.
        if (body.error().kind == engine::ErrorKind::http_status && body.error().status == 404) {
          all_tasks = true;
          return Outcome::ok;
        }
        const Outcome o = classify(body.error());
        if (o == Outcome::lost) last_error = body.error().describe();
        if (o == Outcome::not_manager) last_error = not_manager_reason(client, body.error());
        return o;
      }
      auto listed = state::parse_list(Kind::task, *body, nullptr, &options.redact);
      if (!listed.error.empty()) return Outcome::failed;
      change.scoped_tasks.push_back(
          {by_service ? state::Change::Scoped::By::service : state::Change::Scoped::By::node, id,
           std::move(listed.objects)});
      return Outcome::ok;
    };
    for (const auto& id : plan.service_tasks) {
      if (const Outcome o = scoped(true, id); o == Outcome::lost || o == Outcome::not_manager) {
        return o;
      }
    }
    for (const auto& id : plan.node_tasks) {
      if (const Outcome o = scoped(false, id); o == Outcome::lost || o == Outcome::not_manager) {
        return o;
      }
    }
    store.apply(change);
    if (all_tasks) return poll_tasks(client);
    return Outcome::ok;
  }

  void count_event(const engine::Event& ev) {
    std::size_t i = 0;
    while (i < kEventTypes.size() && kEventTypes.at(i) != ev.type) ++i;
    events_by_type.at(i).fetch_add(1, std::memory_order_relaxed);
  }

  void read_events(engine::Client& client, EventQueue& q) {
    // Silence past the watchdog: prove the engine alive with /_ping (a frozen engine accepts
    // connections and never answers, so resubscribing alone proves nothing), then resubscribe
    // from the last event seen. A failed ping or resubscription ends the reader (and so the
    // connection).
    bool first = true;
    const Millis ping_timeout =
        std::min({options.ping_timeout, options.request_timeout, options.event_watchdog / 4});
    // Silence plus the ping fit in one watchdog interval.
    const Millis silence = std::max(options.event_watchdog - ping_timeout, Millis(100));
    while (!stopping) {
      auto since = last_event_nano.load();
      if (since > 0) since -= kResumeSlackNano;
      auto last_data = Clock::now();
      auto result = client.stream_events(
          events_query(first ? 0 : std::max<std::int64_t>(since, 1)), silence,
          [&] { q.mark_open(); },
          [&](std::string_view line) {
            last_data = Clock::now();
            if (auto ev = engine::parse_event(line)) {
              if (ev->time_nano > 0) last_event_nano = ev->time_nano;
              last_event_micros.store(util::now_micros(), std::memory_order_relaxed);
              count_event(*ev);
              q.push(std::move(*ev));
            } else {
              util::log::warn("ignored a malformed engine event", {{"line", line.substr(0, 200)}});
            }
            return !stopping.load();
          });
      first = false;
      if (stopping) break;
      const bool silent = Clock::now() - last_data >= silence - Millis(100);
      if (!result && silent && result.error().kind == engine::ErrorKind::unreachable) {
        watchdog_pings.fetch_add(1, std::memory_order_relaxed);
        if (auto alive = client.ping(ping_timeout); !alive) {
          watchdog_failures.fetch_add(1, std::memory_order_relaxed);
          count_error(alive.error());
          // The control loop may be waiting out its request timeout on the same frozen engine:
          // abort that call, so the loss is known now and not when the call gives up.
          {
            const std::lock_guard lock(clients_mutex);
            if (active_client != nullptr) active_client->stop();
          }
          q.close(alive.error().describe() + " after " +
                  std::to_string(options.event_watchdog.count() / 1000) +
                  " s without events (the engine is frozen or overloaded)");
          return;
        }
        util::log::debug("events stream silent, engine answers ping; resubscribing");
        if (last_event_nano.load() == 0) {
          last_event_nano = util::now_micros() * 1000 - options.event_watchdog.count() * 1'000'000;
        }
        continue;
      }
      if (!result) count_error(result.error());
      q.close(result ? "the events stream ended" : result.error().describe());
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
    bool ever_connected = false;
    while (!stopping) {
      const bool was_following = session();
      if (stopping) break;
      ever_connected = ever_connected || was_following;
      attempt = was_following ? 0 : attempt + 1;
      synced_now = false;
      publish_engine(false, manager, {});
      reconnects.fetch_add(1, std::memory_order_relaxed);
      const Millis wait = backoff(attempt);
      util::log::warn(was_following ? "engine connection lost" : "cannot reach the engine",
                      {{"error", last_error}, {"retry_in_ms", std::to_string(wait.count())}});
      if (!sleep_for(wait)) break;
    }
  }

  // One connection: subscribe, sync, follow. Returns whether it got as far as following.
  bool session() {
    engine::Client client(options.endpoint, options.request_timeout);
    engine::Client ev_client(options.endpoint, options.request_timeout);
    {
      const std::lock_guard lock(clients_mutex);
      if (stopping) return false;
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
      count_error(version.error());
      last_error = version.error().describe();
      return false;
    }
    ev_client.set_api_version(*version);
    EventQueue q(options.event_queue_limit);
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
      const auto why = q.closed();
      last_error =
          "could not subscribe to engine events: " +
          (why ? *why
               : "no answer within " + std::to_string(options.request_timeout.count()) + " ms");
      return false;
    }
    const Outcome synced = full_sync(client);
    if (synced == Outcome::lost || synced == Outcome::failed) return false;
    synced_now = synced == Outcome::ok;
    if (synced_now) {
      last_error.clear();
      connects.fetch_add(1, std::memory_order_relaxed);
      util::log::info("following engine",
                      {{"engine", options.endpoint.describe()}, {"api", *version}});
    } else {
      util::log::warn("engine is no swarm manager; serving the last known state as stale",
                      {{"error", last_error}});
    }
    publish_engine(true, synced_now, *version);
    follow(client, q, *version);
    return true;
  }

  void follow(engine::Client& client, EventQueue& q, const std::string& version) {
    Plan plan;
    FollowUps follow_ups;
    auto next_poll = Clock::now() + options.task_poll_interval;
    auto next_resync = Clock::now() + options.resync_interval;
    // Not a manager: ask again soon, as often as the task poll (the timers keep running).
    if (!manager)
      next_resync = Clock::now() + std::min(options.task_poll_interval, kNotManagerRetry);
    std::optional<Clock::time_point> flush_at;
    std::int64_t observed = 0;  // when the plan's first event arrived
    std::deque<engine::Event> events;
    std::optional<std::string> closed;
    std::size_t dropped = 0;
    while (!stopping) {
      auto deadline = std::min(next_poll, next_resync);
      if (flush_at) deadline = std::min(deadline, *flush_at);
      if (const auto due = follow_ups.next_due()) deadline = std::min(deadline, *due);
      q.wait_and_take(deadline, events, closed, dropped);
      const auto snap = store.snapshot();
      for (const auto& ev : events) {
        if (add_to_plan(ev, plan)) {
          follow_ups.note_event(ev, *snap);
          if (!flush_at) {
            flush_at = Clock::now() + options.coalesce_window;
            observed = util::now_micros();
          }
        }
      }
      events.clear();
      if (stopping) return;
      if (closed) {
        last_error = *closed;
        return;
      }
      auto now = Clock::now();
      if (dropped > 0) {
        events_dropped.fetch_add(dropped, std::memory_order_relaxed);
        util::log::warn("engine events overflowed the queue; resyncing",
                        {{"dropped", std::to_string(dropped)}});
        next_resync = now;
      }
      if (follow_ups.take_due(now, plan)) {
        follow_up_reads.fetch_add(1, std::memory_order_relaxed);
        if (!flush_at) {
          flush_at = now;
          observed = util::now_micros();
        }
      }
      Outcome outcome = Outcome::ok;
      if (flush_at && now >= *flush_at && manager) {
        bool all_tasks = false;
        outcome = execute(client, plan, observed, all_tasks);
        if (outcome == Outcome::ok) follow_ups.after_execute(*store.snapshot(), Clock::now());
        plan.clear();
        flush_at.reset();
        if (all_tasks) next_poll = Clock::now() + options.task_poll_interval;
      } else if (flush_at && now >= *flush_at) {
        plan.clear();  // no manager to read from; the resync below reads everything
        flush_at.reset();
      }
      now = Clock::now();
      if (outcome == Outcome::ok && now >= next_resync) {
        outcome = full_sync(client);
        next_resync = now + options.resync_interval;
        next_poll = now + options.task_poll_interval;
        if (outcome == Outcome::ok && !manager) {
          last_error.clear();
          synced_now = true;
          util::log::info("engine is a swarm manager again; state is current",
                          {{"engine", options.endpoint.describe()}});
          publish_engine(true, true, version);
        }
      } else if (outcome == Outcome::ok && now >= next_poll) {
        outcome = poll_tasks(client);
        next_poll = now + options.task_poll_interval;
      }
      if (outcome == Outcome::lost) {
        // When the watchdog aborted the call, its reason is the one to give.
        if (auto why = q.closed()) last_error = *why;
        if (last_error.empty()) last_error = "the engine connection was lost";
        return;
      }
      if (outcome == Outcome::not_manager) {
        if (manager) {
          util::log::warn(
              "engine is no longer a swarm manager; serving the last known state as "
              "stale",
              {{"error", last_error}});
          synced_now = false;
          publish_engine(true, false, version);
        }
        next_resync =
            std::min(next_resync, now + std::min(options.task_poll_interval, kNotManagerRetry));
      } else if (outcome == Outcome::failed) {
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
  {
    // Under the sleeper's mutex, so a wake-up cannot fall between its check and its wait.
    const std::lock_guard lock(impl_->wait_mutex);
    if (impl_->stopping.exchange(true)) {
      // Already stopping: another caller does the rest.
    }
  }
  {
    const std::lock_guard lock(impl_->clients_mutex);
    if (impl_->active_client != nullptr) impl_->active_client->stop();
    if (impl_->events_client != nullptr) impl_->events_client->stop();
    if (impl_->queue != nullptr) impl_->queue->wake();
  }
  impl_->wait_cv.notify_all();
  if (impl_->control.joinable() && impl_->control.get_id() != std::this_thread::get_id()) {
    impl_->control.join();
  }
}

Stats Watcher::stats() const {
  const Impl& i = *impl_;
  Stats s;
  for (std::size_t k = 0; k < i.events_by_type.size(); ++k) {
    s.events_by_type.push_back(
        {k < kEventTypes.size() ? std::string(kEventTypes.at(k)) : std::string("other"),
         i.events_by_type.at(k).load(std::memory_order_relaxed)});
  }
  {
    const std::lock_guard lock(i.errors_mutex);
    for (const auto& [key, n] : i.request_errors) {
      s.request_errors.push_back({key.first, key.second, n});
    }
  }
  auto secs = [](std::uint64_t micros) { return static_cast<double>(micros) / 1e6; };
  s.connects = i.connects.load();
  s.reconnects = i.reconnects.load();
  s.full_syncs = i.full_syncs.load();
  s.full_sync_failures = i.full_sync_failures.load();
  s.full_sync_seconds_total = secs(i.full_sync_micros.load());
  s.last_full_sync_seconds = secs(i.last_full_sync_micros.load());
  s.task_relists = i.task_relists.load();
  s.task_relist_seconds_total = secs(i.task_relist_micros.load());
  s.task_relist_bytes_total = i.task_relist_bytes.load();
  s.follow_up_reads = i.follow_up_reads.load();
  s.events_dropped = i.events_dropped.load();
  s.last_event_micros = i.last_event_micros.load();
  s.watchdog_pings = i.watchdog_pings.load();
  s.watchdog_failures = i.watchdog_failures.load();
  return s;
}

}  // namespace narwhal::watch
