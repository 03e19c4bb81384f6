// GET /{nodes,services,tasks,configs,secrets,networks,volumes}[/{id}]
#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "api.hpp"
#include "json.hpp"
#include "shapes.hpp"

namespace narwhal::sim {

namespace {

template <typename T>
const std::string& name_of(const T& object) {
  return object.name;
}
template <>
const std::string& name_of(const Node& node) {
  return node.hostname;
}
template <>
const std::string& name_of(const Service& service) {
  return service.spec.name;
}

std::string singular(std::string_view kind) {
  return std::string(kind.substr(0, kind.size() - 1));
}

Reply lookup_error(std::string_view kind, std::string_view ref, const auto& lookup) {
  if (lookup.found == Found::kAmbiguous) {
    return error_reply(400, singular(kind) + " " + std::string(ref) + " is ambiguous (" +
                                std::to_string(lookup.matches) + " matches found)");
  }
  return error_reply(404, singular(kind) + " " + std::string(ref) + " not found");
}

ServiceCounts count_tasks(const Swarm& swarm, const Service& s) {
  ServiceCounts counts;
  if (!s.spec.global) counts.desired = s.spec.replicas;
  for (const auto& id : s.task_ids) {
    const Task& t = swarm.tasks.at(id);
    if (t.state == TaskState::kRunning) ++counts.running;
    if (s.spec.global && t.desired == TaskState::kRunning) ++counts.desired;
  }
  return counts;
}

bool network_matches(const Network& n, const Filters& f) {
  const bool builtin = n.name == "bridge" || n.name == "host" || n.name == "none";
  return f.prefix("id", n.id) && f.exact("driver", n.driver) && f.exact("scope", n.scope) &&
         f.labels(n.labels) && f.exact("type", builtin ? "builtin" : "custom") &&
         std::all_of(f.get("name").begin(), f.get("name").end(), [&](const std::string& want) {
           return n.name.find(want) != std::string::npos;
         });
}

}  // namespace

Reply Api::list(std::string_view kind, const httplib::Request& req) {
  Filters f;
  if (auto error = Filters::parse(req.get_param_value("filters"), f)) {
    return error_reply(500, *error);  // dockerd's quirk: bad filter JSON is a server error
  }
  std::optional<std::string> unknown;
  if (kind == "nodes") {
    unknown = f.unknown_key({"id", "label", "membership", "name", "node.label", "role"});
  } else if (kind == "services") {
    unknown = f.unknown_key({"id", "label", "mode", "name"});
  } else if (kind == "tasks") {
    unknown = f.unknown_key({"desired-state", "id", "label", "name", "node", "service"});
  } else if (kind == "configs" || kind == "secrets") {
    unknown = f.unknown_key({"id", "label", "name", "names"});
  } else if (kind == "networks") {
    unknown = f.unknown_key({"dangling", "driver", "id", "label", "name", "scope", "type"});
  } else {
    unknown = f.unknown_key({"dangling", "driver", "label", "name"});
  }
  if (unknown) return error_reply(400, "invalid filter '" + *unknown + "'");
  if (kind == "services") return list_services(f, req.get_param_value("status") == "true");
  if (kind == "tasks") return list_tasks(std::move(f));

  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  std::unique_lock lock(ctx_.model_mutex);
  const Swarm& swarm = ctx_.swarm;
  if (kind == "volumes") {
    w.StartObject();
    w.Key("Volumes");
  }
  w.StartArray();
  if (kind == "nodes") {
    for (const auto& [id, n] : swarm.nodes) {
      if (f.prefix("id", id) && f.prefix("name", n.hostname) && f.exact("role", n.role) &&
          f.labels(n.labels) && f.labels(n.labels, "node.label") &&
          f.exact("membership", "accepted")) {
        write_node(w, n, ctx_.identity.server_version);
      }
    }
  } else if (kind == "configs") {
    for (const auto& [id, c] : swarm.configs) {
      if (f.prefix("id", id) && f.prefix("name", c.name) && f.exact("names", c.name) &&
          f.labels(c.labels)) {
        write_config(w, c);
      }
    }
  } else if (kind == "secrets") {
    for (const auto& [id, s] : swarm.secrets) {
      if (f.prefix("id", id) && f.prefix("name", s.name) && f.exact("names", s.name) &&
          f.labels(s.labels)) {
        write_secret(w, s);
      }
    }
  } else if (kind == "networks") {
    for (const auto& [id, n] : swarm.networks) {
      // A stopping daemon has shut its cluster component down: only local networks are left.
      if (ctx_.shutting_down && n.scope == "swarm") continue;
      if (network_matches(n, f)) write_network(w, n);
    }
  } else {
    for (const auto& [name, v] : swarm.volumes) {
      const auto& names = f.get("name");
      const bool name_ok =
          names.empty() || std::any_of(names.begin(), names.end(), [&](const auto& n) {
            return name.find(n) != std::string::npos;
          });
      if (name_ok && f.exact("driver", v.driver) && f.labels(v.labels)) write_volume(w, v);
    }
  }
  lock.unlock();
  w.EndArray();
  if (kind == "volumes") {
    w.Key("Warnings");
    w.Null();
    w.EndObject();
  }
  return Reply{200, take_body(buffer), true};
}

Reply Api::list_services(const Filters& f, bool status) {
  for (const auto& mode : f.get("mode")) {
    if (mode != "replicated" && mode != "global") {
      return error_reply(400, "Invalid filter: 'mode'='" + mode + "'");
    }
  }
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartArray();
  {
    std::lock_guard lock(ctx_.model_mutex);
    for (const auto& [id, s] : ctx_.swarm.services) {
      if (!f.prefix("id", id) || !f.prefix("name", s.spec.name) || !f.labels(s.spec.labels) ||
          !f.exact("mode", s.spec.global ? "global" : "replicated")) {
        continue;
      }
      if (status) {
        const ServiceCounts counts = count_tasks(ctx_.swarm, s);
        write_service(w, s, &counts);
      } else {
        write_service(w, s, nullptr);
      }
    }
  }
  w.EndArray();
  return Reply{200, take_body(buffer), true};
}

Reply Api::list_tasks(Filters f) {
  std::vector<TaskState> desired;
  for (const auto& s : f.get("desired-state")) {
    if (auto state = parse_task_state(s)) {
      desired.push_back(*state);
    } else if (!s.empty()) {
      return error_reply(500, "Invalid desired-state filter: '" + s + "'");
    }
  }
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  std::unique_lock lock(ctx_.model_mutex);
  Swarm& swarm = ctx_.swarm;
  // dockerd resolves service and node filters (name, ID or prefix) to IDs first.
  std::vector<const std::string*> candidates;
  bool all = true;
  std::vector<std::string> node_ids;
  for (const auto& ref : f.get("node")) {
    auto found = resolve(swarm.nodes, ref, name_of<Node>);
    if (found.found != Found::kOne) return lookup_error("nodes", ref, found);
    node_ids.push_back(found.object->id);
  }
  if (f.has("service")) {
    all = false;
    for (const auto& ref : f.get("service")) {
      auto found = resolve(swarm.services, ref, name_of<Service>);
      if (found.found != Found::kOne) return lookup_error("services", ref, found);
      for (const auto& id : found.object->task_ids) candidates.push_back(&id);
    }
    std::sort(candidates.begin(), candidates.end(),
              [](const std::string* a, const std::string* b) { return *a < *b; });
  }
  auto matches = [&](const Task& t) {
    if (!node_ids.empty() &&
        std::find(node_ids.begin(), node_ids.end(), t.node_id) == node_ids.end()) {
      return false;
    }
    if (!desired.empty() && std::find(desired.begin(), desired.end(), t.desired) == desired.end()) {
      return false;
    }
    return f.prefix("id", t.id) && (!f.has("name") || f.prefix("name", task_name(t))) &&
           (!f.has("label") || f.labels(t.spec->tmpl.container_labels));
  };
  w.StartArray();
  if (all) {
    for (const auto& [id, t] : swarm.tasks) {
      if (matches(t)) write_task(w, t, swarm);
    }
  } else {
    for (const std::string* id : candidates) {
      const Task& t = swarm.tasks.at(*id);
      if (matches(t)) write_task(w, t, swarm);
    }
  }
  lock.unlock();
  w.EndArray();
  return Reply{200, take_body(buffer), true};
}

Reply Api::inspect(std::string_view kind, std::string_view ref) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  std::unique_lock lock(ctx_.model_mutex);
  Swarm& swarm = ctx_.swarm;
  if (kind == "nodes") {
    auto found = resolve(swarm.nodes, ref, name_of<Node>);
    if (!found.object) return lookup_error(kind, ref, found);
    write_node(w, *found.object, ctx_.identity.server_version);
  } else if (kind == "services") {
    auto found = resolve(swarm.services, ref, name_of<Service>);
    if (!found.object) return lookup_error(kind, ref, found);
    write_service(w, *found.object, nullptr);
  } else if (kind == "tasks") {
    auto found = resolve(swarm.tasks, ref, [](const Task& t) { return task_name(t); });
    if (!found.object) return lookup_error(kind, ref, found);
    write_task(w, *found.object, swarm);
  } else if (kind == "configs") {
    auto found = resolve(swarm.configs, ref, name_of<Config>);
    if (!found.object) return lookup_error(kind, ref, found);
    write_config(w, *found.object);
  } else if (kind == "secrets") {
    auto found = resolve(swarm.secrets, ref, name_of<Secret>);
    if (!found.object) return lookup_error(kind, ref, found);
    write_secret(w, *found.object);
  } else if (kind == "networks") {
    auto found = resolve(swarm.networks, ref, name_of<Network>);
    if (!found.object) return error_reply(404, "network " + std::string(ref) + " not found");
    write_network(w, *found.object);
  } else {
    auto it = swarm.volumes.find(std::string(ref));
    if (it == swarm.volumes.end()) {
      return error_reply(404, "get " + std::string(ref) + ": no such volume");
    }
    write_volume(w, it->second);
  }
  lock.unlock();
  return Reply{200, take_body(buffer), true};
}

}  // namespace narwhal::sim
