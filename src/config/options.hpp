// The table of narwhal's options. Each option is named once, as its flag; its environment variable
// and TOML key are derived from that name, so the three spellings can never drift apart, and the
// help text (help.cpp) is generated from the same rows that parse the values.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "narwhal/config/config.hpp"

namespace narwhal::config {

// What an option's value looks like; decides how a flag takes it and which TOML types fit it.
enum class Kind { text, count, number, duration, flag, list };

// One setting as it reached us, before validation.
struct Value {
  // How the user wrote the setting: "--listen", "NARWHAL_LISTEN", "config file f: line 3: listen".
  std::string origin;
  // The value as text; TOML numbers, booleans and arrays are rendered to the text a flag would be.
  std::string text;
};

struct Option {
  std::string_view name{};        // the flag without its dashes: "sse-batch-interval"
  std::string_view value_name{};  // what the help shows after the flag: "DURATION"; "" for flags
  Kind kind = Kind::text;
  std::string_view help{};
  // A variable of Docker's own, read when neither flag, NARWHAL_ variable nor file set the option:
  // it describes the Docker client environment, which narwhal should honour but not prefer.
  std::string_view docker_env{};
  bool in_file = true;        // only --config itself cannot come from the file
  bool may_be_empty = false;  // "--name=" is a value ("" turns the setting off), not a mistake
  void (*apply)(Config&, const Value&) = nullptr;  // validates; throws ConfigError
  std::string (*show)(const Config&) = nullptr;    // the current value, for defaults in the help
};

[[nodiscard]] std::span<const Option> options();

// "sse-batch-interval" -> "NARWHAL_SSE_BATCH_INTERVAL".
[[nodiscard]] std::string env_name(const Option& option);

// "sse-batch-interval" -> "sse_batch_interval".
[[nodiscard]] std::string key_name(const Option& option);

// The option spelled most like `spelled` (flag name or TOML key), for a "did you mean" hint;
// nullptr when none is close enough to be a likely typo.
[[nodiscard]] const Option* closest_option(std::string_view spelled);

}  // namespace narwhal::config
