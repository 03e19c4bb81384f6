#include "values.hpp"

#include <re2/re2.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <system_error>

namespace narwhal::config {

namespace {

// Durations are timers and intervals; a day or more is always a typo (a missing unit, an extra
// zero), and capping here keeps every later multiplication far from overflow.
constexpr std::int64_t kMaxDurationMs = 24LL * 60 * 60 * 1000;

// Longer user text is cut in messages: the point is to recognise the value, not to echo it.
constexpr std::size_t kMaxQuotedChars = 80;

struct DurationUnit {
  std::string_view suffix;
  std::int64_t ms;
};

// A bare number is milliseconds: the unit of every internal timer.
constexpr std::array<DurationUnit, 5> kDurationUnits{{
    {"", 1},
    {"ms", 1},
    {"s", 1000},
    {"m", 60LL * 1000},
    {"h", 60LL * 60 * 1000},
}};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!is_digit(c)) return false;
  }
  return true;
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Host names and IPv4 literals; anything else (spaces, slashes, a scheme) is a typo we can name.
bool is_host_name(std::string_view host) {
  if (host.empty()) return false;
  for (char c : host) {
    if (!is_alnum(c) && c != '.' && c != '-' && c != '_') return false;
  }
  return true;
}

// The inside of "[...]": hex groups, colons, an embedded IPv4 tail and an optional "%zone".
bool is_ipv6_literal(std::string_view host) {
  const auto percent = host.find('%');
  const std::string_view address = host.substr(0, percent);
  if (address.find(':') == std::string_view::npos) return false;
  for (char c : address) {
    const bool hex = is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex && c != ':' && c != '.') return false;
  }
  if (percent != std::string_view::npos) {
    const std::string_view zone = host.substr(percent + 1);
    if (zone.empty()) return false;
    for (char c : zone) {
      if (!is_alnum(c) && c != '-' && c != '_' && c != '.') return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool is_origin(std::string_view origin) {
  if (origin == "*") return true;
  std::string_view rest;
  if (origin.starts_with("http://")) {
    rest = origin.substr(7);
  } else if (origin.starts_with("https://")) {
    rest = origin.substr(8);
  } else {
    return false;
  }
  // Browsers send Origin as scheme://host[:port] exactly; a path or a space would never match.
  if (rest.empty()) return false;
  for (char c : rest) {
    if (c == '/' || c == '?' || c == '#' || static_cast<unsigned char>(c) <= ' ') return false;
  }
  return true;
}

}  // namespace

void fail(std::string_view setting, std::string_view detail) {
  std::string message(setting);
  message += ": ";
  message += detail;
  throw ConfigError(message);
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  std::size_t shown = 0;
  for (char c : text) {
    if (shown++ == kMaxQuotedChars) {
      out += "...";
      break;
    }
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7f) {
      static constexpr std::string_view kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

Millis parse_duration(const std::string& setting, const std::string& text) {
  std::size_t digits = 0;
  while (digits < text.size() && is_digit(text[digits])) ++digits;
  const std::string_view suffix = std::string_view(text).substr(digits);
  const DurationUnit* unit = nullptr;
  for (const auto& candidate : kDurationUnits) {
    if (candidate.suffix == suffix) unit = &candidate;
  }
  if (digits == 0 || unit == nullptr) {
    fail(setting, quote(text) + " is not a duration (use e.g. 100ms, 15s, 5m)");
  }

  std::uint64_t count = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, count);
  // Compare in units before multiplying, so that no count can overflow the product.
  if (ec != std::errc{} || count > static_cast<std::uint64_t>(kMaxDurationMs / unit->ms) ||
      static_cast<std::int64_t>(count) * unit->ms >= kMaxDurationMs) {
    fail(setting, quote(text) + " must be less than 24h");
  }
  if (count == 0) fail(setting, quote(text) + " must be more than 0");
  return Millis{static_cast<std::int64_t>(count) * unit->ms};
}

void parse_listen(const std::string& setting, const std::string& text, std::string& host,
                  std::uint16_t& port) {
  constexpr std::string_view kUsage = " (use host:port, e.g. :9000, 127.0.0.1:9000 or [::1]:9000)";
  std::string parsed_host;
  std::string_view port_text;

  if (text.find("://") != std::string::npos) {
    fail(setting, quote(text) + " is a URL, not an address" + std::string(kUsage));
  }
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string::npos) fail(setting, quote(text) + " has no closing \"]\"");
    parsed_host = text.substr(1, close - 1);
    if (!is_ipv6_literal(parsed_host)) {
      fail(setting, "host " + quote(parsed_host) + " is not an IPv6 address");
    }
    const std::string_view rest = std::string_view(text).substr(close + 1);
    if (!rest.starts_with(':')) fail(setting, quote(text) + " has no port" + std::string(kUsage));
    port_text = rest.substr(1);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) {
      fail(setting, quote(text) + " has no port" + std::string(kUsage));
    }
    parsed_host = text.substr(0, colon);
    port_text = std::string_view(text).substr(colon + 1);
    if (parsed_host.find(':') != std::string::npos) {
      fail(setting, "IPv6 address " + quote(parsed_host) + " needs brackets, e.g. [" + parsed_host +
                        "]:" + std::string(port_text));
    }
    // ":9000" is the conventional spelling of "every interface".
    if (parsed_host.empty()) {
      parsed_host = "0.0.0.0";
    } else if (!is_host_name(parsed_host)) {
      fail(setting, "host " + quote(parsed_host) + " is not a valid host name or address");
    }
  }

  if (port_text.empty()) fail(setting, quote(text) + " has no port" + std::string(kUsage));
  if (!all_digits(port_text)) fail(setting, "port " + quote(port_text) + " is not a number");
  unsigned long value = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (ec != std::errc{} || value < 1 || value > 65535) {
    fail(setting, "port " + quote(port_text) + " is out of range 1-65535");
  }
  host = std::move(parsed_host);
  port = static_cast<std::uint16_t>(value);
}

std::size_t parse_count(const std::string& setting, const std::string& text, std::size_t min,
                        std::size_t max) {
  const std::string range = std::to_string(min) + "-" + std::to_string(max);
  // "-1" is a number, just not one we take: say so rather than "not a whole number".
  if (text.starts_with('-') && all_digits(std::string_view(text).substr(1))) {
    fail(setting, quote(text) + " is out of range " + range);
  }
  if (!all_digits(text)) fail(setting, quote(text) + " is not a whole number");
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || value < min || value > max) {
    fail(setting, quote(text) + " is out of range " + range);
  }
  return static_cast<std::size_t>(value);
}

double parse_number(const std::string& setting, const std::string& text, double min, double max) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  // from_chars also reads "inf" and "nan"; neither is a rate anyone means.
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    fail(setting, quote(text) + " is not a number");
  }
  if (value < min || value > max) {
    fail(setting,
         quote(text) + " is out of range " + format_number(min) + "-" + format_number(max));
  }
  return value;
}

bool parse_bool(const std::string& setting, const std::string& text) {
  const std::string lower = ascii_lower(text);
  if (lower == "1" || lower == "true" || lower == "yes" || lower == "on") return true;
  if (lower == "0" || lower == "false" || lower == "no" || lower == "off") return false;
  fail(setting, quote(text) + " is not a boolean (use true or false)");
}

LogLevel parse_log_level(const std::string& setting, const std::string& text) {
  if (text == "debug") return LogLevel::debug;
  if (text == "info") return LogLevel::info;
  if (text == "warn") return LogLevel::warn;
  if (text == "error") return LogLevel::error;
  fail(setting, quote(text) + " is not one of debug, info, warn, error");
}

LogFormat parse_log_format(const std::string& setting, const std::string& text) {
  if (text == "text") return LogFormat::text;
  if (text == "json") return LogFormat::json;
  fail(setting, quote(text) + " is not one of text, json");
}

std::string parse_base_path(const std::string& setting, const std::string& text) {
  if (text.empty() || text == "/") return "";
  if (!text.starts_with('/') || text.ends_with('/')) {
    fail(setting, quote(text) + " must start with \"/\" and not end with \"/\" (e.g. /narwhal)");
  }
  if (text.find("//") != std::string::npos) {
    fail(setting, quote(text) + " has an empty segment (\"//\")");
  }
  for (char c : text) {
    // The prefix is compared with request targets verbatim: a query, a fragment or a raw space
    // could never match one.
    if (c == '?' || c == '#' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      fail(setting, quote(text) + " may contain only URL path characters");
    }
  }
  return text;
}

std::string parse_tag_authority(const std::string& setting, const std::string& text) {
  const std::string why =
      " must be a domain name narwhal's operator owns, e.g. narwhal.example.org";
  if (text.empty() || text.size() > 253 || text.front() == '.' || text.back() == '.' ||
      text.find("..") != std::string::npos) {
    fail(setting, quote(text) + why);
  }
  for (const char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.';
    if (!ok) fail(setting, quote(text) + why);
  }
  return text;
}

std::string parse_redact_pattern(const std::string& setting, const std::string& text) {
  if (text.empty()) return text;
  RE2::Options options;
  options.set_case_sensitive(false);
  options.set_log_errors(false);
  options.set_max_mem(1 << 20);
  const RE2 re(text, options);
  if (!re.ok()) {
    fail(setting, quote(text) + " is not a regular expression (RE2 syntax): " + re.error() +
                      "; use \"\" to show every variable");
  }
  return text;
}

std::vector<std::string> parse_cors_origins(const std::string& setting, const std::string& text) {
  std::vector<std::string> origins;
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    // Tolerate "a, b," and the like: an empty item carries no intent to reject.
    if (item.empty()) continue;
    if (!is_origin(item)) {
      fail(setting,
           quote(item) + " is not an origin (use \"*\" or http(s)://host[:port], without a path)");
    }
    origins.emplace_back(item);
  }
  return origins;
}

std::string parse_docker_host(const std::string& setting, const std::string& text) {
  constexpr std::string_view kUsage = " (use unix:///path/to/docker.sock or tcp://host:port)";
  for (std::string_view scheme : {"unix://", "tcp://", "http://", "https://"}) {
    if (!text.starts_with(scheme)) continue;
    if (text.size() == scheme.size()) {
      fail(setting, quote(text) + (scheme == "unix://" ? " has no socket path" : " has no host") +
                        std::string(kUsage));
    }
    return text;
  }
  fail(setting, quote(text) + " is not a supported Docker host" + std::string(kUsage));
}

void check_readable_file(const std::string& setting, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    fail(setting, quote(path) + " is a directory, not a file");
  }
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    fail(setting, "cannot read " + quote(path) + ": " + std::generic_category().message(errno));
  }
  std::fclose(file);
}

std::string format_number(double value) {
  std::array<char, 32> buffer{};
  auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return ec == std::errc{} ? std::string(buffer.data(), end) : std::string("nan");
}

std::string format_duration(Millis d) {
  const auto ms = d.count();
  for (auto it = kDurationUnits.rbegin(); it != kDurationUnits.rend(); ++it) {
    if (it->ms > 1 && ms % it->ms == 0 && ms != 0) {
      return std::to_string(ms / it->ms) + std::string(it->suffix);
    }
  }
  return std::to_string(ms) + "ms";
}

}  // namespace narwhal::config
