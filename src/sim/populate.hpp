// The two initial swarms: the realistic one of `narwhal --demo`, and a generated one of any size
// for benchmarks.
#pragma once

#include <cstddef>

#include "clock.hpp"
#include "ids.hpp"
#include "swarm.hpp"

namespace narwhal::sim {

// 5 nodes, stacks shop / monitoring / blog, two plain services (one whose image can't be pulled),
// configs, secrets, networks, volumes, and some task history.
void populate_demo(Swarm& swarm, IdSource& ids, Nanos now);

// `services` services in stacks of ten, `tasks_per_service` running tasks each, services/100 + 3
// nodes, one network, config, secret and volume per stack.
void populate_generated(Swarm& swarm, IdSource& ids, Nanos now, std::size_t services,
                        std::size_t tasks_per_service);

}  // namespace narwhal::sim
