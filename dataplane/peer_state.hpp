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
//   endpoint          workers store it on every authenticated packet whose
//                     outer source differs (roaming, whitepaper 6.5; last
//                     writer wins), control reads it and sets it from config.
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

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "dataplane/keypair.hpp"

namespace wghub::dp {

// Outer endpoint packed into one atomic word: IPv4 address (network order) in
// bits 16..47, UDP port (network order) in bits 0..15. 0 = no endpoint.
constexpr uint64_t pack_endpoint(uint32_t addr_be, uint16_t port_be) {
  return (uint64_t{addr_be} << 16) | port_be;
}
constexpr uint32_t endpoint_addr_be(uint64_t packed) {
  return static_cast<uint32_t>(packed >> 16);
}
constexpr uint16_t endpoint_port_be(uint64_t packed) {
  return static_cast<uint16_t>(packed);
}

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

  // --- workers write (roaming), control reads/sets ---
  alignas(64) std::atomic<uint64_t> endpoint{0};  // pack_endpoint(); 0 = none

  // --- workers stamp (rte_get_tsc_cycles()), control re-checks ---
  alignas(64) std::atomic<uint64_t> last_rx_tsc{0};  // any authenticated packet (keepalives too)
  std::atomic<uint64_t> last_data_rx_tsc{0};         // authenticated, non-keepalive
  std::atomic<uint64_t> last_tx_tsc{0};              // any packet encrypted to the peer
  std::atomic<uint64_t> last_data_tx_tsc{0};         // non-keepalive data sent
  std::atomic<bool> handshake_wanted{false};

  // Worker, after an authenticated packet from `packed` (roaming).
  void update_endpoint(uint64_t packed) {
    if (endpoint.load(std::memory_order_relaxed) != packed)
      endpoint.store(packed, std::memory_order_relaxed);
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
    endpoint.store(0, std::memory_order_relaxed);
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
