// IPv4 neighbour table of one port (the ARP cache): the last stage before LAN
// transmit, where a worker turns the next hop's IPv4 address into the MAC to
// put in the Ethernet header.
//
// Concurrency: ONE writer, the control thread (it learns from ARP, asks for
// resolutions, ages entries); MANY readers, the worker lcores, which only call
// lookup(). Readers are wait-free and never see a torn MAC:
//
//   - The table is a fixed array of slots (open addressing, linear probing,
//     capacity a power of two), allocated once and never freed or moved while
//     the table lives. That is the whole reclamation rule: a reader may be
//     looking at any slot at any time, so slots are reused in place, never
//     released.
//   - A slot's key word holds the IPv4 address and a 32-bit generation that
//     changes every time the slot gets a (new) key; its MAC word holds the
//     48-bit MAC, a valid bit and the low 15 bits of that generation. Both are
//     single 64-bit atomics, so a MAC is always read whole.
//   - A reader that finds its address in the key word accepts the MAC word
//     only when it is valid and carries the same generation. A slot recycled
//     for another address between the reader's two loads therefore reads as a
//     miss (the packet counts kNoNeighbour), never as another host's MAC.
//   - Deleting writes the MAC word invalid first, then a tombstone key, so
//     probe chains through the slot stay intact. Tombstones are reused by
//     inserts and trimmed back to empty when the next slot is empty (no probe
//     chain can run through them then): erase() walks back from the slot it
//     freed; past capacity/8 tombstones, compact() empties every tombstone
//     no live entry's probe path crosses. Entries are never moved, so a
//     reader never misses a live one.
//
// Control-only bookkeeping (state, times, tries) sits in a separate array the
// readers never touch. Times are in the caller's clock units (TSC cycles or
// nanoseconds); NeighbourTiming is in the same units.
#pragma once

#include <rte_ether.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace wghub::dp {

struct NeighbourTiming {
  std::uint64_t reachable = 0;       // a resolved entry older than this is re-resolved
  std::uint64_t retry_interval = 0;  // between two ARP requests for one address
  std::uint32_t max_tries = 3;       // unanswered requests before the entry is dropped

  // RFC 1122 2.3.2.1 leaves the timeouts to us: Linux-like values.
  static NeighbourTiming from_hz(std::uint64_t hz) { return NeighbourTiming{300 * hz, hz, 3}; }
};

enum class NeighbourState : std::uint8_t { kFree, kIncomplete, kResolved };

struct NeighbourEntry {
  std::uint32_t ip_be = 0;
  NeighbourState state = NeighbourState::kFree;
  rte_ether_addr mac{};          // kResolved only
  std::uint64_t updated_at = 0;  // last time a MAC was learned
  std::uint64_t asked_at = 0;    // last ARP request sent
  std::uint32_t tries = 0;       // requests since the last answer
};

class NeighbourTable {
 public:
  static constexpr std::size_t kDefaultCapacity = 4096;

  // `capacity` is rounded up to a power of two (at least 8). At most 3/4 of
  // the slots hold entries, so probe chains stay short.
  explicit NeighbourTable(NeighbourTiming timing, std::size_t capacity = kDefaultCapacity);
  NeighbourTable(const NeighbourTable&) = delete;
  NeighbourTable& operator=(const NeighbourTable&) = delete;

  // Worker lcores: wait-free. The MAC of a resolved neighbour, if any.
  std::optional<rte_ether_addr> lookup(std::uint32_t ip_be) const noexcept {
    return unpack_mac48(lookup_mac48(ip_be));
  }

  // The same for the fast path: the MAC in the low 48 bits (memory order:
  // byte 0 of the address is the lowest byte) with kFound set, or 0 for a
  // miss. A word in a register, no optional to copy through the stack.
  static constexpr std::uint64_t kFound = std::uint64_t{1} << 48;
  // A lookup_mac48 word as a MAC (nullopt for a miss).
  static std::optional<rte_ether_addr> unpack_mac48(std::uint64_t word) noexcept {
    if (word == 0) return std::nullopt;
    rte_ether_addr mac;
    for (int b = 0; b < RTE_ETHER_ADDR_LEN; ++b)
      mac.addr_bytes[b] = static_cast<std::uint8_t>(word >> (8 * b));
    return mac;
  }
  std::uint64_t lookup_mac48(std::uint32_t ip_be) const noexcept {
    std::size_t i = home(ip_be);
    for (std::size_t n = 0; n <= mask_; ++n, i = (i + 1) & mask_) {
      const std::uint64_t key = slots_[i].key.load(std::memory_order_acquire);
      if (key == kEmptyKey) return 0;
      if (static_cast<std::uint32_t>(key) != ip_be || key_is_tombstone(key)) continue;
      const std::uint64_t word = slots_[i].mac.load(std::memory_order_acquire);
      if ((word & kValidBit) == 0 || mac_generation(word) != key_generation_low(key)) return 0;
      return (word & 0xffffffffffffu) | kFound;
    }
    return 0;
  }

  // ---- control thread only

  // Learns (or refreshes) a MAC: the entry becomes resolved. Returns false
  // when the table is full (the neighbour stays unknown).
  bool update(std::uint32_t ip_be, const rte_ether_addr& mac, std::uint64_t now);
  // A packet waits for `ip_be`: true when an ARP request should be sent now
  // (creates an incomplete entry on first use; false while a request is
  // outstanding, while resolved, after max_tries, or when the table is full).
  bool needs_request(std::uint32_t ip_be, std::uint64_t now);
  // Ages entries: a resolved entry older than `reachable` is re-resolved
  // (its MAC stays usable meanwhile), an incomplete or stale one whose last
  // request went unanswered `max_tries` times is dropped. Returns the
  // addresses to send an ARP request for now.
  std::vector<std::uint32_t> expire(std::uint64_t now);
  bool remove(std::uint32_t ip_be);
  bool contains(std::uint32_t ip_be) const;
  std::optional<NeighbourEntry> entry(std::uint32_t ip_be) const;
  std::vector<NeighbourEntry> entries() const;  // for status dumps

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
  static constexpr std::uint64_t kEmptyKey = 0;
  // Bit 63 of the key word marks a tombstone; the address part is kept
  // (harmless: lookups skip tombstones before comparing).
  static constexpr std::uint64_t kTombstoneBit = std::uint64_t{1} << 63;
  static constexpr std::uint64_t kValidBit = std::uint64_t{1} << 63;

  struct alignas(16) Slot {
    std::atomic<std::uint64_t> key{kEmptyKey};  // ip_be | generation << 32 (31 bits, != 0)
    std::atomic<std::uint64_t> mac{0};          // mac | gen15 << 48 | valid << 63
  };

  static bool key_is_tombstone(std::uint64_t key) { return (key & kTombstoneBit) != 0; }
  static std::uint64_t key_generation_low(std::uint64_t key) { return (key >> 32) & 0x7fff; }
  static std::uint64_t mac_generation(std::uint64_t word) { return (word >> 48) & 0x7fff; }
  std::size_t home(std::uint32_t ip_be) const noexcept {
    // Fibonacci hashing spreads consecutive addresses of a subnet.
    return static_cast<std::size_t>((ip_be * 0x9E3779B97F4A7C15ull) >> 32) & mask_;
  }

  std::optional<std::size_t> find(std::uint32_t ip_be) const;
  std::optional<std::size_t> insert(std::uint32_t ip_be, std::uint64_t now);
  void publish_mac(std::size_t i, const rte_ether_addr& mac);
  void erase(std::size_t i);
  void compact();

  std::size_t mask_;
  NeighbourTiming timing_;
  std::unique_ptr<Slot[]> slots_;          // read by workers
  std::vector<NeighbourEntry> meta_;       // control only
  std::vector<std::uint32_t> generation_;  // control only: next generation per slot
  std::size_t live_ = 0;
  std::size_t incomplete_ = 0;
  std::uint64_t incomplete_refused_ = 0;
  std::size_t tombstones_ = 0;
};

}  // namespace wghub::dp
