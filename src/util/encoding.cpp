#include "narwhal/util/encoding.hpp"

#define ZLIB_CONST  // next_in is then a pointer to const: no const_cast of the body
#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <limits>
#include <memory>
#include <stdexcept>

#include "narwhal/util/text.hpp"

namespace narwhal::util {

std::string_view coding_name(Coding c) noexcept {
  switch (c) {
    case Coding::identity: return "identity";
    case Coding::gzip: return "gzip";
    case Coding::zstd: return "zstd";
    case Coding::br: return "br";
  }
  return {};
}

namespace {

constexpr std::size_t kCodings = 4;

constexpr std::size_t index_of(Coding c) noexcept {
  return static_cast<std::size_t>(c);
}

// A q-value in thousandths: RFC 9110 allows at most three decimals, so integers compare exactly.
// kUnnamed marks a coding the header does not mention.
using Weight = int;
constexpr Weight kUnnamed = -1;

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
std::optional<Weight> parse_qvalue(std::string_view s) noexcept {
  if (s.empty() || (s[0] != '0' && s[0] != '1')) return std::nullopt;
  Weight w = (s[0] - '0') * 1000;
  if (s.size() == 1) return w;
  if (s[1] != '.' || s.size() > 5) return std::nullopt;
  Weight scale = 100;
  for (const char c : s.substr(2)) {
    if (c < '0' || c > '9') return std::nullopt;
    w += (c - '0') * scale;
    scale /= 10;
  }
  if (w > 1000) return std::nullopt;
  return w;
}

// What the client said about each coding and about "*".
struct Preferences {
  std::array<Weight, kCodings> named{kUnnamed, kUnnamed, kUnnamed, kUnnamed};
  Weight wildcard = kUnnamed;
};

// A coding named twice keeps the lower q-value: sending a coding the client refused somewhere in
// its header could break it, while not compressing never does.
void record(Weight& slot, Weight w) noexcept {
  slot = slot == kUnnamed ? w : std::min(slot, w);
}

// One list member: `coding *( OWS ";" OWS parameter )`. A malformed q-value, or a second one,
// drops the member; other parameters are ignored, as RFC 9110 defines none for content codings
// and a client that sends one still wants the coding. Names that are not tokens match no coding
// narwhal knows, so they need no check of their own.
void parse_member(std::string_view member, Preferences& prefs) noexcept {
  auto semi = member.find(';');
  const auto name = trim(member.substr(0, semi));
  Weight w = 1000;
  bool has_q = false;
  while (semi != std::string_view::npos) {
    member.remove_prefix(semi + 1);
    semi = member.find(';');
    const auto param = member.substr(0, semi);
    const auto eq = param.find('=');
    if (!iequals(trim(param.substr(0, eq)), "q")) continue;
    // Whitespace around "=" is tolerated: "q = 0" must still exclude the coding.
    const auto q =
        eq == std::string_view::npos ? std::nullopt : parse_qvalue(trim(param.substr(eq + 1)));
    if (!q || has_q) return;
    w = *q;
    has_q = true;
  }
  if (name == "*") {
    record(prefs.wildcard, w);
  } else if (iequals(name, "identity")) {
    record(prefs.named[index_of(Coding::identity)], w);
  } else if (iequals(name, "gzip") || iequals(name, "x-gzip")) {
    record(prefs.named[index_of(Coding::gzip)], w);
  } else if (iequals(name, "zstd")) {
    record(prefs.named[index_of(Coding::zstd)], w);
  } else if (iequals(name, "br")) {
    record(prefs.named[index_of(Coding::br)], w);
  }
}

}  // namespace

std::optional<Coding> choose_coding(std::string_view accept_encoding,
                                    std::span<const Coding> available) noexcept {
  Preferences prefs;
  while (!accept_encoding.empty()) {
    const auto comma = accept_encoding.find(',');
    parse_member(accept_encoding.substr(0, comma), prefs);
    accept_encoding.remove_prefix(comma == std::string_view::npos ? accept_encoding.size()
                                                                  : comma + 1);
  }
  // Scores: the q-value in thousandths for what the client named (directly or through "*"), 0 for
  // identity left unnamed, so that any coding the client asks for, however low its q, beats it.
  std::optional<Coding> best;
  Weight best_score = 0;
  const auto consider = [&](Coding c) {
    if (index_of(c) >= kCodings) return;
    Weight w = prefs.named[index_of(c)];
    // "*" stands for gzip (and identity) only: real clients that send it, such as Prism's proxy,
    // decode nothing newer. zstd and br go only to clients that name them.
    if (w == kUnnamed && (c == Coding::gzip || c == Coding::identity)) w = prefs.wildcard;
    Weight score = w;
    if (w == kUnnamed) {
      if (c != Coding::identity) return;
      score = 0;
    } else if (w == 0) {
      return;
    }
    if (!best || score > best_score) {
      best = c;
      best_score = score;
    }
  };
  bool identity_offered = false;
  for (const Coding c : available) {
    consider(c);
    identity_offered = identity_offered || c == Coding::identity;
  }
  // The body itself is always available, after every coding the server prefers.
  if (!identity_offered) consider(Coding::identity);
  return best;
}

namespace {

// Levels: a rendered body is compressed once per change of the state it shows and then served
// from the cache to every client that asks, so ratio matters more than speed, up to the point
// where the first request after a change waits noticeably. Measured on narwhal's own
// /services?limit=200 bodies (demo swarm, cut to 100 KiB; thread CPU time, median of 41, g++ 12
// -O2, zlib 1.2.13, zstd 1.5.4, brotli 1.0.9, a busy 2-core VM):
//   gzip   6: 9039 B  0.68 ms   8: 8893 B  1.29 ms   9: 8888 B  1.37 ms
//   zstd   3: 7081 B  0.07 ms  10: 6847 B  0.46 ms  12: 6842 B  1.12 ms  15: 6775 B  6.7 ms
//   br     5: 6845 B  0.52 ms   6: 6827 B  0.57 ms   8: 6828 B  0.80 ms   9: 6828 B  10.6 ms
// gzip 8 is within 0.1% of 9 and a little faster; zstd 10 is where the curve flattens (12 gains
// 0.1% for twice the time, 15 and up cost 15-50x for 1-2%); brotli 6 is as small as 8 here, while
// 7 and 9 took milliseconds more on our bodies without getting smaller. On 270 KiB bodies the same
// levels keep their ranks (gzip 8 ~3.7 ms, zstd 10 ~1.1 ms, br 6 ~1.5 ms).
constexpr int kGzipLevel = 8;
constexpr int kZstdLevel = 10;
constexpr int kBrotliQuality = 6;
// Windows: browsers refuse zstd windows over 8 MiB (RFC 9659); zstd 10 uses at most 4 MiB
// (levels up to 19 stay within 8 MiB, 20 and up do not). brotli gets its default 4 MiB, which
// bounds what a client must hold to decode our largest bodies.
constexpr int kBrotliWindowBits = 22;
// RFC 1952's OS field for Unix, as gzip(1) and nginx write it; set explicitly because zlib's
// default depends on the platform it was built for, and replicas should agree byte for byte.
constexpr int kGzipOsUnix = 3;

std::string gzip(std::string_view in) {
  if (in.size() >= std::numeric_limits<uInt>::max()) {
    throw std::length_error("gzip: body of 4 GiB or more");
  }
  z_stream zs{};
  // windowBits 15 + 16: the gzip wrapper (RFC 1952) rather than zlib's; memLevel 8 is zlib's
  // default (9 saved 0 bytes on the 100 KiB body, 0.1-0.2% on 270 KiB ones).
  if (deflateInit2(&zs, kGzipLevel, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("gzip: cannot initialise deflate (out of memory)");
  }
  const std::unique_ptr<z_stream, decltype(&deflateEnd)> end(&zs, &deflateEnd);
  // No timestamp, no file name, a fixed OS byte: the header is the same for every body.
  gz_header header{};
  header.os = kGzipOsUnix;
  if (deflateSetHeader(&zs, &header) != Z_OK) throw std::runtime_error("gzip: header rejected");

  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())), '\0');
  if (out.size() >= std::numeric_limits<uInt>::max()) {
    throw std::length_error("gzip: body of 4 GiB or more");
  }
  zs.next_in = reinterpret_cast<const Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  // deflateBound() is enough for one Z_FINISH call to finish the stream.
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("gzip: deflate failed");
  out.resize(zs.total_out);
  return out;
}

std::string zstd(std::string_view in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), kZstdLevel);
  if (ZSTD_isError(n) != 0U) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

std::string brotli(std::string_view in) {
  std::size_t n = BrotliEncoderMaxCompressedSize(in.size());
  // 0 means the bound overflowed; an empty input still needs its two bytes.
  if (n == 0 && !in.empty()) throw std::runtime_error("br: body too large");
  if (n < 2) n = 2;
  std::string out(n, '\0');
  if (BrotliEncoderCompress(kBrotliQuality, kBrotliWindowBits, BROTLI_DEFAULT_MODE, in.size(),
                            reinterpret_cast<const std::uint8_t*>(in.data()), &n,
                            reinterpret_cast<std::uint8_t*>(out.data())) == BROTLI_FALSE) {
    throw std::runtime_error("br: compression failed (out of memory)");
  }
  out.resize(n);
  return out;
}

}  // namespace

std::string compress(Coding c, std::string_view in) {
  switch (c) {
    case Coding::identity: return std::string(in);
    case Coding::gzip: return gzip(in);
    case Coding::zstd: return zstd(in);
    case Coding::br: return brotli(in);
  }
  throw std::invalid_argument("compress: not a content coding");
}

}  // namespace narwhal::util
