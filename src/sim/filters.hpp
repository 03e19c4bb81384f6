// Docker's `filters` query parameter ({"key":["value",...]}, or the legacy {"key":{"value":true}})
// and the matching rules dockerd applies with it.
#pragma once

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "event_bus.hpp"
#include "swarm.hpp"

namespace narwhal::sim {

class Filters {
 public:
  // Empty input is no filter. On malformed JSON returns the message Go's decoder would give.
  [[nodiscard]] static std::optional<std::string> parse(std::string_view json, Filters& out);

  [[nodiscard]] bool has(std::string_view key) const;
  [[nodiscard]] const std::vector<std::string>& get(std::string_view key) const;
  // The first key not in `accepted`, which dockerd rejects with "invalid filter '<key>'".
  [[nodiscard]] std::optional<std::string> unknown_key(
      std::initializer_list<std::string_view> accepted) const;

  // Each is true when the key is absent.
  [[nodiscard]] bool exact(std::string_view key, std::string_view value) const;
  [[nodiscard]] bool prefix(std::string_view key, std::string_view value) const;
  [[nodiscard]] bool fuzzy(std::string_view key, std::string_view value) const;
  // "label" values "k" or "k=v": every one must match.
  [[nodiscard]] bool labels(const Labels& labels, std::string_view key = "label") const;

  // dockerd's events filter (daemon/events/filter.go).
  [[nodiscard]] bool matches_event(const Event& event) const;

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
};

}  // namespace narwhal::sim
