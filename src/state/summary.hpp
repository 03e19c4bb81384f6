// What a change means to a person: the `summary` of a history entry.
#pragma once

#include <string>

#include "narwhal/state/object.hpp"

namespace narwhal::state {

// `before` null: created; `after` null: removed; both: updated.
[[nodiscard]] std::string summarise(const Object* before, const Object* after);

}  // namespace narwhal::state
