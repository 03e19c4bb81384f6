// The change history as JSON-LD (SPEC §1 /history, /events as JSON): newest first, paged by a
// cursor (`before` = an event ID) rather than an offset, because new changes keep arriving at
// the top while a client pages down.
#pragma once

#include <string>
#include <vector>

#include "narwhal/render/json.hpp"
#include "narwhal/state/history.hpp"

namespace narwhal::render {

struct HistoryPage {
  std::string self;  // the request URL with its query, base path included
  std::size_t limit = 50;
  std::string first;  // URL of the newest page
  std::string next;   // URL of the next (older) page; "" on the last page
};

[[nodiscard]] std::string render_history(const std::vector<state::HistoryEntry>& entries,
                                         const HistoryPage& page, const Site& site);

}  // namespace narwhal::render
