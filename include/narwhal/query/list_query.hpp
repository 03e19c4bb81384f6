// The collection parameters of SPEC §4 (limit, offset, sort, dir, search, filter), parsed
// strictly: a malformed value is an error naming the parameter and what would be valid.
// Selecting (search → filter → sort → page) works on a snapshot's objects without copying them.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "narwhal/query/filter.hpp"
#include "narwhal/state/snapshot.hpp"

namespace narwhal::query {

inline constexpr std::size_t kDefaultLimit = 50;
inline constexpr std::size_t kMaxLimit = 200;

struct Param {
  std::string name;
  std::string value;
};
// Splits and percent-decodes a query string; nullopt when an escape is malformed.
[[nodiscard]] std::optional<std::vector<Param>> parse_query_string(std::string_view qs);

struct ListQuery {
  std::size_t limit = kDefaultLimit;
  std::size_t offset = 0;
  bool explicit_paging = false;  // limit or offset given (they win over Range)
  std::string sort;              // "" = by name (stacks) / ID order
  bool descending = false;
  std::string search;
  std::string filter;
};

struct QueryError {
  std::string code;    // registry code (API006, SEA002, …)
  std::string detail;  // names the parameter and what would be valid
};

// The sort fields of `kind` (§4).
[[nodiscard]] const std::vector<std::string_view>& sort_fields(state::Kind kind);

// Parses the list parameters for `kind`; unknown parameters are ignored.
[[nodiscard]] std::optional<QueryError> parse_list_query(state::Kind kind,
                                                         const std::vector<Param>& params,
                                                         std::size_t max_search_chars,
                                                         ListQuery& out);

// The canonical form of the parameters that affect a list body, for cache keys and @id: a fixed
// order, numbers as numbers, defaults and unknown parameters left out ("" for a default page).
[[nodiscard]] std::string canonical(const ListQuery& q);

// search → filter → sort → page over `items` (already narrowed to a scope); `total` counts
// after search and filter. `filter` may be null.
struct Page {
  std::vector<const state::Object*> items;
  std::size_t total = 0;
};
[[nodiscard]] Page select(const state::Snapshot& snap, state::Kind kind,
                          const std::vector<const state::Object*>& items, const ListQuery& q,
                          const FilterProgram* filter = nullptr);

// The same for stacks, which are derived rather than engine objects.
struct StackPage {
  std::vector<const state::Stack*> items;
  std::size_t total = 0;
};
[[nodiscard]] StackPage select_stacks(const state::Snapshot& snap, const ListQuery& q,
                                      const FilterProgram* filter = nullptr);

}  // namespace narwhal::query
