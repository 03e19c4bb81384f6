#include "narwhal/engine/event.hpp"

#include <rapidjson/document.h>

namespace narwhal::engine {

std::string_view Event::attribute(std::string_view key) const noexcept {
  for (const auto& [k, v] : attributes) {
    if (k == key) return v;
  }
  return {};
}

namespace {
std::string string_member(const rapidjson::Value& obj, const char* name) {
  const auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}
}  // namespace

std::optional<Event> parse_event(std::string_view line) {
  rapidjson::Document doc;
  doc.Parse(line.data(), line.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  Event ev;
  // API < 1.22 used lower-case keys; current engines send Type/Action/Actor.
  ev.type = string_member(doc, "Type");
  ev.action = string_member(doc, "Action");
  if (ev.type.empty() || ev.action.empty()) return std::nullopt;
  // "exec_create: /bin/sh -c …" carries its command after ": ".
  if (const auto pos = ev.action.find(": "); pos != std::string::npos) ev.action.resize(pos);
  ev.scope = string_member(doc, "scope");
  if (const auto it = doc.FindMember("timeNano"); it != doc.MemberEnd() && it->value.IsInt64()) {
    ev.time_nano = it->value.GetInt64();
  } else if (const auto t = doc.FindMember("time"); t != doc.MemberEnd() && t->value.IsInt64()) {
    ev.time_nano = t->value.GetInt64() * 1'000'000'000;
  }
  if (const auto actor = doc.FindMember("Actor");
      actor != doc.MemberEnd() && actor->value.IsObject()) {
    ev.actor_id = string_member(actor->value, "ID");
    if (const auto attrs = actor->value.FindMember("Attributes");
        attrs != actor->value.MemberEnd() && attrs->value.IsObject()) {
      for (const auto& m : attrs->value.GetObject()) {
        if (!m.value.IsString()) continue;
        ev.attributes.emplace_back(std::string(m.name.GetString(), m.name.GetStringLength()),
                                   std::string(m.value.GetString(), m.value.GetStringLength()));
      }
    }
  }
  if (ev.actor_id.empty()) return std::nullopt;
  return ev;
}

}  // namespace narwhal::engine
