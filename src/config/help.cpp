#include "help.hpp"

#include <algorithm>
#include <cstddef>
#include <string>

#include "options.hpp"

#ifndef NARWHAL_VERSION
#define NARWHAL_VERSION "0.1.0"
#endif

namespace narwhal::config {

namespace {

// Flag and value name fit here; longer ones push the description to the next line.
constexpr std::size_t kHelpColumn = 32;
// The width of a terminal people actually have.
constexpr std::size_t kHelpWidth = 100;

// "left" padded to the help column, then "right" word-wrapped to the help width.
void append_help_row(std::string& out, std::string_view left, std::string_view right) {
  std::string row = "  ";
  row += left;
  if (row.size() + 2 > kHelpColumn) {
    out += row + "\n";
    row.clear();
  }
  while (true) {
    row.resize(kHelpColumn, ' ');
    std::size_t take = right.size();
    if (kHelpColumn + take > kHelpWidth) {
      const auto space = right.rfind(' ', kHelpWidth - kHelpColumn);
      take = space == std::string_view::npos ? right.size() : space;
    }
    out += row;
    out += right.substr(0, take);
    out += "\n";
    right.remove_prefix(std::min(right.size(), take + 1));
    if (right.empty()) break;
    row.clear();
  }
}

}  // namespace

std::string help_text() {
  const Config defaults;
  std::string out = "Usage: narwhal [options]\n\n";
  out += "narwhal serves the state of a Docker Swarm over HTTP: JSON, Atom feeds and live\n";
  out += "Server-Sent Events.\n\n";
  out += "Every option is also an environment variable (shown below) and a key of the TOML\n";
  out += "file given by --config, spelled like the flag with \"_\" for \"-\"\n";
  out += "(sse_batch_interval = \"100ms\"). Precedence: flag > environment > file > default.\n";
  out += "Durations: 100ms, 15s, 5m, 1h; a bare number is milliseconds.\n\n";
  out += "Options:\n";
  for (const auto& option : options()) {
    std::string left = "--";
    left += option.name;
    if (!option.value_name.empty()) {
      left += " ";
      left += option.value_name;
    }
    append_help_row(out, left, option.help);
    std::string where = "env " + env_name(option);
    if (!option.docker_env.empty()) {
      where += ", then ";
      where += option.docker_env;
    }
    const std::string fallback = "default " + option.show(defaults);
    // One line when it fits; otherwise one each, rather than wrapping inside a value.
    if (kHelpColumn + where.size() + fallback.size() + 4 <= kHelpWidth) {
      append_help_row(out, "", "[" + where + "; " + fallback + "]");
    } else {
      append_help_row(out, "", "[" + where + ";");
      append_help_row(out, "", " " + fallback + "]");
    }
  }
  append_help_row(out, "-h, --help", "print this help and exit");
  append_help_row(out, "--version", "print the version and exit");
  out.pop_back();  // the caller ends the line, as for the one-line --version text
  return out;
}

std::string_view version() {
  return NARWHAL_VERSION;
}

}  // namespace narwhal::config
