// Server-Sent Events against the real swarm (SPEC §8): streams opened on list, detail, stack,
// task, /cluster and /events URLs see exactly the changes of their scope while the docker CLI
// changes the swarm; a reconnect with Last-Event-ID (or ?lastEventId=) gets exactly the missed
// events, as /history recorded them; the stream cap answers 429; and after narwhal restarts, an ID
// of the earlier process gets one sync. The restart comes last: it is the one scenario that
// changes the server under the others. Every wait is bounded; the streams are read without
// threads (sse_client.hpp).

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sse_client.hpp"
#include "swarm_fixture.hpp"

namespace {

using namespace narwhal::itest;

constexpr auto kEventBudget = 20s;      // a swarm change reaches a stream (tasks: the 1 s re-list)
constexpr auto kReplayBudget = 5s;      // what a reconnect gets comes at once
constexpr auto kReadyBudget = 30s;      // narwhal's first full sync
constexpr std::size_t kStreamCap = 32;  // --sse-max-streams in swarm_fixture.cpp
const std::string kStack = "ss";
const std::string kStackLabel = "com.docker.stack.namespace=" + kStack;

using EventPred = std::function<bool(const SseEvent&)>;

void require_ready(Swarm& s) {
  std::string last;
  REQUIRE_MESSAGE(eventually(s, kReadyBudget, last,
                             [&] {
                               const auto r = get(s, "/-/ready");
                               last = r.describe();
                               return r.status == 200;
                             }),
                  "/-/ready never answered 200: " << last);
}

// Opens a stream, REQUIREs a 200 event stream with the headers §8 asks for and `retry:` first.
std::unique_ptr<SseClient> open_stream(
    Swarm& s, const std::string& path,
    const std::multimap<std::string, std::string>& headers = {}) {
  auto c = std::make_unique<SseClient>("127.0.0.1", s.api_port);
  const auto why = c->open(path, headers);
  REQUIRE_MESSAGE(why.empty(), "GET " << path << ": " << why);
  REQUIRE_MESSAGE(c->status() == 200, c->describe());
  CHECK(c->header("Content-Type").rfind("text/event-stream", 0) == 0);
  CHECK(c->header("Transfer-Encoding") == "chunked");
  CHECK(c->header("Cache-Control") == "no-cache");
  CHECK(c->header("X-Accel-Buffering") == "no");
  CHECK_MESSAGE(c->header("ETag").empty(), "a stream carries no validators");
  CHECK_MESSAGE(c->header("Content-Encoding").empty(), "a stream is never compressed");
  REQUIRE_MESSAGE(c->wait_for(kReplayBudget, [&] { return !c->frames().empty(); }),
                  "nothing came: " << c->describe());
  const auto& first = c->frames().front();
  CHECK_MESSAGE((first.retry == 2000 && !first.has_data),
                "the first frame is not `retry: 2000`: " << c->describe());
  return c;
}

EventPred is(std::string type, std::string action, std::string id) {
  return [=](const SseEvent& e) { return e.type == type && e.action == action && e.id == id; };
}

std::string service_of_task(const SseEvent& e) {
  const auto* r = e.resource();
  return e.type == "task" && r != nullptr ? str_at(*r, "/ServiceID") : std::string();
}

// A task event of this service (create/update carry the task, so its ServiceID).
EventPred task_of(std::string service_id, std::string action) {
  return [=](const SseEvent& e) {
    return e.type == "task" && (action.empty() || e.action == action) &&
           service_of_task(e) == service_id;
  };
}

// A service update whose resource satisfies `has`.
EventPred service_update(std::string id, std::function<bool(const rapidjson::Value&)> has) {
  return [=](const SseEvent& e) {
    return e.type == "service" && e.action == "update" && e.id == id && e.resource() != nullptr &&
           has(*e.resource());
  };
}

// Waits on `c` for an event; CHECKs it came and returns it (null when it did not).
const SseEvent* expect(SseClient& c, const std::string& what, const EventPred& pred,
                       std::chrono::milliseconds budget = kEventBudget) {
  const auto* e = c.wait_for_event(budget, pred);
  CHECK_MESSAGE(e != nullptr,
                "no " << what << " within " << budget.count() << " ms on " << c.describe());
  return e;
}

// The wire format of every frame received: JSON that parses, single frames named by their type,
// batches of several, IDs that grow, `resource` exactly when the action is not a removal or is
// the removal that says the object left the stream's filter (`"reason": "filter"`).
void check_well_formed(const SseClient& c, bool strict_ids = true) {
  CHECK_MESSAGE(c.errors().empty(), c.describe());
  CHECK_MESSAGE(!c.ended(), c.describe());
  std::uint64_t previous = 0;
  for (std::size_t i = 0; i < c.frames().size(); ++i) {
    const auto& f = c.frames()[i];
    if (i > 0) CHECK_MESSAGE(!f.retry.has_value(), "retry: again in frame " << i);
    if (!f.has_data) {
      CHECK_MESSAGE(!f.id.has_value(), "frame " << i << " has an ID but no data: " << c.describe());
      continue;
    }
    REQUIRE_MESSAGE(f.id.has_value(), "event frame " << i << " has no ID: " << c.describe());
    const auto id = std::strtoull(f.id->c_str(), nullptr, 10);
    if (strict_ids) {
      CHECK_MESSAGE(id > previous, "frame " << i << " ID " << id << " after " << previous);
    } else {
      CHECK_MESSAGE(id >= previous, "frame " << i << " ID " << id << " after " << previous);
    }
    previous = id;
  }
  std::map<std::size_t, std::size_t> per_batch;
  for (const auto& e : c.events()) {
    if (e.frame_event == "batch") {
      ++per_batch[e.frame];
    } else {
      CHECK_MESSAGE(e.type == e.frame_event, e.describe() << " in a frame named " << e.frame_event);
    }
    if (e.type == "sync" || e.type == "cluster") continue;
    CHECK_MESSAGE((e.action == "create" || e.action == "update" || e.action == "remove"),
                  e.describe());
    CHECK_MESSAGE(!str_at(*e.payload, "/@id").empty(), e.describe());
    CHECK_MESSAGE(!e.time.empty(), e.describe());
    const auto* r = e.resource();
    const bool left = e.action == "remove" && str_at(*e.payload, "/reason") == "filter";
    CHECK_MESSAGE((r == nullptr) == (e.action == "remove" && !left), e.describe());
    CHECK_MESSAGE((left || str_at(*e.payload, "/reason").empty()), e.describe());
    if (r != nullptr) {
      CHECK_MESSAGE(str_at(*r, "/@id") == str_at(*e.payload, "/@id"), e.describe());
    }
  }
  for (const auto& [frame, n] : per_batch) {
    CHECK_MESSAGE(n >= 2, "a batch of " << n << " in frame " << frame << ": " << c.describe());
  }
}

// Every event of `c` satisfies `in_scope`; the first one that does not is named.
void check_scope(const SseClient& c, const std::string& scope, const EventPred& in_scope) {
  for (const auto& e : c.events()) {
    if (!in_scope(e)) {
      FAIL_CHECK(c.path() << " (" << scope << ") showed " << e.describe() << "; " << c.describe());
      return;
    }
  }
}

// One /history item.
struct Change {
  std::uint64_t id = 0;
  std::string type, action, resource_id, name, summary, time;
};

// /history?<query>, oldest first.
std::vector<Change> history(Swarm& s, const std::string& query) {
  const auto r = get(s, "/history?" + query);
  REQUIRE_MESSAGE((r.status == 200 && r.json_ok), r.describe());
  std::vector<Change> out;
  for (const auto* item : items_of(r)) {
    const auto id = int_at(*item, "/id");
    REQUIRE_MESSAGE(id.has_value(), r.describe());
    out.push_back({static_cast<std::uint64_t>(*id), str_at(*item, "/type"),
                   str_at(*item, "/action"), str_at(*item, "/resourceId"), str_at(*item, "/name"),
                   str_at(*item, "/summary"), str_at(*item, "/time")});
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<Change> after(std::vector<Change> changes, std::uint64_t id) {
  std::erase_if(changes, [&](const Change& c) { return c.id <= id; });
  return changes;
}

bool same(const SseEvent& e, const Change& c) {
  return e.type == c.type && e.action == c.action && e.id == c.resource_id && e.name == c.name &&
         e.summary == c.summary && e.time == c.time;
}

std::string describe(const std::vector<Change>& changes) {
  std::string s = "[";
  for (const auto& c : changes) {
    s += "\n    #" + std::to_string(c.id) + " " + c.type + " " + c.action + " " + c.resource_id +
         " (" + c.name + ") \"" + c.summary + "\"";
  }
  return s + "]";
}

// The ID of the newest history entry for this resource, waiting until there is one past `after`.
std::uint64_t wait_history(Swarm& s, const std::string& type, const std::string& resource_id,
                           std::uint64_t past = 0) {
  std::uint64_t found = 0;
  std::string last;
  const bool ok = eventually(s, kEventBudget, last, [&] {
    const auto changes = history(s, "type=" + type + "&resourceId=" + resource_id + "&limit=1");
    last = describe(changes);
    if (changes.empty() || changes.back().id <= past) return false;
    found = changes.back().id;
    return true;
  });
  REQUIRE_MESSAGE(ok, "no " << type << " change of " << resource_id << " past #" << past
                            << " in /history: " << last);
  return found;
}

// The events of the frame a reconnect got first (its replay), or none when the first event frame
// is not the one right after `retry:`.
std::vector<const SseEvent*> replayed(const SseClient& c) {
  std::vector<const SseEvent*> out;
  for (const auto& e : c.events()) {
    if (e.frame == 1) out.push_back(&e);
  }
  return out;
}

// A reconnect after `last_id` replayed exactly the scope's history after it: the first frame holds
// the changes /history lists after `last_id` up to that frame's ID, in order, with that ID; and
// every change of `must` is among them (they were delivered before the reconnect).
void check_replay(Swarm& s, SseClient& c, std::uint64_t last_id, const std::string& history_query,
                  const std::vector<Change>& must) {
  // Not REQUIREd: the caller's other reconnects are worth checking after a failure here.
  const bool any = c.wait_for(kReplayBudget, [&] { return !replayed(c).empty(); });
  CHECK_MESSAGE(any, "no replay after #" << last_id << ": " << c.describe());
  if (!any) return;
  const auto got = replayed(c);
  const auto expected_all = after(history(s, history_query), last_id);
  const std::uint64_t frame_id = got.front()->frame_id;
  std::vector<Change> expected;
  for (const auto& ch : expected_all) {
    if (ch.id <= frame_id) expected.push_back(ch);
  }
  CHECK_MESSAGE(!expected.empty(), c.path()
                                       << " replayed\n  " << c.describe() << "\n  but /history?"
                                       << history_query << " has nothing after #" << last_id);
  if (expected.empty()) return;
  const auto& frame = c.frames().at(1);
  CHECK_MESSAGE(frame.event == (expected.size() > 1 ? "batch" : expected.front().type),
                c.describe());
  CHECK_MESSAGE(expected.back().id == frame_id,
                "the replay's ID #" << frame_id << " is not its last change's; expected "
                                    << describe(expected));
  bool equal = got.size() == expected.size();
  for (std::size_t i = 0; equal && i < got.size(); ++i) equal = same(*got[i], expected[i]);
  CHECK_MESSAGE(equal, c.path() << " after #" << last_id << " replayed\n  " << c.describe()
                                << "\n  but /history?" << history_query << " has "
                                << describe(expected));
  for (const auto& m : must) {
    CHECK_MESSAGE(
        std::any_of(got.begin(), got.end(), [&](const SseEvent* e) { return same(*e, m); }),
        "the replay lacks #" << m.id << " " << m.type << " " << m.action << " " << m.resource_id
                             << ": " << c.describe());
  }
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("sse a: streams show the changes of their scope while the swarm changes") {
  Swarm& s = require_swarm();
  require_ready(s);
  const auto t0 = Clock::now();
  auto cluster = open_stream(s, "/cluster");
  auto services = open_stream(s, "/services");
  auto events = open_stream(s, "/events?types=service,stack");
  auto tasks = open_stream(s, "/tasks");
  auto node = open_stream(s, "/nodes/" + s.node_id);

  // A summary stream starts with the summary.
  REQUIRE_MESSAGE(cluster->wait_for(kReplayBudget, [&] { return !cluster->events().empty(); }),
                  cluster->describe());
  CHECK_MESSAGE(cluster->events().front().frame == 1, cluster->describe());
  CHECK(cluster->events().front().type == "cluster");
  const auto services_before = int_at(*cluster->events().front().payload, "/counts/services");
  REQUIRE_MESSAGE(services_before.has_value(), to_json(*cluster->events().front().payload));

  // A config labelled for the stack before any service carries the label (no stack yet). The
  // stack stream replays from its history ID later, so it must see the stack being created.
  const auto conf_id =
      docker_ok(s, {"config", "create", "--label", kStackLabel, "ss_conf", "-"}, "listen 80\n");
  const auto conf_change = wait_history(s, "config", conf_id);

  const auto created_at = Clock::now();
  const auto web_id = docker_ok(s, {"service", "create", "--detach", "--quiet", "--name", "ss_web",
                                    "--replicas", "1", "--stop-signal", "KILL", "--label",
                                    kStackLabel, "tiny:latest", "/busybox", "sleep", "1000"});
  if (const auto* e =
          expect(*services, "service create of ss_web", is("service", "create", web_id))) {
    MESSAGE("service create reached /services " << Swarm::ms_since(created_at) << " ms after "
                                                << "docker service create");
    CHECK(e->name == "ss_web");
    CHECK(str_at(*e->payload, "/@id") == "/services/" + web_id);
    CHECK(str_at(*e->payload, "/@type") == "Service");
    REQUIRE(e->resource() != nullptr);
    CHECK(str_at(*e->resource(), "/ID") == web_id);
    CHECK(str_at(*e->resource(), "/Spec/Name") == "ss_web");
  }
  expect(*events, "service create of ss_web", is("service", "create", web_id));
  if (const auto* e = expect(*events, "stack create of ss", is("stack", "create", kStack))) {
    CHECK(str_at(*e->payload, "/@id") == "/stacks/" + kStack);
    CHECK(e->resource() != nullptr);
  }
  // The history has a change before the hub delivers it (the batch window); ss_web's create
  // came after ss_conf's, so the config's stream opened now starts after its create.
  auto idle = open_stream(s, "/configs/" + conf_id);
  expect(*tasks, "a task of ss_web", task_of(web_id, "create"));
  expect(*node, "a task of ss_web on the node", task_of(web_id, ""));
  expect(*cluster, "a summary counting ss_web", [&](const SseEvent& e) {
    return e.type == "cluster" && int_at(*e.payload, "/counts/services") == *services_before + 1;
  });

  // Opened now: the service's own stream, its tasks, and the stack replayed from the config.
  auto detail = open_stream(s, "/services/" + web_id);
  auto own_tasks = open_stream(s, "/services/" + web_id + "/tasks");
  auto stack =
      open_stream(s, "/stacks/" + kStack, {{"Last-Event-ID", std::to_string(conf_change)}});
  if (const auto* e = expect(*stack, "the replayed stack create", is("stack", "create", kStack),
                             kReplayBudget)) {
    CHECK_MESSAGE(e->frame == 1, "the stack create is not in the replay: " << stack->describe());
  }
  if (const auto* e = expect(*stack, "the replayed service create", is("service", "create", web_id),
                             kReplayBudget)) {
    CHECK_MESSAGE(e->frame == 1, "the service create is not in the replay: " << stack->describe());
  }
  CHECK_MESSAGE(stack->find(is("config", "create", conf_id)) == nullptr,
                "the replay repeats the change it was asked to start after: " << stack->describe());

  // Scale: the service's new spec, and a new task.
  std::set<std::string> first_tasks;
  for (const auto& e : tasks->events()) {
    if (service_of_task(e) == web_id) first_tasks.insert(e.id);
  }
  docker_ok(s, {"service", "scale", "--detach", "ss_web=2"});
  const auto two = service_update(web_id, [](const rapidjson::Value& r) {
    return int_at(r, "/Spec/Mode/Replicated/Replicas") == 2;
  });
  expect(*detail, "ss_web scaled to 2", two);
  expect(*services, "ss_web scaled to 2", two);
  expect(*events, "ss_web scaled to 2", two);
  expect(*stack, "ss_web scaled to 2", two);
  const auto new_task = [&](const SseEvent& e) {
    return task_of(web_id, "create")(e) && first_tasks.count(e.id) == 0;
  };
  expect(*tasks, "the second task of ss_web", new_task);
  expect(*detail, "the second task of ss_web", new_task);
  expect(*own_tasks, "the second task of ss_web", new_task);
  // A task is created before it is placed: the node's stream may first see it updated.
  expect(*node, "the second task of ss_web",
         [&](const SseEvent& e) { return task_of(web_id, "")(e) && first_tasks.count(e.id) == 0; });

  // Update: the new spec, then tasks of the new spec (a rolling update).
  docker_ok(s, {"service", "update", "--detach", "--env-add", "SSE=1", "ss_web"});
  const auto env_updated = service_update(web_id, [](const rapidjson::Value& r) {
    const auto* env = at(r, "/Spec/TaskTemplate/ContainerSpec/Env");
    return env != nullptr && mentions(*env, "SSE=1");
  });
  expect(*detail, "ss_web's env update", env_updated);
  expect(*services, "ss_web's env update", env_updated);
  const auto updated_task = [&](const SseEvent& e) {
    if (!task_of(web_id, "")(e)) return false;
    const auto* env = at(*e.resource(), "/Spec/ContainerSpec/Env");
    return env != nullptr && mentions(*env, "SSE=1");
  };
  expect(*detail, "a task of ss_web's new spec", updated_task);
  expect(*own_tasks, "a task of ss_web's new spec", updated_task);

  // A second service joins the stack: the stack's membership changes; ss_web's streams stay out.
  const auto db_id =
      docker_ok(s, {"service", "create", "--detach", "--quiet", "--name", "ss_db", "--replicas",
                    "0", "--label", kStackLabel, "tiny:latest", "/busybox", "sleep", "1000"});
  expect(*services, "service create of ss_db", is("service", "create", db_id));
  expect(*events, "service create of ss_db", is("service", "create", db_id));
  const auto db_joined = [&](const SseEvent& e) {
    return is("stack", "update", kStack)(e) && e.resource() != nullptr &&
           mentions(*e.resource(), db_id);
  };
  expect(*events, "the stack's update listing ss_db", db_joined);
  expect(*stack, "service create of ss_db", is("service", "create", db_id));
  expect(*stack, "the stack's update listing ss_db", db_joined);

  // Removal: the service, its tasks, then the stack with its last service.
  std::set<std::string> web_tasks;
  for (const auto* c : {tasks.get(), detail.get(), own_tasks.get()}) {
    for (const auto& e : c->events()) {
      if (service_of_task(e) == web_id) web_tasks.insert(e.id);
    }
  }
  docker_ok(s, {"service", "rm", "ss_web"});
  const auto web_task_removed = [&](const SseEvent& e) {
    return e.type == "task" && e.action == "remove" && web_tasks.count(e.id) != 0;
  };
  expect(*services, "service remove of ss_web", is("service", "remove", web_id));
  expect(*detail, "service remove of ss_web", is("service", "remove", web_id));
  expect(*events, "service remove of ss_web", is("service", "remove", web_id));
  expect(*stack, "service remove of ss_web", is("service", "remove", web_id));
  expect(*tasks, "a task remove of ss_web", web_task_removed);
  expect(*detail, "a task remove of ss_web", web_task_removed);
  expect(*own_tasks, "a task remove of ss_web", web_task_removed);
  expect(*node, "a task remove of ss_web", web_task_removed);
  docker_ok(s, {"service", "rm", "ss_db"});
  expect(*services, "service remove of ss_db", is("service", "remove", db_id));
  expect(*events, "stack remove of ss", is("stack", "remove", kStack));
  expect(*stack, "stack remove of ss", is("stack", "remove", kStack));

  // The config never changed: its stream got keepalives only (--sse-keepalive 2s), then its
  // removal.
  CHECK_MESSAGE(idle->wait_for(5s,
                               [&] {
                                 return std::any_of(idle->frames().begin(), idle->frames().end(),
                                                    [](const SseFrame& f) {
                                                      return !f.has_data &&
                                                             f.comments.size() == 1 &&
                                                             f.comments[0] == "keepalive";
                                                    });
                               }),
                "no keepalive on an idle stream: " << idle->describe());
  CHECK_MESSAGE(idle->events().empty(), idle->describe());
  docker_ok(s, {"config", "rm", "ss_conf"});
  expect(*idle, "config remove of ss_conf", is("config", "remove", conf_id));

  // Nothing outside each scope. Task removals carry no resource: they are placed by the task IDs
  // seen before.
  for (auto* c : {services.get(), events.get(), tasks.get(), node.get(), detail.get(),
                  own_tasks.get(), stack.get(), idle.get(), cluster.get()}) {
    c->drain();
  }
  for (const auto* c : {tasks.get(), detail.get(), own_tasks.get(), node.get(), stack.get()}) {
    for (const auto& e : c->events()) {
      if (service_of_task(e) == web_id) web_tasks.insert(e.id);
    }
  }
  const auto web_task = [&](const SseEvent& e) {
    return e.type == "task" &&
           (service_of_task(e) == web_id || (e.action == "remove" && web_tasks.count(e.id) != 0));
  };
  check_scope(*services, "services", [](const SseEvent& e) { return e.type == "service"; });
  check_scope(*events, "types=service,stack",
              [](const SseEvent& e) { return e.type == "service" || e.type == "stack"; });
  check_scope(*tasks, "tasks", [](const SseEvent& e) { return e.type == "task"; });
  check_scope(*node, "the node and its tasks", [&](const SseEvent& e) {
    const auto* r = e.resource();
    if (e.type == "node") return e.id == s.node_id;
    return e.type == "task" && (r == nullptr || str_at(*r, "/NodeID") == s.node_id);
  });
  check_scope(*detail, "ss_web and its tasks", [&](const SseEvent& e) {
    return (e.type == "service" && e.id == web_id) || web_task(e);
  });
  check_scope(*own_tasks, "ss_web's tasks", web_task);
  check_scope(*stack, "the stack and its members", [&](const SseEvent& e) {
    return (e.type == "stack" && e.id == kStack) ||
           (e.type == "service" && (e.id == web_id || e.id == db_id)) || web_task(e) ||
           (e.type == "config" && e.id == conf_id);
  });
  check_scope(*idle, "ss_conf", [&](const SseEvent& e) { return e.id == conf_id; });
  check_scope(*cluster, "cluster", [](const SseEvent& e) { return e.type == "cluster"; });

  // Stack events come when the membership changes, not when a member does: ss_web's scale and
  // update made none.
  std::vector<std::string> stack_actions;
  for (const auto& e : events->events()) {
    if (e.type == "stack" && e.id == kStack) stack_actions.push_back(e.action);
  }
  const std::vector<std::string> membership{"create", "update", "update", "remove"};
  CHECK_MESSAGE(stack_actions == membership, events->describe());

  // The list saw ss_web's life in order: created, updated, removed.
  std::vector<std::string> actions;
  for (const auto& e : services->events()) {
    if (e.id == web_id) actions.push_back(e.action);
  }
  REQUIRE_MESSAGE(actions.size() >= 3, services->describe());
  CHECK(actions.front() == "create");
  CHECK(actions.back() == "remove");
  CHECK(std::all_of(actions.begin() + 1, actions.end() - 1,
                    [](const std::string& a) { return a == "update"; }));

  for (const auto* c : {services.get(), events.get(), tasks.get(), node.get(), detail.get(),
                        own_tasks.get(), stack.get(), idle.get()}) {
    check_well_formed(*c);
  }
  check_well_formed(*cluster, false);  // readiness alone re-sends the summary under the same ID
  MESSAGE("scenario took " << Swarm::ms_since(t0) << " ms");
}

TEST_CASE("sse b: a reconnect replays exactly the missed events of its scope") {
  Swarm& s = require_swarm();
  require_ready(s);
  // A service without tasks: its changes are exactly the spec updates made here.
  auto observer = open_stream(s, "/services");
  auto client = open_stream(s, "/services");
  const auto rp_id = docker_ok(s, {"service", "create", "--detach", "--quiet", "--name", "rp",
                                   "--replicas", "0", "tiny:latest", "/busybox", "sleep", "1000"});
  expect(*client, "service create of rp", is("service", "create", rp_id));
  const std::string last = client->last_event_id();
  const auto last_id = std::strtoull(last.c_str(), nullptr, 10);
  REQUIRE(last_id > 0);
  client->close();  // gone while the swarm changes

  docker_ok(s, {"service", "update", "--detach", "--label-add", "sse.step=1", "rp"});
  const auto step1 = wait_history(s, "service", rp_id, last_id);
  const auto conf_id = docker_ok(s, {"config", "create", "rp_conf", "-"}, "x\n");  // out of scope
  const auto conf_change = wait_history(s, "config", conf_id, last_id);
  docker_ok(s, {"service", "update", "--detach", "--label-add", "sse.step=2", "rp"});
  const auto step2 = wait_history(s, "service", rp_id, step1);
  // Everything the reconnect must get has been delivered (so it is in the replay ring).
  const auto must = after(history(s, "type=service&limit=200"), last_id);
  for (const auto& ch : must) {
    expect(*observer, "#" + std::to_string(ch.id) + " on a live stream",
           [&](const SseEvent& e) { return same(e, ch); });
  }
  std::vector<Change> must_rp = must;
  std::erase_if(must_rp, [&](const Change& c) { return c.resource_id != rp_id; });
  REQUIRE_MESSAGE(must_rp.size() >= 2, describe(must));
  CHECK(conf_change > last_id);
  CHECK(step2 > conf_change);

  {
    INFO("the list, with the Last-Event-ID header");
    auto again = open_stream(s, "/services", {{"Last-Event-ID", last}});
    check_replay(s, *again, last_id, "type=service&limit=200", must);
    CHECK_MESSAGE(again->find(is("config", "create", conf_id)) == nullptr, again->describe());
    check_well_formed(*again);
  }
  {
    INFO("the list, with ?lastEventId=");
    auto again = open_stream(s, "/services?lastEventId=" + last);
    check_replay(s, *again, last_id, "type=service&limit=200", must);
    check_well_formed(*again);
  }
  {
    INFO("/events?types=config: only the config");
    auto again = open_stream(s, "/events?types=config&lastEventId=" + last);
    check_replay(s, *again, last_id, "type=config&limit=200", {});
    CHECK_MESSAGE(again->find(is("config", "create", conf_id)) != nullptr, again->describe());
    check_scope(*again, "types=config", [](const SseEvent& e) { return e.type == "config"; });
    check_well_formed(*again);
  }
  {
    INFO("the service's detail, with the Last-Event-ID header");
    auto again = open_stream(s, "/services/" + rp_id, {{"Last-Event-ID", last}});
    check_replay(s, *again, last_id, "type=service&resourceId=" + rp_id + "&limit=200", must_rp);
    check_well_formed(*again);
  }
  {
    INFO("the service's detail, with ?lastEventId=");
    auto again = open_stream(s, "/services/" + rp_id + "?lastEventId=" + last);
    check_replay(s, *again, last_id, "type=service&resourceId=" + rp_id + "&limit=200", must_rp);
    check_well_formed(*again);
  }
  {
    INFO("nothing missed: nothing replayed, no sync");
    observer->drain();
    const auto newest = observer->last_event_id();
    auto again = open_stream(s, "/services", {{"Last-Event-ID", newest}});
    again->read_for(1s);
    const auto newest_id = std::strtoull(newest.c_str(), nullptr, 10);
    CHECK_MESSAGE(
        std::all_of(again->events().begin(), again->events().end(),
                    [&](const SseEvent& e) { return e.type != "sync" && e.frame_id > newest_id; }),
        again->describe());
    check_well_formed(*again);
  }
  {
    INFO("an ID this process never issued: one sync");
    for (const std::string& bad : {std::string("99999999999999999999"), std::string("abc"),
                                   std::to_string(last_id + 1'000'000'000)}) {
      auto again = open_stream(s, "/services", {{"Last-Event-ID", bad}});
      REQUIRE_MESSAGE(again->wait_for(kReplayBudget, [&] { return !again->events().empty(); }),
                      again->describe());
      const auto& first = again->events().front();
      CHECK_MESSAGE((first.type == "sync" && first.frame == 1), bad << ": " << again->describe());
      CHECK(str_at(*first.payload, "/type") == "sync");
      CHECK_FALSE(str_at(*first.payload, "/reason").empty());
    }
  }

  docker_ok(s, {"service", "rm", "rp"});
  docker_ok(s, {"config", "rm", "rp_conf"});
}

TEST_CASE("sse c: past the stream cap, 429 SSE001 with Retry-After") {
  Swarm& s = require_swarm();
  require_ready(s);
  // Streams closed by earlier scenarios leave the count once the server notices: keep opening
  // until the cap refuses, for a bounded time.
  std::vector<std::unique_ptr<SseClient>> held;
  std::unique_ptr<SseClient> refused;
  const auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline && held.size() <= kStreamCap) {
    auto c = std::make_unique<SseClient>("127.0.0.1", s.api_port);
    const auto why = c->open("/services");
    REQUIRE_MESSAGE(why.empty(), why);
    if (c->status() == 200) {
      held.push_back(std::move(c));
      continue;
    }
    refused = std::move(c);
    if (held.size() == kStreamCap) break;
    std::this_thread::sleep_for(100ms);
  }
  CHECK_MESSAGE(held.size() == kStreamCap,
                held.size() << " streams open at once with a cap of " << kStreamCap);
  REQUIRE_MESSAGE(refused != nullptr, "no stream was refused");
  CHECK_MESSAGE(refused->status() == 429, refused->describe());
  CHECK(refused->header("Content-Type").rfind("application/problem+json", 0) == 0);
  const std::string retry_after = refused->header("Retry-After");
  CHECK_MESSAGE(!retry_after.empty(), refused->describe());
  CHECK_MESSAGE(std::all_of(retry_after.begin(), retry_after.end(),
                            [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }),
                retry_after);
  rapidjson::Document body;
  body.Parse(refused->body().c_str());
  REQUIRE_MESSAGE(!body.HasParseError(), refused->describe());
  CHECK(int_at(body, "/status") == 429);
  CHECK_MESSAGE(str_at(body, "/type").find("SSE001") != std::string::npos, refused->describe());

  // One stream leaves: there is room again.
  held.pop_back();
  std::string last;
  CHECK_MESSAGE(wait_until(5s,
                           [&] {
                             SseClient c("127.0.0.1", s.api_port);
                             last = c.open("/services");
                             if (last.empty()) last = c.describe();
                             return c.status() == 200;
                           }),
                "no room after a stream closed: " << last);
}

// `state == "running"`, URL-encoded.
const std::string kRunningFilter = "filter=state%20%3D%3D%20%22running%22";

bool left_filter(const SseEvent& e) {
  return e.action == "remove" && str_at(*e.payload, "/reason") == "filter";
}

std::string join(const std::set<std::string>& ids) {
  std::string s;
  for (const auto& id : ids) s += (s.empty() ? "" : ",") + id;
  return "{" + s + "}";
}

// What a live view built on `c` holds of `service_id`'s tasks: task ID → state. Creates and
// updates put a task in; removals (those saying it left the filter too) take it out.
std::map<std::string, std::string> view_of(const SseClient& c, const std::string& service_id) {
  std::map<std::string, std::string> view;
  std::set<std::string> ours;
  for (const auto& e : c.events()) {
    if (e.type != "task") continue;
    if (service_of_task(e) == service_id) ours.insert(e.id);
    if (ours.count(e.id) == 0) continue;
    if (e.action == "remove") {
      view.erase(e.id);
    } else if (const auto* r = e.resource()) {
      view[e.id] = str_at(*r, "/Status/State");
    }
  }
  return view;
}

// One event as a comparable line: what it says, not which frame carried it.
std::string line_of(const SseEvent& e) {
  const auto* r = e.resource();
  return e.type + " " + e.action + " " + str_at(*e.payload, "/reason") + " " + e.id + " " +
         (r != nullptr ? str_at(*r, "/Status/State") : "-") + " \"" + e.summary + "\" " + e.time;
}

std::string lines(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& l : v) s += "\n    " + l;
  return s;
}

// A live view built on a filtered stream stays true (SPEC §8): a task that stops running arrives
// as `remove` with `"reason": "filter"` (the task as it now is), and a reconnect replays the same.
TEST_CASE("sse d: a task that stops matching a stream's filter leaves it, live and replayed") {
  Swarm& s = require_swarm();
  require_ready(s);
  const std::string running_tasks = "/tasks?" + kRunningFilter;
  auto filtered = open_stream(s, running_tasks);
  auto all = open_stream(s, "/tasks");
  const auto lf_id =
      docker_ok(s, {"service", "create", "--detach", "--quiet", "--name", "lf", "--replicas", "3",
                    "--stop-signal", "KILL", "tiny:latest", "/busybox", "sleep", "1000"});
  // True: the view holds, all running, exactly the tasks the engine runs and narwhal lists for
  // the same filter.
  std::string last;
  const auto view_is_true = [&](std::size_t want) {
    filtered->read_for(200ms);
    std::set<std::string> in_view;
    for (const auto& [id, state] : view_of(*filtered, lf_id)) {
      if (state != "running") {
        last = "the view holds " + id + " as " + state;
        return false;
      }
      in_view.insert(id);
    }
    const auto engine = docker_running_task_ids(s, "lf");
    const auto rows =
        task_rows(s, "/services/" + lf_id + "/tasks?limit=200&" + kRunningFilter, last);
    if (!rows) return false;
    std::set<std::string> listed;
    for (const auto& r : *rows) listed.insert(r.id);
    last = "view " + join(in_view) + ", engine " + join(engine) + ", GET " + join(listed);
    return in_view.size() == want && in_view == engine && in_view == listed;
  };
  REQUIRE_MESSAGE(eventually(s, kEventBudget, last, [&] { return view_is_true(3); }),
                  "3 running tasks of lf: " << last << "; " << filtered->describe());
  const std::string before_scale = filtered->last_event_id();
  const auto before_id = std::strtoull(before_scale.c_str(), nullptr, 10);
  const auto three = view_of(*filtered, lf_id);

  // Scale down: two tasks stop (and the engine soon deletes them: narwhal may see them stopped,
  // or only gone).
  docker_ok(s, {"service", "scale", "--detach", "lf=1"});
  CHECK_MESSAGE(eventually(s, kEventBudget, last, [&] { return view_is_true(1); }),
                "scaled to 1: " << last << "; " << filtered->describe());
  // A rolling update: the last old task is shut down and stays listed, so narwhal surely sees
  // it stop.
  const auto one = view_of(*filtered, lf_id);
  REQUIRE_MESSAGE(one.size() == 1, filtered->describe());
  const std::string survivor = one.begin()->first;
  docker_ok(s, {"service", "update", "--detach", "--env-add", "LEAVE=1", "lf"});
  if (const auto* e =
          expect(*filtered, "the replaced task leaving the filter",
                 [&](const SseEvent& ev) { return ev.id == survivor && left_filter(ev); })) {
    REQUIRE(e->resource() != nullptr);
    CHECK_MESSAGE(str_at(*e->resource(), "/Status/State") != "running", e->describe());
    CHECK(str_at(*e->resource(), "/ID") == survivor);
  }
  CHECK_MESSAGE(
      eventually(s, kEventBudget, last,
                 [&] { return view_is_true(1) && view_of(*filtered, lf_id).count(survivor) == 0; }),
      "after the update: " << last << "; " << filtered->describe());
  filtered->drain();
  all->drain();

  // Every task that narwhal saw stop running (on the unfiltered stream) left the filtered one
  // with that very change; every task that left the view did so by a removal.
  std::map<std::string, std::string> state_of;  // on the unfiltered stream
  std::size_t leaves = 0;
  for (const auto& e : all->events()) {
    if (e.type != "task" || (three.count(e.id) == 0 && service_of_task(e) != lf_id)) continue;
    const auto* r = e.resource();
    const std::string now = r != nullptr ? str_at(*r, "/Status/State") : "";
    if (e.action == "update" && state_of[e.id] == "running" && now != "running") {
      ++leaves;
      CHECK_MESSAGE(filtered->find([&](const SseEvent& f) {
        return left_filter(f) && f.id == e.id && f.summary == e.summary && f.time == e.time &&
               f.resource() != nullptr && str_at(*f.resource(), "/Status/State") == now;
      }) != nullptr,
                    e.describe() << " did not leave " << filtered->describe());
    }
    if (r != nullptr) state_of[e.id] = now;
  }
  CHECK_MESSAGE(leaves >= 1, all->describe());
  for (const auto& [id, state] : three) {
    const SseEvent* final_event = nullptr;
    for (const auto& e : filtered->events()) {
      if (e.id == id) final_event = &e;
    }
    REQUIRE(final_event != nullptr);
    CHECK_MESSAGE(final_event->action == "remove", final_event->describe());
  }
  // Nothing that does not run is shown as if it did.
  check_scope(*filtered, "running tasks", [](const SseEvent& e) {
    const auto* r = e.resource();
    return e.type == "task" &&
           (e.action == "remove" || (r != nullptr && str_at(*r, "/Status/State") == "running"));
  });

  // A reconnect from before the scale replays what the live stream got since, event for event.
  auto again = open_stream(s, running_tasks, {{"Last-Event-ID", before_scale}});
  REQUIRE_MESSAGE(again->wait_for(kReplayBudget, [&] { return !replayed(*again).empty(); }),
                  again->describe());
  const auto got = replayed(*again);
  const std::uint64_t upto = got.front()->frame_id;
  CHECK_MESSAGE(filtered->wait_for(kReplayBudget,
                                   [&] {
                                     return std::any_of(
                                         filtered->events().begin(), filtered->events().end(),
                                         [&](const SseEvent& e) { return e.frame_id >= upto; });
                                   }),
                filtered->describe());
  std::vector<std::string> live, replay;
  for (const auto& e : filtered->events()) {
    if (e.frame_id > before_id && e.frame_id <= upto) live.push_back(line_of(e));
  }
  for (const auto* e : got) replay.push_back(line_of(*e));
  CHECK_MESSAGE(replay == live, "replayed" << lines(replay) << "\n  live" << lines(live));

  for (const auto* c : {filtered.get(), all.get(), again.get()}) check_well_formed(*c);
  docker_ok(s, {"service", "rm", "lf"});
}

// Last: narwhal restarts under the tests (same port, same argv).
TEST_CASE("sse z: after a restart a stale Last-Event-ID gets one sync, and IDs keep growing") {
  Swarm& s = require_swarm();
  require_ready(s);
  const auto before_id = docker_ok(s, {"config", "create", "rs_before", "-"}, "x\n");
  wait_history(s, "config", before_id);
  const auto newest = history(s, "limit=1");
  REQUIRE(!newest.empty());
  const std::uint64_t old_id = newest.back().id;
  auto open_before = open_stream(s, "/configs");

  const auto t0 = Clock::now();
  const auto why = s.restart_narwhal(kReadyBudget);
  REQUIRE_MESSAGE(why.empty(), why);
  MESSAGE("narwhal restarted and ready in " << Swarm::ms_since(t0) << " ms");
  // Stopping ends each stream's body properly, so clients reconnect.
  open_before->read_for(1s);
  CHECK_MESSAGE(open_before->end_reason() == "the server ended the body (0-chunk)",
                open_before->describe());

  auto stale = open_stream(s, "/services", {{"Last-Event-ID", std::to_string(old_id)}});
  auto stale_query = open_stream(s, "/events?lastEventId=" + std::to_string(old_id));
  auto fresh = open_stream(s, "/configs");
  std::uint64_t sync_id = 0;
  for (auto* c : {stale.get(), stale_query.get()}) {
    REQUIRE_MESSAGE(c->wait_for(kReplayBudget, [&] { return !c->events().empty(); }),
                    c->describe());
    c->read_for(1s);  // a second sync or a replay would come at once
    const auto& first = c->events().front();
    CHECK_MESSAGE((first.type == "sync" && first.frame == 1), c->describe());
    CHECK(str_at(*first.payload, "/type") == "sync");
    CHECK_MESSAGE(first.frame_id > old_id,
                  "the sync's ID is not past the old process's: " << c->describe());
    CHECK_MESSAGE(std::count_if(c->events().begin(), c->events().end(),
                                [](const SseEvent& e) { return e.type == "sync"; }) == 1,
                  c->describe());
    if (sync_id == 0) sync_id = first.frame_id;
  }

  // The restart's first full sync is a silent baseline: rs_before existed, so it has no change.
  const auto baseline = history(s, "resourceId=" + before_id);
  CHECK_MESSAGE(baseline.empty(), "the baseline recorded " << describe(baseline));

  // New IDs continue past the old ones, and the sync's ID is where a client resumes (an
  // EventSource sends it back): its reconnect replays what changed since, with no second sync.
  const auto after_id = docker_ok(s, {"config", "create", "rs_after", "-"}, "x\n");
  if (const auto* e =
          expect(*fresh, "config create of rs_after", is("config", "create", after_id))) {
    CHECK_MESSAGE(e->frame_id > old_id, "event #" << e->frame_id << " after the restart is not "
                                                  << "past #" << old_id << " from before it");
  }
  auto from_sync = open_stream(s, "/configs", {{"Last-Event-ID", std::to_string(sync_id)}});
  check_replay(s, *from_sync, sync_id, "type=config&limit=200", {});
  CHECK_MESSAGE(from_sync->find(is("config", "create", after_id)) != nullptr,
                from_sync->describe());
  CHECK_MESSAGE(from_sync->find([](const SseEvent& e) { return e.type == "sync"; }) == nullptr,
                from_sync->describe());
  for (const auto* c : {stale.get(), stale_query.get(), fresh.get(), from_sync.get()}) {
    check_well_formed(*c);
  }
  docker_ok(s, {"config", "rm", "rs_before", "rs_after"});
}

}  // namespace
