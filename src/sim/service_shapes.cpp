// Services and tasks: the task template, the service spec and endpoint, a task with its
// network attachments.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shapes.hpp"

namespace narwhal::sim {

namespace {

constexpr std::int64_t kFiveSeconds = 5'000'000'000;

void put_string_array(JsonWriter& w, const std::vector<std::string>& items) {
  w.StartArray();
  for (const auto& item : items) put_str(w, item);
  w.EndArray();
}

void put_file(JsonWriter& w, const FileRef& ref) {
  w.Key("File");
  w.StartObject();
  put_field(w, "Name", ref.target);
  put_field(w, "UID", "0");
  put_field(w, "GID", "0");
  w.Key("Mode");
  w.Uint(0444);
  w.EndObject();
}

void put_container_spec(JsonWriter& w, const TaskTemplate& t) {
  w.StartObject();
  put_field(w, "Image", t.image);
  if (!t.container_labels.empty()) {
    w.Key("Labels");
    put_labels(w, t.container_labels);
  }
  if (!t.args.empty()) {
    w.Key("Args");
    put_string_array(w, t.args);
  }
  if (!t.env.empty()) {
    w.Key("Env");
    put_string_array(w, t.env);
  }
  w.Key("Init");
  w.Bool(false);
  if (!t.mounts.empty()) {
    w.Key("Mounts");
    w.StartArray();
    for (const auto& m : t.mounts) {
      w.StartObject();
      put_field(w, "Type", "volume");
      put_field(w, "Source", m.source);
      put_field(w, "Target", m.target);
      w.EndObject();
    }
    w.EndArray();
  }
  w.Key("DNSConfig");
  w.StartObject();
  w.EndObject();
  if (!t.secrets.empty()) {
    w.Key("Secrets");
    w.StartArray();
    for (const auto& s : t.secrets) {
      w.StartObject();
      put_file(w, s);
      put_field(w, "SecretID", s.id);
      put_field(w, "SecretName", s.name);
      w.EndObject();
    }
    w.EndArray();
  }
  if (!t.configs.empty()) {
    w.Key("Configs");
    w.StartArray();
    for (const auto& c : t.configs) {
      w.StartObject();
      put_file(w, c);
      put_field(w, "ConfigID", c.id);
      put_field(w, "ConfigName", c.name);
      w.EndObject();
    }
    w.EndArray();
  }
  put_field(w, "Isolation", "default");
  w.EndObject();
}

void put_update_config(JsonWriter& w) {
  w.StartObject();
  w.Key("Parallelism");
  w.Uint(1);
  put_field(w, "FailureAction", "pause");
  w.Key("Monitor");
  w.Int64(kFiveSeconds);
  w.Key("MaxFailureRatio");
  w.Uint(0);
  put_field(w, "Order", "stop-first");
  w.EndObject();
}

void put_ports(JsonWriter& w, const std::vector<PortConfig>& ports) {
  w.StartArray();
  for (const auto& p : ports) {
    w.StartObject();
    put_field(w, "Protocol", "tcp");
    w.Key("TargetPort");
    w.Uint(p.target);
    w.Key("PublishedPort");
    w.Uint(p.published);
    put_field(w, "PublishMode", "ingress");
    w.EndObject();
  }
  w.EndArray();
}

void put_service_spec(JsonWriter& w, const ServiceSpec& spec) {
  w.StartObject();
  put_field(w, "Name", spec.name);
  w.Key("Labels");
  put_labels(w, spec.labels);
  w.Key("TaskTemplate");
  put_task_template(w, spec.task, true);
  w.Key("Mode");
  w.StartObject();
  if (spec.global) {
    w.Key("Global");
    w.StartObject();
    w.EndObject();
  } else {
    w.Key("Replicated");
    w.StartObject();
    w.Key("Replicas");
    w.Uint64(spec.replicas);
    w.EndObject();
  }
  w.EndObject();
  if (spec.update_config) {
    w.Key("UpdateConfig");
    put_update_config(w);
    w.Key("RollbackConfig");
    put_update_config(w);
  }
  w.Key("EndpointSpec");
  w.StartObject();
  put_field(w, "Mode", spec.endpoint_mode);
  if (!spec.ports.empty()) {
    w.Key("Ports");
    put_ports(w, spec.ports);
  }
  w.EndObject();
  w.EndObject();
}

void put_endpoint(JsonWriter& w, const Service& s) {
  w.StartObject();
  w.Key("Spec");
  w.StartObject();
  const bool vip = s.spec.endpoint_mode == "vip" && (!s.vips.empty() || !s.spec.ports.empty());
  if (vip) {
    put_field(w, "Mode", "vip");
    if (!s.spec.ports.empty()) {
      w.Key("Ports");
      put_ports(w, s.spec.ports);
    }
  }
  w.EndObject();
  if (vip) {
    if (!s.spec.ports.empty()) {
      w.Key("Ports");
      put_ports(w, s.spec.ports);
    }
    w.Key("VirtualIPs");
    w.StartArray();
    for (const auto& v : s.vips) {
      w.StartObject();
      put_field(w, "NetworkID", v.network_id);
      put_field(w, "Addr", v.addr);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
}

void put_ipam_default(JsonWriter& w) {
  w.StartObject();
  w.Key("Driver");
  w.StartObject();
  put_field(w, "Name", "default");
  w.EndObject();
  w.EndObject();
}

// A network as swarmkit shows it inside a task's NetworksAttachments.
void put_swarm_network(JsonWriter& w, const Network& n) {
  w.StartObject();
  put_meta(w, n);
  w.Key("Spec");
  w.StartObject();
  put_field(w, "Name", n.name);
  w.Key("Labels");
  put_labels(w, n.labels);
  w.Key("DriverConfiguration");
  w.StartObject();
  put_field(w, "Name", n.driver);
  w.EndObject();
  if (n.attachable) {
    w.Key("Attachable");
    w.Bool(true);
  }
  if (n.ingress) {
    w.Key("Ingress");
    w.Bool(true);
  }
  w.Key("IPAMOptions");
  put_ipam_default(w);
  put_field(w, "Scope", "swarm");
  w.EndObject();
  w.Key("DriverState");
  w.StartObject();
  put_field(w, "Name", n.driver);
  w.Key("Options");
  put_labels(w, n.options);
  w.EndObject();
  w.Key("IPAMOptions");
  w.StartObject();
  w.Key("Driver");
  w.StartObject();
  put_field(w, "Name", "default");
  w.EndObject();
  w.Key("Configs");
  w.StartArray();
  w.StartObject();
  put_field(w, "Subnet", n.subnet);
  put_field(w, "Gateway", n.gateway);
  w.EndObject();
  w.EndArray();
  w.EndObject();
  w.EndObject();
}

}  // namespace

void put_task_template(JsonWriter& w, const TaskTemplate& t, bool with_runtime) {
  w.StartObject();
  w.Key("ContainerSpec");
  put_container_spec(w, t);
  w.Key("Resources");
  w.StartObject();
  w.Key("Limits");
  w.StartObject();
  if (t.memory_limit > 0) {
    w.Key("MemoryBytes");
    w.Int64(t.memory_limit);
  }
  w.EndObject();
  w.Key("Reservations");
  w.StartObject();
  w.EndObject();
  w.EndObject();
  if (t.restart_policy) {
    w.Key("RestartPolicy");
    w.StartObject();
    put_field(w, "Condition", "any");
    w.Key("Delay");
    w.Int64(kFiveSeconds);
    w.Key("MaxAttempts");
    w.Uint(0);
    w.EndObject();
  }
  w.Key("Placement");
  w.StartObject();
  if (!t.constraints.empty()) {
    w.Key("Constraints");
    put_string_array(w, t.constraints);
  }
  w.EndObject();
  if (!t.networks.empty()) {
    w.Key("Networks");
    w.StartArray();
    for (const auto& n : t.networks) {
      w.StartObject();
      put_field(w, "Target", n.id);
      if (!n.alias.empty()) {
        w.Key("Aliases");
        w.StartArray();
        put_str(w, n.alias);
        w.EndArray();
      }
      w.EndObject();
    }
    w.EndArray();
  }
  w.Key("ForceUpdate");
  w.Uint(0);
  if (with_runtime) put_field(w, "Runtime", "container");
  w.EndObject();
}

std::string render_task_spec(const TaskTemplate& tmpl) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  put_task_template(w, tmpl, false);
  return {buffer.GetString(), buffer.GetSize()};
}

void write_service(JsonWriter& w, const Service& s, const ServiceCounts* counts) {
  w.StartObject();
  put_meta(w, s);
  w.Key("Spec");
  put_service_spec(w, s.spec);
  if (s.previous) {
    w.Key("PreviousSpec");
    put_service_spec(w, *s.previous);
  }
  w.Key("Endpoint");
  put_endpoint(w, s);
  if (s.update) {
    w.Key("UpdateStatus");
    w.StartObject();
    put_field(w, "State", s.update->state);
    put_time(w, "StartedAt", s.update->started);
    if (s.update->completed != 0) put_time(w, "CompletedAt", s.update->completed);
    put_field(w, "Message", s.update->message);
    w.EndObject();
  }
  if (counts != nullptr) {
    w.Key("ServiceStatus");
    w.StartObject();
    w.Key("RunningTasks");
    w.Uint64(counts->running);
    w.Key("DesiredTasks");
    w.Uint64(counts->desired);
    w.Key("CompletedTasks");
    w.Uint64(counts->completed);
    w.EndObject();
  }
  w.EndObject();
}

void write_task(JsonWriter& w, const Task& t, const Swarm& swarm) {
  w.StartObject();
  put_meta(w, t);
  w.Key("Labels");
  w.StartObject();
  w.EndObject();
  w.Key("Spec");
  w.RawValue(t.spec->json.data(), t.spec->json.size(), rapidjson::kObjectType);
  put_field(w, "ServiceID", t.service_id);
  if (t.slot != 0) {
    w.Key("Slot");
    w.Uint64(t.slot);
  }
  if (!t.node_id.empty()) put_field(w, "NodeID", t.node_id);
  w.Key("Status");
  w.StartObject();
  put_time(w, "Timestamp", t.status_time);
  put_field(w, "State", task_state_name(t.state));
  put_field(w, "Message", t.message);
  if (!t.err.empty()) put_field(w, "Err", t.err);
  if (t.state != TaskState::kPending && t.state != TaskState::kNew) {
    w.Key("ContainerStatus");
    w.StartObject();
    put_field(w, "ContainerID", t.container_id);
    w.Key("PID");
    w.Int64(t.pid);
    w.Key("ExitCode");
    w.Int64(t.exit_code);
    w.EndObject();
  }
  w.Key("PortStatus");
  w.StartObject();
  w.EndObject();
  w.EndObject();
  put_field(w, "DesiredState", task_state_name(t.desired));
  if (!t.attachments.empty() && !t.node_id.empty()) {
    w.Key("NetworksAttachments");
    w.StartArray();
    for (const auto& a : t.attachments) {
      auto it = swarm.networks.find(a.network_id);
      if (it == swarm.networks.end()) continue;
      w.StartObject();
      w.Key("Network");
      put_swarm_network(w, it->second);
      w.Key("Addresses");
      w.StartArray();
      put_str(w, a.addr);
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
  }
  w.Key("Volumes");
  w.Null();
  w.EndObject();
}

}  // namespace narwhal::sim
