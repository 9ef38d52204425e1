// The runtime state of one peer that workers and the control thread share, and
// the fixed table of them. Workers find a peer by slot: from a FIB next hop
// (kPeer, id = slot) when sending, from Keypair::peer when receiving.
//
// What is deliberately not here: the peer's previous/next keypairs (receiving
// goes by receiver index through the KeypairTable, so workers only need the
// sending keypair), handshake state, keys and timers (control-private), and
// traffic counters (per lcore, lcore_stats.hpp: no shared writes on the fast
// path).
//
// Concurrency, field by field (cache lines split by who writes):
//   current, active   control writes (release), workers read (acquire) on
//                     every packet sent. Setting active=false cuts a removed
//                     peer off at once, before its routes and keypairs go.
//   endpoint          an EndpointCell (below): IPv4 or IPv6 address and port.
//                     Workers store it on every authenticated packet whose
//                     outer source differs (roaming, whitepaper 6.5; last
//                     writer wins) with a try-lock they never wait on, and
//                     read it on every packet sent; control reads it and sets
//                     it from config and handshakes.
//   *_tsc             timestamps stored by workers (touch(): only when they
//                     moved, to keep the line shared); the control thread's
//                     timers re-check them (DESIGN.md: timers on the fast path
//                     are timestamp stores).
//   handshake_wanted  set by a worker that needed a session and found none,
//                     so only the first such packet posts an event to control;
//                     control clears it when it starts the handshake.
//
// Retiring a peer (control): active=false; remove its FIB routes; unpublish
// its keypairs and current (retire them); then retire the slot itself
// (deferred.retire([&] { peers.free(slot); })) so no worker still holding the
// slot number writes into the next peer that gets it.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "dataplane/keypair.hpp"

namespace wghub::dp {

// An outer endpoint: the peer's IPv4 or IPv6 address and UDP port, both in
// network byte order. A plain value; EndpointCell shares one between threads.
//
// Kept as three 64-bit words, built with shifts: the worker builds one per
// received data message and compares it with the peer's (roaming), and a
// wide load right after narrower stores to the same bytes stalls on store
// forwarding (it cost the decap path ~40 cycles per packet in wgperf when
// this was a struct of bytes). Bits: word 0 = family | port << 16 | address
// bytes 0..3 << 32, word 1 = bytes 4..11, word 2 = bytes 12..15 (address
// bytes in memory order on this little-endian target).
struct Endpoint {
  uint64_t w[3] = {0, 0, 0};

  static Endpoint v4(uint32_t addr_be, uint16_t port_be) {
    Endpoint e;
    e.w[0] = 4 | uint64_t{port_be} << 16 | uint64_t{addr_be} << 32;
    return e;
  }
  static Endpoint v6(const uint8_t* addr16, uint16_t port_be) {
    uint64_t a0, a1;
    std::memcpy(&a0, addr16, 8);
    std::memcpy(&a1, addr16 + 8, 8);
    Endpoint e;
    e.w[0] = 6 | uint64_t{port_be} << 16 | a0 << 32;
    e.w[1] = a0 >> 32 | a1 << 32;
    e.w[2] = a1 >> 32;
    return e;
  }

  uint8_t family() const { return static_cast<uint8_t>(w[0]); }  // 0 = none, 4, 6
  uint16_t port_be() const { return static_cast<uint16_t>(w[0] >> 16); }
  bool empty() const { return family() == 0; }
  bool is_v6() const { return family() == 6; }
  uint32_t v4_be() const { return static_cast<uint32_t>(w[0] >> 32); }
  // The 16 address bytes (IPv4: the first 4, the rest zero).
  std::array<uint8_t, 16> addr() const {
    const uint64_t a0 = w[0] >> 32 | w[1] << 32;
    const uint64_t a1 = w[1] >> 32 | w[2] << 32;
    std::array<uint8_t, 16> a;
    std::memcpy(a.data(), &a0, 8);
    std::memcpy(a.data() + 8, &a1, 8);
    return a;
  }

  friend bool operator==(const Endpoint& a, const Endpoint& b) {
    return a.w[0] == b.w[0] && a.w[1] == b.w[1] && a.w[2] == b.w[2];
  }
  // `endpoint == 0` reads "no endpoint" (a literal 0 converts to nullptr_t,
  // nothing else does).
  friend bool operator==(const Endpoint& e, std::nullptr_t) { return e.empty(); }
};
static_assert(std::endian::native == std::endian::little, "Endpoint's word layout");

// One peer's endpoint, shared by the control thread and every worker. It is
// written rarely (a handshake, a roaming site, the config) and read on every
// packet sent, so it is a "latch" (Linux seqcount_latch): two copies and a
// version whose parity says which copy is current.
//
//   - A writer takes the try-lock `writer_`, fills the copy readers are NOT
//     using, then bumps `version_` (release): readers move to it.
//   - A reader loads the version (acquire), copies the current copy
//     (acquire loads), and re-checks the version: unchanged means the copy
//     was not being written (the next writer writes the other copy; its
//     release stores carry the version bump that retired this copy). No
//     standalone fences: GCC's ThreadSanitizer does not support them. It
//     retries only if a whole write completed during its read; a writer
//     preempted in the middle of a write never blocks readers.
//   - Workers only ever try_store(): if another writer holds the lock they
//     skip (roaming is "last writer wins" anyway, and the next packet from
//     the new source tries again), so a worker never waits for anybody.
//     The control thread's store() waits for a worker's store to finish
//     (a few stores long); no worker ever waits for the control thread.
//
// The copies are atomic words, so the protocol is explicit to the compiler
// and to ThreadSanitizer; on x86-64 every access is a plain mov.
class EndpointCell {
 public:
  // Any thread.
  Endpoint load() const {
    for (;;) {
      const uint32_t v = version_.load(std::memory_order_acquire);
      uint64_t w[kWords];
      // Acquire: keeps the version re-check after these loads, and a word a
      // later writer stored brings that writer's view of the version along.
      for (unsigned i = 0; i < kWords; ++i) w[i] = slots_[v & 1][i].load(std::memory_order_acquire);
      if (version_.load(std::memory_order_relaxed) == v) return decode(w);
    }
  }
  // The memory order of the packed word this replaced: accepted and ignored
  // (load() is always consistent).
  Endpoint load(std::memory_order) const { return load(); }
  // Whether the cell holds `e` (load() == e, comparing the stored words: the
  // per-packet roaming check needs no decode).
  bool holds(const Endpoint& e) const {
    uint64_t want[kWords];
    encode(e, want);
    for (;;) {
      const uint32_t v = version_.load(std::memory_order_acquire);
      bool same = true;
      for (unsigned i = 0; i < kWords; ++i)
        same &= slots_[v & 1][i].load(std::memory_order_acquire) == want[i];
      if (version_.load(std::memory_order_relaxed) == v) return same;
    }
  }

  // Workers: false, storing nothing, when another writer holds the cell.
  bool try_store(const Endpoint& e) {
    uint32_t unlocked = 0;
    if (!writer_.compare_exchange_strong(unlocked, 1, std::memory_order_acquire,
                                         std::memory_order_relaxed))
      return false;
    const uint32_t v = version_.load(std::memory_order_relaxed);
    uint64_t w[kWords];
    encode(e, w);
    // Release: a reader that sees one of these words also sees version v
    // (the version this copy stopped being current at), so it retries.
    for (unsigned i = 0; i < kWords; ++i)
      slots_[(v + 1) & 1][i].store(w[i], std::memory_order_release);
    version_.store(v + 1, std::memory_order_release);
    writer_.store(0, std::memory_order_release);
    return true;
  }
  // Control thread (and tests): waits for a worker's store in progress.
  void store(const Endpoint& e) {
    while (!try_store(e)) std::this_thread::yield();
  }
  // The memory order of the packed word this replaced: accepted and ignored.
  void store(const Endpoint& e, std::memory_order) { store(e); }

 private:
  static constexpr unsigned kWords = 3;  // Endpoint::w
  static void encode(const Endpoint& e, uint64_t (&w)[kWords]) {
    for (unsigned i = 0; i < kWords; ++i) w[i] = e.w[i];
  }
  static Endpoint decode(const uint64_t (&w)[kWords]) {
    Endpoint e;
    for (unsigned i = 0; i < kWords; ++i) e.w[i] = w[i];
    return e;
  }

  std::atomic<uint32_t> version_{0};
  std::atomic<uint32_t> writer_{0};  // 1 while a writer fills the other copy
  std::atomic<uint64_t> slots_[2][kWords] = {};
};

// Stores `now` unless the stamp is already within `granularity` cycles of it:
// many workers stamping the same peer per packet would bounce the line.
inline void touch(std::atomic<uint64_t>& stamp, uint64_t now, uint64_t granularity = 0) {
  const uint64_t old = stamp.load(std::memory_order_relaxed);
  if (now > old + granularity) stamp.store(now, std::memory_order_relaxed);
}

struct alignas(64) PeerState {
  // --- control writes, workers read on every packet ---
  std::atomic<Keypair*> current{nullptr};  // keypair used to send; nullptr = none
  std::atomic<bool> active{false};         // configured and allowed to pass traffic
  // Which peer holds the slot: one more each time it is allocated. A
  // reference by slot that waits (a staged packet) carries it, so it cannot
  // reach the next peer given the same slot.
  std::atomic<uint32_t> generation{0};

  // --- workers write (roaming), control reads/sets ---
  alignas(64) EndpointCell endpoint;  // empty = none

  // --- workers stamp (rte_get_tsc_cycles()), control re-checks ---
  alignas(64) std::atomic<uint64_t> last_rx_tsc{0};  // any authenticated packet (keepalives too)
  std::atomic<uint64_t> last_data_rx_tsc{0};         // authenticated, non-keepalive
  std::atomic<uint64_t> last_tx_tsc{0};              // any packet encrypted to the peer
  std::atomic<uint64_t> last_data_tx_tsc{0};         // non-keepalive data sent
  std::atomic<bool> handshake_wanted{false};

  // Worker, after an authenticated packet from `from` (roaming). Skipped
  // when another writer holds the cell: the next packet tries again. True
  // when the endpoint changed.
  bool update_endpoint(const Endpoint& from) {
    return !endpoint.holds(from) && endpoint.try_store(from);
  }
  // Worker: true if this call raised the flag (then post the event).
  bool request_handshake() {
    return !handshake_wanted.load(std::memory_order_relaxed) &&
           !handshake_wanted.exchange(true, std::memory_order_relaxed);
  }

  // Control, on a slot no worker can reach (fresh or after a grace period).
  void reset() {
    current.store(nullptr, std::memory_order_relaxed);
    active.store(false, std::memory_order_relaxed);
    endpoint.store(Endpoint{});
    last_rx_tsc.store(0, std::memory_order_relaxed);
    last_data_rx_tsc.store(0, std::memory_order_relaxed);
    last_tx_tsc.store(0, std::memory_order_relaxed);
    last_data_tx_tsc.store(0, std::memory_order_relaxed);
    handshake_wanted.store(false, std::memory_order_relaxed);
  }
};

class PeerTable {
 public:
  static constexpr uint32_t kDefaultCapacity = 65536;

  explicit PeerTable(uint32_t capacity = kDefaultCapacity)
      : capacity_(capacity), peers_(new PeerState[capacity]), used_(capacity, false) {
    free_.reserve(capacity);
    for (uint32_t s = capacity; s-- > 0;) free_.push_back(s);  // slot 0 first
  }
  PeerTable(const PeerTable&) = delete;
  PeerTable& operator=(const PeerTable&) = delete;

  // Any thread; slot < capacity().
  PeerState& at(uint32_t slot) { return peers_[slot]; }
  const PeerState& at(uint32_t slot) const { return peers_[slot]; }
  uint32_t capacity() const { return capacity_; }

  // --- control thread ---

  // A free slot with its state reset (inactive, no keypair, no endpoint);
  // nullopt when full.
  std::optional<uint32_t> allocate() {
    if (free_.empty()) return std::nullopt;
    const uint32_t slot = free_.back();
    free_.pop_back();
    used_[slot] = true;
    peers_[slot].reset();
    peers_[slot].generation.fetch_add(1, std::memory_order_relaxed);
    return slot;
  }
  // Returns the slot to the pool. Only after a grace period since the peer was
  // made unreachable (see the file comment). False if it was not allocated.
  bool free(uint32_t slot) {
    if (slot >= capacity_ || !used_[slot]) return false;
    used_[slot] = false;
    free_.push_back(slot);
    return true;
  }
  bool allocated(uint32_t slot) const { return slot < capacity_ && used_[slot]; }
  uint32_t in_use() const { return capacity_ - static_cast<uint32_t>(free_.size()); }

 private:
  uint32_t capacity_;
  std::unique_ptr<PeerState[]> peers_;  // shared with workers
  // Control only:
  std::vector<bool> used_;
  std::vector<uint32_t> free_;  // a stack
};

}  // namespace wghub::dp
