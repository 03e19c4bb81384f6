// The changes that happen to nodes and configs, and the random background churn of --demo.
#include <cctype>
#include <iterator>
#include <utility>

#include "orchestrator.hpp"

namespace narwhal::sim {

namespace {

constexpr Nanos kNodeAway = 10 * kNanosPerSecond;
constexpr std::size_t kMaxChurnedConfigs = 3;

// "nginx:1.25-alpine" -> "nginx:1.26-alpine": bumps the tag's last number.
std::string next_tag(const std::string& image) {
  const auto colon = image.rfind(':');
  if (colon == std::string::npos || image.find('/', colon) != std::string::npos) {
    return image + ":2";
  }
  std::size_t end = image.size();
  while (end > colon && !std::isdigit(static_cast<unsigned char>(image[end - 1]))) --end;
  if (end == colon) return image + ".1";
  std::size_t begin = end;
  while (begin > colon + 1 && std::isdigit(static_cast<unsigned char>(image[begin - 1]))) --begin;
  const auto number = std::stoull(image.substr(begin, end - begin));
  return image.substr(0, begin) + std::to_string(number + 1) + image.substr(end);
}

}  // namespace

Service* Orchestrator::random_service(bool replicated_only) {
  if (swarm_.services.empty()) return nullptr;
  // A few tries beat building a candidate list over 10 000 services on every churn.
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto it = std::next(swarm_.services.begin(),
                        static_cast<std::ptrdiff_t>(ids_.below(swarm_.services.size())));
    Service& s = it->second;
    if (s.image_missing || (replicated_only && s.spec.global)) continue;
    return &s;
  }
  return nullptr;
}

Node* Orchestrator::random_worker() {
  std::vector<Node*> workers;
  for (auto& [id, node] : swarm_.nodes) {
    if (node.role == "worker" && node.availability == "active" && node.state == "ready") {
      workers.push_back(&node);
    }
  }
  // Keep somewhere to reschedule to.
  if (workers.size() < 2) return nullptr;
  return workers[ids_.below(workers.size())];
}

bool Orchestrator::drain_node(std::string_view ref, Nanos back_after) {
  Node* node = find_node(ref);
  if (node == nullptr || node->availability != "active") return false;
  const std::string old = node->availability;
  node->availability = "drain";
  swarm_.touch(*node, now_nanos());
  emit("node", "update", node->id,
       {{"availability.new", "drain"}, {"availability.old", old}, {"name", node->hostname}});
  for (auto& [id, t] : swarm_.tasks) {
    if (t.node_id != node->id || t.desired != TaskState::kRunning) continue;
    shut_down(t);
    if (t.slot != 0) {
      after(0, [this, service_id = t.service_id, slot = t.slot] { respawn(service_id, slot, ""); });
    }
  }
  after(back_after, [this, node_id = node->id] {
    auto it = swarm_.nodes.find(node_id);
    if (it == swarm_.nodes.end() || it->second.availability != "drain") return;
    it->second.availability = "active";
    swarm_.touch(it->second, now_nanos());
    emit("node", "update", node_id,
         {{"availability.new", "active"},
          {"availability.old", "drain"},
          {"name", it->second.hostname}});
    node_away_ = false;
    ensure_global_tasks(it->second);
    start_unassigned();
  });
  return true;
}

bool Orchestrator::take_node_down(std::string_view ref, Nanos back_after) {
  Node* node = find_node(ref);
  if (node == nullptr || node->state != "ready") return false;
  const Nanos now = now_nanos();
  node->state = "down";
  swarm_.touch(*node, now);
  emit("node", "update", node->id,
       {{"name", node->hostname}, {"state.new", "down"}, {"state.old", "ready"}});
  // The node's agent is gone: its tasks are rescheduled silently, no container event.
  for (auto& [id, t] : swarm_.tasks) {
    if (t.node_id != node->id || t.desired != TaskState::kRunning) continue;
    if (t.state == TaskState::kPending) {
      shut_down(t);
    } else {
      t.desired = TaskState::kShutdown;
      swarm_.touch(t, now);
    }
    if (t.slot != 0) {
      after(0, [this, service_id = t.service_id, slot = t.slot] { respawn(service_id, slot, ""); });
    }
  }
  after(back_after, [this, node_id = node->id] { restore_node(node_id); });
  return true;
}

void Orchestrator::restore_node(const std::string& node_id) {
  auto it = swarm_.nodes.find(node_id);
  if (it == swarm_.nodes.end() || it->second.state != "down") return;
  Node& node = it->second;
  node.state = "ready";
  swarm_.touch(node, now_nanos());
  emit("node", "update", node_id,
       {{"name", node.hostname}, {"state.new", "ready"}, {"state.old", "down"}});
  node_away_ = false;
  std::vector<std::string> stale;
  for (const auto& [id, t] : swarm_.tasks) {
    if (t.node_id == node_id && t.state == TaskState::kRunning &&
        t.desired == TaskState::kShutdown) {
      stale.push_back(id);
    }
  }
  // Back online, the agent stops what the orchestrator moved elsewhere.
  for (const auto& id : stale) finish_shutdown(id);
  ensure_global_tasks(node);
  start_unassigned();
}

std::string Orchestrator::create_config(const std::string& name, const Labels& labels,
                                        const std::string& data) {
  Config config;
  swarm_.stamp_new(config, ids_.swarm_id(), now_nanos());
  config.name = name;
  config.labels = labels;
  config.data = data;
  const std::string id = config.id;
  swarm_.configs.emplace(id, std::move(config));
  emit("config", "create", id, {{"name", name}});
  return id;
}

bool Orchestrator::remove_config(std::string_view ref) {
  Config* config = resolve(swarm_.configs, ref, [](const Config& c) -> const std::string& {
                     return c.name;
                   }).object;
  if (config == nullptr) return false;
  const std::string id = config->id;
  emit("config", "remove", id, {{"name", config->name}});
  swarm_.configs.erase(id);
  return true;
}

std::string Orchestrator::ensure_stack_network(const std::string& stack) {
  const std::string name = stack + "_default";
  for (const auto& [id, n] : swarm_.networks) {
    if (n.name == name) return id;
  }
  Network n;
  swarm_.stamp_new(n, ids_.swarm_id(), now_nanos());
  n.name = name;
  n.driver = "overlay";
  n.scope = "swarm";
  const auto index = static_cast<std::uint32_t>(swarm_.networks.size() + 100);
  n.subnet = "10." + std::to_string(index / 256) + "." + std::to_string(index % 256) + ".0/24";
  n.gateway = n.subnet.substr(0, n.subnet.rfind('.')) + ".1";
  n.labels = {{kStackLabel, stack}};
  n.vxlan = 4096 + index;
  n.options = {{"com.docker.network.driver.overlay.vxlanid_list", std::to_string(n.vxlan)}};
  const std::string id = n.id;
  swarm_.networks.emplace(id, std::move(n));
  emit("network", "create", id, {{"name", name}});
  return id;
}

void Orchestrator::churn_once() {
  const double pick = ids_.unit();
  if (pick < 0.30) {
    if (Service* s = random_service(true)) {
      const std::uint64_t r = s->spec.replicas;
      const bool up = r <= 1 || (r < 6 && ids_.unit() < 0.5);
      scale_service(s->id, up ? r + 1 : r - 1);
    }
  } else if (pick < 0.45) {
    Service* s = random_service(false);
    if (s != nullptr && !(s->update && s->update->state == "updating")) {
      update_image(s->id, next_tag(s->spec.task.image));
    }
  } else if (pick < 0.70) {
    if (Service* s = random_service(false)) fail_task_of(s->id);
  } else if (pick < 0.85) {
    Node* node = node_away_ ? nullptr : random_worker();
    if (node != nullptr) {
      node_away_ =
          pick < 0.80 ? drain_node(node->id, kNodeAway) : take_node_down(node->id, kNodeAway);
    }
  } else if (churned_configs_.size() >= kMaxChurnedConfigs ||
             (!churned_configs_.empty() && ids_.unit() < 0.4)) {
    remove_config(churned_configs_.front());
    churned_configs_.erase(churned_configs_.begin());
  } else {
    Labels labels;
    std::string name = "feature_flags_v" + std::to_string(++config_serial_);
    if (Service* s = random_service(false); s != nullptr && s->spec.labels.contains(kStackLabel)) {
      const std::string& stack = s->spec.labels.at(kStackLabel);
      labels[kStackLabel] = stack;
      name = stack + "_" + name;
    }
    churned_configs_.push_back(
        create_config(name, labels, "flags=" + std::to_string(config_serial_) + "\n"));
  }
}

}  // namespace narwhal::sim
