#include "narwhal/live/event.hpp"

#include "narwhal/render/json.hpp"
#include "narwhal/util/text.hpp"
#include "narwhal/util/time.hpp"

namespace narwhal::live {

using state::Kind;

namespace {

// The stack as `snap` holds it, sharing the snapshot's list; null when there is none.
std::shared_ptr<const state::Stack> stack_in(const state::Snapshot& snap, std::string_view name) {
  const state::Stack* st = snap.stack(name);
  if (st == nullptr) return nullptr;
  return {snap.stacks, st};
}

void key(std::string& out, std::string_view k) {
  util::append_json_string(out, k);
  out.push_back(':');
}

}  // namespace

EventPtr make_event(const state::HistoryEntry& entry, const state::Snapshot& snap,
                    const state::Snapshot& before, const render::Site& site) {
  auto e = std::make_shared<Event>();
  e->id = entry.id;
  e->kind = entry.kind;
  e->action = entry.action;
  e->object_id = entry.object_id;
  e->object = entry.object;
  const bool removed = entry.action == state::Action::remove;
  if (entry.kind == Kind::stack) {
    e->stack = entry.object_id;
    e->stack_object = stack_in(removed ? before : snap, entry.object_id);
  } else if (e->object) {
    const state::Object& o = *e->object;
    e->stack = o.stack;
    if (o.kind == Kind::task) {
      e->service_id = o.service_id;
      e->node_id = o.node_id;
      // Tasks belong to their service's stack.
      const state::Object* svc = snap.table(Kind::service).find(o.service_id);
      if (svc == nullptr) svc = before.table(Kind::service).find(o.service_id);
      if (svc != nullptr) e->stack = svc->stack;
    }
  }

  std::string json;
  json.reserve(256 + (e->object && !removed ? e->object->raw.size() + 256 : 0));
  json += "{\"@id\":";
  util::append_json_string(json, site.url(entry.kind, entry.object_id));
  json += ",\"@type\":";
  util::append_json_string(json, state::kind_type(entry.kind));
  json += ",\"type\":";
  util::append_json_string(json, state::kind_name(entry.kind));
  json += ",\"action\":";
  util::append_json_string(json, state::action_name(entry.action));
  json += ",\"id\":";
  util::append_json_string(json, entry.object_id);
  json += ",\"name\":";
  util::append_json_string(json, entry.name);
  if (!removed) {
    // The object as its detail URL shows it now (with @context and cross-references).
    if (entry.kind == Kind::stack) {
      if (e->stack_object) {
        json += ",\"resource\":";
        json += render::render_stack(*e->stack_object, true, site).text;
      }
    } else if (e->object) {
      json += ",\"resource\":";
      json += render::render_object(snap, *e->object, true, site).text;
    }
  }
  json.push_back(',');
  key(json, "summary");
  util::append_json_string(json, entry.summary);
  json.push_back(',');
  key(json, "time");
  util::append_json_string(json, util::format_rfc3339(entry.time));
  json.push_back('}');

  std::string& f = e->frame;
  f.reserve(json.size() + 64);
  f += "id: ";
  f += std::to_string(entry.id);
  f += "\nevent: ";
  f += state::kind_name(entry.kind);
  f += "\ndata: ";
  e->json_begin = f.size();
  e->json_size = json.size();
  f += json;
  f += "\n\n";
  return e;
}

std::string batch_frame(const EventPtr* events, std::size_t count) {
  std::size_t size = 64;
  for (std::size_t i = 0; i < count; ++i) size += events[i]->json_size + 8;
  std::string f;
  f.reserve(size);
  f += "id: ";
  f += std::to_string(count > 0 ? events[count - 1]->id : 0);
  f += "\nevent: batch\n";
  for (std::size_t i = 0; i < count; ++i) {
    // One data line per event: the lines joined with "\n" are the JSON array.
    f += i == 0 ? "data: [" : "data: ";
    f += events[i]->json();
    f += i + 1 == count ? "]\n" : ",\n";
  }
  if (count == 0) f += "data: []\n";
  f += '\n';
  return f;
}

bool shows(const Scope& scope, const Event& event, const state::Snapshot& snap) {
  using Shape = Scope::Shape;
  const Kind k = event.kind;
  bool in = false;
  switch (scope.shape) {
    case Shape::events: in = (scope.kinds & Scope::bit(k)) != 0; break;
    case Shape::list: in = k == scope.kind; break;
    case Shape::tasks_of_service: in = k == Kind::task && event.service_id == scope.id; break;
    case Shape::tasks_of_node: in = k == Kind::task && event.node_id == scope.id; break;
    case Shape::service:
      in = (k == Kind::service && event.object_id == scope.id) ||
           (k == Kind::task && event.service_id == scope.id);
      break;
    case Shape::node:
      in = (k == Kind::node && event.object_id == scope.id) ||
           (k == Kind::task && event.node_id == scope.id);
      break;
    case Shape::stack: in = k != Kind::node && event.stack == scope.id; break;
    case Shape::object: in = k == scope.kind && event.object_id == scope.id; break;
    case Shape::cluster: in = false; break;
  }
  if (!in || !scope.filtered) return in;
  const auto& program = scope.filters.at(static_cast<std::size_t>(k));
  if (!program) return false;
  if (k == Kind::stack) return event.stack_object && program->matches(snap, *event.stack_object);
  return event.object && program->matches(snap, *event.object);
}

}  // namespace narwhal::live
