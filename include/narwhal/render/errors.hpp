// The error-code registry as resources (SPEC §10): /api/errors lists every code narwhal can
// emit, /api/errors/{code} shows one, each as JSON-LD or as the built-in HTML page. Everything
// comes from error_registry(), in its order, so the pages cannot drift from what the server sends.
#pragma once

#include <string>
#include <string_view>

#include "narwhal/render/problem.hpp"

namespace narwhal::render {

struct Site;

// The registered code, or nullptr when there is none (an unknown /api/errors/{code} is a 404,
// not a bug). Case-sensitive: codes are upper case everywhere narwhal writes them.
[[nodiscard]] const ErrorCode* find_error_code(std::string_view code) noexcept;

// "<base>/api/errors" and "<base>/api/errors/<code>".
[[nodiscard]] std::string error_list_url(const Site& site);
[[nodiscard]] std::string error_url(std::string_view code, const Site& site);

// {"@context", "@id", "@type": "ErrorRegistry", "total", "items": [ErrorCode…]}.
[[nodiscard]] std::string render_error_list_json(const Site& site);
// {"@context", "@id", "@type": "ErrorCode", "code", "status", "title", "description",
//  "suggestion"}.
[[nodiscard]] std::string render_error_json(const ErrorCode& code, const Site& site);

// The built-in HTML pages (see html.hpp): a table of every code, and one code's details.
[[nodiscard]] std::string render_error_list_html(const Site& site);
[[nodiscard]] std::string render_error_html(const ErrorCode& code, const Site& site);

}  // namespace narwhal::render
