#include <doctest/doctest.h>

#include "../support/samples.hpp"
#include <thread>

#include "narwhal/metrics/exposition.hpp"
#include "narwhal/metrics/requests.hpp"

using namespace narwhal;
using metrics::Family;
using metrics::Type;

TEST_CASE("families come out in the Prometheus text format") {
  metrics::Exposition e;
  e.add([](std::vector<Family>& out) {
    out.push_back({"narwhal_sse_overflows_total", "Slow streams.", Type::counter, {{{}, 3}}});
    out.push_back({"narwhal_objects", "Objects.", Type::gauge, {{{{"type", "node"}}, 5}}});
  });
  const std::string text = e.text();
  CHECK(text.find("# HELP narwhal_sse_overflows_total Slow streams.\n") != std::string::npos);
  CHECK(text.find("# TYPE narwhal_sse_overflows_total counter\n") != std::string::npos);
  CHECK(text.find("narwhal_sse_overflows_total 3\n") != std::string::npos);
  CHECK(text.find("narwhal_objects{type=\"node\"} 5\n") != std::string::npos);
}

TEST_CASE("the swarm's own state as metrics") {
  state::Store store(10);
  (void)store.apply(test::full_sync());
  metrics::Exposition e;
  e.add([&](std::vector<Family>& out) { metrics::swarm_families(*store.snapshot(), out); });
  const std::string text = e.text();
  // web: 2 desired, 1 running in the samples (as the state tests say).
  CHECK(text.find("narwhal_service_replicas_desired{service=\"web\",stack=\"\"} 2\n") !=
        std::string::npos);
  CHECK(text.find("narwhal_service_replicas_running{service=\"web\",stack=\"\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("narwhal_tasks{service=\"web\",stack=\"\",state=\"running\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("narwhal_nodes{state=\"ready\",availability=\"active\",role=\"manager\"} 1\n") !=
        std::string::npos);
}

TEST_CASE("request metrics: by route, method and status, a histogram per route, problems") {
  metrics::RequestMetrics requests;
  static const std::string services = "/services";
  static const std::string detail = "/services/{id}";
  static constexpr std::string_view flt = "FLT001";
  requests.observe(services, "GET", 200, "", 0.0002);
  requests.observe(services, "GET", 200, "", 0.004);
  requests.observe(services, "HEAD", 304, "", 0.0001);
  requests.observe(services, "GET", 400, flt, 0.0003);
  requests.observe(detail, "GET", 200, "", 0.2);
  requests.observe("", "BREW", 400, "", 0.00001);  // before routing, a method nobody serves
  std::thread other([&] { requests.observe(services, "GET", 200, "", 0.001); });
  other.join();
  metrics::Exposition e;
  e.add(requests);
  const std::string text = e.text();
  CHECK(text.find("# TYPE narwhal_http_requests_total counter") != std::string::npos);
  CHECK(text.find(R"(narwhal_http_requests_total{method="GET",route="/services",status="200"} 3)") !=
        std::string::npos);
  CHECK(text.find(R"(narwhal_http_requests_total{method="HEAD",route="/services",status="304"} 1)") !=
        std::string::npos);
  CHECK(text.find(R"(narwhal_http_requests_total{method="other",route="none",status="400"} 1)") !=
        std::string::npos);
  CHECK(text.find("# TYPE narwhal_http_request_duration_seconds histogram") != std::string::npos);
  CHECK(text.find(R"(narwhal_http_request_duration_seconds_count{route="/services"} 5)") !=
        std::string::npos);
  CHECK(text.find(R"(narwhal_http_request_duration_seconds_bucket{route="/services",le="0.0005"} 3)") !=
        std::string::npos);
  CHECK(text.find(R"(narwhal_http_request_duration_seconds_bucket{route="/services/{id}",le="0.1"} 0)") !=
        std::string::npos);
  CHECK(text.find(R"(narwhal_http_problems_total{code="FLT001"} 1)") != std::string::npos);
  // Two instances keep their own counts, even on one thread.
  metrics::RequestMetrics fresh;
  fresh.observe(services, "GET", 200, "", 0.001);
  metrics::Exposition e2;
  e2.add(fresh);
  CHECK(e2.text().find(R"(narwhal_http_requests_total{method="GET",route="/services",status="200"} 1)") !=
        std::string::npos);
}
