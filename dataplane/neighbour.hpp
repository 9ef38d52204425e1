// The neighbour table of one port, one class for both address families (the
// ARP cache for IPv4, the NDP neighbour cache of RFC 4861 5.1 for IPv6): the
// last stage before transmit, where a worker turns the next hop's address into
// the MAC to put in the Ethernet header. NeighbourTable and Neighbour6Table
// are its two instances; the key is the family's next-hop address (inet.hpp):
// the IPv4 address in network order, or the 16 IPv6 bytes.
//
// Concurrency: ONE writer, the control thread (it learns from ARP / NA / NS,
// asks for resolutions, ages entries); MANY readers, the worker lcores, which
// only call lookup(). Readers are wait-free and never see a torn MAC or one
// written for another address. Each slot is a sequence lock:
//
//   - The table is a fixed array of slots (open addressing, linear probing,
//     capacity a power of two), allocated once and never freed or moved while
//     the table lives. That is the whole reclamation rule: a reader may be
//     looking at any slot at any time, so slots are reused in place, never
//     released.
//   - A slot is {seq, key (two words: an IPv4 key is the address and 0), MAC
//     word}. The writer makes seq odd, changes the other words (release
//     stores: whoever reads one also sees the odd seq), and makes seq even
//     again (release). A reader loads seq (acquire), the words (acquire), then
//     seq again: equal and even means it saw one consistent slot (no
//     standalone fences: GCC's ThreadSanitizer does not support them).
//     Otherwise the slot was being changed and the lookup answers "miss"
//     rather than wait; the frame then takes the control thread's path, which
//     knows the answer (counted, never lost).
//   - The all-zero key (0.0.0.0, ::, never a neighbour) is an empty slot and
//     ends a probe; a tombstone bit in the MAC word keeps probe chains
//     through deleted slots intact. Tombstones are reused by inserts and
//     trimmed back to empty when the next slot is empty (no probe chain can
//     run through them then): erase() walks back from the slot it freed; past
//     capacity/8 tombstones, compact() empties every tombstone no live entry's
//     probe path crosses. Entries are never moved, so a reader never misses a
//     live one.
//
// Control-only bookkeeping (state, times, tries) sits in a separate array the
// readers never touch. Times are in the caller's clock units (TSC cycles or
// nanoseconds); NeighbourTiming is in the same units.
#pragma once

#include <rte_ether.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "dataplane/inet.hpp"

namespace wghub::dp {

using Ipv6Bytes = Ipv6Address;  // network order

struct NeighbourTiming {
  std::uint64_t reachable = 0;       // a resolved entry older than this is re-resolved
  std::uint64_t retry_interval = 0;  // between two requests (ARP, NS) for one address
  std::uint32_t max_tries = 3;       // unanswered requests before the entry is dropped

  // RFC 1122 2.3.2.1 and RFC 4861 leave the timeouts to us: Linux-like values.
  static NeighbourTiming from_hz(std::uint64_t hz) { return NeighbourTiming{300 * hz, hz, 3}; }
};

enum class NeighbourState : std::uint8_t { kFree, kIncomplete, kResolved };

template <typename Address>
struct NeighbourEntryOf {
  Address ip{};
  NeighbourState state = NeighbourState::kFree;
  rte_ether_addr mac{};          // kResolved only
  std::uint64_t updated_at = 0;  // last time a MAC was learned
  std::uint64_t asked_at = 0;    // last request sent
  std::uint32_t tries = 0;       // requests since the last answer
};

// The MAC word a lookup gives the fast path: the MAC in the low 48 bits
// (memory order: byte 0 of the address is the lowest byte) with kFound set,
// or 0 for a miss. A word in a register, no optional to copy through the stack.
inline constexpr std::uint64_t kNeighbourFound = std::uint64_t{1} << 48;

template <typename Family>
class NeighbourTableOf {
 public:
  using Address = typename Family::NextHopAddress;
  using Entry = NeighbourEntryOf<Address>;
  static constexpr std::size_t kDefaultCapacity = 4096;
  static constexpr std::uint64_t kFound = kNeighbourFound;

  // `capacity` is rounded up to a power of two (at least 8). At most 3/4 of
  // the slots hold entries, so probe chains stay short.
  explicit NeighbourTableOf(NeighbourTiming timing, std::size_t capacity = kDefaultCapacity);
  NeighbourTableOf(const NeighbourTableOf&) = delete;
  NeighbourTableOf& operator=(const NeighbourTableOf&) = delete;

  // ---- worker lcores: wait-free

  // The MAC word of a resolved neighbour (kFound set), or 0.
  std::uint64_t lookup_mac48(const Address& ip) const noexcept {
    const Key k = key_of(ip);
    return lookup_key(k.hi, k.lo);
  }
  // The MAC of a resolved neighbour, if any.
  std::optional<rte_ether_addr> lookup(const Address& ip) const noexcept {
    return unpack_mac48(lookup_mac48(ip));
  }
  // A lookup_mac48 word as a MAC (nullopt for a miss).
  static std::optional<rte_ether_addr> unpack_mac48(std::uint64_t word) noexcept {
    if (word == 0) return std::nullopt;
    rte_ether_addr mac;
    for (int b = 0; b < RTE_ETHER_ADDR_LEN; ++b)
      mac.addr_bytes[b] = static_cast<std::uint8_t>(word >> (8 * b));
    return mac;
  }

  // ---- control thread only

  // Learns (or refreshes) a MAC: the entry becomes resolved. Returns false
  // when the table is full (the neighbour stays unknown).
  bool update(const Address& ip, const rte_ether_addr& mac, std::uint64_t now);
  // A packet waits for `ip`: true when a request (ARP, NS) should be sent now
  // (creates an incomplete entry on first use; false while a request is
  // outstanding, while resolved, after max_tries, or when the table is full).
  bool needs_request(const Address& ip, std::uint64_t now);
  // Ages entries: a resolved entry older than `reachable` is re-resolved
  // (its MAC stays usable meanwhile: RFC 1122 2.3.2.1, RFC 4861 7.3.3), an
  // incomplete or stale one whose last request went unanswered `max_tries`
  // times is dropped. Returns the addresses to send a request for now.
  std::vector<Address> expire(std::uint64_t now);
  bool remove(const Address& ip);
  bool contains(const Address& ip) const;
  std::optional<Entry> entry(const Address& ip) const;
  std::vector<Entry> entries() const;  // for status dumps

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

  struct Key {
    std::uint64_t hi = 0, lo = 0;  // an IPv4 key: the address (network order), 0
  };
  static Key key_of(const Address& ip) noexcept {
    Key k;
    if constexpr (sizeof(Address) == 4) {
      k.hi = ip;
    } else {
      std::memcpy(&k.hi, ip.data(), 8);
      std::memcpy(&k.lo, ip.data() + 8, 8);
    }
    return k;
  }

  struct alignas(32) Slot {
    std::atomic<std::uint64_t> seq{0};  // odd while the writer changes the slot
    std::atomic<std::uint64_t> hi{0};
    std::atomic<std::uint64_t> lo{0};
    std::atomic<std::uint64_t> mac{0};  // mac | valid << 63 | tombstone << 62
  };

  std::uint64_t lookup_key(std::uint64_t hi, std::uint64_t lo) const noexcept {
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
  // Fibonacci hashing spreads consecutive addresses of a subnet (an IPv4 key
  // has lo = 0: the plain multiplicative hash of the address).
  std::size_t home(std::uint64_t hi, std::uint64_t lo) const noexcept {
    const std::uint64_t h = (hi ^ (lo * 0xC2B2AE3D27D4EB4Full)) * 0x9E3779B97F4A7C15ull;
    return static_cast<std::size_t>(h >> 32) & mask_;
  }
  // The writer's side of the sequence lock.
  void write_slot(std::size_t i, std::uint64_t hi, std::uint64_t lo, std::uint64_t mac);
  bool is_empty(std::size_t i) const;
  bool is_tombstone(std::size_t i) const;

  std::optional<std::size_t> find(const Address& ip) const;
  std::optional<std::size_t> insert(const Address& ip, std::uint64_t now);
  void erase(std::size_t i);
  void compact();

  std::size_t mask_;
  NeighbourTiming timing_;
  std::unique_ptr<Slot[]> slots_;  // read by workers
  std::vector<Entry> meta_;        // control only
  std::size_t live_ = 0;
  std::size_t incomplete_ = 0;
  std::uint64_t incomplete_refused_ = 0;
  std::size_t tombstones_ = 0;
};

using NeighbourTable = NeighbourTableOf<Inet4>;
using Neighbour6Table = NeighbourTableOf<Inet6>;
using NeighbourEntry = NeighbourTable::Entry;
using Neighbour6Entry = Neighbour6Table::Entry;

extern template class NeighbourTableOf<Inet4>;
extern template class NeighbourTableOf<Inet6>;

}  // namespace wghub::dp
