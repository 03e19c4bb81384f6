#include "narwhal/sim/engine.hpp"

#include <httplib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "api.hpp"
#include "builder.hpp"
#include "context.hpp"
#include "populate.hpp"

namespace narwhal::sim {

namespace {

// Event streams each hold a worker while their client is connected (a stream whose client hung
// up is closed within a poll); narwhal, tests and a few curls together stay well under this.
constexpr std::size_t kWorkerThreads = 32;
// httplib only notices stop() between requests, so an idle keep-alive connection delays it by up
// to this long.
constexpr time_t kKeepAliveSeconds = 1;
constexpr std::chrono::milliseconds kTick{20};

}  // namespace

struct Engine::Impl {
  explicit Impl(const Options& options) : ctx(options), api(ctx) {}

  void tick_loop();

  Context ctx;
  Api api;
  httplib::Server server;
  std::thread listener;
  std::thread ticker;
  std::mutex run_mutex;  // guards the three flags below, and start/stop against each other
  std::condition_variable run_changed;
  bool started = false;
  bool stopping = false;
};

void Engine::Impl::tick_loop() {
  const double rate = ctx.options.churn_per_second;
  const Nanos churn_every = rate > 0 ? static_cast<Nanos>(1e9 / rate) : 0;
  Nanos next_churn = now_nanos() + churn_every;
  std::unique_lock run_lock(run_mutex);
  while (!stopping) {
    run_changed.wait_for(run_lock, kTick, [this] { return stopping; });
    if (stopping) break;
    run_lock.unlock();
    {
      std::lock_guard lock(ctx.model_mutex);
      const Nanos now = now_nanos();
      ctx.orchestrator.run_due(now);
      // Catch up after a slow tick, but never by more than a burst.
      for (int burst = 0; churn_every > 0 && next_churn <= now && burst < 100; ++burst) {
        ctx.orchestrator.churn_once();
        next_churn += churn_every;
      }
      if (churn_every > 0 && next_churn <= now) next_churn = now + churn_every;
    }
    run_lock.lock();
  }
}

Engine::Engine(Options options) : impl_(std::make_unique<Impl>(options)) {
  Context& ctx = impl_->ctx;
  std::lock_guard lock(ctx.model_mutex);
  if (options.services == 0) {
    populate_demo(ctx.swarm, ctx.ids, now_nanos());
  } else {
    populate_generated(ctx.swarm, ctx.ids, now_nanos(), options.services,
                       options.tasks_per_service);
  }
  ctx.orchestrator.adopt();
}

Engine::~Engine() {
  stop();
}

void Engine::start() {
  Impl& impl = *impl_;
  std::lock_guard run_lock(impl.run_mutex);
  if (impl.stopping) throw std::runtime_error("narwhal::sim::Engine: start() after stop()");
  if (impl.started) return;
  const std::string& path = impl.ctx.options.socket_path;
  if (path.empty()) throw std::runtime_error("narwhal::sim::Engine: socket_path is empty");

  httplib::Server& server = impl.server;
  server.new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  server.set_address_family(AF_UNIX);
  server.set_keep_alive_timeout(kKeepAliveSeconds);
  server.set_keep_alive_max_count(1000);
  const Identity& id = impl.ctx.identity;
  server.set_default_headers({{"Api-Version", id.api_version},
                              {"Docker-Experimental", "false"},
                              {"Ostype", "linux"},
                              {"Server", id.server_header()}});
  // dockerd never compresses; httplib would gzip JSON for any client that offers it (and buffer
  // the event stream inside the compressor). The request object is a non-const local inside
  // httplib, so dropping the header before routing is well-defined.
  server.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
    // Go's net/http refuses a Host that is not a host name (a client that sends the socket path
    // gets this answer from a real dockerd on every request).
    const std::string host = req.get_header_value("Host");
    if (host.find('/') != std::string::npos || host.find(' ') != std::string::npos) {
      res.status = 400;
      res.set_content("400 Bad Request: malformed Host header", "text/plain; charset=utf-8");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  auto handler = [&impl](const httplib::Request& req, httplib::Response& res) {
    impl.api.handle(req, res);
  };
  server.Get(".*", handler);
  server.Post(".*", handler);
  server.Put(".*", handler);
  server.Delete(".*", handler);
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        const Reply r = error_reply(500, what);
        res.status = r.status;
        res.set_content(r.body, r.content_type);
      });

  ::unlink(path.c_str());
  if (!server.bind_to_port(path, 80)) {
    throw std::runtime_error("narwhal::sim::Engine: cannot listen on unix socket " + path + ": " +
                             std::strerror(errno));
  }
  ::chmod(path.c_str(), 0600);
  auto listening = std::make_shared<std::atomic<bool>>(true);
  impl.listener = std::thread([&server, listening] {
    server.listen_after_bind();
    *listening = false;
  });
  // httplib's stop() is a no-op until the accept loop runs (it starts within microseconds): wait
  // for it so that stop() can never miss it.
  while (!server.is_running()) {
    if (!*listening) {
      impl.listener.join();
      throw std::runtime_error("narwhal::sim::Engine: the server did not start on " + path);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  impl.ticker = std::thread([&impl] { impl.tick_loop(); });
  impl.started = true;
}

void Engine::stop() {
  Impl& impl = *impl_;
  {
    std::lock_guard run_lock(impl.run_mutex);
    if (impl.stopping) return;
    impl.stopping = true;
  }
  impl.run_changed.notify_all();
  // Wake everything that waits inside a request first: event streams end, delays return.
  impl.ctx.bus.close();
  impl.ctx.faults.close();
  if (impl.ticker.joinable()) impl.ticker.join();
  if (impl.listener.joinable()) {
    impl.server.stop();
    impl.listener.join();
    ::unlink(impl.ctx.options.socket_path.c_str());
  }
}

std::string Engine::docker_host() const {
  return "unix://" + impl_->ctx.options.socket_path;
}

void Engine::set_faults(const Faults& faults) {
  impl_->ctx.faults.set(faults);
}

void Engine::drop_event_streams() {
  impl_->ctx.bus.drop_streams();
}

void Engine::begin_shutdown() {
  std::lock_guard lock(impl_->ctx.model_mutex);
  impl_->ctx.shutting_down = true;
  impl_->ctx.orchestrator.emit_shutdown();
}

bool Engine::scale_service(const std::string& name, std::uint64_t replicas) {
  std::lock_guard lock(impl_->ctx.model_mutex);
  return impl_->ctx.orchestrator.scale_service(name, replicas);
}

bool Engine::remove_service(const std::string& name) {
  std::lock_guard lock(impl_->ctx.model_mutex);
  return impl_->ctx.orchestrator.remove_service(name);
}

std::string Engine::create_service(const std::string& name, std::uint64_t replicas,
                                   const std::string& stack) {
  Context& ctx = impl_->ctx;
  std::lock_guard lock(ctx.model_mutex);
  std::string short_name = name;
  if (!stack.empty() && short_name.starts_with(stack + "_")) {
    short_name = short_name.substr(stack.size() + 1);
  }
  ServiceSpec spec = make_service_spec(stack, short_name, "nginx:1.27-alpine");
  spec.replicas = replicas;
  if (!stack.empty()) {
    spec.task.networks.push_back({ctx.orchestrator.ensure_stack_network(stack), short_name});
  }
  return ctx.orchestrator.create_service(std::move(spec));
}

bool Engine::fail_task_of(const std::string& service_name) {
  std::lock_guard lock(impl_->ctx.model_mutex);
  return impl_->ctx.orchestrator.fail_task_of(service_name);
}

void Engine::churn_once() {
  std::lock_guard lock(impl_->ctx.model_mutex);
  impl_->ctx.orchestrator.churn_once();
}

std::size_t Engine::service_count() const {
  std::lock_guard lock(impl_->ctx.model_mutex);
  return impl_->ctx.swarm.services.size();
}

std::vector<std::string> Engine::replicated_service_names() const {
  std::lock_guard lock(impl_->ctx.model_mutex);
  std::vector<std::string> out;
  for (const auto& [id, svc] : impl_->ctx.swarm.services) {
    if (!svc.spec.global) out.push_back(svc.spec.name);
  }
  return out;
}

std::size_t Engine::task_count() const {
  std::lock_guard lock(impl_->ctx.model_mutex);
  return impl_->ctx.swarm.tasks.size();
}

}  // namespace narwhal::sim
