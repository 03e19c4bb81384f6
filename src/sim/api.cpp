#include "api.hpp"

#include <chrono>
#include <optional>
#include <utility>

#include "json.hpp"

namespace narwhal::sim {

namespace {

// Older versions get dockerd's plain-text 400. This is Docker 20.10's floor; newer releases raised
// theirs to 1.24 (which /version reports), but no client of narwhal's age asks for either.
constexpr std::string_view kOldestApiVersion = "1.12";

struct VersionedPath {
  std::optional<std::string_view> version;
  std::string_view path;
};

// "/v1.45/services" -> {"1.45", "/services"}; paths without a prefix are left as they are.
VersionedPath split_version(std::string_view path) {
  if (path.size() < 3 || path[0] != '/' || path[1] != 'v') return {std::nullopt, path};
  const auto slash = path.find('/', 2);
  const std::string_view version =
      path.substr(2, slash == std::string_view::npos ? slash : slash - 2);
  if (version.empty()) return {std::nullopt, path};
  for (char c : version) {
    if ((c < '0' || c > '9') && c != '.') return {std::nullopt, path};
  }
  return {version, slash == std::string_view::npos ? std::string_view("/") : path.substr(slash)};
}

// dockerd's answer on a node that left the swarm (or is a worker), word for word.
constexpr std::string_view kNotManager =
    "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to "
    "connect this node to swarm and try again.";

// The endpoints only a swarm manager serves; networks, volumes, /info and events stay local.
bool needs_manager(std::string_view path) {
  for (std::string_view p : {"/nodes", "/services", "/tasks", "/configs", "/secrets", "/swarm"}) {
    if (path.starts_with(p) && (path.size() == p.size() || path[p.size()] == '/')) return true;
  }
  return false;
}

// Cut before the end: any strict prefix of a JSON object or array is malformed.
std::string garble(const std::string& body) {
  return body.substr(0, body.size() > 2 ? body.size() / 2 : 1);
}

}  // namespace

Reply error_reply(int status, std::string_view message) {
  Reply reply;
  reply.status = status;
  reply.body = message_body(message);
  return reply;
}

void Api::handle(const httplib::Request& req, httplib::Response& res) {
  const auto [version, path] = split_version(req.path);
  if (version) {
    if (compare_api_versions(*version, ctx_.identity.api_version) > 0) {
      const Reply r = error_reply(400, "client version " + std::string(*version) +
                                           " is too new. Maximum supported API version is " +
                                           ctx_.identity.api_version);
      res.status = r.status;
      res.set_content(r.body, r.content_type);
      return;
    }
    if (compare_api_versions(*version, kOldestApiVersion) < 0) {
      res.status = 400;
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_content("client version " + std::string(*version) +
                          " is too old. Minimum supported API version is " +
                          std::string(kOldestApiVersion) +
                          ", please upgrade your client to a newer version\n",
                      "text/plain; charset=utf-8");
      return;
    }
  }
  ctx_.faults.wait_while_frozen();
  const Faults faults = ctx_.faults.get();
  if (faults.delay.count() > 0) ctx_.faults.sleep(faults.delay);
  if (faults.not_manager && needs_manager(path)) {
    const Reply r = error_reply(503, kNotManager);
    res.status = r.status;
    res.set_content(r.body, r.content_type);
    return;
  }
  if (path == "/events" && req.method == "GET") {
    stream_events(req, res);
    return;
  }
  Reply reply = faults.status_code != 0 ? error_reply(faults.status_code, "injected fault")
                                        : route(req, path);
  if (reply.data && reply.status == 200 && ctx_.faults.get().garbage) {
    reply.body = garble(reply.body);
  }
  if (path == "/_ping") {
    res.set_header("Cache-Control", "no-cache, no-store, must-revalidate");
    res.set_header("Pragma", "no-cache");
  }
  res.status = reply.status;
  res.set_content(reply.body, reply.content_type);
}

Reply Api::route(const httplib::Request& req, std::string_view path) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (!get) return error_reply(404, "page not found");
  if (path == "/_ping") {
    return Reply{200, "OK", false, "text/plain; charset=utf-8"};
  }
  if (path == "/version") return Reply{200, version_body(ctx_.identity)};
  if (path == "/info") {
    std::lock_guard lock(ctx_.model_mutex);
    return Reply{200, info_body(ctx_.swarm, ctx_.identity, now_nanos()), true};
  }
  if (path == "/swarm") {
    std::lock_guard lock(ctx_.model_mutex);
    return Reply{200, swarm_body(ctx_.swarm), true};
  }
  static constexpr std::string_view kKinds[] = {"nodes",   "services", "tasks",  "configs",
                                                "secrets", "networks", "volumes"};
  for (std::string_view kind : kKinds) {
    if (!path.starts_with("/") || path.substr(1, kind.size()) != kind) continue;
    std::string_view rest = path.substr(1 + kind.size());
    if (rest.empty() || rest == "/") return list(kind, req);
    if (rest[0] != '/') continue;
    rest.remove_prefix(1);
    if (rest.find('/') != std::string_view::npos) break;
    return inspect(kind, rest);
  }
  return error_reply(404, "page not found");
}

}  // namespace narwhal::sim
