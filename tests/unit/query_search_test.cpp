// /search over a snapshot: what matches (names, task names, ID prefixes, case), how groups are
// ordered and cut, and that the answer does not depend on table order or repetition.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "../support/samples.hpp"
#include "narwhal/query/list_query.hpp"
#include "narwhal/query/search.hpp"
#include "narwhal/state/store.hpp"
#include "narwhal/util/text.hpp"

using namespace narwhal;
using narwhal::query::search;
using narwhal::query::SearchGroup;
using narwhal::query::SearchResult;
using narwhal::state::Kind;
using narwhal::state::ObjectPtr;

namespace {

ObjectPtr node(const std::string& id, const std::string& host) {
  return test::object(Kind::node, R"({"ID":")" + id +
                                      R"(","Version":{"Index":1},"Spec":{"Role":"worker"},)"
                                      R"("Description":{"Hostname":")" +
                                      host + R"("},"Status":{"State":"ready"}})");
}

ObjectPtr service(const std::string& id, const std::string& name, const std::string& stack) {
  const std::string labels =
      stack.empty() ? "" : R"("com.docker.stack.namespace":")" + stack + "\"";
  return test::object(Kind::service, R"({"ID":")" + id +
                                         R"(","Version":{"Index":2},"Spec":{"Name":")" + name +
                                         R"(","Labels":{)" + labels +
                                         R"(},"Mode":{"Replicated":{"Replicas":1}}}})");
}

ObjectPtr task(const std::string& id, const std::string& service_id, int slot) {
  return test::object(Kind::task, R"({"ID":")" + id + R"(","Version":{"Index":3},"ServiceID":")" +
                                      service_id + R"(","NodeID":"n1node","Slot":)" +
                                      std::to_string(slot) + R"(,"Status":{"State":"running"}})");
}

ObjectPtr spec_named(Kind kind, const std::string& id, const std::string& name) {
  return test::object(
      kind, R"({"ID":")" + id + R"(","Version":{"Index":4},"Spec":{"Name":")" + name + R"("}})");
}

// A small swarm where "web" is in a service, its stack-less twin "Web", their tasks, a node, a
// config and a volume; stack "shop" holds two services; service "bulk" has 30 tasks and "dup"
// two tasks with the same name (a replaced task keeps its slot). IDs are chosen so that no name
// contains an ID prefix test query by accident.
std::vector<ObjectPtr> swarm_objects() {
  std::vector<ObjectPtr> v;
  v.push_back(node("n1node", "web-host"));
  v.push_back(node("n2node", "db-host"));
  v.push_back(service("s1shopweb", "shop_web", "shop"));
  v.push_back(service("s2web", "Web", ""));
  v.push_back(service("s3shopdb", "shop_db", "shop"));
  v.push_back(service("s4bulk", "bulk", ""));
  v.push_back(service("s5dup", "dup", ""));
  v.push_back(service("zq7kx3", "admin", ""));
  v.push_back(task("t1a", "s1shopweb", 1));
  v.push_back(task("t1b", "s1shopweb", 2));
  v.push_back(task("t2a", "s2web", 1));
  v.push_back(task("t3a", "s3shopdb", 1));
  for (int i = 1; i <= 30; ++i) {
    // IDs out of name order, so that order by name is not table (ID) order.
    v.push_back(task("tb" + std::to_string(100 - i), "s4bulk", i));
  }
  v.push_back(task("td2", "s5dup", 1));
  v.push_back(task("td1", "s5dup", 1));
  v.push_back(spec_named(Kind::config, "9xkcfg", "web_cfg"));
  v.push_back(spec_named(Kind::secret, "x1sec", "db_pass"));
  v.push_back(
      test::object(Kind::network, R"({"Id":"net1shop","Name":"shop_default","Driver":"overlay"})"));
  v.push_back(
      test::object(Kind::network, R"({"Id":"net2ing","Name":"ingress","Driver":"overlay"})"));
  v.push_back(test::object(Kind::volume, R"({"Name":"webdata","Driver":"local"})"));
  return v;
}

state::SnapshotPtr snapshot_of(std::vector<ObjectPtr> objects) {
  state::Change c;
  c.upserts = std::move(objects);
  state::Store store(16);
  (void)store.apply(c);
  return store.snapshot();
}

const state::Snapshot& swarm() {
  static const state::SnapshotPtr s = snapshot_of(swarm_objects());
  return *s;
}

std::vector<Kind> kinds(const SearchResult& r) {
  std::vector<Kind> out;
  for (const auto& g : r.groups) out.push_back(g.kind);
  return out;
}

const SearchGroup* group(const SearchResult& r, Kind kind) {
  for (const auto& g : r.groups) {
    if (g.kind == kind) return &g;
  }
  return nullptr;
}

// The names listed in the group of `kind` ("" entries never appear: every fixture object is named).
std::vector<std::string> names(const SearchResult& r, Kind kind) {
  std::vector<std::string> out;
  const SearchGroup* g = group(r, kind);
  if (g == nullptr) return out;
  for (const auto* o : g->items) out.push_back(o->name);
  for (const auto* st : g->stacks) out.push_back(st->name);
  return out;
}

// Everything a result says, as text: kinds, totals, names and IDs in order.
std::string describe(const SearchResult& r) {
  std::string out = "total=" + std::to_string(r.total);
  for (const auto& g : r.groups) {
    out += " | " + std::string(state::kind_name(g.kind)) + " " + std::to_string(g.total) + ":";
    for (const auto* o : g.items) out += " " + o->name + "#" + o->id;
    for (const auto* st : g.stacks) out += " " + st->name;
  }
  return out;
}

// The obvious, slow answer: every object tested, all matches sorted, then cut.
std::string reference(const state::Snapshot& snap, std::string_view q, std::size_t limit) {
  auto matches = [&](std::string_view name, std::string_view id) {
    const std::string lname = util::to_lower(name), lid = util::to_lower(id),
                      lq = util::to_lower(q);
    return lname.find(lq) != std::string::npos || lid.rfind(lq, 0) == 0;
  };
  std::string out;
  std::size_t total = 0;
  for (const Kind kind : query::kSearchOrder) {
    std::vector<std::pair<std::string, std::string>> found;
    if (kind == Kind::stack) {
      for (const auto& st : *snap.stacks) {
        if (matches(st.name, "")) found.emplace_back(st.name, "");
      }
    } else {
      for (const auto& o : snap.table(kind).items) {
        if (matches(o->name, o->id)) found.emplace_back(o->name, o->id);
      }
    }
    if (found.empty()) continue;
    total += found.size();
    std::sort(found.begin(), found.end());
    out += " | " + std::string(state::kind_name(kind)) + " " + std::to_string(found.size()) + ":";
    for (std::size_t i = 0; i < found.size() && i < limit; ++i) {
      out += " " + found[i].first + (kind == Kind::stack ? "" : "#" + found[i].second);
    }
  }
  return "total=" + std::to_string(total) + out;
}

}  // namespace

TEST_CASE("search_matches: a substring of the name or a prefix of the ID, any case") {
  using query::search_matches;
  CHECK(search_matches("shop_web", "abc", "web"));
  CHECK(search_matches("shop_web", "abc", "WEB"));
  CHECK(search_matches("Shop_Web", "abc", "p_w"));
  CHECK(search_matches("x", "zm877tfyji", "zm87"));
  CHECK(search_matches("x", "zm877tfyji", "ZM87"));
  CHECK(search_matches("x", "zm877tfyji", "zm877tfyji"));  // the whole ID
  CHECK_FALSE(search_matches("x", "zm877tfyji", "877"));   // inside an ID is not a prefix
  CHECK_FALSE(search_matches("x", "zm877tfyji", "zm877tfyjiq"));
  CHECK_FALSE(search_matches("web", "", "webs"));
  CHECK(search_matches("web", "", ""));
}

TEST_CASE("search is case-insensitive and finds every kind a name appears in") {
  const auto lower = search(swarm(), "web", 50);
  const auto upper = search(swarm(), "WEB", 50);
  const auto mixed = search(swarm(), "wEb", 50);
  CHECK(describe(lower) == describe(upper));
  CHECK(describe(lower) == describe(mixed));
  CHECK(kinds(lower) ==
        std::vector<Kind>{Kind::service, Kind::task, Kind::node, Kind::config, Kind::volume});
  // Sorted by name, byte-wise: upper-case "Web" before "shop_web".
  CHECK(names(lower, Kind::service) == std::vector<std::string>{"Web", "shop_web"});
  CHECK(names(lower, Kind::task) == std::vector<std::string>{"Web.1", "shop_web.1", "shop_web.2"});
  CHECK(names(lower, Kind::node) == std::vector<std::string>{"web-host"});
  CHECK(names(lower, Kind::config) == std::vector<std::string>{"web_cfg"});
  CHECK(names(lower, Kind::volume) == std::vector<std::string>{"webdata"});
  CHECK(lower.total == 8);
}

TEST_CASE("tasks are found by the name the docker CLI shows") {
  const auto r = search(swarm(), "shop_web.2", 50);
  CHECK(kinds(r) == std::vector<Kind>{Kind::task});
  REQUIRE(group(r, Kind::task) != nullptr);
  REQUIRE(group(r, Kind::task)->items.size() == 1);
  CHECK(group(r, Kind::task)->items.front()->id == "t1b");

  // Stacks by name, alongside their services, tasks and network.
  const auto shop = search(swarm(), "shop", 50);
  CHECK(kinds(shop) == std::vector<Kind>{Kind::service, Kind::stack, Kind::task, Kind::network});
  CHECK(names(shop, Kind::stack) == std::vector<std::string>{"shop"});
  CHECK(names(shop, Kind::service) == std::vector<std::string>{"shop_db", "shop_web"});
  REQUIRE(group(shop, Kind::stack) != nullptr);
  CHECK(group(shop, Kind::stack)->items.empty());
}

TEST_CASE("an ID prefix or a whole ID finds the object, in any case") {
  const auto prefix = search(swarm(), "zq7", 50);
  CHECK(kinds(prefix) == std::vector<Kind>{Kind::service});
  CHECK(names(prefix, Kind::service) == std::vector<std::string>{"admin"});
  CHECK(describe(search(swarm(), "ZQ7K", 50)) == describe(prefix));
  CHECK(describe(search(swarm(), "zq7kx3", 50)) == describe(prefix));
  // Beyond the ID, or from its middle: nothing.
  CHECK(search(swarm(), "zq7kx3x", 50).groups.empty());
  CHECK(search(swarm(), "q7kx", 50).groups.empty());
  // Hex network IDs and config IDs too.
  CHECK(names(search(swarm(), "9xk", 50), Kind::config) == std::vector<std::string>{"web_cfg"});
  CHECK(names(search(swarm(), "net2", 50), Kind::network) == std::vector<std::string>{"ingress"});
}

TEST_CASE("groups come in the fixed order; the empty query finds everything") {
  const auto all = search(swarm(), "", 1000);
  CHECK(kinds(all) == std::vector<Kind>(query::kSearchOrder.begin(), query::kSearchOrder.end()));
  std::size_t sum = 0;
  for (const auto& g : all.groups) {
    const std::size_t size =
        g.kind == Kind::stack ? swarm().stacks->size() : swarm().table(g.kind).items.size();
    CHECK(g.total == size);
    CHECK(g.items.size() + g.stacks.size() == size);
    sum += g.total;
  }
  CHECK(all.total == sum);
  CHECK(all.total == swarm_objects().size() + 1);  // + stack "shop"
}

TEST_CASE("the per-type limit cuts the list, never the total") {
  const auto r = search(swarm(), "bulk", 5);
  REQUIRE(kinds(r) == std::vector<Kind>{Kind::service, Kind::task});
  const SearchGroup& tasks = *group(r, Kind::task);
  CHECK(tasks.total == 30);
  CHECK(r.total == 31);
  // The first five by name, not the first five of the table (IDs run against the slots).
  CHECK(names(r, Kind::task) ==
        std::vector<std::string>{"bulk.1", "bulk.10", "bulk.11", "bulk.12", "bulk.13"});

  // Same names: by ID.
  const auto dup = search(swarm(), "dup.1", 1);
  REQUIRE(group(dup, Kind::task) != nullptr);
  CHECK(group(dup, Kind::task)->total == 2);
  REQUIRE(group(dup, Kind::task)->items.size() == 1);
  CHECK(group(dup, Kind::task)->items.front()->id == "td1");

  // A limit of 0 counts without listing.
  const auto counted = search(swarm(), "web", 0);
  CHECK(counted.total == 8);
  for (const auto& g : counted.groups) {
    CHECK(g.total > 0);
    CHECK(g.items.empty());
    CHECK(g.stacks.empty());
  }
}

TEST_CASE("no match: no groups and a total of 0") {
  for (const std::string q : {"nothing-is-called-this", "%", "web host"}) {
    const auto r = search(swarm(), q, 50);
    CHECK_MESSAGE(r.groups.empty(), q);
    CHECK(r.total == 0);
  }
  // Longer than every name and every ID, as long as the search limit allows.
  const std::string long_q(200, 'w');
  CHECK(search(swarm(), long_q, 50).groups.empty());
  const std::string padded = "shop_web" + std::string(192, ' ');
  CHECK(search(swarm(), padded, 50).groups.empty());

  const state::Snapshot empty;
  CHECK(search(empty, "web", 50).groups.empty());
  CHECK(search(empty, "", 50).groups.empty());
}

TEST_CASE("the engine's sample swarm: names, task names and stack-less objects") {
  state::Store store(16);
  (void)store.apply(test::full_sync());
  const auto snap = store.snapshot();
  const auto app = search(*snap, "APP", 50);
  CHECK(kinds(app) == std::vector<Kind>{Kind::config, Kind::secret, Kind::network, Kind::volume});
  CHECK(names(app, Kind::config) == std::vector<std::string>{"app_cfg", "app_cfg2"});
  CHECK(names(app, Kind::volume) == std::vector<std::string>{"appvol"});
  // "web" has one running task (slot 2) and three finished ones (slots 1 and 3, twice).
  const auto web = search(*snap, "web.", 50);
  CHECK(names(web, Kind::task) == std::vector<std::string>{"web.1", "web.2", "web.3", "web.3"});
  CHECK(names(search(*snap, "VM", 50), Kind::node) == std::vector<std::string>{"vm"});
  CHECK(names(search(*snap, "zm877", 50), Kind::service) == std::vector<std::string>{"web"});
}

TEST_CASE("search agrees with a naive reference and repeats itself byte for byte") {
  // Every name's and ID's substrings and prefixes of a few lengths, some upper-cased.
  std::vector<std::string> queries{"", "a", "S", "_", ".", "1", "z", "xyz"};
  for (const auto& o : swarm_objects()) {
    for (std::size_t len : {1, 2, 3, 5}) {
      if (o->name.size() >= len) queries.push_back(o->name.substr(o->name.size() / 2, len));
      if (o->id.size() >= len) queries.push_back(util::to_lower(o->id.substr(0, len)));
    }
  }
  std::mt19937 rng(7);
  for (auto& q : queries) {
    if (rng() % 3 == 0) std::transform(q.begin(), q.end(), q.begin(), ::toupper);
  }
  for (const auto& q : queries) {
    for (std::size_t limit : {0, 1, 3, 50}) {
      const auto first = describe(search(swarm(), q, limit));
      CHECK_MESSAGE(first == reference(swarm(), q, limit), "q=" << q << " limit=" << limit);
      CHECK(describe(search(swarm(), q, limit)) == first);
    }
  }

  // The same swarm applied in another order is the same answer.
  auto shuffled = swarm_objects();
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  const auto again = snapshot_of(shuffled);
  for (const char* q : {"", "web", "bulk.2", "t", "S"}) {
    CHECK(describe(search(*again, q, 7)) == describe(search(swarm(), q, 7)));
  }
}

TEST_CASE("sorted pages equal a plain sort of the whole list, for every task sort field") {
  // The page is cut from keys resolved once (and a partial sort when the page ends early); a
  // reference that looks names up per comparison and sorts everything must agree, row for row.
  state::Store store(100);
  (void)store.apply(test::full_sync());
  const auto snap = store.snapshot();
  std::vector<const state::Object*> all;
  for (const auto& t : snap->table(Kind::task).items) all.push_back(t.get());
  REQUIRE(all.size() >= 5);
  auto name_of = [&](Kind k, const std::string& id) -> std::string {
    const auto* o = snap->table(k).find(id);
    return o != nullptr ? o->name : id;
  };
  for (const std::string field : {"state", "service", "node", "slot", "created"}) {
    for (const bool desc : {false, true}) {
      auto reference = all;
      std::stable_sort(reference.begin(), reference.end(), [&](const auto* a, const auto* b) {
        auto key = [&](const state::Object* o) -> std::pair<std::int64_t, std::string> {
          if (field == "state") return {0, o->state};
          if (field == "service") return {0, name_of(Kind::service, o->service_id)};
          if (field == "node") return {0, name_of(Kind::node, o->node_id)};
          if (field == "slot") return {static_cast<std::int64_t>(o->slot.value_or(0)), ""};
          return {o->created, ""};
        };
        const auto ka = key(a), kb = key(b);
        if (ka != kb) return desc ? kb < ka : ka < kb;
        return desc ? a->id > b->id : a->id < b->id;
      });
      for (const auto& [offset, limit] : std::vector<std::pair<std::size_t, std::size_t>>{
               {0, 1}, {0, 2}, {1, 1}, {2, 3}, {0, 200}, {all.size() - 1, 5}}) {
        CAPTURE(field);
        CAPTURE(desc);
        CAPTURE(offset);
        CAPTURE(limit);
        query::ListQuery q;
        q.sort = field;
        q.descending = desc;
        q.offset = offset;
        q.limit = limit;
        const auto page = query::select(*snap, Kind::task, all, q, nullptr);
        CHECK(page.total == all.size());
        std::vector<const state::Object*> expected(
            reference.begin() + static_cast<std::ptrdiff_t>(std::min(offset, reference.size())),
            reference.begin() +
                static_cast<std::ptrdiff_t>(std::min(offset + limit, reference.size())));
        REQUIRE(page.items.size() == expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i) CHECK(page.items[i] == expected[i]);
      }
    }
  }
}
