#include "narwhal/http/routes.hpp"

#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "narwhal/http/openapi.hpp"
#include "narwhal/query/list_query.hpp"

using namespace narwhal;
using http::Representation;
using http::RouteId;

namespace {

http::OpenApiInfo plain_info() {
  return {"", "1.0"};
}

rapidjson::Document parse_json(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsObject());
  return doc;
}

const rapidjson::Document& document() {
  static const rapidjson::Document doc = parse_json(http::render_openapi_json(plain_info()));
  return doc;
}

std::string str(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

const rapidjson::Value& at(const rapidjson::Value& v, const char* pointer) {
  const rapidjson::Value* found = rapidjson::Pointer(pointer).Get(v);
  REQUIRE_MESSAGE(found != nullptr, pointer);
  return *found;
}

void collect_refs(const rapidjson::Value& v, std::vector<std::string>& out) {
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      if (str(m.name) == "$ref" && m.value.IsString()) out.push_back(str(m.value));
      collect_refs(m.value, out);
    }
  } else if (v.IsArray()) {
    for (const auto& e : v.GetArray()) collect_refs(e, out);
  }
}

std::set<std::string> response_codes(const char* path, const char* method = "get") {
  const auto& item = at(document(), "/paths")[path];
  std::set<std::string> out;
  for (const auto& m : item[method]["responses"].GetObject()) out.insert(str(m.name));
  return out;
}

const http::RouteMatch* first(const std::vector<http::RouteMatch>& m) {
  return m.empty() ? nullptr : &m.front();
}

}  // namespace

TEST_CASE("every route is documented, and every documented path is a route") {
  const auto& doc = document();
  CHECK(str(doc["openapi"]) == "3.1.0");
  std::set<std::string> table, documented;
  for (const auto& r : http::routes()) {
    CHECK_MESSAGE(table.insert(r.pattern).second, "pattern twice in the table: " << r.pattern);
  }
  for (const auto& m : doc["paths"].GetObject()) {
    documented.insert(str(m.name));
    CHECK_MESSAGE(m.value.HasMember("get"), str(m.name));
    CHECK_MESSAGE(m.value.HasMember("head"), str(m.name));
  }
  CHECK(table == documented);
  for (const auto& p : table) CHECK_MESSAGE(documented.count(p) == 1, "undocumented route " << p);
  for (const auto& p : documented)
    CHECK_MESSAGE(table.count(p) == 1, "documented, not served " << p);
}

TEST_CASE("operation IDs are unique and every $ref resolves") {
  const auto& doc = document();
  std::set<std::string> ids;
  std::size_t operations = 0;
  for (const auto& path : doc["paths"].GetObject()) {
    for (const auto& op : path.value.GetObject()) {
      if (str(op.name) == "parameters") continue;
      ++operations;
      REQUIRE(op.value.HasMember("operationId"));
      CHECK_MESSAGE(ids.insert(str(op.value["operationId"])).second,
                    "duplicate operationId " << str(op.value["operationId"]));
    }
  }
  CHECK(operations == 2 * http::routes().size());
  std::vector<std::string> refs;
  collect_refs(doc, refs);
  CHECK(refs.size() > 100);
  for (const auto& ref : refs) {
    REQUIRE_MESSAGE(ref.starts_with("#/components/"), ref);
    CHECK_MESSAGE(rapidjson::Pointer(ref.c_str()).Get(doc) != nullptr, "dangling " << ref);
  }
  // Every component is used (the linter warns otherwise; this says which one, and fast).
  for (const auto& section : doc["components"].GetObject()) {
    for (const auto& c : section.value.GetObject()) {
      const std::string ref = "#/components/" + str(section.name) + "/" + str(c.name);
      CHECK_MESSAGE(std::find(refs.begin(), refs.end(), ref) != refs.end(), "unused " << ref);
    }
  }
}

TEST_CASE("each path's parameters come from the table, its {…} segments included") {
  const auto& doc = document();
  for (const auto& r : http::routes()) {
    const auto& params = doc["paths"][r.pattern.c_str()]["parameters"];
    std::set<std::pair<std::string, std::string>> have;
    for (const auto& p : params.GetArray()) {
      if (p.HasMember("$ref")) continue;
      have.emplace(str(p["in"]), str(p["name"]));
      if (str(p["in"]) == "path") CHECK(p["required"].GetBool());
    }
    for (const auto& p : r.params) {
      CHECK_MESSAGE(have.count({std::string(p.in), std::string(p.name)}) == 1,
                    r.pattern << " lacks " << p.name);
    }
    CHECK(have.size() == r.params.size());
  }
  const auto& detail = doc["paths"]["/services/{id}"]["parameters"];
  CHECK(str(detail[0]["name"]) == "id");
  CHECK(str(detail[0]["in"]) == "path");
}

TEST_CASE("parameters state their values and bounds where the table knows them") {
  const auto& doc = document();
  auto schema_of = [&](const char* path, std::string_view name) -> const rapidjson::Value& {
    for (const auto& p : doc["paths"][path]["parameters"].GetArray()) {
      if (p.HasMember("name") && str(p["name"]) == name) return p["schema"];
    }
    FAIL("no parameter " << name << " on " << path);
    return doc;
  };
  const auto& sort = schema_of("/services", "sort");
  REQUIRE(sort.HasMember("enum"));
  std::vector<std::string> fields;
  for (const auto& v : sort["enum"].GetArray()) fields.push_back(str(v));
  const auto& expected = narwhal::query::sort_fields(narwhal::state::Kind::service);
  CHECK(fields == std::vector<std::string>(expected.begin(), expected.end()));
  CHECK(schema_of("/services", "dir")["enum"].Size() == 2);
  CHECK(schema_of("/services", "limit")["minimum"].GetInt() == 1);
  CHECK_FALSE(schema_of("/services", "limit").HasMember("maximum"));  // larger ones are clamped
  CHECK(schema_of("/services", "offset")["minimum"].GetInt() == 0);
  CHECK(schema_of("/history", "limit")["maximum"].GetInt() == 200);
  CHECK(schema_of("/services/{id}/tasks", "sort")["enum"].Size() ==
        narwhal::query::sort_fields(narwhal::state::Kind::task).size());
}

TEST_CASE("responses follow what each route can answer") {
  using Codes = std::set<std::string>;
  // Data URLs answer 503 until the first full sync.
  CHECK(response_codes("/services") ==
        Codes{"200", "206", "304", "400", "406", "416", "429", "503", "default"});
  CHECK(response_codes("/services/{id}") ==
        Codes{"200", "304", "400", "404", "406", "409", "429", "503", "default"});
  CHECK(response_codes("/nodes/{id}/tasks") ==
        Codes{"200", "206", "304", "400", "404", "406", "409", "416", "429", "503", "default"});
  // Stacks and volumes are addressed by exact name: never ambiguous.
  CHECK(response_codes("/stacks/{name}").count("409") == 0);
  CHECK(response_codes("/volumes/{name}").count("409") == 0);
  CHECK(response_codes("/swarm") == Codes{"200", "304", "406", "503", "default"});
  CHECK(response_codes("/cluster").count("503") == 0);  // it says why the others answer 503
  CHECK(response_codes("/api/errors/{code}") == Codes{"200", "304", "404", "406", "default"});
  CHECK(response_codes("/-/ready") == Codes{"200", "503", "default"});
  CHECK(response_codes("/-/health") == Codes{"200", "default"});
  CHECK(response_codes("/-/metrics", "head") == Codes{"200", "default"});

  const auto& doc = document();
  const auto& ok = at(doc, "/paths/~1services~1{id}/get/responses/200");
  std::vector<std::string> types;
  for (const auto& m : ok["content"].GetObject()) types.push_back(str(m.name));
  CHECK(types == std::vector<std::string>{"application/json", "application/ld+json",
                                          "application/vnd.narwhal.v1+json",
                                          "application/vnd.cetacean.v1+json", "text/html",
                                          "application/atom+xml", "text/event-stream"});
  CHECK(str(ok["content"]["application/json"]["schema"]["$ref"]) == "#/components/schemas/Service");
  CHECK(str(ok["content"]["text/event-stream"]["schema"]["type"]) == "string");
  for (const auto* h : {"ETag", "Last-Modified", "Content-Location", "Vary", "Link"}) {
    CHECK_MESSAGE(ok["headers"].HasMember(h), h);
  }
  // HEAD: the same statuses and headers, no bodies.
  const auto& head_ok = at(doc, "/paths/~1services~1{id}/head/responses/200");
  CHECK_FALSE(head_ok.HasMember("content"));
  CHECK(head_ok["headers"].HasMember("ETag"));
  CHECK(response_codes("/services/{id}", "head") == response_codes("/services/{id}"));
  CHECK_FALSE(at(doc, "/paths/~1services~1{id}/head/responses/404").HasMember("content"));

  const auto& partial = at(doc, "/paths/~1services/get/responses/206");
  CHECK(partial["headers"].HasMember("Content-Range"));
  CHECK_FALSE(partial["content"].HasMember("text/html"));
  CHECK(at(doc, "/components/responses/TooManyStreams/headers").HasMember("Retry-After"));
  CHECK(at(doc, "/components/responses/RangeNotSatisfiable/headers").HasMember("Content-Range"));
  CHECK(at(doc, "/components/responses/Conflict/content").HasMember("application/problem+json"));

  // Fixed media types where nothing is negotiated.
  const auto& metrics = at(doc, "/paths/~1-~1metrics/get/responses/200/content");
  CHECK(metrics.MemberCount() == 1);
  CHECK(metrics.HasMember("text/plain"));
  CHECK(at(doc, "/paths/~1-~1health/get/responses/200/content").MemberCount() == 1);
  CHECK(at(doc, "/paths/~1api/get/responses/200/content").HasMember("application/yaml"));
}

TEST_CASE("the server URL carries the base path") {
  CHECK(str(at(document(), "/servers/0/url")) == "/");
  const auto behind = parse_json(http::render_openapi_json({"/narwhal", "1.0"}));
  CHECK(str(at(behind, "/servers/0/url")) == "/narwhal");
  CHECK(behind["paths"].HasMember("/services"));
  CHECK(str(at(behind, "/info/version")) == "1.0");
}

TEST_CASE("match_routes: exact path first, then the extension form") {
  using Segs = std::vector<std::string>;
  const auto list = http::match_routes({"services"});
  REQUIRE(list.size() == 1);
  CHECK(list[0].route->id == RouteId::list);
  CHECK(list[0].route->kind == state::Kind::service);
  CHECK(list[0].args.empty());
  CHECK_FALSE(list[0].extension);

  const auto detail = http::match_routes({"services", "abc"});
  REQUIRE(detail.size() == 1);
  CHECK(detail[0].route->id == RouteId::detail);
  CHECK(detail[0].args == Segs{"abc"});

  // A service named "web.json" stays reachable: the exact detail comes first.
  const auto dotted = http::match_routes({"services", "web.json"});
  REQUIRE(dotted.size() == 2);
  CHECK(dotted[0].route->id == RouteId::detail);
  CHECK(dotted[0].args == Segs{"web.json"});
  CHECK_FALSE(dotted[0].extension);
  CHECK(dotted[1].route->id == RouteId::detail);
  CHECK(dotted[1].args == Segs{"web"});
  CHECK(dotted[1].extension == Representation::json);

  const auto feed = http::match_routes({"services.atom"});
  REQUIRE(feed.size() == 1);
  CHECK(feed[0].route->id == RouteId::list);
  CHECK(feed[0].extension == Representation::atom);

  // The context document's name ends in a suffix that is no extension.
  const auto context = http::match_routes({"api", "context.jsonld"});
  REQUIRE(context.size() == 1);
  CHECK(context[0].route->id == RouteId::api_context);
  CHECK_FALSE(context[0].extension);

  const auto tasks = http::match_routes({"nodes", "x", "tasks.html"});
  REQUIRE(tasks.size() == 1);
  CHECK(tasks[0].route->id == RouteId::tasks_of);
  CHECK(tasks[0].args == Segs{"x"});
  CHECK(tasks[0].extension == Representation::html);

  CHECK(http::match_routes({"nosuch"}).empty());
  CHECK(http::match_routes({"nosuch.json"}).empty());
  CHECK(first(http::match_routes({})) != nullptr);
  CHECK(first(http::match_routes({}))->route->id == RouteId::index);
  CHECK(http::match_routes({"services", ""}).empty());
  CHECK(http::match_routes({"services", ".json"}).size() == 1);  // a name, not an extension
}

TEST_CASE("offered(): the JSON family first, so */* means JSON") {
  const http::Route* detail = nullptr;
  const http::Route* api = nullptr;
  const http::Route* metrics = nullptr;
  for (const auto& r : http::routes()) {
    if (r.pattern == "/services/{id}") detail = &r;
    if (r.id == RouteId::api) api = &r;
    if (r.id == RouteId::metrics) metrics = &r;
  }
  REQUIRE(detail != nullptr);
  REQUIRE(api != nullptr);
  REQUIRE(metrics != nullptr);
  CHECK(http::offered(*detail) ==
        std::vector<Representation>{Representation::json, Representation::json_ld,
                                    Representation::narwhal_v1, Representation::cetacean_v1,
                                    Representation::html, Representation::atom,
                                    Representation::event_stream});
  CHECK(http::offered(*api) ==
        std::vector<Representation>{Representation::json, Representation::json_ld,
                                    Representation::narwhal_v1, Representation::cetacean_v1,
                                    Representation::yaml});
  CHECK(http::offered(*metrics).empty());  // text/plain has no Representation
  for (const auto& r : http::routes()) {
    const auto reps = http::offered(r);
    if (!reps.empty()) CHECK_MESSAGE(http::is_json(reps.front()), r.pattern);
  }
}

namespace {

// Whether a plain (unquoted) YAML scalar would read back as something other than a string.
bool plain_is_not_string(const std::string& s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return true;
  if (s.size() > 1 && (s[0] == '-' || s[0] == '+' || s[0] == '.') && s[1] >= '0' && s[1] <= '9') {
    return true;
  }
  static const std::set<std::string> words{"true", "True", "TRUE", "false", "False", "FALSE",
                                           "null", "Null", "NULL", "~",     "yes",   "no",
                                           "on",   "off",  "Yes",  "No",    "On",    "Off"};
  return words.count(s) == 1;
}

// The YAML says what the JSON says: same keys in the same order, same scalars, and no JSON string
// that a YAML reader would take for a number, boolean or null.
void same_document(const rapidjson::Value& j, const YAML::Node& y, const std::string& where) {
  INFO(where);
  if (j.IsObject()) {
    REQUIRE(y.IsMap());
    REQUIRE(y.size() == j.MemberCount());
    auto it = y.begin();
    for (const auto& m : j.GetObject()) {
      CHECK(it->first.Scalar() == str(m.name));
      if (it->first.Tag() != "!") CHECK_FALSE(plain_is_not_string(it->first.Scalar()));
      same_document(m.value, it->second, where + "/" + str(m.name));
      ++it;
    }
  } else if (j.IsArray()) {
    REQUIRE(y.IsSequence());
    REQUIRE(y.size() == j.Size());
    for (rapidjson::SizeType i = 0; i < j.Size(); ++i) {
      same_document(j[i], y[i], where + "/" + std::to_string(i));
    }
  } else if (j.IsString()) {
    REQUIRE(y.IsScalar());
    CHECK(y.Scalar() == str(j));
    if (y.Tag() != "!") CHECK_FALSE(plain_is_not_string(y.Scalar()));
  } else if (j.IsBool()) {
    CHECK(y.as<bool>() == j.GetBool());
    CHECK(y.Tag() == "?");
  } else if (j.IsInt64()) {
    CHECK(y.as<long long>() == j.GetInt64());
    CHECK(y.Tag() == "?");
  } else {
    FAIL("unexpected JSON value");
  }
}

}  // namespace

TEST_CASE("the YAML is the same document") {
  const std::string yaml = http::render_openapi_yaml(plain_info());
  const YAML::Node y = YAML::Load(yaml);
  const auto& j = document();
  CHECK(y["paths"].size() == j["paths"].MemberCount());
  CHECK(y["paths"]["/services/{id}"]["get"]["operationId"].as<std::string>() == "getService");
  CHECK(y["components"]["schemas"]["Collection"]["properties"]["limit"]["maximum"].as<int>() ==
        200);
  // Strings that look like numbers stay strings.
  CHECK(y["openapi"].Tag() == "!");
  CHECK(y["openapi"].as<std::string>() == "3.1.0");
  CHECK(y["info"]["version"].Tag() == "!");
  CHECK(y["info"]["version"].Scalar() == "1.0");
  CHECK(yaml.find("openapi: \"3.1.0\"") != std::string::npos);
  CHECK(yaml.find("\"200\":") != std::string::npos);
  CHECK(yaml.find('{') != 0);  // block style, not one flow mapping
  same_document(j, y, "");

  // What a YAML reader would take for a number, a boolean, null or a date reads back as the
  // string it was.
  for (const std::string v : {"2", "1e3", "0x1F", "-1", ".5", "+.inf", "yes", "No", "off", "null",
                              "~", "", "True", "2026-11-22", "<<"}) {
    const auto node = YAML::Load(http::render_openapi_yaml({"", v}))["info"]["version"];
    CHECK_MESSAGE(node.Tag() == "!", v);
    CHECK(node.Scalar() == v);
  }
  CHECK(YAML::Load(http::render_openapi_yaml({"/narwhal", "1"}))["servers"][0]["url"].Scalar() ==
        "/narwhal");
}

TEST_CASE("the document is the same bytes every time") {
  const auto json = http::render_openapi_json(plain_info());
  CHECK(json == http::render_openapi_json(plain_info()));
  const auto yaml = http::render_openapi_yaml(plain_info());
  CHECK(yaml == http::render_openapi_yaml(plain_info()));
  CHECK(json != http::render_openapi_json({"/narwhal", "1.0"}));
  CHECK(json.find('\n') == std::string::npos);

  // NARWHAL_OPENAPI_DUMP=<dir> writes both forms for tests/tools/lint_openapi.sh.
  if (const char* dir = std::getenv("NARWHAL_OPENAPI_DUMP")) {
    std::ofstream(std::string(dir) + "/openapi.json") << json;
    std::ofstream(std::string(dir) + "/openapi.yaml") << yaml;
  }
}
