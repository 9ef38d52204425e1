// The device's peers by slot: a dense array indexed by the data plane's peer
// slot (dp::PeerTable hands out the lowest free one), with the part of
// std::map's interface the control path uses (find, lower_bound, [], at,
// erase, iteration in slot order as `[slot, peer]`). At 2^20 peers the timer
// and metrics passes walked a std::map node by node (Rb_tree_increment was
// about half of the control thread); here a pass reads one array in order
// and find/lower_bound are an index. Each entry is its own allocation, so a
// reference stays valid until that slot is erased, as with std::map.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace wghub::ctl {

template <typename T>
class SlotMap {
 public:
  struct Entry {
    explicit Entry(std::uint32_t slot) : first(slot) {}
    const std::uint32_t first;  // the slot
    T second = T();             // value-initialised, as std::map::operator[] does
  };

  template <bool kConst>
  class Iterator {
   public:
    using Map = std::conditional_t<kConst, const SlotMap, SlotMap>;
    using value_type = Entry;
    using reference = std::conditional_t<kConst, const Entry&, Entry&>;
    using pointer = std::conditional_t<kConst, const Entry*, Entry*>;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::forward_iterator_tag;

    Iterator() = default;
    Iterator(Map* map, std::size_t index) : map_(map), index_(index) { skip(); }
    // A const iterator from a mutable one.
    template <bool kOther, typename = std::enable_if_t<kConst && !kOther>>
    Iterator(const Iterator<kOther>& other) : map_(other.map_), index_(other.index_) {}

    reference operator*() const { return *map_->entries_[index_]; }
    // The slot, without reading the entry.
    std::uint32_t slot() const { return static_cast<std::uint32_t>(index_); }
    pointer operator->() const { return map_->entries_[index_].get(); }
    Iterator& operator++() {
      ++index_;
      skip();
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++*this;
      return before;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.index_ == b.index_; }

   private:
    template <bool>
    friend class Iterator;
    void skip() {
      while (index_ < map_->entries_.size() && map_->entries_[index_] == nullptr) ++index_;
    }
    Map* map_ = nullptr;
    std::size_t index_ = 0;
  };
  using iterator = Iterator<false>;
  using const_iterator = Iterator<true>;

  iterator begin() { return iterator(this, 0); }
  iterator end() { return iterator(this, entries_.size()); }
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, entries_.size()); }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool contains(std::uint32_t slot) const {
    return slot < entries_.size() && entries_[slot] != nullptr;
  }

  iterator find(std::uint32_t slot) { return contains(slot) ? iterator(this, slot) : end(); }
  const_iterator find(std::uint32_t slot) const {
    return contains(slot) ? const_iterator(this, slot) : end();
  }
  // The first entry at `slot` or after it.
  iterator lower_bound(std::uint32_t slot) {
    return iterator(this, std::min<std::size_t>(slot, entries_.size()));
  }
  const_iterator lower_bound(std::uint32_t slot) const {
    return const_iterator(this, std::min<std::size_t>(slot, entries_.size()));
  }

  // The entry at `slot`, made (value-initialised) if there is none.
  T& operator[](std::uint32_t slot) {
    if (slot >= entries_.size()) entries_.resize(std::size_t{slot} + 1);
    if (entries_[slot] == nullptr) {
      entries_[slot] = std::make_unique<Entry>(slot);
      ++size_;
    }
    return entries_[slot]->second;
  }
  T& at(std::uint32_t slot) {
    if (!contains(slot)) throw std::out_of_range("SlotMap::at");
    return entries_[slot]->second;
  }
  const T& at(std::uint32_t slot) const {
    if (!contains(slot)) throw std::out_of_range("SlotMap::at");
    return entries_[slot]->second;
  }
  // 1 if there was an entry at `slot`, else 0.
  std::size_t erase(std::uint32_t slot) {
    if (!contains(slot)) return 0;
    entries_[slot].reset();
    --size_;
    return 1;
  }
  // Room for slots below n without growing.
  void reserve(std::size_t n) {
    if (n > entries_.size()) entries_.reserve(n);
  }

 private:
  std::vector<std::unique_ptr<Entry>> entries_;
  std::size_t size_ = 0;
};

// One slice of a pass over `map` by slot, the shape of every O(peers) pass
// on the control thread (timers, metrics snapshots, wg(8) get): visits the
// entries from slot `cursor` on, in slot order, until `visit(slot, value)`
// has returned true (the entry counted) `limit` times or, looked at every
// 64 entries, `budget` has passed. True when the pass reached the end
// (`cursor` is then 0 again); otherwise `cursor` is the slot the next slice
// starts at. An entry added or removed between two slices is met or not,
// never twice.
template <typename Map, typename Visit>
bool slice_by_slot(Map& map, std::uint32_t& cursor, std::size_t limit, Visit&& visit,
                   std::chrono::nanoseconds budget = std::chrono::nanoseconds::max()) {
  const bool timed = budget != std::chrono::nanoseconds::max();
  const auto start =
      timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  auto it = map.lower_bound(cursor);
  std::size_t counted = 0;
  for (std::size_t n = 0; it != map.end() && counted < limit; ++it, ++n) {
    if (timed && n % 64 == 63 && std::chrono::steady_clock::now() - start >= budget) break;
    if (visit(it.slot(), it->second)) ++counted;
  }
  if (it == map.end()) {
    cursor = 0;
    return true;
  }
  cursor = it.slot();
  return false;
}

}  // namespace wghub::ctl
