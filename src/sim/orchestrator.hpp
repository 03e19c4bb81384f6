// Changes the swarm the way swarmkit's orchestrators and the nodes' agents would, and emits the
// events dockerd emits for each step (none for tasks themselves: only their containers). Multi-
// step changes (a task starting, a rolling update) run on timers driven by run_due().
// Not thread-safe: every call expects the model mutex to be held.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "clock.hpp"
#include "event_bus.hpp"
#include "ids.hpp"
#include "swarm.hpp"

namespace narwhal::sim {

class Orchestrator {
 public:
  Orchestrator(Swarm& swarm, EventBus& bus, IdSource& ids, bool die_has_exec_duration);

  // Schedules what the initial swarm implies: pending tasks start, rejected ones are retried.
  void adopt();

  std::string create_service(ServiceSpec spec);
  bool scale_service(std::string_view ref, std::uint64_t replicas);
  bool remove_service(std::string_view ref);
  bool update_image(std::string_view ref, const std::string& image);
  bool fail_task_of(std::string_view ref);
  bool drain_node(std::string_view ref, Nanos back_after);
  bool take_node_down(std::string_view ref, Nanos back_after);
  std::string create_config(const std::string& name, const Labels& labels, const std::string& data);
  bool remove_config(std::string_view ref);
  // Creates "<stack>_default" if missing (as `docker stack deploy` does) and returns its ID.
  std::string ensure_stack_network(const std::string& stack);

  void churn_once();
  void run_due(Nanos now);
  // The local-scope `destroy` of every overlay network, as a stopping daemon emits them.
  void emit_shutdown();

 private:
  using Action = std::function<void()>;

  void after(Nanos delay, Action action);
  void emit(std::string type, std::string action, std::string actor_id, Labels attributes,
            std::string scope = "swarm");
  void emit_container(const Task& task, std::string action, Labels extra = {});

  Service* find_service(std::string_view ref);
  Node* find_node(std::string_view ref);
  Service* random_service(bool replicated_only);
  Node* random_worker();

  bool node_eligible(const Node& node, const TaskTemplate& tmpl) const;
  std::string pick_node(const TaskTemplate& tmpl);
  Task& spawn(Service& service, std::uint64_t slot, const std::string& node_id);
  void start(const std::string& task_id);
  void retry_rejected(const std::string& task_id);
  void shut_down(Task& task);
  void finish_shutdown(const std::string& task_id);
  void respawn(const std::string& service_id, std::uint64_t slot, const std::string& node_id);
  void prune(Service& service, std::uint64_t slot, const std::string& node_id);
  void reconcile(Service& service);
  void ensure_global_tasks(const Node& node);
  void start_unassigned();
  void update_step(const std::string& service_id, const void* target_spec);
  void restore_node(const std::string& node_id);

  Swarm& swarm_;
  EventBus& bus_;
  IdSource& ids_;
  bool die_has_exec_duration_;
  std::multimap<Nanos, Action> timers_;
  std::vector<std::string> churned_configs_;
  std::uint64_t config_serial_ = 0;
  bool node_away_ = false;  // churn keeps at most one node drained or down
};

}  // namespace narwhal::sim
