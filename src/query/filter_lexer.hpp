// The filter language's tokens (SPEC §5). The lexer is pulled one token at a time by the parser,
// so the first problem in reading order is the one reported. Columns are 1-based byte offsets.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "narwhal/query/filter.hpp"
#include "narwhal/util/result.hpp"

namespace narwhal::query::filter {

enum class Tok : std::uint8_t {
  end,
  ident,  // fields and keywords (and, or, not, in, contains, …, true, false, null)
  string,
  number,
  lparen,
  rparen,
  lbracket,
  rbracket,
  comma,
  eq,
  ne,
  lt,
  gt,
  le,
  ge,
  and_,  // &&
  or_,   // ||
  bang,  // !
};

struct Token {
  Tok kind = Tok::end;
  std::size_t column = 0;  // 1-based
  std::string_view raw;    // the token as written
  std::string text;        // string literals: the decoded value
  double number = 0;
};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}
  [[nodiscard]] util::Result<Token, FilterError> next();

 private:
  [[nodiscard]] util::Result<Token, FilterError> string_literal(std::size_t start);
  [[nodiscard]] util::Result<Token, FilterError> number_literal(std::size_t start);

  std::string_view text_;
  std::size_t pos_ = 0;
};

// FLT002 at a 1-based column; `detail` already names the column.
[[nodiscard]] FilterError syntax_error(std::size_t column, std::string detail);
// `s` in double quotes, with control and non-ASCII bytes escaped, cut after 40 bytes: for details.
[[nodiscard]] std::string quote(std::string_view s);
[[nodiscard]] std::string at_column(std::size_t column);  // " at column N"

}  // namespace narwhal::query::filter
