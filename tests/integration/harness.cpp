#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace narwhal::itest {

namespace {

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by ") + strsignal(WTERMSIG(status));
  return "ended with status " + std::to_string(status);
}

// What a child does between fork and exec: only async-signal-safe calls (the parent may have
// threads). Signal dispositions and mask go back to defaults so children behave as from a shell.
[[noreturn]] void exec_child(char* const* argv) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  execvp(argv[0], argv);
  static constexpr char kMsg[] = "exec failed: ";
  [[maybe_unused]] auto n = write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
  n = write(STDERR_FILENO, argv[0], strlen(argv[0]));
  n = write(STDERR_FILENO, "\n", 1);
  _exit(127);
}

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  out.reserve(argv.size() + 1);
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::string CommandResult::describe() const {
  std::string s = "`" + command + "` ";
  if (timed_out) {
    s += "timed out";
  } else {
    s += "exited " + std::to_string(exit_code);
  }
  if (!err.empty()) s += "; stderr: " + trim(err);
  if (!out.empty()) s += "; stdout: " + trim(out).substr(0, 2000);
  return s;
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::string& stdin_data) {
  CommandResult r;
  r.command = join(argv);
  if (argv.empty()) return r;
  std::array<int, 2> in{-1, -1}, out{-1, -1}, err{-1, -1};
  if (pipe2(in.data(), O_CLOEXEC) != 0 || pipe2(out.data(), O_CLOEXEC) != 0 ||
      pipe2(err.data(), O_CLOEXEC) != 0) {
    r.err = std::string("pipe: ") + strerror(errno);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
      if (fd >= 0) close(fd);
    return r;
  }
  auto args = c_argv(argv);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    exec_child(args.data());
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (pid < 0) {
    r.err = std::string("fork: ") + strerror(errno);
    close(in[1]);
    close(out[0]);
    close(err[0]);
    return r;
  }

  const auto deadline = Clock::now() + timeout;
  int in_fd = in[1];
  std::size_t written = 0;
  if (stdin_data.empty()) {
    close(in_fd);
    in_fd = -1;
  } else {
    fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
  }
  int out_fd = out[0], err_fd = err[0];
  int status = 0;
  bool reaped = false;
  std::array<char, 16384> buf{};
  while (out_fd >= 0 || err_fd >= 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      r.timed_out = true;
      break;
    }
    std::array<pollfd, 3> fds{{{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}, {in_fd, POLLOUT, 0}}};
    const int n = poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left, 200)));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) {
      // The child may be gone while something it started in the background holds the pipes.
      if (!reaped && waitpid(pid, &status, WNOHANG) == pid) reaped = true;
      if (reaped) break;
      continue;
    }
    for (int i = 0; i < 2; ++i) {
      int& fd = i == 0 ? out_fd : err_fd;
      if (fd < 0 || fds[static_cast<std::size_t>(i)].revents == 0) continue;
      const ssize_t got = read(fd, buf.data(), buf.size());
      if (got > 0) {
        (i == 0 ? r.out : r.err).append(buf.data(), static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        close(fd);
        fd = -1;
      }
    }
    if (in_fd >= 0 && fds[2].revents != 0) {
      const ssize_t put = write(in_fd, stdin_data.data() + written, stdin_data.size() - written);
      if (put > 0) written += static_cast<std::size_t>(put);
      if (put < 0 && errno != EAGAIN && errno != EINTR) written = stdin_data.size();  // EPIPE
      if (written >= stdin_data.size()) {
        close(in_fd);
        in_fd = -1;
      }
    }
  }
  for (int fd : {in_fd, out_fd, err_fd})
    if (fd >= 0) close(fd);

  if (r.timed_out && !reaped) kill(pid, SIGKILL);
  while (!reaped) {
    const pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) return r;
    if (!r.timed_out && Clock::now() >= deadline) {
      r.timed_out = true;
      kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(10ms);
  }
  if (r.timed_out) return r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::optional<std::uint16_t> free_tcp_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  std::optional<std::uint16_t> port;
  // sockaddr_in → sockaddr is how the sockets API is specified; no cast-free spelling exists.
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  if (bind(fd, sa, sizeof addr) == 0 && getsockname(fd, sa, &len) == 0) port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

// ---- Dockerd ----

Dockerd::~Dockerd() {
  if (running_) (void)stop();
}

CommandResult Dockerd::start() {
  auto r = run_command({script_, "start", base_}, 120s);
  if (r.ok()) {
    running_ = true;
    socket_ = trim(r.out);
    if (socket_.empty()) {
      r.exit_code = -1;
      r.err += "dockerd.sh start printed no socket path";
    }
  } else {
    running_ = true;  // a half-started daemon still needs stopping
  }
  return r;
}

CommandResult Dockerd::restart_daemon(std::chrono::seconds down_for) {
  return run_command({script_, "restart-daemon", base_, std::to_string(down_for.count())}, 180s);
}

CommandResult Dockerd::stop() {
  running_ = false;
  return run_command({script_, "stop", base_}, 120s);
}

CommandResult Dockerd::docker(std::vector<std::string> args, const std::string& stdin_data) const {
  std::vector<std::string> argv{"docker", "-H", "unix://" + socket_};
  argv.insert(argv.end(), std::make_move_iterator(args.begin()),
              std::make_move_iterator(args.end()));
  return run_command(argv, 60s, stdin_data);
}

// ---- ServerProcess ----

ServerProcess::~ServerProcess() {
  stop();
}

std::string ServerProcess::spawn(const std::vector<std::string>& argv,
                                 const std::string& log_path) {
  log_path_ = log_path;
  const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return "cannot open " + log_path + ": " + strerror(errno);
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  auto args = c_argv(argv);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // Dies with the test process even when that is SIGKILLed (no orphaned servers).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    exec_child(args.data());
  }
  close(log_fd);
  if (null_fd >= 0) close(null_fd);
  if (pid < 0) return std::string("fork: ") + strerror(errno);
  pid_ = pid;
  exit_description_.clear();
  return {};
}

bool ServerProcess::alive() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t w = waitpid(pid_, &status, WNOHANG);
  if (w == 0) return true;
  exit_description_ = w == pid_ ? describe_status(status) : "lost (waitpid failed)";
  pid_ = -1;
  return false;
}

void ServerProcess::stop(std::chrono::milliseconds grace) {
  if (!alive()) return;
  kill(pid_, SIGTERM);
  if (wait_until(
          grace, [&] { return !alive(); }, 20ms))
    return;
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exit_description_ = "killed after ignoring SIGTERM for " + std::to_string(grace.count()) + " ms";
  pid_ = -1;
}

std::uintmax_t ServerProcess::log_size() const {
  std::error_code ec;
  const auto n = std::filesystem::file_size(log_path_, ec);
  return ec ? 0 : n;
}

std::string ServerProcess::log_text(std::uintmax_t from, std::uintmax_t max_bytes) const {
  std::ifstream in(log_path_, std::ios::binary);
  if (!in) return "(no log at " + log_path_ + ")";
  const auto size = log_size();
  if (size > from + max_bytes) from = size - max_bytes;
  in.seekg(static_cast<std::streamoff>(from));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- HTTP ----

std::string HttpReply::header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        }))
      return v;
  }
  return {};
}

std::string HttpReply::describe() const {
  std::string s = "GET " + path + " -> ";
  if (status == 0) return s + "no response: " + error;
  s += std::to_string(status) + " " + content_type + " " + body.substr(0, 600);
  if (body.size() > 600) s += "…";
  return s;
}

HttpReply HttpApi::get(const std::string& path,
                       const std::multimap<std::string, std::string>& headers) const {
  HttpReply reply;
  reply.path = path;
  httplib::Client client(host_, port_);
  client.set_connection_timeout(2);
  client.set_read_timeout(10);
  client.set_write_timeout(5);
  httplib::Headers request_headers;
  for (const auto& [k, v] : headers) request_headers.emplace(k, v);
  auto res = client.Get(path.c_str(), request_headers);
  if (!res) {
    reply.error = httplib::to_string(res.error());
    return reply;
  }
  reply.status = res->status;
  reply.body = res->body;
  for (const auto& [k, v] : res->headers) reply.headers.emplace(k, v);
  reply.content_type = res->get_header_value("Content-Type");
  if (reply.content_type.find("json") != std::string::npos) {
    reply.json.Parse(reply.body.data(), reply.body.size());
    reply.json_ok = !reply.json.HasParseError();
  }
  return reply;
}

// ---- JSON helpers ----

const rapidjson::Value* at(const rapidjson::Value& v, const char* pointer) {
  return rapidjson::Pointer(pointer).Get(v);
}

std::string str_at(const rapidjson::Value& v, const char* pointer) {
  const auto* p = at(v, pointer);
  return p != nullptr && p->IsString() ? std::string(p->GetString(), p->GetStringLength())
                                       : std::string();
}

std::optional<std::int64_t> int_at(const rapidjson::Value& v, const char* pointer) {
  const auto* p = at(v, pointer);
  if (p == nullptr || !p->IsInt64()) return std::nullopt;
  return p->GetInt64();
}

bool mentions(const rapidjson::Value& v, std::string_view needle) {
  if (v.IsString()) return std::string_view(v.GetString(), v.GetStringLength()) == needle;
  if (v.IsArray()) {
    return std::any_of(v.Begin(), v.End(),
                       [&](const rapidjson::Value& e) { return mentions(e, needle); });
  }
  if (v.IsObject()) {
    return std::any_of(v.MemberBegin(), v.MemberEnd(),
                       [&](const auto& m) { return mentions(m.value, needle); });
  }
  return false;
}

std::vector<const rapidjson::Value*> items_of(const HttpReply& reply) {
  std::vector<const rapidjson::Value*> out;
  if (!reply.json_ok || !reply.json.IsObject()) return out;
  const auto it = reply.json.FindMember("items");
  if (it == reply.json.MemberEnd() || !it->value.IsArray()) return out;
  for (const auto& e : it->value.GetArray()) out.push_back(&e);
  return out;
}

std::string to_json(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return {sb.GetString(), sb.GetSize()};
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) {
    line = trim(line);
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

}  // namespace narwhal::itest
