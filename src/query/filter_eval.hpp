// A compiled, type-checked filter: a flat tree of nodes with precomputed field accessors,
// literals and regexes, evaluated per item without allocating. Built only by the checker, which
// guarantees that every node's operands have the types its operation expects; evaluation has no
// error path. Immutable once built, so one program serves any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "filter_fields.hpp"
#include "narwhal/query/filter.hpp"

namespace re2 {
class RE2;
}  // namespace re2

namespace narwhal::query::filter {

enum class Op : std::uint8_t {
  // values
  literal,
  field,   // through `get`
  member,  // a plain string member of the object
  label,
  // conditions
  all,
  any,
  negate,
  eq,
  ne,
  lt,
  gt,
  le,
  ge,
  in,  // kids: the value, then the list's elements
  not_in,
  contains,
  starts_with,
  ends_with,
  matches,  // kid: the value; `regex` the pattern
  // The commonest leaf, `state == "running"`, as one node without children: no calls.
  member_eq,
  member_ne,
};

struct Node {
  Op op = Op::literal;
  Type type = Type::null;   // literal: its type
  std::uint32_t first = 0;  // children: kids_[first, first + count)
  std::uint32_t count = 0;
  double number = 0;        // literal number
  bool boolean = false;     // literal boolean
  std::string text;         // literal string, or the label key
  Getter get = nullptr;     // field
  Member member = nullptr;  // member, member_eq, member_ne (with `text`)
  const re2::RE2* regex = nullptr;
};

class Program final : public FilterProgram {
 public:
  Program(state::Kind kind, std::vector<Node> nodes, std::vector<std::uint32_t> kids,
          std::vector<std::unique_ptr<const re2::RE2>> regexes, std::uint32_t root);
  ~Program() override;
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  [[nodiscard]] bool matches(const state::Snapshot& snap,
                             const state::Object& object) const override;
  [[nodiscard]] bool matches(const state::Snapshot& snap, const state::Stack& stack) const override;

 private:
  [[nodiscard]] bool test(std::uint32_t n, const Item& item) const;
  [[nodiscard]] Value value(std::uint32_t n, const Item& item) const;
  [[nodiscard]] std::uint32_t kid(const Node& n, std::uint32_t i) const {
    return kids_[n.first + i];
  }

  state::Kind kind_;
  std::vector<Node> nodes_;
  std::vector<std::uint32_t> kids_;
  std::vector<std::unique_ptr<const re2::RE2>> regexes_;  // owned here, pointed to by nodes
  std::uint32_t root_;
};

}  // namespace narwhal::query::filter
