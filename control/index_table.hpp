// Receiver indices for handshakes and keypairs (whitepaper 5.4.2: each side picks
// a random 32-bit sender index, and the peer echoes it as the receiver index of
// later messages). The table hands out indices that are unique among live
// entries and maps each to a caller-chosen handle, as the kernel's
// index_hashtable (drivers/net/wireguard/peerlookup.c) does.
//
// Index 0 is reserved and never handed out, so 0 can mean "no index" in the
// noise and keypair code. Indices are random (libsodium's CSPRNG by default) so
// an observer cannot predict or enumerate sessions; the RNG is injectable for
// tests.
//
// Value: a small handle of the caller's choice. Make it record what the index
// names (pending handshake or keypair) and check that on lookup, so a data
// message can never resolve to a handshake (the kernel's lookup type_mask).
//
// Threading: single-threaded (control thread). The dataplane gets a published
// copy; this table is not read by workers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>

namespace wghub::ctl {

// Source of candidate indices; must be unpredictable in production.
using IndexRng = std::function<uint32_t()>;

// A uniformly random 32-bit value from libsodium (randombytes_buf).
uint32_t secure_random_index();

template <typename Value>
class IndexTable {
 public:
  static constexpr uint32_t kNoIndex = 0;
  // Give up after this many colliding draws. With a good RNG a collision needs
  // billions of live entries, so only a broken RNG ever gets here.
  static constexpr unsigned kMaxInsertAttempts = 1024;

  explicit IndexTable(IndexRng rng = {}) : rng_(rng ? std::move(rng) : secure_random_index) {}

  // Stores `value` under a fresh random index, unique among live entries and
  // never kNoIndex; redraws on collision. nullopt only if the RNG kept colliding.
  std::optional<uint32_t> insert(Value value) {
    for (unsigned attempt = 0; attempt < kMaxInsertAttempts; ++attempt) {
      const uint32_t index = rng_();
      if (index == kNoIndex) continue;
      if (entries_.try_emplace(index, std::move(value)).second) return index;
    }
    return std::nullopt;
  }

  // Points an existing index at a new value, keeping the index: a completed
  // handshake becomes a keypair under the index the peer already knows
  // (kernel: wg_index_hashtable_replace). False if the index is not live.
  bool replace(uint32_t index, Value value) {
    auto it = entries_.find(index);
    if (it == entries_.end()) return false;
    it->second = std::move(value);
    return true;
  }

  // The value for a live index, or nullptr. Valid until that index is removed.
  const Value* lookup(uint32_t index) const {
    auto it = entries_.find(index);
    return it == entries_.end() ? nullptr : &it->second;
  }
  Value* lookup(uint32_t index) {
    auto it = entries_.find(index);
    return it == entries_.end() ? nullptr : &it->second;
  }

  // True if the index was live. A removed index may be handed out again later.
  bool remove(uint32_t index) { return entries_.erase(index) != 0; }

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  IndexRng rng_;
  std::unordered_map<uint32_t, Value> entries_;
};

}  // namespace wghub::ctl
