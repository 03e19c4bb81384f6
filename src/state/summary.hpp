// What a change means to a person: the `summary` of a history entry, and whether a change is
// worth an entry at all.
#pragma once

#include <string>

#include "narwhal/state/object.hpp"

namespace narwhal::state {

// `before` null: created; `after` null: removed; both: updated.
[[nodiscard]] std::string summarise(const Object* before, const Object* after);

// False when `after` (a newer version of `before`) differs only in what the engine bumps without
// news: the agents re-report a task's status, moving its Version.Index and timestamps, while its
// state, placement, container and error stay the same. Such a version still replaces the stored
// object (renderings show the current version) but makes no history entry. Other kinds: true.
[[nodiscard]] bool worth_recording(const Object& before, const Object& after);

}  // namespace narwhal::state
