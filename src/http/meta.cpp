// Search, the meta endpoints (/-/health, /-/ready, /-/metrics), the OpenAPI document, the
// JSON-LD context and the error registry.
#include "handler_impl.hpp"
#include "narwhal/http/openapi.hpp"
#include "narwhal/query/search.hpp"
#include "narwhal/render/context.hpp"
#include "narwhal/render/errors.hpp"
#include "narwhal/render/search.hpp"
#include "narwhal/util/text.hpp"
#include "narwhal/util/time.hpp"

namespace narwhal::http {

using state::Kind;
using namespace detail;  // NOLINT(google-build-using-namespace): this module's own helpers

namespace {

// Meta endpoints are not negotiated and never cached by clients.
Reply meta_reply(std::string body) {
  Reply r;
  r.discovery_links = false;
  r.cache_control = kNoStore;
  r.content_type = "application/json";
  r.body = std::make_shared<const std::string>(std::move(body));
  return r;
}

}  // namespace

Reply Handler::Impl::health(const Call& /*c*/) const {
  const auto uptime = (util::now_micros() - started) / 1'000'000;
  return meta_reply("{\"status\":\"ok\",\"version\":" + quoted(settings.version) +
                    ",\"uptimeSeconds\":" + std::to_string(uptime) + "}");
}

Reply Handler::Impl::readiness(const Call& c) const {
  if (ready(*c.snap)) return meta_reply("{\"status\":\"ready\"}");
  const auto& e = c.snap->engine;
  std::string why;
  if (!e.manager) {
    why = "the engine at " + e.endpoint + " is not a swarm manager";
  } else if (!e.synced) {
    why = "no full sync with the engine has completed yet";
  } else {
    why = "the engine connection was lost " +
          std::to_string((util::now_micros() - e.since) / 1'000'000) + " s ago";
  }
  if (!e.last_error.empty()) why += ": " + e.last_error;
  Reply p = problem(c, e.manager ? "ENG001" : "ENG002", why);
  p.discovery_links = false;
  p.headers.emplace_back("Retry-After", "1");
  return p;
}

Reply Handler::Impl::metrics(const Call& c) const {
  if (!settings.metrics) return problem(c, "API004", "no resource at " + std::string(c.path));
  needs_work();  // megabytes of text at 100 000 tasks
  Reply r = meta_reply(settings.metrics());
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return r;
}

Reply Handler::Impl::search(const Call& c) const {
  const auto params = query::parse_query_string(c.query);
  if (!params) return problem(c, "API007", "the query string has a malformed percent-escape");
  const auto q = param(*params, "q");
  if (!q || util::trim(*q).empty()) {
    return problem(c, "SEA001", "q: say what to look for, e.g. /search?q=web");
  }
  if (util::utf8_length(*q) > settings.max_search_chars) {
    return problem(c, "SEA002",
                   "q: " + std::to_string(util::utf8_length(*q)) + " characters; at most " +
                       std::to_string(settings.max_search_chars) + " are allowed");
  }
  const std::string needle(util::trim(*q));
  const std::string kept = "q=" + util::percent_encode(needle) + "&";
  const std::string base = site.base_path + "/search";
  if (c.rep == Representation::html) {
    return html_page(c, "Search: " + needle, "Everything whose name contains \"" + needle + "\".",
                     base, true, {}, "?" + kept.substr(0, kept.size() - 1));
  }
  if (c.rep == Representation::atom) {
    return feed(
        c, "/search", "Changes to what matches \"" + needle + "\"", base + "?" + kept,
        [needle](const state::HistoryEntry& e) {
          return query::search_matches(e.name, e.object_id, needle);
        },
        kept);
  }
  std::size_t limit = query::kDefaultLimit;
  if (auto bad = parse_limit(*params, limit)) return problem(c, "API006", std::move(*bad));
  const std::string self = c.self();
  const auto& snap = c.snap;
  const Deps d = deps_of(*snap, {Kind::node, Kind::service, Kind::task, Kind::config, Kind::secret,
                                 Kind::network, Kind::volume, Kind::stack});
  const auto entry = cached("search\n" + self, d, [&] {
    const auto result = query::search(*snap, needle, limit);
    return Fresh(render::Body{render::render_search(*snap, result, needle, self, site), 0});
  });
  Reply r = respond(c.rq, c.rep, *entry);
  r.links = "<" + base + ".atom?" + kept.substr(0, kept.size() - 1) +
            ">; rel=\"alternate\"; type=\"application/atom+xml\"";
  return r;
}

Reply Handler::Impl::api(const Call& c) const {
  const OpenApiInfo info{settings.base_path, settings.version};
  const bool yaml = c.rep == Representation::yaml;
  const auto entry = cached(yaml ? "/api|yaml" : "/api", Deps{}, [&] {
    return Fresh(render::Body{yaml ? render_openapi_yaml(info) : render_openapi_json(info), 0});
  });
  Reply r = respond(c.rq, c.rep, *entry);
  r.cache_control = kPublicHour;
  // The document is JSON, not JSON-LD: name it plainly whatever alias was asked for.
  if (!yaml && r.status != 304) r.content_type = "application/json";
  return r;
}

Reply Handler::Impl::context(const Call& c) const {
  const auto entry = cached("/api/context.jsonld", Deps{}, [&] {
    return Fresh(render::Body{render::render_context(site), 0});
  });
  Reply r = respond(c.rq, Representation::json_ld, *entry);
  r.cache_control = kPublicHour;
  return r;
}

Reply Handler::Impl::errors(const Call& c) const {
  if (c.rep == Representation::html) {
    Reply r = respond_fresh(c.rq, c.rep, render::render_error_list_html(site));
    r.content_type = "text/html; charset=utf-8";
    r.cache_control = kPublicHour;
    return r;
  }
  const auto entry = cached("/api/errors", Deps{}, [&] {
    return Fresh(render::Body{render::render_error_list_json(site), 0});
  });
  Reply r = respond(c.rq, c.rep, *entry);
  r.cache_control = kPublicHour;
  return r;
}

Reply Handler::Impl::error(const Call& c) const {
  const std::string& code = c.args.at(0);
  const render::ErrorCode* found = render::find_error_code(code);
  if (found == nullptr) {
    return problem(c, "API011", "no error code " + quoted(code) + "; /api/errors lists them all");
  }
  Reply r = c.rep == Representation::html
                ? respond_fresh(c.rq, c.rep, render::render_error_html(*found, site))
                : respond_fresh(c.rq, c.rep, render::render_error_json(*found, site));
  if (c.rep == Representation::html && r.status == 200) {
    r.content_type = "text/html; charset=utf-8";
  }
  r.cache_control = kPublicHour;
  return r;
}

}  // namespace narwhal::http
