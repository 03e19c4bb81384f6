// The typed fields a filter may name, per kind (SPEC §5), each with a precomputed accessor that
// reads the value straight out of the Object (or Stack) without allocating: strings are views
// into the object, cross-references (a task's service name, node hostname) are table lookups.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "narwhal/state/snapshot.hpp"

namespace narwhal::query::filter {

enum class Type : std::uint8_t { null, boolean, number, string, list, map };

[[nodiscard]] std::string_view type_name(Type t) noexcept;  // "string"

// One value during evaluation. `text` views the object or the program; nothing is owned.
struct Value {
  std::string_view text;
  double number = 0;
  Type type = Type::null;
  bool boolean = false;
};

// The item being tested: exactly one of `object` and `stack` is set.
struct Item {
  const state::Snapshot* snap = nullptr;
  const state::Object* object = nullptr;
  const state::Stack* stack = nullptr;
};

using Getter = Value (*)(const Item&);

// A string that is a plain member of Object: read inline by the evaluator, without a call.
using Member = std::string state::Object::*;

struct Field {
  std::string_view name;
  Type type = Type::string;
  bool nullable = false;    // may be null for some items (exit_code, slot)
  Getter get = nullptr;     // null for `labels`, read by key, and for plain members
  Member member = nullptr;  // set for plain string members
};

[[nodiscard]] std::span<const Field> fields_of(state::Kind kind) noexcept;
[[nodiscard]] const Field* find_field(state::Kind kind, std::string_view name) noexcept;

// The closest field name by edit distance when it is close enough to be a likely typo, else "".
[[nodiscard]] std::string_view suggest_field(state::Kind kind, std::string_view name);

// labels["key"] of the item: "" when absent; stacks have no labels.
[[nodiscard]] std::string_view label_of(const Item& item, std::string_view key) noexcept;

}  // namespace narwhal::query::filter
