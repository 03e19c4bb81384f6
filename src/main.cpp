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
#include "narwhal/sim/engine.hpp"
#include "narwhal/state/store.hpp"
#include "narwhal/util/log.hpp"
#include "narwhal/watch/watcher.hpp"

#ifndef NARWHAL_VERSION
#define NARWHAL_VERSION "0.1.0"
#endif

namespace {

using narwhal::util::log::Level;

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
  nw::watch::Watcher watcher(wo, store);

  nw::http::Settings hs;
  hs.base_path = cfg.base_path;
  hs.ready_grace = cfg.ready_grace;
  hs.max_search_chars = cfg.max_search_chars;
  hs.max_filter_chars = cfg.max_filter_chars;
  hs.cors_origins = cfg.cors_origins;
  hs.version = NARWHAL_VERSION;
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
  so.tls_cert = cfg.tls_cert;
  so.tls_key = cfg.tls_key;
  nw::http::Server server(so, handler);
  server.set_links_base(cfg.base_path);
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
  hub.stop();  // ends every event stream, so the drain below is about requests only
  server.stop();
  watcher.stop();
  if (demo) {
    demo->stop();
    std::error_code ec;
    std::filesystem::remove_all(demo_dir, ec);
  }
  nw::util::log::info("stopped");
  return 0;
}
