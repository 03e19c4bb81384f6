// The built-in HTML page narwhal serves for text/html until the dashboard (SPA) is built into the
// binary: a small HTML5 document that names the resource and links its JSON and Atom views.
// Every text and URL is escaped; the page has no script, so the server's CSP
// (default-src 'self'; style-src 'self' 'unsafe-inline') holds.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace narwhal::render {

struct HtmlPage {
  std::string title;        // <title>
  std::string heading;      // <h1>
  std::string json_url;     // the JSON view of this resource
  std::string atom_url;     // its Atom feed; empty when the URL has no feed
  std::string description;  // one paragraph under the heading; empty for none
  std::vector<std::pair<std::string, std::string>> links;  // extra (label, url)
};

// Appends `s` with & < > " ' escaped, safe in element text and in quoted attribute values.
void append_html_escaped(std::string& out, std::string_view s);
[[nodiscard]] std::string html_escape(std::string_view s);

// The page for `page`.
[[nodiscard]] std::string render_html_page(const HtmlPage& page);
// The same page with `content_markup` (already escaped HTML: a table, a list) after the links.
// Callers build it with append_html_escaped; nothing else of the page is taken unescaped.
[[nodiscard]] std::string render_html_page(const HtmlPage& page, std::string_view content_markup);

}  // namespace narwhal::render
