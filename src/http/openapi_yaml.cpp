#include "openapi_yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace narwhal::http {

namespace {

using JsonValue = rapidjson::Value;

// ---- YAML -------------------------------------------------------------------------------------

// Whether a YAML reader (1.1 or 1.2 core schema) would resolve the plain scalar `s` to something
// other than a string: a number, a boolean, null, a timestamp, YAML 1.1's merge key. yaml-cpp
// quotes the syntactically
// special strings itself but writes "200" or "true" plain.
bool reads_as_non_string(std::string_view s) {
  if (s.empty()) return true;
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (digit(s[0])) return true;
  if (s.size() > 1 && (s[0] == '-' || s[0] == '+' || s[0] == '.') && (digit(s[1]) || s[1] == '.')) {
    return true;
  }
  std::string lower;
  for (const char c : s) lower.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
  for (const std::string_view word :
       {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ".inf", ".nan", "<<"}) {
    if (lower == word) return true;
  }
  return false;
}

// JSON → YAML node. Strings get the non-specific tag "!" (YAML's "this is a string"), which is
// how the emitter below tells "200" the string from 200 the number.
YAML::Node to_yaml(const JsonValue& v) {
  switch (v.GetType()) {
    case rapidjson::kObjectType: {
      YAML::Node n(YAML::NodeType::Map);
      for (const auto& m : v.GetObject()) {
        n.force_insert(std::string(m.name.GetString(), m.name.GetStringLength()), to_yaml(m.value));
      }
      return n;
    }
    case rapidjson::kArrayType: {
      YAML::Node n(YAML::NodeType::Sequence);
      for (const auto& e : v.GetArray()) n.push_back(to_yaml(e));
      return n;
    }
    case rapidjson::kStringType: {
      YAML::Node n(std::string(v.GetString(), v.GetStringLength()));
      n.SetTag("!");
      return n;
    }
    case rapidjson::kNumberType:
      if (v.IsInt64()) return YAML::Node(std::to_string(v.GetInt64()));
      if (v.IsUint64()) return YAML::Node(std::to_string(v.GetUint64()));
      return YAML::Node(v.GetDouble());
    case rapidjson::kTrueType: return YAML::Node(true);
    case rapidjson::kFalseType: return YAML::Node(false);
    case rapidjson::kNullType: break;
  }
  return YAML::Node(YAML::NodeType::Null);
}

void emit_string(YAML::Emitter& out, const std::string& s) {
  if (reads_as_non_string(s)) out << YAML::DoubleQuoted;
  out << s;
}

void emit(YAML::Emitter& out, const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      out << YAML::BeginMap;
      for (const auto& kv : n) {
        out << YAML::Key;
        emit_string(out, kv.first.Scalar());  // every key of the document is a string
        out << YAML::Value;
        emit(out, kv.second);
      }
      out << YAML::EndMap;
      break;
    case YAML::NodeType::Sequence:
      out << YAML::BeginSeq;
      for (const auto& e : n) emit(out, e);
      out << YAML::EndSeq;
      break;
    case YAML::NodeType::Scalar:
      if (n.Tag() == "!") {
        emit_string(out, n.Scalar());
      } else {
        out << n.Scalar();
      }
      break;
    default: out << YAML::Null; break;
  }
}

}  // namespace

std::string yaml_of(const rapidjson::Value& doc) {
  YAML::Emitter out;
  out.SetIndent(2);
  emit(out, to_yaml(doc));
  if (!out.good()) {
    std::fprintf(stderr, "%s:%d: YAML emitter: %s\n", __FILE__, __LINE__,
                 out.GetLastError().c_str());
    std::abort();
  }
  std::string text(out.c_str(), out.size());
  text.push_back('\n');
  return text;
}

}  // namespace narwhal::http
