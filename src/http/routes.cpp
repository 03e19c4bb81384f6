#include "narwhal/http/routes.hpp"

#include "narwhal/query/list_query.hpp"

namespace narwhal::http {

using state::Kind;

namespace {

constexpr std::string_view kListLimit =
    "page size, 1 to 200 (larger values are clamped to 200); with Accept: application/atom+xml, "
    "entries per feed page";

std::vector<ParamSpec> list_params(Kind kind) {
  return {
      {"limit", "query", "integer", kListLimit, false, {}, 1, std::nullopt},
      {"offset",
       "query",
       "integer",
       "index of the first item, default 0",
       false,
       {},
       0,
       std::nullopt},
      {"sort", "query", "string", "a field of the type's sort list", false,
       query::sort_fields(kind)},
      {"dir", "query", "string", "asc (default) or desc", false, {"asc", "desc"}},
      {"search", "query", "string", "case-insensitive substring of the name, up to 200 characters"},
      {"filter", "query", "string", "a filter expression (up to 512 characters)"},
      {"before", "query", "integer", "Atom: entries older than this event ID"},
      {"lastEventId", "query", "string", "SSE: resume after this event ID"},
      {"Range", "header", "string", "items=first-last: a page of items (206)"},
      {"Last-Event-ID", "header", "string", "SSE: resume after this event ID"},
  };
}

std::vector<ParamSpec> detail_params(std::string_view key, std::string_view what) {
  return {
      {key, "path", "string", what, true},
      {"limit", "query", "integer", "Atom: entries per feed page, 1 to 200", false, {}, 1, 200},
      {"before",
       "query",
       "integer",
       "Atom: entries older than this event ID",
       false,
       {},
       0,
       std::nullopt},
      {"lastEventId", "query", "string", "SSE: resume after this event ID"},
      {"Last-Event-ID", "header", "string", "SSE: resume after this event ID"},
  };
}

std::vector<ParamSpec> history_params(bool streams) {
  std::vector<ParamSpec> p{
      {"type", "query", "string", "only changes of this type (service, node, …)"},
      {"resourceId", "query", "string", "only changes of this object (ID, or name for stacks)"},
      {"before",
       "query",
       "integer",
       "only changes older than this event ID (paging cursor)",
       false,
       {},
       0,
       std::nullopt},
      {"limit", "query", "integer", "changes per page, 1 to 200 (default 50)", false, {}, 1, 200},
  };
  if (streams) {
    p.push_back({"types", "query", "string", "SSE: the types to stream, comma-separated"});
    p.push_back({"filter", "query", "string", "SSE: a filter expression on the changed objects"});
    p.push_back({"lastEventId", "query", "string", "SSE: resume after this event ID"});
    p.push_back({"Last-Event-ID", "header", "string", "SSE: resume after this event ID"});
  }
  return p;
}

std::string title_case(std::string_view s) {
  std::string out(s);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 32);
  return out;
}

std::vector<Route> build() {
  std::vector<Route> out;
  const std::uint16_t resource = kOfferJson | kOfferHtml | kOfferAtom | kOfferSse;
  out.push_back({RouteId::index,
                 "/",
                 std::nullopt,
                 kOfferJson | kOfferHtml,
                 "The entry point: links to every collection",
                 {}});
  for (std::size_t k = 0; k < state::kKinds; ++k) {
    const auto kind = static_cast<Kind>(k);
    const std::string coll(state::kind_collection(kind));
    const std::string name(state::kind_name(kind));
    out.push_back({RouteId::list, "/" + coll, kind, resource,
                   title_case(coll) + ": a page of the collection", list_params(kind)});
    const bool named = kind == Kind::stack || kind == Kind::volume;
    const std::string_view key = named ? "name" : "id";
    const std::string_view what = named ? "the name"
                                  : kind == Kind::task
                                      ? "the full ID or a unique ID prefix"
                                      : "the full ID, a unique ID prefix or the name";
    out.push_back({RouteId::detail, "/" + coll + "/{" + std::string(key) + "}", kind, resource,
                   "One " + name, detail_params(key, what)});
    if (kind == Kind::service || kind == Kind::node) {
      auto params = list_params(Kind::task);
      params.insert(params.begin(), {"id", "path", "string", what, true});
      out.push_back({RouteId::tasks_of, "/" + coll + "/{id}/tasks", Kind::task, resource,
                     kind == Kind::service ? "The tasks of a service" : "The tasks on a node",
                     std::move(params)});
    }
  }
  out.push_back({RouteId::cluster,
                 "/cluster",
                 std::nullopt,
                 kOfferJson | kOfferHtml | kOfferSse,
                 "A summary of the swarm: counts, task states, capacity, engine connection",
                 {{"lastEventId", "query", "string", "SSE: resume after this event ID"},
                  {"Last-Event-ID", "header", "string", "SSE: resume after this event ID"}}});
  out.push_back({RouteId::swarm,
                 "/swarm",
                 std::nullopt,
                 kOfferJson | kOfferHtml,
                 "The swarm object, join tokens removed",
                 {}});
  out.push_back({RouteId::events, "/events", std::nullopt, kOfferJson | kOfferAtom | kOfferSse,
                 "Every change: a live stream (SSE), or the history (JSON, Atom)",
                 history_params(true)});
  out.push_back({RouteId::history, "/history", std::nullopt, kOfferJson | kOfferHtml | kOfferAtom,
                 "The change history, newest first", history_params(false)});
  out.push_back({RouteId::search,
                 "/search",
                 std::nullopt,
                 kOfferJson | kOfferHtml | kOfferAtom,
                 "Name search across every type, grouped by type",
                 {{"q", "query", "string", "what to look for, 1 to 200 characters", true},
                  {"limit",
                   "query",
                   "integer",
                   "items per type (JSON), entries (Atom); 1 to 200",
                   false,
                   {},
                   1,
                   200},
                  {"before", "query", "integer", "Atom: entries older than this event ID"}}});
  out.push_back(
      {RouteId::api, "/api", std::nullopt, kOfferJson | kOfferYaml, "This OpenAPI document", {}});
  out.push_back({RouteId::api_context,
                 "/api/context.jsonld",
                 std::nullopt,
                 kOfferJson,
                 "The JSON-LD context of every body",
                 {}});
  out.push_back({RouteId::api_errors,
                 "/api/errors",
                 std::nullopt,
                 kOfferJson | kOfferHtml,
                 "Every error code narwhal can answer with",
                 {}});
  out.push_back({RouteId::api_error,
                 "/api/errors/{code}",
                 std::nullopt,
                 kOfferJson | kOfferHtml,
                 "One error code",
                 {{"code", "path", "string", "an error code such as SVC002", true}}});
  out.push_back({RouteId::health,
                 "/-/health",
                 std::nullopt,
                 kOfferJson,
                 "Liveness: 200 while the process serves",
                 {},
                 false});
  out.push_back({RouteId::ready,
                 "/-/ready",
                 std::nullopt,
                 kOfferJson,
                 "Readiness: 200 after the first full sync while the engine is reachable",
                 {},
                 false});
  out.push_back({RouteId::metrics,
                 "/-/metrics",
                 std::nullopt,
                 kOfferText,
                 "Prometheus metrics of narwhal and of the swarm",
                 {},
                 false});
  return out;
}

// A pattern's segments: literal, or "{name}" for any one segment.
std::vector<std::string_view> segments_of(std::string_view pattern) {
  std::vector<std::string_view> out;
  if (pattern == "/") return out;
  std::size_t start = 1;
  while (start <= pattern.size()) {
    const auto slash = pattern.find('/', start);
    const auto end = slash == std::string_view::npos ? pattern.size() : slash;
    out.push_back(pattern.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

const Route* find(const std::vector<std::string>& segs, std::vector<std::string>& args) {
  for (const auto& r : routes()) {
    const auto pattern = segments_of(r.pattern);
    if (pattern.size() != segs.size()) continue;
    args.clear();
    bool ok = true;
    for (std::size_t i = 0; i < segs.size() && ok; ++i) {
      if (pattern[i].starts_with('{')) {
        if (segs[i].empty()) ok = false;
        args.push_back(segs[i]);
      } else {
        ok = pattern[i] == segs[i];
      }
    }
    if (ok) return &r;
  }
  return nullptr;
}

}  // namespace

const std::vector<Route>& routes() {
  static const std::vector<Route> table = build();
  return table;
}

std::vector<Representation> offered(const Route& route) {
  std::vector<Representation> out;
  out.reserve(8);
  if (route.offers & kOfferJson) {
    for (const auto r : {Representation::json, Representation::json_ld, Representation::narwhal_v1,
                         Representation::cetacean_v1}) {
      out.push_back(r);
    }
  }
  if (route.offers & kOfferYaml) out.push_back(Representation::yaml);
  if (route.offers & kOfferHtml) out.push_back(Representation::html);
  if (route.offers & kOfferAtom) out.push_back(Representation::atom);
  if (route.offers & kOfferSse) out.push_back(Representation::event_stream);
  return out;
}

std::vector<RouteMatch> match_routes(const std::vector<std::string>& segs) {
  std::vector<RouteMatch> out;
  RouteMatch exact;
  exact.route = find(segs, exact.args);
  if (exact.route != nullptr) out.push_back(std::move(exact));
  if (segs.empty()) return out;
  const std::string& last = segs.back();
  const auto dot = last.rfind('.');
  if (dot == std::string::npos || dot == 0) return out;
  const auto ext = from_extension(std::string_view(last).substr(dot));
  if (!ext) return out;
  std::vector<std::string> stripped = segs;
  stripped.back() = last.substr(0, dot);
  RouteMatch m;
  m.route = find(stripped, m.args);
  m.extension = ext;
  if (m.route != nullptr) out.push_back(std::move(m));
  return out;
}

}  // namespace narwhal::http
