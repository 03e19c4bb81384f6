#include "narwhal/config/config.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "config_file.hpp"
#include "help.hpp"
#include "options.hpp"
#include "values.hpp"

namespace narwhal::config {

namespace {

using Environment = std::map<std::string, std::string, std::less<>>;

// By option name: the values given on the command line and in NARWHAL_ variables.
using Values = std::map<std::string_view, Value>;

Environment read_environment(const char* const* envp) {
  Environment environment;
  for (; envp != nullptr && *envp != nullptr; ++envp) {
    const std::string_view entry(*envp);
    const auto equals = entry.find('=');
    if (equals == std::string_view::npos) continue;
    // The first definition wins, as with getenv().
    environment.emplace(entry.substr(0, equals), entry.substr(equals + 1));
  }
  return environment;
}

std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

// Throws ConfigError for the first argument that is not an option of ours.
[[noreturn]] void reject_extra(const std::string& argument) {
  if (!argument.starts_with('-') || argument == "-" || argument == "--") {
    fail(quote(argument), "unexpected argument (narwhal takes only options; see --help)");
  }
  const std::string flag = argument.substr(0, argument.find('='));
  const auto name_start = flag.find_first_not_of('-');
  std::string message = "unknown option";
  if (const Option* near =
          name_start == std::string::npos ? nullptr : closest_option(flag.substr(name_start))) {
    message += " (did you mean --" + std::string(near->name) + "?)";
  }
  fail(flag, message + "; see --help");
}

// CLI11 only splits the command line here: values are taken as text and validated with the
// environment's and the file's, so that all three produce the same messages.
Values read_command_line(int argc, const char* const* argv) {
  CLI::App app{"narwhal", "narwhal"};
  app.set_help_flag("-h,--help");
  app.allow_extras();
  auto* version_flag = app.add_flag("--version");
  std::map<std::string_view, CLI::Option*> given;
  for (const auto& option : options()) {
    const std::string flag = "--" + std::string(option.name);
    auto* cli_option = option.kind == Kind::flag ? app.add_flag(flag) : app.add_option(flag);
    // A later flag overrides an earlier one, so a wrapper script's defaults can be overridden.
    cli_option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    if (option.may_be_empty) cli_option->expected(0, 1);
    given.emplace(option.name, cli_option);
  }

  try {
    if (argc > 0) app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    throw HelpRequested(help_text());
  } catch (const CLI::ArgumentMismatch& error) {
    // CLI11 says "--listen: 1 required TEXT missing"; the flag is all the user needs.
    const std::string text = error.what();
    const auto colon = text.find(':');
    if (text.starts_with("--") && colon != std::string::npos) {
      fail(text.substr(0, colon), "needs a value; see --help");
    }
    throw ConfigError(one_line(text));
  } catch (const CLI::ParseError& error) {
    throw ConfigError(one_line(error.what()));
  }

  if (version_flag->count() > 0) throw HelpRequested("narwhal " + std::string(version()));
  if (!app.remaining().empty()) reject_extra(app.remaining().front());

  Values values;
  for (const auto& [name, cli_option] : given) {
    if (cli_option->count() == 0) continue;
    const auto& results = cli_option->results();
    values.emplace(name, Value{"--" + std::string(name), results.empty() ? "" : results.back()});
  }
  return values;
}

Values narwhal_variables(const Environment& environment) {
  Values values;
  for (const auto& option : options()) {
    const std::string name = env_name(option);
    // Set-but-empty counts as set: NARWHAL_BASE_PATH= must be able to override the file.
    if (auto it = environment.find(name); it != environment.end()) {
      values.emplace(option.name, Value{name, it->second});
    }
  }
  return values;
}

// Docker's own variables keep Docker's conventions: empty means unset, and DOCKER_TLS_VERIFY is
// on for any other value but "0".
std::optional<Value> docker_variable(const Option& option, const Environment& environment) {
  if (option.docker_env.empty()) return std::nullopt;
  const auto it = environment.find(option.docker_env);
  if (it == environment.end() || it->second.empty()) return std::nullopt;
  std::string text = it->second;
  if (option.kind == Kind::flag) text = text == "0" ? "false" : "true";
  return Value{std::string(option.docker_env), std::move(text)};
}

const Value* find_value(const Values& values, std::string_view name) {
  const auto it = values.find(name);
  return it == values.end() ? nullptr : &it->second;
}

const Value* find_value(const FileValues& values, std::string_view name) {
  const auto it = values.find(name);
  return it == values.end() ? nullptr : &it->second;
}

}  // namespace

Config parse(int argc, const char* const* argv, const char* const* envp) {
  const Values flags = read_command_line(argc, argv);
  const Environment environment = read_environment(envp != nullptr ? envp : environ);
  const Values variables = narwhal_variables(environment);

  // The file's location comes from the two sources above it; it cannot name itself.
  FileValues file;
  const Value* config_value = find_value(flags, "config");
  if (config_value == nullptr) config_value = find_value(variables, "config");
  if (config_value != nullptr && !config_value->text.empty()) {
    file = read_config_file(config_value->text);
  }

  Config config;
  std::map<std::string_view, std::string> origins;
  for (const auto& option : options()) {
    const std::optional<Value> docker = docker_variable(option, environment);
    const Value* value = find_value(flags, option.name);
    if (value == nullptr) value = find_value(variables, option.name);
    if (value == nullptr) value = find_value(file, option.name);
    if (value == nullptr && docker) value = &*docker;
    if (value == nullptr) continue;
    option.apply(config, *value);
    origins.emplace(option.name, value->origin);
  }

  // Checked after all values so that the message can name whichever of the pair was given.
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    const bool cert_given = !config.tls_cert.empty();
    fail(origins[cert_given ? "tls-cert" : "tls-key"],
         cert_given ? "needs a key too (--tls-key); set both or neither"
                    : "needs a certificate too (--tls-cert); set both or neither");
  }
  if (!config.tls_cert.empty()) {
    check_readable_file(origins["tls-cert"], config.tls_cert);
    check_readable_file(origins["tls-key"], config.tls_key);
  }
  return config;
}

}  // namespace narwhal::config
