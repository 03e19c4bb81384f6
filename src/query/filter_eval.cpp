#include "filter_eval.hpp"

#include <re2/re2.h>

#include <utility>

namespace narwhal::query::filter {

namespace {

// null equals only null; otherwise the checker guarantees both sides have the same type.
bool equal(const Value& a, const Value& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case Type::null: return true;
    case Type::boolean: return a.boolean == b.boolean;
    case Type::number: return a.number == b.number;
    case Type::string: return a.text == b.text;
    default: return false;
  }
}

// <0, 0, >0, or kUnordered when a side is null (an unknown exit code is neither < 0 nor >= 0).
constexpr int kUnordered = 2;
int order(const Value& a, const Value& b) {
  if (a.type != b.type) return kUnordered;
  if (a.type == Type::number) return a.number < b.number ? -1 : (b.number < a.number ? 1 : 0);
  if (a.type == Type::string) {
    const int c = a.text.compare(b.text);  // char_traits<char> compares bytes as unsigned
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  return kUnordered;
}

}  // namespace

Program::Program(state::Kind kind, std::vector<Node> nodes, std::vector<std::uint32_t> kids,
                 std::vector<std::unique_ptr<const re2::RE2>> regexes, std::uint32_t root)
    : kind_(kind),
      nodes_(std::move(nodes)),
      kids_(std::move(kids)),
      regexes_(std::move(regexes)),
      root_(root) {}

Program::~Program() = default;

bool Program::matches(const state::Snapshot& snap, const state::Object& object) const {
  if (kind_ == state::Kind::stack) return false;
  return test(root_, Item{&snap, &object, nullptr});
}

bool Program::matches(const state::Snapshot& snap, const state::Stack& stack) const {
  if (kind_ != state::Kind::stack) return false;
  return test(root_, Item{&snap, nullptr, &stack});
}

bool Program::test(std::uint32_t n, const Item& item) const {
  const Node& node = nodes_[n];
  switch (node.op) {
    case Op::all:
      for (std::uint32_t i = 0; i < node.count; ++i) {
        if (!test(kid(node, i), item)) return false;
      }
      return true;
    case Op::any:
      for (std::uint32_t i = 0; i < node.count; ++i) {
        if (test(kid(node, i), item)) return true;
      }
      return false;
    case Op::negate: return !test(kid(node, 0), item);
    case Op::eq: return equal(value(kid(node, 0), item), value(kid(node, 1), item));
    case Op::ne: return !equal(value(kid(node, 0), item), value(kid(node, 1), item));
    case Op::lt: return order(value(kid(node, 0), item), value(kid(node, 1), item)) == -1;
    case Op::gt: return order(value(kid(node, 0), item), value(kid(node, 1), item)) == 1;
    case Op::le: {
      const int o = order(value(kid(node, 0), item), value(kid(node, 1), item));
      return o == -1 || o == 0;
    }
    case Op::ge: {
      const int o = order(value(kid(node, 0), item), value(kid(node, 1), item));
      return o == 1 || o == 0;
    }
    case Op::in:
    case Op::not_in: {
      const Value v = value(kid(node, 0), item);
      bool found = false;
      for (std::uint32_t i = 1; i < node.count && !found; ++i) {
        found = equal(v, value(kid(node, i), item));
      }
      return found == (node.op == Op::in);
    }
    case Op::contains:
      return value(kid(node, 0), item).text.find(value(kid(node, 1), item).text) !=
             std::string_view::npos;
    case Op::starts_with:
      return value(kid(node, 0), item).text.starts_with(value(kid(node, 1), item).text);
    case Op::ends_with:
      return value(kid(node, 0), item).text.ends_with(value(kid(node, 1), item).text);
    case Op::matches: return re2::RE2::PartialMatch(value(kid(node, 0), item).text, *node.regex);
    case Op::member_eq: return item.object->*node.member == node.text;
    case Op::member_ne: return item.object->*node.member != node.text;
    case Op::literal:
    case Op::field:
    case Op::member:
    case Op::label: return value(n, item).boolean;
  }
  return false;
}

Value Program::value(std::uint32_t n, const Item& item) const {
  const Node& node = nodes_[n];
  switch (node.op) {
    case Op::literal: return Value{node.text, node.number, node.type, node.boolean};
    case Op::field: return node.get(item);
    case Op::member: return Value{item.object->*node.member, 0, Type::string, false};
    case Op::label: return Value{label_of(item, node.text), 0, Type::string, false};
    default: return Value{{}, 0, Type::boolean, test(n, item)};
  }
}

}  // namespace narwhal::query::filter
