// narwhal's configuration: every option is a flag, an environment variable (NARWHAL_<NAME>) and a
// key of an optional TOML file; precedence flag > env > file > default. Parsing validates every
// value and reports the first bad one as a ConfigError naming the setting.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace narwhal::config {

using Millis = std::chrono::milliseconds;

// Limits of SPEC §15, as named defaults.
inline constexpr std::size_t kDefaultMaxHeaderBytes = 16 * 1024;
inline constexpr Millis kDefaultHeaderTimeout{10'000};
inline constexpr Millis kDefaultIdleTimeout{120'000};
inline constexpr std::size_t kDefaultMaxFilterChars = 512;
inline constexpr std::size_t kDefaultMaxSearchChars = 200;
inline constexpr std::size_t kDefaultMaxStreams = 10'000;
inline constexpr std::size_t kDefaultHistorySize = 10'000;

enum class LogFormat { text, json };
enum class LogLevel { debug, info, warn, error };

struct Config {
  std::string listen_host = "0.0.0.0";  // from --listen; "" never
  std::uint16_t listen_port = 9000;
  std::string docker_host = "unix:///var/run/docker.sock";
  bool tls_verify = false;                          // DOCKER_TLS_VERIFY
  std::string cert_path;                            // DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem)
  std::string base_path;                            // "" or "/something" without trailing slash
  std::string tag_authority = "narwhal.localhost";  // of the Atom feeds' tag: URIs (RFC 4151)
  std::string tls_cert;                             // serve HTTPS when both set
  std::string tls_key;
  std::vector<std::string> cors_origins;
  // RE2, case-insensitive: environment variables whose names match have their values replaced in
  // every representation. "" shows all.
  std::string redact_env = "PASSWORD|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE";
  unsigned threads = 0;  // 0 = hardware concurrency
  // Threads that render, filter, sort and compress (the I/O threads only answer what is quick),
  // and how many such requests may wait for one before the next gets 503 with Retry-After.
  std::size_t render_threads = 0;  // 0 = hardware concurrency
  std::size_t render_queue = 64;
  Millis sse_batch_interval{100};
  Millis sse_keepalive{15'000};
  std::size_t sse_max_streams = kDefaultMaxStreams;
  std::size_t sse_queue_bytes = 1024 * 1024;
  std::size_t history_size = kDefaultHistorySize;
  Millis resync_interval{300'000};
  Millis task_poll_interval{10'000};
  Millis ready_grace{30'000};     // /-/ready stays 200 this long after the engine is lost
  Millis event_watchdog{60'000};  // a silent event stream past this is treated as dead
  std::size_t max_header_bytes = kDefaultMaxHeaderBytes;
  std::size_t max_connections = 0;              // 0 = from the descriptor limit (RLIMIT_NOFILE)
  std::size_t cache_bytes = 256 * 1024 * 1024;  // of rendered bodies kept
  Millis header_timeout = kDefaultHeaderTimeout;
  Millis idle_timeout = kDefaultIdleTimeout;
  std::size_t max_filter_chars = kDefaultMaxFilterChars;
  std::size_t max_search_chars = kDefaultMaxSearchChars;
  LogLevel log_level = LogLevel::info;
  LogFormat log_format = LogFormat::text;
  bool demo = false;
  std::size_t demo_services =
      0;  // 0 = the realistic demo swarm; N = a generated swarm of N services
  std::size_t demo_tasks_per_service = 10;
  double demo_churn = 1.0;  // simulated changes per second (0 = a still swarm)
  std::string config_file;  // --config
};

// Thrown by parse() for bad configuration; what() is one line naming the setting.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown by parse() when --help or --version was asked; what() is the text to print (exit 0).
class HelpRequested : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses argv, then the environment (envp: "NAME=value" strings, nullptr-terminated; nullptr
// means the process environment), then the TOML file named by --config / NARWHAL_CONFIG.
[[nodiscard]] Config parse(int argc, const char* const* argv, const char* const* envp = nullptr);

// "100ms", "15s", "5m", "1h", "250" (ms). Throws ConfigError naming `setting` on bad input.
[[nodiscard]] Millis parse_duration(const std::string& setting, const std::string& text);

// Splits "host:port", ":port", "[v6]:port". Throws ConfigError naming `setting`.
void parse_listen(const std::string& setting, const std::string& text, std::string& host,
                  std::uint16_t& port);

}  // namespace narwhal::config
