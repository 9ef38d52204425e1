// The small table of next-hop addresses that kLanRoute ids point into: a
// static route's `via`, one table per address family (Address: the IPv4
// host-order word, or the 16 IPv6 bytes). Owned by the control thread next to
// its Fib; workers read address(id) right after a lookup.
//
// Concurrency: control writes an entry before it adds any route that uses its
// id, so a reader that finds the route finds the address. The address is
// stored in atomic words (release stores, relaxed loads): an entry is written
// only while no route names its id, so a reader never sees a mix. An id freed
// by its last release() is recycled only after the table has published every
// change so far (Fib6 double-buffers; Fib applies at once) and a grace period
// has passed (DeferredFree), so a worker that looked up the old route never
// reads a different address.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "dataplane/rcu.hpp"

namespace wghub::dp {

template <typename Address>
class LanGatewaysOf {
 public:
  explicit LanGatewaysOf(uint32_t capacity = 256) : entries_(capacity) {}

  // Control: the id for `via`, shared by every route with the same via;
  // reference counted. nullopt when full.
  std::optional<uint32_t> acquire(const Address& via) {
    const Words words = to_words(via);
    std::optional<uint32_t> free_id;
    for (uint32_t id = 0; id < entries_.size(); ++id) {
      Entry& e = entries_[id];
      if (e.refs > 0 && load(e) == words) {
        ++e.refs;
        return id;
      }
      if (e.refs == 0 && !e.retiring && !free_id) free_id = id;
    }
    if (!free_id) return std::nullopt;
    Entry& e = entries_[*free_id];
    // Release stores, not a release fence (TSan cannot model fences): the
    // address is written before the route that names this id is published,
    // after this (Fib6: a release store of its table; Fib: rte_fib_add's
    // plain stores, which x86's total store order keeps behind these).
    for (std::size_t i = 0; i < kWords; ++i) e.words[i].store(words[i], std::memory_order_release);
    e.refs = 1;
    ++in_use_;
    return free_id;
  }

  // Control: drops one reference; on the last one the id is retired once
  // `table` has published every change so far (table.when_published), then
  // after a grace period of `deferred`. False if id is unused.
  template <typename Table>
  bool release(uint32_t id, Table& table, DeferredFree& deferred) {
    if (id >= entries_.size() || entries_[id].refs == 0) return false;
    Entry& e = entries_[id];
    if (--e.refs > 0) return true;
    e.retiring = true;
    table.when_published([this, id, &deferred] {
      deferred.retire([this, id] {
        entries_[id].retiring = false;
        --in_use_;
      });
    });
    return true;
  }

  // Any thread: the address for an id handed out by acquire.
  Address address(uint32_t id) const {
    const Words words = load(entries_[id]);
    Address a;
    std::memcpy(&a, words.data(), sizeof a);
    return a;
  }

  uint32_t capacity() const { return static_cast<uint32_t>(entries_.size()); }
  uint32_t in_use() const { return in_use_; }

 private:
  static_assert(sizeof(Address) % 4 == 0);
  static constexpr std::size_t kWords = sizeof(Address) / 4;
  using Words = std::array<uint32_t, kWords>;

  struct Entry {
    std::array<std::atomic<uint32_t>, kWords> words{};  // read by workers
    uint32_t refs = 0;                                  // control only
    bool retiring = false;  // control only: waiting for publication and a grace period
  };

  static Words to_words(const Address& a) {
    Words w;
    std::memcpy(w.data(), &a, sizeof a);
    return w;
  }
  static Words load(const Entry& e) {
    Words w;
    for (std::size_t i = 0; i < kWords; ++i) w[i] = e.words[i].load(std::memory_order_relaxed);
    return w;
  }

  std::vector<Entry> entries_;
  uint32_t in_use_ = 0;
};

}  // namespace wghub::dp
