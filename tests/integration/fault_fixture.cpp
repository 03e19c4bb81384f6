#include "fault_fixture.hpp"

#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

namespace narwhal::itest {

namespace {

FaultSwarm* g_swarm = nullptr;
pid_t g_narwhal_pid = -1;
std::string g_stop_script, g_stop_base;

// On a fatal signal: take narwhal and dockerd down with the test (dockerd.sh stop also thaws a
// frozen daemon first).
void teardown_on_signal(int sig) {
  static volatile sig_atomic_t once = 0;
  if (once == 0) {
    once = 1;
    if (g_narwhal_pid > 0) kill(g_narwhal_pid, SIGKILL);
    if (!g_stop_script.empty()) {
      const pid_t pid = fork();
      if (pid == 0) {
        execl(g_stop_script.c_str(), g_stop_script.c_str(), "stop", g_stop_base.c_str(), nullptr);
        _exit(127);
      }
      if (pid > 0) {
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
      }
    }
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

struct Listed {
  std::map<std::string, std::int64_t> versions;  // ID (volumes: name) → Version.Index (or 0)
  std::string error;
};

Listed engine_listing(const FaultSwarm& s, const std::string& kind) {
  Listed out;
  const auto r = s.engine_get("/" + kind);
  if (r.status != 200 || !r.json_ok) {
    out.error = "engine /" + kind + ": " + r.describe();
    return out;
  }
  const rapidjson::Value* items = &r.json;
  if (kind == "volumes") items = at(r.json, "/Volumes");
  if (items == nullptr || !items->IsArray()) return out;  // "Volumes": null
  for (const auto& o : items->GetArray()) {
    const std::string id = kind == "volumes" ? str_at(o, "/Name") : str_at(o, "/ID");
    out.versions[id] = int_at(o, "/Version/Index").value_or(0);
  }
  return out;
}

Listed narwhal_listing(const FaultSwarm& s, const std::string& kind) {
  Listed out;
  for (std::size_t offset = 0;;) {
    const auto r = s.api->get("/" + kind + "?limit=200&offset=" + std::to_string(offset));
    if (r.status != 200 || !r.json_ok) {
      out.error = "narwhal /" + kind + ": " + r.describe();
      return out;
    }
    const auto items = items_of(r);
    for (const auto* o : items) {
      const std::string id = kind == "volumes" ? str_at(*o, "/Name") : str_at(*o, "/ID");
      out.versions[id] = int_at(*o, "/Version/Index").value_or(0);
    }
    offset += items.size();
    if (items.empty() || offset >= static_cast<std::size_t>(int_at(r.json, "/total").value_or(0))) {
      return out;
    }
  }
}

}  // namespace

FaultSwarm::~FaultSwarm() {
  narwhal.stop();
  g_narwhal_pid = -1;
  relay_cut();
  if (any_failure) {
    std::error_code ec;
    const auto keep = std::filesystem::temp_directory_path() / "narwhal-faults-logs";
    std::filesystem::create_directories(keep, ec);
    for (const char* f : {"narwhal.log", "dockerd.log", "relay.log"}) {
      std::filesystem::copy_file(base_ + "/" + f, keep / f,
                                 std::filesystem::copy_options::overwrite_existing, ec);
    }
    std::cerr << "faults: logs kept in " << keep.string() << '\n';
  }
  if (dockerd) {
    const auto r = dockerd->stop();
    if (!r.ok()) std::cerr << "faults: teardown: " << r.describe() << '\n';
  }
  g_stop_script.clear();
}

void FaultSwarm::bring_up() {
  const char* bin = std::getenv("NARWHAL_BIN");
  const char* script = std::getenv("NARWHAL_DOCKERD_SH");
  if (bin == nullptr || access(bin, X_OK) != 0) {
    error = "NARWHAL_BIN must name the built narwhal binary (meson test sets it)";
    return;
  }
  if (script == nullptr || access(script, X_OK) != 0) {
    error = "NARWHAL_DOCKERD_SH must name tests/support/dockerd.sh (executable)";
    return;
  }
  if (geteuid() != 0) {
    error = "these tests run a real dockerd and need root";
    return;
  }
  for (const char* tool : {"socat", "setsid"}) {
    if (!run_command({"sh", "-c", std::string("command -v ") + tool}, 5s).ok()) {
      error = std::string("missing '") + tool + "' (scripts/setup.sh --test installs it)";
      return;
    }
  }
  std::string tmpl = "/tmp/narwhal-faults.XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    error = std::string("mkdtemp: ") + std::strerror(errno);
    return;
  }
  base_ = tmpl;
  g_stop_script = script;
  g_stop_base = base_;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS}) {
    signal(sig, teardown_on_signal);
  }
  signal(SIGPIPE, SIG_IGN);
  dockerd = std::make_unique<Dockerd>(script, base_);
  const auto started = dockerd->start();
  if (!started.ok()) {
    error = "could not start a real dockerd in swarm mode: " + started.describe();
    return;
  }
  if (auto why = relay_up(); !why.empty()) {
    error = why;
    return;
  }
  const auto port = free_tcp_port();
  if (!port) {
    error = "no free TCP port on 127.0.0.1";
    return;
  }
  narwhal_argv_ = {
      bin,
      "--listen",
      "127.0.0.1:" + std::to_string(*port),
      "--docker-host",
      "unix://" + relay_socket(),
      "--task-poll-interval",
      "10m",
      "--resync-interval",
      "10m",
      "--event-watchdog",
      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kWatchdog).count()) + "s",
      "--ready-grace",
      "1s",
      "--log-level",
      "debug"};
  api = std::make_unique<HttpApi>("127.0.0.1", *port);
  if (auto why = restart_narwhal(); !why.empty()) error = why;
}

std::string FaultSwarm::relay_up() {
  if (relay_.alive()) return {};
  std::error_code ec;
  std::filesystem::remove(relay_socket(), ec);
  // setsid: the relay and every connection it forks share one process group, so a cut can end
  // them all at once.
  const std::vector<std::string> argv{
      "setsid", "socat", "UNIX-LISTEN:" + relay_socket() + ",fork,unlink-early,mode=600",
      "UNIX-CONNECT:" + dockerd->socket()};
  if (auto why = relay_.spawn(argv, base_ + "/relay.log"); !why.empty()) return why;
  const bool listening = wait_until(
      5s, [&] { return std::filesystem::exists(relay_socket()); }, 20ms);
  return listening ? std::string() : "socat never listened on " + relay_socket();
}

void FaultSwarm::relay_cut() {
  if (relay_.pid() > 0) kill(-relay_.pid(), SIGKILL);
  relay_.stop(1s);
  std::error_code ec;
  std::filesystem::remove(relay_socket(), ec);
}

std::string FaultSwarm::restart_narwhal(const std::vector<std::string>& extra) {
  narwhal.stop();
  std::vector<std::string> argv = narwhal_argv_;
  argv.insert(argv.end(), extra.begin(), extra.end());
  std::error_code ec;
  if (std::filesystem::exists(base_ + "/narwhal.log")) {
    std::filesystem::rename(base_ + "/narwhal.log",
                            base_ + "/narwhal." + std::to_string(::time(nullptr)) + ".log", ec);
  }
  if (auto why = narwhal.spawn(argv, base_ + "/narwhal.log"); !why.empty()) {
    return "cannot start narwhal: " + why;
  }
  g_narwhal_pid = narwhal.pid();
  return {};
}

std::string FaultSwarm::wait_ready(std::chrono::milliseconds budget) {
  std::string last;
  const bool ready = wait_until(budget, [&] {
    const auto r = api->get("/-/ready");
    last = r.describe();
    return r.status == 200;
  });
  return ready ? std::string() : last;
}

CommandResult FaultSwarm::dockerd_sh(const std::string& command,
                                     const std::vector<std::string>& args,
                                     std::chrono::seconds timeout) const {
  std::vector<std::string> argv{dockerd->script(), command, base_};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, timeout);
}

std::string FaultSwarm::docker(const std::vector<std::string>& args, std::string* why,
                               const std::string& stdin_data) const {
  const auto r = dockerd->docker(args, stdin_data);
  if (!r.ok()) {
    if (why != nullptr) *why = r.describe();
    return {};
  }
  return trim(r.out);
}

HttpReply FaultSwarm::engine_get(const std::string& path) const {
  HttpReply reply;
  reply.path = path;
  httplib::Client client(dockerd->socket());
  client.set_address_family(AF_UNIX);
  client.set_default_headers({{"Host", "docker"}});
  client.set_connection_timeout(5);
  client.set_read_timeout(15);
  auto res = client.Get(("/" + engine_api_ + path).c_str());
  if (!res) {
    reply.error = httplib::to_string(res.error());
    return reply;
  }
  reply.status = res->status;
  reply.body = res->body;
  reply.content_type = res->get_header_value("Content-Type");
  reply.json.Parse(reply.body.data(), reply.body.size());
  reply.json_ok = !reply.json.HasParseError();
  return reply;
}

std::vector<std::string> FaultSwarm::differences() const {
  std::vector<std::string> out;
  for (const std::string kind :
       {"nodes", "services", "tasks", "configs", "secrets", "networks", "volumes"}) {
    const auto engine = engine_listing(*this, kind);
    const auto ours = narwhal_listing(*this, kind);
    if (!engine.error.empty() || !ours.error.empty()) {
      out.push_back(engine.error.empty() ? ours.error : engine.error);
      continue;
    }
    for (const auto& [id, v] : engine.versions) {
      const auto it = ours.versions.find(id);
      if (it == ours.versions.end()) {
        out.push_back(kind + " " + id + ": listed by the engine, missing in narwhal");
      } else if (it->second != v) {
        out.push_back(kind + " " + id + ": engine at version " + std::to_string(v) +
                      ", narwhal at " + std::to_string(it->second));
      }
    }
    for (const auto& [id, v] : ours.versions) {
      if (!engine.versions.contains(id)) {
        out.push_back(kind + " " + id + ": in narwhal, gone from the engine");
      }
    }
  }
  return out;
}

std::vector<Change> FaultSwarm::changes_since(std::uint64_t after) const {
  std::vector<Change> newest_first;
  std::string path = "/history?limit=200";
  for (int page = 0; page < 100; ++page) {
    const auto r = api->get(path);
    if (r.status != 200 || !r.json_ok) break;
    bool older_reached = false;
    const auto items = items_of(r);
    for (const auto* e : items) {
      Change c;
      c.id = static_cast<std::uint64_t>(int_at(*e, "/id").value_or(0));
      if (c.id <= after) {
        older_reached = true;
        break;
      }
      c.type = str_at(*e, "/type");
      c.action = str_at(*e, "/action");
      c.resource_id = str_at(*e, "/resourceId");
      c.name = str_at(*e, "/name");
      c.summary = str_at(*e, "/summary");
      newest_first.push_back(std::move(c));
    }
    if (older_reached || items.empty() || newest_first.empty()) break;
    path = "/history?limit=200&before=" + std::to_string(newest_first.back().id);
  }
  return {newest_first.rbegin(), newest_first.rend()};
}

std::uint64_t FaultSwarm::last_change_id() const {
  const auto r = api->get("/history?limit=1");
  const auto items = items_of(r);
  if (items.empty()) return 0;
  return static_cast<std::uint64_t>(int_at(*items[0], "/id").value_or(0));
}

std::vector<std::string> FaultSwarm::spurious_pairs(const std::vector<Change>& changes) {
  std::map<std::pair<std::string, std::string>, std::set<std::string>> actions;
  for (const auto& c : changes) actions[{c.type, c.resource_id}].insert(c.action);
  std::vector<std::string> out;
  for (const auto& [key, seen] : actions) {
    if (seen.contains("create") && seen.contains("remove")) {
      out.push_back(key.first + " " + key.second + " was both removed and created");
    }
  }
  return out;
}

FaultSwarm& require_fault_swarm() {
  if (g_swarm == nullptr) {
    static FaultSwarm swarm;
    g_swarm = &swarm;
  }
  if (!g_swarm->error.empty()) {
    g_swarm->any_failure = true;
    FAIL("fault environment unusable: " << g_swarm->error);
  }
  return *g_swarm;
}

}  // namespace narwhal::itest
