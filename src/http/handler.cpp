#include "narwhal/http/handler.hpp"

#include <algorithm>

#include "conditional.hpp"
#include "handler_impl.hpp"
#include "narwhal/live/hub.hpp"
#include "narwhal/render/html.hpp"
#include "narwhal/render/problem.hpp"
#include "narwhal/util/hash.hpp"
#include "narwhal/util/text.hpp"
#include "narwhal/util/time.hpp"

namespace narwhal::http {

using state::Kind;

namespace detail {

Deps deps_of(const state::Snapshot& snap, std::initializer_list<Kind> kinds, bool meta) {
  Deps d{};
  for (const Kind k : kinds) d.at(static_cast<std::size_t>(k)) = snap.generation_of(k) + 1;
  if (meta) d[kMetaSlot] = snap.meta_generation + 1;
  return d;
}

std::shared_ptr<const std::string> CacheEntry::encoded(util::Coding c) const {
  const auto i = static_cast<std::size_t>(c);
  const std::lock_guard lock(encoded_mutex_);
  if (!encoded_.at(i)) {
    needs_work();
    encoded_.at(i) = std::make_shared<const std::string>(util::compress(c, *body));
  }
  return encoded_.at(i);
}

std::string Call::self() const {
  // The canonical URL of what the request asks for: only the query parameters the route knows,
  // in the route's order, the first of each when repeated (the one narwhal reads). It is the @id
  // and self link of the body and part of its cache key, so `?x=<unique>` makes no new copy of
  // anything.
  std::string out(path);
  if (query.empty()) return out;
  const auto params = query::parse_query_string(query);
  if (!params) return out;
  char sep = '?';
  for (const auto& spec : route.params) {
    if (spec.in != "query" || spec.name == "lastEventId") continue;
    const auto value = param(*params, spec.name);
    if (!value) continue;
    out += sep;
    out += spec.name;
    out += '=';
    out += util::percent_encode(*value);
    sep = '&';
  }
  return out;
}

std::optional<std::string> param(const std::vector<query::Param>& params, std::string_view name) {
  for (const auto& p : params) {
    if (p.name == name) return p.value;
  }
  return std::nullopt;
}

std::optional<std::string> parse_limit(const std::vector<query::Param>& params,
                                       std::size_t& limit) {
  const auto v = param(params, "limit");
  if (!v) return std::nullopt;
  // As on lists (§4): a limit above the maximum is clamped, however many digits it has.
  const auto n = util::parse_uint_saturating(*v);
  if (!n || *n < 1) {
    return "limit: expected a whole number from 1 to " + std::to_string(query::kMaxLimit) +
           ", got " + quoted(*v);
  }
  limit = static_cast<std::size_t>(std::min<std::uint64_t>(*n, query::kMaxLimit));
  return std::nullopt;
}

std::string quoted(std::string_view s) {
  std::string out;
  util::append_json_string(out, s.substr(0, 128));
  return out;
}

std::optional<Kind> kind_named(std::string_view name) {
  for (std::size_t k = 0; k < state::kKinds; ++k) {
    const auto kind = static_cast<Kind>(k);
    if (name == state::kind_name(kind) || name == state::kind_collection(kind)) return kind;
  }
  return std::nullopt;
}

std::string unknown_type(std::string_view param, std::string_view name) {
  return std::string(param) + ": unknown type " + quoted(name) +
         "; the types are node, service, task, config, secret, network, volume and stack";
}

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

std::string display_name(Kind k, bool plural) {
  std::string out(plural ? state::kind_collection(k) : state::kind_name(k));
  if (!out.empty()) out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}

}  // namespace detail

using namespace detail;  // NOLINT(google-build-using-namespace): this module's own helpers

namespace {

constexpr std::string_view kExposeHeaders =
    "ETag, Link, Content-Range, Accept-Ranges, Request-Id, Retry-After, Last-Modified";

// The codings narwhal compresses with, in its order of preference when the client likes
// several equally: zstd and brotli give smaller bodies than gzip for the same cost to decode.
constexpr std::array<util::Coding, 3> kCodings{util::Coding::zstd, util::Coding::br,
                                               util::Coding::gzip};

bool compressible(Representation r) {
  return is_json(r) || r == Representation::atom || r == Representation::yaml;
}

// "application/json, application/ld+json, … and text/html".
std::string offer_list(const std::vector<Representation>& offers) {
  std::string out;
  for (std::size_t i = 0; i < offers.size(); ++i) {
    if (i > 0) out += i + 1 == offers.size() ? " and " : ", ";
    out += media_type(offers[i]);
  }
  return out;
}

// The version asked for in an "application/vnd.narwhal.vN+json" range whose N narwhal does not
// serve, or nullopt.
std::optional<std::string> unknown_version(std::string_view accept) {
  for (const auto& m : parse_accept(accept)) {
    if (m.type != "application" || m.q <= 0) continue;
    for (const std::string_view vendor : {"vnd.narwhal.v", "vnd.cetacean.v"}) {
      if (!std::string_view(m.subtype).starts_with(vendor)) continue;
      const auto rest = std::string_view(m.subtype).substr(vendor.size());
      const auto plus = rest.find('+');
      const auto version = rest.substr(0, plus);
      if (version != "1") return std::string(version);
    }
  }
  return std::nullopt;
}

}  // namespace

Handler::Impl::Impl(Settings s, const state::Store& st, live::Hub* h)
    : settings(std::move(s)),
      store(st),
      hub(h),
      site{settings.base_path},
      started(util::now_micros()),
      filters(256, settings.max_filter_chars) {}

Reply Handler::Impl::problem(std::string code, std::string detail, std::string_view instance,
                             std::string_view request_id,
                             std::vector<std::string> candidates) const {
  const auto& c = render::error_code(code);
  Reply r;
  r.status = c.status;
  r.problem = c.code;
  r.content_type = kProblemType;
  r.cache_control = kNoStore;
  r.body = std::make_shared<const std::string>(
      render::render_problem({std::move(code), std::move(detail), std::move(candidates)}, instance,
                             request_id, settings.base_path));
  return r;
}

bool Handler::Impl::ready(const state::Snapshot& snap) const {
  const auto& e = snap.engine;
  if (!e.synced || !e.manager) return false;
  if (e.connected) return true;
  return util::now_micros() - e.since < settings.ready_grace.count() * 1000;
}

std::shared_ptr<const CacheEntry> Handler::Impl::cached(
    const std::string& key, const Deps& deps, const std::function<Fresh()>& render) const {
  std::promise<std::shared_ptr<const CacheEntry>> mine;
  std::shared_future<std::shared_ptr<const CacheEntry>> theirs;
  {
    const std::lock_guard lock(cache_mutex);
    const auto it = cache.find(key);
    if (it != cache.end() && it->second.entry->deps == deps) {
      hits.fetch_add(1, std::memory_order_relaxed);
      lru.splice(lru.begin(), lru, it->second.recency);
      return it->second.entry;
    }
    needs_work();  // a miss renders, or waits for a render: not on an I/O thread
    if (const auto pending = rendering.find(key); pending != rendering.end()) {
      theirs = pending->second;
    } else {
      rendering.emplace(key, mine.get_future().share());
    }
  }
  misses.fetch_add(1, std::memory_order_relaxed);
  if (theirs.valid()) {
    // Another request renders this very body now: wait for it rather than render it twice (a
    // render of a state a moment older is still a fine answer to a request that came meanwhile).
    shared_renders.fetch_add(1, std::memory_order_relaxed);
    return theirs.get();
  }
  std::shared_ptr<CacheEntry> entry;
  try {
    Fresh fresh = render();
    entry = std::make_shared<CacheEntry>();
    entry->deps = deps;
    entry->etag = util::strong_etag(fresh.body.text);
    entry->last_modified = fresh.body.last_modified;
    entry->total = fresh.total;
    entry->links = std::move(fresh.links);
    entry->body = std::make_shared<const std::string>(std::move(fresh.body.text));
  } catch (...) {
    mine.set_exception(std::current_exception());
    const std::lock_guard lock(cache_mutex);
    rendering.erase(key);
    throw;
  }
  mine.set_value(entry);
  const std::size_t bytes = entry->body->size() + entry->links.size() + key.size();
  const std::lock_guard lock(cache_mutex);
  rendering.erase(key);
  if (const auto old = cache.find(key); old != cache.end()) {
    cache_bytes -= old->second.bytes;
    lru.erase(old->second.recency);
    cache.erase(old);
  }
  // A body larger than the whole budget is answered, not kept.
  if (bytes > settings.cache_bytes) return entry;
  while (!lru.empty() &&
         (cache_bytes + bytes > settings.cache_bytes || cache.size() >= settings.cache_entries)) {
    const auto victim = cache.find(lru.back());
    cache_bytes -= victim->second.bytes;
    cache.erase(victim);
    lru.pop_back();
    evictions.fetch_add(1, std::memory_order_relaxed);
  }
  lru.push_front(key);
  cache.emplace(key, CacheSlot{entry, lru.begin(), bytes});
  cache_bytes += bytes;
  return entry;
}

Reply Handler::Impl::respond(const Request& rq, Representation rep, const CacheEntry& entry) const {
  Reply r;
  r.vary_accept = true;
  r.cache_control = kNoCache;
  r.etag = entry.etag;
  r.last_modified = entry.last_modified;
  r.content_type = media_type(rep);
  // A body that may be compressed varies with Accept-Encoding whether or not it is this time.
  const bool may_compress = compressible(rep) && entry.body->size() > kCompressAbove;
  r.vary_encoding = may_compress;
  std::optional<util::Coding> coding;
  if (may_compress) {
    coding = util::choose_coding(rq.accept_encoding, kCodings);
    if (coding == util::Coding::identity) coding.reset();
    // The same tag, weak: the compressed bytes are equivalent to the body, not the same (§6).
    if (coding) r.etag = "W/" + r.etag;
  }
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
  if (coding) {
    r.body = entry.encoded(*coding);
    r.content_encoding = util::coding_name(*coding);
  } else {
    r.body = entry.body;
  }
  return r;
}

Reply Handler::Impl::respond_fresh(const Request& rq, Representation rep, std::string body,
                                   std::int64_t last_modified) const {
  CacheEntry entry;
  entry.etag = util::strong_etag(body);
  entry.last_modified = last_modified;
  entry.body = std::make_shared<const std::string>(std::move(body));
  return respond(rq, rep, entry);
}

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

std::variant<Representation, Reply> Handler::Impl::negotiate(
    const Request& rq, const Route& route, std::optional<Representation> extension,
    std::string_view path) const {
  auto offers = offered(route);
  if (hub == nullptr) std::erase(offers, Representation::event_stream);
  if (extension) {
    if (std::find(offers.begin(), offers.end(), *extension) != offers.end()) return *extension;
    Reply p = problem("API003",
                      std::string(path) + " has no " + std::string(media_type(*extension)) +
                          " view; it offers " + offer_list(offers),
                      path, rq.request_id);
    p.vary_accept = true;
    return p;
  }
  if (const auto rep = choose(rq.accept, offers)) return *rep;
  const auto ranges = parse_accept(rq.accept);
  auto asks_for = [&](std::string_view type, std::string_view sub) {
    return std::any_of(ranges.begin(), ranges.end(), [&](const MediaRange& m) {
      return m.type == type && m.subtype == sub && m.q > 0;
    });
  };
  Reply p;
  if (asks_for("text", "event-stream")) {
    // Asked for a stream specifically: SSE is not served here.
    p = problem("API001", std::string(path) + " does not stream Server-Sent Events", path,
                rq.request_id);
  } else if (const auto version = unknown_version(rq.accept)) {
    p = problem("API003",
                "version " + quoted(*version) + " of narwhal's JSON is not served; " +
                    std::string(path) + " offers " + offer_list(offers),
                path, rq.request_id);
  } else if (asks_for("application", "atom+xml")) {
    p = problem("API003", std::string(path) + " has no Atom feed; it offers " + offer_list(offers),
                path, rq.request_id);
  } else {
    p = problem("API003", std::string(path) + " offers " + offer_list(offers), path, rq.request_id);
  }
  p.vary_accept = true;
  return p;
}

Reply Handler::Impl::route(const Request& rq, const std::vector<std::string>& segs,
                           std::string_view path, std::string_view query) const {
  const auto snap = store.snapshot();
  const auto matches = match_routes(segs);
  if (matches.empty()) {
    return problem("API004", "no resource at " + std::string(path), path, rq.request_id);
  }
  std::optional<Reply> first;
  for (const auto& m : matches) {
    Representation rep = Representation::json;
    if (m.route->negotiated) {
      auto chosen = negotiate(rq, *m.route, m.extension, path);
      if (auto* refused = std::get_if<Reply>(&chosen)) {
        if (!first) first = std::move(*refused);
        continue;
      }
      rep = std::get<Representation>(chosen);
    } else if (m.extension) {
      continue;  // /-/health.json is no path of narwhal's
    }
    const bool data = serves_swarm_data(m.route->id);
    if (data && rep != Representation::html && !snap->engine.synced) {
      // Never an empty 200 a client would take for an empty swarm (§3).
      Reply p = not_synced(rq, *snap, path);
      p.vary_accept = m.route->negotiated;
      p.route = m.route->pattern;
      return p;
    }
    Reply r = serve(Call{rq, *m.route, m.args, rep, path, query, snap});
    r.route = m.route->pattern;
    if ((data || m.route->id == RouteId::cluster) && snap->engine.stale_since != 0) {
      // The last known state, no longer refreshed from a manager (/cluster says why and since
      // when). RFC 9111 retired Warning, but 110 is still what caches and people recognise.
      r.headers.emplace_back("Warning", std::string(kStaleWarning));
    }
    // Exact path first: only when it names nothing does the extension form get its turn, and
    // when neither names anything the exact path's answer stands.
    if (r.status != 404) return r;
    if (!first) first = std::move(r);
  }
  if (first) return std::move(*first);
  return problem("API004", "no resource at " + std::string(path), path, rq.request_id);
}

Reply Handler::Impl::not_synced(const Request& rq, const state::Snapshot& snap,
                                std::string_view path) const {
  const auto& e = snap.engine;
  std::string detail = "narwhal has not completed its first full sync with the engine";
  if (!e.endpoint.empty()) detail += " at " + e.endpoint;
  detail += e.last_error.empty() ? std::string(" yet: it is connecting") : ": " + e.last_error;
  Reply p = problem(e.manager ? "ENG001" : "ENG002", std::move(detail), path, rq.request_id);
  p.headers.emplace_back("Retry-After", "2");
  return p;
}

Reply Handler::Impl::serve(const Call& c) const {
  switch (c.route.id) {
    case RouteId::index: return index(c);
    case RouteId::list: return list(c, *c.route.kind, nullptr);
    case RouteId::detail: return detail(c, *c.route.kind, c.args.at(0));
    case RouteId::tasks_of: return tasks_of(c);
    case RouteId::cluster: return cluster(c);
    case RouteId::swarm: return swarm(c);
    case RouteId::events: return events(c);
    case RouteId::history: return history(c);
    case RouteId::search: return search(c);
    case RouteId::api: return api(c);
    case RouteId::api_context: return context(c);
    case RouteId::api_errors: return errors(c);
    case RouteId::api_error: return error(c);
    case RouteId::health: return health(c);
    case RouteId::ready: return readiness(c);
    case RouteId::metrics: return metrics(c);
  }
  return problem(c, "API004", "no resource at " + std::string(c.path));
}

Reply Handler::Impl::html_page(const Call& c, std::string title, std::string description,
                               const std::string& base, bool has_feed,
                               std::vector<std::pair<std::string, std::string>> links,
                               const std::string& suffix) const {
  render::HtmlPage page;
  page.heading = title;
  page.title = std::move(title) + " · narwhal";
  page.description = std::move(description);
  if (has_feed) page.atom_url = base + ".atom" + suffix;
  // The entry point has no extension form: its JSON is what programs get at the same URL.
  page.json_url = base.empty() ? site.base_path + "/" : base + ".json" + suffix;
  page.links = std::move(links);
  Reply r = respond_fresh(c.rq, Representation::html, render::render_html_page(page));
  if (r.status != 304) r.content_type = "text/html; charset=utf-8";
  return r;
}

Handler::Handler(Settings settings, const state::Store& store, live::Hub* hub)
    : impl_(std::make_unique<Impl>(std::move(settings), store, hub)) {}

Handler::~Handler() = default;

std::optional<Reply> Handler::handle_quick(const Request& request) const {
  struct Pass {
    Pass() { t_quick_pass = true; }
    ~Pass() { t_quick_pass = false; }
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
  };
  try {
    const Pass pass;
    return handle(request);
  } catch (const NeedsWork&) {
    return std::nullopt;
  }
}

Reply Handler::handle(const Request& request) const {
  Reply r = impl_->handle(request);
  const auto& origins = impl_->settings.cors_origins;
  // With CORS configured, whether and how a response carries Access-Control-* depends on the
  // Origin sent: caches must keep them apart, for requests without one too.
  if (!origins.empty()) r.headers.emplace_back("Vary", "Origin");
  if (!request.origin.empty() && !origins.empty()) {
    const bool any = std::find(origins.begin(), origins.end(), "*") != origins.end();
    const bool listed = std::find(origins.begin(), origins.end(), request.origin) != origins.end();
    if (any || listed) {
      r.headers.emplace_back("Access-Control-Allow-Origin",
                             any ? std::string("*") : std::string(request.origin));
      r.headers.emplace_back("Access-Control-Expose-Headers", std::string(kExposeHeaders));
      if (request.method == "OPTIONS" && !request.request_method.empty()) {
        r.headers.emplace_back("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
        r.headers.emplace_back("Access-Control-Allow-Headers",
                               "Accept, Accept-Encoding, If-None-Match, If-Modified-Since, Range, "
                               "Request-Id, Last-Event-ID");
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
  const std::lock_guard lock(impl_->cache_mutex);
  return {impl_->hits.load(), impl_->misses.load(),    impl_->cache.size(),
          impl_->cache_bytes, impl_->evictions.load(), impl_->shared_renders.load()};
}

}  // namespace narwhal::http
