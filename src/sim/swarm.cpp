#include "swarm.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "shapes.hpp"

namespace narwhal::sim {

namespace {

constexpr std::array<std::string_view, 14> kTaskStateNames = {
    "new",     "pending",  "assigned", "accepted", "preparing", "ready",  "starting",
    "running", "complete", "shutdown", "failed",   "rejected",  "remove", "orphaned"};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string_view task_state_name(TaskState state) {
  return kTaskStateNames[static_cast<std::size_t>(state)];
}

std::optional<TaskState> parse_task_state(std::string_view name) {
  for (std::size_t i = 0; i < kTaskStateNames.size(); ++i) {
    if (iequals(kTaskStateNames[i], name)) return static_cast<TaskState>(i);
  }
  return std::nullopt;
}

bool is_terminal(TaskState state) {
  return state > TaskState::kRunning;
}

std::string task_name(const Task& task) {
  std::string name = task.service_name;
  name += '.';
  name += task.slot != 0 ? std::to_string(task.slot) : task.node_id;
  name += '.';
  name += task.id;
  return name;
}

std::string Swarm::allocate_address(const std::string& network_id) {
  auto it = networks.find(network_id);
  if (it == networks.end() || it->second.subnet.empty()) return {};
  Network& n = it->second;
  // "10.0.7.0/24" -> "10.0.7." + host: hosts wrap around in a big generated swarm; nothing reads
  // them as unique.
  const std::string prefix = n.subnet.substr(0, n.subnet.rfind('.') + 1);
  const std::uint32_t host = n.next_host;
  n.next_host = n.next_host >= 254 ? 2 : n.next_host + 1;
  return prefix + std::to_string(host) + "/24";
}

Service& Swarm::add_service(std::string id, ServiceSpec spec, Nanos now) {
  Service service;
  stamp_new(service, std::move(id), now);
  service.spec = std::move(spec);
  if (service.spec.endpoint_mode == "vip") {
    if (!service.spec.ports.empty()) {
      for (const auto& [network_id, network] : networks) {
        if (network.ingress) service.vips.push_back({network_id, allocate_address(network_id)});
      }
    }
    for (const auto& ref : service.spec.task.networks) {
      service.vips.push_back({ref.id, allocate_address(ref.id)});
    }
  }
  refresh_task_spec(service);
  const std::string key = service.id;
  return services.insert_or_assign(key, std::move(service)).first->second;
}

void Swarm::refresh_task_spec(Service& service) {
  service.task_spec = std::make_shared<const TaskSpec>(
      TaskSpec{service.spec.task, render_task_spec(service.spec.task)});
}

Task& Swarm::add_task(Service& service, std::string id, std::uint64_t slot, std::string node_id,
                      Nanos now) {
  Task task;
  stamp_new(task, std::move(id), now);
  task.service_id = service.id;
  task.service_name = service.spec.name;
  task.slot = slot;
  task.node_id = std::move(node_id);
  task.state = TaskState::kPending;
  task.desired = TaskState::kRunning;
  task.status_time = now;
  task.message = "pending task scheduling";
  task.spec = service.task_spec;
  if (!service.spec.ports.empty() && service.spec.endpoint_mode == "vip") {
    for (const auto& [network_id, network] : networks) {
      if (network.ingress) task.attachments.push_back({network_id, allocate_address(network_id)});
    }
  }
  for (const auto& ref : service.spec.task.networks) {
    task.attachments.push_back({ref.id, allocate_address(ref.id)});
  }
  service.task_ids.push_back(task.id);
  const std::string key = task.id;
  return tasks.insert_or_assign(key, std::move(task)).first->second;
}

void Swarm::erase_task(const std::string& id) {
  auto it = tasks.find(id);
  if (it == tasks.end()) return;
  if (auto s = services.find(it->second.service_id); s != services.end()) {
    auto& ids = s->second.task_ids;
    ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
  }
  tasks.erase(it);
}

}  // namespace narwhal::sim
