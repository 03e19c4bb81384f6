#include <doctest/doctest.h>

#include "narwhal/util/hash.hpp"
#include "narwhal/util/text.hpp"
#include "narwhal/util/time.hpp"

using namespace narwhal::util;

TEST_CASE("JSON strings are escaped, control characters included") {
  std::string out;
  append_json_string(out, "a\"b\\c\n\x01");
  CHECK(out == R"("a\"b\\c\n\u0001")");
}

TEST_CASE("JSON strings keep UTF-8 and replace bytes that are not UTF-8") {
  auto json = [](std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
  };
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(json("caf\xC3\xA9 \xE2\x86\x92 \xF0\x9F\x90\xB3") ==
        "\"caf\xC3\xA9 \xE2\x86\x92 \xF0\x9F\x90\xB3\"");
  CHECK(json("a\xFF"
             "b") == "\"a" + fffd + "b\"");                                    // never UTF-8
  CHECK(json("\xC3") == "\"" + fffd + "\"");                                   // cut short
  CHECK(json("\xC0\xAF") == "\"" + fffd + fffd + "\"");                        // overlong '/'
  CHECK(json("\xED\xA0\x80") == "\"" + fffd + fffd + fffd + "\"");             // a surrogate
  CHECK(json("\xF4\x90\x80\x80") == "\"" + fffd + fffd + fffd + fffd + "\"");  // > U+10FFFF
}

TEST_CASE("percent-decoding rejects malformed escapes") {
  CHECK(percent_decode("a%20b+c", true).value() == "a b c");
  CHECK(percent_decode("a+b", false).value() == "a+b");
  CHECK_FALSE(percent_decode("%2", true).has_value());
  CHECK_FALSE(percent_decode("%zz", true).has_value());
  CHECK_FALSE(percent_decode("abc%", true).has_value());
  CHECK(percent_encode("a b/é") == "a%20b%2F%C3%A9");
}

TEST_CASE("parse_uint takes whole decimal numbers only") {
  CHECK(parse_uint("42").value() == 42);
  CHECK_FALSE(parse_uint("").has_value());
  CHECK_FALSE(parse_uint("-1").has_value());
  CHECK_FALSE(parse_uint("1x").has_value());
  CHECK_FALSE(parse_uint("99999999999999999999999").has_value());
}

TEST_CASE("icontains is a case-insensitive substring test") {
  CHECK(icontains("shop_Web", "WEB"));
  CHECK(icontains("anything", ""));
  CHECK_FALSE(icontains("web", "webs"));
}

TEST_CASE("RFC 3339 timestamps of the engine parse to microseconds") {
  CHECK(parse_rfc3339("1970-01-01T00:00:00Z").value() == 0);
  CHECK(parse_rfc3339("2026-11-22T10:02:30.257791417Z").value() == 1795341750257791);
  CHECK(parse_rfc3339("2026-11-22T11:02:30.5+01:00").value() == 1795341750500000);
  CHECK_FALSE(parse_rfc3339("2026-11-22").has_value());
  CHECK_FALSE(parse_rfc3339("2026-13-22T10:02:30Z").has_value());
  CHECK_FALSE(parse_rfc3339("garbage garbage garbage").has_value());
  CHECK(format_rfc3339(1795341750257791) == "2026-11-22T10:02:30.257Z");
}

TEST_CASE("HTTP dates round-trip") {
  const std::int64_t t = 1795341750000000;
  const auto s = format_http_date(t);
  CHECK(s == "Sun, 22 Nov 2026 10:02:30 GMT");
  CHECK(parse_http_date(s).value() == t);
  // RFC 9110 §5.6.7: the obsolete RFC 850 and asctime forms are accepted too.
  CHECK(parse_http_date("Sunday, 22-Nov-26 10:02:30 GMT").value() ==
        parse_http_date("Sun, 22 Nov 2026 10:02:30 GMT").value());
  CHECK(parse_http_date("Sun Nov 22 10:02:30 2026").value() ==
        parse_http_date("Sun, 22 Nov 2026 10:02:30 GMT").value());
  CHECK(parse_http_date("Sun Nov  6 08:49:37 1994").value() ==
        parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").value());
  CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").value() ==
        parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").value());
  CHECK_FALSE(parse_http_date("Sunday, 06-Nov-94 08:49:37 UTC").has_value());
  CHECK_FALSE(parse_http_date("Sun Nov 6 08:49:37 1994").has_value());
  CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37").has_value());
  // found by fuzz_headers: a leap second that rolls into year 10000 could not be written back
  CHECK_FALSE(parse_http_date("Fri, 31 Dec 9999 23:59:60 GMT").has_value());
  CHECK(parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT").has_value());
}

TEST_CASE("ETags depend on the body bytes only") {
  const auto a = strong_etag("{\"a\":1}");
  CHECK(a == strong_etag("{\"a\":1}"));
  CHECK(a != strong_etag("{\"a\":2}"));
  CHECK(a.size() == 34);
  CHECK(a.front() == '"');
  CHECK(a.back() == '"');
}

TEST_CASE("numbers a server clamps saturate; lengths count characters") {
  using narwhal::util::parse_uint_saturating;
  using narwhal::util::utf8_length;
  CHECK(parse_uint_saturating("200").value() == 200);
  CHECK(parse_uint_saturating("9223372036854775808").value() == 9223372036854775808ULL);
  CHECK(parse_uint_saturating("18446744073709551615").value() == UINT64_MAX);
  CHECK(parse_uint_saturating("99999999999999999999").value() == UINT64_MAX);
  CHECK(parse_uint_saturating(std::string(400, '9')).value() == UINT64_MAX);
  CHECK_FALSE(parse_uint_saturating("").has_value());
  CHECK_FALSE(parse_uint_saturating("-1").has_value());
  CHECK_FALSE(parse_uint_saturating("12a").has_value());
  CHECK(utf8_length("abc") == 3);
  CHECK(utf8_length("é") == 1);
  CHECK(utf8_length("名前") == 2);
  CHECK(utf8_length("🐳") == 1);
  // Malformed bytes count one each, so a limit in characters bounds the bytes.
  CHECK(utf8_length(std::string(300, '\x96')) == 300);
  CHECK(utf8_length("\xff\xfe") == 2);
  CHECK(utf8_length("\xe5\x90") == 2);          // truncated three-byte sequence
  CHECK(utf8_length("\xc0\xaf") == 2);          // overlong '/'
  CHECK(utf8_length("\xed\xa0\x80") == 3);      // a surrogate
  CHECK(utf8_length("a\xf0\x9f\x90\xb3" "b") == 3);
}
