#include "narwhal/query/search.hpp"

#include <algorithm>

#include "narwhal/state/snapshot.hpp"
#include "narwhal/util/text.hpp"

namespace narwhal::query {

using state::Kind;
using state::Object;
using state::Stack;

bool search_matches(std::string_view name, std::string_view id, std::string_view q) noexcept {
  if (util::icontains(name, q)) return true;
  return id.size() >= q.size() && util::iequals(id.substr(0, q.size()), q);
}

namespace {

// Keeps the `limit` smallest matches by (name, ID) seen so far in a max-heap, so a query that
// matches 100 000 tasks costs `limit` pointers of memory and O(n log limit) time, and the result
// does not depend on the order the table happens to be in.
template <class T>
class FirstMatches {
 public:
  FirstMatches(std::size_t limit, std::size_t table_size) : limit_(limit) {
    heap_.reserve(std::min(limit, table_size));
  }

  void offer(const T* item) {
    ++total_;
    if (limit_ == 0) return;
    if (heap_.size() < limit_) {
      heap_.push_back(item);
      std::push_heap(heap_.begin(), heap_.end(), before);
    } else if (before(item, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), before);
      heap_.back() = item;
      std::push_heap(heap_.begin(), heap_.end(), before);
    }
  }

  [[nodiscard]] std::size_t total() const noexcept { return total_; }

  // The kept matches, by name then ID.
  [[nodiscard]] std::vector<const T*> sorted() && {
    std::sort_heap(heap_.begin(), heap_.end(), before);
    return std::move(heap_);
  }

 private:
  static bool before(const T* a, const T* b) noexcept {
    if (const int c = a->name.compare(b->name); c != 0) return c < 0;
    return id_of(*a) < id_of(*b);
  }
  static std::string_view id_of(const Object& o) noexcept { return o.id; }
  static std::string_view id_of(const Stack&) noexcept { return {}; }  // names are unique

  std::size_t limit_;
  std::vector<const T*> heap_;
  std::size_t total_ = 0;
};

}  // namespace

SearchResult search(const state::Snapshot& snap, std::string_view q, std::size_t per_type_limit) {
  SearchResult out;
  for (const Kind kind : kSearchOrder) {
    SearchGroup group;
    group.kind = kind;
    if (kind == Kind::stack) {
      FirstMatches<Stack> first(per_type_limit, snap.stacks->size());
      for (const Stack& st : *snap.stacks) {
        if (search_matches(st.name, {}, q)) first.offer(&st);
      }
      group.total = first.total();
      group.stacks = std::move(first).sorted();
    } else {
      const auto& items = snap.table(kind).items;
      FirstMatches<Object> first(per_type_limit, items.size());
      for (const auto& o : items) {
        if (search_matches(o->name, o->id, q)) first.offer(o.get());
      }
      group.total = first.total();
      group.items = std::move(first).sorted();
    }
    if (group.total == 0) continue;
    out.total += group.total;
    out.groups.push_back(std::move(group));
  }
  return out;
}

}  // namespace narwhal::query
