#include "follow_up.hpp"

#include <algorithm>

namespace narwhal::watch {

using state::Kind;

namespace {

// States a task passes through before its container runs.
bool before_running(std::string_view s) {
  return s == "new" || s == "pending" || s == "assigned" || s == "accepted" || s == "preparing" ||
         s == "ready" || s == "starting";
}

}  // namespace

void FollowUps::note_event(const engine::Event& ev, const state::Snapshot& snap) {
  if (ev.type == "service") {
    services_[ev.actor_id] = Service{};
    return;
  }
  if (ev.type != "container") return;
  const auto task_id = ev.attribute("com.docker.swarm.task.id");
  if (task_id.empty()) return;
  Task t;
  if (ev.action == "start") {
    t.expect = Expect::running;
  } else if (ev.action == "die" || ev.action == "kill" || ev.action == "stop" ||
             ev.action == "oom") {
    t.expect = Expect::stopped;
  }
  if (const state::Object* known = snap.table(Kind::task).find(task_id)) t.version = known->version;
  tasks_[std::string(task_id)] = t;
}

bool FollowUps::caught_up(const Task& t, const state::Object* task) {
  if (task == nullptr) return true;  // gone: nothing left to wait for
  switch (t.expect) {
    case Expect::running: return !before_running(task->state);
    case Expect::stopped: return task->state != "running" && !before_running(task->state);
    case Expect::moved: return task->version > t.version;
  }
  return true;
}

bool FollowUps::settled(const state::Snapshot& snap, const std::string& service_id) {
  const bool exists = snap.table(Kind::service).find(service_id) != nullptr;
  for (const auto& task : snap.table(Kind::task).items) {
    if (task->service_id != service_id) continue;
    if (!exists) return false;  // a removed service's tasks are still listed: wait for them to go
    const bool wants_running = task->desired_state == "running";
    if (wants_running != (task->state == "running")) return false;
  }
  return true;
}

void FollowUps::after_execute(const state::Snapshot& snap, Clock::time_point now) {
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    Task& t = it->second;
    if (t.due) {
      ++it;
      continue;
    }
    if (caught_up(t, snap.table(Kind::task).find(it->first)) ||
        t.tries >= static_cast<int>(kTaskDelays.size())) {
      it = tasks_.erase(it);
      continue;
    }
    t.due = now + kTaskDelays.at(static_cast<std::size_t>(t.tries++));
    ++it;
  }
  for (auto it = services_.begin(); it != services_.end();) {
    Service& s = it->second;
    if (s.due) {
      ++it;
      continue;
    }
    if (settled(snap, it->first) || s.tries >= static_cast<int>(kServiceDelays.size())) {
      it = services_.erase(it);
      continue;
    }
    s.due = now + kServiceDelays.at(static_cast<std::size_t>(s.tries++));
    ++it;
  }
}

std::optional<FollowUps::Clock::time_point> FollowUps::next_due() const {
  std::optional<Clock::time_point> first;
  auto consider = [&](const std::optional<Clock::time_point>& due) {
    if (due && (!first || *due < *first)) first = due;
  };
  for (const auto& [id, t] : tasks_) consider(t.due);
  for (const auto& [id, s] : services_) consider(s.due);
  return first;
}

bool FollowUps::take_due(Clock::time_point now, Plan& plan) {
  bool any = false;
  for (auto& [id, t] : tasks_) {
    if (t.due && *t.due <= now) {
      t.due.reset();
      plan.reread.emplace(Kind::task, id);
      any = true;
    }
  }
  for (auto& [id, s] : services_) {
    if (s.due && *s.due <= now) {
      s.due.reset();
      plan.service_tasks.insert(id);
      any = true;
    }
  }
  return any;
}

}  // namespace narwhal::watch
