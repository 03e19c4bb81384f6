#include "filter_fields.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "narwhal/util/text.hpp"

namespace narwhal::query::filter {

using state::Kind;
using state::Object;

std::string_view type_name(Type t) noexcept {
  switch (t) {
    case Type::null: return "null";
    case Type::boolean: return "boolean";
    case Type::number: return "number";
    case Type::string: return "string";
    case Type::list: return "list";
    case Type::map: return "map";
  }
  return "?";
}

namespace {

Value text(std::string_view s) {
  return Value{s, 0, Type::string, false};
}
Value number(double n) {
  return Value{{}, n, Type::number, false};
}
Value boolean(bool b) {
  return Value{{}, 0, Type::boolean, b};
}

template <class T>
Value optional_number(const std::optional<T>& v) {
  return v ? number(static_cast<double>(*v)) : Value{};
}

const Object* service_of(const Item& i) {
  return i.snap->table(Kind::service).find(i.object->service_id);
}

// Snapshot::tally(string_view) builds a std::string key per call; one reused buffer per thread
// keeps per-item evaluation free of allocation (service IDs are longer than the SSO buffer).
state::ServiceTally tally_of(const Item& i) {
  thread_local std::string key;
  key.assign(i.object->id);
  const auto it = i.snap->tallies->find(key);
  return it == i.snap->tallies->end() ? state::ServiceTally{} : it->second;
}

constexpr Field plain(std::string_view name, Member m) {
  return Field{name, Type::string, false, nullptr, m};
}

Value member_count(const Item& i, Kind k) {
  return number(static_cast<double>(i.stack->of(k).size()));
}

// Tables are in the order the "unknown field" message lists them.
const std::array kNode{
    plain("id", &Object::id),
    plain("name", &Object::name),
    plain("hostname", &Object::name),
    plain("state", &Object::state),
    plain("role", &Object::role),
    plain("availability", &Object::availability),
    Field{"leader", Type::boolean, false, [](const Item& i) { return boolean(i.object->leader); }},
    plain("address", &Object::address),
    plain("engine", &Object::engine_version),
    Field{"labels", Type::map, false, nullptr},
};

const std::array kService{
    plain("id", &Object::id),
    plain("name", &Object::name),
    plain("image", &Object::image),
    plain("mode", &Object::mode),
    plain("stack", &Object::stack),
    Field{"replicas", Type::number, false,
          [](const Item& i) { return number(static_cast<double>(tally_of(i).desired)); }},
    Field{"running", Type::number, false,
          [](const Item& i) { return number(static_cast<double>(tally_of(i).running)); }},
    Field{"labels", Type::map, false, nullptr},
};

const std::array kTask{
    plain("id", &Object::id),
    plain("state", &Object::state),
    plain("desired_state", &Object::desired_state),
    plain("image", &Object::image),
    Field{"exit_code", Type::number, true,
          [](const Item& i) { return optional_number(i.object->exit_code); }},
    plain("error", &Object::error),
    plain("service", &Object::service_id),
    Field{"service_name", Type::string, false,
          [](const Item& i) {
            if (!i.object->service_name.empty()) return text(i.object->service_name);
            const Object* svc = service_of(i);
            return text(svc != nullptr ? std::string_view(svc->name) : std::string_view{});
          }},
    plain("node", &Object::node_id),
    Field{"node_hostname", Type::string, false,
          [](const Item& i) {
            const Object* node = i.snap->table(Kind::node).find(i.object->node_id);
            return text(node != nullptr ? std::string_view(node->name) : std::string_view{});
          }},
    Field{"slot", Type::number, true,
          [](const Item& i) { return optional_number(i.object->slot); }},
    Field{"stack", Type::string, false,
          [](const Item& i) {
            if (!i.object->stack.empty()) return text(i.object->stack);
            const Object* svc = service_of(i);
            return text(svc != nullptr ? std::string_view(svc->stack) : std::string_view{});
          }},
    Field{"labels", Type::map, false, nullptr},
};

// Configs and secrets.
const std::array kNamed{
    plain("id", &Object::id),
    plain("name", &Object::name),
    plain("stack", &Object::stack),
    Field{"labels", Type::map, false, nullptr},
};

const std::array kNetwork{
    plain("id", &Object::id),         plain("name", &Object::name),
    plain("driver", &Object::driver), plain("scope", &Object::scope),
    plain("stack", &Object::stack),   Field{"labels", Type::map, false, nullptr},
};

const std::array kVolume{
    plain("name", &Object::name),
    plain("driver", &Object::driver),
    plain("scope", &Object::scope),
    plain("stack", &Object::stack),
    Field{"labels", Type::map, false, nullptr},
    // Volumes are identified by name; `id` reads the same, for filters shared across kinds.
    plain("id", &Object::id),
};

const std::array kStack{
    Field{"name", Type::string, false, [](const Item& i) { return text(i.stack->name); }},
    Field{"services", Type::number, false,
          [](const Item& i) { return member_count(i, Kind::service); }},
    Field{"configs", Type::number, false,
          [](const Item& i) { return member_count(i, Kind::config); }},
    Field{"secrets", Type::number, false,
          [](const Item& i) { return member_count(i, Kind::secret); }},
    Field{"networks", Type::number, false,
          [](const Item& i) { return member_count(i, Kind::network); }},
    Field{"volumes", Type::number, false,
          [](const Item& i) { return member_count(i, Kind::volume); }},
    Field{"labels", Type::map, false, nullptr},
};

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::span<const Field> fields_of(Kind kind) noexcept {
  switch (kind) {
    case Kind::node: return kNode;
    case Kind::service: return kService;
    case Kind::task: return kTask;
    case Kind::config:
    case Kind::secret: return kNamed;
    case Kind::network: return kNetwork;
    case Kind::volume: return kVolume;
    case Kind::stack: return kStack;
  }
  return {};
}

const Field* find_field(Kind kind, std::string_view name) noexcept {
  for (const Field& f : fields_of(kind)) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string_view suggest_field(Kind kind, std::string_view name) {
  std::string_view best;
  std::size_t best_distance = 3;  // more than two edits away is not a typo
  for (const Field& f : fields_of(kind)) {
    if (util::iequals(f.name, name)) return f.name;
    const std::size_t d = edit_distance(name, f.name);
    // "x" is one edit from "id" but not a typo of it.
    if (d < best_distance && d < std::max(name.size(), f.name.size()) / 2 + 1) {
      best = f.name;
      best_distance = d;
    }
  }
  return best;
}

std::string_view label_of(const Item& item, std::string_view key) noexcept {
  return item.object != nullptr ? item.object->label(key) : std::string_view{};
}

}  // namespace narwhal::query::filter
