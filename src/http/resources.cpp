// The swarm's objects: collections, details, a service's or node's tasks, the cluster summary
// and the swarm, in each representation their URLs offer.
#include <algorithm>
#include <set>

#include "handler_impl.hpp"
#include "narwhal/http/range.hpp"
#include "narwhal/live/hub.hpp"
#include "narwhal/util/text.hpp"

namespace narwhal::http {

using state::Kind;
using namespace detail;  // NOLINT(google-build-using-namespace): this module's own helpers

namespace {

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

}  // namespace

std::string Handler::Impl::item_template(Kind kind) const {
  const bool named = kind == Kind::stack || kind == Kind::volume;
  return "<" + site.base_path + "/" + std::string(state::kind_collection(kind)) +
         (named ? "/{name}" : "/{id}") + ">; rel=\"item\"";
}

Reply Handler::Impl::index(const Call& c) const {
  if (c.rep == Representation::html) {
    std::vector<std::pair<std::string, std::string>> links;
    for (std::size_t k = 0; k < state::kKinds; ++k) {
      const auto kind = static_cast<Kind>(k);
      links.emplace_back(display_name(kind, true),
                         site.base_path + "/" + std::string(state::kind_collection(kind)));
    }
    for (const char* extra : {"cluster", "history", "search", "api", "api/errors"}) {
      links.emplace_back(std::string("/") + extra, site.base_path + "/" + extra);
    }
    return html_page(c, "narwhal", "The swarm, as narwhal sees it.", "", false, std::move(links));
  }
  const auto entry = cached("/", Deps{}, [&] {
    return Fresh(render::Body{render::render_index(site), 0});
  });
  return respond(c.rq, c.rep, *entry);
}

std::variant<const state::Object*, Reply> Handler::Impl::find_object(const Call& c, Kind kind,
                                                                     std::string_view key) const {
  const auto domain = std::string(code_domain(kind));
  const state::Object* found = nullptr;
  if (kind == Kind::volume) {
    found = c.snap->table(kind).find(key);  // volumes are named, not ID'd: no prefixes
  } else {
    const auto lookup = c.snap->table(kind).lookup(key);
    if (!lookup.candidates.empty()) {
      std::vector<std::string> urls;
      for (const auto* cand : lookup.candidates) {
        if (urls.size() == 20) break;
        urls.push_back(site.url(kind, cand->id));
      }
      return problem(domain + "001",
                     quoted(key) + " matches " + std::to_string(lookup.candidates.size()) + " " +
                         std::string(state::kind_collection(kind)) + "; use a full ID",
                     c.path, c.rq.request_id, std::move(urls));
    }
    found = lookup.found;
  }
  if (found == nullptr) {
    const std::string what = kind == Kind::volume ? "name" : "ID, ID prefix or name";
    return problem(
        c, domain + "002",
        "no " + std::string(state::kind_name(kind)) + " has the " + what + " " + quoted(key));
  }
  return found;
}

Reply Handler::Impl::list(const Call& c, Kind kind, const state::Object* owner) const {
  const auto params = query::parse_query_string(c.query);
  if (!params) return problem(c, "API007", "the query string has a malformed percent-escape");
  const auto& snap = c.snap;
  const std::string coll(state::kind_collection(kind));
  if (c.rep == Representation::event_stream) {
    live::Scope scope;
    scope.shape = owner == nullptr               ? live::Scope::Shape::list
                  : owner->kind == Kind::service ? live::Scope::Shape::tasks_of_service
                                                 : live::Scope::Shape::tasks_of_node;
    scope.kind = kind;
    if (owner != nullptr) scope.id = owner->id;
    if (auto bad = stream_filter(c, *params, live::Scope::bit(kind), scope)) {
      return std::move(*bad);
    }
    return stream(c, std::move(scope));
  }
  // The list's permanent path, without base path or extension: its feed's name.
  const std::string scope_path =
      owner == nullptr ? "/" + coll
                       : site.url(owner->kind, owner->id).substr(site.base_path.size()) + "/tasks";
  if (c.rep == Representation::atom || c.rep == Representation::html) {
    std::string title;
    std::function<bool(const state::HistoryEntry&)> in_scope;
    if (owner == nullptr) {
      title = display_name(kind, true);
      in_scope = [kind](const state::HistoryEntry& e) { return e.kind == kind; };
    } else {
      const bool by_service = owner->kind == Kind::service;
      title = std::string(by_service ? "Tasks of service " : "Tasks on node ") + owner->name;
      in_scope = [by_service, id = owner->id](const state::HistoryEntry& e) {
        return e.kind == Kind::task && e.object &&
               (by_service ? e.object->service_id : e.object->node_id) == id;
      };
    }
    if (c.rep == Representation::html) {
      return html_page(c, title, "Changes and contents of " + title + ".",
                       site.base_path + scope_path, true);
    }
    // ?filter= narrows a feed as it narrows the list and its stream (§5): to the changes whose
    // object, as the change left it, matches.
    std::string kept;
    if (const auto text = param(*params, "filter")) {
      auto compiled = compile(kind, *text);
      if (!compiled) {
        return problem(c, compiled.error().code, "filter: " + compiled.error().detail);
      }
      kept = "filter=" + util::percent_encode(*text) + "&";
      in_scope = [base = std::move(in_scope), program = std::move(*compiled), snap = c.snap,
                  kind](const state::HistoryEntry& e) {
        if (!base(e)) return false;
        if (kind == Kind::stack) {
          const state::Stack* st = snap->stack(e.object_id);
          return st != nullptr && program->matches(*snap, *st);
        }
        return e.object && program->matches(*snap, *e.object);
      };
    }
    return feed(c, scope_path, title, site.base_path + scope_path, std::move(in_scope), kept);
  }
  query::ListQuery q;
  if (const auto err = query::parse_list_query(kind, *params, settings.max_search_chars, q)) {
    return problem(c, err->code, err->detail);
  }
  query::FilterPtr filter;
  if (!q.filter.empty()) {
    auto compiled = compile(kind, q.filter);
    if (!compiled) {
      return problem(c, compiled.error().code, "filter: " + compiled.error().detail);
    }
    filter = std::move(*compiled);
  }
  // The canonical URL: the body's @id and the cache's key. Parameters narwhal does not know, or
  // spelt differently (limit=050), make no new body: a client cannot fill the cache with copies.
  const std::string canon = query::canonical(q);
  const std::string self = std::string(c.path) + (canon.empty() ? std::string() : "?" + canon);
  // Range paging applies only when the query names no page (query parameters win).
  std::optional<ItemRange> range;
  if (!q.explicit_paging && !c.rq.range.empty()) range = parse_item_range(c.rq.range);
  if (range) {
    q.offset = range->first;
    const std::size_t wanted = range->last ? *range->last - range->first + 1 : query::kMaxLimit;
    q.limit = std::min(wanted, query::kMaxLimit);
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
    fresh.links = paging_links(c.path, *params, q.limit, q.offset, page.total);
    return fresh;
  });
  const std::size_t total = entry->total;
  if (range && range->first >= total && !(range->first == 0 && total == 0)) {
    Reply r = problem(c, "API010",
                      "items " + std::to_string(range->first) + "- is past the end: there are " +
                          std::to_string(total));
    r.headers.emplace_back("Content-Range", "items */" + std::to_string(total));
    r.headers.emplace_back("Accept-Ranges", "items");
    return r;
  }
  Reply r = respond(c.rq, c.rep, *entry);
  r.headers.emplace_back("Accept-Ranges", "items");
  r.links = entry->links;
  // Feed autodiscovery (§7): the same list as Atom.
  r.links += ", <" + site.base_path + scope_path +
             ".atom>; rel=\"alternate\"; type=\"application/atom+xml\"";
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

Reply Handler::Impl::tasks_of(const Call& c) const {
  const Kind owner_kind = c.route.pattern.starts_with("/nodes") ? Kind::node : Kind::service;
  auto found = find_object(c, owner_kind, c.args.at(0));
  if (auto* refused = std::get_if<Reply>(&found)) return std::move(*refused);
  return list(c, Kind::task, std::get<const state::Object*>(found));
}

Reply Handler::Impl::detail(const Call& c, Kind kind, std::string_view key) const {
  const auto& snap = c.snap;
  if (kind == Kind::stack) {
    const state::Stack* st = snap->stack(key);
    if (st == nullptr) return problem(c, "STK002", "no stack is named " + quoted(key));
    const std::string canonical = site.url(Kind::stack, st->name);
    if (c.rep == Representation::event_stream) {
      live::Scope scope;
      scope.shape = live::Scope::Shape::stack;
      scope.kind = Kind::stack;
      scope.id = st->name;
      return stream(c, std::move(scope));
    }
    if (c.rep == Representation::html) {
      return html_page(c, "Stack " + st->name, "The members of stack " + st->name + ".", canonical,
                       true);
    }
    if (c.rep == Representation::atom) {
      // A stack's feed: the stack itself, its members, and the tasks of its services.
      std::set<std::string, std::less<>> services;
      for (const auto& s : st->of(Kind::service)) services.insert(s->id);
      auto in_scope = [name = st->name,
                       services = std::move(services)](const state::HistoryEntry& e) {
        if (e.kind == Kind::stack) return e.object_id == name;
        if (!e.object) return false;
        if (e.kind == Kind::task) return services.contains(e.object->service_id);
        return e.object->stack == name;
      };
      return feed(c, canonical.substr(site.base_path.size()), "Stack " + st->name, canonical,
                  std::move(in_scope));
    }
    const auto entry = cached(canonical, deps_of(*snap, {Kind::stack}),
                              [&] { return Fresh(render::render_stack(*st, true, site)); });
    Reply r = respond(c.rq, c.rep, *entry);
    r.links = "<" + canonical + ".atom>; rel=\"alternate\"; type=\"application/atom+xml\"";
    return r;
  }
  auto lookup = find_object(c, kind, key);
  if (auto* refused = std::get_if<Reply>(&lookup)) return std::move(*refused);
  const state::Object* found = std::get<const state::Object*>(lookup);
  const std::string canonical = site.url(kind, found->id);
  if (c.rep == Representation::event_stream) {
    live::Scope scope;
    scope.shape = kind == Kind::service ? live::Scope::Shape::service
                  : kind == Kind::node  ? live::Scope::Shape::node
                                        : live::Scope::Shape::object;
    scope.kind = kind;
    scope.id = found->id;
    return stream(c, std::move(scope));
  }
  const std::string title = display_name(kind, false) + " " + found->name;
  if (c.rep == Representation::html) {
    std::vector<std::pair<std::string, std::string>> links;
    if (kind == Kind::service || kind == Kind::node) {
      links.emplace_back("Tasks", canonical + "/tasks");
    }
    return html_page(c, title,
                     "The " + std::string(state::kind_name(kind)) + " " + found->name + ".",
                     canonical, true, std::move(links));
  }
  if (c.rep == Representation::atom) {
    std::function<bool(const state::HistoryEntry&)> in_scope;
    if (kind == Kind::service || kind == Kind::node) {
      // A service's feed includes its tasks; a node's, the tasks on it (as their streams do).
      const bool by_service = kind == Kind::service;
      in_scope = [kind, by_service, id = found->id](const state::HistoryEntry& e) {
        if (e.kind == kind) return e.object_id == id;
        return e.kind == Kind::task && e.object &&
               (by_service ? e.object->service_id : e.object->node_id) == id;
      };
    } else {
      in_scope = [kind, id = found->id](const state::HistoryEntry& e) {
        return e.kind == kind && e.object_id == id;
      };
    }
    Reply r =
        feed(c, canonical.substr(site.base_path.size()), title, canonical, std::move(in_scope));
    if (canonical != c.path && r.status < 300) r.content_location = canonical + ".atom";
    return r;
  }
  Deps d = deps_of(*snap, {kind});
  if (kind == Kind::task) d = deps_of(*snap, {Kind::task, Kind::service, Kind::node});
  if (kind == Kind::service) d = deps_of(*snap, {Kind::service, Kind::task});
  if (kind == Kind::config || kind == Kind::secret || kind == Kind::network ||
      kind == Kind::volume) {
    d = deps_of(*snap, {kind, Kind::service});
  }
  const auto entry =
      cached(canonical, d, [&] { return Fresh(render::render_object(*snap, *found, true, site)); });
  Reply r = respond(c.rq, c.rep, *entry);
  if (canonical != c.path) r.content_location = canonical;
  r.links = "<" + canonical + ".atom>; rel=\"alternate\"; type=\"application/atom+xml\"";
  return r;
}

Reply Handler::Impl::cluster(const Call& c) const {
  if (c.rep == Representation::event_stream) {
    live::Scope scope;
    scope.shape = live::Scope::Shape::cluster;
    return stream(c, std::move(scope));
  }
  if (c.rep == Representation::html) {
    return html_page(c, "Cluster", "A summary of the swarm.", site.base_path + "/cluster", false);
  }
  const auto& snap = c.snap;
  const bool is_ready = ready(*snap);
  const Deps d = deps_of(*snap,
                         {Kind::node, Kind::service, Kind::task, Kind::config, Kind::secret,
                          Kind::network, Kind::volume, Kind::stack},
                         true);
  const auto entry = cached(std::string("/cluster|") + (is_ready ? "r" : "n"), d, [&] {
    return Fresh(render::Body{render::render_cluster(*snap, site, is_ready), 0});
  });
  return respond(c.rq, c.rep, *entry);
}

Reply Handler::Impl::swarm(const Call& c) const {
  if (c.rep == Representation::html) {
    return html_page(c, "Swarm", "The swarm object, join tokens removed.",
                     site.base_path + "/swarm", false);
  }
  const auto entry = cached("/swarm", deps_of(*c.snap, {}, true), [&] {
    return Fresh(render::Body{render::render_swarm(*c.snap, site), 0});
  });
  return respond(c.rq, c.rep, *entry);
}

}  // namespace narwhal::http
