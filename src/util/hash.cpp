#include "narwhal/util/hash.hpp"

#include <xxhash.h>

#include <cstdint>

namespace narwhal::util {

std::string strong_etag(std::string_view body) {
  static constexpr char kHex[] = "0123456789abcdef";
  const XXH128_hash_t h = XXH3_128bits(body.data(), body.size());
  std::string tag;
  tag.reserve(34);
  tag.push_back('"');
  for (const std::uint64_t word : {h.high64, h.low64}) {
    for (int shift = 60; shift >= 0; shift -= 4) tag.push_back(kHex[(word >> shift) & 0xF]);
  }
  tag.push_back('"');
  return tag;
}

}  // namespace narwhal::util
