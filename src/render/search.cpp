#include "narwhal/render/search.hpp"

#include "narwhal/query/search.hpp"
#include "narwhal/render/json.hpp"
#include "narwhal/state/snapshot.hpp"
#include "narwhal/util/text.hpp"

namespace narwhal::render {

std::string render_search(const state::Snapshot& snap, const query::SearchResult& result,
                          std::string_view q, std::string_view self, const Site& site) {
  std::size_t size = 256 + self.size() + q.size();
  for (const auto& g : result.groups) {
    size += 128 + q.size() * 3;
    for (const state::Object* o : g.items) size += o->raw.size() + 160;
    size += g.stacks.size() * 256;
  }
  std::string out;
  out.reserve(size);
  out += "{\"@context\":";
  util::append_json_string(out, site.context());
  out += ",\"@id\":";
  util::append_json_string(out, self);
  out += ",\"@type\":\"SearchResults\",\"query\":";
  util::append_json_string(out, q);
  out += ",\"total\":" + std::to_string(result.total);
  out += ",\"groups\":[";
  // The group's link is the collection searched for the same text: where "show all" leads.
  const std::string search_param = "?search=" + util::percent_encode(q);
  bool first_group = true;
  for (const auto& g : result.groups) {
    if (!first_group) out.push_back(',');
    first_group = false;
    out += "{\"type\":";
    util::append_json_string(out, state::kind_name(g.kind));
    out += ",\"@id\":";
    util::append_json_string(
        out, site.base_path + "/" + std::string(state::kind_collection(g.kind)) + search_param);
    out += ",\"total\":" + std::to_string(g.total);
    out += ",\"items\":[";
    bool first = true;
    for (const state::Object* o : g.items) {
      if (!first) out.push_back(',');
      first = false;
      out += render_object(snap, *o, false, site).text;
    }
    for (const state::Stack* st : g.stacks) {
      if (!first) out.push_back(',');
      first = false;
      out += render_stack(*st, false, site).text;
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

}  // namespace narwhal::render
