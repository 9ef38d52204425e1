// The receive-side index (whitepaper 5.4.2): a data message's receiver index
// names the keypair that decrypts it. A fixed array of 2^k slots; an index is
// (random high bits << k) | slot, so a worker finds the slot with one mask and
// confirms it with one compare (the keypair's local_index must equal the whole
// index): a stale index, or a guessed one with the right slot, misses.
//
// Handshakes in progress use the same index space (our sender index in an
// initiation or response becomes the keypair's local_index), so a slot can be
// reserved without a keypair: allocate_index() reserves, publish() attaches
// the keypair when the session is derived, unpublish() detaches it, and
// release_index() frees the slot.
//
// Concurrency. Control thread only: allocate_index, publish, unpublish,
// release_index, is_reserved (the reservation state is control-private). Any
// thread: lookup, lock-free; a worker uses the pointer only until its next
// quiescent report. publish() stores with release after the keypair is fully
// built, lookup() loads with acquire. unpublish() returns the pointer for the
// caller to retire through DeferredFree (destroy_keypair). A slot may be
// reserved again at once: a reader still holding the old pointer keeps a live
// object, and the new occupant has a different local_index, so lookups by the
// old index miss.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "dataplane/keypair.hpp"

namespace wghub::dp {

class KeypairTable {
 public:
  static constexpr unsigned kDefaultLog2Capacity = 16;
  static constexpr unsigned kMinLog2Capacity = 1;
  static constexpr unsigned kMaxLog2Capacity = 24;  // leaves >= 8 random bits
  // Source of the random high bits (crypto::random_value by default).
  using RandomFn = uint32_t (*)();

  // log2_capacity is clamped to [kMinLog2Capacity, kMaxLog2Capacity].
  explicit KeypairTable(unsigned log2_capacity = kDefaultLog2Capacity, RandomFn random = nullptr);
  KeypairTable(const KeypairTable&) = delete;
  KeypairTable& operator=(const KeypairTable&) = delete;

  // --- control thread ---

  // Reserves a free slot and returns its new index (never 0, unique among live
  // indices). nullopt when every slot is reserved.
  std::optional<uint32_t> allocate_index();
  // Attaches kp (kp->local_index must equal index) to a reserved, empty slot.
  // False, publishing nothing, otherwise.
  bool publish(uint32_t index, Keypair* kp);
  // Detaches the keypair under index; returns it (to retire) or nullptr if the
  // index is not reserved or has none. The reservation stays.
  Keypair* unpublish(uint32_t index);
  // Frees a reserved index; returns its keypair if one was still published (the
  // caller must retire it), else nullptr. No-op (nullptr) for unknown indices.
  Keypair* release_index(uint32_t index);
  bool is_reserved(uint32_t index) const;

  uint32_t capacity() const { return mask_ + 1; }
  uint32_t reserved() const { return capacity() - static_cast<uint32_t>(free_.size()); }

  // --- any thread ---

  // The published keypair whose local_index is exactly `index`, else nullptr.
  // Worker, prefetch only: starts loading the slot of `index` and, where the
  // slot already holds a keypair, the keypair's hot lines. Never validates
  // (that needs the keypair's line; lookup() does it when the line is there).
  void prefetch_slot(uint32_t index) const { __builtin_prefetch(&slots_[index & mask_]); }
  Keypair* peek(uint32_t index) const {
    return slots_[index & mask_].load(std::memory_order_relaxed);
  }

  Keypair* lookup(uint32_t index) const {
    Keypair* kp = slots_[index & mask_].load(std::memory_order_acquire);
    return kp != nullptr && kp->local_index == index ? kp : nullptr;
  }

 private:
  unsigned log2_capacity_;
  uint32_t mask_;
  RandomFn random_;
  std::unique_ptr<std::atomic<Keypair*>[]> slots_;  // read by workers
  // Control only:
  std::vector<uint32_t> index_of_slot_;  // full index of a reserved slot, 0 = free
  std::vector<uint32_t> free_;           // free slots (a stack)
};

}  // namespace wghub::dp
