// Builds an initial swarm directly, as if it had been running for a while: objects get staggered
// creation times and increasing versions, and no events (dockerd's event buffer starts empty).
#pragma once

#include <cstdint>
#include <string>

#include "clock.hpp"
#include "ids.hpp"
#include "swarm.hpp"

namespace narwhal::sim {

// A service spec as `docker stack deploy` writes it: "<stack>_<name>", stack labels, restart
// policy, update config. `stack` may be empty for a plain `docker service create`.
[[nodiscard]] ServiceSpec make_service_spec(const std::string& stack, const std::string& name,
                                            const std::string& image);

class SwarmBuilder {
 public:
  SwarmBuilder(Swarm& swarm, IdSource& ids, Nanos start, Nanos step);

  Nanos advance();  // the build clock moves on by about one step
  [[nodiscard]] IdSource& ids() { return ids_; }

  void cluster();  // the swarm itself and its join tokens
  Node& node(const std::string& hostname, bool manager, Labels labels);
  void default_networks();  // ingress and the local bridge, host, none, docker_gwbridge
  Network& overlay(const std::string& name, const std::string& stack, bool attachable = false);
  Config& config(const std::string& name, const std::string& stack, const std::string& data);
  Secret& secret(const std::string& name, const std::string& stack);
  Volume& volume(const std::string& name, const std::string& stack);
  Service& service(ServiceSpec spec);

  // A task running on `node_id` since now.
  Task& running(Service& service, std::uint64_t slot, const std::string& node_id);
  // Ends a task: shutdown (stopped by the orchestrator), failed, complete or rejected.
  void end(Task& task, TaskState state);
  // The service's image changes to `image`; tasks created afterwards run it.
  void change_image(Service& service, const std::string& image);

 private:
  Swarm& swarm_;
  IdSource& ids_;
  Nanos clock_;
  Nanos step_;
  std::uint32_t next_subnet_ = 1;
};

}  // namespace narwhal::sim
