#include <utility>
#include <vector>

#include "builder.hpp"
#include "populate.hpp"

namespace narwhal::sim {

namespace {

constexpr Nanos kThreeDays = 3 * 24 * 3600 * kNanosPerSecond;
constexpr Nanos kBuildStep = 90 * kNanosPerSecond;

FileRef file(const Config& c, std::string target) {
  return {c.id, c.name, std::move(target)};
}
FileRef file(const Secret& s) {
  return {s.id, s.name, s.name};
}

void attach(ServiceSpec& spec, const Network& network, std::string alias) {
  spec.task.networks.push_back({network.id, std::move(alias)});
}

// Running tasks in slots 1..replicas, spread over `nodes` round-robin.
std::vector<Task*> run_replicas(SwarmBuilder& b, Service& s, const std::vector<std::string>& nodes,
                                std::size_t first_node = 0) {
  std::vector<Task*> tasks;
  for (std::uint64_t slot = 1; slot <= s.spec.replicas; ++slot) {
    tasks.push_back(&b.running(s, slot, nodes[(first_node + slot - 1) % nodes.size()]));
  }
  return tasks;
}

}  // namespace

void populate_demo(Swarm& swarm, IdSource& ids, Nanos now) {
  SwarmBuilder b(swarm, ids, now - kThreeDays, kBuildStep);
  b.cluster();
  const std::string m1 = b.node("manager-1", true, {{"zone", "a"}, {"tier", "control"}}).id;
  const std::string m2 = b.node("manager-2", true, {{"zone", "b"}, {"tier", "control"}}).id;
  const std::string w1 = b.node("worker-1", false, {{"zone", "a"}, {"tier", "app"}}).id;
  const std::string w2 = b.node("worker-2", false, {{"zone", "b"}, {"tier", "app"}}).id;
  const std::string w3 =
      b.node("worker-3", false, {{"zone", "c"}, {"tier", "data"}, {"storage", "ssd"}}).id;
  const std::vector<std::string> workers = {w1, w2, w3};
  const std::vector<std::string> all = {m1, m2, w1, w2, w3};
  b.default_networks();

  // shop: a web shop with its database and cache.
  const Network& front = b.overlay("shop_frontend", "shop");
  const Network& back = b.overlay("shop_backend", "shop");
  const Config& nginx_conf = b.config("shop_nginx_conf", "shop",
                                      "server {\n  listen 80;\n  location / { proxy_pass "
                                      "http://api:8000; }\n}\n");
  const Secret& db_password = b.secret("shop_db_password", "shop");
  const Secret& api_key = b.secret("shop_api_key", "shop");
  b.volume("shop_db_data", "shop");
  b.volume("shop_cache_data", "shop");

  ServiceSpec web = make_service_spec("shop", "web", "nginx:1.24-alpine");
  web.replicas = 3;
  web.ports = {{80, 8080}};
  attach(web, front, "web");
  web.task.configs = {file(nginx_conf, "/etc/nginx/conf.d/default.conf")};
  Service& web_service = b.service(std::move(web));
  std::vector<Task*> old_web = run_replicas(b, web_service, workers);
  b.change_image(web_service, "nginx:1.25-alpine");
  for (Task* t : old_web) {
    b.end(*t, TaskState::kShutdown);
    b.running(web_service, t->slot, t->node_id);
  }

  ServiceSpec api = make_service_spec("shop", "api", "ghcr.io/example/shop-api:2.3.1");
  api.replicas = 2;
  api.task.env = {"DATABASE_HOST=db", "CACHE_HOST=cache"};
  api.task.memory_limit = 512LL << 20;
  attach(api, front, "api");
  attach(api, back, "api");
  api.task.secrets = {file(db_password), file(api_key)};
  run_replicas(b, b.service(std::move(api)), workers, 1);

  ServiceSpec worker = make_service_spec("shop", "worker", "ghcr.io/example/shop-worker:2.3.1");
  worker.replicas = 2;
  worker.task.args = {"worker", "--queue", "orders"};
  attach(worker, back, "worker");
  worker.task.secrets = {file(db_password)};
  Service& worker_service = b.service(std::move(worker));
  std::vector<Task*> workers_run = run_replicas(b, worker_service, workers, 2);
  b.end(*workers_run[1], TaskState::kFailed);
  b.running(worker_service, 2, w1);

  ServiceSpec db = make_service_spec("shop", "db", "postgres:16.2");
  db.task.env = {"POSTGRES_DB=shop", "POSTGRES_PASSWORD_FILE=/run/secrets/shop_db_password"};
  db.task.mounts = {{"shop_db_data", "/var/lib/postgresql/data"}};
  db.task.constraints = {"node.labels.storage==ssd"};
  attach(db, back, "db");
  db.task.secrets = {file(db_password)};
  run_replicas(b, b.service(std::move(db)), {w3});

  ServiceSpec cache = make_service_spec("shop", "cache", "redis:7.2-alpine");
  cache.task.mounts = {{"shop_cache_data", "/data"}};
  attach(cache, back, "cache");
  Service& cache_service = b.service(std::move(cache));
  b.end(*run_replicas(b, cache_service, {w2})[0], TaskState::kComplete);
  b.running(cache_service, 1, w2);

  // monitoring: prometheus on a manager, grafana, node-exporter everywhere.
  const Network& mon = b.overlay("monitoring_default", "monitoring");
  const Config& prom_yml =
      b.config("monitoring_prometheus_yml", "monitoring", "global:\n  scrape_interval: 15s\n");
  const Config& datasources =
      b.config("monitoring_grafana_datasources", "monitoring", "apiVersion: 1\ndatasources: []\n");
  const Secret& grafana_admin = b.secret("monitoring_grafana_admin_password", "monitoring");
  b.volume("monitoring_prometheus_data", "monitoring");
  b.volume("monitoring_grafana_data", "monitoring");

  ServiceSpec prom = make_service_spec("monitoring", "prometheus", "prom/prometheus:v2.51.0");
  prom.task.constraints = {"node.role==manager"};
  prom.task.mounts = {{"monitoring_prometheus_data", "/prometheus"}};
  prom.task.configs = {file(prom_yml, "/etc/prometheus/prometheus.yml")};
  attach(prom, mon, "prometheus");
  run_replicas(b, b.service(std::move(prom)), {m1});

  ServiceSpec grafana = make_service_spec("monitoring", "grafana", "grafana/grafana:10.4.1");
  grafana.ports = {{3000, 3000}};
  grafana.task.mounts = {{"monitoring_grafana_data", "/var/lib/grafana"}};
  grafana.task.configs = {file(datasources, "/etc/grafana/provisioning/datasources/ds.yml")};
  grafana.task.secrets = {file(grafana_admin)};
  attach(grafana, mon, "grafana");
  run_replicas(b, b.service(std::move(grafana)), {m2});

  ServiceSpec exporter =
      make_service_spec("monitoring", "node-exporter", "prom/node-exporter:v1.7.0");
  exporter.global = true;
  exporter.endpoint_mode = "dnsrr";
  attach(exporter, mon, "node-exporter");
  Service& exporter_service = b.service(std::move(exporter));
  for (const auto& node : all) b.running(exporter_service, 0, node);

  // blog: wordpress, scaled down from 3 to 2 at some point.
  const Network& blog = b.overlay("blog_default", "blog");
  const Secret& blog_db = b.secret("blog_db_password", "blog");
  b.volume("blog_wordpress_data", "blog");
  b.volume("blog_mysql_data", "blog");

  ServiceSpec wordpress = make_service_spec("blog", "wordpress", "wordpress:6.5-apache");
  wordpress.replicas = 3;
  wordpress.ports = {{80, 8081}};
  wordpress.task.mounts = {{"blog_wordpress_data", "/var/www/html"}};
  wordpress.task.secrets = {file(blog_db)};
  attach(wordpress, blog, "wordpress");
  Service& wp = b.service(std::move(wordpress));
  std::vector<Task*> wp_tasks = run_replicas(b, wp, workers);
  wp.previous = wp.spec;
  wp.spec.replicas = 2;
  swarm.touch(wp, b.advance());
  b.end(*wp_tasks[2], TaskState::kShutdown);

  ServiceSpec mysql = make_service_spec("blog", "mysql", "mysql:8.0.36");
  mysql.task.constraints = {"node.labels.storage==ssd"};
  mysql.task.mounts = {{"blog_mysql_data", "/var/lib/mysql"}};
  mysql.task.secrets = {file(blog_db)};
  attach(mysql, blog, "mysql");
  run_replicas(b, b.service(std::move(mysql)), {w3});

  // Plain services: a proxy on the managers, and a report job whose image can't be pulled.
  const Network& proxy = b.overlay("proxy", "", true);
  const Config& traefik_toml = b.config("traefik.toml", "", "[entryPoints.web]\naddress=\":80\"\n");
  const Secret& tls = b.secret("tls_certificate", "");
  b.volume("backups", "");
  b.volume(b.ids().hex_id(), "");

  ServiceSpec traefik = make_service_spec("", "traefik", "traefik:v2.11");
  traefik.ports = {{80, 80}};
  traefik.task.constraints = {"node.role==manager"};
  traefik.task.configs = {file(traefik_toml, "/etc/traefik/traefik.toml")};
  traefik.task.secrets = {file(tls)};
  attach(traefik, proxy, "");
  run_replicas(b, b.service(std::move(traefik)), {m1});

  ServiceSpec report = make_service_spec("", "nightly-report", "registry.example.com/reports:2.0");
  report.task.args = {"report", "--since", "24h"};
  Service& report_service = b.service(std::move(report));
  report_service.image_missing = true;
  for (int attempt = 0; attempt < 4; ++attempt) {
    Task& t = swarm.add_task(report_service, ids.swarm_id(), 1, w1, b.advance());
    b.end(t, TaskState::kRejected);
    // The newest attempt is still the slot's current task.
    if (attempt == 3) t.desired = TaskState::kReady;
  }
}

}  // namespace narwhal::sim
