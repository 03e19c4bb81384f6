#include "narwhal/state/redact.hpp"

#include <re2/re2.h>

namespace narwhal::state {

util::Result<EnvRedactor, std::string> EnvRedactor::compile(std::string_view pattern) {
  EnvRedactor r;
  if (pattern.empty()) return r;
  RE2::Options options;
  options.set_case_sensitive(false);
  options.set_log_errors(false);
  // Names are short: a small budget is plenty, and bounds what a pattern can cost.
  options.set_max_mem(1 << 20);
  auto re = std::make_shared<const RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re->ok()) return util::Unexpected{"\"" + std::string(pattern) + "\": " + re->error()};
  r.re_ = std::move(re);
  return r;
}

bool EnvRedactor::hides(std::string_view name) const noexcept {
  return re_ != nullptr && RE2::PartialMatch(re2::StringPiece(name.data(), name.size()), *re_);
}

bool EnvRedactor::redact(std::string& assignment) const {
  if (re_ == nullptr) return false;
  const auto eq = assignment.find('=');
  const std::string_view name = std::string_view(assignment).substr(0, eq);
  if (!hides(name)) return false;
  // "NAME" alone (no value) says only that the variable is passed through: nothing to hide.
  if (eq == std::string::npos) return false;
  assignment.replace(eq + 1, std::string::npos, kRedacted);
  return true;
}

}  // namespace narwhal::state
