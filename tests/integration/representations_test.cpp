// Every representation narwhal serves (SPEC §2, §6, §7, §9, §11), asked over HTTP of a stack that
// runs on the real swarm: JSON and its media-type aliases, the HTML page, Atom with its paging,
// SSE, compression and revalidation, on a service, one of its tasks, its stack and /events; list
// feeds narrowed by ?filter=. Then the third-party programs people point at narwhal (feedparser,
// pyld, Redocly) read what it serves; search finds the stack; a service's Last-Modified follows
// its body; and the stack's removal shows in its detail URLs and in the history feeds.
//
// The stack is deployed by `docker stack deploy`, as operators do, and each scenario asks for it
// through ensure_stack(), so any one of them can run alone (-tc="repr*"); the last one removes it.
// Bodies are fetched without any decoding by the client (fetch()), so what is compared is exactly
// what went over the wire. The swarm keeps moving while we look (tasks are re-listed every second),
// so comparisons between two requests are retried until the state held still between them.

#include <dlfcn.h>
#include <doctest/doctest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "sse_client.hpp"
#include "swarm_fixture.hpp"

namespace {

using namespace narwhal::itest;
using Headers = std::multimap<std::string, std::string>;

constexpr auto kConverge = 30s;               // a swarm change shows in narwhal
constexpr auto kToolBudget = 120s;            // a Python tool over a few dozen URLs
constexpr auto kLintBudget = 300s;            // the first run installs Redocly with npm
constexpr std::size_t kCompressAbove = 1024;  // SPEC §2: bodies over 1 KiB are compressed
constexpr int kMaxPages = 8;                  // Atom pages followed one entry at a time
constexpr int kAttempts = 6;                  // retries while the state moves under a comparison

const std::string kStack = "repr";
const std::string kService = kStack + "_web";
const std::string kSide = kStack + "_side";  // a neighbour that filters must leave out
const std::string kNetwork = kStack + "_default";
// What narwhal's feeds must call the scale that ensure_stack() makes.
const std::string kScaleSummary = "replicas 1 → 2";
const std::string kScaleTitle = "Service " + kService + " updated: " + kScaleSummary;

const std::vector<std::string> kJsonAliases{
    "application/ld+json", "application/vnd.narwhal.v1+json", "application/vnd.cetacean.v1+json"};
const std::vector<std::string> kEncodings{"gzip", "br", "zstd"};

// What an operator would write; the image is the fixture's registry-free busybox.
constexpr char kCompose[] = R"(version: "3.8"
services:
  web:
    image: tiny:latest
    command: ["/busybox", "sleep", "1000"]
    stop_signal: KILL
    deploy:
      replicas: 1
  side:
    image: tiny:latest
    command: ["/busybox", "sleep", "1000"]
    stop_signal: KILL
)";

// ---------------------------------------------------------------------------------------------
// HTTP, bytes as they came.

// An answer with the request that produced it, for failure messages.
struct Reply : HttpReply {
  std::string request;  // "GET /x (Accept: text/html, Accept-Encoding: gzip)"

  // The request, status, the headers these tests look at, and the body (or its size when it is
  // compressed: bytes of gzip help nobody in a failure message).
  [[nodiscard]] std::string show() const {
    std::string s = request + " -> ";
    if (status == 0) return s + "no response: " + error;
    s += std::to_string(status) + " " + content_type;
    for (const char* name :
         {"Content-Encoding", "ETag", "Vary", "Last-Modified", "Cache-Control", "Link"}) {
      const auto v = header(name);
      if (!v.empty()) s += std::string("; ") + name + ": " + v;
    }
    const auto encoding = header("Content-Encoding");
    if (!encoding.empty()) return s + "; " + std::to_string(body.size()) + " bytes of " + encoding;
    s += "\n    " + body.substr(0, 700);
    if (body.size() > 700) s += "…";
    return s;
  }
};

enum class Method { get, head };

// GET (or HEAD) without any help from the client: no automatic Accept-Encoding, no decompression.
// Unless the caller says otherwise, Accept-Encoding is `identity`.
Reply fetch(Swarm& s, const std::string& path, Headers headers = {}, Method method = Method::get) {
  if (headers.find("Accept-Encoding") == headers.end())
    headers.emplace("Accept-Encoding", "identity");
  Reply reply;
  reply.path = path;
  reply.request = (method == Method::head ? "HEAD " : "GET ") + path + " (";
  for (auto it = headers.begin(); it != headers.end(); ++it)
    reply.request += (it == headers.begin() ? "" : ", ") + it->first + ": " + it->second;
  reply.request += ")";
  httplib::Client client("127.0.0.1", s.api_port);
  client.set_decompress(false);
  client.set_connection_timeout(2);
  client.set_read_timeout(10);
  const httplib::Headers request_headers(headers.begin(), headers.end());
  auto res = method == Method::head ? client.Head(path, request_headers)
                                    : client.Get(path, request_headers);
  if (!res) {
    reply.error = httplib::to_string(res.error());
    return reply;
  }
  reply.status = res->status;
  reply.body = res->body;
  for (const auto& [k, v] : res->headers) reply.headers.emplace(k, v);
  reply.content_type = res->get_header_value("Content-Type");
  if (reply.content_type.find("json") != std::string::npos &&
      !res->has_header("Content-Encoding")) {
    reply.json.Parse(reply.body.data(), reply.body.size());
    reply.json_ok = !reply.json.HasParseError();
  }
  return reply;
}

Headers with(Headers h, const std::string& name, const std::string& value) {
  h.emplace(name, value);
  return h;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string strip(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// The media type without parameters, lower case.
std::string media_type(const HttpReply& r) {
  return lower(strip(r.content_type.substr(0, r.content_type.find(';'))));
}

// `Vary` names the request header (a list, case-insensitive).
bool varies_on(const HttpReply& r, const std::string& name) {
  const auto vary = r.header("Vary");
  std::size_t from = 0;
  while (from <= vary.size()) {
    const auto comma = std::min(vary.find(',', from), vary.size());
    if (lower(strip(vary.substr(from, comma - from))) == lower(name)) return true;
    from = comma + 1;
  }
  return false;
}

bool is_strong_tag(const std::string& tag) {
  return tag.size() > 2 && tag.front() == '"' && tag.back() == '"' &&
         tag.find('"', 1) == tag.size() - 1;
}

// "https://host/x?y" → "/x?y": narwhal's links are relative today, but a reader resolves either.
std::string local(const std::string& href) {
  const auto scheme = href.find("://");
  if (scheme == std::string::npos) return href;
  const auto slash = href.find('/', scheme + 3);
  return slash == std::string::npos ? "/" : href.substr(slash);
}

// Percent-encodes a query parameter's value.
std::string query_value(const std::string& v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

// An IMF-fixdate (RFC 9110 §5.6.7), as seconds since the epoch.
std::optional<std::time_t> http_date(const std::string& s) {
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return timegm(&tm);
}

// The whole seconds of an RFC 3339 time such as Docker's UpdatedAt.
std::optional<std::time_t> rfc3339_seconds(const std::string& s) {
  std::tm tm{};
  if (strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return std::nullopt;
  return timegm(&tm);
}

std::string imf_fixdate(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  return std::string(buf, std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm));
}

// Two answers that must agree, fetched so that the plain ETag did not change between them.
struct Pair {
  Reply plain, variant;
};

Pair pair_of(Swarm& s, const std::string& path, const Headers& plain, const Headers& variant,
             const std::string& variant_path = {}) {
  Pair p;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const auto before = fetch(s, path, plain);
    p.variant = fetch(s, variant_path.empty() ? path : variant_path, variant);
    p.plain = fetch(s, path, plain);
    if (before.header("ETag") == p.plain.header("ETag")) break;
  }
  return p;
}

// A conditional request made from a fresh answer (`make` turns it into the request's headers);
// retried while the state moves, so a 200 means the server ignored a matching validator.
Reply conditional(Swarm& s, const std::string& path, const Headers& base,
                  const std::function<Headers(const Reply&)>& make) {
  Reply r;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const auto first = fetch(s, path, base);
    r = fetch(s, path, make(first));
    if (r.status == 304) return r;
    if (fetch(s, path, base).header("ETag") == first.header("ETag")) return r;
  }
  return r;
}

// A zstd body decoded by libzstd, loaded at run time: the test links no compression library of
// its own, and libzstd.so.1 is on every Debian system (dpkg itself needs it).
std::optional<std::string> zstd_decode(const std::string& body, std::string& why) {
  void* lib = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    why = std::string("dlopen: ") + dlerror();
    return std::nullopt;
  }
  // dlsym hands out functions as data pointers; POSIX guarantees the round trip.
  const auto create = reinterpret_cast<decltype(&ZSTD_createDCtx)>(dlsym(lib, "ZSTD_createDCtx"));
  const auto destroy = reinterpret_cast<decltype(&ZSTD_freeDCtx)>(dlsym(lib, "ZSTD_freeDCtx"));
  const auto step =
      reinterpret_cast<decltype(&ZSTD_decompressStream)>(dlsym(lib, "ZSTD_decompressStream"));
  const auto is_error = reinterpret_cast<decltype(&ZSTD_isError)>(dlsym(lib, "ZSTD_isError"));
  const auto error_name =
      reinterpret_cast<decltype(&ZSTD_getErrorName)>(dlsym(lib, "ZSTD_getErrorName"));
  std::string out;
  if (create == nullptr || destroy == nullptr || step == nullptr || is_error == nullptr ||
      error_name == nullptr) {
    why = "libzstd.so.1 lacks the streaming decoder";
  } else {
    ZSTD_DCtx* ctx = create();
    ZSTD_inBuffer in{body.data(), body.size(), 0};
    std::string buf(64 * 1024, '\0');
    // ZSTD_decompressStream returns 0 once a frame is decoded and flushed; more input or output
    // is due until then, and a call that moves nothing means the frame was cut short.
    for (std::size_t pending = 1; pending != 0;) {
      ZSTD_outBuffer chunk{buf.data(), buf.size(), 0};
      const auto consumed = in.pos;
      pending = step(ctx, &chunk, &in);
      if (is_error(pending) != 0U) {
        why = std::string("zstd: ") + error_name(pending);
        break;
      }
      out.append(buf.data(), chunk.pos);
      if (pending != 0 && chunk.pos == 0 && in.pos == consumed) {
        why = "zstd: the frame ends early";
        break;
      }
    }
    if (why.empty() && in.pos != in.size) why = "zstd: bytes after the frame";
    destroy(ctx);
  }
  dlclose(lib);
  if (!why.empty()) return std::nullopt;
  return out;
}

// The body decoded with the content coding's reference decoder: zlib and brotli as the HTTP
// library links them, libzstd. nullopt (with why) when it does not decode.
std::optional<std::string> decode(const std::string& coding, const std::string& body,
                                  std::string& why) {
  if (coding == "zstd") return zstd_decode(body, why);
  std::unique_ptr<httplib::detail::decompressor> d;
  if (coding == "gzip") {
    d = std::make_unique<httplib::detail::gzip_decompressor>();
  } else if (coding == "br") {
    d = std::make_unique<httplib::detail::brotli_decompressor>();
  } else {
    why = "no decoder for " + coding;
    return std::nullopt;
  }
  std::string out;
  const auto sink = [&](const char* data, std::size_t n) {
    out.append(data, n);
    return true;
  };
  if (!d->is_valid() || !d->decompress(body.data(), body.size(), sink)) {
    why = coding + " decoder rejected the body";
    return std::nullopt;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Atom, read by a real XML parser.

struct AtomLink {
  std::string rel, type, href;
};
struct AtomEntry {
  std::string id, title, updated, category;
  std::vector<AtomLink> links;
  [[nodiscard]] std::uint64_t event() const {  // tag:…:event:<n> → n
    return std::strtoull(id.substr(id.rfind(':') + 1).c_str(), nullptr, 10);
  }
};
struct Feed {
  std::string error;  // why it could not be read; empty when it parsed
  std::string id, title, updated;
  std::vector<AtomLink> links;
  std::vector<AtomEntry> entries;

  [[nodiscard]] std::string link(const std::string& rel) const {
    for (const auto& l : links)
      if (l.rel == rel) return l.href;
    return {};
  }
  [[nodiscard]] const AtomEntry* titled(const std::string& prefix) const {
    for (const auto& e : entries)
      if (e.title.rfind(prefix, 0) == 0) return &e;
    return nullptr;
  }
  [[nodiscard]] std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (const auto& e : entries) out.push_back(e.id);
    return out;
  }
  [[nodiscard]] std::string titles() const {
    std::string s = std::to_string(entries.size()) + " entries:";
    for (const auto& e : entries) s += "\n      " + e.title;
    return s;
  }
};

// Python's strict XML parser turns the feed into JSON: any XML error fails it, and a document
// that is not an Atom feed is named.
constexpr char kAtomToJson[] = R"(
import json, sys, xml.etree.ElementTree as ET
A = "{http://www.w3.org/2005/Atom}"
root = ET.fromstring(sys.stdin.buffer.read())
if root.tag != A + "feed":
    sys.exit("not an Atom feed: the root element is " + root.tag)
def text(el, name):
    child = el.find(A + name)
    return "" if child is None else (child.text or "")
def links(el):
    return [{"rel": l.get("rel", "alternate"), "type": l.get("type", ""), "href": l.get("href", "")}
            for l in el.findall(A + "link")]
def entry(e):
    cat = e.find(A + "category")
    return {"id": text(e, "id"), "title": text(e, "title"), "updated": text(e, "updated"),
            "category": "" if cat is None else cat.get("term", ""), "links": links(e)}
json.dump({"id": text(root, "id"), "title": text(root, "title"), "updated": text(root, "updated"),
           "links": links(root), "entries": [entry(e) for e in root.findall(A + "entry")]},
          sys.stdout)
)";

std::vector<AtomLink> links_of(const rapidjson::Value& v) {
  std::vector<AtomLink> out;
  const auto* links = at(v, "/links");
  if (links == nullptr || !links->IsArray()) return out;
  for (const auto& l : links->GetArray())
    out.push_back({str_at(l, "/rel"), str_at(l, "/type"), str_at(l, "/href")});
  return out;
}

Feed parse_feed(const std::string& xml) {
  Feed f;
  const auto r = run_command({"/usr/bin/python3", "-c", kAtomToJson}, 20s, xml);
  if (!r.ok()) {
    f.error = r.describe() + "\n    feed: " + xml.substr(0, 600);
    return f;
  }
  rapidjson::Document d;
  d.Parse(r.out.data(), r.out.size());
  if (d.HasParseError() || !d.IsObject()) {
    f.error = "the feed reader printed no JSON: " + r.out.substr(0, 300);
    return f;
  }
  f.id = str_at(d, "/id");
  f.title = str_at(d, "/title");
  f.updated = str_at(d, "/updated");
  f.links = links_of(d);
  for (const auto& e : d["entries"].GetArray()) {
    f.entries.push_back({str_at(e, "/id"), str_at(e, "/title"), str_at(e, "/updated"),
                         str_at(e, "/category"), links_of(e)});
  }
  return f;
}

std::string feed_path(const std::string& path, const std::string& query) {
  return path + (path.find('?') == std::string::npos ? "?" : "&") + query;
}

// ---------------------------------------------------------------------------------------------
// The stack under test.

struct Deployed {
  bool up = false;
  std::string service_id, side_id, network_id, task_id, task_name;
  std::string node_id;
};
Deployed g_deployed;

// Deploys the stack (once per run, again after repr f removed it), scales its web service from 1
// to 2 so its history has an update, and waits until narwhal shows all of it.
const Deployed& ensure_stack(Swarm& s) {
  if (g_deployed.up) return g_deployed;
  Deployed d;
  d.node_id = s.node_id;
  const auto t0 = Clock::now();
  docker_ok(s, {"stack", "deploy", "--resolve-image", "never", "--compose-file", "-", kStack},
            kCompose);
  d.service_id = docker_ok(s, {"service", "inspect", "--format", "{{.ID}}", kService});
  d.side_id = docker_ok(s, {"service", "inspect", "--format", "{{.ID}}", kSide});
  d.network_id = docker_ok(s, {"network", "inspect", "--format", "{{.Id}}", kNetwork});
  std::string last;
  REQUIRE_MESSAGE(eventually(s, kConverge, last,
                             [&] { return service_converged(s, d.side_id, kSide, 1, last); }),
                  kSide << " never ran 1 task in narwhal: " << last);
  REQUIRE_MESSAGE(eventually(s, kConverge, last,
                             [&] { return service_converged(s, d.service_id, kService, 1, last); }),
                  kService << " never ran 1 task in narwhal: " << last);
  docker_ok(s, {"service", "scale", "--detach", kService + "=2"});
  REQUIRE_MESSAGE(eventually(s, kConverge, last,
                             [&] { return service_converged(s, d.service_id, kService, 2, last); }),
                  kService << " never ran 2 tasks in narwhal: " << last);
  // The feeds' expectations rest on the scale being in the history with what changed.
  REQUIRE_MESSAGE(
      eventually(s, kConverge, last,
                 [&] {
                   const auto r =
                       get(s, "/history?type=service&resourceId=" + d.service_id + "&limit=200");
                   last = r.describe();
                   for (const auto* c : items_of(r))
                     if (str_at(*c, "/summary") == kScaleSummary) return true;
                   return false;
                 }),
      "the history has no \"" << kScaleSummary << "\" for " << kService << ": " << last);
  const auto rows = task_rows(s, "/services/" + d.service_id + "/tasks?limit=200", last);
  REQUIRE_MESSAGE(rows.has_value(), last);
  for (const auto& t : *rows)
    if (t.state == "running") d.task_id = t.id;
  REQUIRE_MESSAGE(!d.task_id.empty(), "no running task of " << kService << ": " << last);
  // A task's name (service.slot) is narwhal's, as its history shows it.
  REQUIRE_MESSAGE(eventually(s, kConverge, last,
                             [&] {
                               const auto r = get(
                                   s, "/history?type=task&resourceId=" + d.task_id + "&limit=200");
                               last = r.describe();
                               const auto items = items_of(r);
                               if (items.empty()) return false;
                               d.task_name = str_at(*items.back(), "/name");
                               return str_at(*items.back(), "/action") == "create";
                             }),
                  "no create of task " << d.task_id << " in the history: " << last);
  REQUIRE_MESSAGE(eventually(s, kConverge, last,
                             [&] {
                               const auto r = get(s, "/stacks/" + kStack);
                               last = r.describe();
                               return r.status == 200 && mentions(r.json, d.service_id) &&
                                      mentions(r.json, d.network_id);
                             }),
                  "/stacks/" << kStack << " does not list its service and network: " << last);
  MESSAGE("stack " << kStack << " deployed, scaled and shown by narwhal in " << Swarm::ms_since(t0)
                   << " ms");
  d.up = true;
  g_deployed = d;
  return g_deployed;
}

// One URL and what its representations must say.
struct Target {
  std::string path;                 // canonical, the JSON body's @id
  std::string type;                 // the JSON body's @type
  bool detail = false;              // sends Last-Modified (SPEC §6)
  bool html = true;                 // offers text/html (/events does not)
  std::vector<std::string> titles;  // Atom entry titles (prefixes) its feed must hold
};

// ---------------------------------------------------------------------------------------------
// Checks per representation. They CHECK rather than REQUIRE, so one broken representation does
// not hide the others; they return early when nothing after would make sense. Comparisons of
// whole bodies are parenthesised so doctest prints the message, not the bodies twice over.

// Compression with each coding: over 1 KiB, the same bytes once decoded, and the weak form of the
// identity ETag; at or under, identity with the strong tag.
void check_compression(Swarm& s, const std::string& path, const Headers& accept) {
  for (const auto& coding : kEncodings) {
    const auto p = pair_of(s, path, accept, with(accept, "Accept-Encoding", coding));
    const auto& plain = p.plain;
    const auto& packed = p.variant;
    CHECK_MESSAGE(packed.status == 200, packed.show());
    if (plain.status != 200 || packed.status != 200) continue;
    const auto tag = plain.header("ETag");
    if (plain.body.size() <= kCompressAbove) {
      CHECK_MESSAGE(packed.header("Content-Encoding").empty(),
                    plain.body.size() << " bytes are not worth compressing: " << packed.show());
      CHECK_MESSAGE(packed.header("ETag") == tag, packed.show()
                                                      << "\n  identity: " << plain.show());
      continue;
    }
    CHECK_MESSAGE(packed.header("Content-Encoding") == coding, packed.show());
    CHECK_MESSAGE(packed.header("ETag") == "W/" + tag,
                  "not the weak form of " << tag << ": " << packed.show());
    CHECK_MESSAGE((varies_on(packed, "Accept") && varies_on(packed, "Accept-Encoding")),
                  packed.show());
    CHECK_MESSAGE(varies_on(plain, "Accept-Encoding"), plain.show());
    CHECK_MESSAGE(media_type(packed) == media_type(plain), packed.show());
    if (packed.header("Content-Encoding") != coding) continue;
    CHECK_MESSAGE(packed.body.size() < plain.body.size(), packed.show());
    if (coding == "gzip") {
      // RFC 1952: magic bytes, and ISIZE (the input's length mod 2^32) closing the member.
      const auto& b = packed.body;
      CHECK_MESSAGE((b.size() > 18 && static_cast<unsigned char>(b[0]) == 0x1f &&
                     static_cast<unsigned char>(b[1]) == 0x8b),
                    "not a gzip member: " << packed.show());
      if (b.size() > 18) {
        std::uint32_t isize = 0;
        for (std::size_t i = 0; i < 4; ++i)
          isize |= static_cast<std::uint32_t>(static_cast<unsigned char>(b[b.size() - 4 + i]))
                   << (8 * i);
        CHECK_MESSAGE(
            isize == static_cast<std::uint32_t>(plain.body.size()),
            "gzip trailer says " << isize << " bytes, identity has " << plain.body.size());
      }
    }
    std::string why;
    const auto decoded = decode(coding, packed.body, why);
    CHECK_MESSAGE(decoded.has_value(), packed.show() << ": " << why);
    if (decoded) {
      CHECK_MESSAGE((*decoded == plain.body),
                    packed.show() << " decodes to " << decoded->size() << " bytes that differ from "
                                  << "the identity body (" << plain.body.size() << " bytes):\n    "
                                  << decoded->substr(0, 300) << "\n  identity: " << plain.show());
    }
  }
}

// If-None-Match (strong, weak, in a list, `*`) and a tag that does not match (SPEC §6).
void check_revalidation(Swarm& s, const std::string& path, const Headers& accept) {
  const auto check_304 = [&](const Reply& r, const std::string& what) {
    CHECK_MESSAGE(r.status == 304, what << ": " << r.show());
    if (r.status != 304) return;
    CHECK_MESSAGE(r.body.empty(), what << ": a 304 with a body: " << r.show());
    CHECK_MESSAGE(!r.header("ETag").empty(), what << ": a 304 without ETag: " << r.show());
    CHECK_MESSAGE(varies_on(r, "Accept"), what << ": a 304 without Vary: " << r.show());
  };
  check_304(
      conditional(s, path, accept,
                  [&](const Reply& r) { return with(accept, "If-None-Match", r.header("ETag")); }),
      "the identity answer's own ETag");
  const auto gzip = with(accept, "Accept-Encoding", "gzip");
  const auto weak = conditional(
      s, path, gzip, [&](const Reply& r) { return with(gzip, "If-None-Match", r.header("ETag")); });
  check_304(weak, "the gzip answer's own ETag");
  // Weak comparison: the compressed answer's tag validates the identity answer too.
  check_304(conditional(s, path, accept,
                        [&](const Reply& r) {
                          auto tag = r.header("ETag");
                          return with(accept, "If-None-Match", "W/" + tag);
                        }),
            "the weak form of the identity ETag, asked without compression");
  check_304(conditional(s, path, accept,
                        [&](const Reply& r) {
                          return with(accept, "If-None-Match",
                                      "\"not-this-one\", " + r.header("ETag"));
                        }),
            "a list of ETags holding the current one");
  check_304(fetch(s, path, with(accept, "If-None-Match", "*")), "If-None-Match: *");
  const auto other = fetch(s, path, with(accept, "If-None-Match", "\"not-this-one\""));
  CHECK_MESSAGE(other.status == 200, "a tag that does not match: " << other.show());
}

// HEAD answers what GET would, without the body (SPEC §2), compressed or not.
void check_head(Swarm& s, const std::string& path) {
  for (const auto* coding : {"identity", "gzip"}) {
    const Headers h{{"Accept-Encoding", coding}};
    Reply got, head;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      got = fetch(s, path, h);
      head = fetch(s, path, h, Method::head);
      if (fetch(s, path, h).header("ETag") == got.header("ETag")) break;
    }
    CHECK_MESSAGE(head.status == got.status, head.show() << "\n  " << got.show());
    CHECK_MESSAGE(head.body.empty(), head.show());
    for (const auto* name : {"Content-Type", "Content-Length", "Content-Encoding", "ETag", "Vary",
                             "Last-Modified", "Link"}) {
      CHECK_MESSAGE(head.header(name) == got.header(name),
                    name << " differs:\n  " << head.show() << "\n  " << got.show());
    }
  }
}

// The JSON representation and its aliases (SPEC §2, §3, §6, §7).
void check_json(Swarm& s, const Target& t) {
  const auto plain = fetch(s, t.path);
  CHECK_MESSAGE((plain.status == 200 && plain.json_ok), plain.show());
  if (plain.status != 200 || !plain.json_ok) return;
  CHECK_MESSAGE(media_type(plain) == "application/json", plain.show());
  CHECK_MESSAGE(str_at(plain.json, "/@context") == "/api/context.jsonld", plain.show());
  CHECK_MESSAGE(str_at(plain.json, "/@id") == t.path, plain.show());
  CHECK_MESSAGE(str_at(plain.json, "/@type") == t.type, plain.show());
  CHECK_MESSAGE(is_strong_tag(plain.header("ETag")), "no strong ETag: " << plain.show());
  CHECK_MESSAGE(varies_on(plain, "Accept"), plain.show());
  CHECK_MESSAGE(plain.header("Cache-Control") == "no-cache", plain.show());
  CHECK_MESSAGE(plain.header("Link").find("<" + t.path +
                                          ".atom>; rel=\"alternate\"; "
                                          "type=\"application/atom+xml\"") != std::string::npos,
                "no Link to the feed: " << plain.show());

  if (t.detail) {
    const auto modified = http_date(plain.header("Last-Modified"));
    CHECK_MESSAGE(modified.has_value(), "no IMF-fixdate Last-Modified: " << plain.show());
    const auto updated = rfc3339_seconds(str_at(plain.json, "/UpdatedAt"));
    CHECK_MESSAGE(updated.has_value(), "no UpdatedAt: " << plain.show());
    if (modified && updated) {
      CHECK_MESSAGE(*modified >= *updated, "Last-Modified " << plain.header("Last-Modified")
                                                            << " is older than UpdatedAt "
                                                            << str_at(plain.json, "/UpdatedAt"));
      CHECK_MESSAGE(*modified <= std::time(nullptr) + 5,
                    "Last-Modified in the future: " << plain.show());
      const auto since = conditional(s, t.path, {}, [](const Reply& r) {
        return Headers{{"If-Modified-Since", r.header("Last-Modified")}};
      });
      CHECK_MESSAGE(since.status == 304, "If-Modified-Since: Last-Modified: " << since.show());
      const auto older = fetch(s, t.path, {{"If-Modified-Since", imf_fixdate(*modified - 86400)}});
      CHECK_MESSAGE(older.status == 200, "If-Modified-Since a day earlier: " << older.show());
    }
  }

  for (const auto& alias : kJsonAliases) {
    const auto p = pair_of(s, t.path, {}, {{"Accept", alias}});
    CHECK_MESSAGE(p.variant.status == 200, p.variant.show());
    CHECK_MESSAGE(media_type(p.variant) == alias, p.variant.show());
    CHECK_MESSAGE((p.variant.body == p.plain.body), "not the bytes of application/json:\n  "
                                                        << p.variant.show() << "\n  "
                                                        << p.plain.show());
    CHECK_MESSAGE(p.variant.header("ETag") == p.plain.header("ETag"), p.variant.show());
    CHECK_MESSAGE(varies_on(p.variant, "Accept"), p.variant.show());
  }
  // The .json extension names the same representation (SPEC §2). A detail's @id is its canonical
  // URL, so the bytes are the same; a collection's @id is the URL asked (SPEC §3), so only that
  // differs.
  const auto ext = pair_of(s, t.path, {}, {}, t.path + ".json");
  CHECK_MESSAGE((ext.variant.status == 200 && media_type(ext.variant) == "application/json"),
                ext.variant.show());
  if (t.type != "Collection") {
    CHECK_MESSAGE((ext.variant.body == ext.plain.body &&
                   ext.variant.header("ETag") == ext.plain.header("ETag")),
                  "not the bytes of application/json:\n  " << ext.variant.show() << "\n  "
                                                           << ext.plain.show());
  } else if (ext.variant.json_ok && ext.plain.json_ok) {
    CHECK_MESSAGE(str_at(ext.variant.json, "/@id") == t.path + ".json", ext.variant.show());
    rapidjson::Document a, b;
    a.CopyFrom(ext.variant.json, a.GetAllocator());
    b.CopyFrom(ext.plain.json, b.GetAllocator());
    a.RemoveMember("@id");
    b.RemoveMember("@id");
    CHECK_MESSAGE((to_json(a) == to_json(b)), "not the body of application/json but for @id:\n  "
                                                  << ext.variant.show() << "\n  "
                                                  << ext.plain.show());
  }
  check_compression(s, t.path, {});
  check_compression(s, t.path, {{"Accept", "application/ld+json"}});
  check_revalidation(s, t.path, {});
  check_head(s, t.path);

  // A JSON version narwhal does not have is refused, not answered with another (SPEC §2).
  const auto v7 = fetch(s, t.path, {{"Accept", "application/vnd.narwhal.v7+json"}});
  CHECK_MESSAGE(is_problem(v7, 406), v7.show());
  CHECK_MESSAGE(str_at(v7.json, "/type") == "/api/errors/API003", v7.show());
}

// The <link> elements of an HTML page, each as its attributes.
std::vector<std::map<std::string, std::string>> html_links(const std::string& html) {
  std::vector<std::map<std::string, std::string>> out;
  for (auto pos = html.find("<link"); pos != std::string::npos; pos = html.find("<link", pos)) {
    const auto end = html.find('>', pos);
    if (end == std::string::npos) break;
    const auto tag = html.substr(pos + 5, end - pos - 5);
    std::map<std::string, std::string> attrs;
    for (std::size_t i = 0; i < tag.size();) {
      const auto eq = tag.find("=\"", i);
      if (eq == std::string::npos) break;
      const auto close = tag.find('"', eq + 2);
      if (close == std::string::npos) break;
      attrs[strip(tag.substr(i, eq - i))] = tag.substr(eq + 2, close - eq - 2);
      i = close + 1;
    }
    out.push_back(std::move(attrs));
    pos = end;
  }
  return out;
}

// The HTML page links its feed; a URL without a page answers 406 API003 (SPEC §2).
void check_html(Swarm& s, const Target& t) {
  const auto page = fetch(s, t.path, {{"Accept", "text/html"}});
  if (!t.html) {
    CHECK_MESSAGE(is_problem(page, 406), page.show());
    CHECK_MESSAGE(str_at(page.json, "/type") == "/api/errors/API003", page.show());
    const auto detail = str_at(page.json, "/detail");
    CHECK_MESSAGE((detail.find("application/json") != std::string::npos &&
                   detail.find("application/atom+xml") != std::string::npos),
                  "the 406 does not say what " << t.path << " offers: " << page.show());
    CHECK_MESSAGE(varies_on(page, "Accept"), page.show());
    const auto ext = fetch(s, t.path + ".html");
    CHECK_MESSAGE(is_problem(ext, 406), ext.show());
    return;
  }
  CHECK_MESSAGE(page.status == 200, page.show());
  CHECK_MESSAGE(media_type(page) == "text/html", page.show());
  CHECK_MESSAGE(varies_on(page, "Accept"), page.show());
  CHECK_MESSAGE(!page.header("ETag").empty(), page.show());
  const auto links = html_links(page.body);
  const auto feed = t.path + ".atom";
  CHECK_MESSAGE(std::any_of(links.begin(), links.end(),
                            [&](const std::map<std::string, std::string>& l) {
                              return l.count("rel") != 0 && l.at("rel") == "alternate" &&
                                     l.count("type") != 0 &&
                                     l.at("type") == "application/atom+xml" &&
                                     l.count("href") != 0 && local(l.at("href")) == feed;
                            }),
                "no <link rel=\"alternate\" type=\"application/atom+xml\" href=\""
                    << feed << "\">: " << page.show());
  // What a browser sends gets the page too, and the .html extension the same page.
  const auto browser = fetch(
      s, t.path, {{"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}});
  CHECK_MESSAGE(media_type(browser) == "text/html", browser.show());
  const auto ext = fetch(s, t.path + ".html");
  CHECK_MESSAGE(ext.status == 200, ext.show());
  CHECK_MESSAGE(media_type(ext) == "text/html", ext.show());
}

// Follows `next` one entry at a time: each page older than the one before, and together the same
// entries in the same order as one big page (SPEC §9, RFC 5005).
void check_paging(Swarm& s, const std::string& path) {
  const auto first = fetch(s, feed_path(path, "limit=1"));
  CHECK_MESSAGE(first.status == 200, first.show());
  if (first.status != 200) return;
  const auto f1 = parse_feed(first.body);
  CHECK_MESSAGE(f1.error.empty(), f1.error);
  CHECK_MESSAGE(f1.entries.size() == 1, first.request << ": " << f1.titles());
  const auto next = f1.link("next");
  CHECK_MESSAGE(!next.empty(), "no rel=\"next\" in " << first.show());
  CHECK_MESSAGE(first.header("Link").find("rel=\"next\"") != std::string::npos,
                "no Link rel=\"next\": " << first.show());
  if (f1.entries.size() != 1 || next.empty()) return;
  // Fetched after the first page: newer entries may stand before it, never after.
  const auto all = fetch(s, feed_path(path, "limit=200"));
  const auto fa = parse_feed(all.body);
  CHECK_MESSAGE(fa.error.empty(), fa.error);
  const auto ids = fa.ids();
  const auto start = std::find(ids.begin(), ids.end(), f1.entries[0].id);
  CHECK_MESSAGE(start != ids.end(), "the first page's entry "
                                        << f1.entries[0].id << " (" << f1.entries[0].title
                                        << ") is not in " << all.request << ": " << fa.titles());
  if (start == ids.end()) return;

  std::vector<std::string> walked{f1.entries[0].id};
  std::uint64_t previous = f1.entries[0].event();
  std::string url = local(next);
  for (int pages = 0; !url.empty() && pages < kMaxPages; ++pages) {
    const auto r = fetch(s, url);
    CHECK_MESSAGE((r.status == 200 && media_type(r) == "application/atom+xml"), r.show());
    if (r.status != 200) return;
    const auto f = parse_feed(r.body);
    CHECK_MESSAGE(f.error.empty(), f.error);
    CHECK_MESSAGE(f.entries.size() <= 1, url << ": " << f.titles());
    for (const auto& e : f.entries) {
      CHECK_MESSAGE(e.event() < previous, url << " is not older than the page before: " << e.id
                                              << " after #" << previous);
      previous = e.event();
      walked.push_back(e.id);
    }
    url = local(f.link("next"));
  }
  const auto from = static_cast<std::size_t>(start - ids.begin());
  std::vector<std::string> expected;
  const bool to_the_end = url.empty() && ids.size() < 200;
  for (std::size_t i = from; i < ids.size() && (to_the_end || expected.size() < walked.size()); ++i)
    expected.push_back(ids[i]);
  std::string shown;
  for (const auto& id : walked) shown += "\n      " + id;
  CHECK_MESSAGE(walked == expected, "paging " << path << " by one entry gave" << shown << "\n  but "
                                              << all.request << " has " << fa.titles());
}

// Atom by extension and by Accept (SPEC §2, §9): a feed a reader can follow, with the expected
// entries, compressed and revalidated like JSON, paged with `next`.
void check_atom(Swarm& s, const Target& t) {
  const auto path = t.path + ".atom";
  const auto ext = fetch(s, path);
  CHECK_MESSAGE(ext.status == 200, ext.show());
  if (ext.status != 200) return;
  CHECK_MESSAGE(media_type(ext) == "application/atom+xml", ext.show());
  CHECK_MESSAGE(is_strong_tag(ext.header("ETag")), ext.show());
  CHECK_MESSAGE(varies_on(ext, "Accept"), ext.show());
  CHECK_MESSAGE(ext.header("Cache-Control") == "no-cache", ext.show());
  const auto feed = parse_feed(ext.body);
  CHECK_MESSAGE(feed.error.empty(), feed.error);
  if (!feed.error.empty()) return;
  CHECK_MESSAGE(feed.id.rfind("tag:", 0) == 0, "feed id " << feed.id);
  CHECK_MESSAGE(!feed.updated.empty(), ext.show());
  CHECK_MESSAGE(!feed.entries.empty(), ext.show());
  for (const auto& e : feed.entries) {
    CHECK_MESSAGE(e.id.rfind("tag:", 0) == 0, e.id << " " << e.title);
    CHECK_MESSAGE(!e.category.empty(), e.id << " " << e.title);
    // An entry links the page of what it is about, whose kind is its category.
    const auto alternate_link = std::find_if(
        e.links.begin(), e.links.end(), [](const AtomLink& l) { return l.rel == "alternate"; });
    CHECK_MESSAGE(alternate_link != e.links.end(), e.id << " " << e.title);
    if (alternate_link != e.links.end()) {
      CHECK_MESSAGE(local(alternate_link->href).rfind("/" + e.category + "s/", 0) == 0,
                    e.title << " (category " << e.category << ") links " << alternate_link->href);
    }
  }

  // Where the feed's own links lead: itself, and a page for people.
  const auto self = fetch(s, local(feed.link("self")), {{"Accept", "application/atom+xml"}});
  CHECK_MESSAGE((self.status == 200 && media_type(self) == "application/atom+xml"),
                "rel=\"self\" " << feed.link("self") << ": " << self.show());
  const auto alternate = fetch(s, local(feed.link("alternate")), {{"Accept", "text/html"}});
  CHECK_MESSAGE((alternate.status == 200 && media_type(alternate) == "text/html"),
                "rel=\"alternate\" " << feed.link("alternate") << ": " << alternate.show());

  // By Accept: the same entries (the state may move between the two requests: retried).
  bool same_entries = false;
  std::string last;
  for (int attempt = 0; attempt < kAttempts && !same_entries; ++attempt) {
    const auto a = parse_feed(fetch(s, path).body);
    const auto negotiated = fetch(s, t.path, {{"Accept", "application/atom+xml"}});
    const auto b = parse_feed(negotiated.body);
    last = negotiated.show();
    same_entries = media_type(negotiated) == "application/atom+xml" && b.error.empty() &&
                   a.ids() == b.ids() && a.id == b.id;
  }
  CHECK_MESSAGE(same_entries,
                "Accept: application/atom+xml is not the feed of " << path << ": " << last);

  // The changes the scenario made, named as a reader sees them.
  const auto big = fetch(s, feed_path(path, "limit=200"));
  const auto everything = parse_feed(big.body);
  for (const auto& title : t.titles) {
    CHECK_MESSAGE(everything.titled(title) != nullptr, big.request << " has no entry titled \""
                                                                   << title << "…\"; it has "
                                                                   << everything.titles());
  }

  check_compression(s, path, {});
  check_revalidation(s, path, {});
  check_head(s, path);
  check_paging(s, path);
}

// A stream opens, even asked with compression, and is neither compressed nor validated (SPEC §8).
void check_stream(Swarm& s, const std::string& path) {
  SseClient c("127.0.0.1", s.api_port);
  const auto why = c.open(path, {{"Accept-Encoding", "gzip, br, zstd"}});
  CHECK_MESSAGE(why.empty(), "GET " << path << " as SSE: " << why);
  if (!why.empty()) return;
  CHECK_MESSAGE(c.status() == 200, c.describe());
  CHECK_MESSAGE(c.header("Content-Type").rfind("text/event-stream", 0) == 0, c.describe());
  CHECK_MESSAGE(c.header("Content-Encoding").empty(), "a compressed stream: " << c.describe());
  CHECK_MESSAGE(c.header("ETag").empty(), "a stream with a validator: " << c.describe());
  CHECK_MESSAGE(c.wait_for(5s, [&] { return !c.frames().empty(); }),
                "nothing came: " << c.describe());
  if (!c.frames().empty()) CHECK_MESSAGE(c.frames().front().retry.has_value(), c.describe());
  c.close();
}

// A tool's verdict for a failure message: its exit, stderr, and the lines that are not "ok".
std::string verdict(const CommandResult& r) {
  std::string s = "`" + r.command.substr(0, 300) + "` ";
  s += r.timed_out ? std::string("timed out") : "exited " + std::to_string(r.exit_code);
  std::string bad;
  for (const auto& line : split_lines(r.out))
    if (line.rfind("ok", 0) != 0) bad += "\n    " + line;
  if (!bad.empty()) s += "; it says:" + bad;
  const auto err = trim(r.err);
  if (!err.empty()) s += "\n  stderr: " + err.substr(err.size() > 3000 ? err.size() - 3000 : 0);
  return s;
}

std::string tools_dir() {
  const char* dir = std::getenv("NARWHAL_TOOLS");
  return dir != nullptr ? dir : "";
}

std::string base_url(const Swarm& s) {
  return "http://127.0.0.1:" + std::to_string(s.api_port);
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("repr a: a service, its task, its stack and /events in every representation") {
  Swarm& s = require_swarm();
  const auto& d = ensure_stack(s);
  const auto t0 = Clock::now();
  const std::vector<Target> targets{
      {"/services/" + d.service_id, "Service", true, true, {kScaleTitle}},
      {"/tasks/" + d.task_id, "Task", true, true, {"Task " + d.task_name + " created"}},
      {"/stacks/" + kStack, "Stack", false, true, {"Stack " + kStack + " created", kScaleTitle}},
      {"/events", "Collection", false, false, {kScaleTitle, "Stack " + kStack + " created"}},
  };
  for (const auto& t : targets) {
    INFO("URL under test: " << t.path);
    check_json(s, t);
    check_html(s, t);
    check_atom(s, t);
    check_stream(s, t.path);
  }
  // And what URLs do not offer is refused with the reason (SPEC §2, §8).
  const auto cluster_feed = fetch(s, "/cluster", {{"Accept", "application/atom+xml"}});
  CHECK_MESSAGE(is_problem(cluster_feed, 406), cluster_feed.show());
  CHECK_MESSAGE(str_at(cluster_feed.json, "/type") == "/api/errors/API003", cluster_feed.show());
  const auto history_stream = fetch(s, "/history", {{"Accept", "text/event-stream"}});
  CHECK_MESSAGE(is_problem(history_stream, 406), history_stream.show());
  CHECK_MESSAGE(str_at(history_stream.json, "/type") == "/api/errors/API001",
                history_stream.show());
  MESSAGE("four URLs in every representation checked in " << Swarm::ms_since(t0) << " ms");
}

TEST_CASE("repr b: a list's feed narrowed by ?filter= holds only the changes of what matches") {
  // SPEC §5, §9: the filter language narrows Atom feeds as it narrows lists and streams, and a
  // filter that does not compile is refused there as on the JSON list. The stack's second service
  // is what the filters must leave out.
  Swarm& s = require_swarm();
  const auto& d = ensure_stack(s);
  for (const auto& [list, expression, prefix] :
       {std::tuple{std::string("/tasks"), "service_name == \"" + kService + "\"",
                   "Task " + kService + "."},
        std::tuple{std::string("/services"), "name == \"" + kService + "\"",
                   "Service " + kService + " "}}) {
    const auto query = "limit=200&filter=" + query_value(expression);
    const auto json = fetch(s, list + "?" + query);
    CHECK_MESSAGE(
        (json.status == 200 && int_at(json.json, "/total") > 0 && !mentions(json.json, d.side_id)),
        json.show());
    const auto unfiltered = parse_feed(fetch(s, list + ".atom?limit=200").body);
    CHECK_MESSAGE(std::any_of(unfiltered.entries.begin(), unfiltered.entries.end(),
                              [&](const AtomEntry& e) { return e.title.rfind(prefix, 0) != 0; }),
                  list << ".atom has nothing the filter would leave out: " << unfiltered.titles());
    const auto atom = fetch(s, list + ".atom?" + query);
    CHECK_MESSAGE((atom.status == 200 && media_type(atom) == "application/atom+xml"), atom.show());
    const auto feed = parse_feed(atom.body);
    CHECK_MESSAGE(feed.error.empty(), feed.error);
    CHECK_MESSAGE(!feed.entries.empty(), atom.show());
    // Only the changes of objects the filter keeps.
    CHECK_MESSAGE(
        std::all_of(feed.entries.begin(), feed.entries.end(),
                    [&](const AtomEntry& e) { return e.title.rfind(prefix, 0) == 0; }),
        atom.request << " (" << expression << ") has entries of other objects; " << feed.titles());
    const auto bad = fetch(s, list + ".atom?filter=" + query_value("nosuch == 1"));
    // A filter that does not compile is the same 400 as on the JSON list.
    CHECK_MESSAGE(is_problem(bad, 400), bad.show());
  }
}

TEST_CASE("repr c: feed readers, JSON-LD processors and OpenAPI linters read what narwhal serves") {
  Swarm& s = require_swarm();
  const auto& d = ensure_stack(s);
  const auto tools = tools_dir();
  REQUIRE_MESSAGE(!tools.empty(), "NARWHAL_TOOLS must name tests/tools (meson test sets it)");
  const auto base = base_url(s);
  const std::string service = "/services/" + d.service_id;

  // feedparser, as Debian ships it, over every feed a reader might subscribe to.
  auto t0 = Clock::now();
  std::vector<std::string> feeds{"/usr/bin/python3", tools + "/check_feed.py"};
  for (const auto* list : {"/nodes", "/services", "/tasks", "/stacks", "/configs", "/secrets",
                           "/networks", "/volumes"})
    feeds.push_back(base + list + ".atom");
  for (const auto& path :
       {service, service + "/tasks", "/nodes/" + d.node_id, "/nodes/" + d.node_id + "/tasks",
        "/tasks/" + d.task_id, "/stacks/" + kStack, "/networks/" + d.network_id})
    feeds.push_back(base + path + ".atom");
  for (const auto* path :
       {"/events.atom", "/history.atom", "/history.atom?type=service", "/events.atom?limit=1"})
    feeds.push_back(base + path);
  feeds.push_back(base + "/search.atom?q=" + kStack);
  feeds.push_back(base + service + ".atom?limit=1");
  const auto feed_check = run_command(feeds, kToolBudget);
  CHECK_MESSAGE(feed_check.ok(), verdict(feed_check));
  MESSAGE("check_feed.py: " << feeds.size() - 2 << " feeds in " << Swarm::ms_since(t0) << " ms");

  // pyld expands every JSON body without error or loss: its own crawl, plus what it would not
  // find by itself.
  t0 = Clock::now();
  std::vector<std::string> jsonld{"/usr/bin/python3", tools + "/jsonld_check.py", "--crawl", base};
  for (const auto& path : std::vector<std::string>{
           service, service + "/tasks", "/tasks/" + d.task_id, "/stacks/" + kStack,
           "/networks/" + d.network_id, "/nodes/" + d.node_id + "/tasks", "/events",
           "/history?type=service", "/search?q=" + kStack, "/api/errors/SEA001",
           "/stacks/no-such-stack", "/search", "/services?limit=abc"})
    jsonld.push_back(path);
  const auto jsonld_check = run_command(jsonld, kToolBudget);
  CHECK_MESSAGE(jsonld_check.ok(), verdict(jsonld_check));
  MESSAGE("jsonld_check.py --crawl: " << split_lines(jsonld_check.out).size() << " lines in "
                                      << Swarm::ms_since(t0) << " ms");

  // And live events, while the service's labels change under it.
  t0 = Clock::now();
  CommandResult events_check;
  {
    std::atomic<bool> done{false};
    std::jthread reader([&] {
      events_check = run_command({"/usr/bin/python3", tools + "/jsonld_check.py", "--events", "3",
                                  "--timeout", "20", base},
                                 40s);
      done = true;
    });
    int tick = 0;
    const bool finished = wait_until(
        30s,
        [&] {
          if (done) return true;
          (void)s.dockerd->docker({"service", "update", "--detach", "--label-add",
                                   "repr.tick=" + std::to_string(++tick), kService});
          return done.load();
        },
        400ms);
    CHECK_MESSAGE(finished, "jsonld_check.py --events did not finish within 30 s");
  }
  CHECK_MESSAGE(events_check.ok(), verdict(events_check));
  MESSAGE("jsonld_check.py --events 3 in " << Swarm::ms_since(t0) << " ms");

  // Redocly over the OpenAPI document, as JSON and as YAML.
  t0 = Clock::now();
  const auto lint_json = run_command({tools + "/lint_openapi.sh", base + "/api"}, kLintBudget);
  CHECK_MESSAGE(lint_json.ok(), lint_json.describe());
  const auto lint_yaml = run_command(
      {"env", "OPENAPI_ACCEPT=application/yaml", tools + "/lint_openapi.sh", base + "/api"},
      kLintBudget);
  CHECK_MESSAGE(lint_yaml.ok(), lint_yaml.describe());
  CHECK_MESSAGE((lint_yaml.out + lint_yaml.err).find("openapi.yaml") != std::string::npos,
                "the linter was not given the YAML form: " << lint_yaml.describe());
  MESSAGE("lint_openapi.sh twice in " << Swarm::ms_since(t0) << " ms");

  // The meta documents' own headers (SPEC §6, §11).
  const auto api = fetch(s, "/api");
  CHECK_MESSAGE((api.status == 200 && media_type(api) == "application/json" && api.json_ok),
                api.show());
  CHECK_MESSAGE(str_at(api.json, "/openapi").rfind("3.1", 0) == 0, api.show());
  CHECK_MESSAGE(api.header("Cache-Control") == "public, max-age=3600", api.show());
  const auto yaml = fetch(s, "/api", {{"Accept", "application/yaml"}});
  CHECK_MESSAGE((yaml.status == 200 && media_type(yaml) == "application/yaml"), yaml.show());
  CHECK_MESSAGE(yaml.body.find("openapi:") != std::string::npos, yaml.show());
  CHECK_MESSAGE(yaml.header("ETag") != api.header("ETag"), "YAML and JSON share a tag");
  check_compression(s, "/api", {{"Accept", "application/yaml"}});
  const auto context = fetch(s, "/api/context.jsonld");
  CHECK_MESSAGE((context.status == 200 && media_type(context) == "application/ld+json" &&
                 at(context.json, "/@context") != nullptr),
                context.show());
  CHECK_MESSAGE(context.header("Cache-Control") == "public, max-age=3600", context.show());
  const auto errors = fetch(s, "/api/errors");
  CHECK_MESSAGE((errors.status == 200 && errors.json_ok), errors.show());
  for (const auto* code : {"API003", "SEA001", "SEA002"}) {
    CHECK_MESSAGE(mentions(errors.json, std::string("/api/errors/") + code), code);
    const auto one = fetch(s, std::string("/api/errors/") + code);
    CHECK_MESSAGE((one.status == 200 && str_at(one.json, "/code") == code), one.show());
  }
  const auto unknown = fetch(s, "/api/errors/XYZ999");
  CHECK_MESSAGE(is_problem(unknown, 404), unknown.show());
  CHECK_MESSAGE(unknown.header("Cache-Control") == "no-store", unknown.show());
}

TEST_CASE("repr d: search finds the stack's service and the stack, grouped and counted") {
  Swarm& s = require_swarm();
  const auto& d = ensure_stack(s);
  const auto r = fetch(s, "/search?q=" + kStack);
  REQUIRE_MESSAGE((r.status == 200 && r.json_ok), r.show());
  CHECK(media_type(r) == "application/json");
  CHECK(str_at(r.json, "/@id") == "/search?q=" + kStack);
  CHECK(str_at(r.json, "/@type") == "SearchResults");
  CHECK(str_at(r.json, "/query") == kStack);
  const auto* groups = at(r.json, "/groups");
  REQUIRE_MESSAGE((groups != nullptr && groups->IsArray()), r.show());

  std::map<std::string, const rapidjson::Value*> by_type;
  std::int64_t sum = 0;
  for (const auto& g : groups->GetArray()) {
    const auto type = str_at(g, "/type");
    CHECK_MESSAGE(by_type.count(type) == 0, "two groups of " << type << ": " << r.show());
    by_type[type] = &g;
    const auto total = int_at(g, "/total");
    REQUIRE_MESSAGE(total.has_value(), to_json(g));
    sum += *total;
    const auto* items = at(g, "/items");
    REQUIRE_MESSAGE((items != nullptr && items->IsArray()), to_json(g));
    CHECK_MESSAGE(static_cast<std::int64_t>(items->Size()) <= *total, to_json(g));
    // A group's count is its list's, searched the same way.
    const auto list = str_at(g, "/@id");
    CHECK_MESSAGE(list == "/" + type + "s?search=" + kStack, to_json(g));
    const auto listed_there = fetch(s, list);
    CHECK_MESSAGE(int_at(listed_there.json, "/total") == total,
                  type << " group counts " << *total << ": " << listed_there.show());
  }
  CHECK_MESSAGE(int_at(r.json, "/total") == sum,
                "the groups add up to " << sum << ": " << r.show());

  REQUIRE_MESSAGE(by_type.count("service") != 0, "no service group: " << r.show());
  CHECK_MESSAGE(mentions(*by_type["service"], "/services/" + d.service_id),
                to_json(*by_type["service"]));
  REQUIRE_MESSAGE(by_type.count("stack") != 0, "no stack group: " << r.show());
  CHECK_MESSAGE(int_at(*by_type["stack"], "/total") == 1, to_json(*by_type["stack"]));
  CHECK_MESSAGE(str_at(*by_type["stack"], "/items/0/@id") == "/stacks/" + kStack,
                to_json(*by_type["stack"]));
  CHECK_MESSAGE(by_type.count("network") != 0, "the stack's network is not found: " << r.show());

  // Its other representations.
  const auto page = fetch(s, "/search?q=" + kStack, {{"Accept", "text/html"}});
  CHECK_MESSAGE((page.status == 200 && media_type(page) == "text/html"), page.show());
  const auto feed = fetch(s, "/search.atom?q=" + kStack);
  CHECK_MESSAGE((feed.status == 200 && media_type(feed) == "application/atom+xml"), feed.show());
  const auto f = parse_feed(feed.body);
  CHECK_MESSAGE(f.error.empty(), f.error);
  CHECK_MESSAGE(f.titled(kScaleTitle) != nullptr, feed.request << ": " << f.titles());
  check_compression(s, "/search?q=" + kStack, {});
  const auto stream = fetch(s, "/search?q=" + kStack, {{"Accept", "text/event-stream"}});
  CHECK_MESSAGE(is_problem(stream, 406), stream.show());
  CHECK_MESSAGE(str_at(stream.json, "/type") == "/api/errors/API001", stream.show());

  // What it refuses (SPEC §10, §15).
  const auto missing = fetch(s, "/search");
  CHECK_MESSAGE(is_problem(missing, 400), missing.show());
  CHECK_MESSAGE(str_at(missing.json, "/type") == "/api/errors/SEA001", missing.show());
  const auto empty = fetch(s, "/search?q=");
  CHECK_MESSAGE(str_at(empty.json, "/type") == "/api/errors/SEA001", empty.show());
  const auto at_limit = fetch(s, "/search?q=" + std::string(200, 'a'));
  CHECK_MESSAGE(at_limit.status == 200, at_limit.show());
  const auto too_long = fetch(s, "/search?q=" + std::string(201, 'a'));
  CHECK_MESSAGE(is_problem(too_long, 400), too_long.show());
  CHECK_MESSAGE(str_at(too_long.json, "/type") == "/api/errors/SEA002", too_long.show());
  CHECK_MESSAGE(too_long.header("Cache-Control") == "no-store", too_long.show());
}

TEST_CASE("repr e: a service's Last-Modified moves when its tasks change its body") {
  Swarm& s = require_swarm();
  const auto& d = ensure_stack(s);
  const auto path = "/services/" + d.service_id;
  std::string last;
  REQUIRE_MESSAGE(eventually(s, kConverge, last,
                             [&] { return service_converged(s, d.service_id, kService, 2, last); }),
                  kService << " is not settled at 2 running tasks: " << last);
  const auto before = fetch(s, path);
  REQUIRE_MESSAGE(before.status == 200, before.show());
  const auto since = before.header("Last-Modified");
  const auto since_time = http_date(since);
  REQUIRE_MESSAGE(since_time.has_value(), before.show());
  // Last-Modified has whole seconds: the change must come in a later second to be told apart.
  CHECK(wait_until(3s, [&] { return std::time(nullptr) > *since_time; }));

  // A task dies: serviceStatus.runningTasks drops, the engine's service object stays the same
  // (the restart comes after the default 5 s delay, so the state holds long enough to look).
  const auto containers = split_lines(
      docker_ok(s, {"ps", "-q", "--filter", "label=com.docker.swarm.service.name=" + kService}));
  REQUIRE_MESSAGE(!containers.empty(), "no running container of " << kService);
  docker_ok(s, {"kill", containers.front()});
  Reply changed, revalidated;
  bool held = false;
  REQUIRE_MESSAGE(
      eventually(s, kConverge, last,
                 [&] {
                   changed = fetch(s, path);
                   last = changed.show();
                   if (changed.status != 200 || changed.header("ETag") == before.header("ETag"))
                     return false;
                   // Revalidated while the changed body is still the current one.
                   revalidated = fetch(s, path, {{"If-Modified-Since", since}});
                   held = fetch(s, path).header("ETag") == changed.header("ETag");
                   return held;
                 }),
      "the service's body never changed after its task was killed: " << last);
  // serviceStatus comes from the tasks: a client revalidating with If-Modified-Since must see
  // the body that changed with them.
  CHECK_MESSAGE(revalidated.status == 200,
                "the body changed after Last-Modified "
                    << since << " (runningTasks "
                    << int_at(before.json, "/serviceStatus/runningTasks").value_or(-1) << " → "
                    << int_at(changed.json, "/serviceStatus/runningTasks").value_or(-1)
                    << "), yet If-Modified-Since got " << revalidated.show()
                    << "\n  current: " << changed.show());
  const auto now_modified = http_date(changed.header("Last-Modified"));
  CHECK_MESSAGE((now_modified.has_value() && *now_modified > *since_time),
                "Last-Modified did not move with the body: " << changed.show());

  // Back to two running tasks for what follows.
  CHECK_MESSAGE(eventually(s, kConverge, last,
                           [&] { return service_converged(s, d.service_id, kService, 2, last); }),
                kService << " did not get its task back: " << last);
}

TEST_CASE("repr f: a removed stack leaves its detail URLs and shows in the history feed") {
  Swarm& s = require_swarm();
  const auto d = ensure_stack(s);
  // Whatever happens below, the next ensure_stack() deploys again.
  g_deployed.up = false;
  const auto t0 = Clock::now();
  docker_ok(s, {"stack", "rm", kStack});
  std::string last;
  for (const auto& path :
       {"/services/" + d.service_id, "/services/" + kService, "/services/" + d.side_id,
        "/stacks/" + kStack, "/tasks/" + d.task_id, "/networks/" + d.network_id}) {
    CHECK_MESSAGE(eventually(s, kConverge, last,
                             [&] {
                               const auto r = fetch(s, path);
                               last = r.show();
                               return is_problem(r, 404);
                             }),
                  path << " still answers: " << last);
  }
  MESSAGE("stack " << kStack << " gone from narwhal " << Swarm::ms_since(t0)
                   << " ms after docker stack rm");

  // The history's feeds tell readers what went.
  struct Removal {
    std::string type, title;
  };
  for (const auto& removal : {Removal{"service", "Service " + kService + " removed"},
                              Removal{"stack", "Stack " + kStack + " removed"}}) {
    const auto path = "/history.atom?type=" + removal.type;
    Feed feed;
    CHECK_MESSAGE(eventually(s, kConverge, last,
                             [&] {
                               const auto r = fetch(s, path);
                               feed = parse_feed(r.body);
                               last = r.show() + "\n  " + feed.error + feed.titles();
                               return r.status == 200 && feed.titled(removal.title) != nullptr;
                             }),
                  path << " has no \"" << removal.title << "\": " << last);
    if (const auto* e = feed.titled(removal.title)) {
      CHECK_MESSAGE(e->category == removal.type, e->id << " " << e->title);
    }
    const auto reader = run_command(
        {"/usr/bin/python3", tools_dir() + "/check_feed.py", base_url(s) + path}, kToolBudget);
    CHECK_MESSAGE(reader.ok(), verdict(reader));
  }

  // Nothing of it is left to find, nor any of its tasks in the lists (the SSE scenarios that
  // follow watch these lists).
  CHECK_MESSAGE(eventually(s, kConverge, last,
                           [&] {
                             const auto r = fetch(s, "/search?q=" + kStack);
                             const auto tasks = fetch(s, "/tasks?limit=200");
                             last = r.show();
                             return r.status == 200 && int_at(r.json, "/total") == 0 &&
                                    tasks.status == 200 && !mentions(tasks.json, d.service_id) &&
                                    !mentions(tasks.json, d.side_id);
                           }),
                "the removed stack is still found: " << last);
}

}  // namespace
