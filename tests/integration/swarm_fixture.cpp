#include "swarm_fixture.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sstream>

namespace narwhal::itest {

namespace {

// ---------------------------------------------------------------------------------------------
// Teardown on signals. Installed at static-initialisation time, before doctest's per-test signal
// handler, which reports a crash, restores this handler and re-raises. Async-signal-safe only:
// everything the handler needs is prepared while arming.

volatile sig_atomic_t g_armed = 0;
volatile pid_t g_owner_pid = -1;  // a forked child that has not exec'd yet must not tear down
volatile pid_t g_narwhal_pid = -1;
char* g_stop_argv[4] = {nullptr, nullptr, nullptr, nullptr};

void on_fatal_signal(int sig) {
  static volatile sig_atomic_t tearing_down = 0;
  if (g_armed != 0 && tearing_down == 0 && getpid() == g_owner_pid) {
    tearing_down = 1;
    static constexpr char kMsg[] =
        "\nreal_swarm: signal received, tearing down narwhal and dockerd\n";
    [[maybe_unused]] const auto n = write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
    if (g_narwhal_pid > 0) kill(g_narwhal_pid, SIGKILL);
    const pid_t pid = fork();
    if (pid == 0) {
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execv(g_stop_argv[0], g_stop_argv);
      _exit(127);
    }
    if (pid > 0) {
      int status = 0;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

struct SignalTeardown {
  SignalTeardown() {
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) {
      struct sigaction sa {};
      sa.sa_handler = on_fatal_signal;
      sigemptyset(&sa.sa_mask);
      sigaction(sig, &sa, nullptr);
    }
    // A docker CLI that exits before reading its stdin must not kill the test.
    signal(SIGPIPE, SIG_IGN);
  }
};
const SignalTeardown g_signal_teardown;

void arm_signal_teardown(const std::string& script, const std::string& base) {
  g_stop_argv[0] = strdup(script.c_str());
  g_stop_argv[1] = strdup("stop");
  g_stop_argv[2] = strdup(base.c_str());
  g_owner_pid = getpid();
  g_armed = 1;
}

Swarm* g_swarm = nullptr;

std::string join_ids(const std::set<std::string>& ids) {
  std::string s;
  for (const auto& id : ids) s += (s.empty() ? "" : ",") + id;
  return "{" + s + "}";
}

}  // namespace

Swarm::~Swarm() {
  narwhal.stop();
  g_narwhal_pid = -1;
  if (any_failure) keep_logs();
  if (dockerd) {
    const auto r = dockerd->stop();
    if (!r.ok()) std::cerr << "real_swarm: teardown: " << r.describe() << '\n';
  }
  g_armed = 0;
}

void Swarm::bring_up() {
  const char* bin = std::getenv("NARWHAL_BIN");
  const char* script = std::getenv("NARWHAL_DOCKERD_SH");
  if (bin == nullptr || *bin == '\0') {
    error = "NARWHAL_BIN is not set: it must name the built narwhal binary (meson test sets it)";
    return;
  }
  if (access(bin, X_OK) != 0) {
    error = std::string("NARWHAL_BIN=") + bin + " is not an executable file";
    return;
  }
  if (script == nullptr || *script == '\0' || access(script, X_OK) != 0) {
    error = "NARWHAL_DOCKERD_SH must name tests/support/dockerd.sh (executable); got '" +
            std::string(script != nullptr ? script : "") + "'";
    return;
  }
  if (geteuid() != 0) {
    error =
        "these tests run a real dockerd and need root (euid is " + std::to_string(geteuid()) + ")";
    return;
  }
  std::string tmpl = "/tmp/narwhal-itest.XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    error = std::string("mkdtemp: ") + std::strerror(errno);
    return;
  }
  base = tmpl;
  arm_signal_teardown(script, base);
  dockerd = std::make_unique<Dockerd>(script, base);

  const auto t0 = Clock::now();
  const auto started = dockerd->start();
  if (!started.ok()) {
    error =
        "could not start a real dockerd in swarm mode (needs root, docker.io, busybox-static): " +
        started.describe();
    return;
  }
  MESSAGE("dockerd + swarm init + tiny:latest ready in " << ms_since(t0) << " ms at "
                                                         << dockerd->socket());
  const auto self =
      dockerd->docker({"node", "inspect", "self", "--format", "{{.ID}} {{.Description.Hostname}}"});
  std::istringstream in(self.out);
  if (!self.ok() || !(in >> node_id >> hostname)) {
    error = "cannot inspect the swarm's node: " + self.describe();
    return;
  }

  const auto port = free_tcp_port();
  if (!port) {
    error = "no free TCP port on 127.0.0.1";
    return;
  }
  // --sse-keepalive: idle event streams show a keepalive within a test's patience;
  // --sse-max-streams: the stream cap can be reached with a few sockets (sse_test.cpp).
  const std::vector<std::string> argv{bin,
                                      "--listen",
                                      "127.0.0.1:" + std::to_string(*port),
                                      "--docker-host",
                                      "unix://" + dockerd->socket(),
                                      "--task-poll-interval",
                                      "1s",
                                      "--resync-interval",
                                      "10s",
                                      "--ready-grace",
                                      "1s",
                                      "--event-watchdog",
                                      "10s",
                                      "--log-level",
                                      "debug",
                                      "--sse-keepalive",
                                      "2s",
                                      "--sse-max-streams",
                                      "32"};
  if (auto why = narwhal.spawn(argv, base + "/narwhal.log"); !why.empty()) {
    error = "cannot start narwhal: " + why;
    return;
  }
  g_narwhal_pid = narwhal.pid();
  narwhal_argv = argv;
  api_port = *port;
  api = std::make_unique<HttpApi>("127.0.0.1", *port);
}

std::string Swarm::restart_narwhal(std::chrono::milliseconds ready_budget) {
  if (narwhal_argv.empty()) return "narwhal was never started";
  narwhal.stop();
  g_narwhal_pid = -1;
  // A narwhal that ignores SIGTERM is a bug to report, but the scenarios after this one still
  // need a server.
  std::string stop_problem;
  if (narwhal.exit_description().find("killed after") != std::string::npos) {
    stop_problem = "narwhal did not stop on SIGTERM: " + narwhal.exit_description();
  }
  std::error_code ec;
  std::filesystem::rename(base + "/narwhal.log", base + "/narwhal.1.log", ec);
  if (auto why = narwhal.spawn(narwhal_argv, base + "/narwhal.log"); !why.empty()) {
    return "cannot start narwhal again: " + why;
  }
  g_narwhal_pid = narwhal.pid();
  std::string last;
  const bool ready = eventually(*this, ready_budget, last, [&] {
    const auto r = api->get("/-/ready");
    last = r.describe();
    return r.status == 200;
  });
  if (!ready) return "restarted narwhal never answered /-/ready 200: " + last;
  return stop_problem;
}

// On failure the base directory (and the logs in it) is deleted by dockerd.sh stop: copy the
// logs next to the test's working directory first, for CI artifacts.
void Swarm::keep_logs() const {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = fs::current_path(ec) / "real_swarm-logs";
  fs::create_directories(dir, ec);
  for (const char* name : {"narwhal.log", "narwhal.1.log", "dockerd.log"})
    fs::copy_file(fs::path(base) / name, dir / name, fs::copy_options::overwrite_existing, ec);
  std::cerr << "real_swarm: logs kept in " << dir.string() << '\n';
}

Swarm& require_swarm() {
  static Swarm instance;  // torn down at exit; signals are handled above
  g_swarm = &instance;
  REQUIRE_MESSAGE(instance.error.empty(), instance.error);
  return instance;
}

namespace {
// Prints the part of narwhal's log written during a failed test case.
struct NarwhalLogOnFailure : doctest::IReporter {
  explicit NarwhalLogOnFailure(const doctest::ContextOptions& /*unused*/) {}
  void report_query(const doctest::QueryData& /*unused*/) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& /*unused*/) override {}
  void test_case_start(const doctest::TestCaseData& /*unused*/) override {
    offset_ = g_swarm != nullptr ? g_swarm->narwhal.log_size() : 0;
  }
  void test_case_reenter(const doctest::TestCaseData& /*unused*/) override {}
  void test_case_end(const doctest::CurrentTestCaseStats& stats) override {
    if (stats.testCaseSuccess || g_swarm == nullptr || g_swarm->base.empty()) return;
    g_swarm->any_failure = true;
    if (g_swarm->narwhal.log_path().empty()) return;
    // After restart_narwhal() the log is a new file.
    if (g_swarm->narwhal.log_size() < offset_) offset_ = 0;
    std::cerr << "\n===== narwhal log during the failed test (" << g_swarm->narwhal.log_path()
              << ") =====\n"
              << g_swarm->narwhal.log_text(offset_, 48 * 1024)
              << "\n===== end of narwhal log =====\n";
  }
  void test_case_exception(const doctest::TestCaseException& /*unused*/) override {}
  void subcase_start(const doctest::SubcaseSignature& /*unused*/) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData& /*unused*/) override {}
  void log_message(const doctest::MessageData& /*unused*/) override {}
  void test_case_skipped(const doctest::TestCaseData& /*unused*/) override {}

 private:
  std::uintmax_t offset_ = 0;
};
REGISTER_LISTENER("narwhal_log_on_failure", 1, NarwhalLogOnFailure);
}  // namespace

// Helpers for the scenarios.

std::string docker_ok(Swarm& s, std::vector<std::string> args, const std::string& stdin_data) {
  const auto r = s.dockerd->docker(std::move(args), stdin_data);
  REQUIRE_MESSAGE(r.ok(), r.describe());
  return trim(r.out);
}

std::chrono::milliseconds left(Clock::time_point deadline) {
  const auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::max(d, std::chrono::milliseconds(500));
}

bool is_problem(const HttpReply& r, int status) {
  return r.status == status && r.content_type.rfind("application/problem+json", 0) == 0 &&
         r.json_ok && int_at(r.json, "/status") == status;
}

// A {"@id","id","name"} reference.
bool is_ref(const rapidjson::Value& v, const std::string& at_id, const std::string& id,
            const std::string& name) {
  return v.IsObject() && str_at(v, "/@id") == at_id && str_at(v, "/id") == id &&
         str_at(v, "/name") == name;
}

bool used_by_service(const HttpReply& r, const std::string& service_id, const std::string& name) {
  const auto* used = r.json_ok ? at(r.json, "/usedBy") : nullptr;
  if (used == nullptr || !used->IsArray()) return false;
  for (const auto& ref : used->GetArray())
    if (is_ref(ref, "/services/" + service_id, service_id, name)) return true;
  return false;
}

// The tasks of a task list URL, or nullopt when the URL does not answer 200 with a Collection.
std::optional<std::vector<TaskRow>> task_rows(Swarm& s, const std::string& path,
                                              std::string& last) {
  const auto r = get(s, path);
  last = r.describe();
  if (r.status != 200 || !r.json_ok) return std::nullopt;
  std::vector<TaskRow> rows;
  for (const auto* item : items_of(r)) {
    rows.push_back({str_at(*item, "/ID"), str_at(*item, "/Status/State"),
                    str_at(*item, "/serviceName"), str_at(*item, "/nodeHostname"),
                    str_at(*item, "/@id"), str_at(*item, "/@type"), to_json(*item)});
  }
  return rows;
}

std::set<std::string> running_ids(const std::vector<TaskRow>& rows) {
  std::set<std::string> ids;
  for (const auto& t : rows)
    if (t.state == "running") ids.insert(t.id);
  return ids;
}

// What the engine itself says: IDs of a service's tasks that are running now.
std::set<std::string> docker_running_task_ids(Swarm& s, const std::string& service) {
  const auto r =
      s.dockerd->docker({"service", "ps", service, "--no-trunc", "--filter",
                         "desired-state=running", "--format", "{{.ID}} {{.CurrentState}}"});
  std::set<std::string> ids;
  for (const auto& line : split_lines(r.out)) {
    std::istringstream in(line);
    std::string id, state;
    if (in >> id >> state && state == "Running") ids.insert(id);
  }
  return ids;
}

// narwhal shows `service` with `want` running tasks, serviceStatus agrees, and the running task
// IDs are exactly the engine's.
bool service_converged(Swarm& s, const std::string& service_id, const std::string& name, int want,
                       std::string& last) {
  const auto svc = get(s, "/services/" + service_id);
  if (svc.status != 200 || int_at(svc.json, "/serviceStatus/runningTasks") != want ||
      int_at(svc.json, "/serviceStatus/desiredTasks") != want) {
    last = svc.describe();
    return false;
  }
  const auto rows = task_rows(s, "/services/" + service_id + "/tasks?limit=200", last);
  if (!rows) return false;
  const auto ours = running_ids(*rows);
  const auto engine = docker_running_task_ids(s, name);
  last = "narwhal running " + join_ids(ours) + ", engine running " + join_ids(engine);
  return ours.size() == static_cast<std::size_t>(want) && ours == engine;
}

bool listed(Swarm& s, const std::string& list_path, const std::string& id) {
  const auto r = get(s, list_path + "?limit=200");
  for (const auto* item : items_of(r))
    // Networks spell it "Id"; volumes have only a Name.
    if (str_at(*item, "/ID") == id || str_at(*item, "/Id") == id || str_at(*item, "/Name") == id)
      return true;
  return false;
}

// Gone from the list and the detail URL answers a 404 problem.
bool gone(Swarm& s, const std::string& list_path, const std::string& id, std::string& last) {
  const auto detail = get(s, list_path + "/" + id);
  last = detail.describe();
  return is_problem(detail, 404) && !listed(s, list_path, id);
}

}  // namespace narwhal::itest
