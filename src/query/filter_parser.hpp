// The filter grammar of SPEC §5 parsed into an untyped syntax tree. The parser bounds its own
// recursion: nesting (parentheses, `not`, lists) deeper than kMaxFilterDepth is an error found
// before recursing, and `and`/`or` chains are n-ary nodes, so no input can exhaust the stack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "narwhal/query/filter.hpp"
#include "narwhal/util/result.hpp"

namespace narwhal::query::filter {

enum class Syntax : std::uint8_t {
  any,      // or: children
  all,      // and: children
  negate,   // not: one child
  compare,  // children lhs, rhs; `cmp`
  in,       // children: lhs then the list's elements; `negated` for `not in`
  text_op,  // children lhs, rhs; `text_op`
  field,    // `text` is the name
  index,    // field[key]: `text` is the field name, `key` the key
  string,
  number,
  boolean,
  null,
  list,  // children are the elements
};

enum class CmpOp : std::uint8_t { eq, ne, lt, gt, le, ge };
enum class TextOp : std::uint8_t { contains, starts_with, ends_with, matches };

[[nodiscard]] std::string_view spelling(CmpOp op) noexcept;   // "=="
[[nodiscard]] std::string_view spelling(TextOp op) noexcept;  // "startsWith"

struct SyntaxNode {
  Syntax kind = Syntax::null;
  // Where the node is reported: the operator of operator nodes, the first token otherwise.
  std::size_t column = 0;
  CmpOp cmp = CmpOp::eq;
  TextOp text_op = TextOp::contains;
  bool negated = false;
  bool boolean = false;
  double number = 0;
  std::string text;  // field name or string value
  std::string key;   // index
  std::vector<std::uint32_t> children;
};

struct SyntaxTree {
  std::vector<SyntaxNode> nodes;  // children before their parents
  std::uint32_t root = 0;
};

[[nodiscard]] util::Result<SyntaxTree, FilterError> parse_filter(std::string_view text);

}  // namespace narwhal::query::filter
