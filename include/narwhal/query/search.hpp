// The name search behind /search?q= (SPEC §1): one query over every kind of the snapshot, grouped
// by kind in a fixed order, so someone who types "web" sees the service, its stack, its tasks and
// whatever else carries the word. Results point into the snapshot, which must outlive them.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>
#include <vector>

#include "narwhal/state/object.hpp"

namespace narwhal::state {
struct Snapshot;
struct Stack;
}  // namespace narwhal::state

namespace narwhal::query {

// Group order: what people look for first. Services and stacks are what they deploy, tasks what
// runs them, nodes where; configs, secrets, networks and volumes are mostly found through the
// services that use them.
inline constexpr std::array<state::Kind, state::kKinds> kSearchOrder{
    state::Kind::service, state::Kind::stack,  state::Kind::task,    state::Kind::node,
    state::Kind::config,  state::Kind::secret, state::Kind::network, state::Kind::volume,
};

// The matches of one kind: `total` counts them all, the lists hold the first few by name, then
// ID. Stacks are derived rather than engine objects, so they have their own list.
struct SearchGroup {
  state::Kind kind = state::Kind::service;
  std::size_t total = 0;
  std::vector<const state::Object*> items;  // every kind but stack
  std::vector<const state::Stack*> stacks;  // kind == stack
};

struct SearchResult {
  std::vector<SearchGroup> groups;  // kinds with at least one match, in kSearchOrder
  std::size_t total = 0;            // the sum of the groups' totals
};

// Whether `q` finds an object named `name` with ID `id` (id "" for stacks): a case-insensitive
// (ASCII) substring of the name, or a case-insensitive prefix of the ID (the whole ID included),
// as people paste the short IDs the docker CLI prints. The empty query finds everything; the
// route refuses it (SEA001) before searching.
[[nodiscard]] bool search_matches(std::string_view name, std::string_view id,
                                  std::string_view q) noexcept;

// Searches every kind of `snap` for `q`. Names are the ones narwhal shows: node hostnames, task
// names as the docker CLI prints them ("web.1"), stack and other objects' names. One pass over
// each table; memory beyond the result is bounded by `per_type_limit`, not by the swarm's size.
// A `per_type_limit` of 0 counts matches without listing any.
[[nodiscard]] SearchResult search(const state::Snapshot& snap, std::string_view q,
                                  std::size_t per_type_limit);

}  // namespace narwhal::query
