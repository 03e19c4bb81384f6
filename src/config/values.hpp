// Parsers for the kinds of value an option takes. Each takes the setting as the user wrote it
// ("--threads", "NARWHAL_THREADS", "config file f.toml: line 3: threads") and throws ConfigError
// with that name in front, so every message points at the exact place to fix.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "narwhal/config/config.hpp"

namespace narwhal::config {

// Throws ConfigError("<setting>: <detail>").
[[noreturn]] void fail(std::string_view setting, std::string_view detail);

// `text` in double quotes, control characters escaped and long text cut, so that an error message
// built from user input stays one readable line.
[[nodiscard]] std::string quote(std::string_view text);

// A whole number in [min, max].
[[nodiscard]] std::size_t parse_count(const std::string& setting, const std::string& text,
                                      std::size_t min, std::size_t max);

// A decimal number (e.g. "0.5", "3") in [min, max].
[[nodiscard]] double parse_number(const std::string& setting, const std::string& text, double min,
                                  double max);

// 1/true/yes/on or 0/false/no/off, any case.
[[nodiscard]] bool parse_bool(const std::string& setting, const std::string& text);

[[nodiscard]] LogLevel parse_log_level(const std::string& setting, const std::string& text);
[[nodiscard]] LogFormat parse_log_format(const std::string& setting, const std::string& text);

// "" or "/a/b"; "/" becomes "".
[[nodiscard]] std::string parse_base_path(const std::string& setting, const std::string& text);
// A DNS name (RFC 4151 taggingEntity authority): letters, digits, '-' and '.', no empty label.
[[nodiscard]] std::string parse_tag_authority(const std::string& setting, const std::string& text);
// An RE2 pattern of environment variable names (case-insensitive); "" turns redaction off.
[[nodiscard]] std::string parse_redact_pattern(const std::string& setting, const std::string& text);

// Comma-separated origins, each "*" or "http(s)://host[:port]".
[[nodiscard]] std::vector<std::string> parse_cors_origins(const std::string& setting,
                                                          const std::string& text);

// unix:///path, tcp://host:port, http(s)://host:port: the transports the engine client speaks.
[[nodiscard]] std::string parse_docker_host(const std::string& setting, const std::string& text);

// Throws unless `path` names a regular file this process can read.
void check_readable_file(const std::string& setting, const std::string& path);

// The shortest text that reads back as `value` ("0.5", "3").
[[nodiscard]] std::string format_number(double value);

// The shortest way to write `d` with one unit ("100ms", "15s", "5m", "1h"), as parse_duration
// reads.
[[nodiscard]] std::string format_duration(Millis d);

}  // namespace narwhal::config
