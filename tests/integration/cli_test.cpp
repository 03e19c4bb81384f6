// The narwhal binary's command line: bad configuration is one line naming the setting and exit
// code 2, before anything starts; --help and --version exit 0.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

struct Outcome {
  int code = -1;
  std::string output;  // stdout and stderr
};

Outcome run(const std::string& args) {
  const char* bin = std::getenv("NARWHAL_BIN");
  REQUIRE_MESSAGE(bin != nullptr, "NARWHAL_BIN must name the narwhal binary");
  const std::string cmd = std::string(bin) + " " + args + " 2>&1";
  Outcome out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), p) != nullptr)
    out.output += buf.data();
  const int status = ::pclose(p);
  out.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

int lines(const std::string& s) {
  int n = 0;
  for (const char c : s) n += c == '\n' ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("bad configuration: one line naming the setting, exit code 2") {
  for (const auto& [args, setting] : std::vector<std::pair<std::string, std::string>>{
           {"--listen 127.0.0.1:99999", "--listen"},
           {"--sse-batch-interval 10x", "--sse-batch-interval"},
           {"--log-level loud", "--log-level"},
           {"--docker-host ftp://x", "--docker-host"},
           {"--tls-cert /nonexistent.pem --tls-key /nonexistent.key", "--tls-"},
           {"--no-such-option", "--no-such-option"},
           {"--config /nonexistent/narwhal.toml", "/nonexistent/narwhal.toml"}}) {
    CAPTURE(args);
    const auto out = run(args);
    CHECK(out.code == 2);
    CHECK(lines(out.output) == 1);
    CHECK(out.output.find(setting) != std::string::npos);
  }
}

TEST_CASE("a bad environment variable is named too") {
  const char* bin = std::getenv("NARWHAL_BIN");
  REQUIRE(bin != nullptr);
  const std::string cmd = "NARWHAL_HISTORY_SIZE=lots " + std::string(bin) + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string output;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), p) != nullptr) output += buf.data();
  const int status = ::pclose(p);
  CHECK(WEXITSTATUS(status) == 2);
  CHECK(output.find("NARWHAL_HISTORY_SIZE") != std::string::npos);
}

TEST_CASE("--help lists the options and exits 0; --version too") {
  const auto help = run("--help");
  CHECK(help.code == 0);
  for (const char* flag : {"--listen", "--docker-host", "--base-path", "--demo", "--log-format"}) {
    CHECK(help.output.find(flag) != std::string::npos);
  }
  const auto version = run("--version");
  CHECK(version.code == 0);
  CHECK(version.output.find("narwhal") != std::string::npos);
}

namespace {

// A free TCP port on 127.0.0.1.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// GET `path` on a new connection; the status line, or "" when nothing came within `budget`.
std::string status_of(int port, const std::string& path, std::chrono::milliseconds budget) {
  const int fd = connect_to(port);
  if (fd < 0) return "";
  timeval tv{static_cast<time_t>(budget.count() / 1000),
             static_cast<suseconds_t>((budget.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string rq = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)::send(fd, rq.data(), rq.size(), MSG_NOSIGNAL);
  char buf[256];
  const auto n = ::recv(fd, buf, sizeof buf, 0);
  ::close(fd);
  if (n <= 0) return "";
  const std::string text(buf, static_cast<std::size_t>(n));
  return text.substr(0, text.find("\r\n"));
}

// Runs `cmd` with /bin/sh in a child process; returns its pid.
pid_t spawn(const std::string& cmd) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    ::_exit(127);
  }
  return pid;
}

// Whether `path` on `port` answers 200 within about 10 s.
bool answers(int port, const std::string& path) {
  for (int i = 0; i < 100; ++i) {
    if (status_of(port, path, std::chrono::milliseconds(500)) == "HTTP/1.1 200 OK") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// CPU seconds a process has used (user + system).
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(f);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

TEST_CASE("out of file descriptors: no spinning, no flood of logs, /-/health answered after") {
  const char* bin = std::getenv("NARWHAL_BIN");
  REQUIRE(bin != nullptr);
  const int port = free_port();
  const std::string log = "/tmp/narwhal-fd-test-" + std::to_string(::getpid()) + ".log";
  // A cap above the descriptor limit, so that accepts really fail with EMFILE.
  const std::string cmd = "ulimit -n 128 && exec " + std::string(bin) +
                          " --demo --demo-churn 0 --listen 127.0.0.1:" + std::to_string(port) +
                          " --max-connections 1000 --header-timeout 3s >" + log + " 2>&1";
  const pid_t pid = spawn(cmd);
  REQUIRE_MESSAGE(answers(port, "/-/health"), "narwhal --demo never answered on port " << port);
  std::vector<int> held;
  for (int i = 0; i < 300; ++i) {
    const int fd = connect_to(port);  // the kernel's backlog takes what narwhal cannot
    if (fd >= 0) held.push_back(fd);
  }
  const double cpu_before = cpu_seconds(pid);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const double cpu_used = cpu_seconds(pid) - cpu_before;
  CHECK_MESSAGE(cpu_used < 0.5, "narwhal used " << cpu_used << " s of CPU in 2 s while out of fds");
  for (const int fd : held) ::close(fd);
  // Once the descriptors are back, so is narwhal.
  bool answered = false;
  for (int i = 0; i < 100 && !answered; ++i) {
    answered = status_of(port, "/-/health", std::chrono::milliseconds(1000)) == "HTTP/1.1 200 OK";
    if (!answered) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(answered);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int failures = 0;
  for (std::size_t at = text.find("accept failed"); at != std::string::npos;
       at = text.find("accept failed", at + 1)) {
    ++failures;
  }
  CHECK(failures >= 1);  // it did run out
  CHECK_MESSAGE(failures <= 3, failures << " accept failure lines (one per 10 s is the rule)");
  std::remove(log.c_str());
}

TEST_CASE("SIGTERM: open event streams end with their last chunk and narwhal exits 0") {
  const char* bin = std::getenv("NARWHAL_BIN");
  REQUIRE(bin != nullptr);
  const int port = free_port();
  const std::string log = "/tmp/narwhal-term-test-" + std::to_string(::getpid()) + ".log";
  const std::string cmd = "exec " + std::string(bin) +
                          " --demo --demo-churn 5 --listen 127.0.0.1:" + std::to_string(port) +
                          " >" + log + " 2>&1";
  const pid_t pid = spawn(cmd);
  REQUIRE_MESSAGE(answers(port, "/-/ready"), "narwhal --demo never became ready on port " << port);
  std::vector<int> streams;
  for (const char* path : {"/events", "/services", "/cluster"}) {
    const int fd = connect_to(port);
    REQUIRE(fd >= 0);
    const timeval patience{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
    const std::string rq =
        std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
    REQUIRE(::send(fd, rq.data(), rq.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(rq.size()));
    streams.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(pid, SIGTERM);
  for (const int fd : streams) {
    std::string got;
    std::array<char, 4096> buf{};
    for (;;) {
      const auto n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n <= 0) break;
      got.append(buf.data(), static_cast<std::size_t>(n));
    }
    ::close(fd);
    CHECK(got.starts_with("HTTP/1.1 200 OK"));
    CHECK_MESSAGE(got.ends_with("0\r\n\r\n"),
                  "the stream did not end with its last chunk: ...\n"
                      << got.substr(got.size() > 300 ? got.size() - 300 : 0));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK_MESSAGE(text.find("stopped") != std::string::npos, text);
  std::remove(log.c_str());
}
