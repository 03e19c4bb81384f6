// Reading the optional TOML file of settings. Its keys are the flag names with "_" for "-"; each
// value is checked for the TOML type its option takes and rendered to text, so the file's values
// then go through the same validation as flags and environment variables.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "options.hpp"

namespace narwhal::config {

// By option name ("sse-batch-interval"); each value's origin names the file, line and key.
using FileValues = std::map<std::string, Value, std::less<>>;

// Throws ConfigError naming the file when it cannot be read or parsed, or holds an unknown key or
// a value of the wrong TOML type.
[[nodiscard]] FileValues read_config_file(const std::string& path);

}  // namespace narwhal::config
