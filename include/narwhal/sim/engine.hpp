// The simulated Docker Engine: an HTTP server on a private unix socket that speaks the subset of
// the Engine API narwhal uses, with the real engine's JSON shapes and quirks (REAL-DOCKERD.md).
// It backs `narwhal --demo`, the fault-injection tests and the scale benchmarks. Thread-safe: the
// swarm model is guarded by one mutex; request handlers copy what they need under it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace narwhal::sim {

struct Options {
  std::string socket_path;   // where to listen (unix socket; replaced if present)
  std::size_t services = 0;  // 0 = the realistic demo swarm; N = generated, N services
  std::size_t tasks_per_service = 10;
  double churn_per_second = 1.0;  // background changes per second; 0 = the swarm stands still
  std::uint64_t seed = 42;
  std::string api_version = "1.45";  // what /_ping's Api-Version says
};

// Faults a test can switch on and off while the engine runs.
struct Faults {
  int status_code = 0;                 // != 0: every request except /events answers this
  bool garbage = false;                // answer list/inspect calls with malformed JSON
  std::chrono::milliseconds delay{0};  // sleep before answering each request
  bool events_garbage = false;         // interleave malformed lines in the events stream
  // A stopped (SIGSTOP) dockerd: connections are accepted, nothing is answered, open event
  // streams go silent, until the fault is switched off.
  bool frozen = false;
  // After `docker swarm leave`: the swarm endpoints answer 503 "not a swarm manager" while the
  // engine itself (ping, info, networks, volumes, events) keeps answering.
  bool not_manager = false;
};

class Engine {
 public:
  explicit Engine(Options options);
  ~Engine();  // stop()s
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void start();  // binds the socket and starts serving + churning; throws std::runtime_error
  void stop();   // idempotent; closes every open events stream

  [[nodiscard]] std::string docker_host() const;  // "unix://<socket_path>"

  void set_faults(const Faults& faults);
  // Cuts every open events stream mid-body (as a stopping daemon does: no final 0-chunk).
  void drop_event_streams();
  // What a SIGTERMed dockerd does before it goes: its swarm-scope overlay networks leave the
  // network listing and each emits a local-scope `destroy` (cut the streams after it with
  // drop_event_streams(), as the daemon's exit does).
  void begin_shutdown();

  // Direct changes for tests; each emits the events the real engine would.
  bool scale_service(const std::string& name, std::uint64_t replicas);
  bool remove_service(const std::string& name);
  std::string create_service(const std::string& name, std::uint64_t replicas,
                             const std::string& stack = "");  // returns the new ID
  bool fail_task_of(const std::string& service_name);         // a running task fails (exit 1)
  void churn_once();                                          // one random background change

  [[nodiscard]] std::size_t service_count() const;
  // Names of the replicated services, for drivers that change them one at a time.
  [[nodiscard]] std::vector<std::string> replicated_service_names() const;
  [[nodiscard]] std::size_t task_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace narwhal::sim
