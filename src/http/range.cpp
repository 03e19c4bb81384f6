#include "narwhal/http/range.hpp"

#include <charconv>

#include "narwhal/util/text.hpp"

namespace narwhal::http {

namespace {

std::optional<std::size_t> number(std::string_view s) noexcept {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::size_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
  return v;
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
