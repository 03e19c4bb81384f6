// HTTP content-coding (RFC 9110 §8.4, §12.5.3): choosing a coding from Accept-Encoding, and
// compressing a rendered body with it. compress() is deterministic: the same body and coding give
// the same bytes, so a response compressed once can be cached and served to every client.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace narwhal::util {

enum class Coding : std::uint8_t { identity, gzip, zstd, br };

// The coding's token as Content-Encoding spells it: "identity", "gzip", "zstd", "br".
[[nodiscard]] std::string_view coding_name(Coding c) noexcept;

// The coding to answer with, or nullopt when the client accepts none (not even identity): a 406
// or an uncompressed answer is then the caller's call. `available` is the server's preference
// order; the highest q-value wins and ties go to the earlier coding in `available` (identity
// comes after them all unless `available` lists it). identity is acceptable unless "identity;q=0",
// or "*;q=0" without an identity member, excludes it; when the header does not name it, it ranks
// below every coding the client names, so "gzip;q=0.1" still gets gzip. An empty header (or one
// whose members are all malformed) means identity. Members with a malformed q-value are ignored;
// "x-gzip" is gzip; names are case-insensitive; a coding named twice gets the lower q-value. Linear
// in the header's length, no allocation.
[[nodiscard]] std::optional<Coding> choose_coding(std::string_view accept_encoding,
                                                  std::span<const Coding> available) noexcept;

// `in` compressed with `c` (identity: a copy). The output depends only on `in`, `c` and the
// codec libraries' versions. Throws std::runtime_error when a codec fails, which with narwhal's
// fixed parameters means it could not allocate memory, and std::length_error for gzip input of
// 4 GiB or more (zlib's limit for one call).
[[nodiscard]] std::string compress(Coding c, std::string_view in);

}  // namespace narwhal::util
