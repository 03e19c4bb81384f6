// Who the simulated daemon claims to be, and the bodies of /version, /info and /swarm.
#pragma once

#include <string>
#include <string_view>

#include "clock.hpp"
#include "swarm.hpp"

namespace narwhal::sim {

struct Identity {
  std::string api_version;      // "1.45"
  std::string min_api_version;  // what /version reports as MinAPIVersion
  std::string server_version;   // "26.1.5+dfsg1"
  std::string git_commit;
  std::string go_version;
  std::string containerd_version;
  std::string build_time;

  [[nodiscard]] std::string server_header() const {
    return "Docker/" + server_version + " (linux)";
  }
};

// The Docker release that shipped `api_version` (26.1.5's details for unknown versions).
[[nodiscard]] Identity identity_for(std::string_view api_version);

// -1, 0 or 1, comparing "1.9" < "1.41" numerically as dockerd does.
[[nodiscard]] int compare_api_versions(std::string_view a, std::string_view b);

[[nodiscard]] std::string version_body(const Identity& identity);
[[nodiscard]] std::string info_body(const Swarm& swarm, const Identity& identity, Nanos now);
[[nodiscard]] std::string swarm_body(const Swarm& swarm);

}  // namespace narwhal::sim
