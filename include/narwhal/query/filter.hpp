// The filter language of SPEC §5: a small, closed, statically typed expression language compiled
// once (lexer → parser → typed AST checked against the resource's field table) into a program
// that evaluates per item without allocating. Compiled programs are cached (LRU) by (kind, text).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "narwhal/state/snapshot.hpp"
#include "narwhal/util/result.hpp"

namespace narwhal::query {

inline constexpr std::size_t kMaxFilterDepth = 64;
inline constexpr std::size_t kMaxFilterList = 1024;

struct FilterError {
  std::string code;    // FLT001 (too long) or FLT002 (anything else)
  std::size_t column;  // 1-based column of the problem in the expression (0 = whole text)
  std::string detail;  // e.g. `unknown field "stat" at column 1; did you mean "state"?`
};

class FilterProgram {
 public:
  virtual ~FilterProgram() = default;
  // For engine objects of the program's kind.
  [[nodiscard]] virtual bool matches(const state::Snapshot& snap,
                                     const state::Object& object) const = 0;
  // For stacks (kind == stack).
  [[nodiscard]] virtual bool matches(const state::Snapshot& snap,
                                     const state::Stack& stack) const = 0;
};
using FilterPtr = std::shared_ptr<const FilterProgram>;

// Compiles `text` for items of `kind`. Over `max_chars` → FLT001; everything else → FLT002.
[[nodiscard]] util::Result<FilterPtr, FilterError> compile_filter(state::Kind kind,
                                                                  std::string_view text,
                                                                  std::size_t max_chars = 512);

// A thread-safe LRU of compiled programs keyed by (kind, text). Errors are cached too.
class FilterCache {
 public:
  explicit FilterCache(std::size_t capacity = 256, std::size_t max_chars = 512);
  ~FilterCache();
  FilterCache(const FilterCache&) = delete;
  FilterCache& operator=(const FilterCache&) = delete;

  [[nodiscard]] util::Result<FilterPtr, FilterError> get(state::Kind kind, std::string_view text);
  // The cached result for `text` (a compiled filter or its error), without compiling anything:
  // nullopt when it is not cached.
  [[nodiscard]] std::optional<util::Result<FilterPtr, FilterError>> find(state::Kind kind,
                                                                         std::string_view text);
  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] std::uint64_t compilations() const;  // misses, for tests

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace narwhal::query
