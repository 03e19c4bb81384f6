#include "narwhal/render/html.hpp"

namespace narwhal::render {

void append_html_escaped(std::string& out, std::string_view s) {
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  append_html_escaped(out, s);
  return out;
}

namespace {

// Only links narwhal means to write: relative references and http(s). A `javascript:` or `data:`
// URL slipped into a label's link (a name from the swarm, a misconfigured base path) becomes a
// dead link instead of something a click could run.
bool safe_url(std::string_view url) noexcept {
  const auto end = url.find_first_of("/?#");
  const auto colon = url.substr(0, end).find(':');
  if (colon == std::string_view::npos) return true;
  const auto scheme = url.substr(0, colon);
  return scheme == "http" || scheme == "https";
}

void append_href(std::string& out, std::string_view url) {
  out += " href=\"";
  append_html_escaped(out, safe_url(url) ? url : std::string_view("#"));
  out.push_back('"');
}

void append_link_item(std::string& out, std::string_view label, std::string_view url) {
  out += "<li><a";
  append_href(out, url);
  out.push_back('>');
  append_html_escaped(out, label);
  out += "</a></li>\n";
}

// Readable without the dashboard's stylesheet; inline styles are what the CSP allows.
constexpr std::string_view kStyle =
    "<style>"
    "body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1b1f24;background:#fff}"
    "main{max-width:60rem;margin:0 auto;padding:1.5rem}"
    "h1{font-size:1.6rem;margin:0 0 .5rem}"
    ".note{color:#57606a}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;vertical-align:top;padding:.35rem .6rem;border-bottom:1px solid #d0d7de}"
    "dt{font-weight:600}dd{margin:0 0 .6rem}"
    "code{font-family:ui-monospace,monospace}"
    "@media (prefers-color-scheme:dark){body{color:#e6edf3;background:#0d1117}"
    "a{color:#58a6ff}.note{color:#8b949e}th,td{border-color:#30363d}}"
    "</style>\n";

}  // namespace

std::string render_html_page(const HtmlPage& page) {
  return render_html_page(page, {});
}

std::string render_html_page(const HtmlPage& page, std::string_view content_markup) {
  std::string out;
  out.reserve(1536 + content_markup.size());
  out +=
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
  append_html_escaped(out, page.title);
  out += "</title>\n";
  if (!page.json_url.empty()) {
    out += "<link rel=\"alternate\" type=\"application/json\"";
    append_href(out, page.json_url);
    out += ">\n";
  }
  if (!page.atom_url.empty()) {
    // Feed readers discover the feed from this element when given the page's URL.
    out += "<link rel=\"alternate\" type=\"application/atom+xml\"";
    append_href(out, page.atom_url);
    out += " title=\"";
    append_html_escaped(out, page.title);
    out += "\">\n";
  }
  out += kStyle;
  out += "</head>\n<body>\n<main>\n<h1>";
  append_html_escaped(out, page.heading);
  out += "</h1>\n";
  if (!page.description.empty()) {
    out += "<p>";
    append_html_escaped(out, page.description);
    out += "</p>\n";
  }
  out +=
      "<p class=\"note\">The narwhal dashboard is not built into this server yet. Until it is, "
      "this page links the views of this resource that programs and feed readers use.</p>\n";
  if (!page.json_url.empty() || !page.atom_url.empty() || !page.links.empty()) {
    out += "<ul>\n";
    if (!page.json_url.empty()) append_link_item(out, "JSON", page.json_url);
    if (!page.atom_url.empty()) append_link_item(out, "Atom feed", page.atom_url);
    for (const auto& [label, url] : page.links) append_link_item(out, label, url);
    out += "</ul>\n";
  }
  out += content_markup;
  out += "</main>\n</body>\n</html>\n";
  return out;
}

}  // namespace narwhal::render
