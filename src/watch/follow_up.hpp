// Re-reads after an event until the engine has recorded what the event implies. A container's
// `start` reaches narwhal before the manager has marked its task running (the agent reports it a
// moment later), and a service change spawns tasks that may be rejected without any event at
// all. So a task is re-read at +0.3 s, +1 s and +3 s until its state has caught up, and a service
// whose tasks have not settled has them re-listed at +1 s, +3 s and +6 s. Bounded: three tries
// each. Only used by the watcher's control thread.
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "narwhal/engine/event.hpp"
#include "narwhal/state/snapshot.hpp"
#include "narwhal/watch/plan.hpp"

namespace narwhal::watch {

class FollowUps {
 public:
  using Clock = std::chrono::steady_clock;

  // Notes what `ev` leads narwhal to expect (`snap`: the state when it arrived).
  void note_event(const engine::Event& ev, const state::Snapshot& snap);
  // After the re-reads of a plan ran (and were applied to `snap`): schedules the next try of
  // everything that has not caught up yet, or forgets it.
  void after_execute(const state::Snapshot& snap, Clock::time_point now);
  [[nodiscard]] std::optional<Clock::time_point> next_due() const;
  // Adds the re-reads due at `now` to `plan`; true when there were any.
  bool take_due(Clock::time_point now, Plan& plan);

  [[nodiscard]] std::size_t pending() const noexcept { return tasks_.size() + services_.size(); }

 private:
  enum class Expect { moved, running, stopped };
  struct Task {
    Expect expect = Expect::moved;
    std::uint64_t version = 0;  // Version.Index when the event arrived
    int tries = 0;
    std::optional<Clock::time_point> due;  // none: waiting for the plan that reads it
  };
  struct Service {
    int tries = 0;
    std::optional<Clock::time_point> due;
  };
  static constexpr std::array<std::chrono::milliseconds, 3> kTaskDelays{
      std::chrono::milliseconds(300), std::chrono::milliseconds(1000),
      std::chrono::milliseconds(3000)};
  static constexpr std::array<std::chrono::milliseconds, 3> kServiceDelays{
      std::chrono::milliseconds(1000), std::chrono::milliseconds(3000),
      std::chrono::milliseconds(6000)};

  [[nodiscard]] static bool caught_up(const Task& t, const state::Object* task);
  [[nodiscard]] static bool settled(const state::Snapshot& snap, const std::string& service_id);

  std::map<std::string, Task, std::less<>> tasks_;
  std::map<std::string, Service, std::less<>> services_;
};

}  // namespace narwhal::watch
