// The simulated swarm's state: plain data, one map per object kind, ordered by ID as swarmkit's
// store lists them. Not thread-safe: the owner guards it with the model mutex.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clock.hpp"

namespace narwhal::sim {

// Go encodes map[string]string with its keys sorted; std::map gives that order for free.
using Labels = std::map<std::string, std::string>;

inline constexpr char kStackLabel[] = "com.docker.stack.namespace";
inline constexpr char kStackImageLabel[] = "com.docker.stack.image";

enum class TaskState : std::uint8_t {
  kNew,
  kPending,
  kAssigned,
  kAccepted,
  kPreparing,
  kReady,
  kStarting,
  kRunning,
  kComplete,
  kShutdown,
  kFailed,
  kRejected,
  kRemove,
  kOrphaned,
};

[[nodiscard]] std::string_view task_state_name(TaskState state);
// Case-insensitive, as dockerd matches the desired-state filter.
[[nodiscard]] std::optional<TaskState> parse_task_state(std::string_view name);
[[nodiscard]] bool is_terminal(TaskState state);

struct Meta {
  std::string id;
  std::uint64_t version = 0;
  Nanos created = 0;
  Nanos updated = 0;
};

struct Node : Meta {
  std::string hostname;
  std::string role;          // manager | worker
  std::string availability;  // active | pause | drain
  std::string state;         // ready | down
  std::string addr;
  Labels labels;
  bool leader = false;
  std::int64_t nano_cpus = 0;
  std::int64_t memory_bytes = 0;
};

struct FileRef {  // a config or secret mounted into a task
  std::string id;
  std::string name;
  std::string target;
};

struct VolumeMount {
  std::string source;
  std::string target;
};

struct NetworkRef {
  std::string id;
  std::string alias;
};

struct TaskTemplate {
  std::string image;
  Labels container_labels;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::vector<VolumeMount> mounts;
  std::vector<FileRef> secrets;
  std::vector<FileRef> configs;
  std::int64_t memory_limit = 0;
  bool restart_policy = false;  // `docker stack deploy` writes one explicitly
  std::vector<std::string> constraints;
  std::vector<NetworkRef> networks;
};

struct PortConfig {
  std::uint32_t target = 0;
  std::uint32_t published = 0;
};

struct ServiceSpec {
  std::string name;
  Labels labels;
  TaskTemplate task;
  bool global = false;
  std::uint64_t replicas = 1;
  bool update_config = false;  // UpdateConfig/RollbackConfig as `docker stack deploy` writes them
  std::string endpoint_mode = "vip";
  std::vector<PortConfig> ports;
};

// What a task copies from its service when created: the template and its JSON, rendered once and
// shared by every task created from the same template.
struct TaskSpec {
  TaskTemplate tmpl;
  std::string json;
};

struct UpdateStatus {
  std::string state;
  Nanos started = 0;
  Nanos completed = 0;
  std::string message;
};

struct VirtualIp {
  std::string network_id;
  std::string addr;
};

struct Service : Meta {
  ServiceSpec spec;
  std::optional<ServiceSpec> previous;
  std::optional<UpdateStatus> update;
  std::vector<VirtualIp> vips;
  std::shared_ptr<const TaskSpec> task_spec;
  std::vector<std::string> task_ids;  // every task of the service, oldest first
  bool image_missing = false;         // its tasks are rejected: the image can't be pulled
};

struct Attachment {
  std::string network_id;
  std::string addr;
};

struct Task : Meta {
  std::string service_id;
  std::string service_name;
  std::uint64_t slot = 0;  // 0 for global services
  std::string node_id;     // empty until scheduled
  TaskState state = TaskState::kPending;
  TaskState desired = TaskState::kRunning;
  Nanos status_time = 0;
  std::string message;
  std::string err;
  std::string container_id;
  std::int64_t pid = 0;
  std::int64_t exit_code = 0;
  Nanos started = 0;
  std::shared_ptr<const TaskSpec> spec;
  std::vector<Attachment> attachments;
};

// "<service>.<slot>.<id>" or, for global services, "<service>.<node>.<id>".
[[nodiscard]] std::string task_name(const Task& task);

struct Config : Meta {
  std::string name;
  Labels labels;
  std::string data;  // raw bytes; the API shows them base64-encoded
};

struct Secret : Meta {
  std::string name;
  Labels labels;
};

struct Network : Meta {
  std::string name;
  std::string driver;
  std::string scope;  // swarm | local
  std::string subnet;
  std::string gateway;
  bool attachable = false;
  bool ingress = false;
  bool internal = false;
  Labels labels;
  Labels options;
  std::uint32_t vxlan = 0;
  std::uint32_t next_host = 2;
};

struct Volume {
  std::string name;
  Nanos created = 0;
  std::string driver = "local";
  Labels labels;
  bool has_options = false;
};

struct Swarm {
  Meta cluster;
  std::string worker_token;
  std::string manager_token;
  std::string daemon_id;
  std::string local_node_id;
  std::uint64_t last_version = 0;

  std::map<std::string, Node> nodes;
  std::map<std::string, Service> services;
  std::map<std::string, Task> tasks;
  std::map<std::string, Config> configs;
  std::map<std::string, Secret> secrets;
  std::map<std::string, Network> networks;
  std::map<std::string, Volume> volumes;  // by name: volumes have no other ID

  // swarmkit's store has one global version counter; every write takes the next value.
  void touch(Meta& meta, Nanos now) {
    meta.version = ++last_version;
    meta.updated = now;
  }
  void stamp_new(Meta& meta, std::string id, Nanos now) {
    meta.id = std::move(id);
    meta.created = now;
    touch(meta, now);
  }

  // Inserts a service: computes its VIPs and the task spec its tasks copy.
  Service& add_service(std::string id, ServiceSpec spec, Nanos now);
  // Re-renders the task spec after the template changed.
  void refresh_task_spec(Service& service);
  // A new pending task of `service` (slot for replicated, node for global ones).
  Task& add_task(Service& service, std::string id, std::uint64_t slot, std::string node_id,
                 Nanos now);
  void erase_task(const std::string& id);
  std::string allocate_address(const std::string& network_id);
};

enum class Found { kOne, kNone, kAmbiguous };

template <typename T>
struct Lookup {
  T* object = nullptr;
  Found found = Found::kNone;
  std::size_t matches = 0;
};

// dockerd's lookup order: full ID, then exact name, then unique ID prefix.
template <typename T, typename NameOf>
Lookup<T> resolve(std::map<std::string, T>& objects, std::string_view ref, NameOf name_of) {
  Lookup<T> result;
  if (ref.empty()) return result;
  const std::string key(ref);
  if (auto it = objects.find(key); it != objects.end()) return {&it->second, Found::kOne, 1};
  for (auto& [id, object] : objects) {
    if (name_of(object) == ref) {
      result.object = &object;
      ++result.matches;
    }
  }
  if (result.matches == 0) {
    for (auto it = objects.lower_bound(key);
         it != objects.end() && std::string_view(it->first).starts_with(ref); ++it) {
      result.object = &it->second;
      ++result.matches;
    }
  }
  if (result.matches == 1) result.found = Found::kOne;
  if (result.matches > 1) result.found = Found::kAmbiguous;
  if (result.found != Found::kOne) result.object = nullptr;
  return result;
}

}  // namespace narwhal::sim
