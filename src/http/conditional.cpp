#include "conditional.hpp"

#include "narwhal/util/text.hpp"

namespace narwhal::http {

bool none_match_hits(std::string_view if_none_match, std::string_view etag) noexcept {
  const auto value = util::trim(if_none_match);
  if (value.empty() || etag.empty()) return false;
  if (value == "*") return true;
  // Weak comparison: W/"x" matches "x".
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  std::size_t pos = 0;
  while (pos < value.size()) {
    while (pos < value.size() && (value[pos] == ' ' || value[pos] == '\t' || value[pos] == ',')) {
      ++pos;
    }
    if (pos >= value.size()) break;
    if (value.substr(pos).starts_with("W/")) pos += 2;
    if (pos >= value.size() || value[pos] != '"') return false;  // malformed: no match
    const auto close = value.find('"', pos + 1);
    if (close == std::string_view::npos) return false;
    if (value.substr(pos, close - pos + 1) == etag) return true;
    pos = close + 1;
  }
  return false;
}

}  // namespace narwhal::http
