#include "narwhal/query/list_query.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <vector>

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

// An object's value of a §4 sort field, resolved once before sorting: comparisons then cost a
// string or number compare, not a lookup of the service or node (or of the field's name) each.
struct SortKey {
  std::string_view text;
  std::int64_t number = 0;
  const Object* object = nullptr;
};

enum class Field : std::uint8_t { text, number };

// Fills `key` for `o`; the kind of value the field has.
Field key_of(const state::Snapshot& snap, Kind kind, std::string_view field, const Object& o,
             SortKey& key) {
  key.object = &o;
  auto text = [&](std::string_view v) {
    key.text = v;
    return Field::text;
  };
  auto number = [&](std::int64_t v) {
    key.number = v;
    return Field::number;
  };
  if (field.empty() || field == "name" || field == "hostname") return text(o.name);
  switch (kind) {
    case Kind::node:
      if (field == "role") return text(o.role);
      if (field == "status") return text(o.state);
      if (field == "availability") return text(o.availability);
      break;
    case Kind::service:
      if (field == "mode") return text(o.mode);
      if (field == "replicas") return number(static_cast<std::int64_t>(snap.tally(o.id).desired));
      break;
    case Kind::task:
      if (field == "state") return text(o.state);
      if (field == "service") {
        // Stamped by the store; a task listed before its service falls back to the ID.
        if (!o.service_name.empty()) return text(o.service_name);
        const auto* svc = snap.table(Kind::service).find(o.service_id);
        return text(svc ? std::string_view(svc->name) : std::string_view(o.service_id));
      }
      if (field == "node") {
        const auto* node = snap.table(Kind::node).find(o.node_id);
        return text(node ? std::string_view(node->name) : std::string_view(o.node_id));
      }
      if (field == "slot") return number(static_cast<std::int64_t>(o.slot.value_or(0)));
      if (field == "created") return number(o.created);
      break;
    default:
      if (field == "created") return number(o.created);
      if (field == "updated") return number(o.updated);
      if (field == "driver") return text(o.driver);
      if (field == "scope") return text(o.scope);
      break;
  }
  return text({});
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
    // A node's or service's lookup per comparison made sorting 100 000 tasks by service take
    // 1.6 s; keys resolved once, and a partial sort of just the rows up to the page's end, cost
    // what sorting by a number costs.
    std::vector<SortKey> keys(out.items.size());
    Field type = Field::text;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      type = key_of(snap, kind, q.sort, *out.items[i], keys[i]);
    }
    const bool desc = q.descending;
    auto before = [type, desc](const SortKey& a, const SortKey& b) {
      const int c = type == Field::number
                        ? (a.number < b.number ? -1 : (b.number < a.number ? 1 : 0))
                        : a.text.compare(b.text);
      if (c != 0) return desc ? c > 0 : c < 0;
      // Ties by ID: a total order, so pages are stable.
      return desc ? a.object->id > b.object->id : a.object->id < b.object->id;
    };
    const std::size_t wanted = std::min(keys.size(), q.offset + q.limit);
    if (wanted < keys.size() / 2) {
      std::partial_sort(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(wanted),
                        keys.end(), before);
      keys.resize(wanted);
    } else {
      std::sort(keys.begin(), keys.end(), before);
    }
    out.items.resize(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) out.items[i] = keys[i].object;
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
