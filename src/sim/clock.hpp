// Wall-clock helpers for the simulated engine: everything is kept as nanoseconds since the Unix
// epoch (like the engine's timeNano) and formatted the way Go's encoder formats time.Time.
#pragma once

#include <cstdint>
#include <string>

namespace narwhal::sim {

using Nanos = std::int64_t;

inline constexpr Nanos kNanosPerSecond = 1'000'000'000;
inline constexpr Nanos kNanosPerMilli = 1'000'000;

[[nodiscard]] Nanos now_nanos();

// Go's time.RFC3339Nano in UTC: fraction without trailing zeros, no fraction when it is zero.
[[nodiscard]] std::string format_rfc3339_nano(Nanos t);
// Whole seconds, as volumes report CreatedAt.
[[nodiscard]] std::string format_rfc3339(Nanos t);

}  // namespace narwhal::sim
