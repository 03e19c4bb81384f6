// Prometheus metrics (SPEC §11): every number is read from its owner at scrape time — the hub's,
// the server's and the cache's counters, and the swarm's own state from the current snapshot — so
// nothing on a request path pays for metrics, and a scrape never sees two clocks.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "narwhal/state/snapshot.hpp"

namespace narwhal::metrics {

enum class Type { counter, gauge };

struct Sample {
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

struct Family {
  std::string name;  // narwhal_…; counters end in _total
  std::string help;
  Type type = Type::gauge;
  std::vector<Sample> samples;
};

// Appends the families it knows about.
using Source = std::function<void(std::vector<Family>&)>;
class RequestMetrics;

class Exposition {
 public:
  void add(Source source);  // before serving; not thread-safe against text()
  // prometheus-cpp families kept by their owner (it must outlive the exposition's use).
  void add(const RequestMetrics& requests);
  // The Prometheus text format (0.0.4) of every source's families.
  [[nodiscard]] std::string text() const;

 private:
  std::vector<Source> sources_;
  std::vector<const RequestMetrics*> registries_;
};

// The swarm as metrics: desired and running replicas per service (with its stack), tasks by
// state per service, nodes by state, availability and role.
void swarm_families(const state::Snapshot& snap, std::vector<Family>& out);

}  // namespace narwhal::metrics
