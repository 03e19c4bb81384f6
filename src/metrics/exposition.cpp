#include "narwhal/metrics/exposition.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <map>
#include <tuple>

#include "narwhal/metrics/requests.hpp"

namespace narwhal::metrics {

void Exposition::add(Source source) {
  sources_.push_back(std::move(source));
}

void Exposition::add(const RequestMetrics& requests) {
  registries_.push_back(&requests);
}

std::string Exposition::text() const {
  std::vector<Family> families;
  for (const auto& source : sources_) source(families);
  std::vector<prometheus::MetricFamily> out;
  out.reserve(families.size());
  for (auto& f : families) {
    prometheus::MetricFamily pf;
    pf.name = std::move(f.name);
    pf.help = std::move(f.help);
    pf.type =
        f.type == Type::counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
    for (auto& s : f.samples) {
      prometheus::ClientMetric m;
      for (auto& [name, value] : s.labels) m.label.push_back({std::move(name), std::move(value)});
      if (f.type == Type::counter) {
        m.counter.value = s.value;
      } else {
        m.gauge.value = s.value;
      }
      pf.metric.push_back(std::move(m));
    }
    out.push_back(std::move(pf));
  }
  for (const auto* r : registries_) {
    for (auto& f : r->collect()) out.push_back(std::move(f));
  }
  return prometheus::TextSerializer().Serialize(out);
}

void swarm_families(const state::Snapshot& snap, std::vector<Family>& out) {
  using state::Kind;
  Family desired{"narwhal_service_replicas_desired",
                 "Tasks the service should run (replicated: its replicas; global: one per "
                 "eligible node).",
                 Type::gauge,
                 {}};
  Family running{"narwhal_service_replicas_running",
                 "Tasks of the service that are running.",
                 Type::gauge,
                 {}};
  std::map<std::tuple<std::string, std::string, std::string>, double> tasks_by_state;
  std::map<std::string, std::pair<double, double>> stacks;  // desired, running
  const auto& services = snap.table(Kind::service);
  for (const auto& svc : services.items) {
    const auto t = snap.tally(svc->id);
    std::vector<std::pair<std::string, std::string>> labels{{"service", svc->name},
                                                            {"stack", svc->stack}};
    desired.samples.push_back({labels, static_cast<double>(t.desired)});
    running.samples.push_back({std::move(labels), static_cast<double>(t.running)});
    if (!svc->stack.empty()) {
      auto& st = stacks[svc->stack];
      st.first += static_cast<double>(t.desired);
      st.second += static_cast<double>(t.running);
    }
  }
  for (const auto& task : snap.table(Kind::task).items) {
    const state::Object* svc = services.find(task->service_id);
    tasks_by_state[{svc != nullptr ? svc->name : task->service_id,
                    svc != nullptr ? svc->stack : std::string(), task->state}] += 1;
  }
  Family tasks{"narwhal_tasks", "Tasks by service and state.", Type::gauge, {}};
  for (const auto& [key, n] : tasks_by_state) {
    tasks.samples.push_back(
        {{{"service", std::get<0>(key)}, {"stack", std::get<1>(key)}, {"state", std::get<2>(key)}},
         n});
  }
  Family stack_desired{
      "narwhal_stack_replicas_desired", "Tasks the stack's services should run.", Type::gauge, {}};
  Family stack_running{
      "narwhal_stack_replicas_running", "Running tasks of the stack's services.", Type::gauge, {}};
  for (const auto& [name, counts] : stacks) {
    stack_desired.samples.push_back({{{"stack", name}}, counts.first});
    stack_running.samples.push_back({{{"stack", name}}, counts.second});
  }
  std::map<std::tuple<std::string, std::string, std::string>, double> nodes_by;
  for (const auto& n : snap.table(Kind::node).items) {
    nodes_by[{n->state, n->availability, n->role}] += 1;
  }
  Family nodes{"narwhal_nodes", "Nodes by state, availability and role.", Type::gauge, {}};
  for (const auto& [key, n] : nodes_by) {
    nodes.samples.push_back({{{"state", std::get<0>(key)},
                              {"availability", std::get<1>(key)},
                              {"role", std::get<2>(key)}},
                             n});
  }
  for (auto* f : {&desired, &running, &tasks, &stack_desired, &stack_running, &nodes}) {
    out.push_back(std::move(*f));
  }
}

}  // namespace narwhal::metrics
