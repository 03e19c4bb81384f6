#include "narwhal/render/atom.hpp"

#include <algorithm>
#include <pugixml.hpp>
#include <string_view>
#include <utility>

#include "narwhal/render/html.hpp"
#include "narwhal/util/time.hpp"

namespace narwhal::render {

namespace {

using state::Action;
using state::HistoryEntry;
using state::Kind;

constexpr const char* kAtomNamespace = "http://www.w3.org/2005/Atom";
// The year in every tag: URI. It is part of the ids' identity, so it never moves on.
constexpr std::string_view kTagDate = "2026";
constexpr std::string_view kDefaultAuthority = "narwhal.localhost";

std::string_view past_tense(Action a) noexcept {
  switch (a) {
    case Action::create: return "created";
    case Action::update: return "updated";
    case Action::remove: return "removed";
  }
  return "updated";
}

// Whether `cp` may appear in an XML 1.0 document at all.
bool xml_char(char32_t cp) noexcept {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
         (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Text as a feed may carry it. Names, labels and error messages come from whoever created the
// objects, so any byte can reach here; a single control character would make readers reject the
// whole feed. Characters XML 1.0 forbids are dropped (with DEL and the C1 controls, legal but
// shown by no reader usefully), bytes that are not UTF-8 become U+FFFD, and tabs and line breaks
// become spaces because every field narwhal writes is one line.
std::string clean(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (b == '\t' || b == '\n' || b == '\r') {
        out.push_back(' ');
      } else if (xml_char(b) && b != 0x7F) {
        out.push_back(static_cast<char>(b));
      }
      ++i;
      continue;
    }
    // Lead byte: sequence length and the range its first continuation byte must fall in (this
    // rules out overlong forms, surrogates and code points past U+10FFFF).
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    char32_t cp = 0;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
      cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      cp = b & 0x0F;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      cp = b & 0x07;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    }
    std::size_t n = 1;
    bool ok = len != 0;
    while (ok && n < len) {
      if (i + n >= s.size()) {
        ok = false;
        break;
      }
      const auto c = static_cast<unsigned char>(s[i + n]);
      const unsigned char min = n == 1 ? lo : 0x80;
      const unsigned char max = n == 1 ? hi : 0xBF;
      if (c < min || c > max) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (c & 0x3F);
      ++n;
    }
    if (!ok) {
      append_utf8(out, 0xFFFD);
      i += n;  // resume at the first byte that did not belong to the broken sequence
      continue;
    }
    if (xml_char(cp) && !(cp >= 0x80 && cp <= 0x9F)) out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

bool alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool hex_digit(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 4151 DNSname: labels of letters, digits and inner hyphens, separated by dots.
bool dns_name(std::string_view s) noexcept {
  if (s.empty()) return false;
  std::size_t start = 0;
  while (true) {
    const auto dot = s.find('.', start);
    const auto label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    if (!std::all_of(label.begin(), label.end(), [](char c) { return alnum(c) || c == '-'; }))
      return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// A DNS name, or an e-mail address whose local part uses RFC 4151's small alphabet.
bool tagging_authority(std::string_view s) noexcept {
  const auto at = s.find('@');
  if (at == std::string_view::npos) return dns_name(s);
  const auto local = s.substr(0, at);
  return !local.empty() && std::all_of(local.begin(), local.end(), [](char c) {
    return alnum(c) || c == '-' || c == '.' || c == '_';
  }) && dns_name(s.substr(at + 1));
}

// The specific part of a tag: URI keeps pchar, '/' and '?'; everything else (spaces, '#', '"',
// non-ASCII bytes of a search term, …) is percent-encoded. Escapes already present stay as they
// are, so a scope built from encoded URLs is not encoded twice.
void append_tag_specific(std::string& out, std::string_view s) {
  constexpr std::string_view kKept = "-._~!$&'()*+,;=:@/?";
  constexpr std::string_view kHex = "0123456789ABCDEF";
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (alnum(c) || kKept.find(c) != std::string_view::npos ||
        (c == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) && hex_digit(s[i + 2]))) {
      out.push_back(c);
    } else {
      const auto b = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    }
  }
}

std::string tag_prefix(const FeedOptions& options) {
  std::string out = "tag:";
  out += tagging_authority(options.authority) ? std::string_view(options.authority)
                                              : kDefaultAuthority;
  out += ',';
  out += kTagDate;
  out += ':';
  return out;
}

// The name an entry is shown under: tasks and others can lack one, the ID always exists.
std::string display_name(const HistoryEntry& e) {
  return clean(e.name.empty() ? e.object_id : e.name);
}

// The summary without the words the title already says: the store writes "service created: 3
// replicas of nginx" or "stack removed", and "Service web created: service created: …" would
// read badly.
std::string detail(const HistoryEntry& e) {
  std::string s = clean(e.summary);
  std::string said(state::kind_name(e.kind));
  said += ' ';
  said += past_tense(e.action);
  if (s == said) return {};
  said += ": ";
  if (s.starts_with(said)) s.erase(0, said.size());
  return s;
}

void append_link(std::string& out, const std::string& href, std::string_view text) {
  out += "<a href=\"";
  append_html_escaped(out, clean(href));
  out += "\">";
  append_html_escaped(out, clean(text));
  out += "</a>";
}

// Where the entry's object sits, for readers who see the entry on its own: a task's service and
// node, a member's stack, the few fields an operator checks first.
std::vector<std::pair<std::string_view, std::string>> facts(const HistoryEntry& e,
                                                            const Site& site) {
  std::vector<std::pair<std::string_view, std::string>> out;
  if (!e.object) return out;
  const state::Object& o = *e.object;
  auto text = [&](std::string_view label, std::string_view value) {
    if (value.empty()) return;
    std::string html;
    append_html_escaped(html, clean(value));
    out.emplace_back(label, std::move(html));
  };
  auto link = [&](std::string_view label, Kind kind, const std::string& id, std::string_view name) {
    if (id.empty()) return;
    std::string html;
    append_link(html, site.url(kind, id), name.empty() ? std::string_view(id) : name);
    out.emplace_back(label, std::move(html));
  };
  if (e.kind != Kind::stack && !o.stack.empty()) link("Stack", Kind::stack, o.stack, o.stack);
  switch (o.kind) {
    case Kind::task: {
      link("Service", Kind::service, o.service_id, o.service_name);
      if (o.slot) text("Slot", std::to_string(*o.slot));
      link("Node", Kind::node, o.node_id, {});
      std::string st = o.state;
      if (!o.desired_state.empty() && o.desired_state != o.state)
        st += " (desired " + o.desired_state + ")";
      text("State", st);
      if (o.exit_code && *o.exit_code != 0) text("Exit code", std::to_string(*o.exit_code));
      text("Error", o.error);
      break;
    }
    case Kind::service:
      text("Image", o.image);
      text("Mode", o.mode);
      if (o.mode == "replicated") text("Replicas", std::to_string(o.replicas));
      break;
    case Kind::node:
      text("Role", o.leader ? o.role + " (leader)" : o.role);
      text("State", o.state);
      text("Availability", o.availability);
      text("Address", o.address);
      break;
    case Kind::network:
    case Kind::volume:
      text("Driver", o.driver);
      text("Scope", o.scope);
      break;
    default: break;
  }
  return out;
}

// The entry's content as HTML: one sentence, then the facts as a list.
std::string content_html(const HistoryEntry& e, const Site& site) {
  std::string out = "<p>";
  out += state::kind_type(e.kind);
  out += " <strong>";
  append_html_escaped(out, display_name(e));
  out += "</strong> ";
  out += past_tense(e.action);
  const std::string d = detail(e);
  if (!d.empty()) {
    out += ": ";
    append_html_escaped(out, d);
  }
  if (d.empty() || d.back() != '.') out.push_back('.');
  out += "</p>";
  const auto list = facts(e, site);
  if (!list.empty()) {
    out += "<ul>";
    for (const auto& [label, html] : list) {
      out += "<li>";
      out += label;
      out += ": ";
      out += html;
      out += "</li>";
    }
    out += "</ul>";
  }
  return out;
}

void add_text(pugi::xml_node parent, const char* name, const std::string& value) {
  parent.append_child(name).text().set(value.c_str());
}

void add_link(pugi::xml_node parent, const char* rel, const char* type, const std::string& href) {
  auto link = parent.append_child("link");
  link.append_attribute("rel").set_value(rel);
  if (type != nullptr) link.append_attribute("type").set_value(type);
  link.append_attribute("href").set_value(clean(href).c_str());
}

void add_entry(pugi::xml_node feed, const HistoryEntry& e, const std::string& tag,
               const Site& site) {
  auto entry = feed.append_child("entry");
  add_text(entry, "id", tag + "event:" + std::to_string(e.id));
  add_text(entry, "title", entry_title(e));
  const std::string when = util::format_rfc3339(e.time);
  add_text(entry, "updated", when);
  add_text(entry, "published", when);
  add_link(entry, "alternate", "text/html", site.url(e.kind, e.object_id));
  entry.append_child("category")
      .append_attribute("term")
      .set_value(std::string(state::kind_name(e.kind)).c_str());
  auto content = entry.append_child("content");
  content.append_attribute("type").set_value("html");
  content.text().set(content_html(e, site).c_str());
}

class StringWriter final : public pugi::xml_writer {
 public:
  void write(const void* data, std::size_t size) override {
    out_.append(static_cast<const char*>(data), size);
  }
  [[nodiscard]] std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string entry_title(const HistoryEntry& e) {
  std::string out(state::kind_type(e.kind));
  out += ' ';
  out += display_name(e);
  out += ' ';
  out += past_tense(e.action);
  const std::string d = detail(e);
  if (!d.empty()) {
    out += ": ";
    out += d;
  }
  return out;
}

std::string render_feed(const std::vector<HistoryEntry>& entries, const FeedPage& page,
                        const Site& site, const FeedOptions& options) {
  pugi::xml_document doc;
  auto decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version").set_value("1.0");
  decl.append_attribute("encoding").set_value("utf-8");

  auto feed = doc.append_child("feed");
  feed.append_attribute("xmlns").set_value(kAtomNamespace);

  const std::string tag = tag_prefix(options);
  std::string id = tag;
  append_tag_specific(id, site.base_path);
  append_tag_specific(id, page.scope);
  add_text(feed, "id", id);
  // Atom requires a title; a scope that gave none still gets the product's name.
  const std::string title = clean(page.title);
  add_text(feed, "title", title.empty() ? std::string("narwhal") : title);
  std::int64_t updated = page.updated_fallback;
  if (!entries.empty()) {
    updated = entries.front().time;
    for (const auto& e : entries) updated = std::max(updated, e.time);
  }
  add_text(feed, "updated", util::format_rfc3339(updated));
  add_text(feed.append_child("author"), "name", "narwhal");
  auto generator = feed.append_child("generator");
  generator.append_attribute("version").set_value(NARWHAL_VERSION);
  generator.text().set("narwhal");

  constexpr const char* kAtomType = "application/atom+xml";
  if (!page.self.empty()) add_link(feed, "self", kAtomType, page.self);
  if (!page.alternate.empty()) add_link(feed, "alternate", "text/html", page.alternate);
  if (!page.first.empty()) add_link(feed, "first", kAtomType, page.first);
  if (!page.next.empty()) add_link(feed, "next", kAtomType, page.next);

  for (const auto& e : entries) add_entry(feed, e, tag, site);

  StringWriter writer;
  doc.save(writer, "  ", pugi::format_indent | pugi::format_no_declaration, pugi::encoding_utf8);
  return writer.take();
}

}  // namespace narwhal::render
