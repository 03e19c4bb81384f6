// The JSON-LD context against the bodies narwhal really renders: every camelCase key and every
// @type found in them must be a term of /api/context.jsonld, or a JSON-LD processor would drop
// the key (or mint an IRI nobody defined). This is the drift test that fails when a renderer
// gains a key and the context is forgotten; tests/tools/jsonld_check.py runs pyld over a live
// server for the rest.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "../support/samples.hpp"
#include "narwhal/query/search.hpp"
#include "narwhal/render/context.hpp"
#include "narwhal/render/errors.hpp"
#include "narwhal/render/history.hpp"
#include "narwhal/render/json.hpp"
#include "narwhal/render/problem.hpp"
#include "narwhal/render/search.hpp"
#include "narwhal/state/store.hpp"

using narwhal::render::Site;
using narwhal::state::Kind;

namespace {

struct Context {
  rapidjson::Document doc;
  explicit Context(const Site& site) {
    const std::string text = narwhal::render::render_context(site);
    doc.Parse(text.c_str(), text.size());
    REQUIRE_MESSAGE(!doc.HasParseError(), "the context is not JSON: " << text);
    REQUIRE(doc.IsObject());
    REQUIRE(doc.HasMember("@context"));
    REQUIRE(doc["@context"].IsObject());
  }
  [[nodiscard]] const rapidjson::Value& terms() const { return doc["@context"]; }
  [[nodiscard]] const rapidjson::Value* find(std::string_view term) const {
    const rapidjson::Value name(rapidjson::StringRef(term.data(), term.size()));
    const auto it = terms().FindMember(name);
    return it == terms().MemberEnd() ? nullptr : &it->value;
  }
  // The term's "@type" ("@id", "@json", …), or "" when it has none.
  [[nodiscard]] std::string coercion(std::string_view term) const {
    const rapidjson::Value* def = find(term);
    if (def == nullptr || !def->IsObject() || !def->HasMember("@type")) return "";
    return (*def)["@type"].GetString();
  }
};

bool json_literal(const rapidjson::Value* definitions, const rapidjson::Value& key) {
  if (definitions == nullptr || !definitions->IsObject()) return false;
  const auto it = definitions->FindMember(key);
  return it != definitions->MemberEnd() && it->value.IsObject() && it->value.HasMember("@type") &&
         it->value["@type"] == "@json";
}

// Walks rendered bodies as a JSON-LD processor would read them: into every object, but not into
// the values of @json terms (literals, whose keys are user data such as label names).
class KeyWalk {
 public:
  explicit KeyWalk(const Context& context) : context_(context) {}

  void body(const std::string& text) {
    rapidjson::Document doc;
    doc.Parse(text.c_str(), text.size());
    REQUIRE_MESSAGE(!doc.HasParseError(), "a rendered body is not JSON: " << text);
    ++bodies;
    walk(doc);
  }

  std::set<std::string> lower_keys;  // keys narwhal adds (camelCase), wherever they appear
  std::set<std::string> types;       // every "@type" value
  int bodies = 0;

 private:
  void walk(const rapidjson::Value& v) {
    if (v.IsArray()) {
      for (const auto& item : v.GetArray()) walk(item);
      return;
    }
    if (!v.IsObject()) return;
    // A type-scoped context (a volume's Status) applies to this object's own keys only.
    const rapidjson::Value* scoped = nullptr;
    if (const auto t = v.FindMember("@type"); t != v.MemberEnd()) {
      REQUIRE(t->value.IsString());
      types.insert(t->value.GetString());
      if (const rapidjson::Value* def = context_.find(t->value.GetString());
          def != nullptr && def->IsObject() && def->HasMember("@context")) {
        scoped = &(*def)["@context"];
      }
    }
    for (const auto& m : v.GetObject()) {
      const std::string_view k(m.name.GetString(), m.name.GetStringLength());
      if (k.empty() || k.front() == '@') continue;
      if (k.front() >= 'a' && k.front() <= 'z') lower_keys.emplace(k);
      if (json_literal(&context_.terms(), m.name) || json_literal(scoped, m.name)) continue;
      walk(m.value);
    }
  }

  const Context& context_;
};

// Everything the render library writes, from the engine samples: lists and details of every
// kind, stacks, /cluster, /swarm, "/", a history page with real changes, a search, the error
// registry and every problem.
std::vector<std::string> rendered_bodies(const Site& site) {
  using narwhal::render::CollectionPage;
  namespace render = narwhal::render;
  namespace state = narwhal::state;

  state::Store store(100);
  (void)store.apply(narwhal::test::full_sync());
  // A second sync from another engine version: creates, updates and removals of every kind.
  state::Change again;
  auto set = [&](Kind k, const std::string& file) {
    again.full.at(static_cast<std::size_t>(k)) =
        narwhal::test::listing(k, "v1.45-docker26/" + file);
  };
  set(Kind::node, "nodes.json");
  set(Kind::service, "services.json");
  set(Kind::task, "tasks-one-running-one-rejected.json");
  set(Kind::config, "configs.json");
  set(Kind::secret, "secrets.json");
  set(Kind::network, "networks.json");
  set(Kind::volume, "volumes.json");
  const auto changes = store.apply(again);
  REQUIRE_FALSE(changes.empty());
  // Render from the first snapshot too: it has stacks, tasks with services, used configs.
  state::Store first(10);
  (void)first.apply(narwhal::test::full_sync());

  std::vector<std::string> out;
  for (const auto& snap : {first.snapshot(), store.snapshot()}) {
    for (std::size_t k = 0; k < state::kEngineKinds; ++k) {
      const auto kind = static_cast<Kind>(k);
      std::vector<const state::Object*> items;
      for (const auto& o : snap->table(kind).items) {
        items.push_back(o.get());
        out.push_back(render::render_object(*snap, *o, true, site).text);
      }
      const std::string self = site.base_path + "/" + std::string(state::kind_collection(kind));
      out.push_back(
          render::render_collection(*snap, items, CollectionPage{self, items.size(), 50, 0}, site));
    }
    std::vector<const state::Stack*> stacks;
    for (const auto& st : *snap->stacks) {
      stacks.push_back(&st);
      out.push_back(render::render_stack(st, true, site).text);
    }
    out.push_back(render::render_stack_collection(
        stacks, CollectionPage{site.base_path + "/stacks", stacks.size(), 50, 0}, site));
    out.push_back(render::render_cluster(*snap, site, true));
    out.push_back(render::render_swarm(*snap, site));
    for (const char* q : {"e", "web"}) {
      const auto found = narwhal::query::search(*snap, q, 5);
      out.push_back(
          render::render_search(*snap, found, q, site.base_path + "/search?q=" + q, site));
    }
  }
  out.push_back(render::render_index(site));
  render::HistoryPage page;
  page.self = site.base_path + "/history?limit=2";
  page.limit = 2;
  page.first = page.self;
  page.next = page.self + "&before=1";
  out.push_back(render::render_history(store.history().latest(50), page, site));
  out.push_back(render::render_error_list_json(site));
  for (const auto& code : render::error_registry()) {
    out.push_back(render::render_error_json(code, site));
    render::Problem p{std::string(code.code), "what went wrong", {site.url(Kind::service, "a")}};
    out.push_back(render::render_problem(p, site.base_path + "/services/a", "5f0c2a9e1d7b4c3a",
                                         site.base_path));
  }
  return out;
}

}  // namespace

TEST_CASE("context: JSON-LD 1.1 with a vocabulary under the service, same bytes every time") {
  for (const std::string base : {"", "/narwhal"}) {
    CAPTURE(base);
    const Site site{base};
    const Context context(site);
    CHECK(context.doc.MemberCount() == 1);  // a context document holds "@context" only
    const auto& terms = context.terms();
    REQUIRE(terms.HasMember("@version"));
    CHECK(terms["@version"].IsNumber());
    CHECK(terms["@version"].GetDouble() == doctest::Approx(1.1));
    REQUIRE(terms.HasMember("@vocab"));
    CHECK(std::string(terms["@vocab"].GetString()) == base + "/api/vocab#");
    CHECK(context.coercion("time") == "xsd:dateTime");
    CHECK(terms.HasMember("xsd"));
    CHECK(narwhal::render::render_context(site) == narwhal::render::render_context(site));
  }
  CHECK(narwhal::render::render_context(Site{""}) !=
        narwhal::render::render_context(Site{"/narwhal"}));
}

TEST_CASE("context: every @type narwhal writes or is about to write is defined") {
  const Context context(Site{""});
  for (const char* type : {"EntryPoint", "Collection", "Node", "Service", "Task", "Stack", "Config",
                           "Secret", "Network", "Volume", "Cluster", "Swarm", "Change", "Problem",
                           "SearchResults", "ErrorCode", "ErrorRegistry"}) {
    CAPTURE(type);
    CHECK(context.find(type) != nullptr);
  }
  for (std::size_t k = 0; k < narwhal::state::kKinds; ++k) {
    CHECK(context.find(narwhal::state::kind_type(static_cast<Kind>(k))) != nullptr);
  }
}

TEST_CASE("context: plain keys stay data, links resolve, user maps stay literals") {
  const Context context(Site{"/narwhal"});
  // No term may alias a keyword: `type` (a kind name or a problem's URL) and `id` (a Docker ID,
  // an event number) are data, never "@type"/"@id".
  for (const auto& m : context.terms().GetObject()) {
    const std::string name = m.name.GetString();
    if (name.front() == '@' || !m.value.IsObject()) continue;
    CAPTURE(name);
    REQUIRE(m.value.HasMember("@id"));
    CHECK(m.value["@id"].GetString()[0] != '@');
  }
  for (const char* plain : {"type", "id", "name", "status", "action", "since"}) {
    CAPTURE(plain);
    CHECK(context.coercion(plain) == "");
  }
  // URL strings, resolved like @id.
  for (const char* link :
       {"first", "next", "instance", "candidates", "nodes", "services", "tasks", "configs",
        "secrets", "networks", "volumes", "stacks", "cluster", "swarm"}) {
    CAPTURE(link);
    CHECK(context.coercion(link) == "@id");
  }
  // Keys that are user or engine data stay JSON literals.
  for (const char* literal : {"Labels", "Options", "DriverOpts", "Sysctls", "Containers",
                              "AuxiliaryAddresses", "Segments", "tasksByState"}) {
    CAPTURE(literal);
    CHECK(context.coercion(literal) == "@json");
  }
  // Only a volume's Status is the driver's map; nodes' and tasks' have fixed fields.
  CHECK(context.coercion("Status") == "");
  const rapidjson::Value* volume = context.find("Volume");
  REQUIRE(volume != nullptr);
  REQUIRE(volume->HasMember("@context"));
  CHECK(json_literal(&(*volume)["@context"], rapidjson::Value("Status")));
  // Inside a Problem, `type` is the problem type's URL: a link, still under the term `type`.
  const rapidjson::Value* problem = context.find("Problem");
  REQUIRE(problem != nullptr);
  REQUIRE(problem->HasMember("@context"));
  const auto& problem_type = (*problem)["@context"]["type"];
  CHECK(problem_type["@id"] == "type");
  CHECK(problem_type["@type"] == "@id");
  // Pages keep their order.
  const rapidjson::Value* items = context.find("items");
  REQUIRE(items != nullptr);
  CHECK((*items)["@container"] == "@list");
}

TEST_CASE("context: every key and @type of every rendered body is a term (drift test)") {
  for (const std::string base : {"", "/narwhal"}) {
    CAPTURE(base);
    const Site site{base};
    const Context context(site);
    KeyWalk walk(context);
    for (const auto& body : rendered_bodies(site)) walk.body(body);
    CHECK(walk.bodies > 50);
    // The walk reached the keys of every renderer, so the check below is not vacuous.
    for (const char* seen :
         {"items", "serviceStatus", "runningTasks", "nodeHostname", "usedBy", "service", "node",
          "tasksByState", "reservedNanoCPUs", "lastError", "first", "next", "resourceId", "time",
          "requestId", "candidates", "networks", "cluster"}) {
      CAPTURE(seen);
      CHECK(walk.lower_keys.count(seen) == 1);
    }
    for (const auto& key : walk.lower_keys) {
      CAPTURE(key);
      CHECK(context.find(key) != nullptr);
    }
    for (const auto& type : walk.types) {
      CAPTURE(type);
      CHECK(context.find(type) != nullptr);
    }
    for (const char* type : {"Change", "Volume", "SearchResults", "ErrorRegistry", "ErrorCode"}) {
      CAPTURE(type);
      CHECK(walk.types.count(type) == 1);
    }
  }
}

TEST_CASE("context: the keys of live events are terms too") {
  const Context context(Site{""});
  // live/event.cpp (SSE payloads), /search and /api/errors (SPEC §8, §10, §11).
  for (const char* key :
       {"type", "action", "id", "name", "resource", "summary", "time", "query", "total", "groups",
        "items", "code", "status", "title", "description", "suggestion"}) {
    CAPTURE(key);
    CHECK(context.find(key) != nullptr);
  }
}
