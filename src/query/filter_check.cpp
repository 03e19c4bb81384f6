#include "filter_check.hpp"

#include <re2/re2.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "filter_eval.hpp"
#include "filter_fields.hpp"
#include "filter_lexer.hpp"
#include "narwhal/util/text.hpp"

namespace narwhal::query {

namespace {
constexpr std::int64_t kRegexMemoryBudget = 256 * 1024;
}  // namespace

namespace filter {

namespace {

// A lowered operand: where it is, its type, and how messages name it.
struct Typed {
  std::uint32_t node = 0;
  Type type = Type::null;  // Type::null only for the `null` literal
  bool nullable = false;   // a field that is null for some items
  std::size_t column = 0;
  std::string what;  // `number field "slot"`, `a string`, `a condition`
};

std::string article(Type t) {
  switch (t) {
    case Type::null: return "null";
    case Type::boolean: return "a boolean";
    case Type::number: return "a number";
    case Type::string: return "a string";
    case Type::list: return "a list";
    case Type::map: return "a map";
  }
  return "?";
}

std::string join_field_names(state::Kind kind) {
  std::string out;
  for (const Field& f : fields_of(kind)) {
    if (!out.empty()) out += ", ";
    out += f.name;
  }
  return out;
}

class Checker {
 public:
  Checker(state::Kind kind, const SyntaxTree& tree) : kind_(kind), tree_(tree) {}

  util::Result<FilterPtr, FilterError> run() {
    const auto root = lower(tree_.root);
    if (!root) return fail();
    if (root->type != Type::boolean) {
      return util::Unexpected{syntax_error(
          root->column, "the filter must be a condition (true or false), but " + root->what +
                            at_column(root->column) + " is " + article(root->type) +
                            "; compare it with ==, !=, <, >, in, contains, startsWith, endsWith "
                            "or matches")};
    }
    return FilterPtr(std::make_shared<const Program>(kind_, std::move(nodes_), std::move(kids_),
                                                     std::move(regexes_), root->node));
  }

 private:
  util::Result<FilterPtr, FilterError> fail() { return util::Unexpected{std::move(*error_)}; }

  std::nullopt_t error(std::size_t column, std::string detail) {
    error_ = syntax_error(column, std::move(detail));
    return std::nullopt;
  }

  std::uint32_t emit(Node n, const std::vector<std::uint32_t>& children) {
    n.first = static_cast<std::uint32_t>(kids_.size());
    n.count = static_cast<std::uint32_t>(children.size());
    kids_.insert(kids_.end(), children.begin(), children.end());
    nodes_.push_back(std::move(n));
    return static_cast<std::uint32_t>(nodes_.size() - 1);
  }

  Typed condition(const SyntaxNode& s, Node n, const std::vector<std::uint32_t>& children) {
    return Typed{emit(std::move(n), children), Type::boolean, false, s.column, "a condition"};
  }

  std::optional<Typed> lower(std::uint32_t index) {
    const SyntaxNode& s = tree_.nodes[index];
    switch (s.kind) {
      case Syntax::any:
      case Syntax::all: return lower_chain(s);
      case Syntax::negate: return lower_negate(s);
      case Syntax::compare: return lower_compare(s);
      case Syntax::in: return lower_in(s);
      case Syntax::text_op: return lower_text_op(s);
      case Syntax::field:
      case Syntax::index: return lower_field(s);
      case Syntax::list:
        return error(s.column, "a list" + at_column(s.column) +
                                   " can only follow \"in\", as in state in [\"running\", "
                                   "\"failed\"]");
      case Syntax::string:
      case Syntax::number:
      case Syntax::boolean:
      case Syntax::null: return lower_literal(s);
    }
    return error(s.column, "unexpected syntax" + at_column(s.column));
  }

  std::optional<Typed> lower_literal(const SyntaxNode& s) {
    Node n;
    n.op = Op::literal;
    switch (s.kind) {
      case Syntax::string:
        n.type = Type::string;
        n.text = s.text;
        break;
      case Syntax::number:
        n.type = Type::number;
        n.number = s.number;
        break;
      case Syntax::boolean:
        n.type = Type::boolean;
        n.boolean = s.boolean;
        break;
      default: n.type = Type::null; break;
    }
    const Type t = n.type;
    return Typed{emit(std::move(n), {}), t, false, s.column, article(t)};
  }

  std::optional<Typed> lower_field(const SyntaxNode& s) {
    const Field* f = find_field(kind_, s.text);
    if (f == nullptr) {
      std::string detail = "unknown field " + quote(s.text) + at_column(s.column);
      if (const auto near = suggest_field(kind_, s.text); !near.empty()) {
        detail += "; did you mean " + quote(near) + "?";
      } else {
        detail +=
            "; " + std::string(state::kind_collection(kind_)) + " have: " + join_field_names(kind_);
      }
      return error(s.column, std::move(detail));
    }
    if (s.kind == Syntax::index) {
      if (f->type != Type::map) {
        return error(s.column, std::string(type_name(f->type)) + " field " + quote(f->name) +
                                   at_column(s.column) +
                                   " is not a map; only labels takes a [\"key\"]");
      }
      Node n;
      n.op = Op::label;
      n.text = s.key;
      return Typed{emit(std::move(n), {}), Type::string, false, s.column,
                   "labels[" + quote(s.key) + "]"};
    }
    if (f->type == Type::map) {
      return error(s.column, "field " + quote(f->name) + at_column(s.column) +
                                 " is a map; read one entry with " + std::string(f->name) +
                                 "[\"key\"]");
    }
    Node n;
    n.op = f->member != nullptr ? Op::member : Op::field;
    n.get = f->get;
    n.member = f->member;
    return Typed{emit(std::move(n), {}), f->type, f->nullable, s.column,
                 std::string(type_name(f->type)) + " field " + quote(f->name)};
  }

  std::optional<Typed> lower_chain(const SyntaxNode& s) {
    const std::string_view word = s.kind == Syntax::any ? "or" : "and";
    std::vector<std::uint32_t> children;
    for (const std::uint32_t c : s.children) {
      const auto t = lower(c);
      if (!t) return std::nullopt;
      if (t->type != Type::boolean) {
        return error(t->column, "\"" + std::string(word) + "\"" + at_column(s.column) +
                                    " joins conditions, but " + t->what + at_column(t->column) +
                                    " is " + article(t->type));
      }
      children.push_back(t->node);
    }
    Node n;
    n.op = s.kind == Syntax::any ? Op::any : Op::all;
    return condition(s, std::move(n), children);
  }

  std::optional<Typed> lower_negate(const SyntaxNode& s) {
    const auto t = lower(s.children.at(0));
    if (!t) return std::nullopt;
    if (t->type != Type::boolean) {
      return error(t->column, "\"not\"" + at_column(s.column) + " needs a condition, but " +
                                  t->what + at_column(t->column) + " is " + article(t->type));
    }
    Node n;
    n.op = Op::negate;
    return condition(s, std::move(n), {t->node});
  }

  std::optional<Typed> lower_compare(const SyntaxNode& s) {
    const auto lhs = lower(s.children.at(0));
    if (!lhs) return std::nullopt;
    const auto rhs = lower(s.children.at(1));
    if (!rhs) return std::nullopt;
    const std::string op(spelling(s.cmp));
    const bool equality = s.cmp == CmpOp::eq || s.cmp == CmpOp::ne;
    const std::string mismatch =
        "cannot compare " + lhs->what + " with " + rhs->what + at_column(s.column);
    if (lhs->type == Type::null || rhs->type == Type::null) {
      if (!equality) {
        return error(s.column, "\"" + op + "\"" + at_column(s.column) +
                                   " orders numbers or strings; null has no order");
      }
      const Typed& other = lhs->type == Type::null ? *rhs : *lhs;
      if (other.type != Type::null && !other.nullable) {
        return error(s.column, mismatch + ": it is never null" +
                                   (other.type == Type::string ? "; test for \"\" instead" : ""));
      }
    } else if (lhs->type != rhs->type) {
      return error(s.column, mismatch);
    } else if (!equality && lhs->type == Type::boolean) {
      return error(s.column, "\"" + op + "\"" + at_column(s.column) +
                                 " orders numbers or strings, not booleans");
    }
    if (auto fused = fuse_member_compare(s.cmp, *lhs, *rhs))
      return condition(s, std::move(*fused), {});
    Node n;
    switch (s.cmp) {
      case CmpOp::eq: n.op = Op::eq; break;
      case CmpOp::ne: n.op = Op::ne; break;
      case CmpOp::lt: n.op = Op::lt; break;
      case CmpOp::gt: n.op = Op::gt; break;
      case CmpOp::le: n.op = Op::le; break;
      case CmpOp::ge: n.op = Op::ge; break;
    }
    return condition(s, std::move(n), {lhs->node, rhs->node});
  }

  // `member == "literal"` (either way round) as a single node.
  std::optional<Node> fuse_member_compare(CmpOp op, const Typed& lhs, const Typed& rhs) const {
    if (op != CmpOp::eq && op != CmpOp::ne) return std::nullopt;
    const Node& a = nodes_[lhs.node];
    const Node& b = nodes_[rhs.node];
    const Node* member = a.op == Op::member ? &a : (b.op == Op::member ? &b : nullptr);
    const Node* other = member == &a ? &b : &a;
    if (member == nullptr || other->op != Op::literal || other->type != Type::string) {
      return std::nullopt;
    }
    Node n;
    n.op = op == CmpOp::eq ? Op::member_eq : Op::member_ne;
    n.member = member->member;
    n.text = other->text;
    return n;
  }

  std::optional<Typed> lower_in(const SyntaxNode& s) {
    const auto lhs = lower(s.children.at(0));
    if (!lhs) return std::nullopt;
    const SyntaxNode& list = tree_.nodes[s.children.at(1)];
    std::vector<std::uint32_t> children{lhs->node};
    for (const std::uint32_t c : list.children) {
      const auto e = lower(c);
      if (!e) return std::nullopt;
      const bool fits = e->type == lhs->type ||
                        (e->type == Type::null && (lhs->nullable || e->nullable)) ||
                        (lhs->type == Type::null && e->nullable);
      if (!fits) {
        return error(e->column, "cannot look for " + lhs->what + " in a list holding " + e->what +
                                    at_column(e->column) +
                                    (e->type == Type::null ? ": it is never null" : ""));
      }
      children.push_back(e->node);
    }
    Node n;
    n.op = s.negated ? Op::not_in : Op::in;
    return condition(s, std::move(n), children);
  }

  std::optional<Typed> lower_text_op(const SyntaxNode& s) {
    const std::string op = "\"" + std::string(spelling(s.text_op)) + "\"";
    const auto lhs = lower(s.children.at(0));
    if (!lhs) return std::nullopt;
    if (lhs->type != Type::string) {
      return error(lhs->column, op + at_column(s.column) + " needs strings, but " + lhs->what +
                                    at_column(lhs->column) + " is " + article(lhs->type));
    }
    if (s.text_op == TextOp::matches) return lower_matches(s, *lhs);
    const auto rhs = lower(s.children.at(1));
    if (!rhs) return std::nullopt;
    if (rhs->type != Type::string) {
      return error(rhs->column, op + at_column(s.column) + " needs strings, but " + rhs->what +
                                    at_column(rhs->column) + " is " + article(rhs->type));
    }
    Node n;
    switch (s.text_op) {
      case TextOp::contains: n.op = Op::contains; break;
      case TextOp::starts_with: n.op = Op::starts_with; break;
      default: n.op = Op::ends_with; break;
    }
    return condition(s, std::move(n), {lhs->node, rhs->node});
  }

  // The pattern is compiled here, once; RE2 guarantees matching in time linear in the input.
  std::optional<Typed> lower_matches(const SyntaxNode& s, const Typed& lhs) {
    const SyntaxNode& pattern = tree_.nodes[s.children.at(1)];
    if (pattern.kind != Syntax::string) {
      return error(pattern.column, "\"matches\"" + at_column(s.column) +
                                       " needs a pattern in quotes" + at_column(pattern.column) +
                                       ", like name matches \"^web-[0-9]+$\"");
    }
    re2::RE2::Options options;
    options.set_log_errors(false);  // a bad pattern is the client's error, reported below
    // RE2's default budget is 8 MiB a pattern; a filter may hold 25 and the cache 256 filters.
    // Past this budget RE2 refuses the pattern (reported below) or matches without its DFA,
    // still in linear time.
    options.set_max_mem(kRegexMemoryBudget);
    auto re = std::make_unique<const re2::RE2>(pattern.text, options);
    if (!re->ok()) {
      return error(pattern.column,
                   "bad regular expression" + at_column(pattern.column) + ": " + re->error());
    }
    Node n;
    n.op = Op::matches;
    n.regex = re.get();
    regexes_.push_back(std::move(re));
    return condition(s, std::move(n), {lhs.node});
  }

  state::Kind kind_;
  const SyntaxTree& tree_;
  std::vector<Node> nodes_;
  std::vector<std::uint32_t> kids_;
  std::vector<std::unique_ptr<const re2::RE2>> regexes_;
  std::optional<FilterError> error_;
};

}  // namespace

util::Result<FilterPtr, FilterError> check_filter(state::Kind kind, const SyntaxTree& tree) {
  return Checker(kind, tree).run();
}

}  // namespace filter

util::Result<FilterPtr, FilterError> compile_filter(state::Kind kind, std::string_view text,
                                                    std::size_t max_chars) {
  if (util::utf8_length(text) > max_chars) {
    return util::Unexpected{FilterError{"FLT001", 0,
                                        "the filter is " + std::to_string(util::utf8_length(text)) +
                                            " characters long; the limit is " +
                                            std::to_string(max_chars) + " characters"}};
  }
  auto tree = filter::parse_filter(text);
  if (!tree) return util::Unexpected{std::move(tree).error()};
  return filter::check_filter(kind, *tree);
}

}  // namespace narwhal::query
