#include "narwhal/render/errors.hpp"

#include <algorithm>

#include "narwhal/render/html.hpp"
#include "narwhal/render/json.hpp"
#include "narwhal/util/text.hpp"

namespace narwhal::render {

const ErrorCode* find_error_code(std::string_view code) noexcept {
  const auto& codes = error_registry();
  const auto it =
      std::find_if(codes.begin(), codes.end(), [&](const ErrorCode& c) { return c.code == code; });
  return it == codes.end() ? nullptr : &*it;
}

std::string error_list_url(const Site& site) {
  return site.base_path + "/api/errors";
}

std::string error_url(std::string_view code, const Site& site) {
  std::string out = error_list_url(site);
  out.push_back('/');
  out += code;  // registry codes are [A-Z]{3}[0-9]{3}: nothing to encode
  return out;
}

namespace {

void append_error(std::string& out, const ErrorCode& c, const Site& site, bool with_context) {
  out.push_back('{');
  if (with_context) {
    out += "\"@context\":";
    util::append_json_string(out, site.context());
    out.push_back(',');
  }
  out += "\"@id\":";
  util::append_json_string(out, error_url(c.code, site));
  out += ",\"@type\":\"ErrorCode\",\"code\":";
  util::append_json_string(out, c.code);
  out += ",\"status\":" + std::to_string(c.status);
  out += ",\"title\":";
  util::append_json_string(out, c.title);
  out += ",\"description\":";
  util::append_json_string(out, c.description);
  out += ",\"suggestion\":";
  util::append_json_string(out, c.suggestion);
  out.push_back('}');
}

// The JSON view of an HTML page's resource: the extension form (SPEC §2), so that a browser
// following the link gets JSON although it sends Accept: text/html.
std::string json_view(std::string url) {
  url += ".json";
  return url;
}

void cell(std::string& out, std::string_view text) {
  out += "<td>";
  append_html_escaped(out, text);
  out += "</td>";
}

void definition(std::string& out, std::string_view term, std::string_view text) {
  out += "<dt>";
  append_html_escaped(out, term);
  out += "</dt><dd>";
  append_html_escaped(out, text);
  out += "</dd>\n";
}

}  // namespace

std::string render_error_list_json(const Site& site) {
  const auto& codes = error_registry();
  std::string out;
  out.reserve(256 + codes.size() * 320);
  out += "{\"@context\":";
  util::append_json_string(out, site.context());
  out += ",\"@id\":";
  util::append_json_string(out, error_list_url(site));
  out += ",\"@type\":\"ErrorRegistry\",\"total\":" + std::to_string(codes.size());
  out += ",\"items\":[";
  for (std::size_t i = 0; i < codes.size(); ++i) {
    if (i > 0) out.push_back(',');
    append_error(out, codes[i], site, false);
  }
  out += "]}";
  return out;
}

std::string render_error_json(const ErrorCode& code, const Site& site) {
  std::string out;
  out.reserve(384);
  append_error(out, code, site, true);
  return out;
}

std::string render_error_list_html(const Site& site) {
  const auto& codes = error_registry();
  std::string table;
  table.reserve(512 + codes.size() * 400);
  table +=
      "<table>\n<thead><tr><th>Code</th><th>Status</th><th>Title</th><th>Description</th>"
      "<th>What to do</th></tr></thead>\n<tbody>\n";
  for (const ErrorCode& c : codes) {
    table += "<tr><td><a href=\"";
    append_html_escaped(table, error_url(c.code, site));
    table += "\"><code>";
    append_html_escaped(table, c.code);
    table += "</code></a></td>";
    cell(table, std::to_string(c.status));
    cell(table, c.title);
    cell(table, c.description);
    cell(table, c.suggestion);
    table += "</tr>\n";
  }
  table += "</tbody>\n</table>\n";

  HtmlPage page;
  page.title = "Error codes · narwhal";
  page.heading = "Error codes";
  page.json_url = json_view(error_list_url(site));
  page.description =
      "Every problem document narwhal sends names one of these codes in its type URL. "
      "There are " +
      std::to_string(codes.size()) + ".";
  return render_html_page(page, table);
}

std::string render_error_html(const ErrorCode& code, const Site& site) {
  std::string list;
  list += "<dl>\n";
  definition(list, "Code", code.code);
  definition(list, "HTTP status", std::to_string(code.status));
  definition(list, "Title", code.title);
  definition(list, "Description", code.description);
  definition(list, "What to do", code.suggestion);
  list += "</dl>\n";

  HtmlPage page;
  page.title = std::string(code.code) + " " + std::string(code.title) + " · narwhal";
  page.heading = std::string(code.code) + ": " + std::string(code.title);
  page.json_url = json_view(error_url(code.code, site));
  page.links.emplace_back("All error codes", error_list_url(site));
  return render_html_page(page, list);
}

}  // namespace narwhal::render
