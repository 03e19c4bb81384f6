#include "narwhal/render/history.hpp"

#include "narwhal/util/text.hpp"
#include "narwhal/util/time.hpp"

namespace narwhal::render {

std::string render_history(const std::vector<state::HistoryEntry>& entries, const HistoryPage& page,
                           const Site& site) {
  std::string out;
  out.reserve(256 + entries.size() * 256);
  out += "{\"@context\":";
  util::append_json_string(out, site.context());
  out += ",\"@id\":";
  util::append_json_string(out, page.self);
  out += ",\"@type\":\"Collection\",\"items\":[";
  bool first = true;
  for (const auto& e : entries) {
    if (!first) out.push_back(',');
    first = false;
    out += "{\"@type\":\"Change\",\"id\":";
    out += std::to_string(e.id);
    out += ",\"time\":";
    util::append_json_string(out, util::format_rfc3339(e.time));
    out += ",\"type\":";
    util::append_json_string(out, state::kind_name(e.kind));
    out += ",\"action\":";
    util::append_json_string(out, state::action_name(e.action));
    out += ",\"resourceId\":";
    util::append_json_string(out, e.object_id);
    out += ",\"name\":";
    util::append_json_string(out, e.name);
    out += ",\"summary\":";
    util::append_json_string(out, e.summary);
    out += ",\"resource\":{\"@id\":";
    util::append_json_string(out, site.url(e.kind, e.object_id));
    out += "}}";
  }
  out += "],\"limit\":";
  out += std::to_string(page.limit);
  out += ",\"first\":";
  util::append_json_string(out, page.first);
  if (!page.next.empty()) {
    out += ",\"next\":";
    util::append_json_string(out, page.next);
  }
  out.push_back('}');
  return out;
}

}  // namespace narwhal::render
