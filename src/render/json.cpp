#include "narwhal/render/json.hpp"

#include <algorithm>
#include <map>

#include "narwhal/util/text.hpp"
#include "narwhal/util/time.hpp"

namespace narwhal::render {

using state::Kind;
using state::Object;

std::string Site::url(Kind kind, std::string_view id) const {
  std::string out = base_path;
  out += '/';
  out += state::kind_collection(kind);
  out += '/';
  out += util::percent_encode(id);
  return out;
}

namespace {

void key(std::string& out, std::string_view k) {
  util::append_json_string(out, k);
  out.push_back(':');
}

void ref(std::string& out, const Site& site, Kind kind, std::string_view id,
         std::string_view name) {
  out += "{\"@id\":";
  util::append_json_string(out, site.url(kind, id));
  out += ",\"id\":";
  util::append_json_string(out, id);
  out += ",\"name\":";
  util::append_json_string(out, name);
  out.push_back('}');
}

// Opens a JSON-LD object: "@context" (documents only, not items of a list), "@id", "@type".
void open_node(std::string& out, const Site& site, bool with_context, std::string_view id,
               std::string_view type) {
  out.push_back('{');
  if (with_context) {
    key(out, "@context");
    util::append_json_string(out, site.context());
    out.push_back(',');
  }
  key(out, "@id");
  util::append_json_string(out, id);
  out += ",\"@type\":";
  util::append_json_string(out, type);
}

// Appends the members of the engine's object `raw` (its bytes without the braces).
void splice(std::string& out, const std::string& raw) {
  if (raw.size() <= 2) return;
  out.push_back(',');
  out.append(raw, 1, raw.size() - 2);
}

// Opens an object with @context (detail), @id and @type, then the engine's own members.
void open_object(std::string& out, const Object& o, bool detail, const Site& site) {
  open_node(out, site, detail, site.url(o.kind, o.id), state::kind_type(o.kind));
  splice(out, o.raw);
}

template <class Pred>
void used_by(std::string& out, const state::Snapshot& snap, const Site& site, Pred uses,
             std::int64_t& newest) {
  key(out, "usedBy");
  out.push_back('[');
  bool first = true;
  for (const auto& svc : snap.table(Kind::service).items) {
    if (!uses(*svc)) continue;
    if (!first) out.push_back(',');
    first = false;
    ref(out, site, Kind::service, svc->id, svc->name);
    newest = std::max(newest, svc->updated);
  }
  out.push_back(']');
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Whether `service` references the config, secret, network or volume `o`.
bool service_uses(const Object& service, const Object& o) {
  switch (o.kind) {
    case Kind::config: return contains(service.config_ids, o.id);
    case Kind::secret: return contains(service.secret_ids, o.id);
    // Services name networks by ID, or by name when created through the API loosely.
    case Kind::network:
      return contains(service.network_ids, o.id) || contains(service.network_ids, o.name);
    case Kind::volume: return contains(service.volume_names, o.id);
    default: return false;
  }
}

// A reference to `o` (newest timestamp folded into `newest`), or null.
void ref_or_null(std::string& out, const Site& site, const Object* o, std::int64_t& newest) {
  if (o == nullptr) {
    out += "null";
    return;
  }
  ref(out, site, o->kind, o->id, o->name);
  newest = std::max(newest, o->updated);
}

}  // namespace

Body render_object(const state::Snapshot& snap, const Object& o, bool detail, const Site& site) {
  Body body;
  body.last_modified = o.updated;
  std::string& out = body.text;
  out.reserve(o.raw.size() + 256);
  open_object(out, o, detail, site);
  switch (o.kind) {
    case Kind::service: {
      const auto t = snap.tally(o.id);
      // The counts come from the tasks: a task's change is a change of this body (§6).
      body.last_modified = std::max(body.last_modified, t.tasks_updated);
      out += ",\"serviceStatus\":{\"runningTasks\":" + std::to_string(t.running) +
             ",\"desiredTasks\":" + std::to_string(t.desired) + "}";
      break;
    }
    case Kind::task: {
      const Object* svc = snap.table(Kind::service).find(o.service_id);
      const Object* node = snap.table(Kind::node).find(o.node_id);
      out += ",\"serviceName\":";
      // The name the store stamped on it: it outlives a removed service whose tasks the engine
      // still lists.
      util::append_json_string(
          out, svc ? std::string_view(svc->name) : std::string_view(o.service_name));
      out += ",\"nodeHostname\":";
      util::append_json_string(out, node ? std::string_view(node->name) : std::string_view{});
      if (detail) {
        out += ",\"service\":";
        ref_or_null(out, site, svc, body.last_modified);
        out += ",\"node\":";
        ref_or_null(out, site, node, body.last_modified);
      }
      break;
    }
    case Kind::config:
    case Kind::secret:
    case Kind::network:
    case Kind::volume:
      if (detail) {
        out.push_back(',');
        used_by(
            out, snap, site, [&](const Object& svc) { return service_uses(svc, o); },
            body.last_modified);
      }
      break;
    default: break;
  }
  out.push_back('}');
  return body;
}

Body render_stack(const state::Stack& st, bool detail, const Site& site) {
  Body body;
  body.last_modified = st.updated;
  std::string& out = body.text;
  open_node(out, site, detail, site.url(Kind::stack, st.name), "Stack");
  out += ",\"name\":";
  util::append_json_string(out, st.name);
  for (const Kind k : {Kind::service, Kind::config, Kind::secret, Kind::network, Kind::volume}) {
    out.push_back(',');
    key(out, state::kind_collection(k));
    out.push_back('[');
    bool first = true;
    for (const auto& m : st.of(k)) {
      if (!first) out.push_back(',');
      first = false;
      ref(out, site, k, m->id, m->name);
    }
    out.push_back(']');
  }
  out.push_back('}');
  return body;
}

namespace {

void open_collection(std::string& out, const CollectionPage& page, const Site& site) {
  open_node(out, site, true, page.self, "Collection");
  out += ",\"items\":[";
}

void close_collection(std::string& out, const CollectionPage& page) {
  out += "],\"total\":" + std::to_string(page.total) + ",\"limit\":" + std::to_string(page.limit) +
         ",\"offset\":" + std::to_string(page.offset) + "}";
}

}  // namespace

std::string render_collection(const state::Snapshot& snap, const std::vector<const Object*>& items,
                              const CollectionPage& page, const Site& site) {
  std::string out;
  std::size_t size = 256;
  for (const Object* o : items) size += o->raw.size() + 160;
  out.reserve(size);
  open_collection(out, page, site);
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += render_object(snap, *items[i], false, site).text;
  }
  close_collection(out, page);
  return out;
}

std::string render_stack_collection(const std::vector<const state::Stack*>& items,
                                    const CollectionPage& page, const Site& site) {
  std::string out;
  open_collection(out, page, site);
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += render_stack(*items[i], false, site).text;
  }
  close_collection(out, page);
  return out;
}

std::string render_cluster(const state::Snapshot& snap, const Site& site, bool ready) {
  std::string out;
  open_node(out, site, true, site.base_path + "/cluster", "Cluster");
  out += ",\"counts\":{";
  for (std::size_t k = 0; k < state::kKinds; ++k) {
    const Kind kind = static_cast<Kind>(k);
    if (k > 0) out.push_back(',');
    key(out, state::kind_collection(kind));
    const std::size_t n = kind == Kind::stack ? snap.stacks->size() : snap.table(kind).items.size();
    out += std::to_string(n);
  }
  out += "},\"tasksByState\":{";
  std::map<std::string_view, std::size_t> by_state;
  std::int64_t reserved_cpu = 0, reserved_mem = 0;
  for (const auto& t : snap.table(Kind::task).items) {
    ++by_state[t->state];
    if (t->state == "running") {
      reserved_cpu += t->nano_cpus;
      reserved_mem += t->memory_bytes;
    }
  }
  bool first = true;
  for (const auto& [st, n] : by_state) {
    if (!first) out.push_back(',');
    first = false;
    key(out, st.empty() ? "unknown" : st);
    out += std::to_string(n);
  }
  std::size_t ready_nodes = 0, down = 0, drained = 0, managers = 0, workers = 0;
  std::int64_t cpu = 0, mem = 0;
  for (const auto& n : snap.table(Kind::node).items) {
    if (n->state == "ready") ++ready_nodes;
    if (n->state == "down" || n->state == "disconnected") ++down;
    if (n->availability == "drain") ++drained;
    (n->role == "manager" ? managers : workers) += 1;
    cpu += n->nano_cpus;
    mem += n->memory_bytes;
  }
  out += "},\"nodes\":{\"ready\":" + std::to_string(ready_nodes) +
         ",\"down\":" + std::to_string(down) + ",\"drained\":" + std::to_string(drained) +
         ",\"managers\":" + std::to_string(managers) + ",\"workers\":" + std::to_string(workers);
  std::size_t converged = 0, degraded = 0;
  for (const auto& s : snap.table(Kind::service).items) {
    const auto t = snap.tally(s->id);
    if (s->mode == "replicated-job" || s->mode == "global-job") continue;
    (t.running >= t.desired ? converged : degraded) += 1;
  }
  out += "},\"services\":{\"converged\":" + std::to_string(converged) +
         ",\"degraded\":" + std::to_string(degraded) + "}";
  out += ",\"resources\":{\"nanoCPUs\":" + std::to_string(cpu) +
         ",\"memoryBytes\":" + std::to_string(mem) +
         ",\"reservedNanoCPUs\":" + std::to_string(reserved_cpu) +
         ",\"reservedMemoryBytes\":" + std::to_string(reserved_mem) + "}";
  const auto& e = snap.engine;
  out += ",\"engine\":{\"connected\":";
  out += e.connected ? "true" : "false";
  out += ",\"synced\":";
  out += e.synced ? "true" : "false";
  out += ",\"ready\":";
  out += ready ? "true" : "false";
  out += ",\"endpoint\":";
  util::append_json_string(out, e.endpoint);
  out += ",\"apiVersion\":";
  util::append_json_string(out, e.api_version);
  out += ",\"lastError\":";
  util::append_json_string(out, e.last_error);
  out += ",\"since\":";
  util::append_json_string(out, e.since != 0 ? util::format_rfc3339(e.since) : "");
  out += ",\"manager\":";
  out += e.manager ? "true" : "false";
  out += ",\"stale\":";
  out += e.stale_since != 0 ? "true" : "false";
  out += ",\"staleSince\":";
  util::append_json_string(out, e.stale_since != 0 ? util::format_rfc3339(e.stale_since) : "");
  out += "}}";
  return out;
}

std::string render_swarm(const state::Snapshot& snap, const Site& site) {
  std::string out;
  open_node(out, site, true, site.base_path + "/swarm", "Swarm");
  splice(out, *snap.swarm);
  out.push_back('}');
  return out;
}

std::string render_index(const Site& site) {
  std::string out;
  open_node(out, site, true, site.base_path + "/", "EntryPoint");
  for (std::size_t k = 0; k < state::kKinds; ++k) {
    const auto coll = state::kind_collection(static_cast<Kind>(k));
    out.push_back(',');
    key(out, coll);
    util::append_json_string(out, site.base_path + "/" + std::string(coll));
  }
  for (const char* extra : {"cluster", "swarm"}) {
    out.push_back(',');
    key(out, extra);
    util::append_json_string(out, site.base_path + "/" + extra);
  }
  out.push_back('}');
  return out;
}

}  // namespace narwhal::render
