// The static half of the filter compiler: resolves field names against the kind's field table,
// checks every operation's operand types (SPEC §5), compiles `matches` patterns once, and lowers
// the syntax tree to a Program. Every error names the problem and its 1-based column.
#pragma once

#include "filter_parser.hpp"
#include "narwhal/query/filter.hpp"
#include "narwhal/state/object.hpp"
#include "narwhal/util/result.hpp"

namespace narwhal::query::filter {

[[nodiscard]] util::Result<FilterPtr, FilterError> check_filter(state::Kind kind,
                                                                const SyntaxTree& tree);

}  // namespace narwhal::query::filter
