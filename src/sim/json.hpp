// Small helpers over RapidJSON's Writer for the engine's shapes: bodies are one line of JSON plus
// "\n", as Go's json.Encoder writes them.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

#include "clock.hpp"
#include "swarm.hpp"

namespace narwhal::sim {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

inline void put_str(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
inline void put_field(JsonWriter& w, const char* key, std::string_view value) {
  w.Key(key);
  put_str(w, value);
}
inline void put_time(JsonWriter& w, const char* key, Nanos t) {
  put_field(w, key, format_rfc3339_nano(t));
}

void put_labels(JsonWriter& w, const Labels& labels);  // always an object
void put_labels_or_null(JsonWriter& w, const Labels& labels);
// "ID", "Version", "CreatedAt", "UpdatedAt": the head every swarm object starts with.
void put_meta(JsonWriter& w, const Meta& meta);

// The buffer's JSON plus the trailing newline.
[[nodiscard]] std::string take_body(const rapidjson::StringBuffer& buffer);
// {"message":"..."}\n, the engine's error body.
[[nodiscard]] std::string message_body(std::string_view message);
[[nodiscard]] std::string base64(std::string_view bytes);

}  // namespace narwhal::sim
