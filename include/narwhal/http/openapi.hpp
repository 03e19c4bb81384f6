// The OpenAPI 3.1 document narwhal serves at /api (SPEC §11), generated from the route table so
// that every served URL is documented and every documented URL is served. The same document comes
// as JSON and as YAML; both are pure functions of their input, byte for byte, so every replica
// sends the same ETag for it.
#pragma once

#include <string>

namespace narwhal::http {

struct OpenApiInfo {
  std::string base_path;  // "" or "/narwhal": the server URL; paths themselves carry no prefix
  std::string version;    // narwhal's version, as info.version
};

[[nodiscard]] std::string render_openapi_json(const OpenApiInfo& info);
// The same document as block-style YAML. Strings a YAML reader would take for a number, a
// boolean or null ("200", "3.1.0", "true", "") are quoted, so they read back as strings.
[[nodiscard]] std::string render_openapi_yaml(const OpenApiInfo& info);

}  // namespace narwhal::http
