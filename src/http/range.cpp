#include "narwhal/http/range.hpp"

#include <algorithm>
#include <cstdint>

#include "narwhal/util/text.hpp"

namespace narwhal::http {

namespace {

// A bound of any size: one past every list is past the end of it, however many digits it has.
std::optional<std::size_t> number(std::string_view s) noexcept {
  const auto v = util::parse_uint_saturating(s);
  if (!v) return std::nullopt;
  return static_cast<std::size_t>(std::min<std::uint64_t>(*v, SIZE_MAX / 2));
}

}  // namespace

std::optional<ItemRange> parse_item_range(std::string_view header) noexcept {
  std::string_view v = util::trim(header);
  // "items=0-24" as RFC 9110 spells ranges; "items 0-24" as some clients of the seed API send.
  if (v.size() < 6 || !util::iequals(v.substr(0, 5), "items")) return std::nullopt;
  v.remove_prefix(5);
  if (v.front() != '=' && v.front() != ' ') return std::nullopt;
  v = util::trim(v.substr(1));
  if (v.find(',') != std::string_view::npos) return std::nullopt;  // one range only
  const auto dash = v.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const auto first = number(util::trim(v.substr(0, dash)));
  if (!first) return std::nullopt;  // suffix ranges ("-5") mean nothing for items
  ItemRange r;
  r.first = *first;
  const auto rest = util::trim(v.substr(dash + 1));
  if (!rest.empty()) {
    const auto last = number(rest);
    if (!last || *last < *first) return std::nullopt;
    r.last = *last;
  }
  return r;
}

}  // namespace narwhal::http
