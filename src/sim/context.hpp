// Everything the HTTP handlers, the ticker and the Engine share. Lock order: model_mutex, then
// the bus's and the fault switch's own locks (never the other way round).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "event_bus.hpp"
#include "ids.hpp"
#include "narwhal/sim/engine.hpp"
#include "orchestrator.hpp"
#include "swarm.hpp"
#include "system_shapes.hpp"

namespace narwhal::sim {

// The faults a test switched on; delays end early when the engine stops.
class FaultSwitch {
 public:
  [[nodiscard]] Faults get() const {
    std::lock_guard lock(mutex_);
    return faults_;
  }
  void set(const Faults& faults) {
    {
      std::lock_guard lock(mutex_);
      faults_ = faults;
    }
    woken_.notify_all();
  }
  void sleep(std::chrono::milliseconds delay) {
    std::unique_lock lock(mutex_);
    woken_.wait_for(lock, delay, [this] { return closed_; });
  }
  // Blocks while the engine is frozen (until thawed or closed), as a stopped process would.
  void wait_while_frozen() {
    std::unique_lock lock(mutex_);
    woken_.wait(lock, [this] { return closed_ || !faults_.frozen; });
  }
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    woken_.notify_all();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable woken_;
  Faults faults_;
  bool closed_ = false;
};

struct Context {
  explicit Context(const Options& opts)
      : options(opts),
        identity(identity_for(opts.api_version)),
        ids(opts.seed),
        // `die` events carry execDuration since Docker 23 (API 1.42).
        orchestrator(swarm, bus, ids, compare_api_versions(opts.api_version, "1.42") >= 0) {}

  const Options options;
  const Identity identity;
  std::mutex model_mutex;  // guards swarm, ids and orchestrator
  Swarm swarm;
  IdSource ids;
  EventBus bus;
  Orchestrator orchestrator;
  FaultSwitch faults;
  bool shutting_down = false;  // guarded by model_mutex; see Engine::begin_shutdown()
};

}  // namespace narwhal::sim
