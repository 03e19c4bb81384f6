// The JSON-LD body of /search (SPEC §1, §3): the query's matches grouped by kind, each group
// linking the collection filtered by the same text, each item as that collection renders it.
// Bytes depend only on the snapshot, the result and the URLs, so replicas agree on ETags.
#pragma once

#include <string>
#include <string_view>

namespace narwhal::state {
struct Snapshot;
}  // namespace narwhal::state

namespace narwhal::query {
struct SearchResult;
}  // namespace narwhal::query

namespace narwhal::render {

struct Site;

// {"@context", "@id": self, "@type": "SearchResults", "query", "total",
//  "groups": [{"type", "@id": "<base>/<collection>?search=<q>", "total", "items": […]}…]}.
// Groups come in the result's order; kinds without a match are not in the result.
// `self` is the request URL with its query string, base path included.
[[nodiscard]] std::string render_search(const state::Snapshot& snap,
                                        const query::SearchResult& result, std::string_view q,
                                        std::string_view self, const Site& site);

}  // namespace narwhal::render
