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

namespace {

int month_of(std::string_view name) noexcept {
  for (int i = 0; i < 12; ++i) {
    if (name == kMonths.at(static_cast<std::size_t>(i))) return i + 1;
  }
  return 0;
}

// "08:49:37" at `pos`.
bool clock_at(std::string_view s, std::size_t pos, int& h, int& mi, int& se) noexcept {
  return pos + 8 <= s.size() && digits(s, pos, 2, h) && s[pos + 2] == ':' &&
         digits(s, pos + 3, 2, mi) && s[pos + 5] == ':' && digits(s, pos + 6, 2, se);
}

std::optional<std::int64_t> to_micros(int y, int mo, int d, int h, int mi, int se) noexcept {
  if (mo == 0 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  const std::int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
  // A leap second on 9999-12-31 would roll into year 10000, which IMF-fixdate cannot write.
  if (secs >= kYear10000) return std::nullopt;
  return secs * 1'000'000;
}

}  // namespace

std::optional<std::int64_t> parse_http_date(std::string_view s) noexcept {
  int d = 0, y = 0, h = 0, mi = 0, se = 0;
  // IMF-fixdate: "Sun, 22 Nov 2026 10:09:24 GMT"
  if (s.size() == 29 && s[3] == ',' && s[4] == ' ' && s.substr(25) == " GMT") {
    if (!digits(s, 5, 2, d) || s[7] != ' ' || s[11] != ' ' || !digits(s, 12, 4, y) ||
        s[16] != ' ' || !clock_at(s, 17, h, mi, se)) {
      return std::nullopt;
    }
    return to_micros(y, month_of(s.substr(8, 3)), d, h, mi, se);
  }
  // RFC 9110 §5.6.7: recipients also accept the two obsolete forms.
  // asctime: "Sun Nov  6 08:49:37 1994"
  if (s.size() == 24 && s[3] == ' ' && s[7] == ' ' && s[10] == ' ' && s[19] == ' ') {
    const std::string_view day = s.substr(8, 2);
    if (day[0] == ' ' ? !digits(day, 1, 1, d) : !digits(day, 0, 2, d)) return std::nullopt;
    if (!clock_at(s, 11, h, mi, se) || !digits(s, 20, 4, y)) return std::nullopt;
    return to_micros(y, month_of(s.substr(4, 3)), d, h, mi, se);
  }
  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
  const auto comma = s.find(", ");
  if (comma != std::string_view::npos && comma >= 6 && comma <= 9 && s.size() == comma + 24 &&
      s.substr(s.size() - 4) == " GMT") {
    const std::size_t p = comma + 2;
    int yy = 0;
    if (!digits(s, p, 2, d) || s[p + 2] != '-' || s[p + 6] != '-' || !digits(s, p + 7, 2, yy) ||
        s[p + 9] != ' ' || !clock_at(s, p + 10, h, mi, se)) {
      return std::nullopt;
    }
    // A two-digit year more than 50 years ahead is the most recent past one with those digits.
    const auto now = std::chrono::system_clock::now();
    const int this_year = static_cast<int>(
        std::chrono::year_month_day{std::chrono::floor<std::chrono::days>(now)}.year());
    y = this_year / 100 * 100 + yy;
    if (y > this_year + 50) y -= 100;
    return to_micros(y, month_of(s.substr(p + 3, 3)), d, h, mi, se);
  }
  return std::nullopt;
}

}  // namespace narwhal::util
