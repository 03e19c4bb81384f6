// The route table: every URL narwhal serves, what each can answer with, and the parameters it
// takes. The handler dispatches on this table and /api (the OpenAPI document) is generated from
// it, so the served routes and the documented ones cannot drift apart.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "narwhal/http/negotiate.hpp"
#include "narwhal/state/snapshot.hpp"

namespace narwhal::http {

enum class RouteId : std::uint8_t {
  index,        // /
  list,         // /services, /nodes, …
  detail,       // /services/{id}, …
  tasks_of,     // /services/{id}/tasks, /nodes/{id}/tasks
  cluster,      // /cluster
  swarm,        // /swarm
  events,       // /events
  history,      // /history
  search,       // /search
  api,          // /api
  api_context,  // /api/context.jsonld
  api_errors,   // /api/errors
  api_error,    // /api/errors/{code}
  health,       // /-/health
  ready,        // /-/ready
  metrics,      // /-/metrics
};

// The routes that serve the swarm's state: 503 until the first full sync, and a stale Warning
// while the state is no longer refreshed from a manager.
[[nodiscard]] constexpr bool serves_swarm_data(RouteId id) noexcept {
  switch (id) {
    case RouteId::list:
    case RouteId::detail:
    case RouteId::tasks_of:
    case RouteId::swarm:
    case RouteId::events:
    case RouteId::history:
    case RouteId::search: return true;
    default: return false;
  }
}

// What a URL can answer with, as bits.
enum Offer : std::uint16_t {
  kOfferJson = 1,   // application/json and its aliases (ld+json, the vendor types)
  kOfferHtml = 2,   // text/html: the dashboard's page
  kOfferAtom = 4,   // application/atom+xml: the change history in the URL's scope
  kOfferSse = 8,    // text/event-stream
  kOfferYaml = 16,  // application/yaml (/api)
  kOfferText = 32,  // text/plain (/-/metrics)
};

struct ParamSpec {
  std::string_view name;
  std::string_view in;    // "path", "query" or "header"
  std::string_view type;  // "string" or "integer"
  std::string_view description;
  bool required = false;
  std::vector<std::string_view> values{};  // the only values it takes, when they are few
  std::optional<std::int64_t> minimum{}, maximum{};
};

struct Route {
  RouteId id = RouteId::index;
  std::string pattern;  // as OpenAPI writes it: "/services/{id}"
  std::optional<state::Kind> kind;
  std::uint16_t offers = kOfferJson;
  std::string summary;
  std::vector<ParamSpec> params;  // besides the Accept-driven ones every route takes
  bool negotiated = true;         // false for /-/…: fixed media type, no Vary
};

// Every route, in the order the OpenAPI document lists them.
[[nodiscard]] const std::vector<Route>& routes();

// The representations a route offers, in the server's order of preference on ties: JSON first,
// so `*/*` means JSON.
[[nodiscard]] std::vector<Representation> offered(const Route& route);

struct RouteMatch {
  const Route* route = nullptr;
  std::vector<std::string> args;            // the values of the pattern's {…} segments
  std::optional<Representation> extension;  // from a .json/.atom/.html suffix of the path
};

// The routes `segs` (decoded path segments) may mean, in the order to try them: the exact path
// first, then the path with a known extension stripped from its last segment (so a service
// named "web.json" stays reachable at /services/web.json).
[[nodiscard]] std::vector<RouteMatch> match_routes(const std::vector<std::string>& segs);

}  // namespace narwhal::http
