#include "filter_parser.hpp"

#include <array>
#include <limits>
#include <optional>
#include <utility>

#include "filter_lexer.hpp"
#include "narwhal/util/text.hpp"

namespace narwhal::query::filter {

std::string_view spelling(CmpOp op) noexcept {
  switch (op) {
    case CmpOp::eq: return "==";
    case CmpOp::ne: return "!=";
    case CmpOp::lt: return "<";
    case CmpOp::gt: return ">";
    case CmpOp::le: return "<=";
    case CmpOp::ge: return ">=";
  }
  return "?";
}

std::string_view spelling(TextOp op) noexcept {
  switch (op) {
    case TextOp::contains: return "contains";
    case TextOp::starts_with: return "startsWith";
    case TextOp::ends_with: return "endsWith";
    case TextOp::matches: return "matches";
  }
  return "?";
}

namespace {

constexpr std::uint32_t kFailed = std::numeric_limits<std::uint32_t>::max();

constexpr std::array<std::string_view, 11> kKeywords{
    "and",      "or",      "not",  "in",    "contains", "startsWith",
    "endsWith", "matches", "true", "false", "null"};

bool is_keyword(std::string_view word) {
  for (const auto k : kKeywords) {
    if (k == word) return true;
  }
  return false;
}

// `AND`, `Contains`: a keyword in the wrong case is a likely slip worth naming.
std::string keyword_hint(std::string_view word) {
  for (const auto k : kKeywords) {
    if (k != word && util::iequals(k, word)) return "; did you mean \"" + std::string(k) + "\"?";
  }
  return {};
}

std::optional<CmpOp> cmp_of(Tok t) {
  switch (t) {
    case Tok::eq: return CmpOp::eq;
    case Tok::ne: return CmpOp::ne;
    case Tok::lt: return CmpOp::lt;
    case Tok::gt: return CmpOp::gt;
    case Tok::le: return CmpOp::le;
    case Tok::ge: return CmpOp::ge;
    default: return std::nullopt;
  }
}

std::optional<TextOp> text_op_of(const Token& t) {
  if (t.kind != Tok::ident) return std::nullopt;
  if (t.raw == "contains") return TextOp::contains;
  if (t.raw == "startsWith") return TextOp::starts_with;
  if (t.raw == "endsWith") return TextOp::ends_with;
  if (t.raw == "matches") return TextOp::matches;
  return std::nullopt;
}

bool is_word(const Token& t, std::string_view word) {
  return t.kind == Tok::ident && t.raw == word;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : lex_(text) {}

  util::Result<SyntaxTree, FilterError> run() {
    if (!advance()) return fail();
    if (cur_.kind == Tok::end) {
      return util::Unexpected{syntax_error(
          1, "the filter is empty at column 1: write a condition such as state == \"running\"")};
    }
    const std::uint32_t root = parse_or();
    if (root == kFailed) return fail();
    if (cur_.kind != Tok::end) {
      return util::Unexpected{
          syntax_error(cur_.column, "unexpected " + found() + at_column(cur_.column) +
                                        " after a complete condition" + keyword_hint(cur_.raw))};
    }
    tree_.root = root;
    return std::move(tree_);
  }

 private:
  // Nesting is counted before recursing, so 100 000 '(' stop at the 65th.
  class Nest {
   public:
    explicit Nest(Parser& p) : p_(p) { ++p_.depth_; }
    ~Nest() { --p_.depth_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;

   private:
    Parser& p_;
  };

  util::Result<SyntaxTree, FilterError> fail() { return util::Unexpected{std::move(*error_)}; }

  std::uint32_t error(std::size_t column, std::string detail) {
    error_ = syntax_error(column, std::move(detail));
    return kFailed;
  }

  bool advance() {
    auto t = lex_.next();
    if (!t) {
      error_ = std::move(t).error();
      return false;
    }
    cur_ = std::move(*t);
    return true;
  }

  [[nodiscard]] std::string found() const {
    return cur_.kind == Tok::end ? std::string("the end of the filter") : quote(cur_.raw);
  }

  bool too_deep() {
    if (depth_ < kMaxFilterDepth) return false;
    error(cur_.column, "the filter nests deeper than " + std::to_string(kMaxFilterDepth) +
                           " levels (parentheses, not, lists)" + at_column(cur_.column));
    return true;
  }

  std::uint32_t add(SyntaxNode n) {
    tree_.nodes.push_back(std::move(n));
    return static_cast<std::uint32_t>(tree_.nodes.size() - 1);
  }

  // or := and (("||" | "or") and)*   — and the same shape one level down.
  std::uint32_t parse_chain(Syntax kind, Tok symbol, std::string_view word) {
    const bool is_or = kind == Syntax::any;
    const std::uint32_t first = is_or ? parse_chain(Syntax::all, Tok::and_, "and") : parse_not();
    if (first == kFailed) return kFailed;
    if (cur_.kind != symbol && !is_word(cur_, word)) return first;
    SyntaxNode n;
    n.kind = kind;
    n.column = cur_.column;
    n.children.push_back(first);
    while (cur_.kind == symbol || is_word(cur_, word)) {
      if (!advance()) return kFailed;
      const std::uint32_t next = is_or ? parse_chain(Syntax::all, Tok::and_, "and") : parse_not();
      if (next == kFailed) return kFailed;
      n.children.push_back(next);
    }
    return add(std::move(n));
  }

  std::uint32_t parse_or() { return parse_chain(Syntax::any, Tok::or_, "or"); }

  // not := ("!" | "not") not | cmp
  std::uint32_t parse_not() {
    if (cur_.kind != Tok::bang && !is_word(cur_, "not")) return parse_cmp();
    if (too_deep()) return kFailed;
    const Nest nest(*this);
    SyntaxNode n;
    n.kind = Syntax::negate;
    n.column = cur_.column;
    if (!advance()) return kFailed;
    const std::uint32_t child = parse_not();
    if (child == kFailed) return kFailed;
    n.children.push_back(child);
    return add(std::move(n));
  }

  // cmp := sum (op sum | "not"? "in" list | text-op sum)?
  std::uint32_t parse_cmp() {
    const std::uint32_t lhs = parse_atom();
    if (lhs == kFailed) return kFailed;
    SyntaxNode n;
    n.column = cur_.column;
    if (const auto op = cmp_of(cur_.kind)) {
      n.kind = Syntax::compare;
      n.cmp = *op;
    } else if (const auto top = text_op_of(cur_)) {
      n.kind = Syntax::text_op;
      n.text_op = *top;
    } else if (is_word(cur_, "not") || is_word(cur_, "in")) {
      n.kind = Syntax::in;
      if (is_word(cur_, "not")) {
        n.negated = true;
        if (!advance()) return kFailed;
        if (!is_word(cur_, "in")) {
          return error(cur_.column, "expected \"in\" after \"not\"" + at_column(cur_.column) +
                                        " but found " + found());
        }
      }
    } else {
      return lhs;
    }
    if (!advance()) return kFailed;
    if (n.kind == Syntax::in && cur_.kind != Tok::lbracket) {
      return error(cur_.column, "expected a list like [\"a\", \"b\"] after \"in\"" +
                                    at_column(cur_.column) + " but found " + found());
    }
    const std::uint32_t rhs = parse_atom();
    if (rhs == kFailed) return kFailed;
    n.children = {lhs, rhs};
    if (cmp_of(cur_.kind) || text_op_of(cur_) || is_word(cur_, "in")) {
      return error(cur_.column, "comparisons do not chain: " + found() + at_column(cur_.column) +
                                    " follows a complete comparison; join comparisons with &&");
    }
    return add(std::move(n));
  }

  // atom := field | field "[" string "]" | string | number | true | false | null | list
  //       | "(" expr ")"
  std::uint32_t parse_atom() {
    SyntaxNode n;
    n.column = cur_.column;
    switch (cur_.kind) {
      case Tok::string:
        n.kind = Syntax::string;
        n.text = std::move(cur_.text);
        break;
      case Tok::number:
        n.kind = Syntax::number;
        n.number = cur_.number;
        break;
      case Tok::lbracket: return parse_list();
      case Tok::lparen: return parse_group();
      case Tok::ident:
        if (cur_.raw == "true" || cur_.raw == "false") {
          n.kind = Syntax::boolean;
          n.boolean = cur_.raw == "true";
        } else if (cur_.raw == "null") {
          n.kind = Syntax::null;
        } else if (!is_keyword(cur_.raw)) {
          return parse_field();
        } else {
          return error(cur_.column, "expected a field, a value or \"(\"" + at_column(cur_.column) +
                                        " but found the keyword " + found());
        }
        break;
      default:
        return error(cur_.column, "expected a field, a value or \"(\"" + at_column(cur_.column) +
                                      " but found " + found());
    }
    if (!advance()) return kFailed;
    return add(std::move(n));
  }

  std::uint32_t parse_field() {
    SyntaxNode n;
    n.kind = Syntax::field;
    n.column = cur_.column;
    n.text = std::string(cur_.raw);
    if (!advance()) return kFailed;
    if (cur_.kind != Tok::lbracket) return add(std::move(n));
    n.kind = Syntax::index;
    if (!advance()) return kFailed;
    if (cur_.kind != Tok::string) {
      return error(cur_.column, "expected a string key in " + n.text + "[...]" +
                                    at_column(cur_.column) + " but found " + found());
    }
    n.key = std::move(cur_.text);
    if (!advance()) return kFailed;
    if (cur_.kind != Tok::rbracket) {
      return error(cur_.column, "expected \"]\" after the key of " + n.text + "[...]" +
                                    at_column(cur_.column) + " but found " + found());
    }
    if (!advance()) return kFailed;
    return add(std::move(n));
  }

  std::uint32_t parse_group() {
    if (too_deep()) return kFailed;
    const Nest nest(*this);
    const std::size_t open = cur_.column;
    if (!advance()) return kFailed;
    const std::uint32_t inner = parse_or();
    if (inner == kFailed) return kFailed;
    if (cur_.kind != Tok::rparen) {
      return error(cur_.column, "expected \")\" to close the \"(\" at column " +
                                    std::to_string(open) + ", but found " + found() +
                                    at_column(cur_.column) + keyword_hint(cur_.raw));
    }
    if (!advance()) return kFailed;
    return inner;
  }

  // list := "[" (atom ("," atom)*)? "]"
  std::uint32_t parse_list() {
    if (too_deep()) return kFailed;
    const Nest nest(*this);
    SyntaxNode n;
    n.kind = Syntax::list;
    n.column = cur_.column;
    if (!advance()) return kFailed;
    if (cur_.kind != Tok::rbracket) {
      while (true) {
        if (n.children.size() == kMaxFilterList) {
          return error(cur_.column, "a list holds at most " + std::to_string(kMaxFilterList) +
                                        " elements; element " + std::to_string(kMaxFilterList + 1) +
                                        " starts" + at_column(cur_.column));
        }
        const std::uint32_t element = parse_atom();
        if (element == kFailed) return kFailed;
        n.children.push_back(element);
        if (cur_.kind == Tok::rbracket) break;
        if (cur_.kind != Tok::comma) {
          return error(cur_.column, "expected \",\" or \"]\" in the list opened at column " +
                                        std::to_string(n.column) + ", but found " + found() +
                                        at_column(cur_.column));
        }
        if (!advance()) return kFailed;
      }
    }
    if (!advance()) return kFailed;
    return add(std::move(n));
  }

  Lexer lex_;
  Token cur_;
  SyntaxTree tree_;
  std::size_t depth_ = 0;
  std::optional<FilterError> error_;
};

}  // namespace

util::Result<SyntaxTree, FilterError> parse_filter(std::string_view text) {
  return Parser(text).run();
}

}  // namespace narwhal::query::filter
