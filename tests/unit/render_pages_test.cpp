// The /search body, the built-in HTML page and the error registry's JSON and HTML views.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "../support/samples.hpp"
#include "narwhal/query/search.hpp"
#include "narwhal/render/errors.hpp"
#include "narwhal/render/html.hpp"
#include "narwhal/render/json.hpp"
#include "narwhal/render/problem.hpp"
#include "narwhal/render/search.hpp"
#include "narwhal/state/store.hpp"

using namespace narwhal;
using narwhal::render::HtmlPage;
using narwhal::render::Site;
using narwhal::state::Kind;
using narwhal::state::ObjectPtr;

namespace {

// Stack "shop" with services shop_web (two tasks on node "web-host") and shop_db, a stack-less
// service "api", a config "web_cfg" and a volume "webdata".
state::SnapshotPtr pages_swarm() {
  state::Change c;
  auto& u = c.upserts;
  u.push_back(test::object(Kind::node,
                           R"({"ID":"n1","Version":{"Index":1},"Spec":{"Role":"manager"},)"
                           R"("Description":{"Hostname":"web-host"},"Status":{"State":"ready"}})"));
  const auto svc = [](const std::string& id, const std::string& name, const std::string& labels) {
    return test::object(Kind::service, R"({"ID":")" + id +
                                           R"(","Version":{"Index":2},"Spec":{"Name":")" + name +
                                           R"(","Labels":{)" + labels +
                                           R"(},"Mode":{"Replicated":{"Replicas":2}}}})");
  };
  const std::string shop = R"("com.docker.stack.namespace":"shop")";
  u.push_back(svc("s1", "shop_web", shop));
  u.push_back(svc("s2", "shop_db", shop));
  u.push_back(svc("s3", "api", ""));
  for (const char* slot : {"1", "2"}) {
    u.push_back(
        test::object(Kind::task, std::string(R"({"ID":"t)") + slot +
                                     R"(","Version":{"Index":3},"ServiceID":"s1","NodeID":"n1",)"
                                     R"("Slot":)" +
                                     slot + R"(,"Status":{"State":"running"}})"));
  }
  u.push_back(
      test::object(Kind::config, R"({"ID":"c1","Version":{"Index":4},"Spec":{"Name":"web_cfg"}})"));
  u.push_back(test::object(Kind::volume, R"({"Name":"webdata","Driver":"local"})"));
  state::Store store(16);
  (void)store.apply(c);
  return store.snapshot();
}

rapidjson::Document parsed_json(const std::string& text) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  REQUIRE_MESSAGE(!d.HasParseError(), "not JSON: " << text);
  REQUIRE(d.IsObject());
  return d;
}

std::string str(const rapidjson::Value& v, const char* key) {
  REQUIRE_MESSAGE(v.HasMember(key), "missing " << std::string(key));
  REQUIRE(v[key].IsString());
  return {v[key].GetString(), v[key].GetStringLength()};
}

std::vector<std::string> member_names(const rapidjson::Value& v) {
  std::vector<std::string> out;
  for (const auto& m : v.GetObject()) out.emplace_back(m.name.GetString());
  return out;
}

std::size_t count(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string_view::npos;
       pos = text.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

// Checks that every non-void element of an HTML page is closed, in order, and returns the
// element names opened (a cheap stand-in for a validator: our pages use no optional end tags).
std::vector<std::string> balanced_elements(std::string_view html) {
  static const std::set<std::string, std::less<>> kVoid{"meta", "link", "br", "hr", "img"};
  std::vector<std::string> open, seen;
  for (auto lt = html.find('<'); lt != std::string_view::npos; lt = html.find('<', lt + 1)) {
    const auto gt = html.find('>', lt);
    REQUIRE(gt != std::string_view::npos);
    std::string_view tag = html.substr(lt + 1, gt - lt - 1);
    if (tag.starts_with('!')) continue;  // doctype
    const bool closing = tag.starts_with('/');
    if (closing) tag.remove_prefix(1);
    const std::string name(tag.substr(0, tag.find_first_of(" \t\n")));
    if (closing) {
      REQUIRE_MESSAGE(!open.empty(), "</" << name << "> closes nothing");
      REQUIRE_MESSAGE(open.back() == name, "</" << name << "> closes <" << open.back() << ">");
      open.pop_back();
    } else if (kVoid.count(name) == 0) {
      open.push_back(name);
      seen.push_back(name);
    }
    if (!closing && name == "style") {  // its CSS may hold '>' characters
      lt = html.find("</style>", gt);
      REQUIRE(lt != std::string_view::npos);
      --lt;
    }
  }
  CHECK_MESSAGE(open.empty(), "unclosed <" << (open.empty() ? "" : open.back()) << ">");
  return seen;
}

}  // namespace

TEST_CASE("/search renders groups of list items under a SearchResults node") {
  const auto snap = pages_swarm();
  const Site site{"/narwhal"};
  const auto result = query::search(*snap, "web", 50);
  const std::string self = "/narwhal/search?q=web";
  const std::string body = render::render_search(*snap, result, "web", self, site);
  CHECK(body == render::render_search(*snap, result, "web", self, site));

  const auto d = parsed_json(body);
  CHECK(member_names(d) ==
        std::vector<std::string>{"@context", "@id", "@type", "query", "total", "groups"});
  CHECK(str(d, "@context") == "/narwhal/api/context.jsonld");
  CHECK(str(d, "@id") == self);
  CHECK(str(d, "@type") == "SearchResults");
  CHECK(str(d, "query") == "web");
  CHECK(d["total"].GetUint64() == result.total);
  CHECK(result.total == 6);  // shop_web, its 2 tasks, web-host, web_cfg, webdata

  const auto& groups = d["groups"];
  REQUIRE(groups.IsArray());
  REQUIRE(groups.Size() == result.groups.size());
  std::vector<std::string> types;
  for (rapidjson::SizeType i = 0; i < groups.Size(); ++i) {
    const auto& g = groups[i];
    const auto& want = result.groups[i];
    CHECK(member_names(g) == std::vector<std::string>{"type", "@id", "total", "items"});
    types.push_back(str(g, "type"));
    CHECK(str(g, "@id") ==
          "/narwhal/" + std::string(state::kind_collection(want.kind)) + "?search=web");
    CHECK(g["total"].GetUint64() == want.total);
    REQUIRE(g["items"].IsArray());
    REQUIRE(g["items"].Size() == want.items.size());
    for (rapidjson::SizeType j = 0; j < g["items"].Size(); ++j) {
      const auto& item = g["items"][j];
      const auto* o = want.items[j];
      CHECK(str(item, "@id") == site.url(o->kind, o->id));
      CHECK(str(item, "@type") == std::string(state::kind_type(o->kind)));
      CHECK_FALSE(item.HasMember("@context"));  // items of a list, not documents
    }
  }
  REQUIRE(types == std::vector<std::string>{"service", "task", "node", "config", "volume"});
  // Items are exactly what the collections render: the task carries its service and node names.
  const auto& task = groups[1]["items"][0];
  CHECK(str(task, "serviceName") == "shop_web");
  CHECK(str(task, "nodeHostname") == "web-host");
  REQUIRE(task.HasMember("Slot"));  // the engine's own fields, spliced in
  CHECK(task["Slot"].GetInt() == 1);
}

TEST_CASE("/search: stacks as the stack list renders them, the query escaped and encoded") {
  const auto snap = pages_swarm();
  const Site site{""};
  const auto result = query::search(*snap, "SHOP", 50);
  // The text as typed goes into "query" (JSON-escaped) and into each group's link (encoded).
  const std::string q = "SHOP \"&/?";
  const auto d = parsed_json(render::render_search(*snap, result, q, "/search?q=x", site));
  CHECK(str(d, "query") == q);
  CHECK(str(d, "@context") == "/api/context.jsonld");
  const auto& groups = d["groups"];
  REQUIRE(groups.Size() == 3);
  CHECK(str(groups[0], "type") == "service");
  CHECK(str(groups[0], "@id") == "/services?search=SHOP%20%22%26%2F%3F");
  CHECK(str(groups[1], "type") == "stack");
  CHECK(str(groups[1], "@id") == "/stacks?search=SHOP%20%22%26%2F%3F");
  REQUIRE(groups[1]["items"].Size() == 1);
  const auto& stack = groups[1]["items"][0];
  CHECK(str(stack, "@id") == "/stacks/shop");
  CHECK(str(stack, "@type") == "Stack");
  CHECK(stack["services"].Size() == 2);
  CHECK(str(groups[2], "type") == "task");

  // The per-type limit shows in the items, never in the totals.
  const auto cut = query::search(*snap, "shop", 1);
  const auto c = parsed_json(render::render_search(*snap, cut, "shop", "/search?q=shop", site));
  CHECK(c["total"].GetUint64() == 5);  // 2 services, the stack, 2 tasks
  REQUIRE(c["groups"].Size() == 3);
  CHECK(c["groups"][0]["total"].GetUint64() == 2);
  CHECK(c["groups"][0]["items"].Size() == 1);
  CHECK(str(c["groups"][0]["items"][0], "@id") == "/services/s2");  // shop_db before shop_web

  // No match: an empty list of groups, still a complete document.
  const auto none = query::search(*snap, "nothing", 50);
  const auto n =
      parsed_json(render::render_search(*snap, none, "nothing", "/search?q=nothing", site));
  CHECK(n["total"].GetUint64() == 0);
  CHECK(n["groups"].IsArray());
  CHECK(n["groups"].Empty());
}

TEST_CASE("the built-in HTML page is a complete HTML5 document that escapes everything") {
  HtmlPage page;
  page.title = "<script>\"'&";
  page.heading = "<script>\"'& heading";
  page.description = "a <b>bold</b> \"claim\" & 'more'";
  page.json_url = "/services/x.json?a=1&b=\"2\"";
  page.links.emplace_back("<i>label</i>", "/stacks/shop");
  page.links.emplace_back("evil", "javascript:alert(1)");
  page.links.emplace_back("Docker", "https://docs.docker.com/engine/swarm/");
  const std::string html = render::render_html_page(page);

  CHECK(html.starts_with("<!doctype html>\n<html lang=\"en\">"));
  CHECK(html.find("<meta charset=\"utf-8\">") != std::string::npos);
  CHECK(html.find("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">") !=
        std::string::npos);
  CHECK(html.find("<title>&lt;script&gt;&quot;&#39;&amp;</title>") != std::string::npos);
  CHECK(html.find("<h1>&lt;script&gt;&quot;&#39;&amp; heading</h1>") != std::string::npos);
  CHECK(html.find("<p>a &lt;b&gt;bold&lt;/b&gt; &quot;claim&quot; &amp; &#39;more&#39;</p>") !=
        std::string::npos);
  CHECK(html.find("&lt;i&gt;label&lt;/i&gt;") != std::string::npos);
  // No script at all: the CSP forbids inline script, and nothing hostile got through.
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<i>") == std::string::npos);
  CHECK(html.find("javascript:") == std::string::npos);
  CHECK(html.find("<a href=\"#\">evil</a>") != std::string::npos);
  CHECK(html.find("<a href=\"https://docs.docker.com/engine/swarm/\">Docker</a>") !=
        std::string::npos);

  const std::string json_href = "href=\"/services/x.json?a=1&amp;b=&quot;2&quot;\"";
  CHECK(html.find("<link rel=\"alternate\" type=\"application/json\" " + json_href + ">") !=
        std::string::npos);
  CHECK(html.find("<a " + json_href + ">JSON</a>") != std::string::npos);
  CHECK(html.find("dashboard is not built") != std::string::npos);
  CHECK(html.find("application/atom+xml") == std::string::npos);  // no feed: no feed link
  CHECK(html.find("Atom") == std::string::npos);

  const auto elements = balanced_elements(html);
  CHECK(elements.front() == "html");
  CHECK(std::count(elements.begin(), elements.end(), "h1") == 1);
  CHECK(std::count(elements.begin(), elements.end(), "style") == 1);

  page.atom_url = "/services/x.atom";
  const std::string with_feed = render::render_html_page(page);
  CHECK(count(with_feed,
              "<link rel=\"alternate\" type=\"application/atom+xml\" "
              "href=\"/services/x.atom\"") == 1);
  CHECK(with_feed.find("<a href=\"/services/x.atom\">Atom feed</a>") != std::string::npos);
  CHECK(count(with_feed, "type=\"application/json\"") == 1);
  (void)balanced_elements(with_feed);

  // Nothing to link: no empty list, still a valid page.
  const std::string bare = render::render_html_page(HtmlPage{"t", "h", "", "", "", {}});
  CHECK(bare.find("<ul>") == std::string::npos);
  CHECK(bare.find("<link") == std::string::npos);
  (void)balanced_elements(bare);
}

TEST_CASE("html_escape covers the five characters and nothing else") {
  CHECK(render::html_escape("<a href=\"x\">'&'</a>") ==
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  CHECK(render::html_escape("plain text, é ✓") == "plain text, é ✓");
  CHECK(render::html_escape("") == "");
}

TEST_CASE("/api/errors lists every registered code once, in registry order") {
  const Site site{"/narwhal"};
  const auto& codes = render::error_registry();
  REQUIRE(!codes.empty());
  const std::string body = render::render_error_list_json(site);
  CHECK(body == render::render_error_list_json(site));
  const auto d = parsed_json(body);
  CHECK(member_names(d) == std::vector<std::string>{"@context", "@id", "@type", "total", "items"});
  CHECK(str(d, "@context") == "/narwhal/api/context.jsonld");
  CHECK(str(d, "@id") == "/narwhal/api/errors");
  CHECK(str(d, "@type") == "ErrorRegistry");
  CHECK(d["total"].GetUint64() == codes.size());
  const auto& items = d["items"];
  REQUIRE(items.IsArray());
  REQUIRE(items.Size() == codes.size());
  std::set<std::string> seen;
  for (rapidjson::SizeType i = 0; i < items.Size(); ++i) {
    const auto& item = items[i];
    const auto& c = codes[i];
    const std::string code(c.code);
    CHECK_MESSAGE(seen.insert(code).second, code << " listed twice");
    CHECK(member_names(item) == std::vector<std::string>{"@id", "@type", "code", "status", "title",
                                                         "description", "suggestion"});
    CHECK(str(item, "@id") == "/narwhal/api/errors/" + code);
    CHECK(str(item, "@type") == "ErrorCode");
    CHECK(str(item, "code") == code);
    CHECK(item["status"].GetInt() == c.status);
    CHECK(str(item, "title") == std::string(c.title));
    CHECK(str(item, "description") == std::string(c.description));
    CHECK(str(item, "suggestion") == std::string(c.suggestion));
  }
}

TEST_CASE("/api/errors/{code}: one code as a document, found case-sensitively") {
  const Site site{""};
  const auto* api001 = render::find_error_code("API001");
  REQUIRE(api001 != nullptr);
  CHECK(api001 == &render::error_code("API001"));
  CHECK(render::find_error_code("api001") == nullptr);
  CHECK(render::find_error_code("XYZ999") == nullptr);
  CHECK(render::find_error_code("") == nullptr);
  CHECK(render::find_error_code("API00") == nullptr);
  CHECK(render::error_url("API001", site) == "/api/errors/API001");

  const auto d = parsed_json(render::render_error_json(*api001, site));
  CHECK(member_names(d) == std::vector<std::string>{"@context", "@id", "@type", "code", "status",
                                                    "title", "description", "suggestion"});
  CHECK(str(d, "@context") == "/api/context.jsonld");
  CHECK(str(d, "@id") == "/api/errors/API001");
  CHECK(d["status"].GetInt() == 406);
  // Every code of the registry is found by its own name.
  for (const auto& c : render::error_registry()) CHECK(render::find_error_code(c.code) == &c);
}

TEST_CASE("the registry holds the codes /search answers with") {
  // SEA001: q missing or empty; SEA002: q over the search limit (SPEC §15: 200 characters).
  for (const char* code : {"SEA001", "SEA002"}) {
    const auto* c = render::find_error_code(code);
    REQUIRE_MESSAGE(c != nullptr, code << " is not registered");
    CHECK(c->status == 400);
  }
}

TEST_CASE("the registry's HTML pages: a row per code, a definition list per code") {
  const Site site{"/narwhal"};
  const auto& codes = render::error_registry();
  const std::string html = render::render_error_list_html(site);
  (void)balanced_elements(html);
  CHECK(count(html, "<tr>") == codes.size() + 1);  // + the header row
  std::size_t last = 0;
  for (const auto& c : codes) {
    const std::string row = "<tr><td><a href=\"/narwhal/api/errors/" + std::string(c.code) +
                            "\"><code>" + std::string(c.code) + "</code></a></td><td>" +
                            std::to_string(c.status) + "</td>";
    CHECK_MESSAGE(count(html, row) == 1, c.code);
    const auto at = html.find(row);
    CHECK_MESSAGE(at > last, c.code << " out of registry order");
    last = at;
    CHECK(html.find(render::html_escape(c.description)) != std::string::npos);
  }
  CHECK(html.find("<link rel=\"alternate\" type=\"application/json\" "
                  "href=\"/narwhal/api/errors.json\">") != std::string::npos);
  CHECK(html.find("application/atom+xml") == std::string::npos);

  const auto& c = codes.front();
  const std::string one = render::render_error_html(c, site);
  (void)balanced_elements(one);
  CHECK(one.find("<dt>Code</dt><dd>" + std::string(c.code) + "</dd>") != std::string::npos);
  CHECK(one.find("<dd>" + std::to_string(c.status) + "</dd>") != std::string::npos);
  CHECK(one.find("<dd>" + render::html_escape(c.suggestion) + "</dd>") != std::string::npos);
  CHECK(one.find("<a href=\"/narwhal/api/errors\">All error codes</a>") != std::string::npos);
  CHECK(one.find("href=\"/narwhal/api/errors/" + std::string(c.code) + ".json\"") !=
        std::string::npos);
  CHECK(count(one, "<dt>") == 5);
}
