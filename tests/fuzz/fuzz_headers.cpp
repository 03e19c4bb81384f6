// libFuzzer target for everything narwhal parses out of an HTTP request: the first byte picks the
// parser (Accept, Range, If-None-Match, query strings, dates, the whole handler, or
// Accept-Encoding), the rest is its input. Beyond "no crash, no sanitizer report", each branch
// checks the parser's contract.
#include <rapidjson/document.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../../src/http/conditional.hpp"
#include "narwhal/http/handler.hpp"
#include "narwhal/http/negotiate.hpp"
#include "narwhal/http/range.hpp"
#include "narwhal/query/list_query.hpp"
#include "narwhal/util/encoding.hpp"
#include "narwhal/util/text.hpp"
#include "narwhal/util/time.hpp"
#include "swarm_fixture.hpp"

namespace {

using namespace narwhal;
using fuzz::check;
using http::Representation;

// The selector byte: its value modulo kParsers picks the branch; for the handler, the bits above
// pick the method.
enum Parser : std::uint8_t {
  kAccept = 0,
  kRange = 1,
  kIfNoneMatch = 2,
  kQueryString = 3,
  kHttpDate = 4,
  kRfc3339 = 5,
  kHandler = 6,
  kAcceptEncoding = 7,
  kParsers = 8,
};

constexpr std::array<Representation, 7> kAllRepresentations{
    Representation::json,    Representation::narwhal_v1, Representation::cetacean_v1,
    Representation::json_ld, Representation::html,       Representation::event_stream,
    Representation::atom,
};

bool offered(const std::vector<Representation>& offers, Representation r) {
  for (const auto o : offers) {
    if (o == r) return true;
  }
  return false;
}

void fuzz_accept(std::string_view in) {
  for (const auto& range : http::parse_accept(in)) {
    check(!range.type.empty() && !range.subtype.empty(), "media range with an empty part", in);
    check(
        range.type == util::to_lower(range.type) && range.subtype == util::to_lower(range.subtype),
        "media range not lower-cased", in);
    check(range.q >= 0.0 && range.q <= 1.0, "q outside [0, 1]", in);
    check(range.specificity >= 0 && range.specificity <= 3, "specificity outside 0..3", in);
    check(range.type != "*" || range.subtype == "*", "*/subtype accepted", in);
  }
  const std::vector<Representation> all(kAllRepresentations.begin(), kAllRepresentations.end());
  const std::vector<Representation> json_only{Representation::json, Representation::json_ld,
                                              Representation::narwhal_v1,
                                              Representation::cetacean_v1};
  check(!http::choose(in, {}).has_value(), "choose() picked from nothing", in);
  for (const auto* offers : {&all, &json_only}) {
    const auto best = http::choose(in, *offers);
    if (!best) continue;
    check(offered(*offers, *best), "choose() returned a representation not offered", in);
    // What wins among many is acceptable on its own.
    check(http::choose(in, {*best}) == best, "the chosen representation is not acceptable alone",
          in);
  }
  for (const auto r : kAllRepresentations) {
    const auto one = http::choose(in, {r});
    check(!one || *one == r, "choose() over one offer returned another", in);
    // If it is acceptable alone, something is acceptable when it is offered among all.
    if (one) check(http::choose(in, all).has_value(), "acceptable alone, not among all", in);
  }
}

void fuzz_range(std::string_view in) {
  const auto r = http::parse_item_range(in);
  if (r && r->last) check(*r->last >= r->first, "items range with last < first", in);
}

void fuzz_if_none_match(std::string_view in) {
  static const std::string etag = "\"0123456789abcdef0123456789abcdef\"";
  const bool hit = http::none_match_hits(in, etag);
  // Weak comparison: a weak form of our tag is the same tag.
  check(hit == http::none_match_hits(in, "W/" + etag), "weak comparison differs from strong", in);
  if (util::trim(in) == "*") check(hit, "\"*\" did not match", in);
  check(!http::none_match_hits(in, ""), "an empty ETag matched", in);
}

void fuzz_query(std::string_view in) {
  for (const bool plus : {false, true}) {
    if (const auto decoded = util::percent_decode(in, plus)) {
      check(decoded->size() <= in.size(), "percent-decoding grew the text", in);
      const auto again = util::percent_decode(util::percent_encode(*decoded), plus);
      check(again && *again == *decoded, "percent_encode does not round-trip", in);
    }
  }
  const auto params = query::parse_query_string(in);
  if (!params) return;
  for (std::uint8_t k = 0; k < state::kKinds; ++k) {
    const auto kind = static_cast<state::Kind>(k);
    query::ListQuery q;
    if (const auto err = query::parse_list_query(kind, *params, 200, q)) {
      check(!err->code.empty() && !err->detail.empty(), "query error without code or detail", in);
      continue;
    }
    check(q.limit >= 1 && q.limit <= query::kMaxLimit, "limit outside 1..200", in);
    check(util::utf8_length(q.search) <= 200, "search longer than its limit", in);
    check(q.search.size() <= 4 * 200, "search of more bytes than its limit allows", in);
    // The canonical form (cache keys, links) reads back as the same query.
    const auto canon = query::canonical(q);
    const auto reparsed = query::parse_query_string(canon);
    check(reparsed.has_value(), "canonical query string does not parse", canon);
    query::ListQuery q2;
    check(!query::parse_list_query(kind, *reparsed, 200, q2), "canonical query is rejected", canon);
    check(query::canonical(q2) == canon, "canonical form is not a fixed point", canon);
  }
}

// Years 0001–9998 survive any offset or leap second without leaving the 4-digit formats.
constexpr std::int64_t kYear1 = -62135596800LL * 1'000'000;     // 0001-01-01T00:00:00Z
constexpr std::int64_t kYear9999 = 253370764800LL * 1'000'000;  // 9999-01-01T00:00:00Z

void fuzz_http_date(std::string_view in) {
  const auto t = util::parse_http_date(in);
  if (!t) return;
  check(*t % 1'000'000 == 0, "HTTP date with a fraction of a second", in);
  const auto text = util::format_http_date(*t);
  const auto back = util::parse_http_date(text);
  check(back.has_value(), "format_http_date output does not parse", text);
  check(*back == *t, "HTTP date does not round-trip", text);
}

void fuzz_rfc3339(std::string_view in) {
  const auto t = util::parse_rfc3339(in);
  if (!t || *t < kYear1 || *t >= kYear9999) return;
  // format_rfc3339 keeps milliseconds: the round trip floors to the millisecond.
  const auto text = util::format_rfc3339(*t);
  const auto back = util::parse_rfc3339(text);
  check(back.has_value(), "format_rfc3339 output does not parse", text);
  const std::int64_t floored = *t - (((*t % 1000) + 1000) % 1000);
  check(*back == floored, "RFC 3339 time does not round-trip to the millisecond", text);
}

// Server orders to choose from: narwhal's, another with identity among the codings, and none.
constexpr std::array<util::Coding, 3> kServerOrder{util::Coding::zstd, util::Coding::br,
                                                   util::Coding::gzip};
constexpr std::array<util::Coding, 4> kReversedWithIdentity{
    util::Coding::gzip, util::Coding::identity, util::Coding::br, util::Coding::zstd};
constexpr std::array<util::Coding, 4> kAllCodings{util::Coding::identity, util::Coding::gzip,
                                                  util::Coding::zstd, util::Coding::br};

bool among(std::span<const util::Coding> offers, util::Coding c) {
  for (const auto o : offers) {
    if (o == c) return true;
  }
  return false;
}

void fuzz_accept_encoding(std::string_view in) {
  using util::Coding;
  const std::span<const Coding> orders[] = {kServerOrder, kReversedWithIdentity, {}};
  for (const auto offers : orders) {
    const auto best = util::choose_coding(in, offers);
    // Letter case carries no meaning in codings or in "q".
    check(util::choose_coding(util::to_lower(in), offers) == best, "choice depends on case", in);
    if (!best) {
      // Nothing acceptable among these offers: nothing acceptable alone either.
      for (const auto c : kAllCodings) {
        if (!among(offers, c) && c != Coding::identity) continue;
        check(!util::choose_coding(in, std::span<const Coding>(&c, 1)).has_value(),
              "acceptable alone, not among others", in);
      }
      continue;
    }
    check(*best == Coding::identity || among(offers, *best), "chose a coding not offered", in);
    // What wins among many is acceptable on its own.
    check(util::choose_coding(in, std::span<const Coding>(&*best, 1)) == best,
          "the chosen coding is not chosen alone", in);
  }
}

// One handler over the fixed swarm for the whole run: its rendered-response cache is part of what
// is being fuzzed, and is bounded by `cache_entries`.
const http::Handler& handler() {
  static const http::Handler* h = new http::Handler(
      http::Settings{
          "", std::chrono::milliseconds(1000), 200, {"https://dash.example"}, "fuzz", 64},
      fuzz::fixed_store());
  return *h;
}

std::string_view next_line(std::string_view& rest) {
  const auto nl = rest.find('\n');
  const auto line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  return line;
}

std::string_view header(const http::Reply& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (util::iequals(n, name)) return v;
  }
  return {};
}

// "items a-b/total" with a <= b < total: what a 206 must say (SPEC §4).
bool valid_content_range(std::string_view v) {
  if (!v.starts_with("items ")) return false;
  v.remove_prefix(6);
  const auto dash = v.find('-');
  const auto slash = v.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) {
    return false;
  }
  const auto first = util::parse_uint(v.substr(0, dash));
  const auto last = util::parse_uint(v.substr(dash + 1, slash - dash - 1));
  const auto total = util::parse_uint(v.substr(slash + 1));
  return first && last && total && *first <= *last && *last < *total;
}

void check_reply(const http::Reply& r, std::string_view in) {
  check(r.status >= 200 && r.status <= 599, "status outside 200..599", in);
  if (r.status == 206) {
    check(valid_content_range(header(r, "Content-Range")), "206 without a valid Content-Range", in);
  }
  if (r.status < 400) return;
  check(r.body != nullptr, "error reply without a body", in);
  rapidjson::Document d;
  d.Parse(r.body->data(), r.body->size());
  check(!d.HasParseError() && d.IsObject(), "problem body is not a JSON object", *r.body);
  const auto type = d.FindMember("type");
  check(type != d.MemberEnd() && type->value.IsString(), "problem without a \"type\"", *r.body);
  const auto status = d.FindMember("status");
  check(status != d.MemberEnd() && status->value.IsInt() && status->value.GetInt() == r.status,
        "problem \"status\" differs from the reply's", *r.body);
}

// Input: target \n Accept \n If-None-Match \n If-Modified-Since \n Range \n Origin.
void fuzz_handler(std::uint8_t selector, std::string_view in) {
  static constexpr std::array<std::string_view, 8> kMethods{"GET", "GET",     "HEAD", "GET",
                                                            "GET", "OPTIONS", "POST", "HEAD"};
  std::string_view rest = in;
  http::Request rq;
  rq.method = kMethods.at((selector / kParsers) % kMethods.size());
  rq.target = next_line(rest);
  rq.accept = next_line(rest);
  rq.if_none_match = next_line(rest);
  rq.if_modified_since = next_line(rest);
  rq.range = next_line(rest);
  rq.origin = next_line(rest);
  if (rq.method == "OPTIONS") rq.request_method = "GET";
  rq.request_id = "fuzz";
  const auto reply = handler().handle(rq);
  check_reply(reply, in);
  // A conditional repeat with the tag just served is a 304 unless the body changed meanwhile.
  if (rq.method == "GET" && reply.status == 200 && !reply.etag.empty()) {
    http::Request again = rq;
    again.if_none_match = reply.etag;
    const auto second = handler().handle(again);
    check_reply(second, in);
    check(second.status == 304 || second.etag != reply.etag,
          "If-None-Match with the current ETag did not answer 304", in);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (static_cast<Parser>(selector % kParsers)) {
    case kAccept: fuzz_accept(in); break;
    case kRange: fuzz_range(in); break;
    case kIfNoneMatch: fuzz_if_none_match(in); break;
    case kQueryString: fuzz_query(in); break;
    case kHttpDate: fuzz_http_date(in); break;
    case kRfc3339: fuzz_rfc3339(in); break;
    case kHandler: fuzz_handler(selector, in); break;
    case kAcceptEncoding: fuzz_accept_encoding(in); break;
    case kParsers: break;
  }
  return 0;
}
