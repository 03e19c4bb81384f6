#include "system_shapes.hpp"

#include <array>
#include <charconv>
#include <cstdint>

#include "json.hpp"
#include "shapes.hpp"

namespace narwhal::sim {

namespace {

constexpr std::string_view kKernel = "6.1.0-28-amd64";

struct Release {
  std::string_view api;
  std::string_view min_api;
  std::string_view version;
  std::string_view commit;
  std::string_view go;
  std::string_view containerd;
  std::string_view built;
};

constexpr std::array<Release, 7> kReleases = {{
    {"1.41", "1.12", "20.10.24+dfsg1", "5d6db84", "go1.19.8", "1.6.20~ds1",
     "2023-05-18T08:38:34.000000000+00:00"},
    {"1.43", "1.12", "24.0.9", "fca702d", "go1.20.13", "1.6.28",
     "2024-01-31T22:48:47.000000000+00:00"},
    {"1.44", "1.24", "25.0.5", "e63daec", "go1.21.8", "1.6.28",
     "2024-03-19T14:46:55.000000000+00:00"},
    {"1.45", "1.24", "26.1.5+dfsg1", "411e817", "go1.24.4", "1.7.24~ds1",
     "2026-08-13T05:35:47.000000000+00:00"},
    {"1.46", "1.24", "27.1.2", "f9522e5", "go1.21.12", "1.7.19",
     "2024-08-12T11:34:39.000000000+00:00"},
    {"1.47", "1.24", "27.5.1", "4c9b3b0", "go1.22.11", "1.7.25",
     "2025-01-22T13:41:17.000000000+00:00"},
    {"1.48", "1.24", "28.0.4", "6430e49", "go1.23.7", "1.7.25",
     "2025-03-25T15:07:22.000000000+00:00"},
}};

void put_int(JsonWriter& w, const char* key, std::int64_t value) {
  w.Key(key);
  w.Int64(value);
}

void put_bool(JsonWriter& w, const char* key, bool value) {
  w.Key(key);
  w.Bool(value);
}

void put_empty(JsonWriter& w, const char* key) {
  w.Key(key);
  w.StartObject();
  w.EndObject();
}

void put_cluster(JsonWriter& w, const Swarm& swarm) {
  put_meta(w, swarm.cluster);
  w.Key("Spec");
  w.StartObject();
  put_field(w, "Name", "default");
  put_empty(w, "Labels");
  w.Key("Orchestration");
  w.StartObject();
  put_int(w, "TaskHistoryRetentionLimit", 5);
  w.EndObject();
  w.Key("Raft");
  w.StartObject();
  put_int(w, "SnapshotInterval", 10000);
  put_int(w, "KeepOldSnapshots", 0);
  put_int(w, "LogEntriesForSlowFollowers", 500);
  put_int(w, "ElectionTick", 10);
  put_int(w, "HeartbeatTick", 1);
  w.EndObject();
  w.Key("Dispatcher");
  w.StartObject();
  put_int(w, "HeartbeatPeriod", 5'000'000'000);
  w.EndObject();
  w.Key("CAConfig");
  w.StartObject();
  put_int(w, "NodeCertExpiry", 7'776'000'000'000'000);
  w.EndObject();
  put_empty(w, "TaskDefaults");
  w.Key("EncryptionConfig");
  w.StartObject();
  put_bool(w, "AutoLockManagers", false);
  w.EndObject();
  w.EndObject();
  w.Key("TLSInfo");
  put_tls_info(w);
  put_bool(w, "RootRotationInProgress", false);
  w.Key("DefaultAddrPool");
  w.Null();
  put_int(w, "SubnetSize", 24);
  put_int(w, "DataPathPort", 4789);
}

int parse_part(std::string_view s) {
  int value = 0;
  std::from_chars(s.data(), s.data() + s.size(), value);
  return value;
}

}  // namespace

Identity identity_for(std::string_view api_version) {
  const Release* release = &kReleases[3];
  for (const auto& r : kReleases) {
    if (r.api == api_version) release = &r;
  }
  return Identity{std::string(api_version),      std::string(release->min_api),
                  std::string(release->version), std::string(release->commit),
                  std::string(release->go),      std::string(release->containerd),
                  std::string(release->built)};
}

int compare_api_versions(std::string_view a, std::string_view b) {
  while (!a.empty() || !b.empty()) {
    const auto da = a.find('.');
    const auto db = b.find('.');
    const int pa = parse_part(a.substr(0, da));
    const int pb = parse_part(b.substr(0, db));
    if (pa != pb) return pa < pb ? -1 : 1;
    a = da == std::string_view::npos ? std::string_view() : a.substr(da + 1);
    b = db == std::string_view::npos ? std::string_view() : b.substr(db + 1);
  }
  return 0;
}

std::string version_body(const Identity& id) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("Platform");
  w.StartObject();
  put_field(w, "Name", "");
  w.EndObject();
  w.Key("Components");
  w.StartArray();
  w.StartObject();
  put_field(w, "Name", "Engine");
  put_field(w, "Version", id.server_version);
  w.Key("Details");
  w.StartObject();
  put_field(w, "ApiVersion", id.api_version);
  put_field(w, "Arch", "amd64");
  put_field(w, "BuildTime", id.build_time);
  put_field(w, "Experimental", "false");
  put_field(w, "GitCommit", id.git_commit);
  put_field(w, "GoVersion", id.go_version);
  put_field(w, "KernelVersion", kKernel);
  put_field(w, "MinAPIVersion", id.min_api_version);
  put_field(w, "Os", "linux");
  w.EndObject();
  w.EndObject();
  w.StartObject();
  put_field(w, "Name", "containerd");
  put_field(w, "Version", id.containerd_version);
  w.Key("Details");
  w.StartObject();
  put_field(w, "GitCommit", id.containerd_version);
  w.EndObject();
  w.EndObject();
  w.EndArray();
  put_field(w, "Version", id.server_version);
  put_field(w, "ApiVersion", id.api_version);
  put_field(w, "MinAPIVersion", id.min_api_version);
  put_field(w, "GitCommit", id.git_commit);
  put_field(w, "GoVersion", id.go_version);
  put_field(w, "Os", "linux");
  put_field(w, "Arch", "amd64");
  put_field(w, "KernelVersion", kKernel);
  put_field(w, "BuildTime", id.build_time);
  w.EndObject();
  return take_body(buffer);
}

std::string info_body(const Swarm& swarm, const Identity& id, Nanos now) {
  std::int64_t containers = 0;
  std::int64_t running = 0;
  for (const auto& [task_id, t] : swarm.tasks) {
    if (t.node_id != swarm.local_node_id || t.container_id.empty()) continue;
    ++containers;
    if (t.state == TaskState::kRunning) ++running;
  }
  std::int64_t managers = 0;
  for (const auto& [node_id, n] : swarm.nodes) managers += n.role == "manager" ? 1 : 0;
  const auto local = swarm.nodes.find(swarm.local_node_id);
  const std::string hostname = local == swarm.nodes.end() ? "manager-1" : local->second.hostname;
  const std::string addr = local == swarm.nodes.end() ? "10.10.0.10" : local->second.addr;

  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  put_field(w, "ID", swarm.daemon_id);
  put_int(w, "Containers", containers);
  put_int(w, "ContainersRunning", running);
  put_int(w, "ContainersPaused", 0);
  put_int(w, "ContainersStopped", containers - running);
  put_int(w, "Images", 12);
  put_field(w, "Driver", "overlay2");
  w.Key("Plugins");
  w.StartObject();
  w.Key("Volume");
  w.StartArray();
  put_str(w, "local");
  w.EndArray();
  w.Key("Network");
  w.StartArray();
  for (const char* n : {"bridge", "host", "ipvlan", "macvlan", "null", "overlay"}) put_str(w, n);
  w.EndArray();
  w.Key("Authorization");
  w.Null();
  w.Key("Log");
  w.StartArray();
  for (const char* l : {"awslogs", "fluentd", "gcplogs", "gelf", "journald", "json-file", "local",
                        "splunk", "syslog"}) {
    put_str(w, l);
  }
  w.EndArray();
  w.EndObject();
  put_bool(w, "MemoryLimit", true);
  put_bool(w, "SwapLimit", true);
  put_bool(w, "Debug", false);
  put_int(w, "NFd", 61);
  put_int(w, "NGoroutines", 210);
  put_time(w, "SystemTime", now);
  put_field(w, "LoggingDriver", "json-file");
  put_field(w, "CgroupDriver", "systemd");
  put_field(w, "CgroupVersion", "2");
  put_int(w, "NEventsListener", 1);
  put_field(w, "KernelVersion", kKernel);
  put_field(w, "OperatingSystem", "Debian GNU/Linux 12 (bookworm)");
  put_field(w, "OSVersion", "12");
  put_field(w, "OSType", "linux");
  put_field(w, "Architecture", "x86_64");
  put_field(w, "IndexServerAddress", "https://index.docker.io/v1/");
  put_int(w, "NCPU", local == swarm.nodes.end() ? 4 : local->second.nano_cpus / 1'000'000'000);
  put_int(w, "MemTotal", local == swarm.nodes.end() ? 8LL << 30 : local->second.memory_bytes);
  w.Key("GenericResources");
  w.Null();
  put_field(w, "DockerRootDir", "/var/lib/docker");
  put_field(w, "HttpProxy", "");
  put_field(w, "HttpsProxy", "");
  put_field(w, "NoProxy", "");
  put_field(w, "Name", hostname);
  w.Key("Labels");
  w.StartArray();
  w.EndArray();
  put_bool(w, "ExperimentalBuild", false);
  put_field(w, "ServerVersion", id.server_version);
  put_field(w, "DefaultRuntime", "runc");
  w.Key("Swarm");
  w.StartObject();
  put_field(w, "NodeID", swarm.local_node_id);
  put_field(w, "NodeAddr", addr);
  put_field(w, "LocalNodeState", "active");
  put_bool(w, "ControlAvailable", true);
  put_field(w, "Error", "");
  w.Key("RemoteManagers");
  w.StartArray();
  for (const auto& [node_id, n] : swarm.nodes) {
    if (n.role != "manager") continue;
    w.StartObject();
    put_field(w, "NodeID", node_id);
    put_field(w, "Addr", n.addr + ":2377");
    w.EndObject();
  }
  w.EndArray();
  put_int(w, "Nodes", static_cast<std::int64_t>(swarm.nodes.size()));
  put_int(w, "Managers", managers);
  w.Key("Cluster");
  w.StartObject();
  put_cluster(w, swarm);
  w.EndObject();
  w.EndObject();
  put_bool(w, "LiveRestoreEnabled", false);
  put_field(w, "Isolation", "");
  put_field(w, "InitBinary", "docker-init");
  w.Key("SecurityOptions");
  w.StartArray();
  put_str(w, "name=seccomp,profile=builtin");
  put_str(w, "name=cgroupns");
  w.EndArray();
  w.Key("Warnings");
  w.Null();
  w.EndObject();
  return take_body(buffer);
}

std::string swarm_body(const Swarm& swarm) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  put_cluster(w, swarm);
  w.Key("JoinTokens");
  w.StartObject();
  put_field(w, "Worker", swarm.worker_token);
  put_field(w, "Manager", swarm.manager_token);
  w.EndObject();
  w.EndObject();
  return take_body(buffer);
}

}  // namespace narwhal::sim
