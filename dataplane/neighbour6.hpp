// IPv6 neighbour table of one port (the NDP neighbour cache, RFC 4861 5.1):
// what the LAN transmit path asks for the MAC of an IPv6 next hop. The API,
// the timing and the roles are those of the IPv4 table (neighbour.hpp): ONE
// writer, the control thread (learns from NA/NS, asks for resolutions, ages
// entries); MANY readers, the worker lcores, which only call lookup() and are
// wait-free and never see a torn or misattributed MAC.
//
// The IPv4 table packs address and generation into one 64-bit key word; a
// 128-bit address does not fit, so each slot here is a seqlock instead:
//
//   - Slots are a fixed array (open addressing, linear probing, capacity a
//     power of two), allocated once and never freed or moved: slots are
//     reused in place, never released.
//   - A slot is {seq, key (two words), mac word}. The writer makes seq odd,
//     changes the other words (release stores: whoever reads one also sees
//     the odd seq), and makes seq even again (release). A reader loads seq
//     (acquire), the words (acquire), then seq again: equal and even means
//     it saw one consistent slot (no standalone fences: GCC's ThreadSanitizer
//     does not support them); otherwise the
//     slot was being changed and the lookup answers "miss" rather than wait
//     (the frame then takes the control thread's path, which knows the
//     answer). So a reader never returns a MAC written for another address.
//   - The all-zero key (the unspecified address, never a neighbour) is an
//     empty slot and ends a probe; a tombstone bit in the MAC word keeps
//     probe chains through deleted slots intact. Tombstones are trimmed back
//     to empty when the next slot is empty, and compacted past capacity/8,
//     exactly as in the IPv4 table. Entries never move.
//
// Control-only bookkeeping (state, times, tries) sits in a separate array.
#pragma once

#include <rte_ether.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "dataplane/neighbour.hpp"

namespace wghub::dp {

using Ipv6Bytes = std::array<std::uint8_t, 16>;  // network order (= Ipv6Address)

struct Neighbour6Entry {
  Ipv6Bytes ip{};
  NeighbourState state = NeighbourState::kFree;
  rte_ether_addr mac{};
  std::uint64_t updated_at = 0;
  std::uint64_t asked_at = 0;  // last Neighbor Solicitation sent
  std::uint32_t tries = 0;
};

class Neighbour6Table {
 public:
  static constexpr std::size_t kDefaultCapacity = 4096;

  explicit Neighbour6Table(NeighbourTiming timing, std::size_t capacity = kDefaultCapacity);
  Neighbour6Table(const Neighbour6Table&) = delete;
  Neighbour6Table& operator=(const Neighbour6Table&) = delete;

  // Worker lcores: wait-free. The MAC of a resolved neighbour, if any.
  std::optional<rte_ether_addr> lookup(const std::uint8_t* ip16) const noexcept {
    return NeighbourTable::unpack_mac48(lookup_mac48(ip16));
  }
  std::optional<rte_ether_addr> lookup(const Ipv6Bytes& ip) const noexcept {
    return lookup(ip.data());
  }

  // The same as a word, as NeighbourTable::lookup_mac48 gives it: the MAC in
  // the low 48 bits with kFound set, or 0 for a miss.
  static constexpr std::uint64_t kFound = NeighbourTable::kFound;
  std::uint64_t lookup_mac48(const std::uint8_t* ip16) const noexcept {
    std::uint64_t hi, lo;
    std::memcpy(&hi, ip16, 8);
    std::memcpy(&lo, ip16 + 8, 8);
    std::size_t i = home(hi, lo);
    for (std::size_t n = 0; n <= mask_; ++n, i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      // Acquire on the words keeps the second seq load after them; a word
      // the writer stored (release) brings its odd seq along.
      const std::uint64_t seq = s.seq.load(std::memory_order_acquire);
      const std::uint64_t k_hi = s.hi.load(std::memory_order_acquire);
      const std::uint64_t k_lo = s.lo.load(std::memory_order_acquire);
      const std::uint64_t word = s.mac.load(std::memory_order_acquire);
      if ((seq & 1) != 0 || s.seq.load(std::memory_order_relaxed) != seq)
        return 0;  // being changed: the control path answers
      if (k_hi == 0 && k_lo == 0 && (word & kTombstoneBit) == 0) return 0;
      if ((word & kTombstoneBit) != 0 || k_hi != hi || k_lo != lo) continue;
      if ((word & kValidBit) == 0) return 0;
      return (word & 0xffffffffffffu) | kFound;
    }
    return 0;
  }
  std::uint64_t lookup_mac48(const Ipv6Bytes& ip) const noexcept { return lookup_mac48(ip.data()); }

  // ---- control thread only (same contract as NeighbourTable)

  bool update(const Ipv6Bytes& ip, const rte_ether_addr& mac, std::uint64_t now);
  bool needs_request(const Ipv6Bytes& ip, std::uint64_t now);
  std::vector<Ipv6Bytes> expire(std::uint64_t now);
  bool remove(const Ipv6Bytes& ip);
  bool contains(const Ipv6Bytes& ip) const;
  std::optional<Neighbour6Entry> entry(const Ipv6Bytes& ip) const;
  std::vector<Neighbour6Entry> entries() const;

  std::size_t size() const { return live_; }
  std::size_t capacity() const { return mask_ + 1; }
  std::size_t max_entries() const { return (mask_ + 1) / 4 * 3; }
  // Incomplete entries (a request out, no answer yet) may fill a quarter of
  // the entries; past that needs_request() refuses new addresses and counts.
  std::size_t max_incomplete() const { return max_entries() / 4; }
  std::size_t incomplete() const { return incomplete_; }
  std::uint64_t incomplete_refused() const { return incomplete_refused_; }
  std::size_t tombstones() const { return tombstones_; }

 private:
  static constexpr std::uint64_t kValidBit = std::uint64_t{1} << 63;
  static constexpr std::uint64_t kTombstoneBit = std::uint64_t{1} << 62;

  struct alignas(32) Slot {
    std::atomic<std::uint64_t> seq{0};  // odd while the writer changes the slot
    std::atomic<std::uint64_t> hi{0};   // address bytes 0..7 as they lie in memory
    std::atomic<std::uint64_t> lo{0};   // bytes 8..15
    std::atomic<std::uint64_t> mac{0};  // mac | valid << 63 | tombstone << 62
  };

  std::size_t home(std::uint64_t hi, std::uint64_t lo) const noexcept {
    const std::uint64_t h = (hi ^ (lo * 0xC2B2AE3D27D4EB4Full)) * 0x9E3779B97F4A7C15ull;
    return static_cast<std::size_t>(h >> 32) & mask_;
  }
  static void split(const Ipv6Bytes& ip, std::uint64_t& hi, std::uint64_t& lo) {
    std::memcpy(&hi, ip.data(), 8);
    std::memcpy(&lo, ip.data() + 8, 8);
  }
  // The writer's side of the seqlock.
  void write_slot(std::size_t i, std::uint64_t hi, std::uint64_t lo, std::uint64_t mac);
  bool is_empty(std::size_t i) const;
  bool is_tombstone(std::size_t i) const;

  std::optional<std::size_t> find(const Ipv6Bytes& ip) const;
  std::optional<std::size_t> insert(const Ipv6Bytes& ip, std::uint64_t now);
  void erase(std::size_t i);
  void compact();

  std::size_t mask_;
  NeighbourTiming timing_;
  std::unique_ptr<Slot[]> slots_;      // read by workers
  std::vector<Neighbour6Entry> meta_;  // control only
  std::size_t live_ = 0;
  std::size_t incomplete_ = 0;
  std::uint64_t incomplete_refused_ = 0;
  std::size_t tombstones_ = 0;
};

}  // namespace wghub::dp
