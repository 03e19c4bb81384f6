// Every representation a URL offers (SPEC §2, §6, §9, §10, §11): negotiation, compression,
// the built-in pages, Atom feeds, search, /api and the error registry, through the handler.
#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <zlib.h>

#include <pugixml.hpp>
#include <set>

#include "../support/samples.hpp"
#include "narwhal/http/handler.hpp"
#include "narwhal/http/routes.hpp"
#include "narwhal/render/problem.hpp"
#include "narwhal/util/time.hpp"

using namespace narwhal;
using http::Reply;
using http::Request;

namespace {

struct Site {
  state::Store store{100};
  http::Handler handler;
  explicit Site(std::string base = "") : handler(settings(std::move(base)), store) {
    (void)store.apply(test::full_sync());
    state::EngineState e;
    e.connected = e.synced = true;
    store.set_engine(e);
  }
  static http::Settings settings(std::string base) {
    http::Settings s;
    s.base_path = std::move(base);
    s.version = "test";
    s.tag_authority = "narwhal.example";
    return s;
  }
  Reply get(std::string_view target, std::string_view accept = "",
            std::string_view encoding = "") const {
    Request rq;
    rq.method = "GET";
    rq.target = target;
    rq.accept = accept;
    rq.accept_encoding = encoding;
    rq.request_id = "req-1";
    return handler.handle(rq);
  }
  // A recorded change: a service scaled, so feeds have an entry.
  void scale(const std::string& id, const std::string& name, int replicas, int version) {
    auto o = state::parse_object(
        state::Kind::service,
        R"({"ID":")" + id + R"(","Version":{"Index":)" + std::to_string(version) +
            R"(},"Spec":{"Name":")" + name +
            R"(","Labels":{"com.docker.stack.namespace":"shop"},"Mode":{"Replicated":{"Replicas":)" +
            std::to_string(replicas) + "}}}}");
    REQUIRE(o.object);
    state::Change c;
    c.upserts = {o.object};
    (void)store.apply(c);
  }
};

rapidjson::Document json_of(std::string_view text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

rapidjson::Document json(const Reply& r) {
  REQUIRE(r.body);
  return json_of(*r.body);
}

std::string problem_type(const Reply& r) {
  const auto d = json(r);
  return d["type"].GetString();
}

std::string gunzip(const std::string& in) {
  z_stream z{};
  REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
  std::string out(in.size() * 20 + 1024, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  inflateEnd(&z);
  REQUIRE(rc == Z_STREAM_END);
  out.resize(z.total_out);
  return out;
}

}  // namespace

TEST_CASE("Accept: q-values, q=0, specificity, aliases and the server's order") {
  Site s;
  CHECK(s.get("/services", "").content_type == "application/json");
  CHECK(s.get("/services", "*/*").content_type == "application/json");
  // q=0 excludes even where a wildcard would match.
  CHECK(s.get("/services", "application/json;q=0, */*").content_type == "application/ld+json");
  CHECK(s.get("/services", "text/*;q=0.9, application/json;q=0.5").content_type ==
        "text/html; charset=utf-8");
  CHECK(s.get("/services", "application/atom+xml").content_type == "application/atom+xml");
  CHECK(s.get("/services", "application/vnd.narwhal.v1+json").content_type ==
        "application/vnd.narwhal.v1+json");
  CHECK(s.get("/services", "application/vnd.cetacean.v1+json").content_type ==
        "application/vnd.cetacean.v1+json");
  // The same bytes whatever JSON alias was asked for.
  CHECK(*s.get("/services", "application/ld+json").body == *s.get("/services").body);

  const auto v7 = s.get("/services", "application/vnd.narwhal.v7+json");
  CHECK(v7.status == 406);
  CHECK(v7.vary_accept);
  const std::string detail = json(v7)["detail"].GetString();
  CHECK(detail.find("\"7\"") != std::string::npos);
  CHECK(detail.find("application/vnd.narwhal.v1+json") != std::string::npos);

  const auto none = s.get("/swarm", "application/atom+xml");
  CHECK(none.status == 406);
  CHECK(problem_type(none) == "/api/errors/API003");
  CHECK(std::string(json(none)["detail"].GetString()).find("no Atom feed") != std::string::npos);
  CHECK(problem_type(s.get("/swarm", "text/event-stream")) == "/api/errors/API001");
  CHECK(problem_type(s.get("/swarm.atom")) == "/api/errors/API003");
  // The extension beats Accept.
  CHECK(s.get("/services.json", "text/html").content_type == "application/json");
  CHECK(s.get("/services.html", "application/json").content_type == "text/html; charset=utf-8");
}

TEST_CASE("text/html gets the built-in page linking the JSON and Atom views") {
  Site s;
  const auto r = s.get("/services", "text/html,application/xhtml+xml,*/*;q=0.8");
  REQUIRE(r.status == 200);
  CHECK(r.vary_accept);
  const std::string& page = *r.body;
  CHECK(page.starts_with("<!doctype html>"));
  CHECK(page.find(R"(<link rel="alternate" type="application/atom+xml" href="/services.atom")") !=
        std::string::npos);
  CHECK(page.find("/services.json") != std::string::npos);
  // Pages without a feed do not announce one.
  CHECK(s.get("/swarm", "text/html").body->find("application/atom+xml") == std::string::npos);
  // Every negotiated route that offers HTML answers with a page.
  s.scale("svcfeed", "shop_feed", 1, 100);
  for (const std::string path : {"/", "/nodes", "/tasks", "/stacks/shop", "/cluster", "/swarm",
                                 "/history", "/search?q=a", "/api/errors", "/api/errors/SVC002"}) {
    INFO(path);
    const auto p = s.get(path, "text/html");
    CHECK(p.status == 200);
    CHECK(p.content_type == "text/html; charset=utf-8");
  }
}

TEST_CASE("JSON over 1 KiB is gzip'd once, with a weak ETag and Vary: Accept-Encoding") {
  Site s;
  const auto plain = s.get("/services");
  REQUIRE(plain.body->size() > 1024);
  CHECK(plain.vary_encoding);
  CHECK(plain.content_encoding.empty());
  const auto gz = s.get("/services", "", "gzip");
  CHECK(gz.content_encoding == "gzip");
  CHECK(gz.vary_accept);
  CHECK(gz.vary_encoding);
  CHECK(gz.etag == "W/" + plain.etag);
  CHECK(gunzip(*gz.body) == *plain.body);
  // Compressed once: the second answer is the same bytes.
  CHECK(s.get("/services", "", "gzip").body.get() == gz.body.get());
  // Preferences and exclusions.
  CHECK(s.get("/services", "", "gzip;q=0, identity").content_encoding.empty());
  CHECK(s.get("/services", "", "br;q=0.5, gzip").content_encoding == "gzip");
  CHECK_FALSE(s.get("/services", "", "zstd").content_encoding.empty());
  CHECK_FALSE(s.get("/services", "", "br").content_encoding.empty());
  // A weak If-None-Match matches the compressed answer (weak comparison, §6).
  Request rq;
  rq.method = "GET";
  rq.target = "/services";
  rq.accept_encoding = "gzip";
  rq.if_none_match = gz.etag;
  rq.request_id = "x";
  const auto not_modified = s.handler.handle(rq);
  CHECK(not_modified.status == 304);
  CHECK(not_modified.vary_encoding);
  // Small bodies and event streams are not compressed.
  const auto small = s.get("/api/errors/SVC002", "", "gzip");
  REQUIRE(small.body->size() <= 1024);
  CHECK(small.content_encoding.empty());
  CHECK_FALSE(small.vary_encoding);
  // Atom is compressed too.
  for (int i = 0; i < 8; ++i) s.scale("svcfeed", "shop_feed", i + 1, 100 + i);
  CHECK(s.get("/history.atom", "", "gzip").content_encoding == "gzip");
}

TEST_CASE("details send Last-Modified; lists link their feed") {
  Site s;
  const auto list = s.get("/services?limit=2");
  CHECK(list.links.find("</services.atom>; rel=\"alternate\"; type=\"application/atom+xml\"") !=
        std::string::npos);
  const auto d = json(list);
  const std::string id = d["items"][0]["ID"].GetString();
  const auto detail = s.get("/services/" + id);
  CHECK(detail.last_modified > 0);
  CHECK(detail.links.find(".atom>; rel=\"alternate\"") != std::string::npos);
}

TEST_CASE("Atom feeds: every list and detail URL, /history, /events, /search; paging and 304") {
  Site s;
  s.scale("svcfeed", "shop_feed", 1, 100);
  s.scale("svcfeed", "shop_feed", 3, 101);
  s.scale("svcfeed", "shop_feed", 2, 102);
  for (const auto* path :
       {"/services.atom", "/services/svcfeed.atom", "/services/shop_feed.atom",
        "/services/svcfeed/tasks.atom", "/stacks.atom", "/stacks/shop.atom", "/nodes.atom",
        "/tasks.atom", "/configs.atom", "/secrets.atom", "/networks.atom", "/volumes.atom",
        "/history.atom", "/events.atom", "/search.atom?q=feed"}) {
    INFO(path);
    const auto r = s.get(path);
    REQUIRE(r.status == 200);
    CHECK(r.content_type == "application/atom+xml");
    CHECK(r.etag.size() == 34);
    pugi::xml_document doc;
    REQUIRE(doc.load_buffer(r.body->data(), r.body->size()));
    const auto feed = doc.child("feed");
    REQUIRE(feed);
    CHECK(std::string(feed.child_value("id")).starts_with("tag:narwhal.example,2026:"));
  }
  // The service's own feed: three entries, newest first, titled with what changed.
  const auto r = s.get("/services/svcfeed.atom");
  pugi::xml_document doc;
  REQUIRE(doc.load_buffer(r.body->data(), r.body->size()));
  std::vector<std::string> titles;
  for (auto e : doc.child("feed").children("entry")) titles.emplace_back(e.child_value("title"));
  REQUIRE(titles.size() == 3);
  CHECK(titles[0] == "Service shop_feed updated: replicas 3 → 2");
  CHECK(titles[2].starts_with("Service shop_feed created"));
  // The stack's feed includes its members; another kind's list does not.
  CHECK(s.get("/stacks/shop.atom").body->find("shop_feed") != std::string::npos);
  CHECK(s.get("/nodes.atom").body->find("shop_feed") == std::string::npos);
  // RFC 5005 paging with before= and limit=.
  const auto page1 = s.get("/services/svcfeed.atom?limit=2");
  pugi::xml_document p1;
  REQUIRE(p1.load_buffer(page1.body->data(), page1.body->size()));
  std::string next;
  for (auto l : p1.child("feed").children("link")) {
    if (std::string(l.attribute("rel").value()) == "next") next = l.attribute("href").value();
  }
  REQUIRE(next.find("before=") != std::string::npos);
  const auto page2 = s.get(next);
  pugi::xml_document p2;
  REQUIRE(p2.load_buffer(page2.body->data(), page2.body->size()));
  CHECK(std::distance(p2.child("feed").children("entry").begin(),
                      p2.child("feed").children("entry").end()) == 1);
  CHECK(problem_type(s.get("/history.atom?limit=0")) == "/api/errors/API006");
  CHECK(problem_type(s.get("/history.atom?before=x")) == "/api/errors/API006");
  // ETag / 304.
  Request rq;
  rq.method = "GET";
  rq.target = "/services/svcfeed.atom";
  rq.if_none_match = r.etag;
  rq.request_id = "x";
  CHECK(s.handler.handle(rq).status == 304);
  s.scale("svcfeed", "shop_feed", 5, 103);
  CHECK(s.handler.handle(rq).status == 200);
  // An unknown object has no feed.
  CHECK(problem_type(s.get("/services/nosuch.atom")) == "/api/errors/SVC002");
}

TEST_CASE("search: grouped by type, with SEA001 and SEA002") {
  Site s;
  s.scale("svcfeed", "shop_feed", 1, 100);
  const auto r = s.get("/search?q=FEED");
  REQUIRE(r.status == 200);
  const auto d = json(r);
  CHECK(std::string(d["@type"].GetString()) == "SearchResults");
  CHECK(d["total"].GetUint() >= 1);
  CHECK(std::string(d["groups"][0]["type"].GetString()) == "service");
  CHECK(std::string(d["groups"][0]["items"][0]["Spec"]["Name"].GetString()) == "shop_feed");
  CHECK(problem_type(s.get("/search")) == "/api/errors/SEA001");
  CHECK(problem_type(s.get("/search?q=")) == "/api/errors/SEA001");
  CHECK(problem_type(s.get("/search?q=" + std::string(201, 'a'))) == "/api/errors/SEA002");
  CHECK(s.get("/search?q=" + std::string(200, 'a')).status == 200);
  // Stray UTF-8 continuation bytes count as characters: 4 000 bytes of them are over the limit,
  // on /search and on a list's search= alike.
  std::string stray;
  for (int i = 0; i < 4000; ++i) stray += "%96";
  CHECK(problem_type(s.get("/search?q=" + stray)) == "/api/errors/SEA002");
  CHECK(problem_type(s.get("/services?search=" + stray)) == "/api/errors/SEA002");
  CHECK(problem_type(s.get("/search?q=a&limit=0")) == "/api/errors/API006");
  CHECK(s.get("/search?q=feed", "text/html").body->find("application/atom+xml") !=
        std::string::npos);
}

TEST_CASE("/api, /api/context.jsonld and the error registry") {
  Site s("/narwhal");
  const auto api = s.get("/narwhal/api");
  REQUIRE(api.status == 200);
  CHECK(api.content_type == "application/json");
  CHECK(api.cache_control == "public, max-age=3600");
  const auto doc = json(api);
  CHECK(std::string(doc["openapi"].GetString()).starts_with("3.1"));
  CHECK(std::string(doc["servers"][0]["url"].GetString()) == "/narwhal");
  const auto yaml = s.get("/narwhal/api", "application/yaml");
  CHECK(yaml.content_type == "application/yaml");
  CHECK(yaml.body->find("openapi:") != std::string::npos);

  const auto ctx = s.get("/narwhal/api/context.jsonld");
  CHECK(ctx.status == 200);
  CHECK(ctx.content_type == "application/ld+json");
  CHECK(ctx.cache_control == "public, max-age=3600");
  CHECK(json(ctx).HasMember("@context"));

  const auto list = s.get("/narwhal/api/errors");
  const auto errors = json(list);
  CHECK(errors["items"].Size() == render::error_registry().size());
  const auto one = s.get("/narwhal/api/errors/SEA001");
  CHECK(std::string(json(one)["code"].GetString()) == "SEA001");
  CHECK(one.cache_control == "public, max-age=3600");
  CHECK(problem_type(s.get("/narwhal/api/errors/NOPE001")) == "/narwhal/api/errors/API011");
  CHECK(s.get("/narwhal/api/errors.json").status == 200);
}

TEST_CASE("every route of the table answers, and names ending in an extension stay reachable") {
  Site s;
  std::set<http::RouteId> seen;
  for (const auto& route : http::routes()) seen.insert(route.id);
  CHECK(seen.size() == 16);
  // A config named "app.json": the exact path first, the extension form when nothing is there.
  auto cfg = state::parse_object(
      state::Kind::config, R"({"ID":"zz1","Version":{"Index":9},"Spec":{"Name":"app.json"}})");
  state::Change c;
  c.upserts = {cfg.object};
  (void)s.store.apply(c);
  CHECK(json(s.get("/configs/app.json"))["Spec"]["Name"].GetString() == std::string("app.json"));
  CHECK(s.get("/configs/app.json.atom").content_type == "application/atom+xml");
  CHECK(s.get("/configs/app.json.html").content_type == "text/html; charset=utf-8");
  CHECK(s.get("/configs/app.json.json").status == 200);
}

TEST_CASE("list feeds take ?filter= like the list and its stream") {
  Site s;
  s.scale("svcfeed", "shop_feed", 1, 100);
  s.scale("svcother", "shop_other", 1, 100);
  const auto all = s.get("/services.atom");
  CHECK(all.body->find("shop_other") != std::string::npos);
  const auto narrowed = s.get("/services.atom?filter=name%20%3D%3D%20%22shop_feed%22");
  REQUIRE(narrowed.status == 200);
  CHECK(narrowed.body->find("shop_feed") != std::string::npos);
  CHECK(narrowed.body->find("shop_other") == std::string::npos);
  // A filtered feed is a feed of its own: its permanent ID says so.
  CHECK(narrowed.body->find(":/services?filter=") != std::string::npos);
  CHECK(problem_type(s.get("/services.atom?filter=nosuch%20%3D%3D%201")) == "/api/errors/FLT002");
  CHECK(problem_type(s.get("/services.atom?filter=" + std::string(600, 'a'))) ==
        "/api/errors/FLT001");
}

TEST_CASE("a service's Last-Modified counts its tasks: their states are in its body") {
  Site s;
  state::Change c;
  c.upserts = {
      test::object(state::Kind::service,
                   R"({"ID":"svclm","Version":{"Index":5},"UpdatedAt":"2026-01-01T00:00:00Z",)"
                   R"("Spec":{"Name":"lm","Mode":{"Replicated":{"Replicas":1}}}})"),
      test::object(state::Kind::task,
                   R"({"ID":"tasklm","Version":{"Index":6},"UpdatedAt":"2026-06-01T12:00:00Z",)"
                   R"("ServiceID":"svclm","Slot":1,"Status":{"State":"running"}})")};
  (void)s.store.apply(c);
  const auto r = s.get("/services/svclm");
  REQUIRE(r.status == 200);
  CHECK(r.last_modified == util::parse_rfc3339("2026-06-01T12:00:00Z").value());
}
