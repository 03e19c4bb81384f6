#include "narwhal/state/snapshot.hpp"

#include <algorithm>

namespace narwhal::state {

namespace {
bool id_less(const ObjectPtr& o, std::string_view id) {
  return o->id < id;
}
}  // namespace

const Object* Table::find(std::string_view id) const noexcept {
  const auto it = std::lower_bound(items.begin(), items.end(), id, id_less);
  if (it != items.end() && (*it)->id == id) return it->get();
  return nullptr;
}

ObjectPtr Table::get(std::string_view id) const noexcept {
  const auto it = std::lower_bound(items.begin(), items.end(), id, id_less);
  if (it != items.end() && (*it)->id == id) return *it;
  return nullptr;
}

Table::Lookup Table::lookup(std::string_view key) const {
  Lookup out;
  if (key.empty()) return out;
  if (const Object* exact = find(key)) {
    out.found = exact;
    return out;
  }
  for (const auto& o : items) {
    if (!o->name.empty() && o->name == key) out.candidates.push_back(o.get());
  }
  if (out.candidates.size() == 1) {
    out.found = out.candidates.front();
    out.candidates.clear();
    return out;
  }
  if (!out.candidates.empty()) return out;
  for (auto it = std::lower_bound(items.begin(), items.end(), key, id_less);
       it != items.end() && std::string_view((*it)->id).starts_with(key); ++it) {
    out.candidates.push_back(it->get());
  }
  if (out.candidates.size() == 1) {
    out.found = out.candidates.front();
    out.candidates.clear();
  }
  return out;
}

bool Stack::same_members(const Stack& other) const noexcept {
  for (std::size_t k = 0; k < kEngineKinds; ++k) {
    const auto& a = members.at(k);
    const auto& b = other.members.at(k);
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (a[i]->id != b[i]->id) return false;
    }
  }
  return true;
}

Snapshot::Snapshot()
    : tallies(std::make_shared<const std::unordered_map<std::string, ServiceTally>>()),
      stacks(std::make_shared<const StackList>()),
      info(std::make_shared<const std::string>("{}")),
      swarm(std::make_shared<const std::string>("{}")) {
  static const TablePtr empty = std::make_shared<const Table>();
  tables.fill(empty);
}

ServiceTally Snapshot::tally(std::string_view service_id) const {
  const auto it = tallies->find(std::string(service_id));
  return it == tallies->end() ? ServiceTally{} : it->second;
}

const Stack* Snapshot::stack(std::string_view name) const {
  const auto it = std::lower_bound(stacks->begin(), stacks->end(), name,
                                   [](const Stack& s, std::string_view n) { return s.name < n; });
  if (it != stacks->end() && it->name == name) return &*it;
  return nullptr;
}

}  // namespace narwhal::state
