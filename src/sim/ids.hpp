// Deterministic randomness for the simulated swarm: the same seed builds the same swarm and the
// same churn, so a failing test or benchmark can be replayed.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace narwhal::sim {

class IdSource {
 public:
  explicit IdSource(std::uint64_t seed) : rng_(seed) {}

  // 25 lowercase base36 characters, like swarmkit's identity.NewID().
  [[nodiscard]] std::string swarm_id();
  // 64 hex characters, like a container or local network ID.
  [[nodiscard]] std::string hex_id();
  // Uniform in [0, n); n == 0 gives 0.
  [[nodiscard]] std::uint64_t below(std::uint64_t n);
  // Uniform in [0, 1).
  [[nodiscard]] double unit();

 private:
  std::mt19937_64 rng_;
};

}  // namespace narwhal::sim
