#include "summary.hpp"

#include <algorithm>
#include <vector>

namespace narwhal::state {

namespace {

// Label values and engine messages can be any length; a summary is one line of a feed.
constexpr std::size_t kMaxShown = 80;
// Past this many, label changes are counted rather than named.
constexpr std::size_t kMaxNamedLabels = 3;

// `s` cut to kMaxShown bytes on a UTF-8 character boundary.
std::string bounded(const std::string& s) {
  if (s.size() <= kMaxShown) return s;
  std::size_t end = kMaxShown;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0U) == 0x80U) --end;
  return s.substr(0, end) + "…";
}

void arrow(std::vector<std::string>& parts, const char* what, const std::string& a,
           const std::string& b) {
  if (a != b)
    parts.push_back(std::string(what) + " " + (a.empty() ? "none" : a) + " → " +
                    (b.empty() ? "none" : b));
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += ", ";
    out += p;
  }
  return out;
}

std::string task_state(const Object& t) {
  std::string s = t.state.empty() ? "unknown" : t.state;
  return s;
}

std::string task_detail(const Object& t) {
  std::string s;
  if (t.exit_code && *t.exit_code != 0) s += " with exit code " + std::to_string(*t.exit_code);
  if (!t.error.empty()) s += " (" + t.error + ")";
  return s;
}

// The states in which an update stopped or turned back carry the engine's reason; the others
// read as progress ("update updating → completed").
void update_status(std::vector<std::string>& parts, const Object& before, const Object& after) {
  // Every spec change resets the engine's UpdateStatus; the spec change itself is the news.
  if (before.update_state == after.update_state || after.update_state.empty()) return;
  const std::string& state = after.update_state;
  const char* phrase = nullptr;
  if (state == "paused") phrase = "update paused";
  if (state == "rollback_started") phrase = "rollback started";
  if (state == "rollback_paused") phrase = "rollback paused";
  if (phrase != nullptr) {
    std::string part = phrase;
    if (!after.update_message.empty()) part += ": " + bounded(after.update_message);
    parts.push_back(std::move(part));
  } else if (state == "updating") {
    parts.emplace_back("update started");
  } else {
    arrow(parts, "update", before.update_state, state);
  }
}

std::string shown(const std::string& value) {
  return value.empty() ? std::string("\"\"") : bounded(value);
}

// Labels arrive in the engine's member order, which says nothing: compare them by key.
void label_changes(std::vector<std::string>& parts, const Labels& before, const Labels& after) {
  if (before == after) return;
  using Label = const Labels::value_type*;
  auto by_key = [](const Labels& labels) {
    std::vector<Label> out;
    out.reserve(labels.size());
    for (const auto& l : labels) out.push_back(&l);
    std::sort(out.begin(), out.end(), [](Label x, Label y) { return x->first < y->first; });
    return out;
  };
  const std::vector<Label> b = by_key(before);
  const std::vector<Label> a = by_key(after);
  std::size_t changes = 0;
  auto note = [&](std::string part) {
    if (++changes <= kMaxNamedLabels) parts.push_back(std::move(part));
  };
  auto bi = b.begin();
  auto ai = a.begin();
  while (bi != b.end() || ai != a.end()) {
    if (ai == a.end() || (bi != b.end() && (*bi)->first < (*ai)->first)) {
      note("label " + bounded((*bi++)->first) + " removed");
    } else if (bi == b.end() || (*ai)->first < (*bi)->first) {
      note("label " + bounded((*ai++)->first) + " added");
    } else {
      if ((*bi)->second != (*ai)->second) {
        note("label " + bounded((*ai)->first) + ": " + shown((*bi)->second) + " → " +
             shown((*ai)->second));
      }
      ++bi;
      ++ai;
    }
  }
  if (changes > kMaxNamedLabels) {
    const std::size_t more = changes - kMaxNamedLabels;
    parts.push_back("and " + std::to_string(more) + (more == 1 ? " more label" : " more labels") +
                    " changed");
  }
}

}  // namespace

std::string summarise(const Object* before, const Object* after) {
  if (before == nullptr && after == nullptr) return {};
  if (after == nullptr) return std::string(kind_name(before->kind)) + " removed";
  if (before == nullptr) {
    if (after->kind == Kind::task)
      return "task created: " + task_state(*after) + task_detail(*after);
    if (after->kind == Kind::service && after->mode == "replicated") {
      return "service created: " + std::to_string(after->replicas) +
             (after->replicas == 1 ? " replica of " : " replicas of ") + after->image;
    }
    return std::string(kind_name(after->kind)) + " created";
  }
  std::vector<std::string> parts;
  switch (after->kind) {
    case Kind::service:
      if (before->replicas != after->replicas) {
        parts.push_back("replicas " + std::to_string(before->replicas) + " → " +
                        std::to_string(after->replicas));
      }
      arrow(parts, "image", before->image, after->image);
      arrow(parts, "mode", before->mode, after->mode);
      update_status(parts, *before, *after);
      break;
    case Kind::node:
      arrow(parts, "state", before->state, after->state);
      arrow(parts, "availability", before->availability, after->availability);
      arrow(parts, "role", before->role, after->role);
      if (before->leader != after->leader)
        parts.push_back(after->leader ? "became leader" : "lost leadership");
      break;
    case Kind::task:
      if (before->state != after->state) {
        parts.push_back("state " + task_state(*before) + " → " + task_state(*after) +
                        task_detail(*after));
      } else if (before->error != after->error && !after->error.empty()) {
        // A pending task's reason can change while its state stays ("no suitable node …").
        parts.push_back("error: " + bounded(after->error));
      }
      if (before->state == after->state && before->exit_code != after->exit_code &&
          after->exit_code) {
        // The container's exit is recorded a moment after the state moved.
        parts.push_back("exit code " + std::to_string(*after->exit_code));
      }
      arrow(parts, "desired state", before->desired_state, after->desired_state);
      if (before->container_id != after->container_id && !after->container_id.empty()) {
        parts.push_back("container " + after->container_id.substr(0, 12));
      }
      break;
    default: break;
  }
  label_changes(parts, before->labels, after->labels);
  if (parts.empty()) return std::string(kind_name(after->kind)) + " updated";
  return join(parts);
}

bool worth_recording(const Object& before, const Object& after) {
  if (after.kind != Kind::task) return true;
  return before.state != after.state || before.desired_state != after.desired_state ||
         before.error != after.error || before.exit_code != after.exit_code ||
         before.node_id != after.node_id || before.container_id != after.container_id ||
         before.slot != after.slot || before.service_id != after.service_id ||
         before.image != after.image || before.nano_cpus != after.nano_cpus ||
         before.memory_bytes != after.memory_bytes || before.stack != after.stack ||
         before.labels != after.labels;
}

}  // namespace narwhal::state
