// Process-wide logging to stderr, as text or JSON lines. The sink is the one global of the
// program: logging is a side channel that every module uses and no test inspects.
#pragma once

#include <initializer_list>
#include <string_view>
#include <utility>

namespace narwhal::util::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

void configure(Level min_level, bool json);
[[nodiscard]] bool enabled(Level level) noexcept;

using Field = std::pair<std::string_view, std::string_view>;
// One line: message plus key=value fields (JSON: one object per line).
void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
  if (enabled(Level::debug)) write(Level::debug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::info, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::warn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::error, m, f);
}

}  // namespace narwhal::util::log
