#include "json.hpp"

namespace narwhal::sim {

void put_labels(JsonWriter& w, const Labels& labels) {
  w.StartObject();
  for (const auto& [key, value] : labels) {
    put_str(w, key);
    put_str(w, value);
  }
  w.EndObject();
}

void put_labels_or_null(JsonWriter& w, const Labels& labels) {
  if (labels.empty()) {
    w.Null();
  } else {
    put_labels(w, labels);
  }
}

void put_meta(JsonWriter& w, const Meta& meta) {
  put_field(w, "ID", meta.id);
  w.Key("Version");
  w.StartObject();
  w.Key("Index");
  w.Uint64(meta.version);
  w.EndObject();
  put_time(w, "CreatedAt", meta.created);
  put_time(w, "UpdatedAt", meta.updated);
}

std::string take_body(const rapidjson::StringBuffer& buffer) {
  std::string body;
  body.reserve(buffer.GetSize() + 1);
  body.append(buffer.GetString(), buffer.GetSize());
  body.push_back('\n');
  return body;
}

std::string message_body(std::string_view message) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  put_field(w, "message", message);
  w.EndObject();
  return take_body(buffer);
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(bytes[i]) << 16) |
                   (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                   static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == bytes.size()) {
    const auto n = static_cast<unsigned char>(bytes[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const auto n = (static_cast<unsigned char>(bytes[i]) << 16) |
                   (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

}  // namespace narwhal::sim
