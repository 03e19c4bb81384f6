#include "config_file.hpp"

#include <toml++/toml.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <string_view>
#include <system_error>

#include "values.hpp"

namespace narwhal::config {

namespace {

// A settings file is a few dozen lines; a bigger one is the wrong file (or /dev/zero), and
// reading it whole must not take the process's memory with it.
constexpr std::size_t kMaxFileBytes = std::size_t{1024} * 1024;

std::string read_whole_file(const std::string& path, const std::string& label) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) fail(label, "cannot open: " + std::generic_category().message(errno));
  std::string text;
  std::array<char, 8192> buffer{};
  std::size_t got = 0;
  while ((got = std::fread(buffer.data(), 1, buffer.size(), file)) > 0 &&
         text.size() <= kMaxFileBytes) {
    text.append(buffer.data(), got);
  }
  const int error = std::ferror(file) != 0 ? errno : 0;
  std::fclose(file);
  if (error != 0) fail(label, "cannot read: " + std::generic_category().message(error));
  if (text.size() > kMaxFileBytes) fail(label, "is larger than 1 MiB; is it the right file?");
  return text;
}

std::string_view describe(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time: return "a date or time";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::none: break;
  }
  return "nothing";
}

std::string_view expected(Kind kind) {
  switch (kind) {
    case Kind::text: return "a string";
    case Kind::count: return "an integer";
    case Kind::number: return "a number";
    case Kind::duration: return "a duration string such as \"15s\" or an integer of milliseconds";
    case Kind::flag: return "true or false";
    case Kind::list: return "a string or an array of strings";
  }
  return "a value";
}

// The value as the text a flag would carry; nullopt when its TOML type does not fit the option.
std::optional<std::string> to_text(Kind kind, const toml::node& node) {
  switch (kind) {
    case Kind::text:
      if (const auto* text = node.as_string()) return text->get();
      break;
    case Kind::count:
      if (const auto* integer = node.as_integer()) return std::to_string(integer->get());
      break;
    case Kind::number:
      if (const auto* integer = node.as_integer()) return std::to_string(integer->get());
      if (const auto* real = node.as_floating_point()) return format_number(real->get());
      break;
    case Kind::duration:
      if (const auto* text = node.as_string()) return text->get();
      if (const auto* integer = node.as_integer()) return std::to_string(integer->get());
      break;
    case Kind::flag:
      if (const auto* boolean = node.as_boolean()) return boolean->get() ? "true" : "false";
      break;
    case Kind::list:
      if (const auto* text = node.as_string()) return text->get();
      if (const auto* array = node.as_array()) {
        std::string joined;
        for (const auto& element : *array) {
          const auto* item = element.as_string();
          if (item == nullptr) return std::nullopt;
          if (!joined.empty()) joined += ',';
          joined += item->get();
        }
        return joined;
      }
      break;
  }
  return std::nullopt;
}

std::string at_line(const std::string& label, const toml::source_region& where) {
  return where.begin.line == 0 ? label : label + ": line " + std::to_string(where.begin.line);
}

}  // namespace

FileValues read_config_file(const std::string& path) {
  const std::string label = "config file " + path;
  const std::string text = read_whole_file(path, label);

  toml::table table;
  try {
    table = toml::parse(text, path);
  } catch (const toml::parse_error& error) {
    std::string description(error.description());
    // toml++ descriptions are short sentences, but a message of ours must stay on one line.
    for (char& c : description) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    fail(at_line(label, error.source()), description);
  }

  FileValues values;
  for (const auto& [key, node] : table) {
    const std::string place = at_line(label, key.source());
    const std::string spelled(key.str());
    const Option* option = nullptr;
    for (const auto& candidate : options()) {
      if (key_name(candidate) == spelled) option = &candidate;
    }
    if (option == nullptr) {
      std::string message = "unknown key " + quote(spelled);
      if (const Option* near = closest_option(spelled)) {
        message += " (did you mean " + key_name(*near) + "?)";
      }
      fail(place, message);
    }
    if (!option->in_file) {
      fail(place, quote(spelled) + " cannot be set inside a config file; use --" +
                      std::string(option->name) + " or " + env_name(*option));
    }
    const std::string origin = place + ": " + spelled;
    auto value = to_text(option->kind, node);
    if (!value) {
      fail(origin, "expected " + std::string(expected(option->kind)) + ", not " +
                       std::string(describe(node)));
    }
    values.emplace(std::string(option->name), Value{origin, std::move(*value)});
  }
  return values;
}

}  // namespace narwhal::config
