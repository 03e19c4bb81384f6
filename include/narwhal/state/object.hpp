// One swarm object as narwhal keeps it: the engine's JSON (minified bytes, rendered by copy)
// plus the few typed fields that sorting, searching, filtering and cross-references need.
// Objects are immutable once built and shared between snapshots.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace narwhal::state {

enum class Kind : std::uint8_t { node, service, task, config, secret, network, volume, stack };
inline constexpr std::size_t kEngineKinds = 7;  // every kind but stack comes from the engine
inline constexpr std::size_t kKinds = 8;

[[nodiscard]] std::string_view kind_name(Kind k) noexcept;        // "service"
[[nodiscard]] std::string_view kind_collection(Kind k) noexcept;  // "services"
[[nodiscard]] std::string_view kind_type(Kind k) noexcept;        // "Service" (JSON-LD @type)
[[nodiscard]] std::optional<Kind> kind_from_collection(std::string_view s) noexcept;

inline constexpr std::string_view kStackLabel = "com.docker.stack.namespace";

using Labels = std::vector<std::pair<std::string, std::string>>;

struct Object {
  Kind kind = Kind::node;
  std::string id;             // volumes: the name
  std::string name;           // nodes: hostname; tasks: <service name>.<slot or node id>
  std::string raw;            // the engine's JSON object, minified
  std::uint64_t version = 0;  // Version.Index (0 for networks and volumes)
  std::int64_t created = 0;   // microseconds, 0 when unknown
  std::int64_t updated = 0;   // microseconds, 0 when unknown
  std::string stack;          // com.docker.stack.namespace, "" when none
  Labels labels;

  // Hot fields first, side by side: filters over 100 000 tasks read `state` and `service_name`
  // of every task, and each extra cache line costs milliseconds there.
  std::string state;  // node state (ready, down, …) or task state (running, failed, …)
  // task: its service's name, stamped by the store once the service is known (swarm service
  // names never change), so filters and lists need no lookup per task.
  std::string service_name;
  // node
  std::string role, availability, address, engine_version;
  bool leader = false;
  // node: capacity; task: reservation
  std::int64_t nano_cpus = 0, memory_bytes = 0;
  // service
  std::string image, mode;     // mode: replicated, global, replicated-job, global-job
  std::uint64_t replicas = 0;  // desired replicas of a replicated service
  std::vector<std::string> config_ids, secret_ids, network_ids, volume_names;
  // UpdateStatus: the rolling update's state (updating, paused, completed, rollback_started,
  // rollback_paused, rollback_completed; "" before the first update) and the engine's reason.
  std::string update_state, update_message;
  // task
  std::string desired_state, service_id, node_id, error, container_id;
  std::optional<std::uint64_t> slot;
  std::optional<std::int64_t> exit_code;
  // network, volume
  std::string driver, scope;

  [[nodiscard]] std::string_view label(std::string_view key) const noexcept;
};

using ObjectPtr = std::shared_ptr<const Object>;

class EnvRedactor;

// Parses one engine object of `kind` from its JSON. Never throws: a body that is not an object of
// that kind gives an error string. Secrets and configs lose any `Data`; with `redact`, the values
// of hidden environment variables of services (Spec and PreviousSpec) and tasks are replaced; the
// raw JSON is re-minified.
struct ParseOutcome {
  ObjectPtr object;
  std::string error;
};
[[nodiscard]] ParseOutcome parse_object(Kind kind, std::string_view json,
                                        const EnvRedactor* redact = nullptr);

// Parses a listing (a JSON array; volumes: {"Volumes": [...]}). Items that fail to parse are
// skipped and counted in `skipped`.
struct ListOutcome {
  std::vector<ObjectPtr> objects;
  std::size_t skipped = 0;
  std::string error;  // the whole body was unusable
};
// With `known` (the kind's current table), an item whose ID and Version.Index match a known
// object is that object, shared rather than parsed again: a periodic re-list of 100 000 tasks
// then mostly costs the JSON parse.
struct Table;
[[nodiscard]] ListOutcome parse_list(Kind kind, std::string_view json, const Table* known = nullptr,
                                     const EnvRedactor* redact = nullptr);

// The swarm object without its join tokens, minified; "" when the body is not an object.
[[nodiscard]] std::string scrub_swarm(std::string_view json);
// /info minified; "" when the body is not an object.
[[nodiscard]] std::string minify_object(std::string_view json);

}  // namespace narwhal::state
