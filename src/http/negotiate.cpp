#include "narwhal/http/negotiate.hpp"

#include <charconv>

#include "narwhal/util/text.hpp"

namespace narwhal::http {

std::string_view media_type(Representation r) noexcept {
  switch (r) {
    case Representation::json: return "application/json";
    case Representation::narwhal_v1: return "application/vnd.narwhal.v1+json";
    case Representation::cetacean_v1: return "application/vnd.cetacean.v1+json";
    case Representation::json_ld: return "application/ld+json";
    case Representation::html: return "text/html";
    case Representation::event_stream: return "text/event-stream";
    case Representation::atom: return "application/atom+xml";
    case Representation::yaml: return "application/yaml";
  }
  return "application/json";
}

bool is_json(Representation r) noexcept {
  return r == Representation::json || r == Representation::narwhal_v1 ||
         r == Representation::cetacean_v1 || r == Representation::json_ld;
}

namespace {

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
std::optional<double> parse_q(std::string_view v) {
  if (v.empty() || v.size() > 5 || (v[0] != '0' && v[0] != '1')) return std::nullopt;
  if (v.size() > 1 && v[1] != '.') return std::nullopt;
  double q = v[0] == '1' ? 1.0 : 0.0;
  double scale = 0.1;
  for (std::size_t i = 2; i < v.size(); ++i) {
    if (v[i] < '0' || v[i] > '9') return std::nullopt;
    if (v[0] == '1' && v[i] != '0') return std::nullopt;
    q += (v[i] - '0') * scale;
    scale /= 10;
  }
  return q;
}

}  // namespace

std::vector<MediaRange> parse_accept(std::string_view accept) {
  std::vector<MediaRange> out;
  for (auto member : util::split(accept, ',')) {
    member = util::trim(member);
    if (member.empty()) continue;
    auto params = util::split(member, ';');
    const auto full = util::trim(params[0]);
    const auto slash = full.find('/');
    if (slash == std::string_view::npos) continue;
    MediaRange r;
    const auto type = full.substr(0, slash);
    const auto sub = full.substr(slash + 1);
    if (!is_token(type) || !is_token(sub) || (type == "*" && sub != "*")) continue;
    r.type = util::to_lower(type);
    r.subtype = util::to_lower(sub);
    r.specificity = r.type == "*" ? 0 : (r.subtype == "*" ? 1 : 2);
    bool valid = true;
    for (std::size_t i = 1; i < params.size(); ++i) {
      const auto p = util::trim(params[i]);
      const auto eq = p.find('=');
      if (eq == std::string_view::npos) {
        valid = false;
        break;
      }
      const auto name = util::trim(p.substr(0, eq));
      const auto value = util::trim(p.substr(eq + 1));
      if (util::iequals(name, "q")) {
        const auto q = parse_q(value);
        if (!q) {
          valid = false;
          break;
        }
        r.q = *q;
        break;  // what follows q are accept-ext, not media type parameters
      }
      r.specificity = 3;
    }
    if (valid) out.push_back(std::move(r));
  }
  return out;
}

std::optional<Representation> choose(std::string_view accept,
                                     const std::vector<Representation>& offered) {
  if (offered.empty()) return std::nullopt;
  if (util::trim(accept).empty()) return offered.front();
  const auto ranges = parse_accept(accept);
  if (ranges.empty()) return offered.front();  // nothing usable: treat as absent
  std::optional<Representation> best;
  double best_q = 0.0;
  for (const Representation r : offered) {
    const auto mt = media_type(r);
    const auto slash = mt.find('/');
    const auto type = mt.substr(0, slash);
    const auto sub = mt.substr(slash + 1);
    // The most specific range that matches decides this type's quality.
    int spec = -1;
    double q = 0.0;
    for (const auto& range : ranges) {
      const bool match = range.type == "*" ||
                         (range.type == type && (range.subtype == "*" || range.subtype == sub));
      if (match && range.specificity > spec) {
        spec = range.specificity;
        q = range.q;
      }
    }
    if (spec >= 0 && q > best_q) {
      best_q = q;
      best = r;
    }
  }
  return best;
}

std::optional<Representation> from_extension(std::string_view ext) noexcept {
  if (ext == ".json") return Representation::json;
  if (ext == ".atom") return Representation::atom;
  if (ext == ".html") return Representation::html;
  return std::nullopt;
}

}  // namespace narwhal::http
