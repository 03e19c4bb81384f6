#include "narwhal/state/object.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>

#include "narwhal/state/redact.hpp"
#include "narwhal/state/snapshot.hpp"
#include "narwhal/util/time.hpp"

namespace narwhal::state {

namespace {
struct KindNames {
  std::string_view name, collection, type;
};
constexpr std::array<KindNames, kKinds> kNames{{
    {"node", "nodes", "Node"},
    {"service", "services", "Service"},
    {"task", "tasks", "Task"},
    {"config", "configs", "Config"},
    {"secret", "secrets", "Secret"},
    {"network", "networks", "Network"},
    {"volume", "volumes", "Volume"},
    {"stack", "stacks", "Stack"},
}};
}  // namespace

std::string_view kind_name(Kind k) noexcept {
  return kNames.at(static_cast<std::size_t>(k)).name;
}
std::string_view kind_collection(Kind k) noexcept {
  return kNames.at(static_cast<std::size_t>(k)).collection;
}
std::string_view kind_type(Kind k) noexcept {
  return kNames.at(static_cast<std::size_t>(k)).type;
}

std::optional<Kind> kind_from_collection(std::string_view s) noexcept {
  for (std::size_t i = 0; i < kKinds; ++i) {
    if (kNames.at(i).collection == s) return static_cast<Kind>(i);
  }
  return std::nullopt;
}

std::string_view Object::label(std::string_view key) const noexcept {
  for (const auto& [k, v] : labels) {
    if (k == key) return v;
  }
  return {};
}

namespace {

using Value = rapidjson::Value;

const Value* member(const Value& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  const auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

const Value* path(const Value& v, std::initializer_list<const char*> names) {
  const Value* cur = &v;
  for (const char* n : names) {
    cur = member(*cur, n);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

std::string str(const Value* v) {
  if (v == nullptr || !v->IsString()) return {};
  return {v->GetString(), v->GetStringLength()};
}

std::uint64_t uint_of(const Value* v) {
  if (v == nullptr) return 0;
  if (v->IsUint64()) return v->GetUint64();
  return 0;
}

std::int64_t int_of(const Value* v) {
  if (v == nullptr || !v->IsInt64()) return 0;
  return v->GetInt64();
}

std::int64_t time_of(const Value* v) {
  if (v == nullptr || !v->IsString()) return 0;
  return util::parse_rfc3339({v->GetString(), v->GetStringLength()}).value_or(0);
}

Labels labels_of(const Value* v) {
  Labels out;
  if (v == nullptr || !v->IsObject()) return out;
  for (const auto& m : v->GetObject()) {
    if (!m.value.IsString()) continue;
    out.emplace_back(std::string(m.name.GetString(), m.name.GetStringLength()),
                     std::string(m.value.GetString(), m.value.GetStringLength()));
  }
  return out;
}

std::string minify(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

// ID, version and timestamps: every swarm object (not networks and volumes) has them.
void fill_swarm_meta(Object& o, const Value& v) {
  o.id = str(member(v, "ID"));
  o.version = uint_of(path(v, {"Version", "Index"}));
  o.created = time_of(member(v, "CreatedAt"));
  o.updated = time_of(member(v, "UpdatedAt"));
}

void fill_node(Object& o, const Value& v) {
  fill_swarm_meta(o, v);
  o.labels = labels_of(path(v, {"Spec", "Labels"}));
  o.role = str(path(v, {"Spec", "Role"}));
  o.availability = str(path(v, {"Spec", "Availability"}));
  o.name = str(path(v, {"Description", "Hostname"}));
  o.engine_version = str(path(v, {"Description", "Engine", "EngineVersion"}));
  o.state = str(path(v, {"Status", "State"}));
  o.address = str(path(v, {"Status", "Addr"}));
  const Value* leader = path(v, {"ManagerStatus", "Leader"});
  o.leader = leader != nullptr && leader->IsBool() && leader->GetBool();
  o.nano_cpus = int_of(path(v, {"Description", "Resources", "NanoCPUs"}));
  o.memory_bytes = int_of(path(v, {"Description", "Resources", "MemoryBytes"}));
}

void fill_service(Object& o, const Value& v) {
  fill_swarm_meta(o, v);
  o.name = str(path(v, {"Spec", "Name"}));
  o.labels = labels_of(path(v, {"Spec", "Labels"}));
  o.update_state = str(path(v, {"UpdateStatus", "State"}));
  o.update_message = str(path(v, {"UpdateStatus", "Message"}));
  const Value* spec = member(v, "Spec");
  const Value* container = spec ? path(*spec, {"TaskTemplate", "ContainerSpec"}) : nullptr;
  if (container != nullptr) {
    o.image = str(member(*container, "Image"));
    if (const Value* configs = member(*container, "Configs"); configs && configs->IsArray()) {
      for (const auto& c : configs->GetArray()) o.config_ids.push_back(str(member(c, "ConfigID")));
    }
    if (const Value* secrets = member(*container, "Secrets"); secrets && secrets->IsArray()) {
      for (const auto& s : secrets->GetArray()) o.secret_ids.push_back(str(member(s, "SecretID")));
    }
    if (const Value* mounts = member(*container, "Mounts"); mounts && mounts->IsArray()) {
      for (const auto& m : mounts->GetArray()) {
        if (str(member(m, "Type")) == "volume" && !str(member(m, "Source")).empty()) {
          o.volume_names.push_back(str(member(m, "Source")));
        }
      }
    }
  }
  if (spec != nullptr) {
    // Networks moved from Spec.Networks to Spec.TaskTemplate.Networks; engines may send either.
    for (const Value* nets :
         {path(*spec, {"TaskTemplate", "Networks"}), member(*spec, "Networks")}) {
      if (nets == nullptr || !nets->IsArray()) continue;
      for (const auto& n : nets->GetArray()) o.network_ids.push_back(str(member(n, "Target")));
    }
    if (const Value* mode = member(*spec, "Mode"); mode != nullptr) {
      if (const Value* rep = member(*mode, "Replicated"); rep != nullptr) {
        o.mode = "replicated";
        o.replicas = uint_of(member(*rep, "Replicas"));
      } else if (member(*mode, "Global") != nullptr) {
        o.mode = "global";
      } else if (const Value* job = member(*mode, "ReplicatedJob"); job != nullptr) {
        o.mode = "replicated-job";
        o.replicas = uint_of(member(*job, "TotalCompletions"));
      } else if (member(*mode, "GlobalJob") != nullptr) {
        o.mode = "global-job";
      }
    }
  }
}

void fill_task(Object& o, const Value& v) {
  fill_swarm_meta(o, v);
  o.labels = labels_of(member(v, "Labels"));
  o.service_id = str(member(v, "ServiceID"));
  o.node_id = str(member(v, "NodeID"));
  if (const Value* slot = member(v, "Slot"); slot != nullptr && slot->IsUint64()) {
    o.slot = slot->GetUint64();
  }
  o.state = str(path(v, {"Status", "State"}));
  o.error = str(path(v, {"Status", "Err"}));
  o.container_id = str(path(v, {"Status", "ContainerStatus", "ContainerID"}));
  if (const Value* ec = path(v, {"Status", "ContainerStatus", "ExitCode"});
      ec != nullptr && ec->IsInt64()) {
    o.exit_code = ec->GetInt64();
  }
  o.desired_state = str(member(v, "DesiredState"));
  o.image = str(path(v, {"Spec", "ContainerSpec", "Image"}));
  o.nano_cpus = int_of(path(v, {"Spec", "Resources", "Reservations", "NanoCPUs"}));
  o.memory_bytes = int_of(path(v, {"Spec", "Resources", "Reservations", "MemoryBytes"}));
  // Stack deploy labels the container spec; services created by hand carry none.
  const Labels cl = labels_of(path(v, {"Spec", "ContainerSpec", "Labels"}));
  for (const auto& [k, val] : cl) {
    if (k == kStackLabel) o.stack = val;
  }
}

void fill_named(Object& o, const Value& v) {  // configs and secrets
  fill_swarm_meta(o, v);
  o.name = str(path(v, {"Spec", "Name"}));
  o.labels = labels_of(path(v, {"Spec", "Labels"}));
}

void fill_network(Object& o, const Value& v) {
  o.id = str(member(v, "Id"));
  if (o.id.empty()) o.id = str(member(v, "ID"));
  o.name = str(member(v, "Name"));
  o.created = time_of(member(v, "Created"));
  o.updated = o.created;
  o.driver = str(member(v, "Driver"));
  o.scope = str(member(v, "Scope"));
  o.labels = labels_of(member(v, "Labels"));
}

void fill_volume(Object& o, const Value& v) {
  o.name = str(member(v, "Name"));
  o.id = o.name;
  o.created = time_of(member(v, "CreatedAt"));
  o.updated = o.created;
  o.driver = str(member(v, "Driver"));
  o.scope = str(member(v, "Scope"));
  o.labels = labels_of(member(v, "Labels"));
}

// Replaces the values of hidden variables in the Env array at `at` (if any).
void redact_env(Value* at, const EnvRedactor& redact, rapidjson::Document::AllocatorType& alloc) {
  if (at == nullptr || !at->IsArray()) return;
  for (auto& item : at->GetArray()) {
    if (!item.IsString()) continue;
    std::string assignment(item.GetString(), item.GetStringLength());
    if (redact.redact(assignment)) {
      item.SetString(assignment.data(), static_cast<rapidjson::SizeType>(assignment.size()), alloc);
    }
  }
}

Value* mutable_path(Value& v, std::initializer_list<const char*> keys) {
  Value* at = &v;
  for (const char* k : keys) {
    if (!at->IsObject()) return nullptr;
    const auto it = at->FindMember(k);
    if (it == at->MemberEnd()) return nullptr;
    at = &it->value;
  }
  return at;
}

ParseOutcome from_value(Kind kind, Value& v, rapidjson::Document::AllocatorType& alloc,
                        const EnvRedactor* redact) {
  if (!v.IsObject()) return {nullptr, "not a JSON object"};
  if (redact != nullptr && redact->enabled()) {
    // Where the engine puts a container's environment: a service's spec and the spec it replaced,
    // and a task's own copy of it.
    if (kind == Kind::service) {
      redact_env(mutable_path(v, {"Spec", "TaskTemplate", "ContainerSpec", "Env"}), *redact, alloc);
      redact_env(mutable_path(v, {"PreviousSpec", "TaskTemplate", "ContainerSpec", "Env"}), *redact,
                 alloc);
    } else if (kind == Kind::task) {
      redact_env(mutable_path(v, {"Spec", "ContainerSpec", "Env"}), *redact, alloc);
    }
  }
  auto o = std::make_shared<Object>();
  o->kind = kind;
  switch (kind) {
    case Kind::node: fill_node(*o, v); break;
    case Kind::service: fill_service(*o, v); break;
    case Kind::task: fill_task(*o, v); break;
    case Kind::config:
    case Kind::secret:
      fill_named(*o, v);
      // The engine never lists secret data, but does a config's: neither reaches a response.
      if (Value* spec = mutable_path(v, {"Spec"}); spec != nullptr && spec->IsObject()) {
        spec->RemoveMember("Data");
      }
      break;
    case Kind::network: fill_network(*o, v); break;
    case Kind::volume: fill_volume(*o, v); break;
    case Kind::stack: return {nullptr, "stacks are not engine objects"};
  }
  if (o->id.empty()) return {nullptr, "object has no ID"};
  if (kind != Kind::task) {
    for (const auto& [k, val] : o->labels) {
      if (k == kStackLabel) o->stack = val;
    }
  }
  o->raw = minify(v);
  return {std::move(o), {}};
}

}  // namespace

ParseOutcome parse_object(Kind kind, std::string_view json, const EnvRedactor* redact) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) return {nullptr, "not valid JSON"};
  return from_value(kind, doc, doc.GetAllocator(), redact);
}

ListOutcome parse_list(Kind kind, std::string_view json, const Table* known,
                       const EnvRedactor* redact) {
  ListOutcome out;
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) {
    out.error = "not valid JSON";
    return out;
  }
  Value* items = &doc;
  if (kind == Kind::volume && doc.IsObject()) {
    auto it = doc.FindMember("Volumes");
    if (it == doc.MemberEnd()) {
      out.error = "no Volumes member";
      return out;
    }
    items = &it->value;
    if (items->IsNull()) return out;  // an engine with no volumes sends null
  }
  if (!items->IsArray()) {
    out.error = "not a JSON array";
    return out;
  }
  out.objects.reserve(items->Size());
  for (auto& item : items->GetArray()) {
    if (known != nullptr) {
      const Value* id = member(item, "ID");
      const std::uint64_t version = uint_of(path(item, {"Version", "Index"}));
      if (id != nullptr && id->IsString() && version != 0) {
        auto old = known->get({id->GetString(), id->GetStringLength()});
        if (old && old->version == version) {
          out.objects.push_back(std::move(old));
          continue;
        }
      }
    }
    auto parsed = from_value(kind, item, doc.GetAllocator(), redact);
    if (parsed.object) {
      out.objects.push_back(std::move(parsed.object));
    } else {
      ++out.skipped;
    }
  }
  return out;
}

std::string scrub_swarm(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return {};
  doc.RemoveMember("JoinTokens");
  return minify(doc);
}

std::string minify_object(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return {};
  return minify(doc);
}

}  // namespace narwhal::state
