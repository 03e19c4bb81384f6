// Collections over HTTP against the real swarm: Range paging through more than 120 objects and
// filter expressions (SPEC §4, §5).
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "swarm_fixture.hpp"

using namespace narwhal::itest;
using namespace std::chrono_literals;

namespace {

std::string encode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.') {
      out.push_back(c);
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

std::vector<std::string> item_names(const HttpReply& r) {
  std::vector<std::string> out;
  const auto* items = at(r.json, "/items");
  if (items == nullptr || !items->IsArray()) return out;
  for (const auto& it : items->GetArray()) out.push_back(str_at(it, "/Spec/Name"));
  return out;
}

}  // namespace

TEST_CASE("real swarm: Range paging through 125 configs by 25s") {
  Swarm& s = require_swarm();
  std::vector<std::string> names;
  for (int i = 0; i < 125; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "pg-%03d", i);
    names.emplace_back(name);
    docker_ok(s, {"config", "create", name, "-"}, "x");
  }
  std::string last;
  const std::string list = "/configs?search=pg-&sort=name";
  REQUIRE_MESSAGE(eventually(s, 30s, last,
                             [&] {
                               const auto r = get(s, list + "&limit=1");
                               last = r.describe();
                               return r.status == 200 && int_at(r.json, "/total") == 125;
                             }),
                  last);

  std::set<std::string> seen;
  for (int page = 0; page < 5; ++page) {
    const int a = page * 25, b = a + 24;
    const auto r =
        get(s, list, {{"Range", "items=" + std::to_string(a) + "-" + std::to_string(b)}});
    CHECK_MESSAGE(r.status == 206, r.describe());
    CHECK(r.header("Content-Range") ==
          "items " + std::to_string(a) + "-" + std::to_string(b) + "/125");
    CHECK(r.header("Accept-Ranges") == "items");
    const auto got = item_names(r);
    CHECK(got.size() == 25);
    for (std::size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i] == names.at(static_cast<std::size_t>(a) + i));  // sorted by name, no gaps
      seen.insert(got[i]);
    }
  }
  CHECK(seen.size() == 125);

  const auto past = get(s, list, {{"Range", "items=125-149"}});
  CHECK_MESSAGE(is_problem(past, 416), past.describe());
  CHECK(past.header("Content-Range") == "items */125");
  const auto everything = get(s, list, {{"Range", "items=0-199"}});
  CHECK_MESSAGE(everything.status == 200, everything.describe());
  CHECK(item_names(everything).size() == 125);
  const auto wins = get(s, list + "&limit=10", {{"Range", "items=0-49"}});
  CHECK(wins.status == 200);
  CHECK(item_names(wins).size() == 10);

  const auto paged = get(s, list + "&limit=25&offset=25");
  const auto link = paged.header("Link");
  CHECK(link.find("</configs?search=pg-&sort=name&limit=25&offset=50>; rel=\"next\"") !=
        std::string::npos);
  CHECK(link.find("</configs?search=pg-&sort=name&limit=25&offset=100>; rel=\"last\"") !=
        std::string::npos);
  CHECK(paged.header("Link-Template") == "</configs/{id}>; rel=\"item\"");

  std::vector<std::string> rm{"config", "rm"};
  rm.insert(rm.end(), names.begin(), names.end());
  docker_ok(s, rm);
  CHECK_MESSAGE(eventually(s, 30s, last,
                           [&] {
                             const auto r = get(s, list + "&limit=1");
                             last = r.describe();
                             return r.status == 200 && int_at(r.json, "/total") == 0;
                           }),
                last);
}

TEST_CASE("real swarm: filter expressions find what they describe") {
  Swarm& s = require_swarm();
  docker_ok(s, {"service", "create", "--detach", "--name", "qbad", "--restart-delay", "1s",
                "busybox:latest", "sleep", "1000"});
  std::string last;
  const std::string failed =
      "/tasks?filter=" + encode(R"(state == "failed" || error != "")") + "&search=qbad";
  CHECK_MESSAGE(eventually(s, 40s, last,
                           [&] {
                             const auto r = get(s, failed);
                             last = r.describe();
                             const auto* items = at(r.json, "/items");
                             if (r.status != 200 || items == nullptr || items->Empty())
                               return false;
                             for (const auto& t : items->GetArray()) {
                               if (str_at(t, "/Status/State") != "rejected" &&
                                   str_at(t, "/Status/State") != "failed") {
                                 return false;
                               }
                             }
                             return true;
                           }),
                last);

  const auto managers =
      get(s, "/nodes?filter=" + encode(R"(role == "manager" && state == "ready")"));
  CHECK_MESSAGE(managers.status == 200, managers.describe());
  CHECK(int_at(managers.json, "/total") == 1);
  const auto none = get(s, "/nodes?filter=" + encode(R"(role == "worker")"));
  CHECK(int_at(none.json, "/total") == 0);

  const auto services = get(s, "/services?filter=" + encode(R"(name matches "^qb[a-z]+$")"));
  CHECK_MESSAGE(services.status == 200, services.describe());
  CHECK(int_at(services.json, "/total") == 1);

  const auto stacks = get(s, "/stacks?filter=" + encode("services > 100"));
  CHECK_MESSAGE(stacks.status == 200, stacks.describe());
  CHECK(int_at(stacks.json, "/total") == 0);

  const auto bad = get(s, "/tasks?filter=" + encode(R"(stat == "running")"));
  CHECK_MESSAGE(is_problem(bad, 400), bad.describe());
  CHECK(str_at(bad.json, "/type") == "/api/errors/FLT002");
  CHECK(str_at(bad.json, "/detail").find("did you mean \"state\"") != std::string::npos);

  docker_ok(s, {"service", "rm", "qbad"});
}
