#include "narwhal/util/log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

#include "narwhal/util/text.hpp"
#include "narwhal/util/time.hpp"

namespace narwhal::util::log {

namespace {
std::atomic<int> g_min_level{static_cast<int>(Level::info)};
std::atomic<bool> g_json{false};
std::mutex g_write_mutex;

constexpr std::string_view level_name(Level l) noexcept {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}
}  // namespace

void configure(Level min_level, bool json) {
  g_min_level = static_cast<int>(min_level);
  g_json = json;
}

bool enabled(Level level) noexcept {
  return static_cast<int>(level) >= g_min_level.load();
}

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  std::string line;
  line.reserve(128);
  const std::string ts = format_rfc3339(now_micros());
  if (g_json) {
    line += "{\"time\":\"" + ts + "\",\"level\":\"";
    line += level_name(level);
    line += "\",\"msg\":";
    append_json_string(line, message);
    for (const auto& [k, v] : fields) {
      line.push_back(',');
      append_json_string(line, k);
      line.push_back(':');
      append_json_string(line, v);
    }
    line += "}\n";
  } else {
    line += ts;
    line.push_back(' ');
    line += level_name(level);
    line.push_back(' ');
    line += message;
    for (const auto& [k, v] : fields) {
      line.push_back(' ');
      line += k;
      line.push_back('=');
      const bool quote = v.empty() || v.find_first_of(" \"=") != std::string_view::npos;
      if (quote) {
        append_json_string(line, v);
      } else {
        line += v;
      }
    }
    line.push_back('\n');
  }
  const std::lock_guard lock(g_write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace narwhal::util::log
