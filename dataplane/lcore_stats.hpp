// Per-lcore counters: port traffic, crypto work, drops by reason, and per-peer
// traffic. Each block is written by exactly one lcore, so the fast path does
// no atomic read-modify-write and shares no cache line with another writer
// (DESIGN.md: "its counters (cache-aligned, no atomics)").
//
// Reading from another thread. The writer updates a counter with a relaxed
// atomic load and store through std::atomic_ref (counter_add): on x86-64 that
// compiles to the same plain mov/add/mov as `c += n`, but it makes the
// single-writer/many-reader protocol explicit to the compiler and to
// ThreadSanitizer. Readers (control, metrics) use counter_read, a relaxed
// 64-bit load, which is never torn on x86-64. A snapshot is not a consistent
// cut across counters (rx_packets and rx_bytes may be one packet apart): fine
// for statistics. Hot loops may accumulate in locals and counter_add once per
// burst.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "dataplane/drop_reason.hpp"

namespace wghub::dp {

// Writer side: only the owning lcore calls this on a given counter.
inline void counter_add(uint64_t& counter, uint64_t n = 1) {
  std::atomic_ref<uint64_t> ref(counter);
  ref.store(ref.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// Reader side: any thread.
inline uint64_t counter_read(const uint64_t& counter) {
  // atomic_ref<const T> arrives only in C++26; this only loads.
  return std::atomic_ref<uint64_t>(const_cast<uint64_t&>(counter)).load(std::memory_order_relaxed);
}

inline constexpr unsigned kStatsPortWan = 0;
inline constexpr unsigned kStatsPortLan = 1;
inline constexpr unsigned kStatsPortCount = 2;

struct alignas(64) LcoreStats {
  uint64_t rx_packets[kStatsPortCount] = {};  // index kStatsPortWan / kStatsPortLan
  uint64_t rx_bytes[kStatsPortCount] = {};
  uint64_t tx_packets[kStatsPortCount] = {};
  uint64_t tx_bytes[kStatsPortCount] = {};
  uint64_t decrypted_packets = 0;
  uint64_t decrypted_bytes = 0;
  uint64_t encrypted_packets = 0;
  uint64_t encrypted_bytes = 0;
  uint64_t handshakes_to_control = 0;
  // Under load (cookie_gate.hpp): cookie replies this worker sent, and
  // messages with a valid mac2 it passed to the proven ring.
  uint64_t cookie_replies_sent = 0;
  uint64_t handshakes_proven = 0;
  // Packets over the tunnel MTU (worker_pmtu.cpp): IPv4 fragments made, and
  // the ICMP / ICMPv6 errors sent, held back by the rate limit, or not
  // allowed at all (RFC 1812 4.3.2.7, RFC 4443 2.4 (e)).
  uint64_t fragments_created = 0;
  uint64_t icmp_errors_sent = 0;
  uint64_t icmp_errors_rate_limited = 0;
  uint64_t icmp_errors_suppressed = 0;
  uint64_t drops[kDropReasonCount] = {};

  // Owning lcore only.
  void drop(DropReason reason, uint64_t n = 1) {
    counter_add(drops[static_cast<std::size_t>(reason)], n);
  }
};

// Calls f(dst_field, src_field) for every counter of the two blocks, so
// snapshot and sum cannot forget a field added later.
template <typename Dst, typename Src, typename F>
void for_each_counter(Dst& dst, Src& src, F&& f) {
  for (unsigned p = 0; p < kStatsPortCount; ++p) {
    f(dst.rx_packets[p], src.rx_packets[p]);
    f(dst.rx_bytes[p], src.rx_bytes[p]);
    f(dst.tx_packets[p], src.tx_packets[p]);
    f(dst.tx_bytes[p], src.tx_bytes[p]);
  }
  f(dst.decrypted_packets, src.decrypted_packets);
  f(dst.decrypted_bytes, src.decrypted_bytes);
  f(dst.encrypted_packets, src.encrypted_packets);
  f(dst.encrypted_bytes, src.encrypted_bytes);
  f(dst.handshakes_to_control, src.handshakes_to_control);
  f(dst.cookie_replies_sent, src.cookie_replies_sent);
  f(dst.handshakes_proven, src.handshakes_proven);
  f(dst.fragments_created, src.fragments_created);
  f(dst.icmp_errors_sent, src.icmp_errors_sent);
  f(dst.icmp_errors_rate_limited, src.icmp_errors_rate_limited);
  f(dst.icmp_errors_suppressed, src.icmp_errors_suppressed);
  for (std::size_t r = 0; r < kDropReasonCount; ++r) f(dst.drops[r], src.drops[r]);
}

// Any thread: the sum over the given lcores' blocks (nullptr entries skipped).
inline LcoreStats snapshot_sum(std::span<const LcoreStats* const> lcores) {
  LcoreStats sum;
  for (const LcoreStats* one : lcores) {
    if (one == nullptr) continue;
    for_each_counter(sum, *one, [](uint64_t& d, const uint64_t& s) { d += counter_read(s); });
  }
  return sum;
}

// Any thread: a copy of one block.
inline LcoreStats snapshot(const LcoreStats& one) {
  const LcoreStats* p = &one;
  return snapshot_sum({&p, 1});
}

// Per-peer traffic, one block per worker indexed by peer slot: a peer's
// counters are spread over the lcores that carried its packets and summed by
// the reader. A reused peer slot inherits the old totals: control records the
// sum when it allocates the slot and reports the difference.
struct PeerCounters {
  uint64_t rx_packets = 0;  // decrypted data packets from the peer
  uint64_t rx_bytes = 0;
  uint64_t tx_packets = 0;  // data packets encrypted to the peer
  uint64_t tx_bytes = 0;

  PeerCounters& operator+=(const PeerCounters& o) {
    rx_packets += o.rx_packets;
    rx_bytes += o.rx_bytes;
    tx_packets += o.tx_packets;
    tx_bytes += o.tx_bytes;
    return *this;
  }
  PeerCounters operator-(const PeerCounters& o) const {
    return {rx_packets - o.rx_packets, rx_bytes - o.rx_bytes, tx_packets - o.tx_packets,
            tx_bytes - o.tx_bytes};
  }
  friend bool operator==(const PeerCounters&, const PeerCounters&) = default;
};

class PeerCounterBlock {
 public:
  // Sized by the peer table's capacity; allocated once per worker, at startup.
  explicit PeerCounterBlock(uint32_t capacity)
      : capacity_(capacity), counters_(new PeerCounters[capacity]()) {}

  uint32_t capacity() const { return capacity_; }

  // Owning lcore only; slot < capacity (the peer table guarantees it).
  void add_rx(uint32_t slot, uint64_t bytes, uint64_t packets = 1) {
    counter_add(counters_[slot].rx_packets, packets);
    counter_add(counters_[slot].rx_bytes, bytes);
  }
  void add_tx(uint32_t slot, uint64_t bytes, uint64_t packets = 1) {
    counter_add(counters_[slot].tx_packets, packets);
    counter_add(counters_[slot].tx_bytes, bytes);
  }

  void prefetch(uint32_t slot) const { __builtin_prefetch(&counters_[slot], 1); }

  // Any thread.
  PeerCounters read(uint32_t slot) const {
    const PeerCounters& c = counters_[slot];
    return {counter_read(c.rx_packets), counter_read(c.rx_bytes), counter_read(c.tx_packets),
            counter_read(c.tx_bytes)};
  }

 private:
  uint32_t capacity_;
  std::unique_ptr<PeerCounters[]> counters_;
};

// Any thread: one peer's totals over every worker's block (nullptr skipped).
inline PeerCounters sum_peer_counters(std::span<const PeerCounterBlock* const> blocks,
                                      uint32_t slot) {
  PeerCounters sum;
  for (const PeerCounterBlock* b : blocks) {
    if (b != nullptr && slot < b->capacity()) sum += b->read(slot);
  }
  return sum;
}

}  // namespace wghub::dp
