#include "narwhal/state/store.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "narwhal/util/time.hpp"
#include "summary.hpp"

namespace narwhal::state {

bool Change::empty() const noexcept {
  return std::all_of(full.begin(), full.end(), [](const auto& f) { return !f.has_value(); }) &&
         upserts.empty() && removals.empty() && scoped_tasks.empty() && !info && !swarm;
}

namespace {

// ID → new object, or nullptr for "gone".
using Ops = std::map<std::string, ObjectPtr, std::less<>>;

bool same(const Object& a, const Object& b) {
  // Swarm objects carry a version that moves on every change; local ones must be compared.
  if (a.version != 0 && b.version != 0) return a.version == b.version;
  return a.raw == b.raw;
}

// A task carrying its service's name, and its own name as the docker CLI shows it:
// <service>.<slot> for replicated tasks, <service>.<node ID> for global ones (a copy when
// either must be added).
// A task whose service is gone (removed, its tasks still listed while they stop) keeps the names
// it had (`known`: its previous version).
ObjectPtr stamped(const ObjectPtr& task, const Table* services, const Object* known = nullptr) {
  if (services == nullptr || task->kind != Kind::task) return task;
  const Object* svc = services->find(task->service_id);
  if (svc == nullptr) {
    if (known == nullptr || known->service_name.empty() ||
        (known->service_name == task->service_name && known->name == task->name)) {
      return task;
    }
    auto copy = std::make_shared<Object>(*task);
    copy->service_name = known->service_name;
    copy->name = known->name;
    return copy;
  }
  std::string name = svc->name + "." + (task->slot ? std::to_string(*task->slot) : task->node_id);
  if (svc->name == task->service_name && name == task->name) return task;
  auto copy = std::make_shared<Object>(*task);
  copy->service_name = svc->name;
  copy->name = std::move(name);
  return copy;
}

// Merges `ops` into `old`, recording entries; returns null when nothing changed. Tasks that
// enter the table are stamped with their service's name from `services` (null: other kinds).
TablePtr merge(const Table& old, const Ops& ops, std::vector<HistoryEntry>& entries,
               std::int64_t now, const Table* services) {
  auto next = std::make_shared<Table>();
  next->items.reserve(old.items.size() + ops.size());
  bool changed = false;
  auto record = [&](const ObjectPtr& before, const ObjectPtr& after, Action action) {
    const ObjectPtr& o = after != nullptr ? after : before;
    entries.push_back(HistoryEntry{0, now, o->kind, action, o->id, o->name,
                                   summarise(before.get(), after.get()), o, before});
    changed = true;
  };
  auto oi = old.items.begin();
  auto pi = ops.begin();
  while (oi != old.items.end() || pi != ops.end()) {
    if (pi == ops.end() || (oi != old.items.end() && (*oi)->id < pi->first)) {
      next->items.push_back(*oi++);
    } else if (oi == old.items.end() || pi->first < (*oi)->id) {
      if (pi->second) {
        auto kept = stamped(pi->second, services);
        record(nullptr, kept, Action::create);
        next->items.push_back(std::move(kept));
      }
      ++pi;
    } else {  // same ID
      if (!pi->second) {
        record(*oi, nullptr, Action::remove);
      } else if (same(**oi, *pi->second)) {
        next->items.push_back(*oi);
      } else {
        auto kept = stamped(pi->second, services, oi->get());
        // A version the engine bumped without news is stored but not recorded.
        if (worth_recording(**oi, *kept)) {
          record(*oi, kept, Action::update);
        } else {
          changed = true;
        }
        next->items.push_back(std::move(kept));
      }
      ++oi;
      ++pi;
    }
  }
  if (!changed) return nullptr;
  return next;
}

std::shared_ptr<const std::unordered_map<std::string, ServiceTally>> tally(const Snapshot& s) {
  auto out = std::make_shared<std::unordered_map<std::string, ServiceTally>>();
  const Table& services = s.table(Kind::service);
  out->reserve(services.items.size());
  for (const auto& svc : services.items) {
    ServiceTally& t = (*out)[svc->id];
    if (svc->mode == "replicated" || svc->mode == "replicated-job") t.desired = svc->replicas;
  }
  for (const auto& task : s.table(Kind::task).items) {
    const auto it = out->find(task->service_id);
    if (it == out->end()) continue;
    if (task->state == "running") ++it->second.running;
    it->second.tasks_updated = std::max(it->second.tasks_updated, task->updated);
    const Object* svc = services.find(task->service_id);
    if (svc != nullptr && (svc->mode == "global" || svc->mode == "global-job") &&
        task->desired_state == "running") {
      ++it->second.desired;
    }
  }
  return out;
}

std::shared_ptr<const StackList> derive_stacks(const Snapshot& s) {
  std::map<std::string, Stack, std::less<>> by_name;
  for (const auto& svc : s.table(Kind::service).items) {
    if (svc->stack.empty()) continue;
    Stack& st = by_name[svc->stack];
    st.name = svc->stack;
  }
  for (const Kind k : {Kind::service, Kind::config, Kind::secret, Kind::network, Kind::volume}) {
    for (const auto& o : s.table(k).items) {
      if (o->stack.empty()) continue;
      const auto it = by_name.find(o->stack);
      if (it == by_name.end()) continue;  // no service carries it: not a stack
      it->second.members.at(static_cast<std::size_t>(k)).push_back(o);
      it->second.updated = std::max(it->second.updated, o->updated);
    }
  }
  auto out = std::make_shared<StackList>();
  out->reserve(by_name.size());
  for (auto& [name, st] : by_name) out->push_back(std::move(st));
  return out;
}

std::string stack_summary(const Stack* before, const Stack* after) {
  if (after == nullptr) return "stack removed";
  auto count = [](const Stack& st) {
    return std::to_string(st.of(Kind::service).size()) + " services";
  };
  if (before == nullptr) return "stack created: " + count(*after);
  if (before->of(Kind::service).size() != after->of(Kind::service).size()) {
    return "services " + std::to_string(before->of(Kind::service).size()) + " → " +
           std::to_string(after->of(Kind::service).size());
  }
  return "members changed";
}

void diff_stacks(const StackList& before, const StackList& after,
                 std::vector<HistoryEntry>& entries, std::int64_t now) {
  auto b = before.begin();
  auto a = after.begin();
  auto record = [&](const Stack* old, const Stack* cur, Action action) {
    const std::string& name = cur != nullptr ? cur->name : old->name;
    entries.push_back(
        HistoryEntry{0, now, Kind::stack, action, name, name, stack_summary(old, cur), nullptr});
  };
  while (b != before.end() || a != after.end()) {
    if (a == after.end() || (b != before.end() && b->name < a->name)) {
      record(&*b++, nullptr, Action::remove);
    } else if (b == before.end() || a->name < b->name) {
      record(nullptr, &*a++, Action::create);
    } else {
      if (!b->same_members(*a)) record(&*b, &*a, Action::update);
      ++a;
      ++b;
    }
  }
}

}  // namespace

Applied apply(const SnapshotPtr& before, const Change& change, std::int64_t now) {
  Applied out{before, {}};
  if (change.empty()) return out;
  std::array<Ops, kEngineKinds> ops;
  auto ops_of = [&](Kind k) -> Ops& { return ops.at(static_cast<std::size_t>(k)); };

  for (std::size_t k = 0; k < kEngineKinds; ++k) {
    const auto& listing = change.full.at(k);
    if (!listing) continue;
    Ops& o = ops.at(k);
    for (const auto& obj : *listing) o[obj->id] = obj;
    for (const auto& old : before->tables.at(k)->items) {
      if (!o.contains(old->id)) o[old->id] = nullptr;
    }
  }
  for (const auto& scoped : change.scoped_tasks) {
    Ops& o = ops_of(Kind::task);
    std::set<std::string_view> listed;
    for (const auto& t : scoped.tasks) {
      o[t->id] = t;
      listed.insert(t->id);
    }
    for (const auto& old : before->table(Kind::task).items) {
      const std::string& owner =
          scoped.by == Change::Scoped::By::service ? old->service_id : old->node_id;
      if (owner == scoped.id && !listed.contains(old->id)) o[old->id] = nullptr;
    }
  }
  for (const auto& obj : change.upserts) ops_of(obj->kind)[obj->id] = obj;
  for (const auto& [kind, id] : change.removals) {
    // A removed service's tasks stay: the engine lists them (desired state "remove") while their
    // containers stop, and they leave narwhal when they leave the engine's task list, once.
    ops_of(kind)[id] = nullptr;
  }

  auto next = std::make_shared<Snapshot>(*before);
  bool changed = false;
  for (std::size_t k = 0; k < kEngineKinds; ++k) {
    if (ops.at(k).empty()) continue;
    // Services merge before tasks (Kind order), so tasks see this change's services.
    const Table* services =
        k == static_cast<std::size_t>(Kind::task) ? next->tables.at(1).get() : nullptr;
    if (auto table = merge(*before->tables.at(k), ops.at(k), out.entries, now, services)) {
      next->tables.at(k) = std::move(table);
      next->generations.at(k) = next->generations.at(k) + 1;
      changed = true;
    }
  }
  auto kind_changed = [&](Kind k) { return next->generation_of(k) != before->generation_of(k); };
  if (kind_changed(Kind::service)) {
    // Tasks listed before their service was known get its name now.
    const Table& services = next->table(Kind::service);
    const Table& tasks = next->table(Kind::task);
    std::shared_ptr<Table> restamped;
    for (std::size_t i = 0; i < tasks.items.size(); ++i) {
      const auto& t = tasks.items[i];
      if (!t->service_name.empty()) continue;
      auto with_name = stamped(t, &services);
      if (with_name == t) continue;
      if (!restamped) restamped = std::make_shared<Table>(tasks);
      restamped->items[i] = std::move(with_name);
    }
    if (restamped) {
      next->tables.at(static_cast<std::size_t>(Kind::task)) = std::move(restamped);
      next->generations.at(static_cast<std::size_t>(Kind::task)) += 1;
    }
  }
  if (kind_changed(Kind::service) || kind_changed(Kind::task)) next->tallies = tally(*next);
  if (kind_changed(Kind::service) || kind_changed(Kind::config) || kind_changed(Kind::secret) ||
      kind_changed(Kind::network) || kind_changed(Kind::volume)) {
    auto stacks = derive_stacks(*next);
    diff_stacks(*before->stacks, *stacks, out.entries, now);
    next->stacks = std::move(stacks);
    // Member objects changing also changes what a stack shows.
    next->generations.at(static_cast<std::size_t>(Kind::stack)) += 1;
  }
  if (change.info) {
    std::string info = minify_object(*change.info);
    if (!info.empty() && info != *before->info) {
      next->info = std::make_shared<const std::string>(std::move(info));
      next->meta_generation += 1;
      changed = true;
    }
  }
  if (change.swarm) {
    std::string swarm = scrub_swarm(*change.swarm);
    if (!swarm.empty() && swarm != *before->swarm) {
      next->swarm = std::make_shared<const std::string>(std::move(swarm));
      next->meta_generation += 1;
      changed = true;
    }
  }
  if (!changed) return out;
  // The first state narwhal sees is its baseline, not news: a restart must not flood the
  // history, the streams and the feeds with a "created" for every object of the swarm.
  // (A swarm always has a node, so empty tables mean narwhal has not seen the engine yet.)
  const bool baseline = std::all_of(before->tables.begin(), before->tables.end(),
                                    [](const TablePtr& t) { return t->items.empty(); });
  if (baseline) out.entries.clear();
  next->generation = before->generation + 1;
  out.snapshot = std::move(next);
  return out;
}

Store::Store(std::size_t history_size)
    : current_(std::make_shared<const Snapshot>()), history_(history_size) {}

std::vector<HistoryEntry> Store::apply(const Change& change) {
  const SnapshotPtr before = current_.load();
  const std::int64_t now = util::now_micros();
  Applied applied = state::apply(before, change, now);
  const std::int64_t observed = change.observed > 0 ? std::min(change.observed, now) : now;
  for (auto& e : applied.entries) e.observed = observed;
  if (applied.snapshot != before) publish(std::move(applied.snapshot), applied.entries);
  return std::move(applied.entries);
}

void Store::set_engine(EngineState engine) {
  const SnapshotPtr before = current_.load();
  auto next = std::make_shared<Snapshot>(*before);
  next->engine = std::move(engine);
  next->meta_generation += 1;
  next->generation += 1;
  std::vector<HistoryEntry> none;
  publish(std::move(next), none);
}

void Store::set_listener(Listener listener) {
  listener_ = std::move(listener);
}

void Store::publish(SnapshotPtr next, std::vector<HistoryEntry>& entries) {
  if (!entries.empty()) history_.append(entries);
  current_.store(next);
  if (listener_) listener_(next, entries);
}

}  // namespace narwhal::state
