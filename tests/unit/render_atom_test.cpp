// The Atom writer: every feed is parsed back with pugixml and checked as a feed reader would see
// it, so an escaping slip or a missing link fails here rather than in somebody's reader.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <pugixml.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "../support/samples.hpp"
#include "narwhal/render/atom.hpp"

using narwhal::render::entry_title;
using narwhal::render::FeedOptions;
using narwhal::render::FeedPage;
using narwhal::render::render_feed;
using narwhal::render::Site;
using narwhal::state::Action;
using narwhal::state::HistoryEntry;
using narwhal::state::Kind;
using narwhal::state::Object;
using narwhal::state::ObjectPtr;

namespace {

// 2026-11-22T10:15:42.123456Z
constexpr std::int64_t kTime = 1795342542123456;
constexpr std::string_view kWebId = "zm877tfyji7wheye1kbd0qt4w";

HistoryEntry change(std::uint64_t id, std::int64_t time, Kind kind, Action action,
                    std::string object_id, std::string name, std::string summary,
                    ObjectPtr object = nullptr) {
  HistoryEntry e;
  e.id = id;
  e.time = time;
  e.kind = kind;
  e.action = action;
  e.object_id = std::move(object_id);
  e.name = std::move(name);
  e.summary = std::move(summary);
  e.object = std::move(object);
  e.observed = time;
  return e;
}

const Object& sample_object(Kind kind, const std::string& file, std::string_view id) {
  static std::vector<ObjectPtr> keep;
  for (const auto& o : narwhal::test::listing(kind, file)) {
    if (o->id == id) {
      keep.push_back(o);
      return *o;
    }
  }
  FAIL("no object " << id << " in " << file);
  throw std::logic_error("unreachable");
}

FeedPage service_page() {
  FeedPage p;
  p.self = "/narwhal/services/zm877tfyji7wheye1kbd0qt4w.atom?limit=2";
  p.alternate = "/narwhal/services/zm877tfyji7wheye1kbd0qt4w";
  p.first = "/narwhal/services/zm877tfyji7wheye1kbd0qt4w.atom?limit=2";
  p.next = "/narwhal/services/zm877tfyji7wheye1kbd0qt4w.atom?limit=2&before=1795342500000001";
  p.scope = "/services/zm877tfyji7wheye1kbd0qt4w";
  p.title = "narwhal — service web";
  p.updated_fallback = 1;
  return p;
}

const Site kSite{"/narwhal"};
const FeedOptions kOptions{"narwhal.example"};

struct Parsed {
  pugi::xml_document doc;
  pugi::xml_node feed;
};

std::unique_ptr<Parsed> parse(const std::string& xml) {
  auto p = std::make_unique<Parsed>();
  const auto result =
      p->doc.load_string(xml.c_str(), pugi::parse_default | pugi::parse_declaration);
  REQUIRE_MESSAGE(result, result.description() << " at " << result.offset << " in\n" << xml);
  p->feed = p->doc.child("feed");
  REQUIRE(p->feed);
  return p;
}

std::vector<pugi::xml_node> children(pugi::xml_node parent, const char* name) {
  std::vector<pugi::xml_node> out;
  for (auto n : parent.children(name)) out.push_back(n);
  return out;
}

pugi::xml_node link(pugi::xml_node parent, std::string_view rel) {
  for (auto l : parent.children("link")) {
    if (rel == l.attribute("rel").value()) return l;
  }
  return {};
}

std::string text(pugi::xml_node parent, const char* name) {
  return parent.child(name).text().get();
}

std::vector<HistoryEntry> service_history() {
  return {
      change(1795342542123456, kTime, Kind::service, Action::update, std::string(kWebId), "web",
             "replicas 2 → 3"),
      change(1795342500000002, kTime - 42'123'456, Kind::service, Action::create,
             std::string(kWebId), "web", "service created: 2 replicas of nginx:alpine"),
  };
}

}  // namespace

TEST_CASE("entry titles say what happened to what, without repeating the summary's words") {
  CHECK(entry_title(change(1, kTime, Kind::service, Action::update, "x", "web",
                           "replicas 2 → 3")) == "Service web updated: replicas 2 → 3");
  CHECK(entry_title(change(1, kTime, Kind::task, Action::create, "t", "web.1", "")) ==
        "Task web.1 created");
  CHECK(entry_title(change(1, kTime, Kind::task, Action::create, "t", "web.1",
                           "task created: running")) == "Task web.1 created: running");
  CHECK(entry_title(change(1, kTime, Kind::stack, Action::remove, "shop", "shop",
                           "stack removed")) == "Stack shop removed");
  CHECK(entry_title(change(1, kTime, Kind::node, Action::update, "n1", "worker-1",
                           "state ready → down")) == "Node worker-1 updated: state ready → down");
  CHECK(entry_title(change(1, kTime, Kind::config, Action::update, "c", "app.conf",
                           "labels changed")) == "Config app.conf updated: labels changed");
  CHECK(entry_title(change(1, kTime, Kind::secret, Action::create, "s", "db", "secret created")) ==
        "Secret db created");
  CHECK(entry_title(change(1, kTime, Kind::network, Action::remove, "n", "front", "")) ==
        "Network front removed");
  CHECK(entry_title(change(1, kTime, Kind::volume, Action::create, "data", "data", "")) ==
        "Volume data created");
  // A task the engine reported without a name is still named, by its ID.
  CHECK(entry_title(change(1, kTime, Kind::task, Action::remove, "ki0027o7", "", "")) ==
        "Task ki0027o7 removed");
}

TEST_CASE("a feed carries its permanent id, title, dates, author and paging links") {
  const auto xml = render_feed(service_history(), service_page(), kSite, kOptions);
  CHECK(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"));
  const auto p = parse(xml);
  const auto feed = p->feed;
  CHECK(std::string_view(feed.attribute("xmlns").value()) == "http://www.w3.org/2005/Atom");
  CHECK(text(feed, "id") == "tag:narwhal.example,2026:/narwhal/services/zm877tfyji7wheye1kbd0qt4w");
  CHECK(text(feed, "title") == "narwhal — service web");
  CHECK(text(feed, "updated") == "2026-11-22T10:15:42.123Z");
  CHECK(text(feed.child("author"), "name") == "narwhal");
  CHECK(text(feed, "generator") == "narwhal");

  const auto self = link(feed, "self");
  REQUIRE(self);
  CHECK(std::string_view(self.attribute("type").value()) == "application/atom+xml");
  CHECK(std::string_view(self.attribute("href").value()) ==
        "/narwhal/services/zm877tfyji7wheye1kbd0qt4w.atom?limit=2");
  const auto alternate = link(feed, "alternate");
  REQUIRE(alternate);
  CHECK(std::string_view(alternate.attribute("type").value()) == "text/html");
  CHECK(std::string_view(alternate.attribute("href").value()) ==
        "/narwhal/services/zm877tfyji7wheye1kbd0qt4w");
  REQUIRE(link(feed, "first"));
  const auto next = link(feed, "next");
  REQUIRE(next);
  // The '&' of the query is an attribute value to XML, and comes back as one character.
  CHECK(std::string_view(next.attribute("href").value()) ==
        "/narwhal/services/zm877tfyji7wheye1kbd0qt4w.atom?limit=2&before=1795342500000001");
  CHECK(xml.find("limit=2&amp;before=") != std::string::npos);
}

TEST_CASE("entries keep the history's order and point at their object") {
  const auto p = parse(render_feed(service_history(), service_page(), kSite, kOptions));
  const auto entries = children(p->feed, "entry");
  REQUIRE(entries.size() == 2);
  CHECK(text(entries[0], "id") == "tag:narwhal.example,2026:event:1795342542123456");
  CHECK(text(entries[1], "id") == "tag:narwhal.example,2026:event:1795342500000002");
  CHECK(text(entries[0], "title") == "Service web updated: replicas 2 → 3");
  CHECK(text(entries[1], "title") == "Service web created: 2 replicas of nginx:alpine");
  CHECK(text(entries[0], "updated") == "2026-11-22T10:15:42.123Z");
  CHECK(text(entries[0], "published") == "2026-11-22T10:15:42.123Z");
  CHECK(text(entries[1], "updated") == "2026-11-22T10:15:00.000Z");
  for (const auto& e : entries) {
    const auto l = link(e, "alternate");
    REQUIRE(l);
    CHECK(std::string_view(l.attribute("type").value()) == "text/html");
    CHECK(std::string_view(l.attribute("href").value()) ==
          "/narwhal/services/zm877tfyji7wheye1kbd0qt4w");
    CHECK(std::string_view(e.child("category").attribute("term").value()) == "service");
    CHECK(std::string_view(e.child("content").attribute("type").value()) == "html");
  }
  CHECK(text(entries[0], "content") ==
        "<p>Service <strong>web</strong> updated: replicas 2 → 3.</p>");
}

TEST_CASE("the feed's updated is its newest change, whatever the order") {
  auto history = service_history();
  std::swap(history[0], history[1]);
  const auto p = parse(render_feed(history, service_page(), kSite, kOptions));
  CHECK(text(p->feed, "updated") == "2026-11-22T10:15:42.123Z");
  const auto entries = children(p->feed, "entry");
  REQUIRE(entries.size() == 2);
  CHECK(text(entries[0], "id") == "tag:narwhal.example,2026:event:1795342500000002");
}

TEST_CASE("links that are not set are left out") {
  FeedPage page = service_page();
  page.next.clear();
  auto p = parse(render_feed(service_history(), page, kSite, kOptions));
  CHECK(link(p->feed, "self"));
  CHECK(link(p->feed, "alternate"));
  CHECK(link(p->feed, "first"));
  CHECK_FALSE(link(p->feed, "next"));

  page = FeedPage{};
  page.scope = "/events";
  p = parse(render_feed(service_history(), page, kSite, kOptions));
  CHECK(children(p->feed, "link").empty());
  // A feed without a title would be invalid Atom: it falls back to the product's name.
  CHECK(text(p->feed, "title") == "narwhal");
}

TEST_CASE("an empty feed is a valid feed dated by the fallback") {
  FeedPage page = service_page();
  page.next.clear();
  page.updated_fallback = kTime;
  const auto xml = render_feed({}, page, kSite, kOptions);
  const auto p = parse(xml);
  CHECK(children(p->feed, "entry").empty());
  CHECK(text(p->feed, "id") ==
        "tag:narwhal.example,2026:/narwhal/services/zm877tfyji7wheye1kbd0qt4w");
  CHECK(text(p->feed, "updated") == "2026-11-22T10:15:42.123Z");
  CHECK_FALSE(text(p->feed, "title").empty());
  CHECK(text(p->feed.child("author"), "name") == "narwhal");
}

TEST_CASE("the same history and page give the same bytes") {
  const auto a = render_feed(service_history(), service_page(), kSite, kOptions);
  const auto b = render_feed(service_history(), service_page(), kSite, kOptions);
  CHECK(a == b);
  FeedPage other = service_page();
  other.next.clear();
  CHECK(render_feed(service_history(), other, kSite, kOptions) != a);
}

TEST_CASE("markup in names and summaries stays text") {
  const std::string evil = "<script>alert(1)</script>&\"'";
  std::vector<HistoryEntry> history{
      change(7, kTime, Kind::service, Action::update, "abc", evil, "image a → <b>b</b>&c")};
  FeedPage page = service_page();
  page.title = "narwhal — search " + evil;
  const auto xml = render_feed(history, page, kSite, kOptions);
  CHECK(xml.find("<script>") == std::string::npos);
  CHECK(xml.find("<b>") == std::string::npos);

  const auto p = parse(xml);
  CHECK(text(p->feed, "title") == page.title);
  const auto entry = p->feed.child("entry");
  CHECK(text(entry, "title") == "Service " + evil + " updated: image a → <b>b</b>&c");

  // The content is HTML as text: a reader unescapes it once and must find the name as text
  // inside <strong>, not as a <script> element.
  const std::string html = text(entry, "content");
  CHECK(html.find("<script>") == std::string::npos);
  CHECK(html.find("&lt;script&gt;") != std::string::npos);
  pugi::xml_document fragment;
  REQUIRE(fragment.load_string(("<div>" + html + "</div>").c_str()));
  const auto para = fragment.child("div").child("p");
  CHECK(std::string(para.child("strong").text().get()) == evil);
  CHECK_FALSE(para.child("strong").child("script"));
  CHECK_FALSE(para.child("b"));
}

TEST_CASE("characters XML 1.0 forbids never reach the feed") {
  std::string name = "we";
  name += '\x01';
  name += "b";
  name += '\x1f';
  name += '\0';
  std::string summary = "state ready";
  summary += '\x0b';
  summary += "\n→ down\xff";  // a stray byte that is not UTF-8
  std::vector<HistoryEntry> history{
      change(9, kTime, Kind::node, Action::update, "n1", name, summary)};
  FeedPage page = service_page();
  page.title = std::string("narwhal\x02 nodes");
  const auto xml = render_feed(history, page, kSite, kOptions);
  std::size_t bad = 0;
  for (const char c : xml) {
    const auto b = static_cast<unsigned char>(c);
    if ((b < 0x20 && b != '\n') || b == 0xFF) ++bad;  // '\n' only from the indentation
  }
  CHECK(bad == 0);
  const auto p = parse(xml);
  CHECK(text(p->feed, "title") == "narwhal nodes");
  CHECK(text(p->feed.child("entry"), "title") == "Node web updated: state ready → down\uFFFD");
}

TEST_CASE("tag URIs percent-encode what a tag may not carry") {
  FeedPage page;
  page.scope = "/search?q=web app#1\"é%20x%zz";
  auto p = parse(render_feed({}, page, Site{}, kOptions));
  CHECK(text(p->feed, "id") ==
        "tag:narwhal.example,2026:/search?q=web%20app%231%22%C3%A9%20x%25zz");

  // An authority that is not a DNS name or e-mail address would make every id invalid.
  p = parse(render_feed({}, page, Site{}, FeedOptions{"not a host/"}));
  CHECK(std::string(text(p->feed, "id")).starts_with("tag:narwhal.localhost,2026:/search?"));
  p = parse(render_feed({}, page, Site{}, FeedOptions{"ops@swarm.example.org"}));
  CHECK(std::string(text(p->feed, "id")).starts_with("tag:ops@swarm.example.org,2026:/search?"));
  p = parse(render_feed({}, page, Site{}, FeedOptions{"-bad.example"}));
  CHECK(std::string(text(p->feed, "id")).starts_with("tag:narwhal.localhost,2026:"));
}

TEST_CASE("stacks and volumes are linked by name, with categories per kind") {
  std::vector<HistoryEntry> history{
      change(3, kTime, Kind::stack, Action::remove, "shop", "shop", "stack removed"),
      change(2, kTime, Kind::volume, Action::create, "shop data", "shop data", "volume created"),
      change(1, kTime, Kind::task, Action::create, "ki0027o7nrrb4ief6z03a5j74", "t.1", "")};
  const auto p = parse(render_feed(history, FeedPage{}, kSite, kOptions));
  const auto entries = children(p->feed, "entry");
  REQUIRE(entries.size() == 3);
  CHECK(std::string_view(link(entries[0], "alternate").attribute("href").value()) ==
        "/narwhal/stacks/shop");
  CHECK(std::string_view(link(entries[1], "alternate").attribute("href").value()) ==
        "/narwhal/volumes/shop%20data");
  CHECK(std::string_view(link(entries[2], "alternate").attribute("href").value()) ==
        "/narwhal/tasks/ki0027o7nrrb4ief6z03a5j74");
  CHECK(std::string_view(entries[0].child("category").attribute("term").value()) == "stack");
  CHECK(std::string_view(entries[1].child("category").attribute("term").value()) == "volume");
  CHECK(std::string_view(entries[2].child("category").attribute("term").value()) == "task");
  CHECK(text(entries[0], "content") == "<p>Stack <strong>shop</strong> removed.</p>");
}

TEST_CASE("a task's entry places it: stack, service, node and state") {
  auto task = std::make_shared<Object>(
      sample_object(Kind::task, "tasks-running.json", "83qmg7ury58tgmzdkzid6bxzp"));
  task->service_name = "web";  // the store stamps it; the sample alone does not say
  task->stack = "shop";
  std::vector<HistoryEntry> history{change(5, kTime, Kind::task, Action::create, task->id, "web.2",
                                           "task created: running", task)};
  const auto p = parse(render_feed(history, FeedPage{}, kSite, kOptions));
  const std::string html = text(p->feed.child("entry"), "content");
  CHECK(html.starts_with("<p>Task <strong>web.2</strong> created: running.</p><ul>"));
  CHECK(html.find("<li>Stack: <a href=\"/narwhal/stacks/shop\">shop</a></li>") !=
        std::string::npos);
  CHECK(html.find("<li>Service: <a href=\"/narwhal/services/zm877tfyji7wheye1kbd0qt4w\">web</a>"
                  "</li>") != std::string::npos);
  CHECK(html.find("<li>Slot: 2</li>") != std::string::npos);
  CHECK(html.find("<li>Node: <a href=\"/narwhal/nodes/qzix530qrl5nncdsg9szt1i1g\">"
                  "qzix530qrl5nncdsg9szt1i1g</a></li>") != std::string::npos);
  CHECK(html.find("<li>State: running</li>") != std::string::npos);

  const Object& web = sample_object(Kind::service, "services.json", std::string(kWebId));
  auto service = std::make_shared<Object>(web);
  std::vector<HistoryEntry> update{change(6, kTime, Kind::service, Action::update, service->id,
                                          service->name, "replicas 1 → 2", service)};
  const auto q = parse(render_feed(update, FeedPage{}, kSite, kOptions));
  const std::string shtml = text(q->feed.child("entry"), "content");
  CHECK(shtml.find("<li>Mode: replicated</li>") != std::string::npos);
  CHECK(shtml.find("<li>Replicas: 2</li>") != std::string::npos);
  CHECK(shtml.find("<li>Image: ") != std::string::npos);
  CHECK(shtml.find("Stack:") == std::string::npos);
}

// Writes a few feeds for tests/tools/check_feed.py when NARWHAL_FEED_DUMP names a directory, so a
// real feed parser can judge the writer's output; does nothing otherwise.
TEST_CASE("feeds for the feedparser check") {
  const char* dir = std::getenv("NARWHAL_FEED_DUMP");
  if (dir == nullptr) return;
  auto write = [&](const std::string& name, const std::string& body) {
    std::ofstream out(std::string(dir) + "/" + name, std::ios::binary);
    REQUIRE(out.good());
    out << body;
  };
  write("service.atom", render_feed(service_history(), service_page(), kSite, kOptions));
  FeedPage empty = service_page();
  empty.next.clear();
  empty.updated_fallback = kTime;
  write("empty.atom", render_feed({}, empty, kSite, kOptions));

  auto task = std::make_shared<Object>(
      sample_object(Kind::task, "tasks-running.json", "83qmg7ury58tgmzdkzid6bxzp"));
  task->service_name = "web";
  task->stack = "shop";
  std::string name = "<script>alert(1)</script>&\"";
  name += '\x01';
  std::vector<HistoryEntry> mixed{
      change(12, kTime, Kind::task, Action::create, task->id, name, "task created: running", task),
      change(11, kTime - 1000, Kind::stack, Action::create, "shop", "shop",
             "stack created: 2 services"),
      change(10, kTime - 2000, Kind::volume, Action::remove, "shop data", "shop data", ""),
      change(9, kTime - 3000, Kind::node, Action::update, "n1", "worker\x02-1",
             "state ready → down\xff")};
  FeedPage search;
  search.self = "/search.atom?q=%3Cscript%3E";
  search.alternate = "/search?q=%3Cscript%3E";
  search.first = search.self;
  search.next = "/search.atom?q=%3Cscript%3E&before=9";
  search.scope = "/search?q=<script> é";
  search.title = "narwhal — search <script>";
  write("search.atom", render_feed(mixed, search, Site{}, FeedOptions{}));
}
