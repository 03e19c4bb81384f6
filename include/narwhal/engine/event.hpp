// A decoded engine event. The decoder accepts anything: a line that is not an event is reported
// as nullopt, never as an exception, because nothing the engine sends may crash the watcher.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace narwhal::engine {

struct Event {
  std::string type;    // service, node, task, config, secret, network, volume, container, …
  std::string action;  // create, update, remove, destroy, die, … (suffix after ": " removed)
  std::string actor_id;
  std::string scope;  // swarm or local
  std::int64_t time_nano = 0;
  std::vector<std::pair<std::string, std::string>> attributes;

  [[nodiscard]] std::string_view attribute(std::string_view key) const noexcept;
};

[[nodiscard]] std::optional<Event> parse_event(std::string_view line);

}  // namespace narwhal::engine
