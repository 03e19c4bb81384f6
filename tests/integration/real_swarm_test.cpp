// narwhal against a real Docker engine in swarm mode (tests/support/dockerd.sh, see
// shared/REAL-DOCKERD.md). One dockerd and one narwhal serve every scenario; the scenarios run in
// file order and build on each other (objects created in b are scaled in c, killed in d, removed
// in e). Every wait is a bounded poll; nothing is proven by sleeping.
//
// Needs root, docker.io and busybox-static. NARWHAL_BIN and NARWHAL_DOCKERD_SH name the binary and
// the script (meson sets both). Without them, or without a working dockerd, every test fails with
// the reason — it never passes silently.

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <utility>

#include "swarm_fixture.hpp"

namespace {

using namespace narwhal::itest;

constexpr auto kReadyBudget = 30s;    // narwhal's first full sync
constexpr auto kConverge = 20s;       // a swarm change shows in narwhal
constexpr auto kRestartBudget = 60s;  // back to ready after a daemon restart
constexpr auto kReadyGrace = 1s;      // --ready-grace given to narwhal
constexpr auto kDaemonDown = 3s;      // how long restart-daemon keeps dockerd down (> grace)

TEST_CASE("real swarm a: narwhal becomes ready and shows the manager node") {
  Swarm& s = require_swarm();
  std::string last;
  const auto t0 = Clock::now();
  const bool ready = eventually(s, kReadyBudget, last, [&] {
    const auto r = get(s, "/-/ready");
    last = r.describe();
    return r.status == 200;
  });
  REQUIRE_MESSAGE(ready, "/-/ready never answered 200: " << last);
  MESSAGE("narwhal ready " << Swarm::ms_since(t0) << " ms after spawn");

  const auto nodes = get(s, "/nodes");
  REQUIRE_MESSAGE(nodes.status == 200, nodes.describe());
  REQUIRE_MESSAGE(nodes.json_ok, nodes.describe());
  CHECK(nodes.content_type.rfind("application/json", 0) == 0);
  CHECK(str_at(nodes.json, "/@context") == "/api/context.jsonld");
  CHECK(str_at(nodes.json, "/@id") == "/nodes");
  CHECK(str_at(nodes.json, "/@type") == "Collection");
  CHECK(int_at(nodes.json, "/total") == 1);
  CHECK(int_at(nodes.json, "/limit") == 50);
  CHECK(int_at(nodes.json, "/offset") == 0);
  const auto items = items_of(nodes);
  REQUIRE_MESSAGE(items.size() == 1, nodes.describe());
  CHECK(str_at(*items[0], "/@id") == "/nodes/" + s.node_id);
  CHECK(str_at(*items[0], "/@type") == "Node");
  CHECK(str_at(*items[0], "/ID") == s.node_id);
  CHECK(str_at(*items[0], "/Description/Hostname") == s.hostname);
  CHECK(str_at(*items[0], "/Spec/Role") == "manager");

  const auto node = get(s, "/nodes/" + s.node_id);
  CHECK_MESSAGE(node.status == 200, node.describe());
  CHECK(str_at(node.json, "/Description/Hostname") == s.hostname);

  const auto sw = get(s, "/swarm");
  REQUIRE_MESSAGE(sw.status == 200, sw.describe());
  REQUIRE(sw.json_ok);
  CHECK_FALSE(str_at(sw.json, "/ID").empty());
  CHECK_MESSAGE(at(sw.json, "/JoinTokens") == nullptr, "join tokens leaked: " << sw.body);
  CHECK_FALSE(sw.body.find("SWMTKN-") != std::string::npos);

  const auto cluster = get(s, "/cluster");
  CHECK_MESSAGE(cluster.status == 200, cluster.describe());
  CHECK(cluster.json_ok);
}

TEST_CASE("real swarm: bad input gives problems") {
  Swarm& s = require_swarm();
  const auto missing = get(s, "/services/doesnotexist");
  CHECK_MESSAGE(is_problem(missing, 404), missing.describe());
  CHECK_MESSAGE(str_at(missing.json, "/detail").find("doesnotexist") != std::string::npos,
                missing.describe());
  CHECK(str_at(missing.json, "/instance") == "/services/doesnotexist");

  const auto task = get(s, "/tasks/abc");
  CHECK_MESSAGE(is_problem(task, 404), task.describe());

  const auto limit = get(s, "/nodes?limit=abc");
  CHECK_MESSAGE(is_problem(limit, 400), limit.describe());
  CHECK_MESSAGE(str_at(limit.json, "/detail").find("limit") != std::string::npos, limit.describe());

  const auto offset = get(s, "/services?offset=-1");
  CHECK_MESSAGE(is_problem(offset, 400), offset.describe());
}

TEST_CASE("real swarm b: objects, services and their cross-references") {
  Swarm& s = require_swarm();
  s.config_id = docker_ok(
      s, {"config", "create", "--label", "com.docker.stack.namespace=shop", "shop_conf", "-"},
      "listen 80\n");
  s.secret_id = docker_ok(s, {"secret", "create", "app_secret", "-"}, "s3cret-value\n");
  s.network_id = docker_ok(s, {"network", "create", "-d", "overlay", "appnet"});
  CHECK(docker_ok(s, {"volume", "create", "appvol"}) == "appvol");
  const auto t0 = Clock::now();
  s.web_id = docker_ok(s, {"service",         "create",
                           "--detach",        "--quiet",
                           "--name",          "web",
                           "--replicas",      "2",
                           "--stop-signal",   "KILL",
                           "--restart-delay", "1s",
                           "--config",        "source=shop_conf,target=/conf",
                           "--secret",        "app_secret",
                           "--network",       "appnet",
                           "--mount",         "type=volume,source=appvol,target=/data",
                           "--label",         "com.docker.stack.namespace=shop",
                           "tiny:latest",     "/busybox",
                           "sleep",           "1000"});
  s.bad_id = docker_ok(s, {"service", "create", "--detach", "--quiet", "--name", "bad",
                           "busybox:latest", "sleep", "1000"});
  const auto deadline = Clock::now() + kConverge;
  std::string last;

  // The service, by name, with its status.
  const bool web_up = eventually(s, left(deadline), last, [&] {
    const auto r = get(s, "/services/web");
    last = r.describe();
    return r.status == 200 && int_at(r.json, "/serviceStatus/runningTasks") == 2 &&
           int_at(r.json, "/serviceStatus/desiredTasks") == 2;
  });
  REQUIRE_MESSAGE(web_up, "web never showed 2/2 running: " << last);
  MESSAGE("web 2/2 running in narwhal " << Swarm::ms_since(t0) << " ms after service create");
  const auto web = get(s, "/services/web");
  CHECK(str_at(web.json, "/@id") == "/services/" + s.web_id);
  CHECK(str_at(web.json, "/@type") == "Service");
  CHECK(str_at(web.json, "/ID") == s.web_id);
  CHECK(str_at(web.json, "/Spec/Name") == "web");
  CHECK(int_at(web.json, "/Version/Index").has_value());
  CHECK_MESSAGE(web.header("Content-Location") == "/services/" + s.web_id, web.describe());
  const auto by_prefix = get(s, "/services/" + s.web_id.substr(0, 6));
  CHECK_MESSAGE(by_prefix.status == 200, by_prefix.describe());
  CHECK(str_at(by_prefix.json, "/ID") == s.web_id);

  // Its tasks: running, named, placed, and the same ones the engine runs.
  CHECK_MESSAGE(eventually(s, left(deadline), last,
                           [&] { return service_converged(s, s.web_id, "web", 2, last); }),
                last);
  const auto rows = task_rows(s, "/services/" + s.web_id + "/tasks", last);
  REQUIRE_MESSAGE(rows.has_value(), last);
  std::string running_task;
  for (const auto& t : *rows) {
    if (t.state != "running") continue;
    running_task = t.id;
    CHECK_MESSAGE(t.service_name == "web", t.json);
    CHECK_MESSAGE(t.node_hostname == s.hostname, t.json);
    CHECK_MESSAGE(t.at_id == "/tasks/" + t.id, t.json);
    CHECK_MESSAGE(t.type == "Task", t.json);
  }
  REQUIRE(!running_task.empty());
  const auto task = get(s, "/tasks/" + running_task);
  REQUIRE_MESSAGE(task.status == 200, task.describe());
  const auto* service_ref = at(task.json, "/service");
  const auto* node_ref = at(task.json, "/node");
  CHECK_MESSAGE(
      (service_ref != nullptr && is_ref(*service_ref, "/services/" + s.web_id, s.web_id, "web")),
      task.describe());
  CHECK_MESSAGE(
      (node_ref != nullptr && is_ref(*node_ref, "/nodes/" + s.node_id, s.node_id, s.hostname)),
      task.describe());
  const auto on_node = get(s, "/nodes/" + s.node_id + "/tasks?limit=200");
  CHECK_MESSAGE(on_node.status == 200, on_node.describe());
  CHECK_MESSAGE(mentions(on_node.json, running_task), on_node.describe());

  // What the service uses knows it is used.
  for (const auto& [path, id] :
       {std::pair{std::string("/configs/shop_conf"), s.config_id},
        std::pair{std::string("/secrets/app_secret"), s.secret_id},
        std::pair{std::string("/networks/appnet"), s.network_id},
        std::pair{std::string("/volumes/appvol"), std::string("appvol")}}) {
    const bool used = eventually(s, left(deadline), last, [&] {
      const auto r = get(s, path);
      last = r.describe();
      return r.status == 200 && used_by_service(r, s.web_id, "web");
    });
    CHECK_MESSAGE(used, path << " does not list web in usedBy: " << last);
    const auto r = get(s, path);
    const auto kind = path.substr(0, path.find('/', 1));
    CHECK_MESSAGE(str_at(r.json, "/@id") == kind + "/" + id, r.describe());
  }
  const auto secret = get(s, "/secrets/app_secret");
  CHECK_MESSAGE(at(secret.json, "/Data") == nullptr, secret.describe());
  CHECK_MESSAGE(at(secret.json, "/Spec/Data") == nullptr, secret.describe());
  CHECK(secret.body.find("czNjcmV0") == std::string::npos);  // base64 of the secret's value

  // The unpullable image: rejected tasks, nothing running.
  const bool rejected = eventually(s, left(deadline), last, [&] {
    const auto bad_rows = task_rows(s, "/services/bad/tasks?limit=200", last);
    if (!bad_rows) return false;
    return std::any_of(bad_rows->begin(), bad_rows->end(), [](const TaskRow& t) {
      return t.state == "rejected" && t.service_name == "bad";
    });
  });
  CHECK_MESSAGE(rejected, "no rejected task for bad: " << last);
  const auto bad = get(s, "/services/bad");
  CHECK(int_at(bad.json, "/serviceStatus/runningTasks") == 0);
  CHECK(int_at(bad.json, "/serviceStatus/desiredTasks") == 1);

  // The stack derived from the label.
  const bool stack = eventually(s, left(deadline), last, [&] {
    const auto r = get(s, "/stacks/shop");
    last = r.describe();
    return r.status == 200 && mentions(r.json, s.web_id) && mentions(r.json, s.config_id);
  });
  CHECK_MESSAGE(stack, "/stacks/shop does not list web and shop_conf: " << last);
  const auto shop = get(s, "/stacks/shop");
  CHECK(str_at(shop.json, "/@id") == "/stacks/shop");
  CHECK(str_at(shop.json, "/@type") == "Stack");
  CHECK_FALSE(mentions(shop.json, s.bad_id));

  // Listing, search and paging.
  const auto all = get(s, "/services");
  CHECK(int_at(all.json, "/total") == 2);
  const auto found = get(s, "/services?search=WE");
  CHECK_MESSAGE(int_at(found.json, "/total") == 1, found.describe());
  const auto found_items = items_of(found);
  CHECK((found_items.size() == 1 && str_at(*found_items[0], "/ID") == s.web_id));
  const auto page = get(s, "/services?limit=1&offset=1");
  CHECK_MESSAGE(int_at(page.json, "/total") == 2, page.describe());
  CHECK(int_at(page.json, "/limit") == 1);
  CHECK(int_at(page.json, "/offset") == 1);
  CHECK(items_of(page).size() == 1);
}

TEST_CASE("real swarm c: scale and update") {
  Swarm& s = require_swarm();
  REQUIRE_MESSAGE(!s.web_id.empty(), "scenario b did not create web");
  std::string last;
  docker_ok(s, {"service", "scale", "--detach", "web=3"});
  CHECK_MESSAGE(eventually(s, kConverge, last,
                           [&] { return service_converged(s, s.web_id, "web", 3, last); }),
                "web never converged to 3 running: " << last);

  const auto before = int_at(get(s, "/services/web").json, "/Version/Index");
  REQUIRE(before.has_value());
  const auto t0 = Clock::now();
  docker_ok(s, {"service", "update", "--detach", "--update-parallelism", "0", "--image",
                "tiny:latest", "--env-add", "X=1", "web"});
  const bool updated = eventually(s, kConverge, last, [&] {
    const auto r = get(s, "/services/web");
    last = r.describe();
    const auto* env = at(r.json, "/Spec/TaskTemplate/ContainerSpec/Env");
    return int_at(r.json, "/Version/Index") > before && env != nullptr && mentions(*env, "X=1");
  });
  CHECK_MESSAGE(updated, "web's Version.Index did not grow past " << *before << ": " << last);
  // Converged: three running tasks, all of the new spec.
  const bool rolled = eventually(s, 2 * kConverge, last, [&] {
    if (!service_converged(s, s.web_id, "web", 3, last)) return false;
    const auto r = get(s, "/services/" + s.web_id + "/tasks?limit=200");
    for (const auto* t : items_of(r)) {
      const auto* env = at(*t, "/Spec/ContainerSpec/Env");
      if (str_at(*t, "/Status/State") == "running" && (env == nullptr || !mentions(*env, "X=1"))) {
        last = "running task of the old spec: " + to_json(*t);
        return false;
      }
    }
    return true;
  });
  CHECK_MESSAGE(rolled, "the update did not converge to 3 running new tasks: " << last);
  MESSAGE("update converged in narwhal " << Swarm::ms_since(t0) << " ms after service update");
}

TEST_CASE("real swarm d: a killed task is replaced") {
  Swarm& s = require_swarm();
  REQUIRE_MESSAGE(!s.web_id.empty(), "scenario b did not create web");
  const auto containers = split_lines(
      docker_ok(s, {"ps", "-q", "--filter", "label=com.docker.swarm.service.name=web"}));
  REQUIRE_MESSAGE(!containers.empty(), "no running container of web");
  const auto container = containers.front();
  const auto task_id = docker_ok(
      s,
      {"inspect", "--format", "{{index .Config.Labels \"com.docker.swarm.task.id\"}}", container});
  REQUIRE(!task_id.empty());
  std::string last;
  REQUIRE_MESSAGE(eventually(s, kConverge, last,
                             [&] {
                               const auto r = get(s, "/tasks/" + task_id);
                               last = r.describe();
                               return str_at(r.json, "/Status/State") == "running";
                             }),
                  "the task to kill is not running in narwhal: " << last);

  const auto t0 = Clock::now();
  docker_ok(s, {"kill", container});
  const bool left_running = eventually(s, kConverge, last, [&] {
    const auto r = get(s, "/tasks/" + task_id);
    last = r.describe();
    const auto state = str_at(r.json, "/Status/State");
    return r.status == 200 && (state == "failed" || state == "shutdown" || state == "complete");
  });
  CHECK_MESSAGE(left_running, "the killed task never left running: " << last);
  MESSAGE("killed task left running in narwhal after " << Swarm::ms_since(t0) << " ms");
  const bool replaced = eventually(s, kConverge, last, [&] {
    if (!service_converged(s, s.web_id, "web", 3, last)) return false;
    const auto rows = task_rows(s, "/services/" + s.web_id + "/tasks?limit=200", last);
    return rows && running_ids(*rows).count(task_id) == 0;
  });
  CHECK_MESSAGE(replaced, "web did not get back to 3 running tasks: " << last);
}

TEST_CASE("real swarm e: removed objects disappear") {
  Swarm& s = require_swarm();
  REQUIRE_MESSAGE(!s.web_id.empty(), "scenario b did not create web");
  std::string last;

  docker_ok(s, {"service", "rm", "bad"});
  CHECK_MESSAGE(
      eventually(s, kConverge, last, [&] { return gone(s, "/services", s.bad_id, last); }),
      "bad is still served: " << last);
  CHECK_MESSAGE(eventually(s, kConverge, last,
                           [&] {
                             const auto r = get(s, "/tasks?limit=200");
                             last = r.describe();
                             return r.status == 200 && !mentions(r.json, s.bad_id);
                           }),
                "bad's tasks are still served: " << last);

  docker_ok(s, {"service", "rm", "web"});
  CHECK_MESSAGE(
      eventually(s, kConverge, last, [&] { return gone(s, "/services", s.web_id, last); }),
      "web is still served: " << last);
  CHECK_MESSAGE(eventually(s, kConverge, last,
                           [&] {
                             const auto r = get(s, "/stacks/shop");
                             last = r.describe();
                             return is_problem(r, 404) && !listed(s, "/stacks", "shop") &&
                                    !mentions(get(s, "/stacks").json, "shop");
                           }),
                "/stacks/shop outlived its last service: " << last);
  const auto by_name = get(s, "/services/web");
  CHECK_MESSAGE(is_problem(by_name, 404), by_name.describe());
  CHECK_MESSAGE(eventually(s, kConverge, last,
                           [&] {
                             const auto r = get(s, "/tasks?limit=200");
                             last = r.describe();
                             return r.status == 200 && !mentions(r.json, s.web_id);
                           }),
                "web's tasks are still served: " << last);

  docker_ok(s, {"config", "rm", "shop_conf"});
  CHECK_MESSAGE(
      eventually(s, kConverge, last, [&] { return gone(s, "/configs", s.config_id, last); }),
      "shop_conf is still served: " << last);
  docker_ok(s, {"secret", "rm", "app_secret"});
  CHECK_MESSAGE(
      eventually(s, kConverge, last, [&] { return gone(s, "/secrets", s.secret_id, last); }),
      "app_secret is still served: " << last);

  // The network and the volume stay in use until the engine has removed web's containers.
  CommandResult rm;
  CHECK_MESSAGE(wait_until(
                    kConverge,
                    [&] {
                      return (rm = s.dockerd->docker({"network", "rm", "appnet"})).ok();
                    },
                    250ms),
                rm.describe());
  CHECK_MESSAGE(
      eventually(s, kConverge, last, [&] { return gone(s, "/networks", s.network_id, last); }),
      "appnet is still served: " << last);
  CHECK_MESSAGE(wait_until(
                    kConverge,
                    [&] {
                      return (rm = s.dockerd->docker({"volume", "rm", "appvol"})).ok();
                    },
                    250ms),
                rm.describe());
  CHECK_MESSAGE(eventually(s, kConverge, last, [&] { return gone(s, "/volumes", "appvol", last); }),
                "appvol is still served: " << last);
}

TEST_CASE("real swarm f: a daemon restart is survived and state converges") {
  Swarm& s = require_swarm();
  std::string last;
  s.again_id = docker_ok(s, {"service", "create", "--detach", "--quiet", "--name", "again",
                             "--replicas", "1", "--stop-signal", "KILL", "--restart-delay", "1s",
                             "tiny:latest", "/busybox", "sleep", "1000"});
  REQUIRE_MESSAGE(eventually(s, kConverge, last,
                             [&] { return service_converged(s, s.again_id, "again", 1, last); }),
                  "again never ran: " << last);
  REQUIRE(get(s, "/-/ready").status == 200);

  // Restart in the background, then scale right away; watch narwhal meanwhile.
  std::atomic<bool> done{false};
  CommandResult restart, scale;
  long long restart_ms = 0;
  const auto t0 = Clock::now();
  {
    std::jthread restarter([&] {
      restart =
          s.dockerd->restart_daemon(std::chrono::duration_cast<std::chrono::seconds>(kDaemonDown));
      restart_ms = Swarm::ms_since(t0);
      if (restart.ok()) scale = s.dockerd->docker({"service", "scale", "--detach", "again=2"});
      done = true;
    });

    std::optional<long long> first_503_ms, back_ms;
    HttpReply not_ready;
    std::vector<std::string> services_failures;
    const auto deadline = t0 + kRestartBudget;
    while (Clock::now() < deadline && s.narwhal.alive()) {
      auto ready = get(s, "/-/ready");
      const int status = ready.status;
      if (status == 503 && !first_503_ms) {
        first_503_ms = Swarm::ms_since(t0);
        not_ready = std::move(ready);
      }
      if (first_503_ms && status == 200 && !back_ms) back_ms = Swarm::ms_since(t0);
      // While the engine is away, the last known state is still served.
      if (!back_ms) {
        const auto services = get(s, "/services");
        if (services.status != 200 || !mentions(services.json, s.again_id))
          services_failures.push_back(services.describe());
      }
      if (back_ms && done) break;
      std::this_thread::sleep_for(50ms);
    }
    restarter.join();

    REQUIRE_MESSAGE(restart.ok(), restart.describe());
    MESSAGE("restart-daemon took " << restart_ms << " ms (with " << kDaemonDown.count()
                                   << " s down); narwhal not ready at "
                                   << (first_503_ms ? std::to_string(*first_503_ms) : "never")
                                   << " ms, ready again at "
                                   << (back_ms ? std::to_string(*back_ms) : "never") << " ms");
    CHECK_MESSAGE(scale.ok(), scale.describe());
    REQUIRE_MESSAGE(first_503_ms.has_value(), "/-/ready never answered 503 while dockerd was down");
    CHECK(*first_503_ms <=
          std::chrono::duration_cast<std::chrono::milliseconds>(kReadyGrace + 8s).count());
    CHECK_MESSAGE(is_problem(not_ready, 503), not_ready.describe());
    CHECK_MESSAGE(back_ms.has_value(),
                  "/-/ready did not return to 200 within " << kRestartBudget.count() << " s");
    CHECK_MESSAGE(services_failures.empty(),
                  services_failures.size()
                      << " bad /services answers while dockerd was away, first: "
                      << (services_failures.empty() ? "" : services_failures.front()));
  }

  // The scale made right after the restart shows, and the state is the engine's.
  CHECK_MESSAGE(eventually(s, kRestartBudget, last,
                           [&] { return service_converged(s, s.again_id, "again", 2, last); }),
                "again did not converge to 2 running after the restart: " << last);
  CHECK(get(s, "/-/ready").status == 200);
}

}  // namespace
