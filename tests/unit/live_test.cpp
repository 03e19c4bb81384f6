// The live hub without sockets: events as frames, scopes, batching, shared serialisation,
// replay, the stream cap, slow clients and keepalives.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <functional>
#include <thread>

#include "../support/samples.hpp"
#include "narwhal/live/hub.hpp"
#include "narwhal/util/time.hpp"

using namespace narwhal;
using namespace std::chrono_literals;
using live::Scope;
using live::Show;
using state::Kind;

namespace {

bool wait_until(std::chrono::milliseconds limit, const std::function<bool()>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

state::ObjectPtr service(const std::string& id, const std::string& name, int version,
                         int replicas = 1, const std::string& stack = "") {
  std::string labels =
      stack.empty() ? "{}" : R"({"com.docker.stack.namespace":")" + stack + R"("})";
  auto out = state::parse_object(
      Kind::service, R"({"ID":")" + id + R"(","Version":{"Index":)" + std::to_string(version) +
                         R"(},"Spec":{"Name":")" + name + R"(","Labels":)" + labels +
                         R"(,"Mode":{"Replicated":{"Replicas":)" + std::to_string(replicas) +
                         "}}}}");
  REQUIRE(out.object);
  return out.object;
}

state::ObjectPtr task(const std::string& id, const std::string& service_id,
                      const std::string& node_id, int version, const std::string& st) {
  auto out = state::parse_object(
      Kind::task, R"({"ID":")" + id + R"(","Version":{"Index":)" + std::to_string(version) +
                      R"(},"ServiceID":")" + service_id + R"(","NodeID":")" + node_id +
                      R"(","Slot":1,"Status":{"State":")" + st + R"("}})");
  REQUIRE(out.object);
  return out.object;
}

// A store wired to a hub, past its baseline.
struct Live {
  state::Store store;
  live::Hub hub;
  explicit Live(live::HubOptions o = {}, bool start = true, std::size_t history = 1000)
      : store(history), hub(with_defaults(std::move(o)), store) {
    store.set_listener([this](const state::SnapshotPtr& s,
                              const std::vector<state::HistoryEntry>& e) { hub.publish(s, e); });
    (void)store.apply(test::full_sync());
    if (start) hub.start();
  }
  static live::HubOptions with_defaults(live::HubOptions o) {
    if (o.batch_interval == 100ms) o.batch_interval = 0ms;  // deliver at once unless asked
    return o;
  }
  std::vector<state::HistoryEntry> upsert(std::vector<state::ObjectPtr> objects) {
    state::Change c;
    c.upserts = std::move(objects);
    return store.apply(c);
  }
};

struct Received {
  std::vector<live::Frame> frames;
  std::string text() const {
    std::string out;
    for (const auto& f : frames) out += *f;
    return out;
  }
};

// Takes frames from `s` until `pred` holds over everything taken so far (or time runs out).
Received collect(const live::StreamPtr& s, const std::function<bool(const std::string&)>& pred,
                 std::chrono::milliseconds limit = 3s) {
  Received r;
  (void)wait_until(limit, [&] {
    for (auto& f : s->take().frames) r.frames.push_back(std::move(f));
    return pred(r.text());
  });
  return r;
}

std::size_t count(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

Scope list_of(Kind k) {
  Scope s;
  s.shape = Scope::Shape::list;
  s.kind = k;
  return s;
}

// The JSON of the `data:` lines of the first event named `event` in `text`.
std::string data_of(const std::string& text, std::string_view event) {
  const auto at = text.find("event: " + std::string(event) + "\n");
  REQUIRE(at != std::string::npos);
  const auto end = text.find("\n\n", at);
  std::string data;
  for (auto line = at; line < end;) {
    const auto next = text.find('\n', line);
    const std::string_view l(text.data() + line, next - line);
    if (l.starts_with("data: ")) {
      if (!data.empty()) data += '\n';
      data += l.substr(6);
    }
    line = next + 1;
  }
  return data;
}

}  // namespace

TEST_CASE("an event is its detail resource, framed once, and batches are JSON arrays") {
  state::Store store(100);
  (void)store.apply(test::full_sync());
  state::Change c;
  c.upserts = {service("svc1", "shop_web", 5, 2, "shop")};
  const auto entries = store.apply(c);
  REQUIRE(entries.size() == 2);  // the service and its new stack
  const render::Site site{"/base"};
  const auto snap = store.snapshot();
  const auto e = live::make_event(entries[0], *snap, *snap, site);
  CHECK(e->stack == "shop");
  CHECK(e->frame.starts_with("id: " + std::to_string(entries[0].id) + "\nevent: service\ndata: {"));
  CHECK(e->frame.ends_with("}\n\n"));
  rapidjson::Document d;
  d.Parse(e->json().data(), e->json().size());
  REQUIRE_FALSE(d.HasParseError());
  CHECK(std::string(d["@id"].GetString()) == "/base/services/svc1");
  CHECK(std::string(d["@type"].GetString()) == "Service");
  CHECK(std::string(d["type"].GetString()) == "service");
  CHECK(std::string(d["action"].GetString()) == "create");
  CHECK(std::string(d["id"].GetString()) == "svc1");
  CHECK(std::string(d["name"].GetString()) == "shop_web");
  CHECK(std::string(d["resource"]["@id"].GetString()) == "/base/services/svc1");
  CHECK(std::string(d["resource"]["Spec"]["Name"].GetString()) == "shop_web");
  CHECK(d["resource"].HasMember("serviceStatus"));  // as the detail URL shows it

  const auto st = live::make_event(entries[1], *snap, *snap, site);
  CHECK(st->kind == Kind::stack);
  REQUIRE(st->stack_object);
  CHECK(st->stack_object->name == "shop");

  const live::Shown both[] = {{e}, {st}};
  const std::string batch = live::batch_frame(both, 2);
  CHECK(batch.starts_with("id: " + std::to_string(entries[1].id) + "\nevent: batch\n"));
  const std::string data = data_of(batch, "batch");
  rapidjson::Document arr;
  arr.Parse(data.data(), data.size());
  REQUIRE_FALSE(arr.HasParseError());
  REQUIRE(arr.IsArray());
  CHECK(arr.Size() == 2);
  CHECK(std::string(arr[1]["type"].GetString()) == "stack");

  // Removed: no resource, but the object as it was is kept for scopes and filters.
  state::Change rm;
  rm.removals.emplace_back(Kind::service, "svc1");
  const auto gone = store.apply(rm);
  const auto ge = live::make_event(gone[0], *store.snapshot(), *snap, site);
  rapidjson::Document g;
  g.Parse(ge->json().data(), ge->json().size());
  CHECK(std::string(g["action"].GetString()) == "remove");
  CHECK_FALSE(g.HasMember("resource"));
  CHECK(ge->stack == "shop");
}

TEST_CASE("scopes: lists, owners, details, stacks, types and filters") {
  state::Store store(100);
  (void)store.apply(test::full_sync());
  state::Change c;
  c.upserts = {service("svc1", "shop_web", 5, 2, "shop"),
               task("t1", "svc1", "node1", 6, "running")};
  const auto entries = store.apply(c);
  const auto snap = store.snapshot();
  const render::Site site;
  live::EventPtr svc, tsk, stk;
  for (const auto& en : entries) {
    auto ev = live::make_event(en, *snap, *snap, site);
    if (en.kind == Kind::service) svc = ev;
    if (en.kind == Kind::task) tsk = ev;
    if (en.kind == Kind::stack) stk = ev;
  }
  REQUIRE(svc);
  REQUIRE(tsk);
  REQUIRE(stk);
  CHECK(tsk->stack == "shop");  // a task is in its service's stack

  CHECK(live::shows(list_of(Kind::service), *svc, *snap) == Show::yes);
  CHECK(live::shows(list_of(Kind::service), *tsk, *snap) == Show::no);
  CHECK(live::shows(list_of(Kind::stack), *stk, *snap) == Show::yes);

  Scope of_service{Scope::Shape::service, Kind::service, "svc1"};
  CHECK(live::shows(of_service, *svc, *snap) == Show::yes);
  CHECK(live::shows(of_service, *tsk, *snap) == Show::yes);
  CHECK(live::shows(of_service, *stk, *snap) == Show::no);
  Scope other_service{Scope::Shape::service, Kind::service, "svc2"};
  CHECK(live::shows(other_service, *tsk, *snap) == Show::no);

  Scope of_node{Scope::Shape::node, Kind::node, "node1"};
  CHECK(live::shows(of_node, *tsk, *snap) == Show::yes);
  CHECK(live::shows(of_node, *svc, *snap) == Show::no);
  Scope tasks_on_node{Scope::Shape::tasks_of_node, Kind::task, "node1"};
  CHECK(live::shows(tasks_on_node, *tsk, *snap) == Show::yes);
  Scope tasks_of{Scope::Shape::tasks_of_service, Kind::task, "svc1"};
  CHECK(live::shows(tasks_of, *tsk, *snap) == Show::yes);
  CHECK(live::shows(tasks_of, *svc, *snap) == Show::no);

  Scope stack{Scope::Shape::stack, Kind::stack, "shop"};
  CHECK(live::shows(stack, *svc, *snap) == Show::yes);
  CHECK(live::shows(stack, *tsk, *snap) == Show::yes);
  CHECK(live::shows(stack, *stk, *snap) == Show::yes);
  Scope object{Scope::Shape::object, Kind::task, "t1"};
  CHECK(live::shows(object, *tsk, *snap) == Show::yes);
  CHECK(live::shows(object, *svc, *snap) == Show::no);

  Scope events;
  events.kinds = Scope::bit(Kind::task) | Scope::bit(Kind::stack);
  CHECK(live::shows(events, *svc, *snap) == Show::no);
  CHECK(live::shows(events, *tsk, *snap) == Show::yes);

  // A filter applies per kind; a kind it did not compile for shows nothing.
  Scope filtered;
  filtered.filtered = true;
  filtered.filters.at(static_cast<std::size_t>(Kind::task)) =
      query::compile_filter(Kind::task, R"(state == "running")").value();
  CHECK(live::shows(filtered, *tsk, *snap) == Show::yes);
  CHECK(live::shows(filtered, *svc, *snap) == Show::no);
  filtered.filters.at(static_cast<std::size_t>(Kind::task)) =
      query::compile_filter(Kind::task, R"(state == "failed")").value();
  CHECK(live::shows(filtered, *tsk, *snap) == Show::no);
}

TEST_CASE("a stream gets retry first, then the changes of its scope") {
  Live l;
  const auto s = l.hub.open(list_of(Kind::service), "");
  REQUIRE(s);
  const auto first = s->take();
  REQUIRE(first.frames.size() == 1);
  CHECK(*first.frames[0] == "retry: 2000\n\n");
  (void)l.upsert({service("svc1", "alpha", 1)});
  const auto r = collect(s, [](const std::string& t) { return t.find("alpha") != t.npos; });
  CHECK(r.text().starts_with("id: "));
  CHECK(count(r.text(), "event: service\n") == 1);
  // Another kind's change is not this stream's business.
  (void)l.upsert({task("t9", "svc1", "n1", 3, "running")});
  l.hub.flush_now();
  std::this_thread::sleep_for(50ms);
  CHECK(s->take().frames.empty());
}

TEST_CASE("changes within the batch window go out as one batch, shared by every stream") {
  live::HubOptions o;
  o.batch_interval = 150ms;
  Live l(o);
  const auto a = l.hub.open(list_of(Kind::service), "");
  const auto b = l.hub.open(list_of(Kind::service), "");
  const auto c = l.hub.open(Scope{}, "");  // /events: every kind
  (void)a->take();
  (void)b->take();
  (void)c->take();
  (void)l.upsert({service("svc1", "alpha", 1)});
  (void)l.upsert({service("svc2", "beta", 2)});
  (void)l.upsert({task("t1", "svc1", "n1", 3, "running")});
  auto ra = collect(a, [](const std::string& t) { return t.find("event: batch") != t.npos; });
  auto rb = collect(b, [](const std::string& t) { return t.find("event: batch") != t.npos; });
  auto rc = collect(c, [](const std::string& t) { return t.find("event: batch") != t.npos; });
  REQUIRE(ra.frames.size() == 1);
  REQUIRE(rb.frames.size() == 1);
  // The same bytes, not an equal copy: rendered once for both streams.
  CHECK(ra.frames[0].get() == rb.frames[0].get());
  const std::string data = data_of(ra.text(), "batch");
  rapidjson::Document d;
  d.Parse(data.data(), data.size());
  REQUIRE(d.IsArray());
  CHECK(d.Size() == 2);  // the two services, not the task
  const std::string all = data_of(rc.text(), "batch");
  d.Parse(all.data(), all.size());
  REQUIRE(d.IsArray());
  CHECK(d.Size() == 3);
  CHECK(l.hub.stats().events == 3);
}

TEST_CASE("a reconnect replays exactly the missed events of its scope") {
  Live l;
  const auto s = l.hub.open(list_of(Kind::service), "");
  (void)s->take();
  const auto e1 = l.upsert({service("svc1", "alpha", 1)});
  (void)collect(s, [](const std::string& t) { return t.find("alpha") != t.npos; });
  s->close();
  // Missed while away: a service change, a task change (other scope), another service.
  (void)l.upsert({service("svc1", "alpha", 2, 3)});
  (void)l.upsert({task("t1", "svc1", "n1", 3, "running")});
  (void)l.upsert({service("svc2", "beta", 4)});
  l.hub.flush_now();
  REQUIRE(wait_until(2s, [&] { return l.hub.stats().events >= 4; }));
  std::this_thread::sleep_for(50ms);

  const auto again = l.hub.open(list_of(Kind::service), std::to_string(e1[0].id));
  const auto r = again->take();
  REQUIRE(r.frames.size() == 2);  // retry, then the missed ones as one batch
  const std::string data = data_of(*r.frames[1], "batch");
  rapidjson::Document d;
  d.Parse(data.data(), data.size());
  REQUIRE(d.IsArray());
  REQUIRE(d.Size() == 2);
  CHECK(std::string(d[0]["name"].GetString()) == "alpha");
  CHECK(d[0]["resource"]["Spec"]["Mode"]["Replicated"]["Replicas"].GetInt() == 3);
  CHECK(std::string(d[1]["name"].GetString()) == "beta");
  CHECK(l.hub.stats().replays == 1);

  // Up to date: nothing to replay, no sync.
  const auto last = l.store.history().last_id();
  const auto current = l.hub.open(list_of(Kind::service), std::to_string(last));
  CHECK(current->take().frames.size() == 1);
}

TEST_CASE("an unknown, future, foreign or evicted Last-Event-ID gets one sync") {
  live::HubOptions o;
  o.replay_events = 2;
  Live l(o);
  const auto seed = l.store.history().seed();
  for (const std::string& id : {std::string("garbage"), std::to_string(seed - 1),
                                std::to_string(l.store.history().last_id() + 1000)}) {
    const auto s = l.hub.open(list_of(Kind::service), id);
    const auto r = s->take();
    REQUIRE(r.frames.size() == 2);
    CHECK(r.frames[1]->find("event: sync\n") != std::string::npos);
  }
  const auto first = l.upsert({service("svc1", "alpha", 1)});
  (void)l.upsert({service("svc2", "beta", 2)});
  (void)l.upsert({service("svc3", "gamma", 3)});
  (void)l.upsert({service("svc4", "delta", 4)});
  REQUIRE(wait_until(2s, [&] { return l.hub.stats().events >= 4; }));
  std::this_thread::sleep_for(50ms);
  // Only the last two are kept: the first is evicted, so what came after it is unknown.
  const auto s = l.hub.open(list_of(Kind::service), std::to_string(first[0].id));
  const auto r = s->take();
  REQUIRE(r.frames.size() == 2);
  CHECK(r.frames[1]->find("event: sync\n") != std::string::npos);
  CHECK(l.hub.stats().replay_syncs == 4);
}

TEST_CASE("a client that does not keep up gets one sync and bounded memory") {
  live::HubOptions o;
  o.queue_bytes = 8 * 1024;
  Live l(o);
  const auto slow = l.hub.open(list_of(Kind::service), "");
  const auto fast = l.hub.open(list_of(Kind::service), "");
  (void)slow->take();
  (void)fast->take();
  std::size_t fast_events = 0;
  for (int i = 0; i < 200; ++i) {
    (void)l.upsert({service("svc1", "alpha", 10 + i, i % 7)});
    l.hub.flush_now();
    // Wait until the hub has delivered this change, so each is its own frame.
    REQUIRE(
        wait_until(2s, [&] { return l.hub.stats().events >= static_cast<std::uint64_t>(i + 1); }));
    for (const auto& f : fast->take().frames) fast_events += count(*f, "\"type\":\"service\"");
  }
  REQUIRE(wait_until(2s, [&] { return l.hub.stats().overflows >= 1; }));
  for (const auto& f : fast->take().frames) fast_events += count(*f, "\"type\":\"service\"");
  CHECK(fast_events == 200);  // the fast client lost nothing
  const auto counters = slow->counters();
  CHECK(counters.overflows >= 1);
  CHECK(counters.dropped > 0);
  Received r;
  r.frames = slow->take().frames;
  std::size_t bytes = 0;
  for (const auto& f : r.frames) bytes += f->size();
  CHECK(bytes <= o.queue_bytes);
  CHECK(count(r.text(), "event: sync\n") == 1);
  // After taking the sync the client is followed again.
  (void)l.upsert({service("svc1", "alpha", 999, 9)});
  const auto after =
      collect(slow, [](const std::string& t) { return t.find("event: service") != t.npos; });
  CHECK(after.text().find("event: sync") == std::string::npos);
  CHECK(l.hub.stats().frames_dropped > 0);
}

TEST_CASE("streams are capped; closing one frees its place") {
  live::HubOptions o;
  o.max_streams = 2;
  Live l(o);
  auto a = l.hub.open(Scope{}, "");
  auto b = l.hub.open(Scope{}, "");
  REQUIRE(a);
  REQUIRE(b);
  CHECK_FALSE(l.hub.open(Scope{}, ""));
  CHECK(l.hub.stats().streams_rejected == 1);
  a->close();
  CHECK(l.hub.stats().streams_open == 1);
  CHECK(l.hub.open(Scope{}, ""));
}

TEST_CASE("idle streams get keepalive comments; the cluster stream starts with the summary") {
  live::HubOptions o;
  o.keepalive = 20ms;
  Live l(o);
  const auto s = l.hub.open(Scope{}, "");
  (void)s->take();
  const auto r =
      collect(s, [](const std::string& t) { return t.find(":keepalive\n\n") != t.npos; });
  CHECK(r.text() == ":keepalive\n\n");

  Scope cluster;
  cluster.shape = Scope::Shape::cluster;
  const auto c = l.hub.open(cluster, "");
  const auto first = c->take();
  REQUIRE(first.frames.size() == 2);
  CHECK(first.frames[1]->find("event: cluster\n") != std::string::npos);
  (void)l.upsert({service("svc1", "alpha", 1)});
  const auto next =
      collect(c, [](const std::string& t) { return t.find("event: cluster") != t.npos; });
  rapidjson::Document d;
  const std::string data = data_of(next.text(), "cluster");
  d.Parse(data.data(), data.size());
  REQUIRE_FALSE(d.HasParseError());
  CHECK(std::string(d["@type"].GetString()) == "Cluster");
}

TEST_CASE("the batch window counts from when narwhal heard of the change") {
  // The watcher's coalescing and re-reads happen inside the window, not before it: a change
  // heard of 3.9 s ago goes out soon after it reaches a hub with a 4 s window (at most half a
  // window after the previous flush). The margins are seconds: a loaded machine must not fail it.
  live::HubOptions o;
  o.batch_interval = 4s;
  Live l(o);
  const auto s = l.hub.open(list_of(Kind::service), "");
  (void)s->take();
  state::Change c;
  c.upserts = {service("svc1", "alpha", 1)};
  c.observed = util::now_micros() - 3'900'000;
  const auto recorded = l.store.apply(c);
  REQUIRE(recorded.size() == 1);
  CHECK(recorded[0].observed == c.observed);
  CHECK(recorded[0].time > recorded[0].observed);
  const auto r = collect(
      s, [](const std::string& t) { return t.find("alpha") != t.npos; }, 3000ms);
  CHECK(r.text().find("alpha") != std::string::npos);

  // A change heard of just now waits for the whole window (and half a window at the least).
  (void)l.upsert({service("svc2", "beta", 1)});
  const auto early = collect(
      s, [](const std::string& t) { return t.find("beta") != t.npos; }, 1000ms);
  CHECK(early.text().find("beta") == std::string::npos);
  const auto late = collect(
      s, [](const std::string& t) { return t.find("beta") != t.npos; }, 8000ms);
  CHECK(late.text().find("beta") != std::string::npos);
}

TEST_CASE("with no /cluster stream open the summary waits for the next one to open") {
  Live l;
  for (int i = 0; i < 3; ++i) {
    (void)l.upsert({service("svc" + std::to_string(i), "s" + std::to_string(i), 1)});
  }
  l.hub.flush_now();
  Scope cluster;
  cluster.shape = Scope::Shape::cluster;
  // Opened after the changes, the stream starts with a summary that counts them.
  const auto c = l.hub.open(cluster, "");
  const auto first = c->take();
  REQUIRE(first.frames.size() == 2);
  const std::string data = data_of(*first.frames[1], "cluster");
  rapidjson::Document d;
  d.Parse(data.data(), data.size());
  REQUIRE_FALSE(d.HasParseError());
  CHECK(d["counts"]["services"].GetInt() == l.store.snapshot()->table(Kind::service).items.size());
  // A second stream on an unchanged cluster shares the same summary frame.
  const auto c2 = l.hub.open(cluster, "");
  const auto second = c2->take();
  REQUIRE(second.frames.size() == 2);
  CHECK(second.frames[1].get() == first.frames[1].get());
}

TEST_CASE("stopping the hub closes every stream") {
  Live l;
  const auto s = l.hub.open(Scope{}, "");
  bool woke = false;
  s->set_waker([&] { woke = true; });
  l.hub.stop();
  CHECK(s->closed());
  CHECK(woke);
  CHECK_FALSE(l.hub.open(Scope{}, ""));
}

TEST_CASE("one frame bigger than the queue limit is not falling behind") {
  live::HubOptions o;
  o.queue_bytes = 4096;
  Live l(o);
  const auto s = l.hub.open(Scope{}, "");
  (void)s->take();
  // A single change far larger than the limit, taken by a client that keeps up.
  std::vector<state::ObjectPtr> many;
  for (int i = 0; i < 40; ++i) {
    many.push_back(service("big" + std::to_string(i), "big" + std::to_string(i), 5 + i));
  }
  (void)l.upsert(many);
  const auto r = collect(s, [](const std::string& t) { return t.find("event: batch") != t.npos; });
  CHECK(r.text().size() > o.queue_bytes);
  CHECK(r.text().find("event: sync") == std::string::npos);
  CHECK(s->counters().overflows == 0);
}

TEST_CASE("resuming from an ID /history shows but the hub has not sent yet is not a sync") {
  live::HubOptions o;
  o.batch_interval = 300ms;
  Live l(o);
  const auto entries = l.upsert({service("svc1", "alpha", 1)});
  // Within the batch window: the history has the change, the streams have not seen it yet.
  const auto s = l.hub.open(list_of(Kind::service), std::to_string(entries[0].id));
  const auto first = s->take();
  REQUIRE(first.frames.size() == 1);  // retry only: no sync, nothing to replay
  (void)l.upsert({service("svc2", "beta", 2)});
  const auto r = collect(s, [](const std::string& t) { return t.find("beta") != t.npos; });
  CHECK(r.text().find("beta") != std::string::npos);
  CHECK(r.text().find("alpha") == std::string::npos);  // already seen, through /history
  CHECK(r.text().find("event: sync") == std::string::npos);
}

// ---- Leaving a stream: an update that takes an object out of a scope or filter (SPEC §8) ----

namespace {

Scope filtered_list(Kind k, const std::string& expression) {
  Scope s = list_of(k);
  s.filtered = true;
  s.filters.at(static_cast<std::size_t>(k)) = query::compile_filter(k, expression).value();
  return s;
}

// "<id> <action>[/<reason>] [<task state>]" of each event in `frames`, in order (single and
// batched alike), joined by "; "; frames without data (retry, keepalives) are skipped.
std::string summary_of(const std::vector<live::Frame>& frames) {
  std::string out;
  for (const auto& f : frames) {
    const auto at = f->find("event: ");
    if (at == std::string::npos) continue;
    const std::string name = f->substr(at + 7, f->find('\n', at) - at - 7);
    const std::string data = data_of(*f, name);
    rapidjson::Document d;
    d.Parse(data.data(), data.size());
    REQUIRE_FALSE(d.HasParseError());
    const auto one = [&](const rapidjson::Value& v) {
      if (!out.empty()) out += "; ";
      std::string s = v["id"].GetString();
      s += ' ';
      s += v["action"].GetString();
      if (v.HasMember("reason")) s += "/" + std::string(v["reason"].GetString());
      if (v.HasMember("resource") && v["resource"].HasMember("Status")) {
        s += ' ';
        s += v["resource"]["Status"]["State"].GetString();
      }
      out += s;
    };
    if (d.IsArray()) {
      for (const auto& v : d.GetArray()) one(v);
    } else {
      one(d);
    }
  }
  return out;
}

}  // namespace

TEST_CASE(
    "an update out of a filter or scope is shown as leaving it; other streams are as before") {
  state::Store store(100);
  (void)store.apply(test::full_sync());
  state::Change c;
  c.upserts = {service("svc1", "shop_web", 5, 2, "shop"), service("svc2", "shop_db", 5, 1, "shop"),
               task("t1", "svc1", "node1", 6, "running")};
  (void)store.apply(c);
  const auto before = store.snapshot();
  state::Change failed;
  failed.upserts = {task("t1", "svc1", "node1", 7, "failed")};
  const auto entries = store.apply(failed);
  REQUIRE(entries.size() == 1);
  REQUIRE(entries[0].previous);  // the store keeps the object as it was
  CHECK(entries[0].previous->version == 6);
  const auto snap = store.snapshot();
  const render::Site site;
  const auto e = live::make_event(entries[0], *snap, *before, site);

  const Scope running = filtered_list(Kind::task, R"(state == "running")");
  CHECK(live::shows(running, *e, *snap) == Show::left);
  CHECK(live::shows(list_of(Kind::task), *e, *snap) == Show::yes);  // unfiltered: the update
  // Matching neither before nor after: nothing; matching after: the plain update.
  CHECK(live::shows(filtered_list(Kind::task, R"(state == "complete")"), *e, *snap) == Show::no);
  CHECK(live::shows(filtered_list(Kind::task, R"(state == "failed")"), *e, *snap) == Show::yes);

  // The leave variant: the same event with the action replaced, and the resource as it now is.
  const std::string& left = e->frame_as(Show::left);
  CHECK(&left == &e->frame_as(Show::left));  // rendered once, shared
  CHECK(&e->frame_as(Show::yes) == &e->frame);
  CHECK(left.starts_with("id: " + std::to_string(entries[0].id) + "\nevent: task\ndata: {"));
  CHECK(left.ends_with("}\n\n"));
  CHECK(left.find(e->json_as(Show::left)) != std::string::npos);
  rapidjson::Document d;
  d.Parse(e->json_as(Show::left).data(), e->json_as(Show::left).size());
  REQUIRE_FALSE(d.HasParseError());
  CHECK(std::string(d["action"].GetString()) == "remove");
  CHECK(std::string(d["reason"].GetString()) == "filter");
  CHECK(std::string(d["id"].GetString()) == "t1");
  REQUIRE(d.HasMember("resource"));
  CHECK(std::string(d["resource"]["Status"]["State"].GetString()) == "failed");
  rapidjson::Document plain;
  plain.Parse(e->json().data(), e->json().size());
  CHECK(std::string(plain["action"].GetString()) == "update");
  CHECK_FALSE(plain.HasMember("reason"));

  // A create or a removal has no "before" to have left.
  state::Change fresh;
  fresh.upserts = {task("t2", "svc1", "node1", 8, "failed")};
  const auto created = store.apply(fresh);
  REQUIRE(created.size() == 1);
  CHECK_FALSE(created[0].previous);
  const auto ce = live::make_event(created[0], *store.snapshot(), *snap, site);
  CHECK(live::shows(running, *ce, *store.snapshot()) == Show::no);

  // Scopes: the task moves to another node (and a service leaves its stack).
  const auto at_failed = store.snapshot();
  state::Change moved;
  moved.upserts = {task("t1", "svc1", "node2", 9, "failed"), service("svc2", "db", 10, 1)};
  const auto m = store.apply(moved);
  const auto now = store.snapshot();
  live::EventPtr mt, ms, mstack;
  for (const auto& en : m) {
    auto ev = live::make_event(en, *now, *at_failed, site);
    if (en.kind == Kind::task) mt = ev;
    if (en.kind == Kind::service) ms = ev;
    if (en.kind == Kind::stack) mstack = ev;
  }
  REQUIRE(mt);
  REQUIRE(ms);
  REQUIRE(mstack);
  const Scope on_node1{Scope::Shape::tasks_of_node, Kind::task, "node1"};
  const Scope on_node2{Scope::Shape::tasks_of_node, Kind::task, "node2"};
  const Scope on_node3{Scope::Shape::tasks_of_node, Kind::task, "node3"};
  CHECK(live::shows(on_node1, *mt, *now) == Show::left);
  CHECK(live::shows(on_node2, *mt, *now) == Show::yes);
  CHECK(live::shows(on_node3, *mt, *now) == Show::no);
  CHECK(live::shows(Scope{Scope::Shape::node, Kind::node, "node1"}, *mt, *now) == Show::left);
  CHECK(live::shows(Scope{Scope::Shape::tasks_of_service, Kind::task, "svc1"}, *mt, *now) ==
        Show::yes);
  const Scope shop{Scope::Shape::stack, Kind::stack, "shop"};
  CHECK(live::shows(shop, *ms, *now) == Show::left);
  CHECK(live::shows(shop, *mstack, *now) == Show::yes);  // the stack's own membership change
  // A stack that stops matching a stack filter: two services before, one now.
  CHECK(live::shows(filtered_list(Kind::stack, "services > 1"), *mstack, *now) == Show::left);
  CHECK(live::shows(filtered_list(Kind::stack, "services > 0"), *mstack, *now) == Show::yes);
  CHECK(live::shows(filtered_list(Kind::stack, "services > 2"), *mstack, *now) == Show::no);
}

TEST_CASE("a filtered stream hears when a task leaves it; an unfiltered one gets the update") {
  Live l;
  const auto running = l.hub.open(filtered_list(Kind::task, R"(state == "running")"), "");
  const auto all = l.hub.open(list_of(Kind::task), "");
  const auto never = l.hub.open(filtered_list(Kind::task, R"(state == "complete")"), "");
  for (const auto& s : {running, all, never}) (void)s->take();

  const auto started = l.upsert({task("t1", "svc1", "n1", 3, "running")});
  const auto got_started =
      collect(running, [](const std::string& t) { return t.find("running") != t.npos; });
  CHECK(summary_of(got_started.frames) == "t1 create running");
  (void)l.upsert({task("t1", "svc1", "n1", 4, "failed")});
  const auto left =
      collect(running, [](const std::string& t) { return t.find("\"failed\"") != t.npos; });
  CHECK(summary_of(left.frames) == "t1 remove/filter failed");
  const auto plain = collect(all, [](const std::string& t) { return count(t, "\"t1\"") >= 2; });
  CHECK(summary_of(plain.frames) == "t1 create running; t1 update failed");
  // Once out, later changes that keep it out are not the filtered stream's business.
  (void)l.upsert({task("t1", "svc1", "n1", 5, "shutdown")});
  (void)collect(all, [](const std::string& t) { return t.find("shutdown") != t.npos; });
  l.hub.flush_now();
  std::this_thread::sleep_for(50ms);
  CHECK(running->take().frames.empty());
  // A filter the task never matched: nothing, not even a leave.
  CHECK(never->take().frames.empty());

  // A reconnect from before the leave replays the very bytes the live stream got.
  REQUIRE(left.frames.size() == 1);
  const auto again =
      l.hub.open(filtered_list(Kind::task, R"(state == "running")"), std::to_string(started[0].id));
  const auto replayed = again->take();
  REQUIRE(replayed.frames.size() == 2);  // retry, then the leave
  CHECK(*replayed.frames[1] == *left.frames[0]);
  CHECK(replayed.frames[1].get() == left.frames[0].get());  // rendered once
  const auto never_again = l.hub.open(filtered_list(Kind::task, R"(state == "complete")"),
                                      std::to_string(started[0].id));
  CHECK(never_again->take().frames.size() == 1);  // retry only
}

TEST_CASE("a batch mixes plain and leave events, and is shared only by streams showing both so") {
  live::HubOptions o;
  o.batch_interval = 150ms;
  Live l(o);
  const auto a = l.hub.open(filtered_list(Kind::task, R"(state == "running")"), "");
  // Another stream with the same filter compiled apart: another scope, the same events.
  const auto b = l.hub.open(filtered_list(Kind::task, R"(state == "running")"), "");
  const auto all = l.hub.open(list_of(Kind::task), "");
  for (const auto& s : {a, b, all}) (void)s->take();
  const auto baseline =
      l.upsert({task("t1", "svc1", "n1", 3, "running"), task("t2", "svc1", "n1", 4, "running")});
  (void)collect(a, [](const std::string& t) { return t.find("event: batch") != t.npos; });
  (void)collect(b, [](const std::string& t) { return t.find("event: batch") != t.npos; });
  (void)collect(all, [](const std::string& t) { return t.find("event: batch") != t.npos; });

  // Within one window: t1 fails, t2 moves but still runs.
  (void)l.upsert({task("t1", "svc1", "n1", 5, "failed")});
  REQUIRE(l.upsert({task("t2", "svc1", "n2", 6, "running")}).size() == 1);
  const auto ra = collect(a, [](const std::string& t) { return t.find("event: batch") != t.npos; });
  const auto rb = collect(b, [](const std::string& t) { return t.find("event: batch") != t.npos; });
  const auto rall =
      collect(all, [](const std::string& t) { return t.find("event: batch") != t.npos; });
  REQUIRE(ra.frames.size() == 1);
  REQUIRE(rb.frames.size() == 1);
  REQUIRE(rall.frames.size() == 1);
  CHECK(summary_of(ra.frames) == "t1 remove/filter failed; t2 update running");
  CHECK(ra.frames[0].get() == rb.frames[0].get());  // the same events, the same variants
  // The same events in other variants: another frame.
  CHECK(summary_of(rall.frames) == "t1 update failed; t2 update running");

  // Replayed from before the window: the same batch, byte for byte.
  const auto again = l.hub.open(filtered_list(Kind::task, R"(state == "running")"),
                                std::to_string(baseline.back().id));
  const auto replayed = again->take();
  REQUIRE(replayed.frames.size() == 2);
  CHECK(*replayed.frames[1] == *ra.frames[0]);
  const auto again_all = l.hub.open(list_of(Kind::task), std::to_string(baseline.back().id));
  const auto replayed_all = again_all->take();
  REQUIRE(replayed_all.frames.size() == 2);
  CHECK(*replayed_all.frames[1] == *rall.frames[0]);
}

TEST_CASE("a stopped hub takes no more changes: its inbox does not grow") {
  Live l;
  l.hub.stop();
  for (int i = 0; i < 50; ++i) {
    (void)l.upsert({service("svc-after-stop", "late", 10 + i)});
  }
  CHECK(l.hub.stats().inbox == 0);
}

TEST_CASE("IDs are not consecutive: resuming right before the oldest kept event replays") {
  live::HubOptions o;
  o.replay_events = 2;
  Live l(o);
  std::vector<std::uint64_t> ids;
  for (int i = 1; i <= 4; ++i) {
    ids.push_back(l.upsert({service("svc" + std::to_string(i), "s" + std::to_string(i), i)})[0].id);
    std::this_thread::sleep_for(2ms);  // the clock moves: IDs leap
  }
  CHECK(ids[2] > ids[1] + 1);
  REQUIRE(wait_until(2s, [&] { return l.hub.stats().events >= 4; }));
  std::this_thread::sleep_for(50ms);
  // The ring keeps the last two; a client that had the second missed nothing it cannot get.
  const auto s = l.hub.open(list_of(Kind::service), std::to_string(ids[1]));
  const auto r = s->take();
  REQUIRE(r.frames.size() == 2);
  CHECK(r.frames[1]->find("event: batch\n") != std::string::npos);
  CHECK(count(*r.frames[1], "\"action\":") == 2);
  CHECK(r.frames[1]->find("\"s3\"") != std::string::npos);
  CHECK(r.frames[1]->find("\"s4\"") != std::string::npos);
  CHECK(l.hub.stats().replay_syncs == 0);
}

TEST_CASE("a hub that falls behind holds one snapshot, and delivers every event") {
  Live l({}, /*start=*/false);
  std::vector<std::weak_ptr<const state::Snapshot>> published;
  l.store.set_listener([&](const state::SnapshotPtr& snap,
                           const std::vector<state::HistoryEntry>& e) {
    published.push_back(snap);
    l.hub.publish(snap, e);
  });
  const auto s = l.hub.open(list_of(Kind::service), "");
  (void)s->take();
  for (int i = 0; i < 50; ++i) (void)l.upsert({service("svc" + std::to_string(i), "n", i + 1)});
  REQUIRE(published.size() == 50);
  // The store holds the current snapshot, the inbox the same one: nothing older stays alive.
  const auto alive = std::count_if(published.begin(), published.end(),
                                   [](const auto& w) { return !w.expired(); });
  CHECK(alive == 1);
  CHECK(l.hub.stats().inbox == 51);  // the baseline's publish and the 50
  l.hub.start();
  l.hub.flush_now();
  const auto r = collect(
      s, [](const std::string& t) { return count(t, "\"action\":\"create\"") >= 50; });
  CHECK(count(r.text(), "\"action\":\"create\"") == 50);
  CHECK(r.text().find("event: sync") == std::string::npos);
  CHECK(l.hub.stats().inbox == 0);
}

TEST_CASE("events the history evicted before the hub read them become one sync") {
  Live l({}, /*start=*/false, /*history=*/10);
  const auto s = l.hub.open(list_of(Kind::service), "");
  (void)s->take();
  for (int i = 0; i < 30; ++i) (void)l.upsert({service("svc" + std::to_string(i), "n", i + 1)});
  l.hub.start();
  l.hub.flush_now();
  const auto r = collect(s, [](const std::string& t) { return t.find("event: sync") != t.npos; });
  CHECK(count(r.text(), "event: sync") == 1);
  // Afterwards the stream is live again.
  (void)l.upsert({service("svc-next", "after", 100)});
  l.hub.flush_now();
  const auto next = collect(s, [](const std::string& t) { return t.find("after") != t.npos; });
  CHECK(next.text().find("after") != std::string::npos);
}

TEST_CASE("what the history held before the hub existed is not sent as news") {
  state::Store store(1000);
  (void)store.apply(test::full_sync());  // the baseline: no entries
  state::Change before;
  before.upserts = {service("svc-old", "stale", 1)};
  REQUIRE(store.apply(before).size() == 1);  // an entry recorded before any hub
  live::Hub hub(Live::with_defaults({}), store);
  store.set_listener([&](const state::SnapshotPtr& s, const std::vector<state::HistoryEntry>& e) {
    hub.publish(s, e);
  });
  hub.start();
  const auto s = hub.open(list_of(Kind::service), "");
  (void)s->take();
  state::Change c;
  c.upserts = {service("svc-new", "fresh", 1)};
  (void)store.apply(c);
  hub.flush_now();
  const auto r = collect(s, [](const std::string& t) { return t.find("fresh") != t.npos; });
  CHECK(count(r.text(), "\"action\":") == 1);
  hub.stop();
}

TEST_CASE("a change heard of long ago does not wait for the deadline a younger one set") {
  live::HubOptions o;
  o.batch_interval = 4s;
  Live l(o);
  const auto s = l.hub.open(list_of(Kind::service), "");
  (void)s->take();
  (void)l.upsert({service("svc1", "young", 1)});  // due in 4 s
  std::this_thread::sleep_for(50ms);             // the hub has set that deadline
  state::Change c;
  c.upserts = {service("svc2", "old", 1)};
  c.observed = util::now_micros() - 3'900'000;  // due now
  (void)l.store.apply(c);
  // Margins of seconds: the old change is due within 0.1 s, the young one's deadline is 4 s.
  const auto r = collect(s, [](const std::string& t) { return t.find("\"old\"") != t.npos; },
                         3000ms);
  CHECK(r.text().find("\"old\"") != std::string::npos);
}
