#include "builder.hpp"

#include <utility>

namespace narwhal::sim {

namespace {

std::string base36(IdSource& ids, std::size_t length) {
  std::string out;
  while (out.size() < length) out += ids.swarm_id();
  out.resize(length);
  return out;
}

}  // namespace

ServiceSpec make_service_spec(const std::string& stack, const std::string& name,
                              const std::string& image) {
  ServiceSpec spec;
  spec.name = stack.empty() ? name : stack + "_" + name;
  spec.task.image = image;
  if (!stack.empty()) {
    spec.labels = {{kStackImageLabel, image}, {kStackLabel, stack}};
    spec.task.container_labels = {{kStackLabel, stack}};
    spec.task.restart_policy = true;
    spec.update_config = true;
  }
  return spec;
}

SwarmBuilder::SwarmBuilder(Swarm& swarm, IdSource& ids, Nanos start, Nanos step)
    : swarm_(swarm), ids_(ids), clock_(start), step_(step) {}

Nanos SwarmBuilder::advance() {
  clock_ += step_ / 2 + static_cast<Nanos>(ids_.below(static_cast<std::uint64_t>(step_)));
  return clock_;
}

void SwarmBuilder::cluster() {
  swarm_.stamp_new(swarm_.cluster, ids_.swarm_id(), advance());
  swarm_.worker_token = "SWMTKN-1-" + base36(ids_, 50) + "-" + base36(ids_, 25);
  swarm_.manager_token = "SWMTKN-1-" + swarm_.worker_token.substr(9, 50) + "-" + base36(ids_, 25);
  const std::string hex = ids_.hex_id();
  swarm_.daemon_id = hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-4" + hex.substr(13, 3) + "-a" +
                     hex.substr(17, 3) + "-" + hex.substr(20, 12);
}

Node& SwarmBuilder::node(const std::string& hostname, bool manager, Labels labels) {
  Node n;
  swarm_.stamp_new(n, ids_.swarm_id(), advance());
  n.hostname = hostname;
  n.role = manager ? "manager" : "worker";
  n.availability = "active";
  n.state = "ready";
  n.addr = "10.10." + std::to_string(swarm_.nodes.size() / 250) + "." +
           std::to_string(swarm_.nodes.size() % 250 + 10);
  n.labels = std::move(labels);
  n.leader = manager && swarm_.local_node_id.empty();
  n.nano_cpus = manager ? 4'000'000'000 : 8'000'000'000;
  n.memory_bytes = manager ? 8LL << 30 : 32LL << 30;
  if (n.leader) swarm_.local_node_id = n.id;
  const std::string id = n.id;
  return swarm_.nodes.emplace(id, std::move(n)).first->second;
}

void SwarmBuilder::default_networks() {
  Network ingress;
  swarm_.stamp_new(ingress, ids_.swarm_id(), advance());
  ingress.name = "ingress";
  ingress.driver = "overlay";
  ingress.scope = "swarm";
  ingress.subnet = "10.0.0.0/24";
  ingress.gateway = "10.0.0.1";
  ingress.ingress = true;
  ingress.vxlan = 4096;
  ingress.options = {{"com.docker.network.driver.overlay.vxlanid_list", "4096"}};
  const std::string ingress_id = ingress.id;
  swarm_.networks.emplace(ingress_id, std::move(ingress));

  struct Local {
    const char* name;
    const char* driver;
    const char* subnet;
    Labels options;
  };
  const Local locals[] = {
      {"bridge",
       "bridge",
       "172.17.0.0/16",
       {{"com.docker.network.bridge.default_bridge", "true"},
        {"com.docker.network.bridge.enable_icc", "true"},
        {"com.docker.network.bridge.enable_ip_masquerade", "true"},
        {"com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"},
        {"com.docker.network.bridge.name", "docker0"},
        {"com.docker.network.driver.mtu", "1500"}}},
      {"host", "host", "", {}},
      {"none", "null", "", {}},
      {"docker_gwbridge",
       "bridge",
       "172.18.0.0/16",
       {{"com.docker.network.bridge.enable_icc", "false"},
        {"com.docker.network.bridge.enable_ip_masquerade", "true"},
        {"com.docker.network.bridge.name", "docker_gwbridge"}}},
  };
  for (const auto& local : locals) {
    Network n;
    swarm_.stamp_new(n, ids_.hex_id(), advance());
    n.name = local.name;
    n.driver = local.driver;
    n.scope = "local";
    n.subnet = local.subnet;
    if (!n.subnet.empty()) n.gateway = n.subnet.substr(0, n.subnet.rfind('.')) + ".1";
    n.options = local.options;
    const std::string id = n.id;
    swarm_.networks.emplace(id, std::move(n));
  }
}

Network& SwarmBuilder::overlay(const std::string& name, const std::string& stack, bool attachable) {
  Network n;
  swarm_.stamp_new(n, ids_.swarm_id(), advance());
  const std::uint32_t index = next_subnet_++;
  n.name = name;
  n.driver = "overlay";
  n.scope = "swarm";
  n.subnet = "10." + std::to_string(index / 256) + "." + std::to_string(index % 256) + ".0/24";
  n.gateway = n.subnet.substr(0, n.subnet.rfind('.')) + ".1";
  n.attachable = attachable;
  if (!stack.empty()) n.labels = {{kStackLabel, stack}};
  n.vxlan = 4096 + index;
  n.options = {{"com.docker.network.driver.overlay.vxlanid_list", std::to_string(n.vxlan)}};
  const std::string id = n.id;
  return swarm_.networks.emplace(id, std::move(n)).first->second;
}

Config& SwarmBuilder::config(const std::string& name, const std::string& stack,
                             const std::string& data) {
  Config c;
  swarm_.stamp_new(c, ids_.swarm_id(), advance());
  c.name = name;
  if (!stack.empty()) c.labels = {{kStackLabel, stack}};
  c.data = data;
  const std::string id = c.id;
  return swarm_.configs.emplace(id, std::move(c)).first->second;
}

Secret& SwarmBuilder::secret(const std::string& name, const std::string& stack) {
  Secret s;
  swarm_.stamp_new(s, ids_.swarm_id(), advance());
  s.name = name;
  if (!stack.empty()) s.labels = {{kStackLabel, stack}};
  const std::string id = s.id;
  return swarm_.secrets.emplace(id, std::move(s)).first->second;
}

Volume& SwarmBuilder::volume(const std::string& name, const std::string& stack) {
  Volume v;
  v.name = name;
  v.created = advance();
  if (!stack.empty()) v.labels = {{kStackLabel, stack}};
  v.has_options = !stack.empty();
  return swarm_.volumes.insert_or_assign(name, std::move(v)).first->second;
}

Service& SwarmBuilder::service(ServiceSpec spec) {
  return swarm_.add_service(ids_.swarm_id(), std::move(spec), advance());
}

Task& SwarmBuilder::running(Service& service, std::uint64_t slot, const std::string& node_id) {
  const Nanos now = advance();
  Task& t = swarm_.add_task(service, ids_.swarm_id(), slot, node_id, now);
  t.state = TaskState::kRunning;
  t.message = "started";
  t.container_id = ids_.hex_id();
  t.pid = static_cast<std::int64_t>(1000 + ids_.below(60000));
  t.started = now;
  swarm_.touch(t, now);
  return t;
}

void SwarmBuilder::end(Task& t, TaskState state) {
  const Nanos now = advance();
  t.state = state;
  t.desired = TaskState::kShutdown;
  t.status_time = now;
  t.pid = 0;
  switch (state) {
    case TaskState::kFailed:
      t.message = "started";
      t.err = "task: non-zero exit (1)";
      t.exit_code = 1;
      break;
    case TaskState::kComplete: t.message = "finished"; break;
    case TaskState::kRejected:
      t.message = "preparing";
      t.err = "No such image: " + t.spec->tmpl.image;
      t.container_id.clear();
      break;
    default: t.message = "shutdown"; break;
  }
  swarm_.touch(t, now);
}

void SwarmBuilder::change_image(Service& service, const std::string& image) {
  const Nanos started = advance();
  service.previous = service.spec;
  service.spec.task.image = image;
  if (service.spec.labels.contains(kStackImageLabel)) {
    service.spec.labels[kStackImageLabel] = image;
  }
  swarm_.refresh_task_spec(service);
  service.update =
      UpdateStatus{"completed", started, started + 7 * kNanosPerSecond, "update completed"};
  swarm_.touch(service, started);
}

}  // namespace narwhal::sim
