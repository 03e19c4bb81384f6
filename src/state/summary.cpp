#include "summary.hpp"

#include <vector>

namespace narwhal::state {

namespace {

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
      }
      arrow(parts, "desired state", before->desired_state, after->desired_state);
      break;
    default: break;
  }
  if (parts.empty()) {
    if (before->labels != after->labels) return "labels changed";
    return std::string(kind_name(after->kind)) + " updated";
  }
  return join(parts);
}

}  // namespace narwhal::state
