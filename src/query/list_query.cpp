#include "narwhal/query/list_query.hpp"

#include <algorithm>
#include <map>

#include "narwhal/util/text.hpp"

namespace narwhal::query {

using state::Kind;
using state::Object;

std::optional<std::vector<Param>> parse_query_string(std::string_view qs) {
  std::vector<Param> out;
  if (qs.empty()) return out;
  for (const auto part : util::split(qs, '&')) {
    if (part.empty()) continue;
    const auto eq = part.find('=');
    auto name = util::percent_decode(part.substr(0, eq), true);
    auto value = util::percent_decode(
        eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1), true);
    if (!name || !value) return std::nullopt;
    out.push_back({std::move(*name), std::move(*value)});
  }
  return out;
}

const std::vector<std::string_view>& sort_fields(Kind kind) {
  static const std::map<Kind, std::vector<std::string_view>> kFields{
      {Kind::node, {"hostname", "role", "status", "availability"}},
      {Kind::service, {"name", "mode", "replicas"}},
      {Kind::task, {"state", "service", "node", "slot", "created"}},
      {Kind::stack, {"name", "services"}},
      {Kind::config, {"name", "created", "updated"}},
      {Kind::secret, {"name", "created", "updated"}},
      {Kind::network, {"name", "driver", "scope"}},
      {Kind::volume, {"name", "driver", "scope"}},
  };
  return kFields.at(kind);
}

namespace {

std::string join_fields(Kind kind) {
  std::string out;
  for (const auto f : sort_fields(kind)) {
    if (!out.empty()) out += ", ";
    out += f;
  }
  return out;
}

std::string quoted(std::string_view v) {
  std::string out;
  util::append_json_string(out, v.substr(0, 64));
  return out;
}

}  // namespace

std::optional<QueryError> parse_list_query(Kind kind, const std::vector<Param>& params,
                                           std::size_t max_search_chars, ListQuery& out) {
  for (const auto& p : params) {
    if (p.name == "limit") {
      // Too large, however many digits: clamped (§4); not a number: refused.
      const auto v = util::parse_uint_saturating(p.value);
      if (!v || *v == 0) {
        return QueryError{"API006", "limit " + quoted(p.value) +
                                        " is not valid: use a whole number from 1 to 200"};
      }
      out.limit = std::min<std::uint64_t>(*v, kMaxLimit);
      out.explicit_paging = true;
    } else if (p.name == "offset") {
      const auto v = util::parse_uint_saturating(p.value);
      if (!v) {
        return QueryError{
            "API006", "offset " + quoted(p.value) + " is not valid: use a whole number, 0 or more"};
      }
      out.offset = static_cast<std::size_t>(std::min<std::uint64_t>(*v, SIZE_MAX / 2));
      out.explicit_paging = true;
    } else if (p.name == "sort") {
      const auto& fields = sort_fields(kind);
      if (std::find(fields.begin(), fields.end(), p.value) == fields.end()) {
        return QueryError{"API006", "sort " + quoted(p.value) + " is not a sort field of " +
                                        std::string(state::kind_collection(kind)) +
                                        ": use one of " + join_fields(kind)};
      }
      out.sort = p.value;
    } else if (p.name == "dir") {
      if (p.value == "asc") {
        out.descending = false;
      } else if (p.value == "desc") {
        out.descending = true;
      } else {
        return QueryError{"API006", "dir " + quoted(p.value) + " is not valid: use asc or desc"};
      }
    } else if (p.name == "search") {
      if (util::utf8_length(p.value) > max_search_chars) {
        return QueryError{"SEA002", "search is " + std::to_string(util::utf8_length(p.value)) +
                                        " characters long; the limit is " +
                                        std::to_string(max_search_chars)};
      }
      out.search = p.value;
    } else if (p.name == "filter") {
      // Compiled (and checked) by the caller's FilterCache; an empty one filters nothing.
      out.filter = util::trim(p.value).empty() ? std::string{} : p.value;
    }
  }
  return std::nullopt;
}

std::string canonical(const ListQuery& q) {
  std::string out;
  auto add = [&](std::string_view name, const std::string& value) {
    out += out.empty() ? "" : "&";
    out += name;
    out += '=';
    out += util::percent_encode(value);
  };
  if (!q.search.empty()) add("search", q.search);
  if (!q.filter.empty()) add("filter", q.filter);
  if (!q.sort.empty()) add("sort", q.sort);
  if (q.descending) add("dir", "desc");
  // Defaults are left out, so the plainest URL of a page is its canonical one.
  if (q.limit != kDefaultLimit) add("limit", std::to_string(q.limit));
  if (q.offset != 0) add("offset", std::to_string(q.offset));
  return out;
}

namespace {

// Compares two objects by a §4 sort field; returns <0, 0, >0.
int compare(const state::Snapshot& snap, Kind kind, std::string_view field, const Object& a,
            const Object& b) {
  auto cmp_str = [](std::string_view x, std::string_view y) { return x.compare(y); };
  auto cmp_num = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
  if (field.empty() || field == "name" || field == "hostname") return cmp_str(a.name, b.name);
  switch (kind) {
    case Kind::node:
      if (field == "role") return cmp_str(a.role, b.role);
      if (field == "status") return cmp_str(a.state, b.state);
      if (field == "availability") return cmp_str(a.availability, b.availability);
      break;
    case Kind::service:
      if (field == "mode") return cmp_str(a.mode, b.mode);
      if (field == "replicas") {
        return cmp_num(snap.tally(a.id).desired, snap.tally(b.id).desired);
      }
      break;
    case Kind::task:
      if (field == "state") return cmp_str(a.state, b.state);
      if (field == "service") {
        const auto* sa = snap.table(Kind::service).find(a.service_id);
        const auto* sb = snap.table(Kind::service).find(b.service_id);
        return cmp_str(sa ? std::string_view(sa->name) : a.service_id,
                       sb ? std::string_view(sb->name) : b.service_id);
      }
      if (field == "node") {
        const auto* na = snap.table(Kind::node).find(a.node_id);
        const auto* nb = snap.table(Kind::node).find(b.node_id);
        return cmp_str(na ? std::string_view(na->name) : a.node_id,
                       nb ? std::string_view(nb->name) : b.node_id);
      }
      if (field == "slot") return cmp_num(a.slot.value_or(0), b.slot.value_or(0));
      if (field == "created") return cmp_num(a.created, b.created);
      break;
    default:
      if (field == "created") return cmp_num(a.created, b.created);
      if (field == "updated") return cmp_num(a.updated, b.updated);
      if (field == "driver") return cmp_str(a.driver, b.driver);
      if (field == "scope") return cmp_str(a.scope, b.scope);
      break;
  }
  return 0;
}

template <class T>
void page(std::vector<T>& items, const ListQuery& q) {
  if (q.offset >= items.size()) {
    items.clear();
    return;
  }
  items.erase(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(q.offset));
  if (items.size() > q.limit) items.resize(q.limit);
}

}  // namespace

Page select(const state::Snapshot& snap, Kind kind, const std::vector<const Object*>& items,
            const ListQuery& q, const FilterProgram* filter) {
  Page out;
  out.items.reserve(items.size());
  for (const Object* o : items) {
    if (filter != nullptr && !filter->matches(snap, *o)) continue;
    if (!q.search.empty()) {
      // Tasks have no names of their own: search matches their service's name.
      std::string_view name = kind == Kind::task ? o->service_name : o->name;
      if (!util::icontains(name, q.search)) continue;
    }
    out.items.push_back(o);
  }
  out.total = out.items.size();
  if (!q.sort.empty()) {
    std::stable_sort(out.items.begin(), out.items.end(), [&](const Object* a, const Object* b) {
      const int c = compare(snap, kind, q.sort, *a, *b);
      if (c != 0) return q.descending ? c > 0 : c < 0;
      return q.descending ? a->id > b->id : a->id < b->id;  // ties by ID: stable pages
    });
  } else if (q.descending) {
    std::reverse(out.items.begin(), out.items.end());
  }
  page(out.items, q);
  return out;
}

StackPage select_stacks(const state::Snapshot& snap, const ListQuery& q,
                        const FilterProgram* filter) {
  StackPage out;
  for (const auto& st : *snap.stacks) {
    if (filter != nullptr && !filter->matches(snap, st)) continue;
    if (q.search.empty() || util::icontains(st.name, q.search)) out.items.push_back(&st);
  }
  out.total = out.items.size();
  if (q.sort == "services") {
    std::stable_sort(out.items.begin(), out.items.end(),
                     [&](const state::Stack* a, const state::Stack* b) {
                       const auto na = a->of(Kind::service).size();
                       const auto nb = b->of(Kind::service).size();
                       if (na != nb) return q.descending ? na > nb : na < nb;
                       return q.descending ? a->name > b->name : a->name < b->name;
                     });
  } else if (q.descending) {
    std::reverse(out.items.begin(), out.items.end());
  }
  page(out.items, q);
  return out;
}

}  // namespace narwhal::query
