// The LRU of compiled filters. Compilation happens outside the lock, so a slow compile (a large
// regex) never stalls other requests; two threads missing on the same text at once both compile
// and the first to finish wins the slot.
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "narwhal/query/filter.hpp"

namespace narwhal::query {

namespace {

using Compiled = util::Result<FilterPtr, FilterError>;

std::string key_of(state::Kind kind, std::string_view text) {
  std::string key;
  key.reserve(text.size() + 1);
  key += static_cast<char>(kind);
  key += text;
  return key;
}

}  // namespace

struct FilterCache::Impl {
  struct Entry {
    std::string key;
    Compiled compiled;
  };

  std::size_t capacity;
  std::size_t max_chars;
  mutable std::mutex mutex;
  std::list<Entry> order;  // most recently used first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index;  // views order's keys
  std::uint64_t compilations = 0;
};

FilterCache::FilterCache(std::size_t capacity, std::size_t max_chars)
    : impl_(std::make_unique<Impl>()) {
  impl_->capacity = capacity;
  impl_->max_chars = max_chars;
}

FilterCache::~FilterCache() = default;

util::Result<FilterPtr, FilterError> FilterCache::get(state::Kind kind, std::string_view text) {
  // Too long is answered without caching: the check is O(1), and an over-long text must not
  // occupy memory in the cache.
  if (text.size() > impl_->max_chars) return compile_filter(kind, text, impl_->max_chars);
  const std::string key = key_of(kind, text);
  {
    const std::lock_guard lock(impl_->mutex);
    if (const auto it = impl_->index.find(key); it != impl_->index.end()) {
      impl_->order.splice(impl_->order.begin(), impl_->order, it->second);
      return it->second->compiled;
    }
    ++impl_->compilations;
  }
  Compiled compiled = compile_filter(kind, text, impl_->max_chars);
  const std::lock_guard lock(impl_->mutex);
  if (impl_->capacity == 0) return compiled;
  if (const auto it = impl_->index.find(key); it != impl_->index.end()) {
    impl_->order.splice(impl_->order.begin(), impl_->order, it->second);
    return it->second->compiled;  // another thread compiled it meanwhile
  }
  impl_->order.push_front(Impl::Entry{key, compiled});
  impl_->index.emplace(impl_->order.front().key, impl_->order.begin());
  if (impl_->order.size() > impl_->capacity) {
    impl_->index.erase(impl_->order.back().key);
    impl_->order.pop_back();
  }
  return compiled;
}

std::optional<util::Result<FilterPtr, FilterError>> FilterCache::find(state::Kind kind,
                                                                      std::string_view text) {
  if (text.size() > impl_->max_chars) return std::nullopt;
  const std::string key = key_of(kind, text);
  const std::lock_guard lock(impl_->mutex);
  const auto it = impl_->index.find(key);
  if (it == impl_->index.end()) return std::nullopt;
  impl_->order.splice(impl_->order.begin(), impl_->order, it->second);
  return it->second->compiled;
}

std::size_t FilterCache::size() const {
  const std::lock_guard lock(impl_->mutex);
  return impl_->order.size();
}

std::uint64_t FilterCache::compilations() const {
  const std::lock_guard lock(impl_->mutex);
  return impl_->compilations;
}

}  // namespace narwhal::query
