// The HTTP server's own request metrics (SPEC §11, §15): requests by route, method and status, a
// latency histogram per route, and problems by code, kept in prometheus-cpp's own registry of
// counters and histograms. The route is the pattern of the route table ("/services/{id}"), so
// the label set is bounded whatever clients send; so are methods (anything else is "other").
#pragma once

#include <memory>
#include <string_view>
#include <vector>

namespace prometheus {
struct MetricFamily;
}  // namespace prometheus

namespace narwhal::metrics {

class RequestMetrics {
 public:
  RequestMetrics();
  ~RequestMetrics();
  RequestMetrics(const RequestMetrics&) = delete;
  RequestMetrics& operator=(const RequestMetrics&) = delete;

  // One answered request. `route` is "" before routing (a malformed request); `problem` is the
  // problem code of the answer, "" when it is none. Both must view static storage (the route
  // table's pattern, the error registry's code): they are told apart by address. Thread-safe;
  // after the first request of a kind it costs a lookup in a small per-thread table and a few
  // atomic adds.
  void observe(std::string_view route, std::string_view method, int status,
               std::string_view problem, double seconds);

  [[nodiscard]] std::vector<prometheus::MetricFamily> collect() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace narwhal::metrics
