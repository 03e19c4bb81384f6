#include "orchestrator.hpp"

#include <algorithm>
#include <utility>

namespace narwhal::sim {

namespace {

// Fast enough for tests to watch, slow enough for a human to see a task pending in --demo.
constexpr Nanos kStartDelay = 150 * kNanosPerMilli;
constexpr Nanos kStopDelay = 100 * kNanosPerMilli;
constexpr Nanos kRestartDelay = 300 * kNanosPerMilli;
constexpr Nanos kUpdateStep = 400 * kNanosPerMilli;
constexpr Nanos kRejectRetry = 5 * kNanosPerSecond;  // as an unpullable image retries
constexpr Nanos kRemovedTasksLinger = 1500 * kNanosPerMilli;
constexpr std::size_t kHistoryLimit = 5;  // TaskHistoryRetentionLimit

bool holds_slot(const Task& t) {
  return t.desired == TaskState::kRunning || t.desired == TaskState::kReady;
}

}  // namespace

Orchestrator::Orchestrator(Swarm& swarm, EventBus& bus, IdSource& ids, bool die_has_exec_duration)
    : swarm_(swarm), bus_(bus), ids_(ids), die_has_exec_duration_(die_has_exec_duration) {}

void Orchestrator::adopt() {
  for (auto& [id, task] : swarm_.tasks) {
    if (task.state == TaskState::kPending && task.desired == TaskState::kRunning) {
      after(kStartDelay, [this, task_id = id] { start(task_id); });
    } else if (task.state == TaskState::kRejected && task.desired == TaskState::kReady) {
      after(kRejectRetry, [this, task_id = id] { retry_rejected(task_id); });
    }
  }
}

void Orchestrator::after(Nanos delay, Action action) {
  timers_.emplace(now_nanos() + delay, std::move(action));
}

void Orchestrator::run_due(Nanos now) {
  while (!timers_.empty() && timers_.begin()->first <= now) {
    auto due = timers_.extract(timers_.begin());
    due.mapped()();
  }
}

void Orchestrator::emit(std::string type, std::string action, std::string actor_id,
                        Labels attributes, std::string scope) {
  bus_.publish(Event{std::move(type), std::move(action), std::move(actor_id), std::move(attributes),
                     std::move(scope), "", now_nanos()});
}

void Orchestrator::emit_shutdown() {
  for (const auto& [id, n] : swarm_.networks) {
    if (n.scope == "swarm")
      emit("network", "destroy", id, {{"name", n.name}, {"type", n.driver}}, "local");
  }
}

void Orchestrator::emit_container(const Task& t, std::string action, Labels extra) {
  Labels attrs = t.spec->tmpl.container_labels;
  attrs.merge(extra);
  const std::string name = task_name(t);
  attrs["com.docker.swarm.node.id"] = t.node_id;
  attrs["com.docker.swarm.service.id"] = t.service_id;
  attrs["com.docker.swarm.service.name"] = t.service_name;
  attrs["com.docker.swarm.task"] = "";
  attrs["com.docker.swarm.task.id"] = t.id;
  attrs["com.docker.swarm.task.name"] = name;
  attrs["image"] = t.spec->tmpl.image;
  attrs["name"] = name;
  bus_.publish(Event{"container", std::move(action), t.container_id, std::move(attrs), "local",
                     t.spec->tmpl.image, now_nanos()});
}

Service* Orchestrator::find_service(std::string_view ref) {
  return resolve(swarm_.services, ref,
                 [](const Service& s) -> const std::string& { return s.spec.name; })
      .object;
}

Node* Orchestrator::find_node(std::string_view ref) {
  return resolve(swarm_.nodes, ref, [](const Node& n) -> const std::string& { return n.hostname; })
      .object;
}

bool Orchestrator::node_eligible(const Node& node, const TaskTemplate& tmpl) const {
  if (node.availability != "active" || node.state != "ready") return false;
  for (const auto& c : tmpl.constraints) {
    const bool negate = c.find("!=") != std::string::npos;
    const auto op = c.find(negate ? "!=" : "==");
    if (op == std::string::npos) continue;
    const std::string key = c.substr(0, op);
    const std::string want = c.substr(op + 2);
    std::string have;
    if (key == "node.role") {
      have = node.role;
    } else if (key == "node.hostname") {
      have = node.hostname;
    } else if (key.starts_with("node.labels.")) {
      auto it = node.labels.find(key.substr(12));
      if (it != node.labels.end()) have = it->second;
    }
    if ((have == want) == negate) return false;
  }
  return true;
}

std::string Orchestrator::pick_node(const TaskTemplate& tmpl) {
  std::vector<const Node*> eligible;
  for (const auto& [id, node] : swarm_.nodes) {
    if (node_eligible(node, tmpl)) eligible.push_back(&node);
  }
  if (eligible.empty()) return {};
  return eligible[ids_.below(eligible.size())]->id;
}

Task& Orchestrator::spawn(Service& service, std::uint64_t slot, const std::string& node_id) {
  Task& task = swarm_.add_task(service, ids_.swarm_id(), slot, node_id, now_nanos());
  const std::string id = task.id;
  prune(service, slot, node_id);
  after(kStartDelay, [this, id] { start(id); });
  return swarm_.tasks.at(id);
}

void Orchestrator::start(const std::string& task_id) {
  auto it = swarm_.tasks.find(task_id);
  if (it == swarm_.tasks.end()) return;
  Task& t = it->second;
  if (t.state != TaskState::kPending || t.desired != TaskState::kRunning) return;
  auto service = swarm_.services.find(t.service_id);
  if (service == swarm_.services.end()) return;
  const Nanos now = now_nanos();
  if (t.node_id.empty()) {
    t.node_id = pick_node(t.spec->tmpl);
    if (t.node_id.empty()) {
      // Stays pending until a node comes back (start_unassigned).
      t.message = "no suitable node (scheduling constraints not satisfied on all nodes)";
      swarm_.touch(t, now);
      return;
    }
  }
  auto node = swarm_.nodes.find(t.node_id);
  if (node == swarm_.nodes.end() || !node_eligible(node->second, t.spec->tmpl)) {
    // A global task whose node went away meanwhile: the node's return creates a fresh one.
    shut_down(t);
    return;
  }
  t.status_time = now;
  if (service->second.image_missing) {
    // No container, so no event at all: only a re-list shows this.
    t.state = TaskState::kRejected;
    t.desired = TaskState::kReady;
    t.message = "preparing";
    t.err = "No such image: " + t.spec->tmpl.image;
    swarm_.touch(t, now);
    after(kRejectRetry, [this, task_id] { retry_rejected(task_id); });
    return;
  }
  t.state = TaskState::kRunning;
  t.message = "started";
  t.container_id = ids_.hex_id();
  t.pid = static_cast<std::int64_t>(1000 + ids_.below(60000));
  t.started = now;
  swarm_.touch(t, now);
  emit_container(t, "create");
  emit_container(t, "start");
}

void Orchestrator::retry_rejected(const std::string& task_id) {
  auto it = swarm_.tasks.find(task_id);
  if (it == swarm_.tasks.end() || it->second.desired != TaskState::kReady) return;
  Task& t = it->second;
  t.desired = TaskState::kShutdown;
  swarm_.touch(t, now_nanos());
  respawn(t.service_id, t.slot, t.slot == 0 ? t.node_id : std::string());
}

void Orchestrator::shut_down(Task& t) {
  if (!holds_slot(t)) return;
  const Nanos now = now_nanos();
  t.desired = TaskState::kShutdown;
  if (t.state == TaskState::kPending) {
    t.state = TaskState::kShutdown;
    t.message = "shutdown";
    t.status_time = now;
  }
  swarm_.touch(t, now);
  if (t.state == TaskState::kRunning) {
    after(kStopDelay, [this, id = t.id] { finish_shutdown(id); });
  }
}

void Orchestrator::finish_shutdown(const std::string& task_id) {
  auto it = swarm_.tasks.find(task_id);
  if (it == swarm_.tasks.end()) return;
  Task& t = it->second;
  if (t.state != TaskState::kRunning || t.desired != TaskState::kShutdown) return;
  auto node = swarm_.nodes.find(t.node_id);
  // A down node's agent can't report; restore_node() finishes the job.
  if (node != swarm_.nodes.end() && node->second.state != "ready") return;
  const Nanos now = now_nanos();
  emit_container(t, "kill", {{"signal", "15"}});
  t.state = TaskState::kShutdown;
  t.message = "shutdown";
  t.status_time = now;
  t.pid = 0;
  swarm_.touch(t, now);
  Labels die{{"exitCode", "0"}};
  if (die_has_exec_duration_) {
    die["execDuration"] = std::to_string((now - t.started) / kNanosPerSecond);
  }
  emit_container(t, "die", std::move(die));
  emit_container(t, "stop");
}

void Orchestrator::respawn(const std::string& service_id, std::uint64_t slot,
                           const std::string& node_id) {
  auto it = swarm_.services.find(service_id);
  if (it == swarm_.services.end()) return;
  Service& s = it->second;
  if (!s.spec.global && slot > s.spec.replicas) return;
  for (const auto& id : s.task_ids) {
    const Task& t = swarm_.tasks.at(id);
    if (holds_slot(t) && t.slot == slot && (slot != 0 || t.node_id == node_id)) return;
  }
  if (s.spec.global) {
    auto node = swarm_.nodes.find(node_id);
    if (node == swarm_.nodes.end() || !node_eligible(node->second, s.spec.task)) return;
  }
  spawn(s, slot, node_id);
}

void Orchestrator::prune(Service& service, std::uint64_t slot, const std::string& node_id) {
  std::vector<std::string> dead;
  for (const auto& id : service.task_ids) {
    const Task& t = swarm_.tasks.at(id);
    if (t.slot == slot && (slot != 0 || t.node_id == node_id) && !holds_slot(t) &&
        is_terminal(t.state)) {
      dead.push_back(id);
    }
  }
  for (std::size_t i = 0; i + kHistoryLimit < dead.size(); ++i) {
    const Task& t = swarm_.tasks.at(dead[i]);
    if (!t.container_id.empty()) emit_container(t, "destroy");
    swarm_.erase_task(dead[i]);
  }
}

void Orchestrator::reconcile(Service& s) {
  if (s.spec.global) {
    for (const auto& [id, node] : swarm_.nodes) ensure_global_tasks(node);
    return;
  }
  std::vector<bool> filled(s.spec.replicas + 1, false);
  std::vector<Task*> surplus;
  for (const auto& id : s.task_ids) {
    Task& t = swarm_.tasks.at(id);
    if (!holds_slot(t)) continue;
    if (t.slot <= s.spec.replicas) {
      filled[t.slot] = true;
    } else {
      surplus.push_back(&t);
    }
  }
  for (Task* t : surplus) shut_down(*t);
  for (std::uint64_t slot = 1; slot <= s.spec.replicas; ++slot) {
    if (!filled[slot]) spawn(s, slot, "");
  }
}

void Orchestrator::ensure_global_tasks(const Node& node) {
  for (auto& [id, s] : swarm_.services) {
    if (!s.spec.global || !node_eligible(node, s.spec.task)) continue;
    respawn(id, 0, node.id);
  }
}

void Orchestrator::start_unassigned() {
  for (const auto& [id, t] : swarm_.tasks) {
    if (t.state == TaskState::kPending && t.node_id.empty() && t.desired == TaskState::kRunning) {
      after(kStartDelay, [this, task_id = id] { start(task_id); });
    }
  }
}

std::string Orchestrator::create_service(ServiceSpec spec) {
  const Nanos now = now_nanos();
  Service& s = swarm_.add_service(ids_.swarm_id(), std::move(spec), now);
  emit("service", "create", s.id, {{"name", s.spec.name}});
  reconcile(s);
  return s.id;
}

bool Orchestrator::scale_service(std::string_view ref, std::uint64_t replicas) {
  Service* s = find_service(ref);
  if (s == nullptr || s->spec.global) return false;
  const std::uint64_t old = s->spec.replicas;
  if (old == replicas) return true;
  s->previous = s->spec;
  s->spec.replicas = replicas;
  swarm_.touch(*s, now_nanos());
  emit("service", "update", s->id,
       {{"name", s->spec.name},
        {"replicas.new", std::to_string(replicas)},
        {"replicas.old", std::to_string(old)}});
  reconcile(*s);
  return true;
}

bool Orchestrator::remove_service(std::string_view ref) {
  Service* s = find_service(ref);
  if (s == nullptr) return false;
  const std::string id = s->id;
  emit("service", "remove", id, {{"name", s->spec.name}});
  // As swarmkit does: the tasks stay listed with desired state "remove" while their containers
  // stop, and leave the task list a moment later (REAL-DOCKERD.md; ~1.5 s on Docker 20.10).
  const Nanos now = now_nanos();
  std::vector<std::string> task_ids = s->task_ids;
  for (const auto& task_id : task_ids) {
    Task& t = swarm_.tasks.at(task_id);
    t.desired = TaskState::kRemove;
    if (t.state == TaskState::kRunning) {
      emit_container(t, "kill", {{"signal", "15"}});
      emit_container(t, "die", {{"exitCode", "0"}});
      emit_container(t, "stop");
      t.state = TaskState::kShutdown;
      t.message = "shutdown";
    }
    if (!t.container_id.empty()) emit_container(t, "destroy");
    swarm_.touch(t, now);
  }
  swarm_.services.erase(id);
  after(kRemovedTasksLinger, [this, task_ids] {
    for (const auto& task_id : task_ids) swarm_.tasks.erase(task_id);
  });
  return true;
}

bool Orchestrator::update_image(std::string_view ref, const std::string& image) {
  Service* s = find_service(ref);
  if (s == nullptr || s->spec.task.image == image) return false;
  const Nanos now = now_nanos();
  const std::string old_image = s->spec.task.image;
  s->previous = s->spec;
  s->spec.task.image = image;
  if (s->spec.labels.contains(kStackImageLabel)) s->spec.labels[kStackImageLabel] = image;
  swarm_.refresh_task_spec(*s);
  swarm_.touch(*s, now);
  emit("service", "update", s->id,
       {{"image.new", image}, {"image.old", old_image}, {"name", s->spec.name}});
  Labels state{{"name", s->spec.name}, {"updatestate.new", "updating"}};
  if (s->update) state["updatestate.old"] = s->update->state;
  s->update = UpdateStatus{"updating", now, 0, "update in progress"};
  swarm_.touch(*s, now);
  emit("service", "update", s->id, std::move(state));
  after(kUpdateStep, [this, id = s->id, target = static_cast<const void*>(s->task_spec.get())] {
    update_step(id, target);
  });
  return true;
}

void Orchestrator::update_step(const std::string& service_id, const void* target_spec) {
  auto it = swarm_.services.find(service_id);
  // A newer update replaced the spec: its own steps take over.
  if (it == swarm_.services.end() || it->second.task_spec.get() != target_spec) return;
  Service& s = it->second;
  for (const auto& id : s.task_ids) {
    Task& t = swarm_.tasks.at(id);
    if (t.desired != TaskState::kRunning || t.spec.get() == target_spec) continue;
    const std::uint64_t slot = t.slot;
    const std::string node_id = slot == 0 ? t.node_id : std::string();
    shut_down(t);
    spawn(s, slot, node_id);
    after(kUpdateStep, [this, service_id, target_spec] { update_step(service_id, target_spec); });
    return;
  }
  const Nanos now = now_nanos();
  s.update = UpdateStatus{"completed", s.update ? s.update->started : now, now, "update completed"};
  swarm_.touch(s, now);
  emit("service", "update", s.id,
       {{"name", s.spec.name}, {"updatestate.new", "completed"}, {"updatestate.old", "updating"}});
}

bool Orchestrator::fail_task_of(std::string_view ref) {
  Service* s = find_service(ref);
  if (s == nullptr) return false;
  std::vector<Task*> running;
  for (const auto& id : s->task_ids) {
    Task& t = swarm_.tasks.at(id);
    if (t.state == TaskState::kRunning && t.desired == TaskState::kRunning) running.push_back(&t);
  }
  if (running.empty()) return false;
  Task& t = *running[ids_.below(running.size())];
  const Nanos now = now_nanos();
  t.state = TaskState::kFailed;
  t.desired = TaskState::kShutdown;
  t.exit_code = 1;
  t.pid = 0;
  t.err = "task: non-zero exit (1)";
  t.status_time = now;
  swarm_.touch(t, now);
  Labels die{{"exitCode", "1"}};
  if (die_has_exec_duration_) {
    die["execDuration"] = std::to_string((now - t.started) / kNanosPerSecond);
  }
  emit_container(t, "die", std::move(die));
  after(kRestartDelay, [this, service_id = t.service_id, slot = t.slot,
                        node_id = t.slot == 0 ? t.node_id : std::string()] {
    respawn(service_id, slot, node_id);
  });
  return true;
}

}  // namespace narwhal::sim
