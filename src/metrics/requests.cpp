#include "narwhal/metrics/requests.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <atomic>
#include <mutex>
#include <string>
#include <unordered_map>

namespace narwhal::metrics {

namespace {

std::string_view method_label(std::string_view m) {
  for (std::string_view known : {"GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "PATCH"}) {
    if (m == known) return known;
  }
  return "other";
}

// Seconds: from a cache hit (~50 µs) to a render at 100 000 tasks (~100 ms) and beyond.
const prometheus::Histogram::BucketBoundaries& buckets() {
  static const prometheus::Histogram::BucketBoundaries b{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  return b;
}

}  // namespace

struct RequestMetrics::Impl {
  // Each instance has an ID, so that a thread's table of another instance's metrics is never
  // used by mistake (tests make several).
  inline static std::atomic<std::uint64_t> next_id{1};
  const std::uint64_t id = next_id.fetch_add(1);
  prometheus::Registry registry;
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("narwhal_http_requests_total")
          .Help(
              "HTTP requests answered, by route (the route table's pattern, \"none\" for "
              "requests that reached no route), method and status.")
          .Register(registry);
  prometheus::Family<prometheus::Histogram>& durations =
      prometheus::BuildHistogram()
          .Name("narwhal_http_request_duration_seconds")
          .Help(
              "From a request's head read to its answer written (the head, for event "
              "streams), by route.")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& problems =
      prometheus::BuildCounter()
          .Name("narwhal_http_problems_total")
          .Help(
              "Problem answers by code (see /api/errors): every limit that triggers counts "
              "here.")
          .Register(registry);
  std::mutex mutex;  // Family::Add is thread-safe; this keeps each key's lookup single

  struct Cached {
    prometheus::Counter* requests = nullptr;
    prometheus::Histogram* duration = nullptr;
    prometheus::Counter* problem = nullptr;
  };
  Cached resolve(std::string_view route, std::string_view method, int status,
                 std::string_view problem) {
    const std::string r = route.empty() ? std::string("none") : std::string(route);
    const std::lock_guard lock(mutex);
    Cached c;
    c.requests = &requests.Add(
        {{"route", r}, {"method", std::string(method)}, {"status", std::to_string(status)}});
    c.duration = &durations.Add({{"route", r}}, buckets());
    if (!problem.empty()) c.problem = &problems.Add({{"code", std::string(problem)}});
    return c;
  }
};

RequestMetrics::RequestMetrics() : impl_(std::make_unique<Impl>()) {}
RequestMetrics::~RequestMetrics() = default;

void RequestMetrics::observe(std::string_view route, std::string_view method, int status,
                             std::string_view problem, double seconds) {
  method = method_label(method);
  // Routes, methods and codes are all string_views into static tables, so a key of their
  // addresses is exact and costs no allocation.
  struct Key {
    std::uint64_t owner;
    const void* route;
    const void* method;
    const void* problem;
    int status;
    bool operator==(const Key&) const = default;
  };
  struct Hash {
    std::size_t operator()(const Key& k) const noexcept {
      std::size_t h = std::hash<std::uint64_t>{}(k.owner);
      for (const void* p : {k.route, k.method, k.problem}) {
        h = h * 1099511628211ULL ^ std::hash<const void*>{}(p);
      }
      return h * 31 + static_cast<std::size_t>(k.status);
    }
  };
  thread_local std::unordered_map<Key, Impl::Cached, Hash> table;
  const Key key{impl_->id, route.empty() ? nullptr : route.data(), method.data(),
                problem.empty() ? nullptr : problem.data(), status};
  auto it = table.find(key);
  if (it == table.end()) {
    if (table.size() > 4096) table.clear();  // bounded whatever happens
    it = table.emplace(key, impl_->resolve(route, method, status, problem)).first;
  }
  it->second.requests->Increment();
  it->second.duration->Observe(seconds);
  if (it->second.problem != nullptr) it->second.problem->Increment();
}

std::vector<prometheus::MetricFamily> RequestMetrics::collect() const {
  return impl_->registry.Collect();
}

}  // namespace narwhal::metrics
