// String helpers shared by the modules: JSON string escaping, case-insensitive matching,
// splitting and trimming. Pure functions, no allocation beyond their results.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace narwhal::util {

// Appends `s` to `out` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view s);

[[nodiscard]] std::string to_lower(std::string_view s);
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;
// Case-insensitive substring test (ASCII), as the `search` parameter needs.
[[nodiscard]] bool icontains(std::string_view haystack, std::string_view needle) noexcept;
[[nodiscard]] std::string_view trim(std::string_view s) noexcept;
[[nodiscard]] std::vector<std::string_view> split(std::string_view s, char sep);
// Decimal unsigned integer, all of `s`, no sign, no overflow.
[[nodiscard]] std::optional<std::uint64_t> parse_uint(std::string_view s) noexcept;
// Like parse_uint, but a run of digits too large for 64 bits is UINT64_MAX rather than an error:
// for values a server clamps anyway (limit, offset, range bounds), however many digits they have.
[[nodiscard]] std::optional<std::uint64_t> parse_uint_saturating(std::string_view s) noexcept;
// Characters in UTF-8 `s`, as a limit counts them: a well-formed sequence is one, and so is
// each byte of a malformed one, so `s` has at most four bytes per character.
[[nodiscard]] std::size_t utf8_length(std::string_view s) noexcept;
// Percent-decoding of a URL component ('+' is a space only when `plus_is_space`).
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);
// Percent-encoding of a query value (RFC 3986 unreserved characters kept).
[[nodiscard]] std::string percent_encode(std::string_view s);

}  // namespace narwhal::util
