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

// The stack `o` is a member of: a task's is its service's, looked up in `first`, then `second`.
std::string stack_of(const state::Object& o, const state::Snapshot& first,
                     const state::Snapshot& second) {
  if (o.kind != Kind::task) return o.stack;
  const state::Object* svc = first.table(Kind::service).find(o.service_id);
  if (svc == nullptr) svc = second.table(Kind::service).find(o.service_id);
  return svc != nullptr ? svc->stack : o.stack;
}

// Where an event's object is, as the scope shapes see it.
struct Place {
  std::string_view service_id, node_id, stack;
};

bool in_shape(const Scope& scope, Kind k, std::string_view object_id, const Place& at) {
  using Shape = Scope::Shape;
  switch (scope.shape) {
    case Shape::events: return (scope.kinds & Scope::bit(k)) != 0;
    case Shape::list: return k == scope.kind;
    case Shape::tasks_of_service: return k == Kind::task && at.service_id == scope.id;
    case Shape::tasks_of_node: return k == Kind::task && at.node_id == scope.id;
    case Shape::service:
      return (k == Kind::service && object_id == scope.id) ||
             (k == Kind::task && at.service_id == scope.id);
    case Shape::node:
      return (k == Kind::node && object_id == scope.id) ||
             (k == Kind::task && at.node_id == scope.id);
    case Shape::stack: return k != Kind::node && at.stack == scope.id;
    case Shape::object: return k == scope.kind && object_id == scope.id;
    case Shape::cluster: return false;
  }
  return false;
}

// The scope's filter (if any) accepts the object `o` (stacks: `st`).
bool passes(const Scope& scope, Kind k, const state::Object* o, const state::Stack* st,
            const state::Snapshot& snap) {
  if (!scope.filtered) return true;
  const auto& program = scope.filters.at(static_cast<std::size_t>(k));
  if (!program) return false;
  if (k == Kind::stack) return st != nullptr && program->matches(snap, *st);
  return o != nullptr && program->matches(snap, *o);
}

constexpr std::string_view kLeftAction = R"("remove","reason":"filter")";

}  // namespace

const std::string& Event::frame_as(Show how) const {
  if (how != Show::left) return frame;
  std::call_once(left_once_, [this] {
    // The same frame with the action's string replaced: the prefix up to the JSON is the same.
    const std::string_view f(frame);
    const std::size_t at = json_begin + action_begin;
    left_frame_.reserve(frame.size() + kLeftAction.size());
    left_frame_ += f.substr(0, at);
    left_frame_ += kLeftAction;
    left_frame_ += f.substr(at + action_size);
  });
  return left_frame_;
}

std::string_view Event::json_as(Show how) const {
  if (how != Show::left) return json();
  return std::string_view(frame_as(how))
      .substr(json_begin, json_size - action_size + kLeftAction.size());
}

EventPtr make_event(const state::HistoryEntry& entry, const state::Snapshot& snap,
                    const state::Snapshot& before, const render::Site& site) {
  auto e = std::make_shared<Event>();
  e->id = entry.id;
  e->kind = entry.kind;
  e->action = entry.action;
  e->object_id = entry.object_id;
  e->object = entry.object;
  const bool removed = entry.action == state::Action::remove;
  const bool updated = entry.action == state::Action::update;
  if (entry.kind == Kind::stack) {
    e->stack = entry.object_id;
    e->stack_object = stack_in(removed ? before : snap, entry.object_id);
    e->previous_stack = entry.object_id;
    if (updated) e->previous_stack_object = stack_in(before, entry.object_id);
  } else if (e->object) {
    const state::Object& o = *e->object;
    // Tasks belong to their service's stack.
    e->stack = stack_of(o, snap, before);
    if (o.kind == Kind::task) {
      e->service_id = o.service_id;
      e->node_id = o.node_id;
    }
    if (updated && entry.previous) {
      const state::Object& p = *entry.previous;
      e->previous = entry.previous;
      e->previous_stack = stack_of(p, before, snap);
      if (p.kind == Kind::task) {
        e->previous_service_id = p.service_id;
        e->previous_node_id = p.node_id;
      }
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
  e->action_begin = json.size();
  util::append_json_string(json, state::action_name(entry.action));
  e->action_size = json.size() - e->action_begin;
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

std::string batch_frame(const Shown* events, std::size_t count) {
  std::size_t size = 64;
  for (std::size_t i = 0; i < count; ++i) size += events[i].event->json_size + 32;
  std::string f;
  f.reserve(size);
  f += "id: ";
  f += std::to_string(count > 0 ? events[count - 1].event->id : 0);
  f += "\nevent: batch\n";
  for (std::size_t i = 0; i < count; ++i) {
    // One data line per event: the lines joined with "\n" are the JSON array.
    f += i == 0 ? "data: [" : "data: ";
    f += events[i].event->json_as(events[i].how);
    f += i + 1 == count ? "]\n" : ",\n";
  }
  if (count == 0) f += "data: []\n";
  f += '\n';
  return f;
}

Show shows(const Scope& scope, const Event& event, const state::Snapshot& snap) {
  const Kind k = event.kind;
  if (in_shape(scope, k, event.object_id, {event.service_id, event.node_id, event.stack}) &&
      passes(scope, k, event.object.get(), event.stack_object.get(), snap)) {
    return Show::yes;
  }
  // Not shown as it is now; but if it was shown as it was, this change took it out.
  if (event.action != state::Action::update || (!event.previous && !event.previous_stack_object)) {
    return Show::no;
  }
  const Place was{event.previous_service_id, event.previous_node_id, event.previous_stack};
  return in_shape(scope, k, event.object_id, was) &&
                 passes(scope, k, event.previous.get(), event.previous_stack_object.get(), snap)
             ? Show::left
             : Show::no;
}

}  // namespace narwhal::live
