// Conditional requests (RFC 9110 §13): If-None-Match with weak comparison, lists and "*".
#pragma once

#include <string_view>

namespace narwhal::http {

// True when `if_none_match` matches `etag` (a strong tag with quotes), so the answer is 304.
[[nodiscard]] bool none_match_hits(std::string_view if_none_match, std::string_view etag) noexcept;

}  // namespace narwhal::http
