// Test support: the real engine's bodies from tests/data/docker-samples, and a Change that is a
// full sync of them.
#pragma once

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "narwhal/state/store.hpp"

namespace narwhal::test {

inline std::string sample(const std::string& name) {
  std::ifstream in(std::string(NARWHAL_SAMPLES) + "/" + name);
  REQUIRE_MESSAGE(in.good(), "missing sample " << name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One object from engine JSON written in a test; a body the parser refuses fails the test.
inline state::ObjectPtr object(state::Kind k, const std::string& json) {
  auto out = state::parse_object(k, json);
  REQUIRE_MESSAGE(out.object, out.error);
  return out.object;
}

inline std::vector<state::ObjectPtr> listing(state::Kind k, const std::string& file) {
  auto out = state::parse_list(k, sample(file));
  REQUIRE(out.error.empty());
  return out.objects;
}

inline state::Change full_sync() {
  using state::Kind;
  state::Change c;
  auto set = [&](Kind k, std::vector<state::ObjectPtr> v) {
    c.full.at(static_cast<std::size_t>(k)) = std::move(v);
  };
  set(Kind::node, listing(Kind::node, "nodes.json"));
  set(Kind::service, listing(Kind::service, "services.json"));
  auto tasks = listing(Kind::task, "tasks-running.json");
  for (auto& t : listing(Kind::task, "tasks-rejected-and-shutdown.json")) tasks.push_back(t);
  set(Kind::task, tasks);
  set(Kind::config, listing(Kind::config, "configs.json"));
  set(Kind::secret, listing(Kind::secret, "secrets.json"));
  set(Kind::network, listing(Kind::network, "networks.json"));
  set(Kind::volume, listing(Kind::volume, "volumes.json"));
  c.swarm = sample("swarm-jointokens-redacted.json");
  c.info = sample("info-swarm-active.json");
  return c;
}

}  // namespace narwhal::test
