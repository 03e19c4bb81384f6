// A shared_ptr<const T> that one thread swaps while others read it: the publishing point of
// narwhal's immutable data (snapshots, the history's views). Lock-free where the standard
// library's atomic<shared_ptr> is; under ThreadSanitizer a mutex stands in, because libstdc++
// guards atomic<shared_ptr> with a lock bit inside its pointer that TSan cannot see, and every
// reader would be reported as racing with the writer.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

namespace narwhal::util {

template <class T>
class AtomicPtr {
 public:
  using Ptr = std::shared_ptr<const T>;
  AtomicPtr() = default;
  explicit AtomicPtr(Ptr p) : p_(std::move(p)) {}
  AtomicPtr(const AtomicPtr&) = delete;
  AtomicPtr& operator=(const AtomicPtr&) = delete;

#if defined(__SANITIZE_THREAD__)
  [[nodiscard]] Ptr load() const {
    const std::lock_guard lock(mutex_);
    return p_;
  }
  void store(Ptr p) {
    const std::lock_guard lock(mutex_);
    p_.swap(p);
  }

 private:
  mutable std::mutex mutex_;
  Ptr p_;
#else
  [[nodiscard]] Ptr load() const {
    return p_.load();
  }
  void store(Ptr p) {
    p_.store(std::move(p));
  }

 private:
  std::atomic<Ptr> p_;
#endif
};

}  // namespace narwhal::util
