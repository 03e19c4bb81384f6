#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "../../src/state/summary.hpp"
#include "../support/samples.hpp"
#include "narwhal/state/redact.hpp"
#include "narwhal/state/store.hpp"

using namespace narwhal::state;

using narwhal::test::full_sync;
using narwhal::test::listing;
using narwhal::test::sample;

namespace {

ObjectPtr edited(const ObjectPtr& o, const std::string& from, const std::string& to) {
  std::string raw = o->raw;
  const auto pos = raw.find(from);
  REQUIRE(pos != std::string::npos);
  raw.replace(pos, from.size(), to);
  auto parsed = parse_object(o->kind, raw);
  REQUIRE(parsed.object);
  return parsed.object;
}

}  // namespace

TEST_CASE("real engine objects parse into their typed fields") {
  const auto services = listing(Kind::service, "services.json");
  REQUIRE(services.size() == 4);
  const Object* web = nullptr;
  for (const auto& s : services) {
    if (s->name == "web") web = s.get();
  }
  REQUIRE(web != nullptr);
  CHECK(web->id == "zm877tfyji7wheye1kbd0qt4w");
  CHECK(web->mode == "replicated");
  CHECK(web->replicas == 2);
  CHECK(web->version == 247);
  CHECK(web->config_ids.size() == 1);
  CHECK(web->secret_ids.size() == 1);
  CHECK(web->network_ids == std::vector<std::string>{"iasjkgwzvl8zxonupsdzjbp3k"});
  CHECK(web->raw.front() == '{');

  const auto nodes = listing(Kind::node, "nodes.json");
  REQUIRE(nodes.size() == 1);
  CHECK(nodes[0]->role == "manager");
  CHECK(nodes[0]->leader);
  CHECK(nodes[0]->state == "ready");
  CHECK_FALSE(nodes[0]->name.empty());
  CHECK(nodes[0]->label("tier") != "");

  const auto tasks = listing(Kind::task, "tasks-rejected-and-shutdown.json");
  REQUIRE(tasks.size() == 3);
  CHECK(tasks[0]->state == "rejected");
  CHECK(tasks[0]->error.find("No such image") != std::string::npos);

  const auto global = listing(Kind::task, "tasks-running.json");
  int without_slot = 0;
  for (const auto& t : global) without_slot += t->slot.has_value() ? 0 : 1;
  CHECK(without_slot == 1);

  const auto nets = listing(Kind::network, "networks.json");
  CHECK(nets.size() == 5);
  for (const auto& n : nets) CHECK(n->id.size() > 10);  // networks say "Id", not "ID"

  const auto vols = listing(Kind::volume, "volumes.json");
  REQUIRE(vols.size() == 1);
  CHECK(vols[0]->id == "appvol");
}

TEST_CASE("the API 1.45 shapes parse too") {
  for (const auto& [kind, file] : std::vector<std::pair<Kind, std::string>>{
           {Kind::node, "v1.45-docker26/nodes.json"},
           {Kind::service, "v1.45-docker26/services.json"},
           {Kind::task, "v1.45-docker26/tasks-one-running-one-rejected.json"},
           {Kind::config, "v1.45-docker26/configs.json"},
           {Kind::secret, "v1.45-docker26/secrets.json"},
           {Kind::network, "v1.45-docker26/networks.json"},
           {Kind::volume, "v1.45-docker26/volumes.json"}}) {
    const auto out = parse_list(kind, sample(file));
    CHECK(out.error.empty());
    CHECK(out.skipped == 0);
    CHECK_FALSE(out.objects.empty());
  }
}

TEST_CASE("secret data and join tokens never enter the store") {
  auto s = parse_object(
      Kind::secret, R"({"ID":"s1","Version":{"Index":1},"Spec":{"Name":"x","Data":"c2VjcmV0"}})");
  REQUIRE(s.object);
  CHECK(s.object->raw.find("Data") == std::string::npos);
  const auto swarm = scrub_swarm(sample("swarm-jointokens-redacted.json"));
  CHECK_FALSE(swarm.empty());
  CHECK(swarm.find("JoinTokens") == std::string::npos);
  CHECK(swarm.find("SWMTKN") == std::string::npos);
}

TEST_CASE("malformed engine bodies are errors, not crashes") {
  CHECK(parse_list(Kind::service, "{not json").error != "");
  CHECK(parse_list(Kind::service, "{}").error != "");
  CHECK(parse_list(Kind::volume, R"({"Volumes":null,"Warnings":null})").objects.empty());
  const auto mixed = parse_list(Kind::config, R"([{"ID":"a","Spec":{"Name":"a"}},7,{"Spec":{}}])");
  CHECK(mixed.objects.size() == 1);
  CHECK(mixed.skipped == 2);
  CHECK_FALSE(parse_object(Kind::node, "[]").object);
}

TEST_CASE("a full sync derives tallies and stacks; the first one is the history's baseline") {
  Store store(100);
  const auto entries = store.apply(full_sync());
  const auto snap = store.snapshot();
  CHECK(snap->table(Kind::service).items.size() == 4);
  CHECK(snap->table(Kind::task).items.size() == 7);
  CHECK(snap->swarm->find("JoinTokens") == std::string::npos);
  // web: 2 desired, 1 running task in the sample
  const auto t = snap->tally("zm877tfyji7wheye1kbd0qt4w");
  CHECK(t.desired == 2);
  CHECK(t.running == 1);
  // What narwhal finds at start is not news: no "created" for every object.
  CHECK(entries.empty());
  CHECK(store.history().size() == 0);
}

TEST_CASE("changes after the baseline are recorded with increasing IDs and their objects") {
  Store store(100);
  (void)store.apply(full_sync());
  Change c;
  auto svc = parse_object(
      Kind::service,
      R"({"ID":"new1","Version":{"Index":900},"Spec":{"Name":"fresh","Mode":{"Replicated":{"Replicas":1}}}})");
  auto task = parse_object(
      Kind::task,
      R"({"ID":"newtask1","Version":{"Index":901},"ServiceID":"new1","NodeID":"n1","Status":{"State":"running"}})");
  c.upserts = {svc.object, task.object};
  const auto entries = store.apply(c);
  REQUIRE(entries.size() == 2);
  CHECK(entries.size() == store.history().size());
  CHECK(entries[0].action == Action::create);
  CHECK(entries[1].id > entries[0].id);
  CHECK(entries[0].id > store.history().seed());
  // The entry carries the object as stored: the task stamped with its service's name.
  REQUIRE(entries[1].object);
  CHECK(entries[1].object->service_name == "fresh");
  Change rm;
  rm.removals.emplace_back(Kind::service, "new1");
  const auto gone = store.apply(rm);
  REQUIRE(gone.size() == 1);  // the service; its task leaves with the task listing
  CHECK(gone[0].action == Action::remove);
  REQUIRE(gone[0].object);  // as it was
  Change listing;
  listing.full.at(static_cast<std::size_t>(Kind::task)) = std::vector<ObjectPtr>{};
  const auto tasks_gone = store.apply(listing);
  REQUIRE_FALSE(tasks_gone.empty());
  for (const auto& e : tasks_gone) {
    CHECK(e.action == Action::remove);
    REQUIRE(e.object);
  }
  HistoryQuery q;
  q.kind = Kind::task;
  q.resource_id = "newtask1";
  CHECK(store.history().query(q).size() == 2);  // created, then removed once
  q.resource_id.clear();
  q.resource_id = "newtask1";
  q.limit = 1;
  const auto one = store.history().query(q);
  REQUIRE(one.size() == 1);
  CHECK(one[0].action == Action::remove);
  q.before = one[0].id;
  CHECK(store.history().query(q)[0].action == Action::create);
}

TEST_CASE("an unchanged listing changes nothing and publishes nothing") {
  Store store(100);
  (void)store.apply(full_sync());
  const auto before = store.snapshot();
  const auto entries = store.apply(full_sync());
  CHECK(entries.empty());
  CHECK(store.snapshot() == before);
}

TEST_CASE("a full listing removes what vanished and updates what changed") {
  Store store(100);
  (void)store.apply(full_sync());
  const auto snap = store.snapshot();
  auto services = snap->table(Kind::service).items;
  const auto web = snap->table(Kind::service).lookup("web").found;
  REQUIRE(web != nullptr);
  Change c;
  std::vector<ObjectPtr> next;
  for (const auto& s : services) {
    if (s->name == "t") continue;  // removed
    if (s->name == "web") {
      next.push_back(edited(edited(s, R"("Index":247)", R"("Index":260)"), R"("Replicas":2)",
                            R"("Replicas":6)"));
    } else {
      next.push_back(s);
    }
  }
  c.full.at(static_cast<std::size_t>(Kind::service)) = next;
  const auto entries = store.apply(c);
  const auto after = store.snapshot();
  CHECK(after->table(Kind::service).items.size() == 3);
  CHECK(after->table(Kind::service).lookup("t").found == nullptr);
  // the tasks of the removed service stay until the engine says otherwise (a task listing)
  bool saw_remove = false, saw_scale = false;
  for (const auto& e : entries) {
    if (e.kind == Kind::service && e.action == Action::remove && e.name == "t") saw_remove = true;
    if (e.kind == Kind::service && e.action == Action::update && e.name == "web") {
      CHECK(e.summary == "replicas 2 → 6");
      saw_scale = true;
    }
  }
  CHECK(saw_remove);
  CHECK(saw_scale);
  CHECK(after->tally(web->id).desired == 6);
  // unchanged kinds keep their tables
  CHECK(after->tables.at(static_cast<std::size_t>(Kind::node)) ==
        snap->tables.at(static_cast<std::size_t>(Kind::node)));
  CHECK(after->generation_of(Kind::node) == snap->generation_of(Kind::node));
  CHECK(after->generation_of(Kind::service) == snap->generation_of(Kind::service) + 1);
}

TEST_CASE("a scoped task listing removes only that service's vanished tasks") {
  Store store(100);
  (void)store.apply(full_sync());
  const auto snap = store.snapshot();
  Change c;
  c.scoped_tasks.push_back({Change::Scoped::By::service, "zm877tfyji7wheye1kbd0qt4w", {}});
  const auto entries = store.apply(c);
  std::size_t removed = 0;
  for (const auto& e : entries) removed += e.action == Action::remove ? 1 : 0;
  std::size_t of_web = 0;
  for (const auto& t : snap->table(Kind::task).items) {
    of_web += t->service_id == "zm877tfyji7wheye1kbd0qt4w" ? 1 : 0;
  }
  CHECK(removed == of_web);
  CHECK(store.snapshot()->table(Kind::task).items.size() == 7 - of_web);
}

TEST_CASE("a removed service's tasks stay, with their names, until the engine stops listing them") {
  Store store(100);
  (void)store.apply(full_sync());
  std::map<std::string, std::string> names;
  // Held: a temporary snapshot would die before the loop runs.
  const auto held_t = store.snapshot();
  for (const auto& t : held_t->table(Kind::task).items) {
    if (t->service_id == "zm877tfyji7wheye1kbd0qt4w") names[t->id] = t->name;
  }
  REQUIRE_FALSE(names.empty());
  Change c;
  c.removals.emplace_back(Kind::service, "zm877tfyji7wheye1kbd0qt4w");
  const auto entries = store.apply(c);
  for (const auto& e : entries) CHECK(e.kind != Kind::task);
  // The engine lists them again (desired state "remove"): updated, never re-created, and they
  // keep the names their service gave them.
  Change relisted;
  std::vector<ObjectPtr> tasks;
  // Held: a temporary snapshot would die before the loop runs.
  const auto held_t2 = store.snapshot();
  for (const auto& t : held_t2->table(Kind::task).items) {
    auto copy = std::make_shared<Object>(*t);
    if (names.contains(t->id)) {
      copy->desired_state = "remove";
      copy->version += 10;
      copy->name.clear();
      copy->service_name.clear();
    }
    tasks.push_back(std::move(copy));
  }
  relisted.full.at(static_cast<std::size_t>(Kind::task)) = tasks;
  for (const auto& e : store.apply(relisted)) {
    CHECK(e.action == Action::update);
    CHECK_FALSE(e.name.empty());
  }
  for (const auto& [id, name] : names) {
    const auto* t = store.snapshot()->table(Kind::task).find(id);
    REQUIRE(t != nullptr);
    CHECK(t->name == name);
    CHECK(t->desired_state == "remove");
  }
}

TEST_CASE("task state changes are summarised with exit codes") {
  Store store(100);
  (void)store.apply(full_sync());
  const auto task = store.snapshot()->table(Kind::task).find("83qmg7ury58tgmzdkzid6bxzp");
  REQUIRE(task != nullptr);
  auto copy = std::make_shared<Object>(*task);
  copy->version += 10;
  copy->state = "failed";
  copy->exit_code = 137;
  Change c;
  c.upserts.push_back(copy);
  const auto entries = store.apply(c);
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].summary == "state running → failed with exit code 137");
}

TEST_CASE("a created service is summarised with its replicas, in the right number") {
  Store store(100);
  (void)store.apply(full_sync());
  auto one = parse_object(
      Kind::service,
      R"({"ID":"one1","Version":{"Index":1},"Spec":{"Name":"one","TaskTemplate":{"ContainerSpec":{"Image":"busybox"}},"Mode":{"Replicated":{"Replicas":1}}}})");
  auto two = parse_object(
      Kind::service,
      R"({"ID":"two2","Version":{"Index":1},"Spec":{"Name":"two","TaskTemplate":{"ContainerSpec":{"Image":"busybox"}},"Mode":{"Replicated":{"Replicas":2}}}})");
  Change c;
  c.upserts = {one.object, two.object};
  const auto entries = store.apply(c);
  REQUIRE(entries.size() == 2);
  std::set<std::string> summaries{entries[0].summary, entries[1].summary};
  CHECK(summaries.contains("service created: 1 replica of busybox"));
  CHECK(summaries.contains("service created: 2 replicas of busybox"));
}

TEST_CASE("stacks exist while a service carries the namespace") {
  auto svc = parse_object(
      Kind::service,
      R"({"ID":"s1","Version":{"Index":1},"Spec":{"Name":"shop_web","Labels":{"com.docker.stack.namespace":"shop"},"Mode":{"Replicated":{"Replicas":2}}}})");
  auto cfg = parse_object(
      Kind::config,
      R"({"ID":"c1","Version":{"Index":2},"Spec":{"Name":"shop_cfg","Labels":{"com.docker.stack.namespace":"shop"}}})");
  auto orphan = parse_object(
      Kind::config,
      R"({"ID":"c2","Version":{"Index":3},"Spec":{"Name":"x","Labels":{"com.docker.stack.namespace":"gone"}}})");
  Store store(100);
  (void)store.apply(full_sync());  // the baseline
  Change c;
  c.upserts = {svc.object, cfg.object, orphan.object};
  auto entries = store.apply(c);
  auto snap = store.snapshot();
  const Stack* shop = snap->stack("shop");
  REQUIRE(shop != nullptr);
  CHECK(shop->of(Kind::service).size() == 1);
  CHECK(shop->of(Kind::config).size() == 1);
  CHECK(snap->stack("gone") == nullptr);
  bool created = false;
  for (const auto& e : entries) created |= e.kind == Kind::stack && e.action == Action::create;
  CHECK(created);

  Change rm;
  rm.removals.emplace_back(Kind::service, "s1");
  entries = store.apply(rm);
  CHECK(store.snapshot()->stack("shop") == nullptr);
  bool removed = false;
  for (const auto& e : entries) removed |= e.kind == Kind::stack && e.action == Action::remove;
  CHECK(removed);
}

TEST_CASE("lookup takes an ID, a name or a unique prefix") {
  Store store(100);
  (void)store.apply(full_sync());
  const auto& services = store.snapshot()->table(Kind::service);
  CHECK(services.lookup("zm877tfyji7wheye1kbd0qt4w").found != nullptr);
  CHECK(services.lookup("zm87").found != nullptr);
  CHECK(services.lookup("web").found != nullptr);
  CHECK(services.lookup("nope").found == nullptr);
  CHECK(services.lookup("").found == nullptr);
}

TEST_CASE("the history ring is bounded and newest first") {
  History h(3);
  std::vector<HistoryEntry> e(5);
  for (std::size_t i = 0; i < e.size(); ++i) e[i].name = std::to_string(i);
  h.append(e);
  CHECK(h.size() == 3);
  const auto latest = h.latest(10);
  REQUIRE(latest.size() == 3);
  CHECK(latest[0].name == "4");
  CHECK(latest[2].name == "2");
  CHECK(h.latest(10, latest[0].id).size() == 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  History later(3);
  std::vector<HistoryEntry> one(1);
  later.append(one);
  CHECK(one[0].id > e.back().id);  // IDs never repeat across restarts
}

TEST_CASE("history IDs follow the clock and never repeat when it steps back") {
  std::int64_t clock = 5'000'000;
  History h(100, [&] { return clock; });
  CHECK(h.seed() == 5'000'000);
  std::vector<HistoryEntry> a(2);
  h.append(a);
  CHECK(a[0].id == 5'000'001);  // above the seed, even with the clock standing still
  CHECK(a[1].id == 5'000'002);
  clock = 9'000'000;  // time passes: IDs catch up with it
  std::vector<HistoryEntry> b(1);
  h.append(b);
  CHECK(b[0].id == 9'000'000);
  clock = 1'000'000;  // the clock is stepped back an hour's worth
  std::vector<HistoryEntry> c(2);
  h.append(c);
  CHECK(c[0].id == 9'000'001);
  CHECK(c[1].id == 9'000'002);
  CHECK(h.last_id() == 9'000'002);
  // A process started after the step counts from its clock; one started later than the last
  // ID was issued counts above it.
  History later(100, [] { return 9'500'000; });
  std::vector<HistoryEntry> d(1);
  later.append(d);
  CHECK(d[0].id > c[1].id);
}

TEST_CASE("history readers run their filters without holding up the writer") {
  History h(1000);
  std::vector<HistoryEntry> first(10);
  h.append(first);
  std::promise<void> inside;
  std::promise<void> appended;
  auto appended_f = appended.get_future().share();
  std::atomic<bool> saw_append{false};
  std::thread reader([&] {
    HistoryQuery q;
    q.limit = 1;
    bool once = false;
    q.match = [&](const HistoryEntry&) {
      if (!std::exchange(once, true)) {
        inside.set_value();
        // The writer appends while this filter runs; a generous bound keeps a regression from
        // hanging the suite instead of failing it.
        saw_append = appended_f.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
      }
      return true;
    };
    (void)h.query(q);
  });
  inside.get_future().wait();
  std::vector<HistoryEntry> more(5);
  h.append(more);
  appended.set_value();
  reader.join();
  CHECK(saw_append);
  CHECK(h.size() == 15);
}

TEST_CASE("a history view stays whole while the writer appends and evicts") {
  History h(600, [] { return 0; });  // IDs 1, 2, 3…: each entry's name can say its ID
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::atomic<int> views{0};
  std::thread reader([&] {
    while (!done.load()) {
      const auto v = h.view();
      views.fetch_add(1);
      if (v->size() > 600) bad.fetch_add(1);
      for (std::size_t i = 0; i < v->size(); ++i) {
        const auto& e = v->at(i);
        if (e.name != std::to_string(e.id) || (i > 0 && e.id != v->at(i - 1).id + 1)) {
          bad.fetch_add(1);
        }
      }
      if (!v->empty() && v->newest().id != v->last_id()) bad.fetch_add(1);
    }
  });
  while (views.load() == 0) std::this_thread::yield();  // the reader is running
  std::uint64_t next = 0;
  for (int round = 0; round < 3000; ++round) {
    std::vector<HistoryEntry> batch(static_cast<std::size_t>(round % 7) + 1);
    for (auto& e : batch) e.name = std::to_string(++next);
    h.append(batch);
    CHECK(batch.back().id == next);
  }
  done = true;
  reader.join();
  CHECK(bad.load() == 0);
  CHECK(views.load() > 0);
  const auto v = h.view();
  CHECK(v->size() == 600);
  CHECK(v->at(0).id == next - 599);
  CHECK(v->first_after(next - 10) == 590);
  CHECK(h.latest(3, next - 1).front().id == next - 2);
  CHECK(h.latest(3, 0).empty());
}

TEST_CASE("tasks carry their service's name, also when listed before the service") {
  auto task = parse_object(
      Kind::task,
      R"({"ID":"t1","Version":{"Index":5},"ServiceID":"s1","NodeID":"n1","Status":{"State":"running"}})");
  auto svc = parse_object(
      Kind::service,
      R"({"ID":"s1","Version":{"Index":1},"Spec":{"Name":"web","Mode":{"Replicated":{"Replicas":1}}}})");
  Store store(100);
  Change first;
  first.upserts = {task.object};
  (void)store.apply(first);
  CHECK(store.snapshot()->table(Kind::task).find("t1")->service_name.empty());
  Change second;
  second.upserts = {svc.object};
  (void)store.apply(second);
  CHECK(store.snapshot()->table(Kind::task).find("t1")->service_name == "web");
  // a later task of a known service is stamped as it enters
  auto task2 = parse_object(
      Kind::task,
      R"({"ID":"t2","Version":{"Index":6},"ServiceID":"s1","NodeID":"n1","Status":{"State":"running"}})");
  Change third;
  third.upserts = {task2.object};
  (void)store.apply(third);
  CHECK(store.snapshot()->table(Kind::task).find("t2")->service_name == "web");
  // the engine's bytes are untouched
  CHECK(store.snapshot()->table(Kind::task).find("t2")->raw == task2.object->raw);
}

TEST_CASE("a re-list shares the objects whose version did not move") {
  Store store(100);
  (void)store.apply(full_sync());
  const auto snap = store.snapshot();
  const auto again = parse_list(Kind::task, sample("tasks-running.json"), &snap->table(Kind::task));
  REQUIRE(again.objects.size() == 4);
  for (const auto& t : again.objects) CHECK(t == snap->table(Kind::task).get(t->id));
  // a moved version is parsed afresh
  std::string body = sample("tasks-running.json");
  const auto pos = body.find("\"Index\":");
  REQUIRE(pos != std::string::npos);
  body.insert(pos + 8, "9");
  const auto moved = parse_list(Kind::task, body, &snap->table(Kind::task));
  std::size_t fresh = 0;
  for (const auto& t : moved.objects) fresh += t != snap->table(Kind::task).get(t->id) ? 1 : 0;
  CHECK(fresh == 1);
}

namespace {

// A replicated service as the engine sends it; `extra` adds top-level members (UpdateStatus).
ObjectPtr service(const std::string& labels, const std::string& extra = "",
                  const std::string& image = "busybox", int replicas = 2) {
  return narwhal::test::object(
      Kind::service, R"({"ID":"s1","Version":{"Index":7},"Spec":{"Name":"web","Labels":{)" +
                         labels + R"(},"TaskTemplate":{"ContainerSpec":{"Image":")" + image +
                         R"("}},"Mode":{"Replicated":{"Replicas":)" + std::to_string(replicas) +
                         "}}}" + extra + "}");
}

std::string update_status(const std::string& state, const std::string& message = "") {
  return R"(,"UpdateStatus":{"State":")" + state +
         R"(","StartedAt":"2026-11-22T10:03:13.285173037Z","Message":")" + message + R"("})";
}

}  // namespace

TEST_CASE("a service's UpdateStatus parses into its typed fields") {
  const Object* web = nullptr;
  const auto services = listing(Kind::service, "services.json");
  for (const auto& s : services) {
    if (s->name == "web") {
      web = s.get();
    } else {
      CHECK(s->update_state.empty());  // never updated
    }
  }
  REQUIRE(web != nullptr);
  CHECK(web->update_state == "completed");
  CHECK(web->update_message == "update completed");
}

TEST_CASE("a rolling update's progress and end are summarised") {
  const auto none = service("");
  const auto updating = service("", update_status("updating", "update in progress"));
  const auto completed = service("", update_status("completed", "update completed"));
  const auto paused = service(
      "", update_status("paused", "update paused due to failure or early termination of task x1"));
  const auto rollback =
      service("", update_status("rollback_started", "manually requested rollback"));
  const auto rolled_back = service("", update_status("rollback_completed", "rollback completed"));
  CHECK(summarise(none.get(), updating.get()) == "update started");
  CHECK(summarise(completed.get(), updating.get()) == "update started");
  CHECK(summarise(updating.get(), completed.get()) == "update updating → completed");
  CHECK(summarise(updating.get(), paused.get()) ==
        "update paused: update paused due to failure or early termination of task x1");
  CHECK(summarise(updating.get(), rollback.get()) ==
        "rollback started: manually requested rollback");
  CHECK(summarise(rollback.get(), rolled_back.get()) ==
        "update rollback_started → rollback_completed");
  // A reason the engine left empty adds no dangling colon.
  CHECK(summarise(updating.get(), service("", update_status("rollback_paused")).get()) ==
        "rollback paused");
  // The spec change that starts an update comes first.
  CHECK(summarise(completed.get(), service("", update_status("updating"), "nginx", 3).get()) ==
        "replicas 2 → 3, image busybox → nginx, update started");
  // Scaling resets the status of the last update: only the scaling is news.
  CHECK(summarise(completed.get(), service("", "", "busybox", 3).get()) == "replicas 2 → 3");
  // Progress the engine reports without a state change is no news to name.
  CHECK(summarise(updating.get(), service("", update_status("updating", "other")).get()) ==
        "service updated");
}

TEST_CASE("label changes are named, after the other changes, and bounded") {
  const auto web = service(R"("tier":"web","owner":"ops")");
  CHECK(summarise(web.get(), service(R"("tier":"api","owner":"ops")").get()) ==
        "label tier: web → api");
  CHECK(summarise(web.get(), service(R"("tier":"web")").get()) == "label owner removed");
  CHECK(summarise(service(R"("tier":"web")").get(), web.get()) == "label owner added");
  CHECK(summarise(web.get(), service(R"("tier":"")").get()) ==
        R"(label owner removed, label tier: web → "")");
  // The engine's member order says nothing.
  CHECK(summarise(web.get(), service(R"("owner":"ops","tier":"web")").get()) == "service updated");
  CHECK(summarise(web.get(), service(R"("tier":"api","owner":"ops")", "", "busybox", 3).get()) ==
        "replicas 2 → 3, label tier: web → api");
  CHECK(summarise(service("").get(), service(R"("a":"1","b":"2","c":"3","d":"4","e":"5")").get()) ==
        "label a added, label b added, label c added, and 2 more labels changed");
  CHECK(summarise(service("").get(), service(R"("a":"1","b":"2","c":"3","d":"4")").get()) ==
        "label a added, label b added, label c added, and 1 more label changed");
  // A long value is cut, on a character boundary: 79 bytes, then "é" would straddle byte 80.
  const std::string long_value = std::string(79, 'v') + "é";
  CHECK(summarise(web.get(), service(R"("tier":")" + long_value + R"(","owner":"ops")").get()) ==
        "label tier: web → " + std::string(79, 'v') + "…");
  // Nodes' labels too.
  const auto nodes = listing(Kind::node, "nodes.json");
  REQUIRE(nodes.size() == 1);
  const auto relabelled = edited(nodes[0], R"("zone":"a")", R"("zone":"b")");
  CHECK(summarise(nodes[0].get(), relabelled.get()) == "label zone: a → b");
}

TEST_CASE("a task's new version is news only when something a person sees changed") {
  Store store(100);
  (void)store.apply(full_sync());
  const auto before = store.snapshot();
  const auto task = before->table(Kind::task).get("83qmg7ury58tgmzdkzid6bxzp");
  REQUIRE(task != nullptr);
  // The agent re-reports the same status: only the version and the timestamps move.
  const auto bumped = edited(edited(task, R"("Index":246)", R"("Index":300)"),
                             R"("Timestamp":"2026-11-22T10:03:15.045250961Z")",
                             R"("Timestamp":"2026-11-22T10:09:00Z")");
  CHECK_FALSE(worth_recording(*task, *bumped));
  Change c;
  c.upserts = {bumped};
  const auto entries = store.apply(c);
  CHECK(entries.empty());
  CHECK(store.history().size() == 0);
  // The table still holds the new version, and the snapshot moved on with it.
  const auto after = store.snapshot();
  REQUIRE(after->table(Kind::task).get(task->id) != nullptr);
  CHECK(after->table(Kind::task).get(task->id)->version == 300);
  CHECK(after->generation_of(Kind::task) == before->generation_of(Kind::task) + 1);
  CHECK(after->generation > before->generation);

  // A new container, a new error or a new node is news even when the state stays.
  auto restarted = std::make_shared<Object>(*bumped);
  restarted->version = 301;
  restarted->container_id = "c0ffee";
  CHECK(worth_recording(*bumped, *restarted));
  auto moved = std::make_shared<Object>(*bumped);
  moved->node_id = "other";
  CHECK(worth_recording(*bumped, *moved));
  auto erred = std::make_shared<Object>(*bumped);
  erred->error = "no suitable node";
  CHECK(worth_recording(*bumped, *erred));
  CHECK(summarise(bumped.get(), erred.get()) == "error: no suitable node");
  Change news;
  news.upserts = {restarted};
  const auto recorded = store.apply(news);
  REQUIRE(recorded.size() == 1);
  CHECK(recorded[0].summary.starts_with("container "));

  // Other kinds record every new version.
  const auto svc = before->table(Kind::service).get("zm877tfyji7wheye1kbd0qt4w");
  REQUIRE(svc != nullptr);
  CHECK(worth_recording(*svc, *edited(svc, R"("Index":247)", R"("Index":248)")));
}

TEST_CASE("secret-looking environment values never leave the parse") {
  const auto redactor = EnvRedactor::compile(kDefaultRedactPattern);
  REQUIRE(redactor);
  CHECK(redactor->hides("DB_PASSWORD"));
  CHECK(redactor->hides("aws_secret_access_key"));
  CHECK(redactor->hides("GITHUB_TOKEN"));
  CHECK_FALSE(redactor->hides("DATABASE_HOST"));
  const std::string svc_json =
      R"({"ID":"s1","Version":{"Index":5},"Spec":{"Name":"api","TaskTemplate":{"ContainerSpec":)"
      R"({"Image":"app","Env":["DB_PASSWORD=hunter2","MODE=prod","API_KEY=k=v=w","TOKEN"]}}},)"
      R"("PreviousSpec":{"Name":"api","TaskTemplate":{"ContainerSpec":{"Env":["DB_PASSWORD=old"]}}}})";
  const auto svc = parse_object(Kind::service, svc_json, &*redactor);
  REQUIRE(svc.object);
  CHECK(svc.object->raw.find("hunter2") == std::string::npos);
  CHECK(svc.object->raw.find("k=v=w") == std::string::npos);
  CHECK(svc.object->raw.find("\"old\"") == std::string::npos);
  CHECK(svc.object->raw.find("DB_PASSWORD=old") == std::string::npos);
  CHECK(svc.object->raw.find(
            R"("DB_PASSWORD=[redacted]","MODE=prod","API_KEY=[redacted]","TOKEN")") !=
        std::string::npos);
  const std::string task_json =
      R"({"ID":"t1","Version":{"Index":6},"ServiceID":"s1","Status":{"State":"running"},)"
      R"("Spec":{"ContainerSpec":{"Env":["PRIVATE_KEY=-----BEGIN","PATH=/bin"]}}})";
  const auto task = parse_object(Kind::task, task_json, &*redactor);
  REQUIRE(task.object);
  CHECK(task.object->raw.find("BEGIN") == std::string::npos);
  CHECK(task.object->raw.find("PATH=/bin") != std::string::npos);
  // Listings too, and without a redactor (or with "") nothing is hidden.
  const auto listed = parse_list(Kind::task, "[" + task_json + "]", nullptr, &*redactor);
  REQUIRE(listed.objects.size() == 1);
  CHECK(listed.objects[0]->raw.find("BEGIN") == std::string::npos);
  CHECK(parse_object(Kind::task, task_json).object->raw.find("BEGIN") != std::string::npos);
  const auto off = EnvRedactor::compile("");
  REQUIRE(off);
  CHECK_FALSE(off->enabled());
  CHECK(parse_object(Kind::task, task_json, &*off).object->raw.find("BEGIN") != std::string::npos);
  // A custom pattern, matched in any case; a bad one is an error.
  const auto custom = EnvRedactor::compile("^aws_");
  REQUIRE(custom);
  CHECK(custom->hides("AWS_REGION"));
  CHECK_FALSE(custom->hides("MY_AWS_X"));
  CHECK_FALSE(EnvRedactor::compile("(unclosed"));
}

TEST_CASE("config and secret data never reach narwhal's objects") {
  const auto config = parse_object(
      Kind::config,
      R"({"ID":"c1","Version":{"Index":1},"Spec":{"Name":"nginx","Data":"bGlzdGVu"}})");
  REQUIRE(config.object);
  CHECK(config.object->raw.find("Data") == std::string::npos);
  CHECK(config.object->raw.find("bGlzdGVu") == std::string::npos);
  const auto secret = parse_object(
      Kind::secret, R"({"ID":"x1","Version":{"Index":1},"Spec":{"Name":"pw","Data":"c2VjcmV0"}})");
  REQUIRE(secret.object);
  CHECK(secret.object->raw.find("c2VjcmV0") == std::string::npos);
}
