#include "narwhal/http/handler.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <shared_mutex>
#include <unordered_map>

#include "conditional.hpp"
#include "narwhal/http/negotiate.hpp"
#include "narwhal/http/range.hpp"
#include "narwhal/live/hub.hpp"
#include "narwhal/query/list_query.hpp"
#include "narwhal/render/history.hpp"
#include "narwhal/render/json.hpp"
#include "narwhal/render/problem.hpp"
#include "narwhal/util/hash.hpp"
#include "narwhal/util/text.hpp"
#include "narwhal/util/time.hpp"

namespace narwhal::http {

using state::Kind;

namespace {

constexpr std::string_view kNoCache = "no-cache";
constexpr std::string_view kNoStore = "no-store";
constexpr std::string_view kProblemType = "application/problem+json";
constexpr std::string_view kExposeHeaders =
    "ETag, Link, Content-Range, Accept-Ranges, Request-Id, Retry-After, Last-Modified";

const std::vector<Representation> kJsonOffers{Representation::json, Representation::json_ld,
                                              Representation::narwhal_v1,
                                              Representation::cetacean_v1};
// URLs that stream (§8) offer SSE after the JSON family: `*/*` still means JSON.
const std::vector<Representation> kStreamOffers{
    Representation::json, Representation::json_ld, Representation::narwhal_v1,
    Representation::cetacean_v1, Representation::event_stream};
constexpr std::string_view kRetryAfterStreams = "5";

// What a rendered body depends on: the generations of the kinds it shows, plus the meta
// generation; a cached body is reused only while all of them are unchanged.
using Deps = std::array<std::uint64_t, state::kKinds + 1>;

Deps deps_of(const state::Snapshot& snap, std::initializer_list<Kind> kinds, bool meta = false) {
  Deps d{};
  for (const Kind k : kinds) d.at(static_cast<std::size_t>(k)) = snap.generation_of(k) + 1;
  if (meta) d.back() = snap.meta_generation + 1;
  return d;
}

struct CacheEntry {
  Deps deps{};
  std::shared_ptr<const std::string> body;
  std::string etag;
  std::int64_t last_modified = 0;
  std::size_t total = 0;  // lists: items after search and filter
  std::string links;      // lists: the paging Link header value
};

// What a render produces; lists add their total and paging links.
struct Fresh {
  Fresh() = default;
  Fresh(render::Body b) : body(std::move(b)) {}  // NOLINT(google-explicit-constructor)
  render::Body body;
  std::size_t total = 0;
  std::string links;
};

// The URL of another page of the same list: every other parameter kept, in order.
std::string page_url(std::string_view path, const std::vector<query::Param>& params,
                     std::size_t limit, std::size_t offset) {
  std::string url(path);
  url += '?';
  for (const auto& p : params) {
    if (p.name == "limit" || p.name == "offset") continue;
    url += util::percent_encode(p.name);
    url += '=';
    url += util::percent_encode(p.value);
    url += '&';
  }
  url += "limit=" + std::to_string(limit) + "&offset=" + std::to_string(offset);
  return url;
}

// RFC 8288 first/prev/next/last for a page of `total` items.
std::string paging_links(std::string_view path, const std::vector<query::Param>& params,
                         std::size_t limit, std::size_t offset, std::size_t total) {
  std::string out;
  auto add = [&](std::size_t off, std::string_view rel) {
    if (!out.empty()) out += ", ";
    out += '<';
    out += page_url(path, params, limit, off);
    out += ">; rel=\"";
    out += rel;
    out += '"';
  };
  add(0, "first");
  if (offset > 0) add(offset > limit ? offset - limit : 0, "prev");
  if (offset + limit < total) add(offset + limit, "next");
  add(total == 0 ? 0 : (total - 1) / limit * limit, "last");
  return out;
}

// Kinds whose code prefix is registered (NOD, SVC, …) for not-found and ambiguity problems.
std::string_view code_domain(Kind k) {
  switch (k) {
    case Kind::node: return "NOD";
    case Kind::service: return "SVC";
    case Kind::task: return "TSK";
    case Kind::config: return "CFG";
    case Kind::secret: return "SEC";
    case Kind::network: return "NET";
    case Kind::volume: return "VOL";
    case Kind::stack: return "STK";
  }
  return "API";
}

std::string quoted(std::string_view s) {
  std::string out;
  util::append_json_string(out, s.substr(0, 128));
  return out;
}

// "name.json" → ("name", json); no known extension → nullopt.
std::optional<std::pair<std::string_view, Representation>> split_extension(std::string_view seg) {
  const auto dot = seg.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  const auto rep = from_extension(seg.substr(dot));
  if (!rep) return std::nullopt;
  return std::make_pair(seg.substr(0, dot), *rep);
}

bool later_route(const std::vector<std::string>& segs) {
  if (segs.empty()) return false;
  const auto& s = segs[0];
  return s == "search" || s == "api" || (s == "-" && segs.size() == 2 && segs[1] == "metrics");
}

// The value of query parameter `name`, or nullopt.
std::optional<std::string> param(const std::vector<query::Param>& params, std::string_view name) {
  for (const auto& p : params) {
    if (p.name == name) return p.value;
  }
  return std::nullopt;
}

// A type named as in events ("service") or as its collection ("services").
std::optional<Kind> kind_named(std::string_view name) {
  for (std::size_t k = 0; k < state::kKinds; ++k) {
    const auto kind = static_cast<Kind>(k);
    if (name == state::kind_name(kind) || name == state::kind_collection(kind)) return kind;
  }
  return std::nullopt;
}

// The detail of a problem for an unknown type in parameter `param`.
std::string unknown_type(std::string_view param, std::string_view name) {
  return std::string(param) + ": unknown type " + quoted(name) +
         "; the types are node, service, task, config, secret, network, volume and stack";
}

// "service,node" → a bit per kind; unknown names are an error naming the valid ones.
std::optional<std::string> parse_types(std::string_view text, std::uint16_t& mask) {
  mask = 0;
  for (auto name : util::split(text, ',')) {
    name = util::trim(name);
    if (name.empty()) continue;
    const auto kind = kind_named(name);
    if (!kind) return unknown_type("types", name);
    mask |= live::Scope::bit(*kind);
  }
  if (mask == 0) return std::string("types: name at least one type");
  return std::nullopt;
}

}  // namespace

struct Handler::Impl {
  Settings settings;
  const state::Store& store;
  live::Hub* hub;
  render::Site site;
  std::int64_t started = util::now_micros();
  mutable std::shared_mutex cache_mutex;
  mutable std::unordered_map<std::string, std::shared_ptr<const CacheEntry>> cache;
  mutable std::atomic<std::uint64_t> hits{0}, misses{0};
  mutable query::FilterCache filters;

  Impl(Settings s, const state::Store& st, live::Hub* h)
      : settings(std::move(s)),
        store(st),
        hub(h),
        site{settings.base_path},
        filters(256, settings.max_filter_chars) {}

  Reply problem(std::string code, std::string detail, std::string_view instance,
                std::string_view request_id, std::vector<std::string> candidates = {}) const {
    const auto& c = render::error_code(code);
    Reply r;
    r.status = c.status;
    r.content_type = kProblemType;
    r.cache_control = kNoStore;
    r.body = std::make_shared<const std::string>(
        render::render_problem({std::move(code), std::move(detail), std::move(candidates)},
                               instance, request_id, settings.base_path));
    return r;
  }

  bool ready(const state::Snapshot& snap) const {
    const auto& e = snap.engine;
    if (!e.synced) return false;
    if (e.connected) return true;
    return util::now_micros() - e.since < settings.ready_grace.count() * 1000;
  }

  // Serves `key` from the cache while `deps` hold, rendering on a miss.
  template <class Render>
  std::shared_ptr<const CacheEntry> cached(const std::string& key, const Deps& deps,
                                           Render&& render) const {
    {
      const std::shared_lock lock(cache_mutex);
      const auto it = cache.find(key);
      if (it != cache.end() && it->second->deps == deps) {
        hits.fetch_add(1, std::memory_order_relaxed);
        return it->second;
      }
    }
    misses.fetch_add(1, std::memory_order_relaxed);
    Fresh fresh = render();  // a Body converts
    auto entry = std::make_shared<CacheEntry>();
    entry->deps = deps;
    entry->etag = util::strong_etag(fresh.body.text);
    entry->last_modified = fresh.body.last_modified;
    entry->total = fresh.total;
    entry->links = std::move(fresh.links);
    entry->body = std::make_shared<const std::string>(std::move(fresh.body.text));
    const std::unique_lock lock(cache_mutex);
    if (cache.size() >= settings.cache_entries) cache.clear();  // bounded; refills from hits
    cache[key] = entry;
    return entry;
  }

  Reply respond(const Request& rq, Representation rep, const CacheEntry& entry) const {
    Reply r;
    r.vary_accept = true;
    r.cache_control = kNoCache;
    r.etag = entry.etag;
    r.last_modified = entry.last_modified;
    r.content_type = media_type(rep);
    bool not_modified = false;
    if (!rq.if_none_match.empty()) {
      not_modified = none_match_hits(rq.if_none_match, entry.etag);
    } else if (!rq.if_modified_since.empty() && entry.last_modified != 0) {
      if (const auto ims = util::parse_http_date(rq.if_modified_since)) {
        not_modified = entry.last_modified / 1'000'000 <= *ims / 1'000'000;
      }
    }
    if (not_modified) {
      r.status = 304;
      r.send_body = false;
      r.content_type = {};
      return r;
    }
    r.body = entry.body;
    return r;
  }

  Reply handle(const Request& rq) const;
  // Opens an event stream of `scope` (§8), or says why not.
  Reply stream(const Request& rq, live::Scope scope, std::string_view path,
               std::string_view query) const;
  // ?filter= for a stream of `kinds`: the expression compiled for each kind it applies to.
  std::optional<Reply> stream_filter(const Request& rq, std::string_view path,
                                     const std::vector<query::Param>& params, std::uint16_t kinds,
                                     live::Scope& scope) const;
  Reply history(const Request& rq, Representation rep, std::string_view path,
                std::string_view query) const;
  // Link-Template of a list of `kind` (§4).
  std::string item_template(Kind kind) const {
    const bool named = kind == Kind::stack || kind == Kind::volume;
    return "<" + site.base_path + "/" + std::string(state::kind_collection(kind)) +
           (named ? "/{name}" : "/{id}") + ">; rel=\"item\"";
  }
  Reply route(const Request& rq, const std::vector<std::string>& segs, std::string_view path,
              std::string_view query) const;
  Reply list(const Request& rq, Representation rep, Kind kind, std::string_view path,
             std::string_view query, const state::SnapshotPtr& snap,
             const state::Object* scope_owner) const;
  Reply detail(const Request& rq, Representation rep, Kind kind, std::string_view key,
               std::string_view path, std::string_view query, const state::SnapshotPtr& snap) const;
};

Reply Handler::Impl::handle(const Request& rq) const {
  const std::string_view target = rq.target;
  const auto qpos = target.find('?');
  const std::string_view raw_path = target.substr(0, qpos);
  const std::string_view query =
      qpos == std::string_view::npos ? std::string_view{} : target.substr(qpos + 1);
  if (!raw_path.starts_with('/')) {
    return problem("API007", "the request target must be an absolute path", raw_path,
                   rq.request_id);
  }
  std::string_view path = raw_path;
  if (!settings.base_path.empty()) {
    if (path == settings.base_path) {
      path = "/";
    } else if (path.starts_with(settings.base_path) &&
               path.substr(settings.base_path.size()).starts_with('/')) {
      path.remove_prefix(settings.base_path.size());
    } else {
      return problem("API004", "narwhal serves everything under " + settings.base_path, raw_path,
                     rq.request_id);
    }
  }
  std::vector<std::string> segs;
  if (path.size() > 1) {
    for (const auto seg : util::split(path.substr(1), '/')) {
      auto decoded = util::percent_decode(seg, false);
      if (!decoded) {
        return problem("API007", "the path has a malformed percent-escape", raw_path,
                       rq.request_id);
      }
      segs.push_back(std::move(*decoded));
    }
    if (!segs.empty() && segs.back().empty()) segs.pop_back();  // trailing slash
  }

  const bool read_method = rq.method == "GET" || rq.method == "HEAD";
  if (rq.method == "OPTIONS") {
    Reply r;
    r.status = 204;
    r.send_body = false;
    r.discovery_links = !(segs.size() == 2 && segs[0] == "-");
    return r;
  }
  if (!read_method) {
    Reply r = problem("API002",
                      "method " + std::string(rq.method.substr(0, 32)) +
                          " is not allowed: narwhal is read-only (GET, HEAD, OPTIONS)",
                      raw_path, rq.request_id);
    r.headers.emplace_back("Allow", "GET, HEAD, OPTIONS");
    return r;
  }
  Reply r = route(rq, segs, raw_path, query);
  if (rq.method == "HEAD") r.send_body = false;
  return r;
}

Reply Handler::Impl::route(const Request& rq, const std::vector<std::string>& segs,
                           std::string_view path, std::string_view query) const {
  const auto snap = store.snapshot();
  // Meta endpoints: not negotiated, never cached by clients.
  if (segs.size() == 2 && segs[0] == "-") {
    Reply r;
    r.discovery_links = false;
    r.cache_control = kNoStore;
    r.content_type = "application/json";
    if (segs[1] == "health") {
      const auto uptime = (util::now_micros() - started) / 1'000'000;
      r.body = std::make_shared<const std::string>(
          "{\"status\":\"ok\",\"version\":" + quoted(settings.version) +
          ",\"uptimeSeconds\":" + std::to_string(uptime) + "}");
      return r;
    }
    if (segs[1] == "metrics" && settings.metrics) {
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = std::make_shared<const std::string>(settings.metrics());
      return r;
    }
    if (segs[1] == "ready") {
      if (ready(*snap)) {
        r.body = std::make_shared<const std::string>("{\"status\":\"ready\"}");
        return r;
      }
      const auto& e = snap->engine;
      std::string why = !e.synced ? "no full sync with the engine has completed yet"
                                  : "the engine connection was lost";
      if (!e.last_error.empty()) why += ": " + e.last_error;
      Reply p = problem("ENG001", why, path, rq.request_id);
      p.discovery_links = false;
      p.headers.emplace_back("Retry-After", "1");
      return p;
    }
  }
  if (later_route(segs)) {
    return problem("API009", std::string(path) + " is not served by narwhal " + settings.version,
                   path, rq.request_id);
  }

  // Representation: a path extension wins over Accept (exact path first, see below).
  std::vector<std::string> route_segs = segs;
  auto negotiate = [&](std::optional<Representation> ext,
                       bool streams = true) -> std::optional<Representation> {
    if (ext) return is_json(*ext) ? ext : std::nullopt;
    return choose(rq.accept, streams && hub != nullptr ? kStreamOffers : kJsonOffers);
  };
  auto not_acceptable = [&](std::optional<Representation> ext) {
    if (!ext) {
      // Asked for a stream specifically: SSE is not served here.
      const auto ranges = parse_accept(rq.accept);
      const bool wants_sse = std::any_of(ranges.begin(), ranges.end(), [](const MediaRange& m) {
        return m.type == "text" && m.subtype == "event-stream" && m.q > 0;
      });
      if (wants_sse) {
        return problem("API001", std::string(path) + " does not stream Server-Sent Events", path,
                       rq.request_id);
      }
    }
    Reply p = problem("API003",
                      std::string(path) +
                          " offers application/json, application/ld+json, "
                          "application/vnd.narwhal.v1+json and "
                          "application/vnd.cetacean.v1+json",
                      path, rq.request_id);
    p.vary_accept = true;
    return p;
  };

  if (segs.empty()) {
    const auto rep = negotiate(std::nullopt);
    if (!rep) return not_acceptable(std::nullopt);
    const auto entry = cached("/", Deps{}, [&] {
      return render::Body{render::render_index(site), 0};
    });
    return respond(rq, *rep, *entry);
  }

  // Collections and the singletons, first exactly, then with an extension stripped.
  auto top_level = [&](std::string_view name,
                       std::optional<Representation> ext) -> std::optional<Reply> {
    std::optional<Reply> out;
    const bool single = segs.size() == 1;
    if (single && (name == "cluster" || name == "swarm")) {
      const auto rep = negotiate(ext, name == "cluster");
      if (!rep) return not_acceptable(ext);
      if (name == "cluster") {
        if (*rep == Representation::event_stream) {
          live::Scope scope;
          scope.shape = live::Scope::Shape::cluster;
          return stream(rq, std::move(scope), path, query);
        }
        const bool is_ready = ready(*snap);
        const Deps d = deps_of(*snap,
                               {Kind::node, Kind::service, Kind::task, Kind::config, Kind::secret,
                                Kind::network, Kind::volume, Kind::stack},
                               true);
        const auto entry = cached(std::string("/cluster|") + (is_ready ? "r" : "n"), d, [&] {
          return render::Body{render::render_cluster(*snap, site, is_ready), 0};
        });
        return respond(rq, *rep, *entry);
      }
      const auto entry = cached("/swarm", deps_of(*snap, {}, true), [&] {
        return render::Body{render::render_swarm(*snap, site), 0};
      });
      return respond(rq, *rep, *entry);
    }
    if (single && (name == "history" || name == "events")) {
      const auto rep = negotiate(ext, name == "events");
      if (!rep) return not_acceptable(ext);
      if (*rep == Representation::event_stream) {
        const auto params = query::parse_query_string(query);
        if (!params) {
          return problem("API007", "the query string has a malformed percent-escape", path,
                         rq.request_id);
        }
        live::Scope scope;
        scope.shape = live::Scope::Shape::events;
        if (const auto types = param(*params, "types")) {
          if (auto err = parse_types(*types, scope.kinds)) {
            return problem("API006", std::move(*err), path, rq.request_id);
          }
        }
        if (auto bad = stream_filter(rq, path, *params, scope.kinds, scope)) return std::move(*bad);
        return stream(rq, std::move(scope), path, query);
      }
      return history(rq, *rep, path, query);
    }
    const auto kind = state::kind_from_collection(name);
    if (!kind) return out;
    const auto rep = negotiate(ext);
    if (single) {
      if (!rep) return not_acceptable(ext);
      return list(rq, *rep, *kind, path, query, snap, nullptr);
    }
    if (segs.size() == 2) {
      if (!rep) return not_acceptable(ext);
      return detail(rq, *rep, *kind, segs[1], path, query, snap);
    }
    return out;
  };

  if (segs.size() <= 2) {
    const bool has_ext = split_extension(segs.back()).has_value();
    if (segs.size() == 1 || !has_ext) {
      if (auto r = top_level(segs[0], std::nullopt)) return std::move(*r);
      if (segs.size() == 1) {
        if (const auto e = split_extension(segs[0])) {
          if (auto r = top_level(e->first, e->second)) return std::move(*r);
        }
      }
    } else {
      // /services/name.json: the exact name first, then "name" as JSON.
      const auto kind = state::kind_from_collection(segs[0]);
      if (kind) {
        Reply exact = top_level(segs[0], std::nullopt).value();
        if (exact.status != 404) return exact;
        const auto e = split_extension(segs[1]);
        const auto rep = negotiate(e->second);
        if (!rep) return not_acceptable(e->second);
        Reply stripped = detail(rq, *rep, *kind, e->first, path, query, snap);
        return stripped.status == 404 ? exact : stripped;
      }
    }
  }

  // /nodes/{id}/tasks and /services/{id}/tasks
  if (segs.size() == 3 && (segs[0] == "nodes" || segs[0] == "services")) {
    std::optional<Representation> ext;
    std::string_view last = segs[2];
    if (last != "tasks") {
      if (const auto e = split_extension(last); e && e->first == "tasks") {
        ext = e->second;
        last = "tasks";
      }
    }
    if (last == "tasks") {
      const Kind owner_kind = segs[0] == "nodes" ? Kind::node : Kind::service;
      const auto lookup = snap->table(owner_kind).lookup(segs[1]);
      if (lookup.found == nullptr) {
        return detail(rq, Representation::json, owner_kind, segs[1], path, query, snap);
      }
      const auto rep = negotiate(ext);
      if (!rep) return not_acceptable(ext);
      return list(rq, *rep, Kind::task, path, query, snap, lookup.found);
    }
  }
  return problem("API004", "no resource at " + std::string(path), path, rq.request_id);
}

Reply Handler::Impl::list(const Request& rq, Representation rep, Kind kind, std::string_view path,
                          std::string_view query, const state::SnapshotPtr& snap,
                          const state::Object* owner) const {
  const auto params = query::parse_query_string(query);
  if (!params) {
    return problem("API007", "the query string has a malformed percent-escape", path,
                   rq.request_id);
  }
  if (rep == Representation::event_stream) {
    live::Scope scope;
    scope.shape = owner == nullptr               ? live::Scope::Shape::list
                  : owner->kind == Kind::service ? live::Scope::Shape::tasks_of_service
                                                 : live::Scope::Shape::tasks_of_node;
    scope.kind = kind;
    if (owner != nullptr) scope.id = owner->id;
    if (auto bad = stream_filter(rq, path, *params, live::Scope::bit(kind), scope)) {
      return std::move(*bad);
    }
    return stream(rq, std::move(scope), path, query);
  }
  query::ListQuery q;
  if (const auto err = query::parse_list_query(kind, *params, settings.max_search_chars, q)) {
    return problem(err->code, err->detail, path, rq.request_id);
  }
  query::FilterPtr filter;
  if (!q.filter.empty()) {
    auto compiled = filters.get(kind, q.filter);
    if (!compiled) {
      return problem(compiled.error().code, "filter: " + compiled.error().detail, path,
                     rq.request_id);
    }
    filter = std::move(*compiled);
  }
  // Range paging applies only when the query names no page (query parameters win).
  std::optional<ItemRange> range;
  if (!q.explicit_paging && !rq.range.empty()) range = parse_item_range(rq.range);
  if (range) {
    q.offset = range->first;
    const std::size_t wanted = range->last ? *range->last - range->first + 1 : query::kMaxLimit;
    q.limit = std::min(wanted, query::kMaxLimit);
  }
  std::string self = std::string(path);
  if (!query.empty()) {
    self += '?';
    self += query;
  }
  const Deps d = kind == Kind::stack     ? deps_of(*snap, {Kind::stack})
                 : kind == Kind::task    ? deps_of(*snap, {Kind::task, Kind::service, Kind::node})
                 : kind == Kind::service ? deps_of(*snap, {Kind::service, Kind::task})
                                         : deps_of(*snap, {kind});
  // The URL is in the body (@id), so the key is the URL, plus the range when one applies.
  std::string key = self;
  if (range) key += "\nitems=" + std::to_string(q.offset) + "-" + std::to_string(q.limit);
  const auto entry = cached(key, d, [&] {
    render::CollectionPage page{self, 0, q.limit, q.offset};
    Fresh fresh;
    if (kind == Kind::stack) {
      const auto sel = query::select_stacks(*snap, q, filter.get());
      page.total = sel.total;
      fresh.body = {render::render_stack_collection(sel.items, page, site), 0};
    } else {
      std::vector<const state::Object*> scope;
      const auto& items = snap->table(kind).items;
      scope.reserve(owner != nullptr ? 64 : items.size());
      for (const auto& o : items) {
        if (owner != nullptr &&
            (owner->kind == Kind::node ? o->node_id : o->service_id) != owner->id) {
          continue;
        }
        scope.push_back(o.get());
      }
      const auto sel = query::select(*snap, kind, scope, q, filter.get());
      page.total = sel.total;
      fresh.body = {render::render_collection(*snap, sel.items, page, site), 0};
    }
    fresh.total = page.total;
    fresh.links = paging_links(path, *params, q.limit, q.offset, page.total);
    return fresh;
  });
  const std::size_t total = entry->total;
  if (range && range->first >= total && !(range->first == 0 && total == 0)) {
    Reply r = problem("API010",
                      "items " + std::to_string(range->first) + "- is past the end: there are " +
                          std::to_string(total),
                      path, rq.request_id);
    r.headers.emplace_back("Content-Range", "items */" + std::to_string(total));
    r.headers.emplace_back("Accept-Ranges", "items");
    return r;
  }
  Reply r = respond(rq, rep, *entry);
  r.headers.emplace_back("Accept-Ranges", "items");
  r.links = entry->links;
  r.headers.emplace_back("Link-Template", item_template(kind));
  if (range && r.status == 200) {
    const std::size_t last = std::min(q.offset + q.limit, total) - 1;
    if (!(q.offset == 0 && last + 1 == total)) {  // a range covering everything is a plain 200
      r.status = 206;
      r.headers.emplace_back("Content-Range", "items " + std::to_string(q.offset) + "-" +
                                                  std::to_string(last) + "/" +
                                                  std::to_string(total));
    }
  }
  return r;
}

Reply Handler::Impl::detail(const Request& rq, Representation rep, Kind kind, std::string_view key,
                            std::string_view path, std::string_view query,
                            const state::SnapshotPtr& snap) const {
  const auto domain = std::string(code_domain(kind));
  const auto kname = std::string(state::kind_name(kind));
  if (kind == Kind::stack) {
    const state::Stack* st = snap->stack(key);
    if (st == nullptr) {
      return problem("STK002", "no stack is named " + quoted(key), path, rq.request_id);
    }
    if (rep == Representation::event_stream) {
      live::Scope scope;
      scope.shape = live::Scope::Shape::stack;
      scope.kind = Kind::stack;
      scope.id = st->name;
      return stream(rq, std::move(scope), path, query);
    }
    const std::string canonical = site.url(Kind::stack, st->name);
    const auto entry = cached(canonical, deps_of(*snap, {Kind::stack}),
                              [&] { return render::render_stack(*st, true, site); });
    return respond(rq, rep, *entry);
  }
  const state::Object* found = nullptr;
  if (kind == Kind::volume) {
    found = snap->table(kind).find(key);  // volumes are named, not ID'd: no prefixes
  } else {
    const auto lookup = snap->table(kind).lookup(key);
    if (!lookup.candidates.empty()) {
      std::vector<std::string> urls;
      for (const auto* c : lookup.candidates) {
        if (urls.size() == 20) break;
        urls.push_back(site.url(kind, c->id));
      }
      return problem(domain + "001",
                     quoted(key) + " matches " + std::to_string(lookup.candidates.size()) + " " +
                         std::string(state::kind_collection(kind)) + "; use a full ID",
                     path, rq.request_id, std::move(urls));
    }
    found = lookup.found;
  }
  if (found == nullptr) {
    const std::string what = kind == Kind::volume ? "name"
                             : kind == Kind::task ? "ID or ID prefix"
                                                  : "ID, ID prefix or name";
    return problem(domain + "002", "no " + kname + " has the " + what + " " + quoted(key), path,
                   rq.request_id);
  }
  if (rep == Representation::event_stream) {
    live::Scope scope;
    scope.shape = kind == Kind::service ? live::Scope::Shape::service
                  : kind == Kind::node  ? live::Scope::Shape::node
                                        : live::Scope::Shape::object;
    scope.kind = kind;
    scope.id = found->id;
    return stream(rq, std::move(scope), path, query);
  }
  const std::string canonical = site.url(kind, found->id);
  Deps d = deps_of(*snap, {kind});
  if (kind == Kind::task) d = deps_of(*snap, {Kind::task, Kind::service, Kind::node});
  if (kind == Kind::service) d = deps_of(*snap, {Kind::service, Kind::task});
  if (kind == Kind::config || kind == Kind::secret || kind == Kind::network ||
      kind == Kind::volume) {
    d = deps_of(*snap, {kind, Kind::service});
  }
  const auto entry =
      cached(canonical, d, [&] { return render::render_object(*snap, *found, true, site); });
  Reply r = respond(rq, rep, *entry);
  if (canonical != path) r.content_location = canonical;
  return r;
}

std::optional<Reply> Handler::Impl::stream_filter(const Request& rq, std::string_view path,
                                                  const std::vector<query::Param>& params,
                                                  std::uint16_t kinds, live::Scope& scope) const {
  const auto text = param(params, "filter");
  if (!text) return std::nullopt;
  // Each kind type-checks the expression against its own fields; the stream shows the kinds it
  // compiled for. When it compiles for none, the error that got furthest is the answer.
  std::optional<query::FilterError> best;
  bool any = false;
  for (std::size_t k = 0; k < state::kKinds; ++k) {
    const auto kind = static_cast<Kind>(k);
    if ((kinds & live::Scope::bit(kind)) == 0) continue;
    auto compiled = filters.get(kind, *text);
    if (compiled) {
      scope.filters.at(k) = std::move(*compiled);
      any = true;
    } else if (!best || compiled.error().column > best->column ||
               compiled.error().code == "FLT001") {
      best = compiled.error();
    }
  }
  scope.filtered = true;
  if (any || !best) return std::nullopt;
  return problem(best->code, "filter: " + best->detail, path, rq.request_id);
}

Reply Handler::Impl::stream(const Request& rq, live::Scope scope, std::string_view path,
                            std::string_view query) const {
  Reply r;
  r.event_stream = true;
  r.content_type = "text/event-stream";
  r.cache_control = kNoCache;
  r.vary_accept = true;
  r.headers.emplace_back("X-Accel-Buffering", "no");
  if (rq.method == "HEAD") return r;
  std::string last(rq.last_event_id);
  if (last.empty()) {
    // For clients that cannot set headers on a reconnect.
    if (const auto params = query::parse_query_string(query)) {
      if (auto v = param(*params, "lastEventId")) last = std::move(*v);
    }
  }
  r.stream = hub->open(std::move(scope), last);
  if (!r.stream) {
    Reply p = problem("SSE001",
                      "the server holds its maximum of open event streams; retry in " +
                          std::string(kRetryAfterStreams) + " seconds",
                      path, rq.request_id);
    p.headers.emplace_back("Retry-After", std::string(kRetryAfterStreams));
    return p;
  }
  return r;
}

Reply Handler::Impl::history(const Request& rq, Representation rep, std::string_view path,
                             std::string_view query) const {
  const auto params = query::parse_query_string(query);
  if (!params) {
    return problem("API007", "the query string has a malformed percent-escape", path,
                   rq.request_id);
  }
  state::HistoryQuery q;
  if (const auto v = param(*params, "limit")) {
    const auto n = util::parse_uint(*v);
    if (!n || *n < 1 || *n > query::kMaxLimit) {
      return problem("API006",
                     "limit: expected a whole number from 1 to " +
                         std::to_string(query::kMaxLimit) + ", got " + quoted(*v),
                     path, rq.request_id);
    }
    q.limit = *n;
  }
  if (const auto v = param(*params, "before")) {
    const auto n = util::parse_uint(*v);
    if (!n) {
      return problem("API006", "before: expected an event ID, got " + quoted(*v), path,
                     rq.request_id);
    }
    q.before = *n;
  }
  std::string filters_qs;  // type and resourceId, kept in the paging links
  if (const auto v = param(*params, "type")) {
    const auto kind = kind_named(*v);
    if (!kind) return problem("API006", unknown_type("type", *v), path, rq.request_id);
    q.kind = kind;
    filters_qs += "type=" + util::percent_encode(*v) + "&";
  }
  if (const auto v = param(*params, "resourceId")) {
    q.resource_id = *v;
    if (!v->empty()) filters_qs += "resourceId=" + util::percent_encode(*v) + "&";
  }
  const auto entries = store.history().query(q);
  render::HistoryPage page;
  page.self = std::string(path);
  if (!query.empty()) page.self += "?" + std::string(query);
  page.limit = q.limit;
  const std::string limit_qs = "limit=" + std::to_string(q.limit);
  page.first = std::string(path) + "?" + filters_qs + limit_qs;
  std::string links = "<" + page.first + ">; rel=\"first\"";
  if (entries.size() == q.limit) {
    page.next = std::string(path) + "?" + filters_qs +
                "before=" + std::to_string(entries.back().id) + "&" + limit_qs;
    links += ", <" + page.next + ">; rel=\"next\"";
  }
  // Rendered per request: a page is at most 200 small entries, and the ring moves constantly.
  CacheEntry entry;
  std::string body = render::render_history(entries, page, site);
  entry.etag = util::strong_etag(body);
  entry.body = std::make_shared<const std::string>(std::move(body));
  if (!entries.empty()) entry.last_modified = entries.front().time;
  Reply r = respond(rq, rep, entry);
  r.links = std::move(links);
  return r;
}

Handler::Handler(Settings settings, const state::Store& store, live::Hub* hub)
    : impl_(std::make_unique<Impl>(std::move(settings), store, hub)) {}

Handler::~Handler() = default;

Reply Handler::handle(const Request& request) const {
  Reply r = impl_->handle(request);
  const auto& origins = impl_->settings.cors_origins;
  if (!request.origin.empty() && !origins.empty()) {
    const bool any = std::find(origins.begin(), origins.end(), "*") != origins.end();
    const bool listed = std::find(origins.begin(), origins.end(), request.origin) != origins.end();
    if (any || listed) {
      r.headers.emplace_back("Access-Control-Allow-Origin",
                             any ? std::string("*") : std::string(request.origin));
      r.headers.emplace_back("Access-Control-Expose-Headers", std::string(kExposeHeaders));
      if (!any) r.headers.emplace_back("Vary", "Origin");
      if (request.method == "OPTIONS" && !request.request_method.empty()) {
        r.headers.emplace_back("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
        r.headers.emplace_back("Access-Control-Allow-Headers",
                               "Accept, If-None-Match, If-Modified-Since, Range, Request-Id, "
                               "Last-Event-ID");
        r.headers.emplace_back("Access-Control-Max-Age", "600");
      }
    }
  }
  return r;
}

Reply Handler::problem(std::string code, std::string detail, std::string_view instance,
                       std::string_view request_id) const {
  return impl_->problem(std::move(code), std::move(detail), instance, request_id);
}

bool Handler::ready() const {
  return impl_->ready(*impl_->store.snapshot());
}

Handler::CacheStats Handler::cache_stats() const {
  const std::shared_lock lock(impl_->cache_mutex);
  return {impl_->hits.load(), impl_->misses.load(), impl_->cache.size()};
}

}  // namespace narwhal::http
