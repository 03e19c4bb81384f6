#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "narwhal/engine/client.hpp"
#include "narwhal/engine/event.hpp"

using namespace narwhal::engine;

namespace {
std::string sample(const std::string& name) {
  std::ifstream in(std::string(NARWHAL_SAMPLES) + "/" + name);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
std::vector<Event> events_of(const std::string& name) {
  std::vector<Event> out;
  std::istringstream in(sample(name));
  std::string line;
  while (std::getline(in, line)) {
    if (auto ev = parse_event(line)) out.push_back(*ev);
  }
  return out;
}
}  // namespace

TEST_CASE("DOCKER_HOST forms parse like the docker CLI") {
  auto u = parse_endpoint("unix:///var/run/docker.sock", false, "");
  REQUIRE(u);
  CHECK(u->kind == Endpoint::Kind::unix_socket);
  CHECK(u->path == "/var/run/docker.sock");
  auto t = parse_endpoint("tcp://10.0.0.1:2376", true, "/certs");
  REQUIRE(t);
  CHECK(t->kind == Endpoint::Kind::tcp);
  CHECK(t->host == "10.0.0.1");
  CHECK(t->port == 2376);
  CHECK(t->tls);
  auto d = parse_endpoint("tcp://manager", false, "");
  REQUIRE(d);
  CHECK(d->port == 2375);
  auto v6 = parse_endpoint("tcp://[::1]:2375", false, "");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK_FALSE(parse_endpoint("http://x", false, ""));
  CHECK_FALSE(parse_endpoint("tcp://host:99999", false, ""));
  CHECK_FALSE(parse_endpoint("unix://", false, ""));
}

TEST_CASE("API versions compare numerically") {
  CHECK(compare_versions("1.41", "1.45") < 0);
  CHECK(compare_versions("1.100", "1.45") > 0);
  CHECK(compare_versions("1.41", "1.41") == 0);
}

TEST_CASE("every swarm-scope event of a real engine decodes") {
  const auto evs = events_of("events-swarm-scope-distinct.jsonl");
  REQUIRE(evs.size() >= 10);
  for (const auto& e : evs) {
    CHECK_FALSE(e.type.empty());
    CHECK_FALSE(e.action.empty());
    CHECK_FALSE(e.actor_id.empty());
    CHECK(e.scope == "swarm");
    CHECK(e.time_nano > 1'700'000'000'000'000'000);
  }
  bool saw_node_state = false;
  for (const auto& e : evs) {
    if (e.type == "node" && !e.attribute("state.new").empty()) saw_node_state = true;
  }
  CHECK(saw_node_state);
}

TEST_CASE("container events of a swarm task carry the task's labels") {
  const auto evs = events_of("events-container-swarm-task-killed.jsonl");
  REQUIRE_FALSE(evs.empty());
  for (const auto& e : evs) {
    CHECK(e.type == "container");
    CHECK_FALSE(e.attribute("com.docker.swarm.task.id").empty());
    CHECK_FALSE(e.attribute("com.docker.swarm.service.id").empty());
  }
}

TEST_CASE("actions with a suffix are split on ': '") {
  const auto evs = events_of("events-window-service-image-update.jsonl");
  bool saw_exec = false;
  for (const auto& e : evs) {
    CHECK(e.action.find(':') == std::string::npos);
    if (e.action == "exec_create" || e.action == "exec_start") saw_exec = true;
  }
  CHECK(saw_exec);
}

TEST_CASE("nothing the engine sends crashes the decoder") {
  CHECK_FALSE(parse_event(""));
  CHECK_FALSE(parse_event("{"));
  CHECK_FALSE(parse_event("[]"));
  CHECK_FALSE(parse_event("null"));
  CHECK_FALSE(parse_event(R"({"Type":1,"Action":"x"})"));
  CHECK_FALSE(parse_event(R"({"Type":"service","Action":"update"})"));  // no actor
  const auto ev = parse_event(
      R"({"Type":"service","Action":"update","Actor":{"ID":"x","Attributes":{"n":5,"name":"w"}},"time":12})");
  REQUIRE(ev);
  CHECK(ev->attribute("name") == "w");
  CHECK(ev->attribute("n").empty());
  CHECK(ev->time_nano == 12'000'000'000);
}

TEST_CASE("an unreachable engine is an error value, not an exception") {
  auto ep = parse_endpoint("unix:///nonexistent/narwhal-test.sock", false, "");
  REQUIRE(ep);
  Client c(*ep, std::chrono::milliseconds(500));
  auto v = c.negotiate();
  REQUIRE_FALSE(v);
  CHECK(v.error().kind == ErrorKind::unreachable);
  CHECK_FALSE(v.error().describe().empty());
}

TEST_CASE("a failed call says what failed, where and why") {
  Client c(parse_endpoint("unix:///nonexistent/docker.sock", false, "").value(),
           std::chrono::milliseconds(500));
  const auto r = c.negotiate();
  REQUIRE_FALSE(r);
  const std::string why = r.error().describe();
  CHECK_MESSAGE(why.starts_with("engine unreachable: GET /_ping: connect /nonexistent/docker.sock"),
                why);
  CHECK_MESSAGE(why.find("No such file or directory") != std::string::npos, why);
  CHECK(r.error().call == "GET /_ping");
  Error status{ErrorKind::http_status, 503, "This node is not a swarm manager.",
               "GET /v1.41/nodes"};
  CHECK(status.describe() ==
        "engine answered GET /v1.41/nodes: 503 This node is not a swarm manager.");
}
