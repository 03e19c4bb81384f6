// narwhal's entry point: reads the configuration, wires engine → watcher → store → HTTP, and
// runs until SIGINT or SIGTERM, then shuts down in order (stop accepting, drain, stop watching).
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string_view>
#include <thread>

#include "narwhal/config/config.hpp"
#include "narwhal/engine/client.hpp"
#include "narwhal/http/handler.hpp"
#include "narwhal/http/server.hpp"
#include "narwhal/live/hub.hpp"
#include "narwhal/metrics/exposition.hpp"
#include "narwhal/metrics/requests.hpp"
#include "narwhal/sim/engine.hpp"
#include "narwhal/state/store.hpp"
#include "narwhal/util/log.hpp"
#include "narwhal/util/time.hpp"
#include "narwhal/watch/watcher.hpp"

#ifndef NARWHAL_VERSION
#define NARWHAL_VERSION "0.1.0"
#endif

namespace {

using narwhal::util::log::Level;

using narwhal::metrics::Family;
using narwhal::metrics::Type;

Family one(std::string name, std::string help, Type type, double value) {
  return Family{std::move(name), std::move(help), type, {{{}, value}}};
}

// narwhal's own numbers, read from their owners at scrape time.
void own_families(const narwhal::live::Hub& hub, const narwhal::http::Server& server,
                  const narwhal::http::Handler& handler, const narwhal::state::Store& store,
                  std::vector<Family>& out) {
  const auto h = hub.stats();
  auto d = [](std::uint64_t v) { return static_cast<double>(v); };
  out.push_back(
      one("narwhal_sse_streams_open", "Open event streams.", Type::gauge, d(h.streams_open)));
  out.push_back(one("narwhal_sse_streams_opened_total", "Event streams opened.", Type::counter,
                    d(h.streams_opened)));
  out.push_back(one("narwhal_sse_streams_rejected_total",
                    "Event streams refused because the cap was reached (429 SSE001).",
                    Type::counter, d(h.streams_rejected)));
  out.push_back(one("narwhal_sse_events_total", "Changes rendered as events (once each).",
                    Type::counter, d(h.events)));
  out.push_back(
      one("narwhal_sse_frames_total", "Frames queued to streams.", Type::counter, d(h.frames_out)));
  out.push_back(one("narwhal_sse_overflows_total",
                    "Times a stream fell behind its queue limit and got a sync instead.",
                    Type::counter, d(h.overflows)));
  out.push_back(one("narwhal_sse_frames_dropped_total",
                    "Frames dropped from streams that fell behind.", Type::counter,
                    d(h.frames_dropped)));
  out.push_back(one("narwhal_sse_replays_total", "Reconnects answered by replaying missed events.",
                    Type::counter, d(h.replays)));
  out.push_back(one("narwhal_sse_replay_syncs_total",
                    "Reconnects whose Last-Event-ID could not be replayed (sent a sync).",
                    Type::counter, d(h.replay_syncs)));
  const auto srv = server.stats();
  out.push_back(one("narwhal_http_connections_open", "Open HTTP connections.", Type::gauge,
                    d(srv.connections_open)));
  out.push_back(one("narwhal_http_requests_read_total",
                    "HTTP request heads read (narwhal_http_requests_total counts the answers).",
                    Type::counter, d(srv.requests)));
  out.push_back(one("narwhal_http_header_limit_total",
                    "Requests refused because their headers were too large (431).", Type::counter,
                    d(srv.header_limit_hits)));
  out.push_back(one("narwhal_http_timeouts_total", "Connections closed by a read timeout.",
                    Type::counter, d(srv.timeouts)));
  out.push_back(one("narwhal_http_connection_limit_total",
                    "Connections accepted over --max-connections (answered 503 API012 unless they "
                    "asked for /-/).",
                    Type::counter, d(srv.connection_limit_hits)));
  out.push_back(
      one("narwhal_http_accept_errors_total",
          "Failed accepts (out of file descriptors, mostly); accepting pauses after each.",
          Type::counter, d(srv.accept_errors)));
  out.push_back(one("narwhal_http_max_connections", "The connection cap in force.", Type::gauge,
                    d(srv.max_connections)));
  out.push_back(one("narwhal_render_jobs_total",
                    "Requests whose answer was rendered, filtered, sorted or compressed on the "
                    "render pool.",
                    Type::counter, d(srv.render_jobs)));
  out.push_back(one("narwhal_render_queue_depth", "Requests waiting for a render thread now.",
                    Type::gauge, d(srv.render_waiting)));
  out.push_back(one("narwhal_render_running", "Requests on a render thread now.", Type::gauge,
                    d(srv.render_running)));
  out.push_back(one("narwhal_render_rejected_total",
                    "Requests answered 503 API014 because --render-queue were already waiting.",
                    Type::counter, d(srv.render_rejected)));
  out.push_back(one("narwhal_render_threads", "Threads of the render pool.", Type::gauge,
                    d(srv.render_threads)));
  out.push_back(one("narwhal_internal_errors_total",
                    "Requests that failed inside narwhal (answered 500 API008).", Type::counter,
                    d(srv.internal_errors)));
  const auto cache = handler.cache_stats();
  out.push_back(one("narwhal_cache_hits_total", "Responses served from the rendered cache.",
                    Type::counter, d(cache.hits)));
  out.push_back(
      one("narwhal_cache_misses_total", "Responses rendered.", Type::counter, d(cache.misses)));
  out.push_back(
      one("narwhal_cache_entries", "Rendered responses cached.", Type::gauge, d(cache.entries)));
  out.push_back(one("narwhal_cache_bytes",
                    "Bytes of rendered bodies cached (--cache-bytes caps it).", Type::gauge,
                    d(cache.bytes)));
  out.push_back(one("narwhal_cache_evictions_total",
                    "Cached responses dropped, least recently used first, to stay in the budget.",
                    Type::counter, d(cache.evictions)));
  out.push_back(one("narwhal_cache_shared_renders_total",
                    "Misses that waited for the render another request of the same body ran.",
                    Type::counter, d(cache.shared_renders)));
  out.push_back(one("narwhal_history_entries", "Entries in the change history.", Type::gauge,
                    d(store.history().size())));
  const auto snap = store.snapshot();
  Family objects{"narwhal_objects", "Objects in the cache by type.", Type::gauge, {}};
  for (std::size_t k = 0; k < narwhal::state::kEngineKinds; ++k) {
    const auto kind = static_cast<narwhal::state::Kind>(k);
    objects.samples.push_back({{{"type", std::string(narwhal::state::kind_name(kind))}},
                               d(snap->table(kind).items.size())});
  }
  objects.samples.push_back({{{"type", "stack"}}, d(snap->stacks->size())});
  out.push_back(std::move(objects));
  out.push_back(one("narwhal_engine_connected", "1 while the engine connection is up.", Type::gauge,
                    snap->engine.connected ? 1 : 0));
  out.push_back(
      one("narwhal_ready", "1 while /-/ready answers 200.", Type::gauge, handler.ready() ? 1 : 0));
  narwhal::metrics::swarm_families(*snap, out);
}

// What the watcher did: events by type, connections, syncs, task re-lists, engine errors.
void watcher_families(const narwhal::watch::Watcher& watcher, const narwhal::state::Store& store,
                      std::vector<Family>& out) {
  const auto w = watcher.stats();
  auto d = [](std::uint64_t v) { return static_cast<double>(v); };
  Family events{
      "narwhal_engine_events_total", "Engine events received, by their type.", Type::counter, {}};
  for (const auto& c : w.events_by_type)
    events.samples.push_back({{{"type", c.label}}, d(c.value)});
  out.push_back(std::move(events));
  Family errors{"narwhal_engine_request_errors_total",
                "Engine calls that failed, by endpoint and status (an HTTP status, timeout, "
                "unreachable or malformed).",
                Type::counter,
                {}};
  for (const auto& e : w.request_errors) {
    errors.samples.push_back({{{"endpoint", e.endpoint}, {"status", e.status}}, d(e.value)});
  }
  out.push_back(std::move(errors));
  out.push_back(one("narwhal_engine_connects_total",
                    "Engine connections that completed a full sync.", Type::counter,
                    d(w.connects)));
  out.push_back(one("narwhal_engine_reconnects_total",
                    "Times the engine connection was lost (or could not be made) and retried.",
                    Type::counter, d(w.reconnects)));
  out.push_back(one("narwhal_engine_full_syncs_total", "Full syncs completed.", Type::counter,
                    d(w.full_syncs)));
  out.push_back(one("narwhal_engine_full_sync_failures_total",
                    "Full syncs the engine did not let finish.", Type::counter,
                    d(w.full_sync_failures)));
  out.push_back(one("narwhal_engine_full_sync_seconds_total", "Time spent in completed full syncs.",
                    Type::counter, w.full_sync_seconds_total));
  out.push_back(one("narwhal_engine_last_full_sync_seconds", "How long the last full sync took.",
                    Type::gauge, w.last_full_sync_seconds));
  out.push_back(one("narwhal_engine_task_relists_total",
                    "Periodic and follow-up re-lists of every task.", Type::counter,
                    d(w.task_relists)));
  out.push_back(one("narwhal_engine_task_relist_seconds_total", "Time spent re-listing tasks.",
                    Type::counter, w.task_relist_seconds_total));
  out.push_back(one("narwhal_engine_task_relist_bytes_total",
                    "Bytes of task listings read from the engine.", Type::counter,
                    d(w.task_relist_bytes_total)));
  out.push_back(one("narwhal_engine_follow_up_reads_total",
                    "Re-reads made after an event until the engine recorded its outcome.",
                    Type::counter, d(w.follow_up_reads)));
  out.push_back(one("narwhal_engine_events_dropped_total",
                    "Engine events dropped because the watcher's queue was full (a resync "
                    "followed).",
                    Type::counter, d(w.events_dropped)));
  out.push_back(one("narwhal_engine_watchdog_pings_total",
                    "Pings sent after a silent events stream.", Type::counter,
                    d(w.watchdog_pings)));
  out.push_back(one("narwhal_engine_watchdog_failures_total",
                    "Pings the engine did not answer in time (the engine was called lost).",
                    Type::counter, d(w.watchdog_failures)));
  const double age =
      w.last_event_micros == 0
          ? -1
          : static_cast<double>(narwhal::util::now_micros() - w.last_event_micros) / 1e6;
  out.push_back(one("narwhal_engine_last_event_age_seconds",
                    "Seconds since the last engine event arrived; -1 before the first.",
                    Type::gauge, age));
  const auto snap = store.snapshot();
  out.push_back(one("narwhal_engine_manager",
                    "1 while the engine is a swarm manager (0: it left the swarm or is a worker).",
                    Type::gauge, snap->engine.manager ? 1 : 0));
  out.push_back(one("narwhal_state_stale",
                    "1 while the state served is the last known one, no longer refreshed.",
                    Type::gauge, snap->engine.stale_since != 0 ? 1 : 0));
  out.push_back(one("narwhal_state_synced", "1 once a first full sync has completed.", Type::gauge,
                    snap->engine.synced ? 1 : 0));
}

Level to_level(narwhal::config::LogLevel l) {
  switch (l) {
    case narwhal::config::LogLevel::debug: return Level::debug;
    case narwhal::config::LogLevel::info: return Level::info;
    case narwhal::config::LogLevel::warn: return Level::warn;
    case narwhal::config::LogLevel::error: return Level::error;
  }
  return Level::info;
}

int bad_config(const std::string& message) {
  std::fprintf(stderr, "narwhal: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  namespace nw = narwhal;
  nw::config::Config cfg;
  try {
    cfg = nw::config::parse(argc, argv);
  } catch (const nw::config::HelpRequested& help) {
    std::printf("%s\n", help.what());
    return 0;
  } catch (const nw::config::ConfigError& e) {
    return bad_config(e.what());
  }
  nw::util::log::configure(to_level(cfg.log_level), cfg.log_format == nw::config::LogFormat::json);

  // Signals are taken synchronously by the main thread; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<nw::sim::Engine> demo;
  std::filesystem::path demo_dir;
  if (cfg.demo) {
    std::error_code ec;
    demo_dir =
        std::filesystem::temp_directory_path(ec) / ("narwhal-demo-" + std::to_string(::getpid()));
    std::filesystem::create_directories(demo_dir, ec);
    nw::sim::Options so;
    so.socket_path = (demo_dir / "engine.sock").string();
    so.services = cfg.demo_services;
    so.tasks_per_service = cfg.demo_tasks_per_service;
    so.churn_per_second = cfg.demo_churn;
    demo = std::make_unique<nw::sim::Engine>(so);
    try {
      demo->start();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "narwhal: --demo: cannot start the simulated engine: %s\n", e.what());
      return 1;
    }
    cfg.docker_host = demo->docker_host();
    cfg.tls_verify = false;
    nw::util::log::info("demo engine started", {{"socket", so.socket_path}});
  }

  auto endpoint = nw::engine::parse_endpoint(cfg.docker_host, cfg.tls_verify, cfg.cert_path);
  if (!endpoint) return bad_config("--docker-host: " + endpoint.error());

  nw::state::Store store(cfg.history_size);
  nw::watch::Options wo;
  wo.endpoint = *endpoint;
  wo.task_poll_interval = cfg.task_poll_interval;
  wo.resync_interval = cfg.resync_interval;
  wo.event_watchdog = cfg.event_watchdog;
  auto redactor = nw::state::EnvRedactor::compile(cfg.redact_env);
  if (!redactor) return bad_config("--redact-env: " + redactor.error());
  wo.redact = std::move(*redactor);
  nw::watch::Watcher watcher(wo, store);

  nw::http::Settings hs;
  hs.base_path = cfg.base_path;
  hs.tag_authority = cfg.tag_authority;
  hs.ready_grace = cfg.ready_grace;
  hs.max_search_chars = cfg.max_search_chars;
  hs.max_filter_chars = cfg.max_filter_chars;
  hs.cors_origins = cfg.cors_origins;
  hs.cache_bytes = cfg.cache_bytes;
  hs.version = NARWHAL_VERSION;
  nw::metrics::Exposition exposition;
  hs.metrics = [&exposition] { return exposition.text(); };
  // The hub streams what the store publishes; the cluster summary it sends asks the handler
  // whether narwhal is ready (the same answer as /-/ready).
  const nw::http::Handler* ready_source = nullptr;
  nw::live::HubOptions ho;
  ho.batch_interval = cfg.sse_batch_interval;
  ho.keepalive = cfg.sse_keepalive;
  ho.max_streams = cfg.sse_max_streams;
  ho.queue_bytes = cfg.sse_queue_bytes;
  ho.replay_events = cfg.history_size;
  ho.site.base_path = cfg.base_path;
  ho.ready = [&ready_source] { return ready_source != nullptr && ready_source->ready(); };
  nw::live::Hub hub(ho, store);
  store.set_listener([&hub](const nw::state::SnapshotPtr& snapshot,
                            const std::vector<nw::state::HistoryEntry>& entries) {
    hub.publish(snapshot, entries);
  });
  nw::http::Handler handler(hs, store, &hub);
  ready_source = &handler;
  hub.start();

  nw::http::ServerOptions so;
  so.host = cfg.listen_host;
  so.port = cfg.listen_port;
  so.threads = cfg.threads != 0 ? cfg.threads : std::max(1U, std::thread::hardware_concurrency());
  so.max_header_bytes = cfg.max_header_bytes;
  so.header_timeout = cfg.header_timeout;
  so.idle_timeout = cfg.idle_timeout;
  so.max_connections = cfg.max_connections;
  so.render_threads = cfg.render_threads != 0 ? static_cast<unsigned>(cfg.render_threads)
                                              : std::max(1U, std::thread::hardware_concurrency());
  so.render_queue = cfg.render_queue;
  so.tls_cert = cfg.tls_cert;
  so.tls_key = cfg.tls_key;
  nw::metrics::RequestMetrics request_metrics;
  so.observe = [&request_metrics](const nw::http::ServerOptions::Observation& o) {
    request_metrics.observe(o.route, o.method, o.status, o.problem, o.seconds);
  };
  nw::http::Server server(so, handler);
  server.set_links_base(cfg.base_path);
  exposition.add([&](std::vector<Family>& out) {
    own_families(hub, server, handler, store, out);
    watcher_families(watcher, store, out);
  });
  exposition.add(request_metrics);
  try {
    server.start();
  } catch (const std::exception& e) {
    const bool tls_problem = std::string_view(e.what()).starts_with("TLS");
    std::fprintf(stderr, "narwhal: %s: %s\n", tls_problem ? "--tls-cert/--tls-key" : "--listen",
                 e.what());
    return 2;
  }
  watcher.start();
  nw::util::log::info("narwhal listening",
                      {{"address", cfg.listen_host + ":" + std::to_string(server.port())},
                       {"engine", endpoint->describe()},
                       {"version", NARWHAL_VERSION}});

  int sig = 0;
  sigwait(&signals, &sig);
  nw::util::log::info("shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  // In the reverse order of the start: nothing new comes from the engine; the server stops
  // accepting, ends its event streams and drains its requests (a stream asked for meanwhile is
  // never refused for a hub already gone); then the hub.
  watcher.stop();
  server.stop();
  hub.stop();
  if (demo) {
    demo->stop();
    std::error_code ec;
    std::filesystem::remove_all(demo_dir, ec);
  }
  nw::util::log::info("stopped");
  return 0;
}
