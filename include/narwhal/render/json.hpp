// JSON-LD bodies (SPEC §3): collections, details, stacks, the cluster summary and the swarm.
// Docker objects are spliced in as the engine's bytes, with narwhal's camelCase additions after
// them; key order is fixed, so identical state renders identical bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "narwhal/state/snapshot.hpp"

namespace narwhal::render {

struct Body {
  std::string text;
  std::int64_t last_modified = 0;  // microseconds; newest timestamp in the body (0 = none)
};

// Where the URLs narwhal writes start ("" or "/narwhal").
struct Site {
  std::string base_path;
  [[nodiscard]] std::string url(state::Kind kind, std::string_view id) const;
  [[nodiscard]] std::string context() const { return base_path + "/api/context.jsonld"; }
};

// One object as a list item (detail = false) or as its detail document (detail = true, with
// @context and cross-references).
[[nodiscard]] Body render_object(const state::Snapshot& snap, const state::Object& o, bool detail,
                                 const Site& site);
[[nodiscard]] Body render_stack(const state::Stack& st, bool detail, const Site& site);

struct CollectionPage {
  std::string self;  // the request URL with its query, base path included
  std::size_t total = 0, limit = 0, offset = 0;
};
[[nodiscard]] std::string render_collection(const state::Snapshot& snap,
                                            const std::vector<const state::Object*>& items,
                                            const CollectionPage& page, const Site& site);
[[nodiscard]] std::string render_stack_collection(const std::vector<const state::Stack*>& items,
                                                  const CollectionPage& page, const Site& site);

[[nodiscard]] std::string render_cluster(const state::Snapshot& snap, const Site& site, bool ready);
[[nodiscard]] std::string render_swarm(const state::Snapshot& snap, const Site& site);
[[nodiscard]] std::string render_index(const Site& site);

}  // namespace narwhal::render
