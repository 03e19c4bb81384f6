#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "builder.hpp"
#include "populate.hpp"

namespace narwhal::sim {

namespace {

constexpr std::size_t kServicesPerStack = 10;
constexpr Nanos kBuildStep = 2 * kNanosPerMilli;

struct Role {
  const char* name;
  const char* image;
};

constexpr std::array<Role, kServicesPerStack> kRoles = {{
    {"web", "nginx:1.25-alpine"},
    {"api", "ghcr.io/example/api:3.4.1"},
    {"worker", "ghcr.io/example/worker:3.4.1"},
    {"db", "postgres:16.2"},
    {"cache", "redis:7.2-alpine"},
    {"queue", "rabbitmq:3.13-alpine"},
    {"auth", "ghcr.io/example/auth:1.9.0"},
    {"search", "opensearchproject/opensearch:2.13.0"},
    {"mailer", "ghcr.io/example/mailer:0.7.2"},
    {"scheduler", "ghcr.io/example/scheduler:1.2.0"},
}};

std::string stack_name(std::size_t index) {
  std::array<char, 32> buf{};
  std::snprintf(buf.data(), buf.size(), "app%04zu", index);
  return buf.data();
}

}  // namespace

void populate_generated(Swarm& swarm, IdSource& ids, Nanos now, std::size_t services,
                        std::size_t tasks_per_service) {
  const std::size_t total_tasks = services * tasks_per_service;
  const Nanos span = static_cast<Nanos>(total_tasks + services * 6 + 64) * kBuildStep;
  SwarmBuilder b(swarm, ids, now - span, kBuildStep);
  b.cluster();
  const std::size_t node_count = services / 100 + 3;
  std::vector<std::string> nodes;
  nodes.reserve(node_count);
  static constexpr std::array<const char*, 3> kZones = {"a", "b", "c"};
  for (std::size_t i = 0; i < node_count; ++i) {
    const bool manager = i < 3;
    std::string hostname =
        (manager ? "manager-" : "worker-") + std::to_string(manager ? i + 1 : i - 2);
    nodes.push_back(b.node(hostname, manager, {{"zone", kZones[i % kZones.size()]}}).id);
  }
  b.default_networks();

  std::size_t next_node = 0;
  for (std::size_t first = 0; first < services; first += kServicesPerStack) {
    const std::string stack = stack_name(first / kServicesPerStack);
    const Network& network = b.overlay(stack + "_default", stack);
    const Config& config = b.config(stack + "_config", stack, "stack=" + stack + "\n");
    const Secret& secret = b.secret(stack + "_secret", stack);
    b.volume(stack + "_data", stack);
    for (std::size_t i = first; i < services && i < first + kServicesPerStack; ++i) {
      const Role& role = kRoles[i - first];
      ServiceSpec spec = make_service_spec(stack, role.name, role.image);
      spec.replicas = tasks_per_service;
      spec.task.configs = {{config.id, config.name, "/etc/" + stack + ".conf"}};
      spec.task.secrets = {{secret.id, secret.name, secret.name}};
      // Only the front of each stack sits on the overlay: a task's NetworksAttachments embeds the
      // whole network, which would triple the size of a 100 000-task listing.
      if (i == first) spec.task.networks = {{network.id, role.name}};
      Service& service = b.service(std::move(spec));
      service.task_ids.reserve(tasks_per_service);
      for (std::uint64_t slot = 1; slot <= tasks_per_service; ++slot) {
        b.running(service, slot, nodes[next_node++ % nodes.size()]);
      }
    }
  }
}

}  // namespace narwhal::sim
