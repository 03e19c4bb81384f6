// Content hashes. ETags are a function of the body bytes only (XXH3-128), so identical state
// gives identical tags on every replica and after restarts.
#pragma once

#include <string>
#include <string_view>

namespace narwhal::util {

// The strong entity tag of `body`, quotes included: "\"<32 hex digits>\"".
[[nodiscard]] std::string strong_etag(std::string_view body);

}  // namespace narwhal::util
