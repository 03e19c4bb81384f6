// Tests of narwhal::config: defaults, every value form, precedence of flag > env > file > default,
// and that every error is one line naming the setting the way the user wrote it.
#include "narwhal/config/config.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

namespace narwhal::config {
namespace {

using namespace std::chrono_literals;

using Strings = std::vector<std::string>;

// Parses `args` (without the program name) against exactly `env`, never the test's own
// environment, so that a DOCKER_HOST on the machine running the tests cannot change the results.
Config parse_with(const Strings& args, const Strings& env = {}) {
  std::vector<const char*> argv{"narwhal"};
  for (const auto& arg : args) argv.push_back(arg.c_str());
  argv.push_back(nullptr);
  std::vector<const char*> envp;
  for (const auto& entry : env) envp.push_back(entry.c_str());
  envp.push_back(nullptr);
  return parse(static_cast<int>(argv.size() - 1), argv.data(), envp.data());
}

// The ConfigError's message, or "" (and a failed check) when parsing succeeds.
std::string error_of(const Strings& args, const Strings& env = {}) {
  try {
    (void)parse_with(args, env);
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    CHECK_MESSAGE(message.find('\n') == std::string::npos, "not one line: " << message);
    return message;
  }
  FAIL_CHECK("no ConfigError for the given settings");
  return "";
}

// The HelpRequested text, or "" when none was thrown.
std::string help_of(const Strings& args) {
  try {
    (void)parse_with(args);
  } catch (const HelpRequested& help) {
    return help.what();
  }
  FAIL_CHECK("no HelpRequested");
  return "";
}

std::string duration_error(const std::string& text) {
  try {
    (void)parse_duration("--sse-keepalive", text);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

// A file in the temporary directory, removed when the test ends.
class TempFile {
 public:
  explicit TempFile(const std::string& content, const std::string& suffix = ".toml") {
    static std::atomic<int> counter{0};
    path_ = (std::filesystem::temp_directory_path() /
             ("narwhal-config-test-" + std::to_string(::getpid()) + "-" +
              std::to_string(counter++) + suffix))
                .string();
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST_CASE("defaults") {
  const Config config = parse_with({});
  const Config defaults;
  CHECK(config.listen_host == "0.0.0.0");
  CHECK(config.listen_port == 9000);
  CHECK(config.docker_host == "unix:///var/run/docker.sock");
  CHECK_FALSE(config.tls_verify);
  CHECK(config.cert_path.empty());
  CHECK(config.base_path.empty());
  CHECK(config.tls_cert.empty());
  CHECK(config.tls_key.empty());
  CHECK(config.cors_origins.empty());
  CHECK(config.threads == 0);
  CHECK(config.sse_batch_interval == 100ms);
  CHECK(config.sse_keepalive == 15s);
  CHECK(config.sse_max_streams == kDefaultMaxStreams);
  CHECK(config.history_size == kDefaultHistorySize);
  CHECK(config.resync_interval == defaults.resync_interval);
  CHECK(config.task_poll_interval == defaults.task_poll_interval);
  CHECK(config.ready_grace == defaults.ready_grace);
  CHECK(config.event_watchdog == defaults.event_watchdog);
  CHECK(config.max_header_bytes == kDefaultMaxHeaderBytes);
  CHECK(config.header_timeout == kDefaultHeaderTimeout);
  CHECK(config.idle_timeout == kDefaultIdleTimeout);
  CHECK(config.max_filter_chars == kDefaultMaxFilterChars);
  CHECK(config.max_search_chars == kDefaultMaxSearchChars);
  CHECK(config.log_level == LogLevel::info);
  CHECK(config.log_format == LogFormat::text);
  CHECK_FALSE(config.demo);
  CHECK(config.demo_services == 0);
  CHECK(config.demo_tasks_per_service == 10);
  CHECK(config.demo_churn == 1.0);
  CHECK(config.config_file.empty());
}

TEST_CASE("every option is read from a flag") {
  const TempFile cert("cert", ".pem");
  const TempFile key("key", ".pem");
  const Config config = parse_with({
      "--listen=127.0.0.1:8080",
      "--docker-host",
      "tcp://engine:2376",
      "--tls-verify",
      "--cert-path",
      "/certs",
      "--base-path",
      "/narwhal",
      "--tls-cert",
      cert.path(),
      "--tls-key",
      key.path(),
      "--cors-origins",
      "https://a.example,http://b.example:8080",
      "--threads",
      "4",
      "--sse-batch-interval",
      "250ms",
      "--sse-keepalive",
      "30s",
      "--sse-max-streams",
      "50",
      "--history-size",
      "99",
      "--resync-interval",
      "10m",
      "--task-poll-interval",
      "5s",
      "--ready-grace",
      "1m",
      "--event-watchdog",
      "2m",
      "--max-header-bytes",
      "8192",
      "--header-timeout",
      "3s",
      "--idle-timeout",
      "1h",
      "--max-filter-chars",
      "100",
      "--max-search-chars",
      "50",
      "--log-level",
      "debug",
      "--log-format",
      "json",
      "--demo",
      "--demo-services",
      "1000",
      "--demo-tasks-per-service",
      "3",
      "--demo-churn",
      "0",
  });
  CHECK(config.listen_host == "127.0.0.1");
  CHECK(config.listen_port == 8080);
  CHECK(config.docker_host == "tcp://engine:2376");
  CHECK(config.tls_verify);
  CHECK(config.cert_path == "/certs");
  CHECK(config.base_path == "/narwhal");
  CHECK(config.tls_cert == cert.path());
  CHECK(config.tls_key == key.path());
  CHECK(config.cors_origins == Strings{"https://a.example", "http://b.example:8080"});
  CHECK(config.threads == 4);
  CHECK(config.sse_batch_interval == 250ms);
  CHECK(config.sse_keepalive == 30s);
  CHECK(config.sse_max_streams == 50);
  CHECK(config.history_size == 99);
  CHECK(config.resync_interval == 10min);
  CHECK(config.task_poll_interval == 5s);
  CHECK(config.ready_grace == 1min);
  CHECK(config.event_watchdog == 2min);
  CHECK(config.max_header_bytes == 8192);
  CHECK(config.header_timeout == 3s);
  CHECK(config.idle_timeout == 1h);
  CHECK(config.max_filter_chars == 100);
  CHECK(config.max_search_chars == 50);
  CHECK(config.log_level == LogLevel::debug);
  CHECK(config.log_format == LogFormat::json);
  CHECK(config.demo);
  CHECK(config.demo_services == 1000);
  CHECK(config.demo_tasks_per_service == 3);
  CHECK(config.demo_churn == 0.0);
}

TEST_CASE("durations") {
  SUBCASE("every unit, and a bare number as milliseconds") {
    CHECK(parse_duration("x", "100ms") == 100ms);
    CHECK(parse_duration("x", "15s") == 15s);
    CHECK(parse_duration("x", "5m") == 5min);
    CHECK(parse_duration("x", "1h") == 1h);
    CHECK(parse_duration("x", "250") == 250ms);
    CHECK(parse_duration("x", "1") == 1ms);
    CHECK(parse_duration("x", "23h") == 23h);
    CHECK(parse_duration("x", "86399999") == Millis{86'399'999});
  }
  SUBCASE("malformed") {
    CHECK(duration_error("10x") ==
          "--sse-keepalive: \"10x\" is not a duration (use e.g. 100ms, 15s, 5m)");
    for (const char* text : {"", "ms", "s", "1.5s", "-5s", " 5s", "5s ", "5 s", "5S", "1h30m",
                             "5sec", "0x10", "+5s"}) {
      CAPTURE(text);
      CHECK(duration_error(text).find("is not a duration") != std::string::npos);
    }
  }
  SUBCASE("out of range") {
    CHECK(duration_error("0") == "--sse-keepalive: \"0\" must be more than 0");
    CHECK(duration_error("0s") == "--sse-keepalive: \"0s\" must be more than 0");
    CHECK(duration_error("24h") == "--sse-keepalive: \"24h\" must be less than 24h");
    CHECK(duration_error("1440m") == "--sse-keepalive: \"1440m\" must be less than 24h");
    CHECK(duration_error("86400000") == "--sse-keepalive: \"86400000\" must be less than 24h");
    CHECK(duration_error("99999999999999999999999h") ==
          "--sse-keepalive: \"99999999999999999999999h\" must be less than 24h");
    CHECK(duration_error("18446744073709551615s").find("less than 24h") != std::string::npos);
  }
  SUBCASE("from every source, named as written") {
    const TempFile as_string("sse_keepalive = \"2s\"\n");
    const TempFile as_integer("sse_keepalive = 2500\n");
    CHECK(parse_with({"--config", as_string.path()}).sse_keepalive == 2s);
    CHECK(parse_with({"--config", as_integer.path()}).sse_keepalive == 2500ms);
    CHECK(parse_with({}, {"NARWHAL_SSE_KEEPALIVE=1m"}).sse_keepalive == 1min);

    CHECK(error_of({"--sse-batch-interval", "10x"}) ==
          "--sse-batch-interval: \"10x\" is not a duration (use e.g. 100ms, 15s, 5m)");
    CHECK(error_of({}, {"NARWHAL_IDLE_TIMEOUT=forever"}) ==
          "NARWHAL_IDLE_TIMEOUT: \"forever\" is not a duration (use e.g. 100ms, 15s, 5m)");
    const TempFile bad("# timers\nsse_batch_interval = \"10x\"\n");
    CHECK(error_of({"--config", bad.path()}) ==
          "config file " + bad.path() +
              ": line 2: sse_batch_interval: \"10x\" is not a duration (use e.g. 100ms, 15s, 5m)");
    const TempFile negative("ready_grace = -5\n");
    CHECK(error_of({"--config", negative.path()}) ==
          "config file " + negative.path() +
              ": line 1: ready_grace: \"-5\" is not a duration (use e.g. 100ms, 15s, 5m)");
    const TempFile wrong_type("ready_grace = 1.5\n");
    CHECK(error_of({"--config", wrong_type.path()})
              .ends_with(": line 1: ready_grace: expected a duration string such as \"15s\" or an "
                         "integer of "
                         "milliseconds, not a float"));
  }
}

TEST_CASE("listen addresses") {
  std::string host;
  std::uint16_t port = 0;
  const auto listen = [&](const std::string& text) {
    parse_listen("--listen", text, host, port);
    return host + " " + std::to_string(port);
  };
  const auto listen_error = [&](const std::string& text) -> std::string {
    try {
      parse_listen("NARWHAL_LISTEN", text, host, port);
    } catch (const ConfigError& error) {
      return error.what();
    }
    return "";
  };

  SUBCASE("forms") {
    CHECK(listen(":9000") == "0.0.0.0 9000");
    CHECK(listen("127.0.0.1:8080") == "127.0.0.1 8080");
    CHECK(listen("localhost:1") == "localhost 1");
    CHECK(listen("narwhal.internal-net_1:65535") == "narwhal.internal-net_1 65535");
    CHECK(listen("[::1]:9000") == "::1 9000");
    CHECK(listen("[::]:80") == ":: 80");
    CHECK(listen("[fe80::1%eth0]:80") == "fe80::1%eth0 80");
    CHECK(listen("[::ffff:10.0.0.1]:443") == "::ffff:10.0.0.1 443");
    CHECK(listen(":09000") == "0.0.0.0 9000");
  }
  SUBCASE("bad ports") {
    CHECK(listen_error(":99999") == "NARWHAL_LISTEN: port \"99999\" is out of range 1-65535");
    CHECK(listen_error(":65536") == "NARWHAL_LISTEN: port \"65536\" is out of range 1-65535");
    CHECK(listen_error(":0") == "NARWHAL_LISTEN: port \"0\" is out of range 1-65535");
    CHECK(listen_error(":http") == "NARWHAL_LISTEN: port \"http\" is not a number");
    CHECK(listen_error(":-1") == "NARWHAL_LISTEN: port \"-1\" is not a number");
    CHECK(listen_error(":99999999999999999999") ==
          "NARWHAL_LISTEN: port \"99999999999999999999\" is out of range 1-65535");
    CHECK(listen_error("9000").starts_with("NARWHAL_LISTEN: \"9000\" has no port"));
    CHECK(listen_error("host:").starts_with("NARWHAL_LISTEN: \"host:\" has no port"));
    CHECK(listen_error("").starts_with("NARWHAL_LISTEN: \"\" has no port"));
    CHECK(listen_error("[::1]").starts_with("NARWHAL_LISTEN: \"[::1]\" has no port"));
    CHECK(listen_error("[::1]9000").starts_with("NARWHAL_LISTEN: \"[::1]9000\" has no port"));
  }
  SUBCASE("bad hosts") {
    CHECK(listen_error("::1:9000") ==
          "NARWHAL_LISTEN: IPv6 address \"::1\" needs brackets, e.g. [::1]:9000");
    CHECK(listen_error("[::1:9000") == "NARWHAL_LISTEN: \"[::1:9000\" has no closing \"]\"");
    CHECK(listen_error("[localhost]:80") ==
          "NARWHAL_LISTEN: host \"localhost\" is not an IPv6 address");
    CHECK(listen_error("a b:80") ==
          "NARWHAL_LISTEN: host \"a b\" is not a valid host name or address");
    CHECK(listen_error("http://x:80") ==
          "NARWHAL_LISTEN: \"http://x:80\" is a URL, not an address (use host:port, e.g. :9000, "
          "127.0.0.1:9000 or [::1]:9000)");
  }
  SUBCASE("a failed parse leaves the outputs alone") {
    host = "kept";
    port = 7;
    (void)listen_error(":0");
    CHECK(host == "kept");
    CHECK(port == 7);
  }
  SUBCASE("through parse()") {
    const Config config = parse_with({}, {"NARWHAL_LISTEN=[::1]:9100"});
    CHECK(config.listen_host == "::1");
    CHECK(config.listen_port == 9100);
    CHECK(error_of({}, {"NARWHAL_LISTEN=:99999"}) ==
          "NARWHAL_LISTEN: port \"99999\" is out of range 1-65535");
    CHECK(error_of({"--listen", "x:0"}) == "--listen: port \"0\" is out of range 1-65535");
  }
}

TEST_CASE("precedence: flag > env > file > default") {
  const TempFile file("sse_batch_interval = \"1s\"\nthreads = 3\nlog_level = \"warn\"\n");
  const std::string config = "NARWHAL_CONFIG=" + file.path();

  SUBCASE("default when nothing sets it") {
    const TempFile empty("");
    CHECK(parse_with({"--config", empty.path()}).sse_batch_interval == 100ms);
  }
  SUBCASE("file over default") {
    const Config c = parse_with({}, {config});
    CHECK(c.sse_batch_interval == 1s);
    CHECK(c.threads == 3);
    CHECK(c.log_level == LogLevel::warn);
    CHECK(c.config_file == file.path());
  }
  SUBCASE("env over file") {
    const Config c = parse_with({}, {config, "NARWHAL_SSE_BATCH_INTERVAL=2s"});
    CHECK(c.sse_batch_interval == 2s);
    CHECK(c.threads == 3);
  }
  SUBCASE("flag over env") {
    const Config c = parse_with({"--sse-batch-interval", "3s"},
                                {config, "NARWHAL_SSE_BATCH_INTERVAL=2s", "NARWHAL_THREADS=5"});
    CHECK(c.sse_batch_interval == 3s);
    CHECK(c.threads == 5);
    CHECK(c.log_level == LogLevel::warn);
  }
  SUBCASE("a winning value hides a bad one below it") {
    CHECK(parse_with({"--threads", "2"}, {"NARWHAL_THREADS=lots"}).threads == 2);
  }
  SUBCASE("an empty variable is set, and overrides the file") {
    const TempFile base("base_path = \"/x\"\n");
    CHECK(parse_with({"--config", base.path()}).base_path == "/x");
    CHECK(parse_with({"--config", base.path()}, {"NARWHAL_BASE_PATH="}).base_path.empty());
  }
  SUBCASE("the later of two flags wins") {
    CHECK(parse_with({"--threads", "1", "--threads=2"}).threads == 2);
  }
  SUBCASE("--config over NARWHAL_CONFIG") {
    const TempFile other("threads = 7\n");
    CHECK(parse_with({"--config", other.path()}, {config}).threads == 7);
  }
  SUBCASE("the first definition of a variable wins, as with getenv") {
    CHECK(parse_with({}, {"NARWHAL_THREADS=1", "NARWHAL_THREADS=2"}).threads == 1);
  }
}

TEST_CASE("Docker's own variables come after narwhal's and the file") {
  SUBCASE("DOCKER_HOST when nothing else sets the host") {
    CHECK(parse_with({}, {"DOCKER_HOST=tcp://d:2375"}).docker_host == "tcp://d:2375");
    CHECK(parse_with({}, {"DOCKER_HOST="}).docker_host == "unix:///var/run/docker.sock");
    CHECK(parse_with({}, {"DOCKER_HOST=tcp://d:2375", "NARWHAL_DOCKER_HOST=unix:///n.sock"})
              .docker_host == "unix:///n.sock");
    CHECK(parse_with({"--docker-host", "tcp://f:1"}, {"DOCKER_HOST=tcp://d:2375"}).docker_host ==
          "tcp://f:1");
    const TempFile file("docker_host = \"unix:///file.sock\"\n");
    CHECK(parse_with({"--config", file.path()}, {"DOCKER_HOST=tcp://d:2375"}).docker_host ==
          "unix:///file.sock");
  }
  SUBCASE("DOCKER_TLS_VERIFY: any value but empty and 0") {
    CHECK(parse_with({}, {"DOCKER_TLS_VERIFY=1"}).tls_verify);
    CHECK(parse_with({}, {"DOCKER_TLS_VERIFY=yes"}).tls_verify);
    CHECK_FALSE(parse_with({}, {"DOCKER_TLS_VERIFY=0"}).tls_verify);
    CHECK_FALSE(parse_with({}, {"DOCKER_TLS_VERIFY="}).tls_verify);
    CHECK(parse_with({"--tls-verify"}).tls_verify);
    CHECK_FALSE(parse_with({"--tls-verify=false"}, {"DOCKER_TLS_VERIFY=1"}).tls_verify);
    CHECK_FALSE(parse_with({}, {"NARWHAL_TLS_VERIFY=false", "DOCKER_TLS_VERIFY=1"}).tls_verify);
  }
  SUBCASE("DOCKER_CERT_PATH") {
    CHECK(parse_with({}, {"DOCKER_CERT_PATH=/d"}).cert_path == "/d");
    CHECK(parse_with({"--cert-path", "/f"}, {"DOCKER_CERT_PATH=/d"}).cert_path == "/f");
  }
  SUBCASE("a bad DOCKER_HOST is named as such") {
    CHECK(error_of({}, {"DOCKER_HOST=ssh://me@host"}) ==
          "DOCKER_HOST: \"ssh://me@host\" is not a supported Docker host (use "
          "unix:///path/to/docker.sock or tcp://host:port)");
    CHECK(error_of({"--docker-host", "unix://"})
              .starts_with("--docker-host: \"unix://\" has no socket path"));
  }
}

TEST_CASE("unknown settings") {
  SUBCASE("an unknown flag, with a suggestion") {
    CHECK(error_of({"--listn", ":9000"}) ==
          "--listn: unknown option (did you mean --listen?); see --help");
    CHECK(error_of({"--sse-batch-intreval=1s"}) ==
          "--sse-batch-intreval: unknown option (did you mean --sse-batch-interval?); see --help");
    CHECK(error_of({"--frobnicate"}) == "--frobnicate: unknown option; see --help");
    CHECK(error_of({"-x"}) == "-x: unknown option; see --help");
  }
  SUBCASE("a stray argument") {
    CHECK(error_of({"serve"}) ==
          "\"serve\": unexpected argument (narwhal takes only options; see --help)");
  }
  SUBCASE("a flag without its value") {
    CHECK(error_of({"--listen"}) == "--listen: needs a value; see --help");
  }
  SUBCASE("an unknown TOML key, with its line") {
    const TempFile file("# narwhal\nlisten = \":9000\"\nlistn = \":9001\"\n");
    CHECK(error_of({"--config", file.path()}) ==
          "config file " + file.path() + ": line 3: unknown key \"listn\" (did you mean listen?)");
    const TempFile dashed("sse-keepalive = \"1s\"\n");
    CHECK(error_of({"--config", dashed.path()}) ==
          "config file " + dashed.path() +
              ": line 1: unknown key \"sse-keepalive\" (did you mean sse_keepalive?)");
    const TempFile section("[server]\nlisten = \":1\"\n");
    CHECK(error_of({"--config", section.path()})
              .starts_with("config file " + section.path() + ": line 1: unknown key \"server\""));
  }
  SUBCASE("a key naming the file itself") {
    const TempFile file("config = \"/other.toml\"\n");
    CHECK(error_of({"--config", file.path()})
              .starts_with("config file " + file.path() + ": line 1: \"config\" cannot be set"));
  }
  SUBCASE("unknown NARWHAL_ variables are ignored") {
    CHECK(parse_with({}, {"NARWHAL_FUTURE_OPTION=1"}).listen_port == 9000);
  }
}

TEST_CASE("config file errors name the file") {
  CHECK(error_of({"--config", "/nonexistent/narwhal.toml"}) ==
        "config file /nonexistent/narwhal.toml: cannot open: No such file or directory");
  const TempFile broken("listen = \":9000\"\nthreads = \n");
  CHECK(error_of({}, {"NARWHAL_CONFIG=" + broken.path()})
            .starts_with("config file " + broken.path() + ": line 2: "));
  const TempFile duplicate("threads = 1\nthreads = 2\n");
  CHECK(error_of({"--config", duplicate.path()}).starts_with("config file " + duplicate.path()));
  const TempFile wrong_type("threads = \"4\"\n");
  CHECK(error_of({"--config", wrong_type.path()}) ==
        "config file " + wrong_type.path() +
            ": line 1: threads: expected an integer, not a string");
  const TempFile wrong_flag("demo = 1\n");
  CHECK(error_of({"--config", wrong_flag.path()}) ==
        "config file " + wrong_flag.path() +
            ": line 1: demo: expected true or false, not an integer");
  CHECK(error_of({"--config", std::filesystem::temp_directory_path().string()})
            .starts_with("config file " + std::filesystem::temp_directory_path().string() +
                         ": cannot read: "));
  // An empty --config means no file, so that a wrapper can clear NARWHAL_CONFIG.
  CHECK(parse_with({"--config", ""}, {"NARWHAL_CONFIG=/nonexistent.toml"}).config_file.empty());
}

TEST_CASE("a whole config file") {
  const TempFile file(
      "listen = \"127.0.0.1:9100\"\n"
      "cors_origins = [\"https://a.example\", \"*\"]\n"
      "demo = true\n"
      "demo_churn = 2.5\n"
      "demo_services = 10\n"
      "max_header_bytes = 32768\n"
      "log_format = \"json\"\n");
  const Config config = parse_with({"--config", file.path()});
  CHECK(config.listen_host == "127.0.0.1");
  CHECK(config.listen_port == 9100);
  CHECK(config.cors_origins == Strings{"https://a.example", "*"});
  CHECK(config.demo);
  CHECK(config.demo_churn == 2.5);
  CHECK(config.demo_services == 10);
  CHECK(config.max_header_bytes == 32768);
  CHECK(config.log_format == LogFormat::json);

  const TempFile comma_string("cors_origins = \"https://a.example, https://b.example\"\n");
  CHECK(parse_with({"--config", comma_string.path()}).cors_origins ==
        Strings{"https://a.example", "https://b.example"});
  const TempFile mixed_array("cors_origins = [\"https://a.example\", 3]\n");
  CHECK(error_of({"--config", mixed_array.path()})
            .ends_with("cors_origins: expected a string or an array of strings, not an array"));
}

TEST_CASE("enumerations") {
  CHECK(parse_with({"--log-level", "error"}).log_level == LogLevel::error);
  CHECK(parse_with({}, {"NARWHAL_LOG_LEVEL=warn"}).log_level == LogLevel::warn);
  CHECK(error_of({"--log-level", "verbose"}) ==
        "--log-level: \"verbose\" is not one of debug, info, warn, error");
  CHECK(error_of({}, {"NARWHAL_LOG_LEVEL=INFO"}) ==
        "NARWHAL_LOG_LEVEL: \"INFO\" is not one of debug, info, warn, error");
  CHECK(error_of({"--log-format=xml"}) == "--log-format: \"xml\" is not one of text, json");
}

TEST_CASE("booleans") {
  CHECK(parse_with({"--demo"}).demo);
  CHECK_FALSE(parse_with({"--demo=false"}).demo);
  for (const char* yes : {"1", "true", "TRUE", "yes", "on"}) {
    CAPTURE(yes);
    CHECK(parse_with({}, {std::string("NARWHAL_DEMO=") + yes}).demo);
  }
  for (const char* no : {"0", "false", "False", "no", "off"}) {
    CAPTURE(no);
    CHECK_FALSE(parse_with({}, {std::string("NARWHAL_DEMO=") + no}).demo);
  }
  CHECK(error_of({}, {"NARWHAL_DEMO=maybe"}) ==
        "NARWHAL_DEMO: \"maybe\" is not a boolean (use true or false)");
  CHECK(error_of({"--demo=maybe"}) == "--demo: \"maybe\" is not a boolean (use true or false)");
}

TEST_CASE("numbers and their ranges") {
  CHECK(parse_with({"--threads", "0"}).threads == 0);
  CHECK(parse_with({"--threads", "1024"}).threads == 1024);
  CHECK(error_of({"--threads", "1025"}) == "--threads: \"1025\" is out of range 0-1024");
  CHECK(error_of({"--threads=-1"}) == "--threads: \"-1\" is out of range 0-1024");
  CHECK(error_of({"--threads", "four"}) == "--threads: \"four\" is not a whole number");
  CHECK(error_of({"--threads", ""}) == "--threads: \"\" is not a whole number");
  CHECK(error_of({"--threads", "99999999999999999999999"}) ==
        "--threads: \"99999999999999999999999\" is out of range 0-1024");
  CHECK(error_of({"--max-header-bytes", "1023"}) ==
        "--max-header-bytes: \"1023\" is out of range 1024-1048576");
  CHECK(parse_with({"--max-header-bytes", "1024"}).max_header_bytes == 1024);
  CHECK(error_of({}, {"NARWHAL_SSE_MAX_STREAMS=0"}) ==
        "NARWHAL_SSE_MAX_STREAMS: \"0\" is out of range 1-1000000");
  CHECK(parse_with({"--demo-churn", "0.5"}).demo_churn == 0.5);
  CHECK(parse_with({"--demo-churn", "1000"}).demo_churn == 1000.0);
  CHECK(error_of({"--demo-churn", "1001"}) == "--demo-churn: \"1001\" is out of range 0-1000");
  CHECK(error_of({"--demo-churn=-0.5"}) == "--demo-churn: \"-0.5\" is out of range 0-1000");
  CHECK(error_of({"--demo-churn", "fast"}) == "--demo-churn: \"fast\" is not a number");
  CHECK(error_of({"--demo-churn", "inf"}) == "--demo-churn: \"inf\" is not a number");
  CHECK(error_of({"--demo-churn", "1.5x"}) == "--demo-churn: \"1.5x\" is not a number");
}

TEST_CASE("TLS certificate and key") {
  const TempFile cert("-----BEGIN CERTIFICATE-----\n", ".pem");
  const TempFile key("-----BEGIN PRIVATE KEY-----\n", ".pem");
  SUBCASE("both") {
    const Config config =
        parse_with({"--tls-cert", cert.path()}, {"NARWHAL_TLS_KEY=" + key.path()});
    CHECK(config.tls_cert == cert.path());
    CHECK(config.tls_key == key.path());
  }
  SUBCASE("a certificate without a key") {
    CHECK(error_of({"--tls-cert", cert.path()}) ==
          "--tls-cert: needs a key too (--tls-key); set both or neither");
  }
  SUBCASE("a key without a certificate") {
    CHECK(error_of({}, {"NARWHAL_TLS_KEY=" + key.path()}) ==
          "NARWHAL_TLS_KEY: needs a certificate too (--tls-cert); set both or neither");
  }
  SUBCASE("a file that is not there") {
    CHECK(error_of({"--tls-cert", cert.path(), "--tls-key", "/nonexistent/key.pem"}) ==
          "--tls-key: cannot read \"/nonexistent/key.pem\": No such file or directory");
    const std::string dir = std::filesystem::temp_directory_path().string();
    CHECK(error_of({"--tls-cert", dir, "--tls-key", key.path()}) ==
          "--tls-cert: \"" + dir + "\" is a directory, not a file");
  }
}

TEST_CASE("base path") {
  CHECK(parse_with({"--base-path", "/"}).base_path.empty());
  CHECK(parse_with({"--base-path", ""}).base_path.empty());
  CHECK(parse_with({"--base-path", "/narwhal"}).base_path == "/narwhal");
  CHECK(parse_with({"--base-path", "/ops/narwhal"}).base_path == "/ops/narwhal");
  CHECK(error_of({"--base-path", "narwhal"}) ==
        "--base-path: \"narwhal\" must start with \"/\" and not end with \"/\" (e.g. /narwhal)");
  CHECK(error_of({}, {"NARWHAL_BASE_PATH=/narwhal/"}) ==
        "NARWHAL_BASE_PATH: \"/narwhal/\" must start with \"/\" and not end with \"/\" (e.g. "
        "/narwhal)");
  CHECK(error_of({"--base-path", "/a//b"}) ==
        "--base-path: \"/a//b\" has an empty segment (\"//\")");
  CHECK(error_of({"--base-path", "/a?b"}) ==
        "--base-path: \"/a?b\" may contain only URL path characters");
}

TEST_CASE("tag authority") {
  CHECK(parse_with({}).tag_authority == "narwhal.localhost");
  CHECK(parse_with({"--tag-authority", "ops.example.org"}).tag_authority == "ops.example.org");
  CHECK(parse_with({}, {"NARWHAL_TAG_AUTHORITY=a-b.example"}).tag_authority == "a-b.example");
  const std::string why =
      " must be a domain name narwhal's operator owns, e.g. narwhal.example.org";
  CHECK(error_of({"--tag-authority", "a b"}) == "--tag-authority: \"a b\"" + why);
  CHECK(error_of({"--tag-authority", ""}) == "--tag-authority: \"\"" + why);
  CHECK(error_of({"--tag-authority", "a..b"}) == "--tag-authority: \"a..b\"" + why);
  CHECK(error_of({"--tag-authority", "x.example/feed"}) ==
        "--tag-authority: \"x.example/feed\"" + why);
}

TEST_CASE("CORS origins") {
  CHECK(parse_with({"--cors-origins", "*"}).cors_origins == Strings{"*"});
  CHECK(parse_with({"--cors-origins", " https://a.example , http://b:8080,"}).cors_origins ==
        Strings{"https://a.example", "http://b:8080"});
  CHECK(parse_with({"--cors-origins", ""}).cors_origins.empty());
  const std::string usage =
      " is not an origin (use \"*\" or http(s)://host[:port], without a path)";
  CHECK(error_of({"--cors-origins", "https://a.example,example.com"}) ==
        "--cors-origins: \"example.com\"" + usage);
  CHECK(error_of({}, {"NARWHAL_CORS_ORIGINS=https://a.example/"}) ==
        "NARWHAL_CORS_ORIGINS: \"https://a.example/\"" + usage);
  CHECK(error_of({"--cors-origins", "https://"}) == "--cors-origins: \"https://\"" + usage);
}

TEST_CASE("messages stay on one line whatever the input") {
  CHECK(error_of({"--log-level", "de\nbug"}) ==
        "--log-level: \"de\\x0abug\" is not one of debug, info, warn, error");
  const std::string longer(500, 'x');
  const std::string message = error_of({"--log-level", longer});
  CHECK(message.size() < 200);
}

TEST_CASE("--help and --version") {
  const std::string help = help_of({"--help"});
  CHECK(help_of({"-h"}) == help);
  CHECK(help.starts_with("Usage: narwhal [options]"));
  for (const char* flag : {"--listen",
                           "--docker-host",
                           "--tls-verify",
                           "--cert-path",
                           "--base-path",
                           "--tls-cert",
                           "--tls-key",
                           "--cors-origins",
                           "--threads",
                           "--sse-batch-interval",
                           "--sse-keepalive",
                           "--sse-max-streams",
                           "--history-size",
                           "--resync-interval",
                           "--task-poll-interval",
                           "--ready-grace",
                           "--event-watchdog",
                           "--max-header-bytes",
                           "--header-timeout",
                           "--idle-timeout",
                           "--max-filter-chars",
                           "--max-search-chars",
                           "--log-level",
                           "--log-format",
                           "--demo",
                           "--demo-services",
                           "--demo-tasks-per-service",
                           "--demo-churn",
                           "--config",
                           "--help",
                           "--version"}) {
    CAPTURE(flag);
    CHECK(help.find(std::string(flag) + " ") != std::string::npos);
  }
  for (const char* env :
       {"NARWHAL_LISTEN", "NARWHAL_SSE_BATCH_INTERVAL", "NARWHAL_CONFIG",
        "NARWHAL_DEMO_TASKS_PER_SERVICE", "DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"}) {
    CAPTURE(env);
    CHECK(help.find(env) != std::string::npos);
  }
  CHECK(help.find("default :9000") != std::string::npos);
  CHECK(help.find("default 100ms") != std::string::npos);
  CHECK(help.find("default 15s") != std::string::npos);
  CHECK(help.find("default 5m") != std::string::npos);
  CHECK(help.find("default 16384") != std::string::npos);
  CHECK(help.find("default unix:///var/run/docker.sock") != std::string::npos);
  for (std::size_t start = 0; start < help.size();) {
    const std::size_t end = std::min(help.find('\n', start), help.size());
    CHECK_MESSAGE(end - start <= 100, help.substr(start, end - start));
    start = end + 1;
  }

  // --help wins over a bad value, so that the user can read how to fix it.
  CHECK(help_of({"--threads", "lots", "--help"}) == help);
  CHECK(help_of({"--version"}).starts_with("narwhal "));
}

TEST_CASE("redact-env: on by default, a pattern to change it, \"\" to turn it off") {
  CHECK(parse_with({}).redact_env == "PASSWORD|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE");
  CHECK(parse_with({"--redact-env", "^AWS_"}).redact_env == "^AWS_");
  CHECK(parse_with({"--redact-env="}).redact_env.empty());
  CHECK(parse_with({}, {"NARWHAL_REDACT_ENV=TOKEN"}).redact_env == "TOKEN");
  const auto bad = error_of({"--redact-env", "(unclosed"});
  CHECK(bad.starts_with("--redact-env: \"(unclosed\" is not a regular expression (RE2 syntax): "));
  CHECK(error_of({}, {"NARWHAL_REDACT_ENV=[z-a]"}).starts_with("NARWHAL_REDACT_ENV: "));
}

}  // namespace
}  // namespace narwhal::config
