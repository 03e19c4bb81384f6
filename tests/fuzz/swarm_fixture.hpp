// The small, fixed swarm the fuzz targets evaluate against: built once from engine-shaped JSON
// through the same path the watcher uses (state::parse_object → Change → Store::apply), so
// filters and handlers see real Objects, stacks and tallies. It covers every kind, a service in a
// stack and one outside any, tasks with and without slot and exit code, and labels.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <utility>
#include <vector>

#include "narwhal/state/store.hpp"

namespace narwhal::fuzz {

// The fuzzers' one way to fail: a message and abort(), which libFuzzer reports as a crash and
// saves the input.
[[noreturn]] inline void fail(const char* what, std::string_view subject) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n  on (%zu bytes): %.*s\n", what,
               subject.size(), static_cast<int>(subject.size() > 400 ? 400 : subject.size()),
               subject.data());
  std::abort();
}

inline void check(bool ok, const char* what, std::string_view subject) {
  if (!ok) fail(what, subject);
}

namespace detail {

struct Sample {
  state::Kind kind;
  std::string_view json;
};

// Minimal engine bodies: only the members narwhal reads, plus a few it must carry untouched.
inline constexpr Sample kSamples[] = {
    {state::Kind::node, R"json({"ID":"n1leader000000000000000aa","Version":{"Index":10},
      "CreatedAt":"2026-11-22T10:00:00.1Z","UpdatedAt":"2026-11-22T10:01:00Z",
      "Spec":{"Labels":{"zone":"eu-1","tier":"front"},"Role":"manager","Availability":"active"},
      "Description":{"Hostname":"manager-1","Engine":{"EngineVersion":"26.1.4"},
        "Resources":{"NanoCPUs":4000000000,"MemoryBytes":8589934592}},
      "Status":{"State":"ready","Addr":"10.0.0.1"},
      "ManagerStatus":{"Leader":true,"Reachability":"reachable","Addr":"10.0.0.1:2377"}})json"},
    {state::Kind::node, R"json({"ID":"n2worker000000000000000bb","Version":{"Index":11},
      "CreatedAt":"2026-11-22T10:00:05Z","UpdatedAt":"2026-11-22T10:05:00Z",
      "Spec":{"Labels":{},"Role":"worker","Availability":"drain"},
      "Description":{"Hostname":"worker-1","Engine":{"EngineVersion":"25.0.0"},
        "Resources":{"NanoCPUs":2000000000,"MemoryBytes":4294967296}},
      "Status":{"State":"down","Addr":"10.0.0.2"}})json"},
    {state::Kind::service, R"json({"ID":"s1web0000000000000000000aa","Version":{"Index":20},
      "CreatedAt":"2026-11-22T10:02:00Z","UpdatedAt":"2026-11-22T10:03:00Z",
      "Spec":{"Name":"shop_web","Labels":{"com.docker.stack.namespace":"shop","tier":"frontend"},
        "TaskTemplate":{"ContainerSpec":{"Image":"nginx:1.27",
          "Configs":[{"ConfigID":"c1conf000000000000000000aa","ConfigName":"shop_conf"}],
          "Secrets":[{"SecretID":"x1secret0000000000000000aa","SecretName":"shop_key"}],
          "Mounts":[{"Type":"volume","Source":"shop_data","Target":"/data"}]},
          "Networks":[{"Target":"w1net00000000000000000000aa"}]},
        "Mode":{"Replicated":{"Replicas":3}}}})json"},
    {state::Kind::service, R"json({"ID":"s2agent00000000000000000bb","Version":{"Index":21},
      "CreatedAt":"2026-11-22T10:02:30Z","UpdatedAt":"2026-11-22T10:02:30Z",
      "Spec":{"Name":"agent","Labels":{},
        "TaskTemplate":{"ContainerSpec":{"Image":"agent:2"}},"Mode":{"Global":{}}}})json"},
    {state::Kind::task, R"json({"ID":"t1run000000000000000000aa","Version":{"Index":30},
      "CreatedAt":"2026-11-22T10:03:04Z","UpdatedAt":"2026-11-22T10:03:05Z","Labels":{},
      "Spec":{"ContainerSpec":{"Image":"nginx:1.27",
        "Labels":{"com.docker.stack.namespace":"shop"}}},
      "ServiceID":"s1web0000000000000000000aa","Slot":1,"NodeID":"n1leader000000000000000aa",
      "Status":{"State":"running","Message":"started",
        "ContainerStatus":{"ContainerID":"abc123","ExitCode":0}},"DesiredState":"running"})json"},
    {state::Kind::task, R"json({"ID":"t2fail00000000000000000bb","Version":{"Index":31},
      "CreatedAt":"2026-11-22T10:03:10Z","UpdatedAt":"2026-11-22T10:04:00Z",
      "Labels":{"tier":"frontend"},
      "Spec":{"ContainerSpec":{"Image":"nginx:1.27",
        "Labels":{"com.docker.stack.namespace":"shop"}}},
      "ServiceID":"s1web0000000000000000000aa","Slot":2,"NodeID":"n2worker000000000000000bb",
      "Status":{"State":"failed","Err":"task: non-zero exit (137)",
        "ContainerStatus":{"ContainerID":"def456","ExitCode":137}},"DesiredState":"shutdown"})json"},
    {state::Kind::task, R"json({"ID":"t3global000000000000000cc","Version":{"Index":32},
      "CreatedAt":"2026-11-22T10:02:40Z","UpdatedAt":"2026-11-22T10:02:41Z",
      "Spec":{"ContainerSpec":{"Image":"agent:2"}},
      "ServiceID":"s2agent00000000000000000bb","NodeID":"n1leader000000000000000aa",
      "Status":{"State":"running","Message":"started"},"DesiredState":"running"})json"},
    {state::Kind::task, R"json({"ID":"t4pending0000000000000000dd","Version":{"Index":33},
      "CreatedAt":"2026-11-22T10:03:20Z","UpdatedAt":"2026-11-22T10:03:20Z",
      "Spec":{"ContainerSpec":{"Image":"nginx:1.27"}},
      "ServiceID":"s1web0000000000000000000aa","Slot":3,
      "Status":{"State":"pending","Err":"no suitable node"},"DesiredState":"running"})json"},
    {state::Kind::config, R"json({"ID":"c1conf000000000000000000aa","Version":{"Index":5},
      "CreatedAt":"2026-11-22T09:59:00Z","UpdatedAt":"2026-11-22T09:59:00Z",
      "Spec":{"Name":"shop_conf","Labels":{"com.docker.stack.namespace":"shop"},"Data":"aGk="}})json"},
    {state::Kind::secret, R"json({"ID":"x1secret0000000000000000aa","Version":{"Index":6},
      "CreatedAt":"2026-11-22T09:59:01Z","UpdatedAt":"2026-11-22T09:59:01Z",
      "Spec":{"Name":"shop_key","Labels":{"com.docker.stack.namespace":"shop"}}})json"},
    {state::Kind::network, R"json({"Name":"shop_default","Id":"w1net00000000000000000000aa",
      "Created":"2026-11-22T09:58:00.5Z","Scope":"swarm","Driver":"overlay",
      "Labels":{"com.docker.stack.namespace":"shop"}})json"},
    {state::Kind::network, R"json({"Name":"ingress","Id":"w2ingress0000000000000000bb",
      "Created":"2026-11-22T09:50:00Z","Scope":"swarm","Driver":"overlay","Ingress":true,
      "Labels":{}})json"},
    {state::Kind::volume, R"json({"Name":"shop_data","Driver":"local","Scope":"local",
      "CreatedAt":"2026-11-22T09:58:30Z","Mountpoint":"/var/lib/docker/volumes/shop_data/_data",
      "Labels":{"com.docker.stack.namespace":"shop"}})json"},
};

}  // namespace detail

// The store holding the fixed swarm, built on first use and never destroyed (no exit-time order
// problems, and LeakSanitizer sees it as reachable).
inline const state::Store& fixed_store() {
  static const state::Store* store = [] {
    state::Change change;
    for (const auto& s : detail::kSamples) {
      auto parsed = state::parse_object(s.kind, s.json);
      if (!parsed.object) fail("fixture object does not parse", s.json);
      auto& slot = change.full.at(static_cast<std::size_t>(s.kind));
      if (!slot) slot.emplace();
      slot->push_back(std::move(parsed.object));
    }
    for (std::size_t k = 0; k < state::kEngineKinds; ++k) {
      if (!change.full.at(k)) change.full.at(k).emplace();
    }
    change.info =
        R"json({"ID":"info","Swarm":{"LocalNodeState":"active","NodeID":"n1leader"}})json";
    change.swarm = R"json({"ID":"swarm1","JoinTokens":{"Worker":"SWMTKN-secret"}})json";
    auto* s = new state::Store(16);
    (void)s->apply(change);
    state::EngineState engine;
    engine.connected = true;
    engine.synced = true;
    engine.endpoint = "unix:///var/run/docker.sock";
    engine.api_version = "1.45";
    s->set_engine(engine);
    return s;
  }();
  return *store;
}

}  // namespace narwhal::fuzz
