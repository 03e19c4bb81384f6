// JSON shapes of the swarm objects, field for field in the order the real engine writes them
// (see shared/docker-samples/v1.45-docker26/).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "json.hpp"
#include "swarm.hpp"

namespace narwhal::sim {

struct ServiceCounts {
  std::uint64_t running = 0;
  std::uint64_t desired = 0;
  std::uint64_t completed = 0;
};

void put_tls_info(JsonWriter& w);
void put_task_template(JsonWriter& w, const TaskTemplate& tmpl, bool with_runtime);
// The template as a task's "Spec" (no "Runtime"), rendered once per template.
[[nodiscard]] std::string render_task_spec(const TaskTemplate& tmpl);

void write_node(JsonWriter& w, const Node& node, std::string_view engine_version);
// `counts` adds "ServiceStatus", as ?status=true does.
void write_service(JsonWriter& w, const Service& service, const ServiceCounts* counts);
void write_task(JsonWriter& w, const Task& task, const Swarm& swarm);
void write_config(JsonWriter& w, const Config& config);
void write_secret(JsonWriter& w, const Secret& secret);  // never "Data"
void write_network(JsonWriter& w, const Network& network);
void write_volume(JsonWriter& w, const Volume& volume);

}  // namespace narwhal::sim
