// Time helpers: the engine's RFC 3339 timestamps, HTTP dates, and narwhal's own clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace narwhal::util {

// Microseconds since the Unix epoch, wall clock.
[[nodiscard]] std::int64_t now_micros() noexcept;
// Monotonic milliseconds, for timers.
[[nodiscard]] std::int64_t steady_millis() noexcept;
// "2026-11-22T10:02:30.257791417Z" (any fraction, Z or ±hh:mm) → microseconds since the epoch.
[[nodiscard]] std::optional<std::int64_t> parse_rfc3339(std::string_view s) noexcept;
// RFC 3339 with milliseconds, UTC: "2026-11-22T10:15:42.123Z".
[[nodiscard]] std::string format_rfc3339(std::int64_t micros);
// IMF-fixdate for HTTP headers: "Sun, 22 Nov 2026 10:09:24 GMT".
[[nodiscard]] std::string format_http_date(std::int64_t micros);
// Parses IMF-fixdate (the only form senders must generate); seconds precision.
[[nodiscard]] std::optional<std::int64_t> parse_http_date(std::string_view s) noexcept;

}  // namespace narwhal::util
