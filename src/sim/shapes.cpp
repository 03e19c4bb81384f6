#include "shapes.hpp"

#include <string_view>

namespace narwhal::sim {

namespace {

// A throw-away CA of the simulated swarm: looks like a certificate, certifies nothing.
constexpr std::string_view kTrustRoot =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBajCCARCgAwIBAgIUbmFyd2hhbC1zaW11bGF0ZWQtY2EwCgYIKoZIzj0EAwIw\n"
    "EzERMA8GA1UEAxMIc3dhcm0tY2EwHhcNMjYwMTAxMDAwMDAwWhcNNDYwMTAxMDAw\n"
    "MDAwWjATMREwDwYDVQQDEwhzd2FybS1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEH\n"
    "A0IABG5hcndoYWwgc2ltdWxhdGVkIGVuZ2luZSwgbm90IGEgcmVhbCBrZXkgLS0t\n"
    "LS0tLS0tLS0tLS0tLS0tLS0tLS0tLS0tLS0tLS0tLS0tLS0tLS0tLS0tLS0tLS0t\n"
    "-----END CERTIFICATE-----\n";
constexpr std::string_view kIssuerSubject = "MBMxETAPBgNVBAMTCHN3YXJtLWNh";
constexpr std::string_view kIssuerKey =
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEbmFyd2hhbCBzaW11bGF0ZWQgZW5naW5lLCBub3QgYSByZWFsIGtleQ==";

}  // namespace

void put_tls_info(JsonWriter& w) {
  w.StartObject();
  put_field(w, "TrustRoot", kTrustRoot);
  put_field(w, "CertIssuerSubject", kIssuerSubject);
  put_field(w, "CertIssuerPublicKey", kIssuerKey);
  w.EndObject();
}

void write_node(JsonWriter& w, const Node& n, std::string_view engine_version) {
  static constexpr std::string_view kPlugins[][2] = {
      {"Log", "awslogs"},     {"Log", "fluentd"},    {"Log", "gcplogs"},     {"Log", "gelf"},
      {"Log", "journald"},    {"Log", "json-file"},  {"Log", "local"},       {"Log", "splunk"},
      {"Log", "syslog"},      {"Network", "bridge"}, {"Network", "host"},    {"Network", "ipvlan"},
      {"Network", "macvlan"}, {"Network", "null"},   {"Network", "overlay"}, {"Volume", "local"}};
  w.StartObject();
  put_meta(w, n);
  w.Key("Spec");
  w.StartObject();
  w.Key("Labels");
  put_labels(w, n.labels);
  put_field(w, "Role", n.role);
  put_field(w, "Availability", n.availability);
  w.EndObject();
  w.Key("Description");
  w.StartObject();
  put_field(w, "Hostname", n.hostname);
  w.Key("Platform");
  w.StartObject();
  put_field(w, "Architecture", "x86_64");
  put_field(w, "OS", "linux");
  w.EndObject();
  w.Key("Resources");
  w.StartObject();
  w.Key("NanoCPUs");
  w.Int64(n.nano_cpus);
  w.Key("MemoryBytes");
  w.Int64(n.memory_bytes);
  w.EndObject();
  w.Key("Engine");
  w.StartObject();
  put_field(w, "EngineVersion", engine_version);
  w.Key("Plugins");
  w.StartArray();
  for (const auto& plugin : kPlugins) {
    w.StartObject();
    put_field(w, "Type", plugin[0]);
    put_field(w, "Name", plugin[1]);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.Key("TLSInfo");
  put_tls_info(w);
  w.EndObject();
  w.Key("Status");
  w.StartObject();
  put_field(w, "State", n.state);
  if (n.state == "down") put_field(w, "Message", "heartbeat failure");
  put_field(w, "Addr", n.addr);
  w.EndObject();
  if (n.role == "manager") {
    w.Key("ManagerStatus");
    w.StartObject();
    if (n.leader) {
      w.Key("Leader");
      w.Bool(true);
    }
    put_field(w, "Reachability", n.state == "ready" ? "reachable" : "unreachable");
    put_field(w, "Addr", n.addr + ":2377");
    w.EndObject();
  }
  w.EndObject();
}

void write_config(JsonWriter& w, const Config& c) {
  w.StartObject();
  put_meta(w, c);
  w.Key("Spec");
  w.StartObject();
  put_field(w, "Name", c.name);
  w.Key("Labels");
  put_labels(w, c.labels);
  put_field(w, "Data", base64(c.data));
  w.EndObject();
  w.EndObject();
}

void write_secret(JsonWriter& w, const Secret& s) {
  w.StartObject();
  put_meta(w, s);
  w.Key("Spec");
  w.StartObject();
  put_field(w, "Name", s.name);
  w.Key("Labels");
  put_labels(w, s.labels);
  w.EndObject();
  w.EndObject();
}

void write_network(JsonWriter& w, const Network& n) {
  const bool swarm_scoped = n.scope == "swarm";
  w.StartObject();
  put_field(w, "Name", n.name);
  put_field(w, "Id", n.id);
  put_time(w, "Created", n.created);
  put_field(w, "Scope", n.scope);
  put_field(w, "Driver", n.driver);
  w.Key("EnableIPv6");
  w.Bool(false);
  w.Key("IPAM");
  w.StartObject();
  put_field(w, "Driver", "default");
  w.Key("Options");
  w.Null();
  w.Key("Config");
  if (n.subnet.empty()) {
    w.Null();
  } else {
    w.StartArray();
    w.StartObject();
    put_field(w, "Subnet", n.subnet);
    put_field(w, "Gateway", n.gateway);
    w.EndObject();
    w.EndArray();
  }
  w.EndObject();
  w.Key("Internal");
  w.Bool(n.internal);
  w.Key("Attachable");
  w.Bool(n.attachable);
  w.Key("Ingress");
  w.Bool(n.ingress);
  w.Key("ConfigFrom");
  w.StartObject();
  put_field(w, "Network", "");
  w.EndObject();
  w.Key("ConfigOnly");
  w.Bool(false);
  w.Key("Containers");
  if (swarm_scoped) {
    w.Null();
  } else {
    w.StartObject();
    w.EndObject();
  }
  w.Key("Options");
  put_labels(w, n.options);
  w.Key("Labels");
  if (swarm_scoped) {
    put_labels_or_null(w, n.labels);
  } else {
    put_labels(w, n.labels);
  }
  w.EndObject();
}

void write_volume(JsonWriter& w, const Volume& v) {
  w.StartObject();
  put_field(w, "CreatedAt", format_rfc3339(v.created));
  put_field(w, "Driver", v.driver);
  w.Key("Labels");
  put_labels_or_null(w, v.labels);
  put_field(w, "Mountpoint", "/var/lib/docker/volumes/" + v.name + "/_data");
  put_field(w, "Name", v.name);
  w.Key("Options");
  if (v.has_options) {
    w.StartObject();
    w.EndObject();
  } else {
    w.Null();
  }
  put_field(w, "Scope", "local");
  w.EndObject();
}

}  // namespace narwhal::sim
