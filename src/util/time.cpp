#include "narwhal/util/time.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace narwhal::util {

std::int64_t now_micros() noexcept {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::int64_t steady_millis() noexcept {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) noexcept {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
std::int64_t days_from_civil(int y, int m, int d) noexcept {
  using std::chrono::year, std::chrono::month, std::chrono::day, std::chrono::sys_days;
  const auto ymd = year{y} / month{static_cast<unsigned>(m)} / day{static_cast<unsigned>(d)};
  return sys_days{ymd}.time_since_epoch().count();
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339(std::string_view s) noexcept {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' ||
      !digits(s, 17, 2, se)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  std::size_t pos = 19;
  std::int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 6) micros = micros * 10 + (s[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0) return std::nullopt;
    for (int i = n; i < 6; ++i) micros *= 10;
  }
  std::int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = 0, om = 0;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om)) {
      return std::nullopt;
    }
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const std::int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset_s;
  return secs * 1'000'000 + micros;
}

namespace {
std::tm utc_tm(std::int64_t micros) noexcept {
  std::time_t t = static_cast<std::time_t>(micros / 1'000'000);
  if (micros < 0 && micros % 1'000'000 != 0) --t;
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}
constexpr std::int64_t kYear10000 = 253402300800;  // 10000-01-01T00:00:00Z in seconds
constexpr std::array<const char*, 7> kDays{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
}  // namespace

std::string format_rfc3339(std::int64_t micros) {
  const std::tm tm = utc_tm(micros);
  const auto ms = static_cast<int>(((micros % 1'000'000) + 1'000'000) % 1'000'000 / 1000);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

std::string format_http_date(std::int64_t micros) {
  const std::tm tm = utc_tm(micros);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays.at(tm.tm_wday),
                tm.tm_mday, kMonths.at(tm.tm_mon), tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::optional<std::int64_t> parse_http_date(std::string_view s) noexcept {
  // "Sun, 22 Nov 2026 10:09:24 GMT"
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s.substr(26) != "GMT") return std::nullopt;
  int d = 0, y = 0, h = 0, mi = 0, se = 0;
  if (!digits(s, 5, 2, d) || !digits(s, 12, 4, y) || !digits(s, 17, 2, h) ||
      !digits(s, 20, 2, mi) || !digits(s, 23, 2, se)) {
    return std::nullopt;
  }
  int mo = 0;
  for (int i = 0; i < 12; ++i) {
    if (s.substr(8, 3) == kMonths.at(static_cast<std::size_t>(i))) mo = i + 1;
  }
  if (mo == 0 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  const std::int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
  // A leap second on 9999-12-31 would roll into year 10000, which IMF-fixdate cannot write.
  if (secs >= kYear10000) return std::nullopt;
  return secs * 1'000'000;
}

}  // namespace narwhal::util
