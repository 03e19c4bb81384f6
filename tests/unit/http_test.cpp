#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include "../support/samples.hpp"
#include "narwhal/http/handler.hpp"
#include "narwhal/http/negotiate.hpp"
#include "narwhal/http/range.hpp"
#include "narwhal/live/hub.hpp"

using namespace narwhal;
using http::Reply;
using http::Request;

namespace {

struct Fixture {
  state::Store store{100};
  http::Handler handler;
  explicit Fixture(std::string base = "")
      : handler(http::Settings{std::move(base),
                               std::chrono::milliseconds(1000),
                               200,
                               {"https://dash.example"},
                               "test",
                               64,
                               512,
                               {}},
                store) {
    (void)store.apply(test::full_sync());
    state::EngineState e;
    e.connected = true;
    e.synced = true;
    store.set_engine(e);
  }
  Reply get(std::string_view target, std::string_view accept = "") {
    Request rq;
    rq.method = "GET";
    rq.target = target;
    rq.accept = accept;
    rq.request_id = "req-1";
    return handler.handle(rq);
  }
};

rapidjson::Document json(const Reply& r) {
  rapidjson::Document d;
  REQUIRE(r.body);
  d.Parse(r.body->data(), r.body->size());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

std::string header(const Reply& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return {};
}

}  // namespace

TEST_CASE("collections are JSON-LD collections with paging fields") {
  Fixture f;
  const auto r = f.get("/services");
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/json");
  CHECK(r.vary_accept);
  CHECK(r.cache_control == "no-cache");
  CHECK(r.etag.size() == 34);
  const auto d = json(r);
  CHECK(std::string(d["@context"].GetString()) == "/api/context.jsonld");
  CHECK(std::string(d["@id"].GetString()) == "/services");
  CHECK(std::string(d["@type"].GetString()) == "Collection");
  CHECK(d["total"].GetInt() == 4);
  CHECK(d["limit"].GetInt() == 50);
  CHECK(d["offset"].GetInt() == 0);
  const auto& item = d["items"][0];
  CHECK(std::string(item["@type"].GetString()) == "Service");
  CHECK(std::string(item["@id"].GetString()) == std::string("/services/") + item["ID"].GetString());
  CHECK(item.HasMember("Spec"));
  CHECK(item["serviceStatus"].HasMember("runningTasks"));
  CHECK(item["serviceStatus"].HasMember("desiredTasks"));
}

TEST_CASE("identical state gives identical bytes and ETags") {
  Fixture a, b;
  const auto ra = a.get("/tasks?limit=3");
  const auto rb = b.get("/tasks?limit=3");
  CHECK(*ra.body == *rb.body);
  CHECK(ra.etag == rb.etag);
}

TEST_CASE("details accept the full ID, a unique prefix or the name") {
  Fixture f;
  const auto full = f.get("/services/zm877tfyji7wheye1kbd0qt4w");
  CHECK(full.status == 200);
  CHECK(full.content_location.empty());
  const auto d = json(full);
  CHECK(std::string(d["@context"].GetString()) == "/api/context.jsonld");
  CHECK(std::string(d["Spec"]["Name"].GetString()) == "web");
  const auto prefix = f.get("/services/zm87");
  CHECK(prefix.status == 200);
  CHECK(prefix.content_location == "/services/zm877tfyji7wheye1kbd0qt4w");
  CHECK(*prefix.body == *full.body);
  const auto named = f.get("/services/web");
  CHECK(named.status == 200);
  CHECK(named.content_location == "/services/zm877tfyji7wheye1kbd0qt4w");
}

TEST_CASE("unknown IDs are 404 problems naming the ID") {
  Fixture f;
  const auto r = f.get("/tasks/abc");
  CHECK(r.status == 404);
  CHECK(r.content_type == "application/problem+json");
  CHECK(r.cache_control == "no-store");
  const auto d = json(r);
  CHECK(std::string(d["type"].GetString()) == "/api/errors/TSK002");
  CHECK(std::string(d["title"].GetString()) == "Task not found");
  CHECK(d["status"].GetInt() == 404);
  CHECK(std::string(d["detail"].GetString()).find("\"abc\"") != std::string::npos);
  CHECK(std::string(d["instance"].GetString()) == "/tasks/abc");
  CHECK(std::string(d["requestId"].GetString()) == "req-1");
  CHECK(f.get("/volumes/nope").status == 404);
  CHECK(f.get("/stacks/nope").status == 404);
  CHECK(f.get("/nodes/nope/tasks").status == 404);
}

TEST_CASE("an ambiguous prefix is a 409 listing the candidates") {
  Fixture f;
  // two configs in the sample; find a shared prefix of their IDs, if any, else use ""
  const auto& configs = f.store.snapshot()->table(state::Kind::config).items;
  REQUIRE(configs.size() == 2);
  std::size_t n = 0;
  while (n < configs[0]->id.size() && configs[0]->id[n] == configs[1]->id[n]) ++n;
  if (n == 0) {
    // no shared prefix: construct ambiguity through the store instead
    auto a = state::parse_object(state::Kind::config,
                                 R"({"ID":"ab1","Version":{"Index":1},"Spec":{"Name":"x1"}})");
    auto b = state::parse_object(state::Kind::config,
                                 R"({"ID":"ab2","Version":{"Index":1},"Spec":{"Name":"x2"}})");
    state::Change c;
    c.upserts = {a.object, b.object};
    (void)f.store.apply(c);
    const auto r = f.get("/configs/ab");
    CHECK(r.status == 409);
    const auto d = json(r);
    CHECK(d["candidates"].Size() == 2);
  }
}

TEST_CASE("task details carry cross-references; configs carry usedBy") {
  Fixture f;
  const auto t = json(f.get("/tasks/83qmg7ury58tgmzdkzid6bxzp"));
  CHECK(std::string(t["serviceName"].GetString()) == "web");
  CHECK(std::string(t["service"]["@id"].GetString()) == "/services/zm877tfyji7wheye1kbd0qt4w");
  CHECK(std::string(t["service"]["name"].GetString()) == "web");
  CHECK(t["node"].IsObject());
  CHECK_FALSE(std::string(t["nodeHostname"].GetString()).empty());
  const auto c = json(f.get("/configs/app_cfg"));
  REQUIRE(c["usedBy"].IsArray());
  bool web = false;
  for (const auto& u : c["usedBy"].GetArray()) web |= std::string(u["name"].GetString()) == "web";
  CHECK(web);
  const auto n = json(f.get("/networks/appnet"));
  CHECK(n["usedBy"].Size() >= 1);
}

TEST_CASE("scoped task lists") {
  Fixture f;
  const auto r = f.get("/services/web/tasks");
  CHECK(r.status == 200);
  const auto d = json(r);
  for (const auto& t : d["items"].GetArray()) {
    CHECK(std::string(t["ServiceID"].GetString()) == "zm877tfyji7wheye1kbd0qt4w");
  }
  const auto node = f.store.snapshot()->table(state::Kind::node).items[0]->id;
  CHECK(f.get("/nodes/" + node + "/tasks").status == 200);
}

TEST_CASE("query parameters are checked and applied") {
  Fixture f;
  CHECK(f.get("/nodes?limit=abc").status == 400);
  CHECK(f.get("/nodes?offset=-1").status == 400);
  CHECK(f.get("/nodes?sort=nosuch").status == 400);
  CHECK(f.get("/nodes?dir=up").status == 400);
  CHECK(json(f.get("/nodes?filter=role%3D%3D%22manager%22"))["total"].GetInt() == 1);
  CHECK(json(f.get("/nodes?filter=role%3D%3D%22worker%22"))["total"].GetInt() == 0);
  const auto badf = f.get("/nodes?filter=rol%3D%3D%22manager%22");
  CHECK(badf.status == 400);
  CHECK(std::string(json(badf)["type"].GetString()) == "/api/errors/FLT002");
  CHECK(f.get("/nodes?filter=" + std::string(600, 'x')).status == 400);
  CHECK(f.get("/nodes?search=%zz").status == 400);
  const auto bad = json(f.get("/services?sort=nosuch"));
  CHECK(std::string(bad["detail"].GetString()).find("name, mode, replicas") != std::string::npos);
  const auto page = json(f.get("/services?limit=2&offset=1&sort=name"));
  CHECK(page["items"].Size() == 2);
  CHECK(page["total"].GetInt() == 4);
  CHECK(std::string(page["items"][0]["Spec"]["Name"].GetString()) == "pub");
  const auto big = json(f.get("/services?limit=5000"));
  CHECK(big["limit"].GetInt() == 200);
  CHECK(json(f.get("/services?limit=99999999999999999999"))["limit"].GetInt() == 200);
  CHECK(json(f.get("/services?limit=9223372036854775808"))["limit"].GetInt() == 200);
  CHECK(f.get("/services?offset=99999999999999999999").status == 200);
  CHECK(f.get("/search?q=web&limit=99999999999999999999", "application/json").status == 200);
  const auto searched = json(f.get("/services?search=WE"));
  CHECK(searched["total"].GetInt() == 1);
  const auto desc = json(f.get("/services?sort=name&dir=desc"));
  CHECK(std::string(desc["items"][0]["Spec"]["Name"].GetString()) == "web");
}

TEST_CASE("If-None-Match answers 304 with the tag and Vary") {
  Fixture f;
  const auto first = f.get("/services");
  Request rq;
  rq.method = "GET";
  rq.target = "/services";
  rq.request_id = "x";
  for (const std::string& inm : std::vector<std::string>{
           first.etag, "W/" + first.etag, "\"other\", " + first.etag, std::string("*")}) {
    rq.if_none_match = inm;
    const auto r = f.handler.handle(rq);
    CHECK(r.status == 304);
    CHECK_FALSE(r.send_body);
    CHECK(r.etag == first.etag);
    CHECK(r.vary_accept);
  }
  rq.if_none_match = "\"nope\"";
  CHECK(f.handler.handle(rq).status == 200);
}

TEST_CASE("details honour If-Modified-Since only without If-None-Match") {
  Fixture f;
  const auto r = f.get("/services/web");
  REQUIRE(r.last_modified != 0);
  Request rq;
  rq.method = "GET";
  rq.target = "/services/web";
  rq.request_id = "x";
  const std::string later = "Fri, 01 Jan 2100 00:00:00 GMT";
  rq.if_modified_since = later;
  CHECK(f.handler.handle(rq).status == 304);
  rq.if_none_match = "\"nope\"";
  CHECK(f.handler.handle(rq).status == 200);
}

TEST_CASE("negotiation: vendor types, aliases, q-values and 406") {
  Fixture f;
  CHECK(f.get("/services", "application/vnd.narwhal.v1+json").content_type ==
        "application/vnd.narwhal.v1+json");
  CHECK(f.get("/services", "application/vnd.cetacean.v1+json").content_type ==
        "application/vnd.cetacean.v1+json");
  CHECK(f.get("/services", "application/ld+json").content_type == "application/ld+json");
  // A browser's Accept: the page, not the JSON.
  CHECK(f.get("/services", "text/html,*/*;q=0.8").content_type == "text/html; charset=utf-8");
  CHECK(f.get("/services", "application/json;q=0, application/ld+json;q=0.5").content_type ==
        "application/ld+json");
  const auto v7 = f.get("/services", "application/vnd.narwhal.v7+json");
  CHECK(v7.status == 406);
  CHECK(json(v7)["detail"].GetString() != std::string());
  CHECK(std::string(json(f.get("/services", "application/xml"))["type"].GetString()) ==
        "/api/errors/API003");
  CHECK(std::string(json(f.get("/services", "text/event-stream"))["type"].GetString()) ==
        "/api/errors/API001");
  CHECK(f.get("/services.json").status == 200);
  CHECK(f.get("/services.atom").status == 200);
  CHECK(f.get("/swarm.atom").status == 406);
  CHECK(f.get("/services/web.json").status == 200);
  CHECK(f.get("/services.json", "text/html").status == 200);  // the extension wins
}

TEST_CASE("the exact path wins over the extension form") {
  Fixture f;
  auto cfg = state::parse_object(
      state::Kind::config, R"({"ID":"zz1","Version":{"Index":9},"Spec":{"Name":"app.json"}})");
  state::Change c;
  c.upserts = {cfg.object};
  (void)f.store.apply(c);
  const auto r = f.get("/configs/app.json");
  CHECK(r.status == 200);
  CHECK(std::string(json(r)["Spec"]["Name"].GetString()) == "app.json");
}

TEST_CASE("methods, HEAD and OPTIONS") {
  Fixture f;
  Request rq;
  rq.target = "/services";
  rq.request_id = "x";
  rq.method = "POST";
  const auto post = f.handler.handle(rq);
  CHECK(post.status == 405);
  CHECK(header(post, "Allow") == "GET, HEAD, OPTIONS");
  rq.method = "HEAD";
  const auto head = f.handler.handle(rq);
  CHECK(head.status == 200);
  CHECK_FALSE(head.send_body);
  CHECK(head.body);  // its length is still announced
  rq.method = "OPTIONS";
  rq.origin = "https://dash.example";
  rq.request_method = "GET";
  const auto pre = f.handler.handle(rq);
  CHECK(pre.status == 204);
  CHECK(header(pre, "Access-Control-Allow-Origin") == "https://dash.example");
  CHECK(header(pre, "Access-Control-Allow-Methods") == "GET, HEAD, OPTIONS");
  rq.origin = "https://evil.example";
  const auto evil = f.handler.handle(rq);
  CHECK(header(evil, "Access-Control-Allow-Origin").empty());
  // With CORS configured, every answer varies with Origin, those without one included: a cache
  // must not hand one origin's answer to another.
  CHECK(header(evil, "Vary") == "Origin");
  CHECK(header(f.get("/services"), "Vary") == "Origin");
}

TEST_CASE("unknown paths are problems") {
  Fixture f;
  CHECK(std::string(json(f.get("/nosuch"))["type"].GetString()) == "/api/errors/API004");
  CHECK(std::string(json(f.get("/api/nosuch"))["type"].GetString()) == "/api/errors/API004");
  CHECK(f.get("/services/web/nosuch").status == 404);
}

TEST_CASE("base path applies to routes and to every URL written") {
  Fixture f("/narwhal");
  CHECK(f.get("/services").status == 404);
  const auto r = f.get("/narwhal/services?limit=1");
  CHECK(r.status == 200);
  const auto d = json(r);
  CHECK(std::string(d["@context"].GetString()) == "/narwhal/api/context.jsonld");
  CHECK(std::string(d["@id"].GetString()) == "/narwhal/services?limit=1");
  CHECK(std::string(d["items"][0]["@id"].GetString()).starts_with("/narwhal/services/"));
  CHECK(std::string(json(f.get("/narwhal/nosuch"))["type"].GetString()) ==
        "/narwhal/api/errors/API004");
}

TEST_CASE("readiness follows the engine with a grace period") {
  Fixture f;
  CHECK(f.get("/-/ready").status == 200);
  state::EngineState e = f.store.snapshot()->engine;
  e.connected = false;
  e.since = 0;  // lost long ago
  e.last_error = "connection refused";
  f.store.set_engine(e);
  const auto r = f.get("/-/ready");
  CHECK(r.status == 503);
  CHECK(std::string(json(r)["detail"].GetString()).find("connection refused") != std::string::npos);
  CHECK_FALSE(r.discovery_links);
  CHECK(f.get("/services").status == 200);  // the last known state is still served
  CHECK(f.get("/-/health").status == 200);
}

TEST_CASE("the swarm never shows join tokens; the cluster summarises") {
  Fixture f;
  const auto s = f.get("/swarm");
  CHECK(s.status == 200);
  CHECK(s.body->find("JoinTokens") == std::string::npos);
  const auto c = json(f.get("/cluster"));
  CHECK(c["counts"]["services"].GetInt() == 4);
  CHECK(c["tasksByState"]["running"].GetInt() == 4);
  CHECK(c["engine"]["connected"].GetBool());
}

TEST_CASE("repeated requests are answered from the rendered-response cache") {
  Fixture f;
  (void)f.get("/services");
  const auto before = f.handler.cache_stats();
  (void)f.get("/services");
  const auto after = f.handler.cache_stats();
  CHECK(after.hits == before.hits + 1);
  CHECK(after.misses == before.misses);
  // a change of services invalidates it
  auto svc = f.store.snapshot()->table(state::Kind::service).items[0];
  auto copy = std::make_shared<state::Object>(*svc);
  copy->version += 1;
  state::Change c;
  c.upserts = {copy};
  (void)f.store.apply(c);
  (void)f.get("/services");
  CHECK(f.handler.cache_stats().misses == after.misses + 1);
}

TEST_CASE("Accept parsing follows RFC 9110") {
  const auto r = http::parse_accept("text/html;level=1;q=0.5, */*;q=0.1, application/json, bad");
  REQUIRE(r.size() == 3);
  CHECK(r[0].specificity == 3);
  CHECK(r[0].q == doctest::Approx(0.5));
  CHECK(r[1].specificity == 0);
  CHECK(r[2].q == doctest::Approx(1.0));
  CHECK(http::parse_accept("text/html;q=2").empty());
  CHECK(http::parse_accept("*/json").empty());
  using R = http::Representation;
  CHECK(http::choose("application/*;q=0.2, application/ld+json;q=0.9", {R::json, R::json_ld}) ==
        R::json_ld);
  CHECK_FALSE(http::choose("application/json;q=0", {R::json}).has_value());
  CHECK(http::choose("", {R::json}) == R::json);
}

namespace {
Reply get_range(Fixture& f, std::string_view target, std::string_view range,
                std::string_view inm = "") {
  Request rq;
  rq.method = "GET";
  rq.target = target;
  rq.range = range;
  rq.if_none_match = inm;
  rq.request_id = "r";
  return f.handler.handle(rq);
}
}  // namespace

TEST_CASE("Range: items paging answers 206, 416 and 200") {
  Fixture f;  // 7 tasks
  const auto part = get_range(f, "/tasks", "items=0-2");
  CHECK(part.status == 206);
  CHECK(header(part, "Content-Range") == "items 0-2/7");
  CHECK(header(part, "Accept-Ranges") == "items");
  CHECK(json(part)["items"].Size() == 3);
  const auto spaced = get_range(f, "/tasks", "items 3-5");
  CHECK(spaced.status == 206);
  CHECK(header(spaced, "Content-Range") == "items 3-5/7");
  const auto tail = get_range(f, "/tasks", "items=5-100");
  CHECK(tail.status == 206);
  CHECK(header(tail, "Content-Range") == "items 5-6/7");
  const auto past = get_range(f, "/tasks", "items=7-9");
  CHECK(past.status == 416);
  CHECK(header(past, "Content-Range") == "items */7");
  CHECK(std::string(json(past)["type"].GetString()) == "/api/errors/API010");
  const auto all = get_range(f, "/tasks", "items=0-6");
  CHECK(all.status == 200);
  CHECK(header(all, "Content-Range").empty());
  // query parameters win over Range
  const auto q = get_range(f, "/tasks?limit=2", "items=0-0");
  CHECK(q.status == 200);
  CHECK(json(q)["items"].Size() == 2);
  // a malformed Range is ignored
  CHECK(get_range(f, "/tasks", "bytes=0-10").status == 200);
  CHECK(get_range(f, "/tasks", "items=5-2").status == 200);
  // 304 where the answer would have been 206
  const auto again = get_range(f, "/tasks", "items=0-2", part.etag);
  CHECK(again.status == 304);
}

TEST_CASE("paged lists carry RFC 8288 links and a Link-Template") {
  Fixture f;
  const auto r = f.get("/tasks?search=&limit=2&offset=2&sort=state");
  CHECK(r.status == 200);
  const auto links = r.links;
  CHECK(links.find("</tasks?search=&sort=state&limit=2&offset=0>; rel=\"first\"") !=
        std::string::npos);
  CHECK(links.find("</tasks?search=&sort=state&limit=2&offset=0>; rel=\"prev\"") !=
        std::string::npos);
  CHECK(links.find("</tasks?search=&sort=state&limit=2&offset=4>; rel=\"next\"") !=
        std::string::npos);
  CHECK(links.find("</tasks?search=&sort=state&limit=2&offset=6>; rel=\"last\"") !=
        std::string::npos);
  CHECK(header(r, "Link-Template") == "</tasks/{id}>; rel=\"item\"");
  const auto first = f.get("/tasks?limit=50");
  CHECK(first.links.find("rel=\"prev\"") == std::string::npos);
  CHECK(first.links.find("rel=\"next\"") == std::string::npos);
  CHECK(header(f.get("/stacks"), "Link-Template") == "</stacks/{name}>; rel=\"item\"");
  Fixture based("/narwhal");
  const auto b = based.get("/narwhal/services?limit=1");
  CHECK(b.links.find("</narwhal/services?limit=1&offset=1>; rel=\"next\"") != std::string::npos);
  CHECK(header(b, "Link-Template") == "</narwhal/services/{id}>; rel=\"item\"");
}

TEST_CASE("the items parser takes only single well-formed items ranges") {
  using http::parse_item_range;
  CHECK(parse_item_range("items=0-24")->last == 24u);
  CHECK(parse_item_range("items 10-")->first == 10u);
  CHECK_FALSE(parse_item_range("items=10-")->last.has_value());
  CHECK_FALSE(parse_item_range("items=-5"));
  CHECK_FALSE(parse_item_range("items=0-1,4-5"));
  CHECK_FALSE(parse_item_range("bytes=0-1"));
  CHECK_FALSE(parse_item_range("items=a-b"));
  CHECK_FALSE(parse_item_range("items=99999999999999999999-1"));
  CHECK_FALSE(parse_item_range(""));
}

namespace {

// A handler with a live hub behind it (§8).
struct LiveFixture {
  state::Store store{100};
  live::Hub hub;
  http::Handler handler;
  explicit LiveFixture(std::size_t max_streams = 10)
      : hub(options(max_streams), store),
        handler(http::Settings{"", std::chrono::milliseconds(1000), 200, {}, "test", 64, 512, {}},
                store, &hub) {
    (void)store.apply(test::full_sync());
    state::EngineState e;
    e.connected = e.synced = true;
    store.set_engine(e);
  }
  static live::HubOptions options(std::size_t max_streams) {
    live::HubOptions o;
    o.max_streams = max_streams;
    return o;
  }
  Reply get(std::string_view target, std::string_view accept = "text/event-stream",
            std::string_view last_event_id = "", std::string_view method = "GET") {
    Request rq;
    rq.method = method;
    rq.target = target;
    rq.accept = accept;
    rq.last_event_id = last_event_id;
    rq.request_id = "req-1";
    return handler.handle(rq);
  }
};

std::string type_of(const Reply& r) {
  return json(r)["type"].GetString();
}

}  // namespace

TEST_CASE("every list and detail URL, /cluster and /events stream; the rest refuse") {
  LiveFixture f;
  for (const auto* url :
       {"/services", "/nodes", "/tasks", "/stacks", "/configs", "/secrets", "/networks", "/volumes",
        "/services/web", "/services/web/tasks", "/nodes/vm", "/cluster", "/events",
        "/events?types=service,node", "/services?filter=replicas%20%3E%201"}) {
    CAPTURE(url);
    const auto r = f.get(url);
    CHECK(r.status == 200);
    CHECK(r.event_stream);
    CHECK(r.stream);
    CHECK(r.content_type == "text/event-stream");
    CHECK(r.cache_control == "no-cache");
    CHECK(r.etag.empty());
    CHECK(header(r, "X-Accel-Buffering") == "no");
  }
  // JSON stays the default for */* on streaming URLs.
  CHECK(f.get("/services", "*/*").content_type == "application/json");
  CHECK(f.get("/services", "text/event-stream;q=0.5, application/json").content_type ==
        "application/json");
  // /swarm and /history do not stream.
  CHECK(f.get("/swarm").status == 406);
  CHECK(type_of(f.get("/swarm")) == "/api/errors/API001");
  CHECK(type_of(f.get("/history")) == "/api/errors/API001");
  // Unknown objects are 404s, whatever the representation.
  CHECK(type_of(f.get("/services/nosuch")) == "/api/errors/SVC002");
  // HEAD answers the head and opens nothing.
  const auto head = f.get("/events", "text/event-stream", "", "HEAD");
  CHECK(head.event_stream);
  CHECK_FALSE(head.stream);
  CHECK_FALSE(head.send_body);
}

TEST_CASE("stream parameters are checked like any other") {
  LiveFixture f;
  const auto bad_type = f.get("/events?types=service,gadget");
  CHECK(bad_type.status == 400);
  CHECK(type_of(bad_type) == "/api/errors/API006");
  CHECK(std::string(json(bad_type)["detail"].GetString()).find("\"gadget\"") != std::string::npos);
  const auto bad_filter = f.get("/events?filter=stat%20%3D%3D%201");
  CHECK(type_of(bad_filter) == "/api/errors/FLT002");
  CHECK(std::string(json(bad_filter)["detail"].GetString()).find("column 1") != std::string::npos);
  // A filter that applies to some of the kinds is fine: the others show nothing.
  const auto some = f.get("/events?filter=state%20%3D%3D%20%22running%22");
  REQUIRE(some.stream);
  CHECK(some.stream->scope().filters.at(static_cast<std::size_t>(state::Kind::task)));
  CHECK_FALSE(some.stream->scope().filters.at(static_cast<std::size_t>(state::Kind::config)));
}

TEST_CASE("Last-Event-ID comes from the header or from ?lastEventId=") {
  LiveFixture f;
  f.hub.start();
  auto first_frames = [](const Reply& r) {
    std::string out;
    for (const auto& fr : r.stream->take().frames) out += *fr;
    return out;
  };
  CHECK(first_frames(f.get("/services", "text/event-stream", "17")).find("event: sync") !=
        std::string::npos);
  CHECK(first_frames(f.get("/services?lastEventId=17")).find("event: sync") != std::string::npos);
  CHECK(first_frames(f.get("/services")).find("event: sync") == std::string::npos);
  // Detail URLs too (they once dropped the query on the way to the stream).
  CHECK(first_frames(f.get("/services/web?lastEventId=17")).find("event: sync") !=
        std::string::npos);
  CHECK(first_frames(f.get("/stacks?lastEventId=17")).find("event: sync") != std::string::npos);
}

TEST_CASE("over the stream cap: 429 SSE001 with Retry-After") {
  LiveFixture f(1);
  const auto one = f.get("/events");
  REQUIRE(one.stream);
  const auto two = f.get("/events");
  CHECK(two.status == 429);
  CHECK(type_of(two) == "/api/errors/SSE001");
  CHECK(header(two, "Retry-After") == "5");
  CHECK(two.cache_control == "no-store");
  // HEAD opens nothing, and answers what GET would.
  const auto head = f.get("/events", "text/event-stream", "", "HEAD");
  CHECK(head.status == 429);
  CHECK_FALSE(head.stream);
  one.stream->close();
}

TEST_CASE("/history and /events as JSON: newest first, by type and resource, cursor paging") {
  LiveFixture f;
  state::Change c;
  for (int i = 0; i < 5; ++i) {
    auto o = state::parse_object(state::Kind::config,
                                 R"({"ID":"cfg)" + std::to_string(i) + R"(","Version":{"Index":)" +
                                     std::to_string(900 + i) + R"(},"Spec":{"Name":"c)" +
                                     std::to_string(i) + R"("}})");
    c.upserts.push_back(o.object);
  }
  (void)f.store.apply(c);
  const auto r = f.get("/history?limit=2", "application/json");
  CHECK(r.status == 200);
  CHECK(r.etag.size() == 34);
  const auto d = json(r);
  CHECK(std::string(d["@type"].GetString()) == "Collection");
  REQUIRE(d["items"].Size() == 2);
  const auto& newest = d["items"][0];
  CHECK(std::string(newest["resourceId"].GetString()) == "cfg4");
  CHECK(std::string(newest["type"].GetString()) == "config");
  CHECK(std::string(newest["action"].GetString()) == "create");
  CHECK(std::string(newest["resource"]["@id"].GetString()) == "/configs/cfg4");
  CHECK(newest["id"].GetUint64() > d["items"][1]["id"].GetUint64());
  const std::string next = d["next"].GetString();
  CHECK(next == "/history?before=" + std::to_string(d["items"][1]["id"].GetUint64()) + "&limit=2");
  CHECK(r.links.find("rel=\"next\"") != std::string::npos);
  const auto page2 = json(f.get(next, "application/json"));
  CHECK(std::string(page2["items"][0]["resourceId"].GetString()) == "cfg2");
  // /events as JSON is the same history.
  const auto events = json(f.get("/events?limit=2", "application/json"));
  CHECK(std::string(events["@id"].GetString()) == "/events?limit=2");
  REQUIRE(events["items"].Size() == 2);
  CHECK(events["items"][1]["id"].GetUint64() == d["items"][1]["id"].GetUint64());
  const auto one = json(f.get("/history?type=config&resourceId=cfg1", "application/json"));
  REQUIRE(one["items"].Size() == 1);
  CHECK(std::string(one["items"][0]["name"].GetString()) == "c1");
  CHECK(json(f.get("/history?type=node", "application/json"))["items"].Size() == 0);
  for (const auto* bad :
       {"/history?limit=0", "/history?limit=x", "/history?before=x", "/history?type=gadget"}) {
    CAPTURE(bad);
    CHECK(type_of(f.get(bad, "application/json")) == "/api/errors/API006");
  }
  // Above the maximum is clamped, as on lists, however many digits.
  for (const auto* big : {"/history?limit=201", "/history?limit=99999999999999999999"}) {
    CAPTURE(big);
    const auto clamped = f.get(big, "application/json");
    CHECK(clamped.status == 200);
    CHECK(json(clamped)["limit"].GetInt() == 200);
  }
  // 304 on an unchanged page.
  Request rq;
  rq.method = "GET";
  rq.target = "/history?limit=2";
  rq.if_none_match = r.etag;
  rq.request_id = "x";
  CHECK(f.handler.handle(rq).status == 304);
}

TEST_CASE("/-/metrics serves what the metrics source says, as Prometheus text") {
  state::Store store{10};
  http::Settings settings;
  settings.metrics = [] { return std::string("narwhal_up 1\n"); };
  http::Handler handler(settings, store);
  Request rq;
  rq.method = "GET";
  rq.target = "/-/metrics";
  rq.request_id = "m";
  const auto r = handler.handle(rq);
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(*r.body == "narwhal_up 1\n");
  CHECK_FALSE(r.discovery_links);
  CHECK(r.cache_control == "no-store");
}

TEST_CASE("before the first full sync, data URLs answer 503 with the engine's reason") {
  Fixture f;
  state::EngineState e;
  e.endpoint = "unix:///var/run/docker.sock";
  e.last_error = "engine unreachable: GET /_ping: connect /var/run/docker.sock: Permission denied";
  f.store.set_engine(e);  // never synced
  for (const auto* target : {"/services", "/tasks/abc", "/nodes/x/tasks", "/swarm", "/history",
                             "/search?q=web", "/services.atom"}) {
    INFO(target);
    const auto r = f.get(target);
    CHECK(r.status == 503);
    CHECK(r.content_type == "application/problem+json");
    CHECK(header(r, "Retry-After") == "2");
    const auto d = json(r);
    CHECK(std::string(d["type"].GetString()) == "/api/errors/ENG001");
    CHECK(std::string(d["detail"].GetString()).find("Permission denied") != std::string::npos);
  }
  // What says why keeps answering: meta endpoints, /cluster, and the page that shows it.
  CHECK(f.get("/-/health").status == 200);
  CHECK(f.get("/-/ready").status == 503);
  CHECK(f.get("/cluster").status == 200);
  CHECK(f.get("/api").status == 200);
  CHECK(f.get("/services", "text/html").status == 200);
  // An engine that answers but is no manager: ENG002, in data URLs and readiness alike.
  e.connected = true;
  e.manager = false;
  e.last_error = "the engine is not part of a swarm";
  f.store.set_engine(e);
  CHECK(std::string(json(f.get("/services"))["type"].GetString()) == "/api/errors/ENG002");
  CHECK(std::string(json(f.get("/-/ready"))["type"].GetString()) == "/api/errors/ENG002");
}

TEST_CASE("stale state is served with a Warning; readiness says the engine is no manager") {
  Fixture f;
  CHECK(header(f.get("/services"), "Warning").empty());
  state::EngineState e = f.store.snapshot()->engine;
  e.manager = false;
  e.stale_since = 1'700'000'000'000'000;
  e.last_error = "the engine is not part of a swarm (it left, or never joined)";
  f.store.set_engine(e);
  const auto r = f.get("/services");
  CHECK(r.status == 200);
  CHECK(header(r, "Warning") == "110 narwhal \"Response is Stale\"");
  CHECK(header(f.get("/cluster"), "Warning") == "110 narwhal \"Response is Stale\"");
  CHECK(header(f.get("/-/health"), "Warning").empty());
  const auto ready = f.get("/-/ready");
  CHECK(ready.status == 503);
  const auto d = json(ready);
  CHECK(std::string(d["type"].GetString()) == "/api/errors/ENG002");
  CHECK(std::string(d["detail"].GetString()).find("not part of a swarm") != std::string::npos);
  const auto c = json(f.get("/cluster"));
  CHECK(c["engine"]["stale"].GetBool());
  CHECK_FALSE(c["engine"]["manager"].GetBool());
  CHECK(std::string(c["engine"]["staleSince"].GetString()).starts_with("2023-11-14T"));
}

TEST_CASE("a removed service's tasks, still listed by the engine, keep their service's name") {
  Fixture f;
  state::Change c;
  c.removals.emplace_back(state::Kind::service, "zm877tfyji7wheye1kbd0qt4w");
  (void)f.store.apply(c);
  const auto t = json(f.get("/tasks/83qmg7ury58tgmzdkzid6bxzp"));
  CHECK(std::string(t["serviceName"].GetString()) == "web");
  CHECK(t["service"].IsNull());  // no service to link to
  const auto list = json(f.get("/tasks?search=web"));
  REQUIRE(list["items"].Size() > 0);
  CHECK(std::string(list["items"][0]["serviceName"].GetString()) == "web");
}

TEST_CASE("a range past the end is 416 however large its bounds") {
  Fixture f;
  for (const auto* range :
       {"items=4-4", "items=500-500", "items=99999999999999999999-99999999999999999999",
        "items=18446744073709551616-"}) {
    CAPTURE(range);
    Request rq;
    rq.method = "GET";
    rq.target = "/services";
    rq.range = range;
    rq.request_id = "r";
    const auto r = f.handler.handle(rq);
    CHECK(r.status == 416);
    CHECK(header(r, "Content-Range") == "items */4");
  }
}

TEST_CASE("filter and search limits count characters, not bytes") {
  Fixture f;
  std::string accented;
  for (int i = 0; i < 310; ++i) accented += "é";  // 620 bytes, 310 characters
  const auto filter = f.get("/services?filter=name%20%3D%3D%20%22" + [&] {
    std::string enc;
    for (const unsigned char c : accented) {
      static const char* hex = "0123456789ABCDEF";
      enc += '%';
      enc += hex[c >> 4];
      enc += hex[c & 15];
    }
    return enc;
  }() + "%22");
  CHECK(filter.status == 200);  // 322 characters: under the 512 limit
  std::string search;
  for (int i = 0; i < 150; ++i) search += "%C3%A9";  // 150 characters, 300 bytes
  CHECK(f.get("/services?search=" + search).status == 200);
  CHECK(f.get("/search?q=" + search, "application/json").status == 200);
  std::string long_search;  // 201 characters, over the fixture's 200
  for (int i = 0; i < 201; ++i) long_search += "%C3%A9";
  const auto refused = f.get("/services?search=" + long_search);
  REQUIRE(refused.status == 400);
  CHECK(std::string(json(refused)["detail"].GetString()).find("201 characters") !=
        std::string::npos);
}

TEST_CASE("the response cache is keyed on the canonical request: unknown parameters make no copy") {
  Fixture f;
  const auto first = f.get("/services?limit=2");
  REQUIRE(first.status == 200);
  const auto before = f.handler.cache_stats().entries;
  for (int i = 0; i < 200; ++i) {
    const auto r = f.get("/services?limit=2&x=" + std::to_string(i));
    REQUIRE(r.status == 200);
    CHECK(r.etag == first.etag);  // the same body: its @id is the canonical URL
  }
  CHECK(f.get("/services?limit=002").etag == first.etag);  // numbers as numbers
  CHECK(f.handler.cache_stats().entries == before);
  CHECK(std::string(json(f.get("/services?limit=2&x=1"))["@id"].GetString()) ==
        "/services?limit=2");
  CHECK(std::string(json(f.get("/services?x=1"))["@id"].GetString()) == "/services");
  // Feeds and search likewise.
  const auto feed = f.get("/services.atom?limit=5");
  CHECK(f.get("/services.atom?limit=5&cachebust=7").etag == feed.etag);
  const auto search = f.get("/search?q=web", "application/json");
  CHECK(f.get("/search?q=web&zz=1", "application/json").etag == search.etag);
}

TEST_CASE("the response cache stays within its byte budget, least recently used out first") {
  state::Store store{100};
  http::Settings settings;
  settings.cache_bytes = 64 * 1024;
  http::Handler handler(settings, store);
  (void)store.apply(test::full_sync());
  state::EngineState e;
  e.connected = e.synced = true;
  store.set_engine(e);
  auto get = [&](const std::string& target) {
    Request rq;
    rq.method = "GET";
    rq.target = target;
    rq.request_id = "c";
    return handler.handle(rq);
  };
  const auto hot = get("/services");
  REQUIRE(hot.status == 200);
  for (int i = 0; i < 400; ++i) {
    // Distinct valid pages: each a body of its own.
    REQUIRE(get("/tasks?limit=1&offset=" + std::to_string(i % 7) +
                "&search=" + std::string(static_cast<std::size_t>(i % 50), 'a'))
                .status == 200);
    if (i % 10 == 0) (void)get("/services");  // kept warm
  }
  const auto stats = handler.cache_stats();
  CHECK(stats.bytes <= settings.cache_bytes);
  CHECK(stats.evictions > 0);
  const auto hits_before = handler.cache_stats().hits;
  CHECK(get("/services").etag == hot.etag);
  CHECK(handler.cache_stats().hits == hits_before + 1);  // the recently used one survived
}

TEST_CASE("the quick pass answers what needs no work and leaves the rest to the render pool") {
  Fixture f;
  const auto quick = [&](std::string_view target, std::string_view encoding = "") {
    Request rq;
    rq.method = "GET";
    rq.target = target;
    rq.accept_encoding = encoding;
    rq.request_id = "q";
    return f.handler.handle_quick(rq);
  };
  // Probes, problems and pages need no work.
  CHECK(quick("/-/health").has_value());
  CHECK(quick("/nowhere").value().status == 404);
  CHECK(quick("/services?limit=0").value().status == 400);
  // A list not rendered yet needs work; once rendered, it is a cache hit.
  CHECK_FALSE(quick("/services?limit=5").has_value());
  CHECK(f.get("/services?limit=5").status == 200);
  const auto hit = quick("/services?limit=5");
  REQUIRE(hit.has_value());
  CHECK(hit->status == 200);
  // A filter not compiled yet needs work too (RE2 compiles can take a while), even when its
  // answer is a problem; once compiled, its problem is quick.
  const std::string bad = "/services?filter=name%20matches%20%22(%22";
  CHECK_FALSE(quick(bad).has_value());
  CHECK(f.get(bad).status == 400);
  REQUIRE(quick(bad).has_value());
  CHECK(quick(bad)->status == 400);
  // Compressing a body the first time is work; the compressed copy is then kept.
  CHECK(f.get("/tasks").status == 200);
  const auto identity = quick("/tasks");
  REQUIRE(identity.has_value());
  if (identity->body->size() > 1024) {
    CHECK_FALSE(quick("/tasks", "gzip").has_value());
    Request rq;
    rq.method = "GET";
    rq.target = "/tasks";
    rq.accept_encoding = "gzip";
    rq.request_id = "z";
    CHECK(f.handler.handle(rq).content_encoding == "gzip");
    const auto gz = quick("/tasks", "gzip");
    REQUIRE(gz.has_value());
    CHECK(gz->content_encoding == "gzip");
  }
}
