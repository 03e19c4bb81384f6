#include "narwhal/render/context.hpp"

#include <array>
#include <cstdint>
#include <string_view>

#include "narwhal/state/object.hpp"
#include "narwhal/util/text.hpp"

namespace narwhal::render {

namespace {

// How a term's values read once a JSON-LD processor expands them.
enum class Value : std::uint8_t {
  plain,      // literals (strings, numbers, booleans) and nested objects, as written
  link,       // "@type": "@id": a URL string of this service, resolved against the document
  ordered,    // "@container": "@list": the array's order means something
  json,       // "@type": "@json": one JSON literal, its keys never read as properties
  date_time,  // "@type": "xsd:dateTime"
};

struct Term {
  std::string_view name;
  Value value = Value::plain;
};

struct Type {
  std::string_view name;
  std::string_view scoped = {};  // a type-scoped context: terms that read differently in this type
};

// Types that are not one of the state kinds (those come from state::kind_type, so a new kind
// cannot be forgotten here).
constexpr std::array kTypes{
    Type{"EntryPoint"},  // "/"
    Type{"Collection"},  // every list page, /history
    Type{"Cluster"},     // /cluster
    Type{"Swarm"},       // /swarm
    Type{"Change"},      // an item of /history (live events carry their resource's type instead)
    // RFC 9457 documents. Their `type` is the problem type's URL (/api/errors/<CODE>, the
    // ErrorCode resource), so inside a Problem it links. Problems carry no "@type" yet; once they
    // say "Problem", the link follows with no change here.
    Type{"Problem", R"({"type": {"@id": "type", "@type": "@id"}})"},
    Type{"SearchResults"},  // /search
    Type{"ErrorRegistry"},  // /api/errors
    Type{"ErrorCode"},      // an item of /api/errors, and /api/errors/{code}
};

// narwhal's own keys, grouped by the body that first writes them. JSON-LD terms are global, so a
// key that several bodies share (`name`, `status`, `total`, …) is listed once and must read the
// same everywhere.
constexpr std::array kTerms{
    // Collections, /history, /search and /api/errors. A page is sorted (by `sort`, or newest
    // first), so `items` keeps its order instead of becoming an unordered set.
    Term{"items", Value::ordered},
    Term{"total"},
    Term{"limit"},
    Term{"offset"},
    Term{"first", Value::link},
    Term{"next", Value::link},
    // References {"@id", "id", "name"} (`usedBy`, `service`, `node`, stack members, events).
    // `id` is the Docker ID (a number in /history: the event ID); it is data, never "@id".
    Term{"id"},
    Term{"name"},
    // Additions to Docker's objects. The references are objects with their own "@id", so they
    // need no coercion.
    Term{"serviceStatus"},
    Term{"runningTasks"},
    Term{"desiredTasks"},
    Term{"serviceName"},
    Term{"nodeHostname"},
    Term{"service"},
    Term{"node"},
    Term{"usedBy"},
    // "/" links the singletons as URL strings.
    Term{"cluster", Value::link},
    Term{"swarm", Value::link},
    // /cluster. `tasksByState` is keyed by the engine's task states, which are data (and grow
    // with Docker), not narwhal's vocabulary: a JSON literal keeps it whole.
    Term{"counts"},
    Term{"tasksByState", Value::json},
    Term{"ready"},
    Term{"down"},
    Term{"drained"},
    Term{"managers"},
    Term{"workers"},
    Term{"converged"},
    Term{"degraded"},
    Term{"resources"},
    Term{"nanoCPUs"},
    Term{"memoryBytes"},
    Term{"reservedNanoCPUs"},
    Term{"reservedMemoryBytes"},
    Term{"engine"},
    Term{"connected"},
    Term{"synced"},
    Term{"endpoint"},
    Term{"apiVersion"},
    Term{"lastError"},
    Term{"since"},  // "" before the first connection, so not typed as a date
    Term{"manager"},
    Term{"stale"},
    Term{"staleSince"},  // "" while the state is current
    // Changes: /history items, live events and /search groups. `type` names a kind ("service");
    // read as a URL it would mint a wrong link, so it stays a literal (a Problem, above, is the
    // exception). It is data, never the keyword "@type".
    Term{"type"},
    Term{"action"},
    Term{"resourceId"},
    Term{"summary"},
    Term{"resource"},
    Term{"time", Value::date_time},
    // Problems (RFC 9457): `instance` is the request path, `candidates` the canonical URLs of an
    // ambiguous lookup.
    Term{"title"},
    Term{"status"},
    Term{"detail"},
    Term{"instance", Value::link},
    Term{"requestId"},
    Term{"code"},
    Term{"candidates", Value::link},
    // /search: {"query", "total", "groups": [{"@id", "type", "total", "items"}]}.
    Term{"query"},
    Term{"groups"},
    // /api/errors items: {"code", "status", "title", "description", "suggestion"}.
    Term{"description"},
    Term{"suggestion"},
};

// Docker fields whose keys are user or driver data: label keys such as
// com.docker.stack.namespace, driver options, sysctl names, container IDs (a network's
// Containers), host names (IPAM AuxiliaryAddresses), CSI topology keys (Segments). Read through
// @vocab they would become property IRIs of whatever text a user typed, and a key with a colon
// or a leading "@" would turn into a foreign IRI or be dropped; as JSON literals they stay
// exactly as the engine returned them, null included (an expanded null would vanish). Arrays of
// strings (Env, Args, Command) keep no user text in keys, so they expand as plain values.
constexpr std::array<std::string_view, 7> kDockerMaps{
    "Labels", "Options", "DriverOpts", "Sysctls", "Containers", "AuxiliaryAddresses", "Segments",
};

void key(std::string& out, std::string_view k) {
  out += "    ";
  util::append_json_string(out, k);
  out += ": ";
}

// One term definition per line, e.g. "items": {"@id": "items", "@container": "@list"}. The @id
// equals the term, which JSON-LD reads as "@vocab + term": the vocabulary IRI is written once.
void term(std::string& out, std::string_view name, Value value, std::string_view scoped = {}) {
  key(out, name);
  out += "{\"@id\": ";
  util::append_json_string(out, name);
  switch (value) {
    case Value::plain: break;
    case Value::link: out += ", \"@type\": \"@id\""; break;
    case Value::ordered: out += ", \"@container\": \"@list\""; break;
    case Value::json: out += ", \"@type\": \"@json\""; break;
    case Value::date_time: out += ", \"@type\": \"xsd:dateTime\""; break;
  }
  if (!scoped.empty()) {
    out += ", \"@context\": ";
    out += scoped;
  }
  out += "},\n";
}

}  // namespace

std::string render_context(const Site& site) {
  std::string out;
  out.reserve(6144);
  out += "{\n  \"@context\": {\n";
  // 1.1: @json, type-scoped contexts and a relative @vocab need it; a 1.0 processor then refuses
  // the context outright instead of misreading it.
  key(out, "@version");
  out += "1.1,\n";
  // Every key without a definition of its own (Docker's PascalCase fields: Spec, Version, …)
  // expands under this vocabulary, a path of this service. JSON-LD 1.1 resolves a relative @vocab
  // against the document's URL (not the context's; pyld does the same), and bodies name this
  // context by a same-origin path, so the vocabulary is <scheme://host><base path>/api/vocab#.
  // Bodies need their URL to be read anyway: their @id and @context are paths too. The price is
  // that the IRIs follow the host name a client used; an absolute scheme (urn:narwhal:vocab:)
  // would avoid it, and is the fallback should a processor refuse the relative form.
  key(out, "@vocab");
  util::append_json_string(out, site.base_path + "/api/vocab#");
  out += ",\n";
  key(out, "xsd");
  out += "\"http://www.w3.org/2001/XMLSchema#\",\n";

  for (const Type& t : kTypes) term(out, t.name, Value::plain, t.scoped);
  for (std::size_t k = 0; k < state::kKinds; ++k) {
    const auto kind = static_cast<state::Kind>(k);
    // A volume's own Status is its driver's free-form map, unlike the Status of nodes and tasks
    // (fixed fields), so only there is it a JSON literal. Type-scoped contexts do not propagate,
    // so the rule covers the volume's top level alone.
    const std::string_view scoped =
        kind == state::Kind::volume ? R"({"Status": {"@id": "Status", "@type": "@json"}})" : "";
    term(out, state::kind_type(kind), Value::plain, scoped);
  }
  // The collection names: URL strings in "/", reference lists in a stack, numbers in /cluster's
  // counts. Coercion only touches strings, so "@id" suits all three.
  for (std::size_t k = 0; k < state::kKinds; ++k) {
    term(out, state::kind_collection(static_cast<state::Kind>(k)), Value::link);
  }
  for (const Term& t : kTerms) term(out, t.name, t.value);
  for (const std::string_view m : kDockerMaps) term(out, m, Value::json);

  out.resize(out.size() - 2);  // the last ",\n"
  out += "\n  }\n}\n";
  return out;
}

}  // namespace narwhal::render
