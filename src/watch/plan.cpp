#include "narwhal/watch/plan.hpp"

#include "narwhal/util/text.hpp"

namespace narwhal::watch {

using state::Kind;

bool add_to_plan(const engine::Event& ev, Plan& plan) {
  const std::string& id = ev.actor_id;
  if (ev.type == "service") {
    plan.reread.emplace(Kind::service, id);
    plan.service_tasks.insert(id);
  } else if (ev.type == "node") {
    plan.reread.emplace(Kind::node, id);
    plan.node_tasks.insert(id);
  } else if (ev.type == "config") {
    plan.reread.emplace(Kind::config, id);
  } else if (ev.type == "secret") {
    plan.reread.emplace(Kind::secret, id);
  } else if (ev.type == "network") {
    // connect/disconnect only change local attachments, which listings don't show.
    if (ev.action == "connect" || ev.action == "disconnect") return false;
    plan.reread.emplace(Kind::network, id);
    if (ev.scope != "local") plan.swarm_scoped.insert(id);
  } else if (ev.type == "volume") {
    if (ev.action == "mount" || ev.action == "unmount") return false;
    plan.reread.emplace(Kind::volume, id);
  } else if (ev.type == "container") {
    // Tasks have no events of their own: a swarm task's container speaks for it.
    const auto task = ev.attribute("com.docker.swarm.task.id");
    if (task.empty()) return false;
    if (ev.action.starts_with("exec_") || ev.action == "top" || ev.action == "attach" ||
        ev.action == "resize") {
      return false;
    }
    plan.reread.emplace(Kind::task, std::string(task));
    // A dead task is replaced by a new one that has no container here yet.
    if (const auto svc = ev.attribute("com.docker.swarm.service.id"); !svc.empty()) {
      plan.service_tasks.emplace(svc);
    }
  } else {
    return false;
  }
  return true;
}

std::string events_query(std::int64_t since_nano) {
  std::string q =
      "filters=" +
      util::percent_encode(
          R"({"type":["service","node","config","secret","network","volume","container"]})");
  if (since_nano > 0) {
    const std::int64_t secs = since_nano / 1'000'000'000;
    const std::int64_t nanos = since_nano % 1'000'000'000;
    std::string frac = std::to_string(nanos);
    frac.insert(0, 9 - frac.size(), '0');
    q += "&since=" + std::to_string(secs) + "." + frac;
  }
  return q;
}

namespace {
// {"<key>":["<value>"]}, percent-encoded for a query string.
std::string filter_json(std::string_view key, std::string_view value) {
  std::string json = "{";
  util::append_json_string(json, key);
  json += ":[";
  util::append_json_string(json, value);
  json += "]}";
  return util::percent_encode(json);
}
}  // namespace

std::string list_path(Kind kind) {
  return "/" + std::string(state::kind_collection(kind));
}

std::string read_path(Kind kind, const std::string& id) {
  // Networks and volumes are read through their listings, filtered: their inspect bodies carry
  // node-local details the listings lack, and mixing both would make every resync a change.
  if (kind == Kind::network) return "/networks?filters=" + filter_json("id", id);
  if (kind == Kind::volume) return "/volumes?filters=" + filter_json("name", id);
  return list_path(kind) + "/" + util::percent_encode(id);
}

std::string tasks_of_path(bool by_service, const std::string& id) {
  return "/tasks?filters=" + filter_json(by_service ? "service" : "node", id);
}

}  // namespace narwhal::watch
