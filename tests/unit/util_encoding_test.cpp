// Content-coding: every compressed body must come back byte for byte through the decoders that
// browsers and curl use, the same body must always give the same bytes (the response cache and
// replicas depend on it), and choose_coding must follow RFC 9110 §12.5.3.
#define ZLIB_CONST
#include <brotli/decode.h>
#include <doctest/doctest.h>
#include <zlib.h>
#include <zstd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "narwhal/util/encoding.hpp"

using namespace narwhal::util;

namespace {

constexpr std::array<Coding, 3> kCompressed{Coding::gzip, Coding::zstd, Coding::br};
constexpr std::size_t kMiB = 1024 * 1024;

std::optional<std::string> gunzip(std::string_view in) {
  z_stream zs{};
  // 15 + 16: gzip wrapper only, as a browser's "Content-Encoding: gzip" decoder expects.
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return std::nullopt;
  std::string out;
  std::vector<char> buf(64 * 1024);
  zs.next_in = reinterpret_cast<const Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf.data());
    zs.avail_out = static_cast<uInt>(buf.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf.data(), buf.size() - zs.avail_out);
  }
  const bool whole = rc == Z_STREAM_END && zs.avail_in == 0;
  inflateEnd(&zs);
  if (!whole) return std::nullopt;
  return out;
}

// Streaming, with the window limit browsers apply to zstd content-coding (RFC 9659: 8 MiB).
std::optional<std::string> unzstd(std::string_view in) {
  ZSTD_DCtx* d = ZSTD_createDCtx();
  if (d == nullptr) return std::nullopt;
  ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 23);
  std::string out;
  std::vector<char> buf(64 * 1024);
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  bool ok = false;
  for (;;) {
    ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
    const std::size_t r = ZSTD_decompressStream(d, &ob, &ib);
    if (ZSTD_isError(r) != 0U) break;
    out.append(buf.data(), ob.pos);
    if (r == 0) {  // a frame ended: it must be the only one
      ok = ib.pos == ib.size;
      break;
    }
    if (ib.pos == ib.size && ob.pos < ob.size) break;  // truncated
  }
  ZSTD_freeDCtx(d);
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::string> unbrotli(std::string_view in) {
  BrotliDecoderState* s = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
  if (s == nullptr) return std::nullopt;
  std::string out;
  std::vector<std::uint8_t> buf(64 * 1024);
  std::size_t avail_in = in.size();
  const auto* next_in = reinterpret_cast<const std::uint8_t*>(in.data());
  bool ok = false;
  for (;;) {
    std::size_t avail_out = buf.size();
    std::uint8_t* next_out = buf.data();
    const auto r =
        BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out, &next_out, nullptr);
    out.append(reinterpret_cast<const char*>(buf.data()), buf.size() - avail_out);
    if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) continue;
    ok = r == BROTLI_DECODER_RESULT_SUCCESS && avail_in == 0;
    break;
  }
  BrotliDecoderDestroyInstance(s);
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::string> decompress(Coding c, std::string_view in) {
  switch (c) {
    case Coding::identity: return std::string(in);
    case Coding::gzip: return gunzip(in);
    case Coding::zstd: return unzstd(in);
    case Coding::br: return unbrotli(in);
  }
  return std::nullopt;
}

// Something shaped like narwhal's collections: repetitive keys, varying IDs and numbers.
std::string json_body(std::size_t size) {
  std::mt19937 rng(42);
  std::string out = R"({"@context":"/api/context.jsonld","@type":"Collection","items":[)";
  static constexpr char kAlnum[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  for (int i = 0; out.size() < size; ++i) {
    std::string id;
    for (int k = 0; k < 25; ++k) id.push_back(kAlnum[rng() % 36]);
    out += R"({"@id":"/services/)" + id + R"(","@type":"Service","ID":")" + id +
           R"(","Version":{"Index":)" + std::to_string(rng() % 100000) +
           R"(},"Spec":{"Name":"app)" + std::to_string(i) +
           R"(_web","Mode":{"Replicated":{"Replicas":)" + std::to_string(rng() % 9) +
           R"(}}},"serviceStatus":{"runningTasks":)" + std::to_string(rng() % 9) + "}},";
  }
  out.resize(size);
  return out;
}

std::string random_bytes(std::size_t size) {
  std::mt19937_64 rng(7);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xFF);
  return out;
}

// The chosen coding's name, or "none": failures then print as text.
std::string pick(std::string_view header, std::span<const Coding> available) {
  const auto c = choose_coding(header, available);
  return c ? std::string(coding_name(*c)) : std::string("none");
}

}  // namespace

TEST_CASE("coding names are the Content-Encoding tokens") {
  CHECK(coding_name(Coding::identity) == "identity");
  CHECK(coding_name(Coding::gzip) == "gzip");
  CHECK(coding_name(Coding::zstd) == "zstd");
  CHECK(coding_name(Coding::br) == "br");
}

TEST_CASE("every coding round-trips through the real decoders") {
  const std::vector<std::pair<const char*, std::string>> inputs{
      {"empty", ""},
      {"small", R"({"@id":"/services/x","@type":"Service"})"},
      {"1 MiB JSON", json_body(kMiB)},
      {"1 MiB random", random_bytes(kMiB)},
  };
  for (const auto& input : inputs) {
    const auto& in = input.second;
    for (const Coding c : kCompressed) {
      CAPTURE(input.first);
      CAPTURE(coding_name(c));
      const auto packed = compress(c, in);
      CHECK_FALSE(packed.empty());  // even an empty body has a header and an end marker
      const auto back = decompress(c, packed);
      REQUIRE(back.has_value());
      CHECK(back->size() == in.size());
      CHECK(*back == in);
    }
  }
}

TEST_CASE("JSON shrinks, random bytes barely grow") {
  const auto json = json_body(kMiB);
  const auto noise = random_bytes(kMiB);
  for (const Coding c : kCompressed) {
    CAPTURE(coding_name(c));
    CHECK(compress(c, json).size() < json.size() / 2);
    // Stored blocks, not expansion: a few bytes per block at most.
    CHECK(compress(c, noise).size() < noise.size() + noise.size() / 100);
  }
}

TEST_CASE("identity is the body itself") {
  const auto body = json_body(5000);
  CHECK(compress(Coding::identity, body) == body);
  CHECK(compress(Coding::identity, "").empty());
}

TEST_CASE("the same body always compresses to the same bytes") {
  const auto body = json_body(300 * 1024);
  const std::string copy = body;  // another buffer: addresses must not matter
  for (const Coding c : kCompressed) {
    CAPTURE(coding_name(c));
    const auto first = compress(c, body);
    CHECK(compress(c, body) == first);
    CHECK(compress(c, copy) == first);
    CHECK(compress(c, "") == compress(c, ""));
  }
}

TEST_CASE("the gzip header carries no timestamp, no name and a fixed OS byte") {
  for (const std::string_view body : {std::string_view{}, std::string_view{"{\"a\":1}"}}) {
    const auto gz = compress(Coding::gzip, body);
    REQUIRE(gz.size() >= 18);  // 10-byte header, deflate data, CRC-32 and length
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(gz[i]); };
    CHECK(byte(0) == 0x1f);
    CHECK(byte(1) == 0x8b);
    CHECK(byte(2) == 8);  // deflate
    CHECK(byte(3) == 0);  // FLG: no FNAME, FCOMMENT, FEXTRA, FHCRC
    CHECK(byte(4) == 0);  // MTIME
    CHECK(byte(5) == 0);
    CHECK(byte(6) == 0);
    CHECK(byte(7) == 0);
    CHECK(byte(9) == 3);  // OS: Unix, whatever platform zlib was built for
  }
}

TEST_CASE("large zstd bodies stay within the 8 MiB window browsers accept") {
  // Bodies under the window are one segment whose window is the body size; above it, the level's
  // window applies. Both must decode with windowLogMax 23 (unzstd).
  const auto body = json_body(9 * kMiB);
  const auto back = unzstd(compress(Coding::zstd, body));
  REQUIRE(back.has_value());
  CHECK(*back == body);
}

TEST_CASE("corrupt input is caught by the test decoders") {
  // The round-trip checks above are only as good as these decoders' refusal of bad data.
  const auto body = json_body(20000);
  for (const Coding c : kCompressed) {
    CAPTURE(coding_name(c));
    auto packed = compress(c, body);
    CHECK_FALSE(decompress(c, std::string_view(packed).substr(0, packed.size() - 4)).has_value());
    CHECK_FALSE(decompress(c, packed + "garbage").has_value());
  }
}

TEST_CASE("choose_coding follows RFC 9110 §12.5.3") {
  // narwhal's order: the smallest output first.
  constexpr std::array<Coding, 3> kServer{Coding::zstd, Coding::br, Coding::gzip};
  struct Row {
    std::string_view header;
    std::string_view expected;
  };
  constexpr Row kTable[] = {
      // Plain lists.
      {"", "identity"},
      {"gzip", "gzip"},
      {"br", "br"},
      {"zstd", "zstd"},
      {"identity", "identity"},
      {"deflate, compress", "identity"},
      // Exclusions.
      {"gzip;q=0", "identity"},
      {"gzip;q=0.000", "identity"},
      {"*", "gzip"},  // "*" means gzip: clients that send it may decode nothing newer
      {"*;q=0", "none"},
      {"*;q=0, identity", "identity"},
      {"*;q=0, gzip", "gzip"},
      {"identity;q=0", "none"},
      {"gzip, identity;q=0", "gzip"},
      {"deflate, identity;q=0", "none"},
      {"*;q=0.1, zstd;q=0", "gzip"},
      {"*, br;q=0.5", "gzip"},
      {"*;q=0.5, zstd", "zstd"},
      {"gzip, gzip;q=0", "identity"},  // named twice: the lower q-value
      {"x-gzip;q=0, gzip", "identity"},
      // Weights.
      {"gzip;q=0.5, br;q=0.8", "br"},
      {"gzip;q=0.8, br;q=0.5", "gzip"},
      {"gzip;q=0.333, br;q=0.334", "br"},
      {"gzip;q=0.001", "gzip"},  // any named coding beats identity left unnamed
      {"identity;q=0.5, gzip;q=0.4", "identity"},
      {"identity, gzip", "gzip"},  // a tie goes to compression
      {"*;q=0.2, br;q=0.1", "gzip"},
      {"gzip;q=1.000", "gzip"},
      {"gzip;q=1.", "gzip"},
      {"gzip;Q=0.5, br;q=0.4", "gzip"},
      // Ties in the server's order.
      {"gzip, br, zstd", "zstd"},
      {"gzip, br", "br"},
      {"br;q=0.5, gzip;q=0.5", "br"},
      // Names are case-insensitive; x-gzip is gzip.
      {"GZIP", "gzip"},
      {"Br", "br"},
      {"ZSTD;q=0.1, gzip;q=0.05", "zstd"},
      {"x-gzip", "gzip"},
      {"X-GZIP;q=0.9, br;q=0.8", "gzip"},
      {"IDENTITY;Q=0", "none"},
      // Malformed members are ignored, the rest counts.
      {"gzip;q=2", "identity"},
      {"gzip;q=abc", "identity"},
      {"gzip;q=abc, br", "br"},
      {"gzip;q=1.001", "identity"},
      {"gzip;q=0.5555", "identity"},
      {"gzip;q=.5", "identity"},
      {"gzip;q=-0", "identity"},
      {"gzip;q=", "identity"},
      {"gzip;q", "identity"},
      {"gzip;q=0.5;q=1", "identity"},
      {"gzip;q=0;level=9", "identity"},
      {"gz ip, \"br\"", "identity"},
      {";;,", "identity"},
      {"*;q=0, identity;q=x", "none"},
      // Whitespace: OWS around commas and semicolons, empty list elements.
      {"  gzip ; q=0.5 ,\tbr ;q=0.4 ", "gzip"},
      {" , ,gzip,, ", "gzip"},
      // Whitespace around "=" is not RFC 9110 syntax, but "q = 0" must not turn into q=1.
      {"gzip; q = 0", "identity"},
      {"gzip;q= 0.5, br;q=0.6", "br"},
      {"gzip;level=9", "gzip"},
  };
  for (const auto& row : kTable) {
    CAPTURE(row.header);
    CHECK(pick(row.header, kServer) == row.expected);
  }
}

TEST_CASE("choose_coding offers only what the server has") {
  constexpr std::array<Coding, 1> kGzipOnly{Coding::gzip};
  constexpr std::array<Coding, 2> kGzipFirst{Coding::gzip, Coding::br};
  CHECK(pick("br", kGzipOnly) == "identity");
  CHECK(pick("br, identity;q=0", kGzipOnly) == "none");
  CHECK(pick("*", kGzipOnly) == "gzip");
  CHECK(pick("br, gzip", kGzipFirst) == "gzip");
  CHECK(pick("br;q=1, gzip;q=0.9", kGzipFirst) == "br");
  CHECK(pick("gzip", {}) == "identity");
  CHECK(pick("*", {}) == "identity");
  CHECK(pick("*;q=0", {}) == "none");
  // identity in the server's list takes its place in the order.
  constexpr std::array<Coding, 2> kIdentityFirst{Coding::identity, Coding::gzip};
  CHECK(pick("*", kIdentityFirst) == "identity");
  CHECK(pick("gzip", kIdentityFirst) == "gzip");
}

TEST_CASE("choose_coding copes with very long headers in linear time") {
  constexpr std::array<Coding, 3> kServer{Coding::zstd, Coding::br, Coding::gzip};
  std::string many;
  for (int i = 0; i < 100'000; ++i) many += "deflate;q=0.5, ";
  std::string params = "gzip";
  for (int i = 0; i < 100'000; ++i) params += ";a=b";
  const std::vector<std::pair<std::string, std::string_view>> cases{
      {many + "br", "br"},
      {params + ";q=0.4", "gzip"},
      {std::string(kMiB, ','), "identity"},
      {std::string(kMiB, ';'), "identity"},
      {std::string(kMiB, 'a'), "identity"},
      {std::string(kMiB, ' ') + "gzip", "gzip"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.first.size());
    // Linear: a few milliseconds even under sanitizers. A parser that rescans the header per
    // member would take minutes on a million commas, and the suite's timeout would say so: no
    // clock is read here, so a loaded machine cannot fail it.
    CHECK(pick(c.first, kServer) == c.second);
  }
}
