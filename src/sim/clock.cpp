#include "clock.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <string_view>

namespace narwhal::sim {

namespace {

struct Civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

// Howard Hinnant's days -> civil date: exact for the proleptic Gregorian calendar, no time zone
// database and no locale, so it is thread-safe and cheap at 100 000 tasks per listing.
Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {m <= 2 ? y + 1 : y, m, d};
}

// Writes "YYYY-MM-DDTHH:MM:SS" and returns the nanoseconds left over.
Nanos format_seconds(Nanos t, std::string& out) {
  Nanos secs = t / kNanosPerSecond;
  Nanos frac = t % kNanosPerSecond;
  if (frac < 0) {
    frac += kNanosPerSecond;
    --secs;
  }
  std::int64_t days = secs / 86400;
  std::int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  const Civil c = civil_from_days(days);
  std::array<char, 64> buf{};
  const int n = std::snprintf(
      buf.data(), buf.size(), "%04lld-%02u-%02uT%02lld:%02lld:%02lld",
      static_cast<long long>(c.year), c.month, c.day, static_cast<long long>(rem / 3600),
      static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60));
  out.append(buf.data(), static_cast<std::size_t>(n));
  return frac;
}

}  // namespace

Nanos now_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_rfc3339_nano(Nanos t) {
  std::string out;
  out.reserve(32);
  Nanos frac = format_seconds(t, out);
  if (frac != 0) {
    std::array<char, 32> digits{};
    std::snprintf(digits.data(), digits.size(), ".%09lld", static_cast<long long>(frac));
    std::string_view fraction(digits.data(), 10);
    while (fraction.back() == '0') fraction.remove_suffix(1);
    out.append(fraction);
  }
  out.push_back('Z');
  return out;
}

std::string format_rfc3339(Nanos t) {
  std::string out;
  format_seconds(t, out);
  out.push_back('Z');
  return out;
}

}  // namespace narwhal::sim
