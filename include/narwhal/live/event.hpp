// Live events (SPEC §8): one change of the history, rendered once into its SSE frame and shared by
// every stream that shows it, plus the scopes streams are opened with and the rule that decides
// which events a scope shows, and how. Events are immutable once built (but for the leave variant,
// rendered once on first use).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "narwhal/query/filter.hpp"
#include "narwhal/state/history.hpp"
#include "narwhal/state/snapshot.hpp"

namespace narwhal::render {
struct Site;
}

namespace narwhal::live {

// How a stream shows an event: not at all, as it is, or as its object leaving the stream (an
// update that took the object out of the stream's scope or filter: the same JSON with
// "action":"remove","reason":"filter" and the resource as it now is), so that a live view built
// on a filtered stream drops what no longer matches.
enum class Show : std::uint8_t { no, yes, left };

struct Event {
  std::uint64_t id = 0;
  state::Kind kind = state::Kind::node;
  state::Action action = state::Action::update;
  std::string object_id;            // stacks: the name
  std::string service_id, node_id;  // tasks: where they belong
  std::string stack;                // the stack the object is a member of (a stack: its name)
  state::ObjectPtr object;          // engine kinds: the object (as it was, when removed)
  std::shared_ptr<const state::Stack> stack_object;  // stacks: the stack (as it was, if removed)
  // Updates: where the object was before the change, and what it was (stacks: the stack before),
  // so a stream can tell that the change took the object out of its scope or filter.
  std::string previous_service_id, previous_node_id, previous_stack;
  state::ObjectPtr previous;
  std::shared_ptr<const state::Stack> previous_stack_object;
  // "id: …\nevent: <type>\ndata: <json>\n\n": the frame a stream sends for this event alone;
  // the JSON is the part batches reuse.
  std::string frame;
  std::size_t json_begin = 0, json_size = 0;
  // Where the action's JSON string lies within json(): the leave variant replaces just that.
  std::size_t action_begin = 0, action_size = 0;

  [[nodiscard]] std::string_view json() const noexcept {
    return std::string_view(frame).substr(json_begin, json_size);
  }
  // The frame and JSON as a stream shows them `how` (yes or left). The leave variant is rendered
  // on first use, since most events never need it, and then shared by every stream (and every
  // replay) that shows the event so: the same bytes live and replayed. Thread-safe.
  [[nodiscard]] const std::string& frame_as(Show how) const;
  [[nodiscard]] std::string_view json_as(Show how) const;

 private:
  mutable std::once_flag left_once_;
  mutable std::string left_frame_;
};
using EventPtr = std::shared_ptr<const Event>;

// Builds the event of `entry` as of `snap` (the snapshot the change produced; `before`, the one
// it replaced, supplies removed stacks): the payload's `resource` is the object as its detail
// URL shows it then.
[[nodiscard]] EventPtr make_event(const state::HistoryEntry& entry, const state::Snapshot& snap,
                                  const state::Snapshot& before, const render::Site& site);

// An event as one stream shows it.
struct Shown {
  EventPtr event;
  Show how = Show::yes;
};

// The frame of several events at once (`event: batch`, one `data:` line per event, the whole a
// JSON array, each event in the variant it is shown as), carrying the last event's ID.
[[nodiscard]] std::string batch_frame(const Shown* events, std::size_t count);

// What a stream shows.
struct Scope {
  enum class Shape : std::uint8_t {
    events,            // /events: every kind in `kinds`
    list,              // /services, /stacks, …: every object of `kind`
    tasks_of_service,  // /services/{id}/tasks
    tasks_of_node,     // /nodes/{id}/tasks
    service,           // /services/{id}: the service and its tasks
    node,              // /nodes/{id}: the node and the tasks on it
    stack,             // /stacks/{name}: the stack and all its members (their tasks too)
    object,            // any other detail URL: that object
    cluster,           // /cluster: the summary, re-sent when it changes
  };
  Shape shape = Shape::events;
  state::Kind kind = state::Kind::node;  // list, object
  std::string id;                        // the object, owner or stack name
  std::uint16_t kinds = 0xFF;            // events: a bit per Kind
  // ?filter=: a program per kind it compiled for. When `filtered`, a kind without a program
  // shows nothing (the expression does not apply to it).
  std::array<query::FilterPtr, state::kKinds> filters{};
  bool filtered = false;

  [[nodiscard]] static constexpr std::uint16_t bit(state::Kind k) noexcept {
    return static_cast<std::uint16_t>(1U << static_cast<unsigned>(k));
  }
};

// Whether and how a stream of `scope` shows `event`; `snap` answers the filter's
// cross-references. Live delivery and replay both decide here, so a replay shows what the live
// stream showed.
[[nodiscard]] Show shows(const Scope& scope, const Event& event, const state::Snapshot& snap);

}  // namespace narwhal::live
