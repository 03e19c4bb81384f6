// Which environment variables are secrets: their values are replaced when an engine object is
// parsed, so no representation built from it (JSON, SSE, Atom, history, search) can show them.
// Immutable once compiled; shared by the watcher's parses.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "narwhal/util/result.hpp"

namespace re2 {
class RE2;
}

namespace narwhal::state {

// What a hidden value becomes: "DB_PASSWORD=" + kRedacted.
inline constexpr std::string_view kRedacted = "[redacted]";
// The default: names that usually hold secrets.
inline constexpr std::string_view kDefaultRedactPattern =
    "PASSWORD|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE";

class EnvRedactor {
 public:
  EnvRedactor() = default;  // hides nothing
  // An RE2 pattern matched case-insensitively anywhere in a variable's name; "" hides nothing.
  [[nodiscard]] static util::Result<EnvRedactor, std::string> compile(std::string_view pattern);

  [[nodiscard]] bool enabled() const noexcept { return re_ != nullptr; }
  [[nodiscard]] bool hides(std::string_view name) const noexcept;
  // "NAME=value" → "NAME=[redacted]" when NAME is hidden; otherwise unchanged (false).
  bool redact(std::string& assignment) const;

 private:
  std::shared_ptr<const re2::RE2> re_;
};

}  // namespace narwhal::state
