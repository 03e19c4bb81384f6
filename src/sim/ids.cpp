#include "ids.hpp"

namespace narwhal::sim {

std::string IdSource::swarm_id() {
  static constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string id(25, '0');
  for (char& c : id) c = kAlphabet[rng_() % 36];
  return id;
}

std::string IdSource::hex_id() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(64, '0');
  for (std::size_t i = 0; i < id.size(); i += 16) {
    std::uint64_t bits = rng_();
    for (std::size_t j = 0; j < 16; ++j, bits >>= 4) id[i + j] = kHex[bits & 0xf];
  }
  return id;
}

std::uint64_t IdSource::below(std::uint64_t n) {
  return n == 0 ? 0 : rng_() % n;
}

double IdSource::unit() {
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

}  // namespace narwhal::sim
