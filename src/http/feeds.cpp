// The change history: /history and /events as JSON and Atom, every URL's Atom feed, and the
// Server-Sent Event streams.
#include "handler_impl.hpp"
#include "narwhal/live/hub.hpp"
#include "narwhal/render/atom.hpp"
#include "narwhal/render/history.hpp"
#include "narwhal/util/hash.hpp"
#include "narwhal/util/text.hpp"

namespace narwhal::http {

using state::Kind;
using namespace detail;  // NOLINT(google-build-using-namespace): this module's own helpers

namespace {

constexpr std::string_view kRetryAfterStreams = "5";

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

// limit= and before= of a history page or feed; a problem detail when one is malformed.
std::optional<std::string> parse_page(const std::vector<query::Param>& params,
                                      state::HistoryQuery& q) {
  if (auto bad = parse_limit(params, q.limit)) return bad;
  if (const auto v = param(params, "before")) {
    const auto n = util::parse_uint(*v);
    if (!n) return "before: expected an event ID, got " + quoted(*v);
    q.before = *n;
  }
  return std::nullopt;
}

}  // namespace

Reply Handler::Impl::history(const Call& c) const {
  const auto params = query::parse_query_string(c.query);
  if (!params) return problem(c, "API007", "the query string has a malformed percent-escape");
  state::HistoryQuery q;
  if (auto bad = parse_page(*params, q)) return problem(c, "API006", std::move(*bad));
  std::string kept;  // type and resourceId, kept in the paging links
  if (const auto v = param(*params, "type")) {
    const auto kind = kind_named(*v);
    if (!kind) return problem(c, "API006", unknown_type("type", *v));
    q.kind = kind;
    kept += "type=" + util::percent_encode(*v) + "&";
  }
  if (const auto v = param(*params, "resourceId")) {
    q.resource_id = *v;
    if (!v->empty()) kept += "resourceId=" + util::percent_encode(*v) + "&";
  }
  const std::string scope = c.route.id == RouteId::events ? "/events" : "/history";
  if (c.rep == Representation::html) {
    return html_page(c, "History", "Every change narwhal has seen, newest first.",
                     site.base_path + scope, true);
  }
  if (c.rep == Representation::atom) {
    auto kind = q.kind;
    auto resource = q.resource_id;
    return feed(
        c, scope, "Changes", site.base_path + "/history",
        [kind, resource](const state::HistoryEntry& e) {
          return (!kind || e.kind == *kind) && (resource.empty() || e.object_id == resource);
        },
        kept);
  }
  needs_work();  // a scan of the history, rendered per request
  const auto entries = store.history().query(q);
  const std::string path = site.base_path + scope;
  render::HistoryPage page;
  page.self = c.self();
  page.limit = q.limit;
  const std::string limit_qs = "limit=" + std::to_string(q.limit);
  page.first = path + "?" + kept + limit_qs;
  std::string links = "<" + page.first + ">; rel=\"first\"";
  if (entries.size() == q.limit) {
    page.next = path + "?" + kept + "before=" + std::to_string(entries.back().id) + "&" + limit_qs;
    links += ", <" + page.next + ">; rel=\"next\"";
  }
  links += ", <" + path + ".atom" + (kept.empty() ? "" : "?" + kept.substr(0, kept.size() - 1)) +
           ">; rel=\"alternate\"; type=\"application/atom+xml\"";
  // Rendered per request: a page is at most 200 small entries, and the ring moves constantly.
  std::int64_t newest = entries.empty() ? 0 : entries.front().time;
  Reply r = respond_fresh(c.rq, c.rep, render::render_history(entries, page, site), newest);
  r.links = std::move(links);
  return r;
}

Reply Handler::Impl::feed(const Call& c, const std::string& scope, std::string title,
                          std::string alternate,
                          std::function<bool(const state::HistoryEntry&)> in_scope,
                          const std::string& kept) const {
  const auto params = query::parse_query_string(c.query);
  if (!params) return problem(c, "API007", "the query string has a malformed percent-escape");
  state::HistoryQuery q;
  if (auto bad = parse_page(*params, q)) return problem(c, "API006", std::move(*bad));
  q.match = std::move(in_scope);
  // One immutable view for the key and the body: the feed shows the history only, and it
  // changes when the history grows. Filters run over it without holding up the watcher.
  const auto history = store.history().view();
  Deps d{};
  d[kHistorySlot] = history->last_id() + 1;
  const std::string self = c.self();
  const auto entry = cached("atom\n" + self, d, [&] {
    const auto entries = history->query(q);
    const std::string feed_url = site.base_path + scope + ".atom";
    const std::string limit_qs = "limit=" + std::to_string(q.limit);
    render::FeedPage page;
    page.self = self;
    page.alternate = std::move(alternate);
    page.first = feed_url + "?" + kept + limit_qs;
    if (entries.size() == q.limit) {
      page.next =
          feed_url + "?" + kept + "before=" + std::to_string(entries.back().id) + "&" + limit_qs;
    }
    page.scope = kept.empty() ? scope : scope + "?" + kept.substr(0, kept.size() - 1);
    page.title = std::move(title);
    page.updated_fallback = started;
    render::FeedOptions options;
    options.authority = settings.tag_authority;
    Fresh fresh(render::Body{render::render_feed(entries, page, site, options),
                             entries.empty() ? 0 : entries.front().time});
    fresh.links = "<" + page.first + ">; rel=\"first\"";
    if (!page.next.empty()) fresh.links += ", <" + page.next + ">; rel=\"next\"";
    return fresh;
  });
  Reply r = respond(c.rq, c.rep, *entry);
  r.links = entry->links;
  return r;
}

Reply Handler::Impl::events(const Call& c) const {
  if (c.rep != Representation::event_stream) return history(c);
  const auto params = query::parse_query_string(c.query);
  if (!params) return problem(c, "API007", "the query string has a malformed percent-escape");
  live::Scope scope;
  scope.shape = live::Scope::Shape::events;
  if (const auto types = param(*params, "types")) {
    if (auto err = parse_types(*types, scope.kinds)) return problem(c, "API006", std::move(*err));
  }
  if (auto bad = stream_filter(c, *params, scope.kinds, scope)) return std::move(*bad);
  return stream(c, std::move(scope));
}

std::optional<Reply> Handler::Impl::stream_filter(const Call& c,
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
    auto compiled = compile(kind, *text);
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
  return problem(c, best->code, "filter: " + best->detail);
}

Reply Handler::Impl::stream(const Call& c, live::Scope scope) const {
  Reply r;
  r.event_stream = true;
  r.content_type = "text/event-stream";
  r.cache_control = kNoCache;
  r.vary_accept = true;
  r.headers.emplace_back("X-Accel-Buffering", "no");
  std::string last(c.rq.last_event_id);
  if (last.empty() && !c.query.empty()) {
    // For clients that cannot set headers on a reconnect.
    if (const auto params = query::parse_query_string(c.query)) {
      if (auto v = param(*params, "lastEventId")) last = std::move(*v);
    }
  }
  // A resume replays what the client missed through its scope and filter.
  if (!last.empty() && c.rq.method != "HEAD") needs_work();
  // HEAD opens nothing but answers what GET would: 429 at the cap.
  if (c.rq.method == "HEAD" ? hub->full() : !(r.stream = hub->open(std::move(scope), last))) {
    Reply p = problem(c, "SSE001",
                      "the server holds its maximum of open event streams; retry in " +
                          std::string(kRetryAfterStreams) + " seconds");
    p.headers.emplace_back("Retry-After", std::string(kRetryAfterStreams));
    return p;
  }
  return r;
}

}  // namespace narwhal::http
