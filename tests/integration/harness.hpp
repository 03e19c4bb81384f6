// Harness for the integration tests: child processes (commands, the narwhal server), a private
// dockerd driven through tests/support/dockerd.sh, bounded polling and a small HTTP/JSON client.
// Nothing here asserts; failures are values so the tests decide what to check and what to print.
#pragma once

#include <rapidjson/document.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace narwhal::itest {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct CommandResult {
  int exit_code = -1;  // -1: could not run, or killed (see timed_out)
  bool timed_out = false;
  std::string out;
  std::string err;

  [[nodiscard]] bool ok() const { return exit_code == 0 && !timed_out; }
  // "`argv` exited 1: <stderr>" — for failure messages.
  [[nodiscard]] std::string describe() const;
  std::string command;  // the argv joined by spaces, for describe()
};

// Runs argv (PATH lookup), feeds stdin_data, captures stdout and stderr. A command still running
// after `timeout` is SIGKILLed and reported with timed_out.
[[nodiscard]] CommandResult run_command(const std::vector<std::string>& argv,
                                        std::chrono::milliseconds timeout,
                                        const std::string& stdin_data = {});

// Polls pred until it returns true or the budget is spent; returns whether it succeeded.
// pred runs at least once, even with a zero budget.
template <class Pred>
[[nodiscard]] bool wait_until(std::chrono::milliseconds budget, Pred&& pred,
                              std::chrono::milliseconds step = 100ms) {
  const auto deadline = Clock::now() + budget;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

// A free TCP port on 127.0.0.1 (bind to port 0 and release it), or nullopt.
[[nodiscard]] std::optional<std::uint16_t> free_tcp_port();

// A private dockerd in swarm mode, owned by this object: start() runs `dockerd.sh start`,
// the destructor `dockerd.sh stop` (which also deletes the base directory).
class Dockerd {
 public:
  Dockerd(std::string script, std::string base)
      : script_(std::move(script)), base_(std::move(base)) {}
  Dockerd(const Dockerd&) = delete;
  Dockerd& operator=(const Dockerd&) = delete;
  ~Dockerd();

  [[nodiscard]] CommandResult start();
  [[nodiscard]] CommandResult restart_daemon(std::chrono::seconds down_for);
  [[nodiscard]] CommandResult stop();

  // `docker -H unix://<socket> args...`
  [[nodiscard]] CommandResult docker(std::vector<std::string> args,
                                     const std::string& stdin_data = {}) const;

  [[nodiscard]] const std::string& base() const { return base_; }
  [[nodiscard]] const std::string& socket() const { return socket_; }
  [[nodiscard]] const std::string& script() const { return script_; }

 private:
  std::string script_;
  std::string base_;
  std::string socket_;
  bool running_ = false;
};

// A child process whose stdout and stderr go to a log file. The destructor stops it.
class ServerProcess {
 public:
  ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess();

  // Empty on success, else why it could not be started.
  [[nodiscard]] std::string spawn(const std::vector<std::string>& argv,
                                  const std::string& log_path);
  // True while the child runs; once it has exited, exit_description() says how.
  [[nodiscard]] bool alive();
  [[nodiscard]] std::string exit_description() const { return exit_description_; }
  // SIGTERM, wait up to `grace`, then SIGKILL.
  void stop(std::chrono::milliseconds grace = 5s);

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] const std::string& log_path() const { return log_path_; }
  [[nodiscard]] std::uintmax_t log_size() const;
  // The log from byte `from`, at most the last `max_bytes` of it.
  [[nodiscard]] std::string log_text(std::uintmax_t from = 0,
                                     std::uintmax_t max_bytes = 64 * 1024) const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  std::string exit_description_;
};

// One HTTP exchange with the server under test, with the body parsed as JSON when it is JSON.
struct HttpReply {
  int status = 0;  // 0: no response (see error)
  std::string error;
  std::string content_type;
  std::multimap<std::string, std::string> headers;
  std::string body;
  rapidjson::Document json;
  bool json_ok = false;

  [[nodiscard]] std::string header(const std::string& name) const;
  // "GET /x -> 404 application/problem+json {...first 600 bytes}" — for failure messages.
  [[nodiscard]] std::string describe() const;
  std::string path;
};

class HttpApi {
 public:
  HttpApi(std::string host, std::uint16_t port) : host_(std::move(host)), port_(port) {}
  [[nodiscard]] HttpReply get(const std::string& path,
                              const std::multimap<std::string, std::string>& headers = {}) const;

 private:
  std::string host_;
  std::uint16_t port_;
};

// JSON helpers over rapidjson values. Pointers are RFC 6901 ("/serviceStatus/runningTasks").
[[nodiscard]] const rapidjson::Value* at(const rapidjson::Value& v, const char* pointer);
[[nodiscard]] std::string str_at(const rapidjson::Value& v, const char* pointer);
[[nodiscard]] std::optional<std::int64_t> int_at(const rapidjson::Value& v, const char* pointer);
// True when some string anywhere inside v equals `needle`.
[[nodiscard]] bool mentions(const rapidjson::Value& v, std::string_view needle);
// The items of a Collection body (empty when the body is not one).
[[nodiscard]] std::vector<const rapidjson::Value*> items_of(const HttpReply& reply);
[[nodiscard]] std::string to_json(const rapidjson::Value& v);

// Trims trailing whitespace (command output).
[[nodiscard]] std::string trim(std::string s);
[[nodiscard]] std::vector<std::string> split_lines(const std::string& s);

}  // namespace narwhal::itest
