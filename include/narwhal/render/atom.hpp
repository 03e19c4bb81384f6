// Atom feeds of the change history (SPEC §9): RFC 4287 documents that feed readers poll, paged
// with RFC 5005 links. Every id is a permanent tag: URI (RFC 4151), and the same entries and page
// always give the same bytes, because the ETag is a hash of the body.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "narwhal/render/json.hpp"
#include "narwhal/state/history.hpp"

namespace narwhal::render {

// The feed's own place among the pages. Every URL is relative, base path included: narwhal does
// not know the origin its readers reach it by, so it never writes one.
struct FeedPage {
  std::string self;       // this feed as requested, e.g. "/services/abc.atom?limit=50"
  std::string alternate;  // the scope's HTML page, e.g. "/services/abc"
  std::string first;      // RFC 5005 rel="first": the newest page
  std::string next;       // RFC 5005 rel="next": the older page (`before=`); "" on the last page
  // What the feed is about, stable across paging and query order: "/services/<full id>",
  // "/events", "/search?q=web". It becomes the feed's permanent id.
  std::string scope;
  std::string title;                  // e.g. "narwhal — service web"
  std::int64_t updated_fallback = 0;  // µs; the <updated> of a feed with no entries
};

struct FeedOptions {
  // The tag: URI authority (RFC 4151), a DNS name or e-mail address the operator controls. One
  // that could not be a tagging entity falls back to the default rather than break every id.
  std::string authority = "narwhal.localhost";
};

// The RFC 4287 feed of `entries`, kept in the order given (newest first).
[[nodiscard]] std::string render_feed(const std::vector<state::HistoryEntry>& entries,
                                      const FeedPage& page, const Site& site,
                                      const FeedOptions& options);

// What happened, in one line: "Service web updated: replicas 2 → 3", "Task web.1 created",
// "Stack shop removed".
[[nodiscard]] std::string entry_title(const state::HistoryEntry& e);

}  // namespace narwhal::render
