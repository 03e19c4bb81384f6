// Content negotiation (SPEC §2): RFC 9110 Accept parsing with q-values and specificity, path
// extensions, and the choice among what a URL offers.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace narwhal::http {

enum class Representation {
  json,          // application/json
  narwhal_v1,    // application/vnd.narwhal.v1+json
  cetacean_v1,   // application/vnd.cetacean.v1+json (compatibility alias)
  json_ld,       // application/ld+json
  html,          // text/html
  event_stream,  // text/event-stream
  atom,          // application/atom+xml
  yaml,          // application/yaml (the OpenAPI document)
};

[[nodiscard]] std::string_view media_type(Representation r) noexcept;
[[nodiscard]] bool is_json(Representation r) noexcept;

struct MediaRange {
  std::string type;     // lower-case, "*" allowed
  std::string subtype;  // lower-case, "*" allowed
  double q = 1.0;
  int specificity = 0;  // 0 */*, 1 type/*, 2 type/subtype, 3 with parameters
};

// Parses an Accept value; malformed members are skipped (RFC 9110 lets servers ignore them).
[[nodiscard]] std::vector<MediaRange> parse_accept(std::string_view accept);

// The offered representation the client prefers, in the server's order on ties; nullopt when
// nothing offered is acceptable. An empty Accept accepts everything.
[[nodiscard]] std::optional<Representation> choose(std::string_view accept,
                                                   const std::vector<Representation>& offered);

// ".json" / ".atom" / ".html" at the end of a path segment.
[[nodiscard]] std::optional<Representation> from_extension(std::string_view ext) noexcept;

}  // namespace narwhal::http
