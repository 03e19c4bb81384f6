// The --help and --version texts. The help is generated from the option table, with each
// option's environment variable and its default read from a default Config, so it cannot drift
// from what parse() does.
#pragma once

#include <string>
#include <string_view>

namespace narwhal::config {

// Every option with its value, meaning, variables and default; no trailing newline.
[[nodiscard]] std::string help_text();

// NARWHAL_VERSION when the build defines it, else the project's version.
[[nodiscard]] std::string_view version();

}  // namespace narwhal::config
