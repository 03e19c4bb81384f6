#include <doctest/doctest.h>

#include "../support/samples.hpp"
#include "narwhal/metrics/exposition.hpp"

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
