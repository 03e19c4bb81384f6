// RFC 9457 problem documents and the one registry of narwhal's error codes. Every code the
// server can emit is registered here; /api/errors is generated from this table.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace narwhal::render {

struct ErrorCode {
  std::string_view code;  // three-letter domain + three digits
  int status;
  std::string_view title;
  std::string_view description;
  std::string_view suggestion;
};

[[nodiscard]] const std::vector<ErrorCode>& error_registry();
// The registered code; aborts on an unregistered one (a bug, caught by the tests).
[[nodiscard]] const ErrorCode& error_code(std::string_view code);

struct Problem {
  std::string code;
  std::string detail;
  std::vector<std::string> candidates;  // canonical URLs (409 ambiguity)
};

// The problem document for `p` at `instance` (the request path).
[[nodiscard]] std::string render_problem(const Problem& p, std::string_view instance,
                                         std::string_view request_id, std::string_view base_path);

}  // namespace narwhal::render
