#include "narwhal/http/openapi.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <vector>

#include "narwhal/http/routes.hpp"
#include "openapi_yaml.hpp"

namespace narwhal::http {

using state::Kind;

namespace {

using JsonValue = rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

// Builds values in one document's allocator; every string is copied, so the literals and
// temporaries the builders pass in need not outlive the document.
class Dom {
 public:
  explicit Dom(Allocator& a) : a_(a) {}

  [[nodiscard]] JsonValue str(std::string_view s) const {
    return {s.data(), static_cast<rapidjson::SizeType>(s.size()), a_};
  }
  [[nodiscard]] static JsonValue object() { return JsonValue(rapidjson::kObjectType); }
  [[nodiscard]] static JsonValue array() { return JsonValue(rapidjson::kArrayType); }

  void put(JsonValue& obj, std::string_view key, JsonValue v) const {
    obj.AddMember(str(key), std::move(v), a_);
  }
  void put(JsonValue& obj, std::string_view key, std::string_view v) const {
    put(obj, key, str(v));
  }
  void put_bool(JsonValue& obj, std::string_view key, bool v) const { put(obj, key, JsonValue(v)); }
  void push(JsonValue& arr, JsonValue v) const { arr.PushBack(std::move(v), a_); }
  [[nodiscard]] Allocator& alloc() const { return a_; }
  // Appends the members of `from` to `into`. Copies rather than moves: iterating rapidjson's
  // non-const members is ambiguous in C++20 for clang, which builds the fuzzers.
  void merge(JsonValue& into, const JsonValue& from) const {
    for (const auto& m : from.GetObject())
      into.AddMember(JsonValue(m.name, a_), JsonValue(m.value, a_), a_);
  }

  // {"$ref": "#/components/<section>/<name>"}
  [[nodiscard]] JsonValue ref(std::string_view section, std::string_view name) const {
    JsonValue out = object();
    put(out, "$ref", "#/components/" + std::string(section) + "/" + std::string(name));
    return out;
  }

  // A JSON literal of this file, copied into the document. A literal that doesn't parse is a bug
  // of narwhal's own, and unit_routes renders the document, so it never reaches a user.
  [[nodiscard]] JsonValue parse(std::string_view json) const {
    rapidjson::Document tmp;
    tmp.Parse(json.data(), json.size());
    if (tmp.HasParseError()) {
      std::fprintf(stderr, "%s:%d: bad JSON literal at offset %zu: %.*s\n", __FILE__, __LINE__,
                   tmp.GetErrorOffset(), static_cast<int>(json.size()), json.data());
      std::abort();
    }
    return {tmp, a_};
  }

 private:
  Allocator& a_;
};

std::string capitalised(std::string_view s) {
  std::string out(s);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 32);
  return out;
}

// ---- What a route answers, derived from the table ------------------------------------------

std::vector<std::string> path_params(std::string_view pattern) {
  std::vector<std::string> out;
  for (auto open = pattern.find('{'); open != std::string_view::npos;
       open = pattern.find('{', open + 1)) {
    const auto close = pattern.find('}', open);
    if (close == std::string_view::npos) break;
    out.emplace_back(pattern.substr(open + 1, close - open - 1));
  }
  return out;
}

bool takes(const Route& r, std::string_view in, std::string_view name = {}) {
  for (const auto& p : r.params) {
    if (p.in == in && (name.empty() || p.name == name)) return true;
  }
  return false;
}

// The kind a path parameter addresses: a detail's own kind, or the service or node whose tasks
// /…/{id}/tasks lists.
std::optional<Kind> addressed_kind(const Route& r) {
  if (r.id == RouteId::detail) return r.kind;
  if (r.id == RouteId::tasks_of) {
    const auto slash = r.pattern.find('/', 1);
    return state::kind_from_collection(std::string_view(r.pattern).substr(1, slash - 1));
  }
  return std::nullopt;
}

struct Facts {
  bool pages = false;       // takes Range: 206, 416, Accept-Ranges
  bool cacheable = false;   // a strong ETag, so If-None-Match and 304
  bool bad_query = false;   // query parameters that can be malformed: 400
  bool addressed = false;   // path parameters that may name nothing: 404
  bool ambiguous = false;   // addressed by ID prefix or name, which may match several: 409
  bool streams = false;     // SSE, capped: 429
  bool detail = false;      // Last-Modified, If-Modified-Since, Content-Location
  bool readiness = false;   // 503 while not ready
  bool swarm_data = false;  // 503 before the first full sync; Warning while stale
  bool cluster = false;     // Warning while stale
  bool negotiated = false;  // Vary: Accept, and 406 when nothing offered is acceptable
};

Facts facts_of(const Route& r) {
  Facts f;
  f.pages = takes(r, "header", "Range");
  f.cacheable = r.negotiated && (r.offers & (kOfferJson | kOfferAtom | kOfferYaml)) != 0;
  f.bad_query = takes(r, "query");
  f.addressed = !path_params(r.pattern).empty();
  const auto kind = addressed_kind(r);
  // Stacks and volumes are addressed by their exact name only.
  f.ambiguous = kind && *kind != Kind::stack && *kind != Kind::volume;
  f.streams = (r.offers & kOfferSse) != 0;
  f.detail = r.id == RouteId::detail;
  f.readiness = r.id == RouteId::ready;
  f.swarm_data = serves_swarm_data(r.id);
  f.cluster = r.id == RouteId::cluster;
  f.negotiated = r.negotiated;
  return f;
}

// The name the operation IDs are made of: getServices, headService, getNodeTasks, …
std::string noun_of(const Route& r) {
  switch (r.id) {
    case RouteId::index: return "Index";
    case RouteId::list: return capitalised(state::kind_collection(*r.kind));
    case RouteId::detail: return std::string(state::kind_type(*r.kind));
    case RouteId::tasks_of: return std::string(state::kind_type(*addressed_kind(r))) + "Tasks";
    case RouteId::cluster: return "Cluster";
    case RouteId::swarm: return "Swarm";
    case RouteId::events: return "Events";
    case RouteId::history: return "History";
    case RouteId::search: return "SearchResults";
    case RouteId::api: return "OpenApiDocument";
    case RouteId::api_context: return "Context";
    case RouteId::api_errors: return "ErrorCodes";
    case RouteId::api_error: return "ErrorCode";
    case RouteId::health: return "Health";
    case RouteId::ready: return "Readiness";
    case RouteId::metrics: return "Metrics";
  }
  return "Unknown";
}

// ---- Tags: how documentation UIs group the operations --------------------------------------

struct Tag {
  std::string name;
  std::string description;
};

Tag tag_of(const Route& r) {
  if (const auto kind = r.id == RouteId::tasks_of ? addressed_kind(r) : r.kind) {
    const auto coll = state::kind_collection(*kind);
    return {capitalised(coll), "The " + std::string(coll) +
                                   " of the swarm: lists, details, their change feeds and streams"};
  }
  switch (r.id) {
    case RouteId::index:
    case RouteId::cluster:
    case RouteId::swarm: return {"Swarm", "The entry point, the cluster summary, the swarm object"};
    case RouteId::events:
    case RouteId::history:
      return {"Changes", "Every change narwhal saw: live (SSE) and as history (JSON, Atom)"};
    case RouteId::search: return {"Search", "Name search across every type"};
    case RouteId::api:
    case RouteId::api_context:
    case RouteId::api_errors:
    case RouteId::api_error:
      return {"API description", "This document, the JSON-LD context and the error codes"};
    default:
      return {"Operations",
              "Liveness, readiness and metrics for orchestrators and Prometheus; not negotiated"};
  }
}

// ---- Schemas ----------------------------------------------------------------------------------

// Shapes that don't depend on the route table. They follow render/json.cpp, render/history.cpp
// and render/problem.cpp; shapes still being written (search results, the error registry) are
// left open so a client validating against them keeps working as they grow.
constexpr std::string_view kStaticSchemas = R"json({
"Problem": {"type": "object",
  "description": "An RFC 9457 problem document: every error narwhal answers with, on every path.",
  "required": ["type", "title", "status"],
  "properties": {
    "@context": {"type": "string", "format": "uri-reference"},
    "type": {"type": "string", "format": "uri-reference",
      "description": "/api/errors/<code> (under the base path), or about:blank"},
    "title": {"type": "string"},
    "status": {"type": "integer", "minimum": 400, "maximum": 599},
    "detail": {"type": "string", "description": "what went wrong with this request"},
    "instance": {"type": "string", "description": "the request path"},
    "requestId": {"type": "string", "description": "the Request-Id of the request, for logs"},
    "code": {"type": "string", "pattern": "^[A-Z]{3}[0-9]{3}$"},
    "candidates": {"type": "array", "items": {"type": "string", "format": "uri-reference"},
      "description": "409: the canonical URLs of the objects an ambiguous ID prefix or name matches"}}},
"Reference": {"type": "object", "description": "A link to another object of the swarm.",
  "required": ["@id", "id", "name"],
  "properties": {
    "@id": {"type": "string", "format": "uri-reference", "description": "its canonical URL"},
    "id": {"type": "string", "description": "its ID (volumes and stacks: the name)"},
    "name": {"type": "string"}}},
"Collection": {"type": "object",
  "description": "A page of a collection: searched, filtered, sorted, then paged.",
  "required": ["@context", "@id", "@type", "items", "total", "limit", "offset"],
  "properties": {
    "@context": {"type": "string", "format": "uri-reference"},
    "@id": {"type": "string", "format": "uri-reference", "description": "this page's URL"},
    "@type": {"type": "string", "const": "Collection"},
    "items": {"type": "array", "items": {"type": "object"}},
    "total": {"type": "integer", "minimum": 0,
      "description": "items after search and filter, over all pages"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 200},
    "offset": {"type": "integer", "minimum": 0}}},
"Cluster": {"type": "object",
  "description": "A summary of the swarm, and of narwhal's connection to the engine.",
  "required": ["@context", "@id", "@type", "counts", "tasksByState", "nodes", "services",
    "resources", "engine"],
  "properties": {
    "@context": {"type": "string", "format": "uri-reference"},
    "@id": {"type": "string", "format": "uri-reference"},
    "@type": {"type": "string", "const": "Cluster"},
    "counts": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0},
      "description": "objects per type, keyed by collection name (services, nodes, …)"},
    "tasksByState": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
    "nodes": {"type": "object", "properties": {
      "ready": {"type": "integer"}, "down": {"type": "integer"}, "drained": {"type": "integer"},
      "managers": {"type": "integer"}, "workers": {"type": "integer"}}},
    "services": {"type": "object", "properties": {
      "converged": {"type": "integer"}, "degraded": {"type": "integer"}},
      "description": "replicated and global services (jobs excepted) with all, or fewer than all, desired tasks running"},
    "resources": {"type": "object", "properties": {
      "nanoCPUs": {"type": "integer", "format": "int64"},
      "memoryBytes": {"type": "integer", "format": "int64"},
      "reservedNanoCPUs": {"type": "integer", "format": "int64"},
      "reservedMemoryBytes": {"type": "integer", "format": "int64"}},
      "description": "the nodes' capacity, and what running tasks reserve of it"},
    "engine": {"type": "object", "properties": {
      "connected": {"type": "boolean"}, "synced": {"type": "boolean"}, "ready": {"type": "boolean"},
      "endpoint": {"type": "string"}, "apiVersion": {"type": "string"},
      "lastError": {"type": "string"},
      "since": {"type": "string", "description": "RFC 3339: when `connected` last changed; empty when never"},
      "manager": {"type": "boolean", "description": "false while the engine answers but is no swarm manager (it left the swarm, or is a worker)"},
      "stale": {"type": "boolean", "description": "true while the state shown is the last known one: the engine is lost or no manager"},
      "staleSince": {"type": "string", "description": "RFC 3339: since when the state is stale; empty while it is current"}}}}},
"Swarm": {"type": "object", "additionalProperties": true,
  "description": "The engine's swarm object, its own fields as Docker returns them; JoinTokens are always removed.",
  "required": ["@context", "@id", "@type"],
  "properties": {
    "@context": {"type": "string", "format": "uri-reference"},
    "@id": {"type": "string", "format": "uri-reference"},
    "@type": {"type": "string", "const": "Swarm"}}},
"History": {"type": "object",
  "description": "A page of the change history, newest first, paged by the `before` cursor rather than an offset because new changes keep arriving at the top.",
  "required": ["@context", "@id", "@type", "items", "limit", "first"],
  "properties": {
    "@context": {"type": "string", "format": "uri-reference"},
    "@id": {"type": "string", "format": "uri-reference"},
    "@type": {"type": "string", "const": "Collection"},
    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Change"}},
    "limit": {"type": "integer", "minimum": 1, "maximum": 200},
    "first": {"type": "string", "format": "uri-reference", "description": "the newest page"},
    "next": {"type": "string", "format": "uri-reference",
      "description": "the next, older page; absent on the last page"}}},
"Change": {"type": "object", "description": "One change of one object.",
  "required": ["@type", "id", "time", "type", "action", "resourceId", "name"],
  "properties": {
    "@type": {"type": "string", "const": "Change"},
    "id": {"type": "integer", "format": "int64",
      "description": "the event ID, as in SSE id: and Last-Event-ID"},
    "time": {"type": "string", "format": "date-time"},
    "type": {"type": "string", "enum": ["node", "service", "task", "config", "secret", "network",
      "volume", "stack"]},
    "action": {"type": "string", "enum": ["create", "update", "remove"]},
    "resourceId": {"type": "string"},
    "name": {"type": "string"},
    "summary": {"type": "string", "description": "what changed, when known: replicas 2 → 3, …"},
    "resource": {"type": "object", "properties": {
      "@id": {"type": "string", "format": "uri-reference"}}}}},
"SearchResults": {"type": "object", "additionalProperties": true,
  "description": "Matches of the name search grouped by type (services, stacks, tasks, nodes, configs, secrets, networks, volumes), each group with its total and its first items.",
  "required": ["@context", "@id", "@type"],
  "properties": {
    "@context": {"type": "string", "format": "uri-reference"},
    "@id": {"type": "string", "format": "uri-reference"},
    "@type": {"type": "string"}}},
"ErrorRegistry": {"type": "object", "additionalProperties": true,
  "description": "Every error code narwhal can answer with, and nothing else.",
  "required": ["@context", "@id", "@type"],
  "properties": {
    "@context": {"type": "string", "format": "uri-reference"},
    "@id": {"type": "string", "format": "uri-reference"},
    "@type": {"type": "string"},
    "items": {"type": "array", "items": {"$ref": "#/components/schemas/ErrorCode"}}}},
"ErrorCode": {"type": "object", "additionalProperties": true,
  "description": "One error code: what it means and what to do about it.",
  "required": ["code", "status", "title"],
  "properties": {
    "@context": {"type": "string", "format": "uri-reference"},
    "@id": {"type": "string", "format": "uri-reference"},
    "@type": {"type": "string"},
    "code": {"type": "string", "pattern": "^[A-Z]{3}[0-9]{3}$"},
    "status": {"type": "integer", "minimum": 400, "maximum": 599},
    "title": {"type": "string"},
    "description": {"type": "string"},
    "suggestion": {"type": "string"}}},
"JsonLdContext": {"type": "object", "required": ["@context"],
  "description": "The JSON-LD context every body refers to in its @context.",
  "properties": {"@context": {"type": "object"}}},
"OpenApiDocument": {"type": "object", "additionalProperties": true,
  "description": "This OpenAPI 3.1 document.",
  "required": ["openapi", "info", "paths"],
  "properties": {"openapi": {"type": "string"}, "info": {"type": "object"},
    "paths": {"type": "object"}}},
"Health": {"type": "object", "required": ["status", "version", "uptimeSeconds"],
  "properties": {
    "status": {"type": "string", "const": "ok"},
    "version": {"type": "string", "description": "narwhal's version"},
    "uptimeSeconds": {"type": "integer", "minimum": 0}}},
"Readiness": {"type": "object", "required": ["status"],
  "properties": {"status": {"type": "string", "const": "ready"}}}
})json";

// narwhal's camelCase additions to each kind's engine object (SPEC §3).
std::string_view additions_of(Kind k) {
  switch (k) {
    case Kind::service:
      return R"json({"serviceStatus": {"type": "object",
        "required": ["runningTasks", "desiredTasks"],
        "properties": {"runningTasks": {"type": "integer", "minimum": 0},
          "desiredTasks": {"type": "integer", "minimum": 0}}}})json";
    case Kind::task:
      return R"json({"serviceName": {"type": "string"}, "nodeHostname": {"type": "string"},
        "service": {"description": "detail only; null once the service is gone",
          "anyOf": [{"$ref": "#/components/schemas/Reference"}, {"type": "null"}]},
        "node": {"description": "detail only; null when not placed or the node is gone",
          "anyOf": [{"$ref": "#/components/schemas/Reference"}, {"type": "null"}]}})json";
    case Kind::config:
    case Kind::secret:
    case Kind::network:
    case Kind::volume:
      return R"json({"usedBy": {"type": "array",
        "items": {"$ref": "#/components/schemas/Reference"},
        "description": "detail only: the services that reference it"}})json";
    case Kind::stack:
      return R"json({"name": {"type": "string"},
        "services": {"type": "array", "items": {"$ref": "#/components/schemas/Reference"}},
        "configs": {"type": "array", "items": {"$ref": "#/components/schemas/Reference"}},
        "secrets": {"type": "array", "items": {"$ref": "#/components/schemas/Reference"}},
        "networks": {"type": "array", "items": {"$ref": "#/components/schemas/Reference"}},
        "volumes": {"type": "array", "items": {"$ref": "#/components/schemas/Reference"}}})json";
    default: return "{}";
  }
}

JsonValue uri_schema(const Dom& d, std::string_view description = {}) {
  JsonValue s = Dom::object();
  d.put(s, "type", "string");
  d.put(s, "format", "uri-reference");
  if (!description.empty()) d.put(s, "description", description);
  return s;
}

// One kind's objects: the engine's JSON as it is (open), behind "@id" and "@type".
JsonValue kind_schema(const Dom& d, Kind k) {
  JsonValue s = Dom::object();
  d.put(s, "type", "object");
  const std::string name(state::kind_name(k));
  d.put(s, "description",
        k == Kind::stack
            ? std::string("A stack: the services carrying one com.docker.stack.namespace label, "
                          "and the configs, secrets, networks and volumes labelled with it.")
            : "A " + name + " as the engine returns it: Docker's own PascalCase fields, " +
                  (k == Kind::secret ? "never the secret's data, " : "") +
                  "behind @id and @type and followed by narwhal's camelCase additions.");
  JsonValue required = Dom::array();
  d.push(required, d.str("@id"));
  d.push(required, d.str("@type"));
  d.put(s, "required", std::move(required));
  JsonValue props = Dom::object();
  d.put(props, "@context", uri_schema(d, "on detail documents only, not on list items"));
  const bool named = k == Kind::stack || k == Kind::volume;
  d.put(props, "@id",
        uri_schema(d, named ? "the canonical URL, made of the name"
                            : "the canonical URL, made of the full ID"));
  JsonValue type = Dom::object();
  d.put(type, "type", "string");
  d.put(type, "const", state::kind_type(k));
  d.put(props, "@type", std::move(type));
  d.merge(props, d.parse(additions_of(k)));
  d.put(s, "properties", std::move(props));
  d.put_bool(s, "additionalProperties", true);
  return s;
}

// The body schema a route's JSON representations share ("" for none).
std::string json_schema_name(const Route& r) {
  switch (r.id) {
    case RouteId::index: return "EntryPoint";
    case RouteId::list:
    case RouteId::tasks_of: return std::string(state::kind_type(*r.kind)) + "Collection";
    case RouteId::detail: return std::string(state::kind_type(*r.kind));
    case RouteId::cluster: return "Cluster";
    case RouteId::swarm: return "Swarm";
    case RouteId::events:
    case RouteId::history: return "History";
    case RouteId::search: return "SearchResults";
    case RouteId::api: return "OpenApiDocument";
    case RouteId::api_context: return "JsonLdContext";
    case RouteId::api_errors: return "ErrorRegistry";
    case RouteId::api_error: return "ErrorCode";
    case RouteId::health: return "Health";
    case RouteId::ready: return "Readiness";
    case RouteId::metrics: return "";
  }
  return "";
}

// What the entry point links to (render_index): every collection, the cluster and the swarm.
JsonValue entry_point_schema(const Dom& d) {
  JsonValue s = Dom::object();
  d.put(s, "type", "object");
  d.put(s, "description", "Links to every collection, the cluster summary and the swarm.");
  JsonValue required = Dom::array();
  JsonValue props = Dom::object();
  for (const auto key : {"@context", "@id", "@type"}) {
    d.push(required, d.str(key));
    d.put(props, key, uri_schema(d));
  }
  props["@type"] = d.parse(R"json({"type": "string", "const": "EntryPoint"})json");
  for (std::size_t k = 0; k < state::kKinds; ++k) {
    d.put(props, state::kind_collection(static_cast<Kind>(k)), uri_schema(d));
  }
  d.put(props, "cluster", uri_schema(d));
  d.put(props, "swarm", uri_schema(d));
  d.put(s, "required", std::move(required));
  d.put(s, "properties", std::move(props));
  return s;
}

JsonValue collection_schema(const Dom& d, Kind k) {
  JsonValue s = Dom::object();
  d.put(s, "description", "A page of " + std::string(state::kind_collection(k)) + ".");
  JsonValue all_of = Dom::array();
  d.push(all_of, d.ref("schemas", "Collection"));
  JsonValue items = d.parse(R"json({"type": "object", "properties": {"items":
      {"type": "array", "items": {}}}})json");
  items["properties"]["items"]["items"] = d.ref("schemas", state::kind_type(k));
  d.push(all_of, std::move(items));
  d.put(s, "allOf", std::move(all_of));
  return s;
}

// components.schemas: the fixed shapes, with the per-kind ones (those the routes use) after
// Collection, in kind order.
JsonValue schemas(const Dom& d) {
  std::array<bool, state::kKinds> shown{}, listed{};
  for (const auto& r : routes()) {
    if (r.kind && (r.id == RouteId::detail || r.id == RouteId::list || r.id == RouteId::tasks_of)) {
      shown.at(static_cast<std::size_t>(*r.kind)) = true;
      if (r.id != RouteId::detail) listed.at(static_cast<std::size_t>(*r.kind)) = true;
    }
  }
  const JsonValue fixed = d.parse(kStaticSchemas);
  JsonValue out = Dom::object();
  for (const auto& m : fixed.GetObject()) {
    const std::string_view name(m.name.GetString(), m.name.GetStringLength());
    d.put(out, name, JsonValue(m.value, d.alloc()));
    if (name != "Collection") continue;
    d.put(out, "EntryPoint", entry_point_schema(d));
    for (std::size_t k = 0; k < state::kKinds; ++k) {
      if (shown.at(k))
        d.put(out, state::kind_type(static_cast<Kind>(k)), kind_schema(d, static_cast<Kind>(k)));
    }
    for (std::size_t k = 0; k < state::kKinds; ++k) {
      const auto kind = static_cast<Kind>(k);
      if (listed.at(k)) {
        d.put(out, std::string(state::kind_type(kind)) + "Collection", collection_schema(d, kind));
      }
    }
  }
  return out;
}

// ---- Headers, parameters and responses shared by the operations -----------------------------

struct HeaderDoc {
  std::string_view name, type, description;
};

constexpr std::array<HeaderDoc, 11> kHeaders{{
    {"ETag", "string",
     "A strong tag of the body bytes, the same on every replica and after restarts; its weak "
     "form W/\"…\" when the body is compressed. JSON, Atom and YAML bodies only."},
    {"Last-Modified", "string",
     "The newest timestamp of everything in the body, cross-references included."},
    {"Vary", "string", "Accept, plus Accept-Encoding where the body may be compressed."},
    {"Link", "string",
     "RFC 8288: this document (rel=\"service-desc\") and the JSON-LD context "
     "(rel=\"describedby\"); the Atom feed of the same scope (rel=\"alternate\") on feed-capable "
     "JSON; first, prev, next and last on paged lists, other query parameters kept."},
    {"Link-Template", "string", "How item URLs are made, e.g. </services/{id}>; rel=\"item\"."},
    {"Accept-Ranges", "string", "items: the list can be paged with Range: items=first-last."},
    {"Content-Range", "string", "items first-last/total (206), or items */total (416)."},
    {"Content-Location", "string",
     "The canonical URL, when the request named the object by an ID prefix or its name."},
    {"Retry-After", "integer", "Seconds to wait before asking again."},
    {"Warning", "string",
     "110 narwhal \"Response is Stale\" while the state served is the last known one: the "
     "engine connection is lost or the engine is no swarm manager (/cluster says why and since "
     "when)."},
    {"Request-Id", "string",
     "The client's Request-Id, or one narwhal made; the problem's requestId and the request's "
     "log lines carry it too."},
}};

JsonValue header_components(const Dom& d) {
  JsonValue out = Dom::object();
  for (const auto& h : kHeaders) {
    JsonValue header = Dom::object();
    d.put(header, "description", h.description);
    JsonValue schema = Dom::object();
    d.put(schema, "type", h.type);
    d.put(header, "schema", std::move(schema));
    d.put(out, h.name, std::move(header));
  }
  return out;
}

JsonValue headers(const Dom& d, std::initializer_list<std::string_view> names) {
  JsonValue out = Dom::object();
  for (const auto name : names) d.put(out, name, d.ref("headers", name));
  return out;
}

JsonValue parameter(const Dom& d, const ParamSpec& spec) {
  JsonValue p = Dom::object();
  d.put(p, "name", spec.name);
  d.put(p, "in", spec.in);
  d.put(p, "description", spec.description);
  // OpenAPI requires path parameters to be required.
  if (spec.required || spec.in == "path") d.put_bool(p, "required", true);
  JsonValue schema = Dom::object();
  d.put(schema, "type", spec.type);
  if (!spec.values.empty()) {
    JsonValue values = Dom::array();
    for (const auto v : spec.values) d.push(values, d.str(v));
    d.put(schema, "enum", std::move(values));
  }
  if (spec.minimum) d.put(schema, "minimum", JsonValue(static_cast<std::int64_t>(*spec.minimum)));
  if (spec.maximum) d.put(schema, "maximum", JsonValue(static_cast<std::int64_t>(*spec.maximum)));
  d.put(p, "schema", std::move(schema));
  return p;
}

JsonValue parameter_components(const Dom& d) {
  JsonValue out = Dom::object();
  d.put(out, "Request-Id",
        parameter(d, ParamSpec{"Request-Id", "header", "string",
                               "Up to 64 printable ASCII characters, echoed in the response, its "
                               "problem documents and the log; narwhal makes one up without it."}));
  d.put(out, "If-None-Match",
        parameter(d, ParamSpec{"If-None-Match", "header", "string",
                               "ETags from earlier responses (a list, or *): 304 while the body "
                               "is unchanged."}));
  d.put(out, "If-Modified-Since",
        parameter(d, ParamSpec{"If-Modified-Since", "header", "string",
                               "An HTTP date: 304 when nothing in the body changed since; "
                               "ignored when If-None-Match is sent."}));
  return out;
}

// Error statuses, each a problem document; `answers` says which routes can give it.
struct ProblemDoc {
  std::string_view status, name, description, header;
  bool (*answers)(const Facts&);
};

constexpr std::array<ProblemDoc, 8> kProblems{{
    {"400", "BadRequest",
     "A query parameter or header has a value narwhal can't use (API006, FLT001, FLT002, SEA002, "
     "…); the detail names it and what would be valid.",
     "", [](const Facts& f) { return f.bad_query; }},
    {"404", "NotFound",
     "Nothing has this ID, ID prefix or name (NOD002, SVC002, TSK002, …), or no error has this "
     "code.",
     "", [](const Facts& f) { return f.addressed; }},
    {"406", "NotAcceptable",
     "Nothing this URL offers is acceptable (API003; API001 for text/event-stream where nothing "
     "streams); the detail lists what it offers.",
     "", [](const Facts& f) { return f.negotiated; }},
    {"409", "Conflict",
     "The ID prefix or name matches several objects (NOD001, SVC001, …); candidates lists their "
     "canonical URLs.",
     "", [](const Facts& f) { return f.ambiguous; }},
    {"416", "RangeNotSatisfiable",
     "The Range starts past the last item (API010); Content-Range tells how many there are.",
     "Content-Range", [](const Facts& f) { return f.pages; }},
    {"429", "TooManyStreams",
     "The server holds as many event streams as it allows (SSE001); try again after Retry-After.",
     "Retry-After", [](const Facts& f) { return f.streams; }},
    {"503", "NotReady",
     "Not ready: no full sync with the engine yet, or the connection was lost longer than the "
     "grace period ago (ENG001), or the engine is no swarm manager (ENG002); the detail says "
     "which, with the engine's own words. Data URLs answer it only until the first full sync "
     "(never an empty 200); after that they serve the last known state, with a Warning while "
     "it is stale.",
     "Retry-After", [](const Facts& f) { return f.readiness || f.swarm_data; }},
    {"default", "Error",
     "Any other error, as a problem document: 431 (API005) for oversized request headers, 500 "
     "(API008) for a bug of narwhal's own.",
     "", [](const Facts&) { return true; }},
}};

JsonValue problem_headers(const Dom& d, const ProblemDoc& p) {
  return p.header.empty() ? headers(d, {"Request-Id"}) : headers(d, {"Request-Id", p.header});
}

JsonValue not_modified(const Dom& d) {
  JsonValue r = Dom::object();
  d.put(r, "description",
        "Not modified: the representation still has the ETag sent in If-None-Match (or, without "
        "one, nothing changed since If-Modified-Since). No body.");
  d.put(r, "headers", headers(d, {"ETag", "Vary"}));
  return r;
}

JsonValue response_components(const Dom& d) {
  JsonValue out = Dom::object();
  d.put(out, "NotModified", not_modified(d));
  for (const auto& p : kProblems) {
    JsonValue r = Dom::object();
    d.put(r, "description", p.description);
    d.put(r, "headers", problem_headers(d, p));
    JsonValue media = Dom::object();
    d.put(media, "schema", d.ref("schemas", "Problem"));
    JsonValue content = Dom::object();
    d.put(content, "application/problem+json", std::move(media));
    d.put(r, "content", std::move(content));
    d.put(out, p.name, std::move(r));
  }
  return out;
}

// ---- Operations -------------------------------------------------------------------------------

// The representations a route answers with: offered() in the server's order, or only the first
// for the fixed-type /-/ endpoints.
std::vector<Representation> representations(const Route& r) {
  auto reps = offered(r);
  if (!r.negotiated && reps.size() > 1) reps.erase(reps.begin() + 1, reps.end());
  return reps;
}

std::string describe(const Route& r) {
  std::vector<std::string> parts;
  for (const auto rep : representations(r)) {
    switch (rep) {
      case Representation::json:
        parts.emplace_back(r.negotiated ? "JSON-LD (application/json, application/ld+json or "
                                          "a versioned type, see the introduction)"
                                        : "application/json");
        break;
      case Representation::yaml: parts.emplace_back("the same as application/yaml"); break;
      case Representation::html: parts.emplace_back("text/html: the dashboard"); break;
      case Representation::atom:
        parts.emplace_back(
            "application/atom+xml: the feed of changes in this scope, newest first, paged by "
            "limit and before");
        break;
      case Representation::event_stream:
        parts.emplace_back(
            "text/event-stream: the live changes in this scope, resumable with Last-Event-ID");
        break;
      default: break;  // the JSON aliases, described with application/json
    }
  }
  if (r.offers & kOfferText) parts.emplace_back("Prometheus text format (text/plain, 0.0.4)");
  std::string out = "Answers with ";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += i + 1 == parts.size() ? ", or " : ", ";
    out += parts[i];
  }
  out += '.';
  if (r.negotiated) out += " A .json, .atom or .html suffix on the path overrides Accept.";
  return out;
}

JsonValue string_schema(const Dom& d, std::string_view description) {
  JsonValue s = Dom::object();
  d.put(s, "type", "string");
  d.put(s, "description", description);
  return s;
}

JsonValue schema_for(const Dom& d, const Route& r, Representation rep) {
  switch (rep) {
    case Representation::html:
      return string_schema(d, "The dashboard's page; it loads the data itself.");
    case Representation::atom:
      return string_schema(d, "An RFC 4287 feed with RFC 5005 paging links.");
    case Representation::event_stream:
      return string_schema(d,
                           "Server-Sent Events: retry: first, then id:, event: and a JSON data: "
                           "per change (a JSON array for event: batch), an event: sync when the "
                           "client must reload, keepalive comments while idle.");
    default: return d.ref("schemas", json_schema_name(r));
  }
}

JsonValue content_of(const Dom& d, const Route& r, bool json_only) {
  JsonValue content = Dom::object();
  for (const auto rep : representations(r)) {
    if (json_only && !is_json(rep)) continue;
    JsonValue media = Dom::object();
    d.put(media, "schema", schema_for(d, r, rep));
    d.put(content, media_type(rep), std::move(media));
  }
  if (!json_only && (r.offers & kOfferText)) {
    JsonValue media = Dom::object();
    d.put(media, "schema", string_schema(d, "Prometheus text exposition format 0.0.4."));
    d.put(content, "text/plain", std::move(media));
  }
  return content;
}

JsonValue success_headers(const Dom& d, const Facts& f, bool partial) {
  JsonValue out = Dom::object();
  auto add = [&](std::string_view name) { d.put(out, name, d.ref("headers", name)); };
  if (f.cacheable) add("ETag");
  if (f.detail) {
    add("Last-Modified");
    add("Content-Location");
  }
  if (f.negotiated) {
    add("Vary");
    add("Link");
  }
  if (f.pages) {
    add("Link-Template");
    add("Accept-Ranges");
  }
  if (partial) add("Content-Range");
  if (f.swarm_data || f.cluster) add("Warning");
  return out;
}

// GET's responses, or HEAD's: the same statuses and headers, without bodies.
JsonValue responses(const Dom& d, const Route& r, const Facts& f, bool body) {
  JsonValue out = Dom::object();
  JsonValue ok = Dom::object();
  d.put(ok, "description", r.summary);
  if (JsonValue h = success_headers(d, f, false); h.MemberCount() > 0) {
    d.put(ok, "headers", std::move(h));
  }
  if (body) d.put(ok, "content", content_of(d, r, false));
  d.put(out, "200", std::move(ok));
  if (f.pages) {
    JsonValue partial = Dom::object();
    d.put(partial, "description",
          "The items a Range: items=first-last header asked for (JSON only; query parameters "
          "win over Range).");
    d.put(partial, "headers", success_headers(d, f, true));
    if (body) d.put(partial, "content", content_of(d, r, true));
    d.put(out, "206", std::move(partial));
  }
  if (f.cacheable) d.put(out, "304", d.ref("responses", "NotModified"));
  for (const auto& p : kProblems) {
    if (!p.answers(f)) continue;
    if (body) {
      d.put(out, p.status, d.ref("responses", p.name));
      continue;
    }
    JsonValue bare = Dom::object();
    d.put(bare, "description", p.description);
    d.put(bare, "headers", problem_headers(d, p));
    d.put(out, p.status, std::move(bare));
  }
  return out;
}

JsonValue operation(const Dom& d, const Route& r, const Facts& f, bool head) {
  JsonValue op = Dom::object();
  JsonValue tags = Dom::array();
  d.push(tags, d.str(tag_of(r).name));
  d.put(op, "tags", std::move(tags));
  d.put(op, "summary", r.summary);
  std::string description = describe(r);
  if (head) {
    description = "The GET response's status and headers, without its body";
    description += f.cacheable ? ": a cheap check of the ETag, or of what Content-Range or "
                                 "Last-Modified say."
                               : ".";
  }
  d.put(op, "description", description);
  d.put(op, "operationId", (head ? "head" : "get") + noun_of(r));
  d.put(op, "responses", responses(d, r, f, !head));
  return op;
}

// The path item: parameters shared by GET and HEAD, then both operations.
JsonValue path_item(const Dom& d, const Route& r) {
  const Facts f = facts_of(r);
  JsonValue params = Dom::array();
  for (const auto& name : path_params(r.pattern)) {
    if (takes(r, "path", name)) continue;
    d.push(params, parameter(d, ParamSpec{name, "path", "string", "the object", true}));
  }
  for (const auto& p : r.params) {
    d.push(params, parameter(d, p));
  }
  d.push(params, d.ref("parameters", "Request-Id"));
  if (f.cacheable) d.push(params, d.ref("parameters", "If-None-Match"));
  if (f.detail) d.push(params, d.ref("parameters", "If-Modified-Since"));
  JsonValue item = Dom::object();
  d.put(item, "parameters", std::move(params));
  d.put(item, "get", operation(d, r, f, false));
  d.put(item, "head", operation(d, r, f, true));
  return item;
}

constexpr std::string_view kDescription =
    "narwhal serves the state of one Docker Swarm, read-only: JSON-LD for programs, Atom for "
    "feed readers, Server-Sent Events for live dashboards, and its own dashboard as HTML.\n\n"
    "The representation comes from a path extension (.json, .atom, .html) first, then from "
    "Accept (RFC 9110: q-values and specificity), then JSON. Versions live in the media type, "
    "not in the URL: application/json is the latest version, application/vnd.narwhal.v1+json "
    "pins version 1, application/vnd.cetacean.v1+json is its alias for clients of the cetacean "
    "API, and application/ld+json is the same JSON-LD body.\n\n"
    "HEAD works wherever GET does, with the same status and headers and no body; other methods "
    "get 405 with Allow: GET, HEAD, OPTIONS. Every error is an RFC 9457 problem document whose "
    "type is an entry of /api/errors. JSON, Atom and YAML bodies carry strong ETags "
    "(If-None-Match gives 304) and Cache-Control: no-cache.";

void build(rapidjson::Document& doc, const OpenApiInfo& info) {
  const Dom d(doc.GetAllocator());
  doc.SetObject();
  d.put(doc, "openapi", "3.1.0");
  JsonValue meta = Dom::object();
  d.put(meta, "title", "narwhal");
  d.put(meta, "version", info.version);
  d.put(meta, "description", kDescription);
  JsonValue license = Dom::object();
  d.put(license, "name", "Apache License 2.0");
  d.put(license, "identifier", "Apache-2.0");
  d.put(meta, "license", std::move(license));
  d.put(doc, "info", std::move(meta));
  JsonValue servers = Dom::array();
  JsonValue server = Dom::object();
  // Paths carry no prefix: behind a reverse proxy the base path is the server's URL.
  d.put(server, "url", info.base_path.empty() ? std::string_view("/") : info.base_path);
  d.push(servers, std::move(server));
  d.put(doc, "servers", std::move(servers));
  // No authentication yet: an empty requirement list says so to clients and code generators.
  d.put(doc, "security", Dom::array());

  JsonValue tags = Dom::array();
  std::vector<std::string> seen;
  JsonValue paths = Dom::object();
  for (const auto& r : routes()) {
    auto tag = tag_of(r);
    if (std::find(seen.begin(), seen.end(), tag.name) == seen.end()) {
      JsonValue t = Dom::object();
      d.put(t, "name", tag.name);
      d.put(t, "description", tag.description);
      d.push(tags, std::move(t));
      seen.push_back(std::move(tag.name));
    }
    d.put(paths, r.pattern, path_item(d, r));
  }
  d.put(doc, "tags", std::move(tags));
  d.put(doc, "paths", std::move(paths));

  JsonValue components = Dom::object();
  d.put(components, "schemas", schemas(d));
  d.put(components, "responses", response_components(d));
  d.put(components, "parameters", parameter_components(d));
  d.put(components, "headers", header_components(d));
  d.put(doc, "components", std::move(components));
}

}  // namespace

std::string render_openapi_json(const OpenApiInfo& info) {
  rapidjson::Document doc;
  build(doc, info);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
  doc.Accept(writer);
  return {buf.GetString(), buf.GetSize()};
}

std::string render_openapi_yaml(const OpenApiInfo& info) {
  rapidjson::Document doc;
  build(doc, info);
  return yaml_of(doc);
}

}  // namespace narwhal::http
