// Range paging (SPEC §4): "Range: items=0-24" (and the form "items 0-24"), RFC 9110 style.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace narwhal::http {

struct ItemRange {
  std::size_t first = 0;
  std::optional<std::size_t> last;  // inclusive; nullopt for "items=10-" (to the end)
};

// nullopt when the header is not a single well-formed items range (ignored per RFC 9110).
[[nodiscard]] std::optional<ItemRange> parse_item_range(std::string_view header) noexcept;

}  // namespace narwhal::http
