#include "filters.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <array>

namespace narwhal::sim {

namespace {

// Go's encoding/json wording for the common syntax errors.
std::string go_syntax_error(std::string_view json, const rapidjson::Document& doc) {
  const std::size_t offset = doc.GetErrorOffset();
  if (offset >= json.size() || doc.GetParseError() == rapidjson::kParseErrorDocumentEmpty) {
    return "unexpected end of JSON input";
  }
  const std::string c(1, json[offset]);
  switch (doc.GetParseError()) {
    case rapidjson::kParseErrorObjectMissName:
      return "invalid character '" + c + "' looking for beginning of object key string";
    case rapidjson::kParseErrorObjectMissColon:
      return "invalid character '" + c + "' after object key";
    case rapidjson::kParseErrorObjectMissCommaOrCurlyBracket:
      return "invalid character '" + c + "' after object key:value pair";
    case rapidjson::kParseErrorArrayMissCommaOrSquareBracket:
      return "invalid character '" + c + "' after array element";
    case rapidjson::kParseErrorDocumentRootNotSingular:
      return "invalid character '" + c + "' after top-level value";
    default: return "invalid character '" + c + "' looking for beginning of value";
  }
}

}  // namespace

std::optional<std::string> Filters::parse(std::string_view json, Filters& out) {
  out.values_.clear();
  if (json.empty()) return std::nullopt;
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) return go_syntax_error(json, doc);
  if (doc.IsNull()) return std::nullopt;
  if (!doc.IsObject()) {
    return "json: cannot unmarshal " + std::string(doc.IsArray() ? "array" : "value") +
           " into Go value of type map[string]map[string]bool";
  }
  for (const auto& member : doc.GetObject()) {
    auto& values = out.values_[std::string(member.name.GetString(), member.name.GetStringLength())];
    if (member.value.IsArray()) {
      for (const auto& v : member.value.GetArray()) {
        if (!v.IsString()) return "json: cannot unmarshal value into Go value of type string";
        values.emplace_back(v.GetString(), v.GetStringLength());
      }
    } else if (member.value.IsObject()) {
      for (const auto& v : member.value.GetObject()) {
        if (!v.value.IsBool()) return "json: cannot unmarshal value into Go value of type bool";
        if (v.value.GetBool()) values.emplace_back(v.name.GetString(), v.name.GetStringLength());
      }
    } else if (!member.value.IsNull()) {
      return "json: cannot unmarshal value into Go value of type map[string]bool";
    }
  }
  return std::nullopt;
}

bool Filters::has(std::string_view key) const {
  return values_.find(key) != values_.end();
}

const std::vector<std::string>& Filters::get(std::string_view key) const {
  static const std::vector<std::string> kNone;
  auto it = values_.find(key);
  return it == values_.end() ? kNone : it->second;
}

std::optional<std::string> Filters::unknown_key(
    std::initializer_list<std::string_view> accepted) const {
  for (const auto& [key, values] : values_) {
    bool known = false;
    for (auto a : accepted) known = known || a == key;
    if (!known) return key;
  }
  return std::nullopt;
}

bool Filters::exact(std::string_view key, std::string_view value) const {
  auto it = values_.find(key);
  if (it == values_.end()) return true;
  for (const auto& v : it->second) {
    if (v == value) return true;
  }
  return false;
}

bool Filters::prefix(std::string_view key, std::string_view value) const {
  auto it = values_.find(key);
  if (it == values_.end()) return true;
  for (const auto& v : it->second) {
    if (value.starts_with(v)) return true;
  }
  return false;
}

bool Filters::fuzzy(std::string_view key, std::string_view value) const {
  return exact(key, value) || prefix(key, value);
}

bool Filters::labels(const Labels& labels, std::string_view key) const {
  for (const auto& want : get(key)) {
    const auto eq = want.find('=');
    auto it = labels.find(want.substr(0, eq));
    if (it == labels.end()) return false;
    if (eq != std::string::npos && it->second != want.substr(eq + 1)) return false;
  }
  return true;
}

bool Filters::matches_event(const Event& e) const {
  std::string_view action = e.action;
  // "exec_create: /bin/sh" is matched by "exec_create".
  if (!exact("event", action) && !exact("event", action.substr(0, action.find(':')))) {
    return false;
  }
  if (!exact("type", e.type) || !exact("scope", e.scope)) return false;
  auto name = e.attributes.find("name");
  const std::string_view actor_name = name == e.attributes.end() ? "" : name->second;
  static constexpr std::array<std::string_view, 10> kObjectKeys = {
      "container", "node",   "service", "secret", "config",
      "network",   "volume", "image",   "plugin", "daemon"};
  for (auto key : kObjectKeys) {
    if (!has(key)) continue;
    if (!fuzzy(key, e.actor_id) && !fuzzy(key, actor_name)) return false;
  }
  return labels(e.attributes);
}

}  // namespace narwhal::sim
