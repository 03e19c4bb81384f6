// libFuzzer target for the filter language (SPEC §5): the first byte picks the kind (modulo 8),
// the rest is the expression. Compiling must never throw and must fail only with FLT001/FLT002
// and a column inside the text; a program that compiles is run over every item of its kind in a
// fixed swarm, and must agree with itself, with a second compilation, with the filter cache and
// with its negation.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "narwhal/query/filter.hpp"
#include "swarm_fixture.hpp"

namespace {

using namespace narwhal;
using fuzz::check;

constexpr std::size_t kMaxChars = 512;

using Compiled = util::Result<query::FilterPtr, query::FilterError>;

Compiled compile(state::Kind kind, std::string_view text, std::string_view input) {
  try {
    return query::compile_filter(kind, text, kMaxChars);
  } catch (...) {
    fuzz::fail("compile_filter threw", input);
  }
}

// Through a small shared cache, so hits, misses and evictions all happen during a run.
Compiled cached(state::Kind kind, std::string_view text, std::string_view input) {
  static query::FilterCache cache(8, kMaxChars);
  try {
    return cache.get(kind, text);
  } catch (...) {
    fuzz::fail("FilterCache::get threw", input);
  }
}

// The verdict of `program` on every item of `kind`, in table (or stack) order.
std::vector<bool> run(const query::FilterProgram& program, const state::Snapshot& snap,
                      state::Kind kind) {
  std::vector<bool> out;
  if (kind == state::Kind::stack) {
    for (const auto& stack : *snap.stacks) out.push_back(program.matches(snap, stack));
  } else {
    for (const auto& object : snap.table(kind).items) out.push_back(program.matches(snap, *object));
  }
  return out;
}

void check_error(const query::FilterError& e, std::string_view text, std::string_view input) {
  check(e.code == "FLT001" || e.code == "FLT002", "filter error code is not FLT001/FLT002", input);
  check(!e.detail.empty(), "filter error without a detail", input);
  check(e.column <= text.size() + 1, "filter error column past the end of the text", input);
  // Bytes bound characters from above, so a text within the limit in bytes is never "too long".
  if (text.size() <= kMaxChars) check(e.code != "FLT001", "FLT001 for a short text", input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto kind = static_cast<state::Kind>(data[0] % state::kKinds);
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view text = input.substr(1);
  static const state::SnapshotPtr snap = fuzz::fixed_store().snapshot();

  const auto first = compile(kind, text, input);
  const auto second = compile(kind, text, input);
  check(first.has_value() == second.has_value(), "the same text compiled to different verdicts",
        input);
  if (!first) {
    check_error(first.error(), text, input);
    const auto& a = first.error();
    const auto& b = second.error();
    check(a.code == b.code && a.column == b.column && a.detail == b.detail,
          "the same text failed differently twice", input);
    const auto c = cached(kind, text, input);
    check(!c && c.error().code == a.code && c.error().column == a.column &&
              c.error().detail == a.detail,
          "the filter cache's error differs from compile_filter's", input);
    return 0;
  }
  check(first.value() != nullptr && second.value() != nullptr, "compiled to a null program", input);
  check(text.size() <= kMaxChars * 4, "a text far over the limit compiled", input);

  const auto verdicts = run(*first.value(), *snap, kind);
  check(run(*first.value(), *snap, kind) == verdicts, "a program is not deterministic", input);
  check(run(*second.value(), *snap, kind) == verdicts, "two compilations disagree", input);
  const auto c = cached(kind, text, input);
  check(c && run(*c.value(), *snap, kind) == verdicts, "the filter cache disagrees", input);

  // Metamorphic check: the negation matches exactly the other items. Wrapping may cross the
  // length or depth limit, so only a negation that compiles is compared.
  const std::string negated = "!(" + std::string(text) + ")";
  const auto neg = compile(kind, negated, input);
  if (neg) {
    const auto neg_verdicts = run(*neg.value(), *snap, kind);
    check(neg_verdicts.size() == verdicts.size(), "negation saw other items", input);
    for (std::size_t i = 0; i < verdicts.size(); ++i) {
      check(neg_verdicts[i] != verdicts[i], "!(e) and e agree on an item", input);
    }
  } else {
    check_error(neg.error(), negated, input);
  }
  return 0;
}
