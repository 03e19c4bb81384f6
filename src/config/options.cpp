#include "options.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <vector>

#include "values.hpp"

namespace narwhal::config {

namespace {

// Typos farther than this from every name get no suggestion: a wrong guess misleads.
constexpr std::size_t kMaxSuggestionDistance = 2;

template <Millis Config::*Field>
void apply_duration(Config& config, const Value& value) {
  config.*Field = parse_duration(value.origin, value.text);
}

template <Millis Config::*Field>
std::string show_duration(const Config& config) {
  return format_duration(config.*Field);
}

template <std::size_t Config::*Field, std::size_t Min, std::size_t Max>
void apply_count(Config& config, const Value& value) {
  config.*Field = parse_count(value.origin, value.text, Min, Max);
}

template <std::size_t Config::*Field>
std::string show_count(const Config& config) {
  return std::to_string(config.*Field);
}

template <std::string Config::*Field>
void apply_path(Config& config, const Value& value) {
  config.*Field = value.text;
}

template <std::string Config::*Field>
std::string show_text(const Config& config) {
  return (config.*Field).empty() ? "none" : config.*Field;
}

template <bool Config::*Field>
void apply_flag(Config& config, const Value& value) {
  config.*Field = parse_bool(value.origin, value.text);
}

template <bool Config::*Field>
std::string show_flag(const Config& config) {
  return config.*Field ? "true" : "false";
}

std::string show_listen(const Config& config) {
  const std::string host = config.listen_host == "0.0.0.0" ? ""
                           : config.listen_host.find(':') != std::string::npos
                               ? "[" + config.listen_host + "]"
                               : config.listen_host;
  return host + ":" + std::to_string(config.listen_port);
}

std::string show_cors_origins(const Config& config) {
  std::string out;
  for (const auto& origin : config.cors_origins) {
    out += out.empty() ? origin : "," + origin;
  }
  return out.empty() ? "none" : out;
}

std::string show_threads(const Config& config) {
  return config.threads == 0 ? "0 (one per core)" : std::to_string(config.threads);
}

std::string show_log_level(const Config& config) {
  switch (config.log_level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "?";
}

std::string show_log_format(const Config& config) {
  return config.log_format == LogFormat::json ? "json" : "text";
}

std::string show_demo_services(const Config& config) {
  return config.demo_services == 0 ? "0 (the realistic demo swarm)"
                                   : std::to_string(config.demo_services);
}

std::string show_demo_churn(const Config& config) {
  return format_number(config.demo_churn);
}

void apply_listen(Config& config, const Value& value) {
  parse_listen(value.origin, value.text, config.listen_host, config.listen_port);
}

void apply_base_path(Config& config, const Value& value) {
  config.base_path = parse_base_path(value.origin, value.text);
}

void apply_tag_authority(Config& config, const Value& value) {
  config.tag_authority = parse_tag_authority(value.origin, value.text);
}

void apply_redact_env(Config& config, const Value& value) {
  config.redact_env = parse_redact_pattern(value.origin, value.text);
}

void apply_cors_origins(Config& config, const Value& value) {
  config.cors_origins = parse_cors_origins(value.origin, value.text);
}

void apply_threads(Config& config, const Value& value) {
  config.threads = static_cast<unsigned>(parse_count(value.origin, value.text, 0, 1024));
}

void apply_docker_host(Config& config, const Value& value) {
  config.docker_host = parse_docker_host(value.origin, value.text);
}

void apply_log_level(Config& config, const Value& value) {
  config.log_level = parse_log_level(value.origin, value.text);
}

void apply_log_format(Config& config, const Value& value) {
  config.log_format = parse_log_format(value.origin, value.text);
}

void apply_demo_churn(Config& config, const Value& value) {
  config.demo_churn = parse_number(value.origin, value.text, 0, 1000);
}

// In the order the help lists them: serving, the engine, live data, limits, logging, demo.
constexpr std::array kOptions{
    Option{
        .name = "listen",
        .value_name = "HOST:PORT",
        .help = "address to serve on; \":9000\" = every interface, IPv6 as \"[::1]:9000\"",
        .apply = apply_listen,
        .show = show_listen,
    },
    Option{
        .name = "base-path",
        .value_name = "PATH",
        .help = "URL prefix when served behind a proxy, e.g. /narwhal (\"/\" = none)",
        .apply = apply_base_path,
        .show = show_text<&Config::base_path>,
    },
    Option{
        .name = "tag-authority",
        .value_name = "DOMAIN",
        .help = "a domain you own, for the permanent tag: IDs of Atom feeds and entries",
        .apply = apply_tag_authority,
        .show = show_text<&Config::tag_authority>,
    },
    Option{
        .name = "redact-env",
        .value_name = "PATTERN",
        .help = "environment variables whose names match (RE2, any case) show as [redacted] in "
                "every representation; \"\" shows all",
        .may_be_empty = true,
        .apply = apply_redact_env,
        .show = show_text<&Config::redact_env>,
    },
    Option{
        .name = "tls-cert",
        .value_name = "FILE",
        .help = "PEM certificate: serve HTTPS (needs --tls-key)",
        .apply = apply_path<&Config::tls_cert>,
        .show = show_text<&Config::tls_cert>,
    },
    Option{
        .name = "tls-key",
        .value_name = "FILE",
        .help = "PEM private key of --tls-cert",
        .apply = apply_path<&Config::tls_key>,
        .show = show_text<&Config::tls_key>,
    },
    Option{
        .name = "cors-origins",
        .value_name = "LIST",
        .kind = Kind::list,
        .help = "browser origins allowed to call the API, comma-separated, or \"*\"",
        .apply = apply_cors_origins,
        .show = show_cors_origins,
    },
    Option{
        .name = "threads",
        .value_name = "N",
        .kind = Kind::count,
        .help = "HTTP worker threads, 0-1024",
        .apply = apply_threads,
        .show = show_threads,
    },
    Option{
        .name = "render-threads",
        .value_name = "N",
        .kind = Kind::count,
        .help = "threads that render, filter, sort and compress, 0-1024; 0 = one per core",
        .apply = apply_count<&Config::render_threads, 0, 1024>,
        .show = show_count<&Config::render_threads>,
    },
    Option{
        .name = "render-queue",
        .value_name = "N",
        .kind = Kind::count,
        .help = "requests that may wait for a render thread, 1-100000; more get 503",
        .apply = apply_count<&Config::render_queue, 1, 100'000>,
        .show = show_count<&Config::render_queue>,
    },
    Option{
        .name = "docker-host",
        .value_name = "URL",
        .help = "Docker Engine to watch: unix:///path or tcp://host:port",
        .docker_env = "DOCKER_HOST",
        .apply = apply_docker_host,
        .show = show_text<&Config::docker_host>,
    },
    Option{
        .name = "tls-verify",
        .kind = Kind::flag,
        .help = "talk TLS to the engine and verify its certificate",
        .docker_env = "DOCKER_TLS_VERIFY",
        .apply = apply_flag<&Config::tls_verify>,
        .show = show_flag<&Config::tls_verify>,
    },
    Option{
        .name = "cert-path",
        .value_name = "DIR",
        .help = "directory of ca.pem, cert.pem and key.pem for the engine",
        .docker_env = "DOCKER_CERT_PATH",
        .apply = apply_path<&Config::cert_path>,
        .show = show_text<&Config::cert_path>,
    },
    Option{
        .name = "resync-interval",
        .value_name = "DURATION",
        .kind = Kind::duration,
        .help = "full re-read of the engine's state, to heal missed events",
        .apply = apply_duration<&Config::resync_interval>,
        .show = show_duration<&Config::resync_interval>,
    },
    Option{
        .name = "task-poll-interval",
        .value_name = "DURATION",
        .kind = Kind::duration,
        .help = "re-listing of tasks, which emit no events of their own",
        .apply = apply_duration<&Config::task_poll_interval>,
        .show = show_duration<&Config::task_poll_interval>,
    },
    Option{
        .name = "ready-grace",
        .value_name = "DURATION",
        .kind = Kind::duration,
        .help = "how long /-/ready stays 200 after the engine is lost",
        .apply = apply_duration<&Config::ready_grace>,
        .show = show_duration<&Config::ready_grace>,
    },
    Option{
        .name = "event-watchdog",
        .value_name = "DURATION",
        .kind = Kind::duration,
        .help = "a silent event stream is reconnected after this long",
        .apply = apply_duration<&Config::event_watchdog>,
        .show = show_duration<&Config::event_watchdog>,
    },
    Option{
        .name = "sse-batch-interval",
        .value_name = "DURATION",
        .kind = Kind::duration,
        .help = "changes are gathered this long before an SSE event is sent",
        .apply = apply_duration<&Config::sse_batch_interval>,
        .show = show_duration<&Config::sse_batch_interval>,
    },
    Option{
        .name = "sse-keepalive",
        .value_name = "DURATION",
        .kind = Kind::duration,
        .help = "an idle SSE stream gets a comment this often",
        .apply = apply_duration<&Config::sse_keepalive>,
        .show = show_duration<&Config::sse_keepalive>,
    },
    Option{
        .name = "sse-max-streams",
        .value_name = "N",
        .kind = Kind::count,
        .help = "open SSE streams at most, 1-1000000",
        .apply = apply_count<&Config::sse_max_streams, 1, 1'000'000>,
        .show = show_count<&Config::sse_max_streams>,
    },
    Option{
        .name = "sse-queue-bytes",
        .value_name = "N",
        .kind = Kind::count,
        .help = "bytes of events a slow SSE client may have waiting before it gets a sync, "
                "4096-1073741824",
        .apply = apply_count<&Config::sse_queue_bytes, 4096, 1024 * 1024 * 1024>,
        .show = show_count<&Config::sse_queue_bytes>,
    },
    Option{
        .name = "history-size",
        .value_name = "N",
        .kind = Kind::count,
        .help = "history entries kept, 1-10000000",
        .apply = apply_count<&Config::history_size, 1, 10'000'000>,
        .show = show_count<&Config::history_size>,
    },
    Option{
        .name = "max-connections",
        .value_name = "N",
        .kind = Kind::count,
        .help = "connections served at once, 0-1000000; 0 = the descriptor limit less an eighth "
                "(at least 64); over it only /-/ paths are answered, the rest get 503",
        .apply = apply_count<&Config::max_connections, 0, 1'000'000>,
        .show = show_count<&Config::max_connections>,
    },
    Option{
        .name = "cache-bytes",
        .value_name = "N",
        .kind = Kind::count,
        .help = "bytes of rendered responses kept, least recently used dropped first, "
                "65536-68719476736",
        .apply = apply_count<&Config::cache_bytes, 65536, 68'719'476'736>,
        .show = show_count<&Config::cache_bytes>,
    },
    Option{
        .name = "max-header-bytes",
        .value_name = "N",
        .kind = Kind::count,
        .help = "request line and headers at most (431 beyond), 1024-1048576",
        .apply = apply_count<&Config::max_header_bytes, 1024, 1024 * 1024>,
        .show = show_count<&Config::max_header_bytes>,
    },
    Option{
        .name = "header-timeout",
        .value_name = "DURATION",
        .kind = Kind::duration,
        .help = "time allowed to send a request's headers",
        .apply = apply_duration<&Config::header_timeout>,
        .show = show_duration<&Config::header_timeout>,
    },
    Option{
        .name = "idle-timeout",
        .value_name = "DURATION",
        .kind = Kind::duration,
        .help = "an idle keep-alive connection is closed after this long",
        .apply = apply_duration<&Config::idle_timeout>,
        .show = show_duration<&Config::idle_timeout>,
    },
    Option{
        .name = "max-filter-chars",
        .value_name = "N",
        .kind = Kind::count,
        .help = "length of a filter expression at most, 1-65536",
        .apply = apply_count<&Config::max_filter_chars, 1, 65'536>,
        .show = show_count<&Config::max_filter_chars>,
    },
    Option{
        .name = "max-search-chars",
        .value_name = "N",
        .kind = Kind::count,
        .help = "length of a search at most, 1-65536",
        .apply = apply_count<&Config::max_search_chars, 1, 65'536>,
        .show = show_count<&Config::max_search_chars>,
    },
    Option{
        .name = "log-level",
        .value_name = "LEVEL",
        .help = "debug, info, warn or error",
        .apply = apply_log_level,
        .show = show_log_level,
    },
    Option{
        .name = "log-format",
        .value_name = "FORMAT",
        .help = "text, or json for one JSON object per line",
        .apply = apply_log_format,
        .show = show_log_format,
    },
    Option{
        .name = "demo",
        .kind = Kind::flag,
        .help = "watch a built-in simulated swarm instead of a Docker Engine",
        .apply = apply_flag<&Config::demo>,
        .show = show_flag<&Config::demo>,
    },
    Option{
        .name = "demo-services",
        .value_name = "N",
        .kind = Kind::count,
        .help = "with --demo: a generated swarm of N services, 0-1000000",
        .apply = apply_count<&Config::demo_services, 0, 1'000'000>,
        .show = show_demo_services,
    },
    Option{
        .name = "demo-tasks-per-service",
        .value_name = "N",
        .kind = Kind::count,
        .help = "with --demo-services: tasks of each service, 0-1000",
        .apply = apply_count<&Config::demo_tasks_per_service, 0, 1000>,
        .show = show_count<&Config::demo_tasks_per_service>,
    },
    Option{
        .name = "demo-churn",
        .value_name = "RATE",
        .kind = Kind::number,
        .help = "with --demo: changes per second, 0-1000 (0 = a still swarm)",
        .apply = apply_demo_churn,
        .show = show_demo_churn,
    },
    Option{
        .name = "config",
        .value_name = "FILE",
        .help = "TOML file of further settings (keys as the flags, with \"_\" for \"-\")",
        .in_file = false,
        .apply = apply_path<&Config::config_file>,
        .show = show_text<&Config::config_file>,
    },
};

std::string replace_all(std::string_view text, char from, char to) {
  std::string out(text);
  std::replace(out.begin(), out.end(), from, to);
  return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::span<const Option> options() {
  return kOptions;
}

std::string env_name(const Option& option) {
  std::string out = "NARWHAL_";
  for (char c : option.name) {
    out += c == '-' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  }
  return out;
}

std::string key_name(const Option& option) {
  return replace_all(option.name, '-', '_');
}

const Option* closest_option(std::string_view spelled) {
  const std::string normalised = replace_all(spelled, '_', '-');
  const Option* best = nullptr;
  std::size_t best_distance = kMaxSuggestionDistance + 1;
  for (const auto& option : kOptions) {
    const std::size_t distance = edit_distance(normalised, option.name);
    // A short name is "close" to too much: "x" would suggest every two-letter option.
    if (distance < best_distance && distance < option.name.size() / 2) {
      best = &option;
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace narwhal::config
