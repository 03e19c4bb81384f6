// The OpenAPI document as YAML: the same tree as the JSON, block style, with every string that a
// YAML reader would take for a number, boolean, null or date quoted so it reads back as a string.
#pragma once

#include <rapidjson/document.h>

#include <string>

namespace narwhal::http {

[[nodiscard]] std::string yaml_of(const rapidjson::Value& doc);

}  // namespace narwhal::http
