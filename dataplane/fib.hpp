// The one IPv4 FIB (DESIGN.md "One FIB"): a DPDK rte_lpm DIR-24-8 table from
// prefix to next hop. The same table answers "where does this destination go"
// (LAN rx and hub-and-spoke) and "which peer owns this inner source" (the
// AllowedIPs check after decryption).
//
// Addresses are uint32_t in HOST byte order everywhere in this API (rte_lpm's
// convention): convert with rte_be_to_cpu_32 / ntohl from the packet header.
//
// Next hops. rte_lpm stores 24 bits per rule; we pack a kind in the top 3 bits
// and an id in the low 21 (encode_next_hop). The encoded value 0 is "no route",
// so no installed rule ever encodes to 0 (kind kNone is never installed).
//
// /0. rte_lpm rejects depth 0, so the default route is kept beside the table
// (one atomic word) and answered for every miss.
//
// Concurrency. One writer (the control thread) calls add/remove/clear; any
// number of readers (workers) call lookup/lookup_bulk without locks. rte_lpm
// updates each 32-bit table entry with one atomic store, so a reader sees each
// entry either before or after a change, never torn. What needs RCU is a tbl8
// group (the 256-entry extension for prefixes longer than /24): when the last
// long prefix under a /24 goes, the group is freed and may be reused for another
// /24 while a reader is still walking it, which would answer with a next hop of
// an unrelated prefix. We attach the Rcu to the table (rte_lpm_rcu_qsbr_add) in
// RTE_LPM_QSBR_MODE_DQ: freed groups go to a defer queue and are reused only
// after a grace period. DQ rather than SYNC because SYNC waits out a whole grace
// period inside every delete that frees a group, and the control thread also
// answers handshakes: a config reload removing thousands of /32s would stall it
// for thousands of grace periods. DQ's cost is that add() can find every free
// group still in the defer queue; add() then waits one grace period and
// retries once (see fib.cpp), which only ever happens when the table is nearly
// full. Readers must therefore be registered with that Rcu and report
// quiescent states, and the Rcu must outlive the Fib.
#pragma once

#include <rte_lpm.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace wghub::dp {

class Rcu;
class DeferredFree;

enum class NextHopKind : uint8_t {
  kNone = 0,          // no route (never installed)
  kPeer = 1,          // id: peer slot (PeerTable); send encrypted to that peer
  kLanRoute = 2,      // id: LanGateways id; forward on LAN to the route's `via`
  kLanConnected = 3,  // on the LAN port's subnet: resolve the destination itself
  kWanConnected = 4,  // on the WAN port's subnet (outer routing): resolve the destination
  kWanGateway = 5,    // id: LanGateways-style id of a WAN gateway (outer routing)
  kLocal = 6,         // the appliance's own address
};
inline constexpr unsigned kNextHopKindCount = 7;

inline constexpr unsigned kNextHopIdBits = 21;
inline constexpr uint32_t kMaxNextHopId = (uint32_t{1} << kNextHopIdBits) - 1;

struct NextHop {
  NextHopKind kind = NextHopKind::kNone;
  uint32_t id = 0;  // meaning depends on kind; 0 for kinds without an id

  bool found() const { return kind != NextHopKind::kNone; }
  friend bool operator==(const NextHop&, const NextHop&) = default;
};

// Packs kind into bits 21..23 and id into bits 0..20 of rte_lpm's 24-bit value.
// id must be <= kMaxNextHopId (Fib::add checks).
constexpr uint32_t encode_next_hop(NextHop nh) {
  return (static_cast<uint32_t>(nh.kind) << kNextHopIdBits) | (nh.id & kMaxNextHopId);
}
constexpr NextHop decode_next_hop(uint32_t value) {
  return NextHop{static_cast<NextHopKind>((value >> kNextHopIdBits) & 0x7), value & kMaxNextHopId};
}

// "10.1.2.0/24" style, for messages and test output.
std::string format_prefix(uint32_t ip, uint8_t depth);

struct FibConfig {
  // rte_lpm objects are named memzones: unique per process.
  std::string name = "wghub_fib";
  uint32_t max_rules = 1u << 16;
  // Prefixes longer than /24 each need a group under their /24 (1 KiB each).
  uint32_t tbl8_groups = 1u << 12;
  int socket_id = -1;  // SOCKET_ID_ANY
};

struct Route {
  uint32_t ip;  // host order; bits below depth are ignored
  uint8_t depth;
  NextHop next_hop;
};

class Fib {
 public:
  // Creates the table (EAL must be up). With rcu (initialised) attached, freed
  // tbl8 groups wait for a grace period; pass nullptr only when there are no
  // concurrent readers (tests, tools). nullptr and `error` on failure.
  static std::unique_ptr<Fib> create(const FibConfig& config, Rcu* rcu, std::string& error);
  ~Fib();
  Fib(const Fib&) = delete;
  Fib& operator=(const Fib&) = delete;

  // --- control thread only ---

  // Installs or replaces the rule for ip/depth (depth 0..32). False if depth >
  // 32, nh.kind is kNone, nh.id > kMaxNextHopId, or the table is full (rules or
  // tbl8 groups); error() then says which.
  bool add(uint32_t ip, uint8_t depth, NextHop nh);
  // Removes the rule for exactly ip/depth; false if there was none.
  bool remove(uint32_t ip, uint8_t depth);
  // The next hop of exactly this rule, if installed (not a longest match).
  std::optional<NextHop> rule(uint32_t ip, uint8_t depth) const;
  // Removes every rule, the default route included.
  void clear();
  // Adds each route (the control thread converts config prefixes to these).
  // Stops at the first failure: false, with error() naming the prefix.
  bool add_all(std::span<const Route> routes);

  // Every installed rule (control-side shadow of the table), for status dumps.
  std::vector<Route> routes() const;
  std::size_t size() const { return rules_.size(); }

  const std::string& error() const { return error_; }

  // --- any thread, lock-free (workers: between quiescent reports) ---

  NextHop lookup(uint32_t ip) const {
    uint32_t value;
    if (rte_lpm_lookup(lpm_, ip, &value) == 0) return decode_next_hop(value);
    return decode_next_hop(default_hop_.load(std::memory_order_relaxed));
  }

  // Starts loading the DIR-24-8 first-level entry of `ip` (a lookup soon
  // after then finds it in cache; with thousands of peers each packet's
  // inner address has a line of its own).
  void prefetch(uint32_t ip) const { __builtin_prefetch(&lpm_->tbl24[ip >> 8]); }

  // out[i] = lookup(ips[i]) for i < n, in chunks of kBulkChunk.
  void lookup_bulk(const uint32_t* ips, NextHop* out, unsigned n) const {
    uint32_t raw[kBulkChunk];
    const uint32_t fallback = default_hop_.load(std::memory_order_relaxed);
    for (unsigned base = 0; base < n; base += kBulkChunk) {
      const unsigned count = n - base < kBulkChunk ? n - base : kBulkChunk;
      rte_lpm_lookup_bulk(lpm_, ips + base, raw, count);
      for (unsigned i = 0; i < count; ++i) {
        // Entries come back with RTE_LPM_LOOKUP_SUCCESS set on a hit.
        out[base + i] = decode_next_hop(
            (raw[i] & RTE_LPM_LOOKUP_SUCCESS) != 0 ? (raw[i] & 0x00ffffffu) : fallback);
      }
    }
  }

  static constexpr unsigned kBulkChunk = 64;

 private:
  Fib(rte_lpm* lpm, Rcu* rcu) : lpm_(lpm), rcu_(rcu) {}
  static uint64_t key(uint32_t masked_ip, uint8_t depth) {
    return (uint64_t{masked_ip} << 8) | depth;
  }

  rte_lpm* lpm_;
  Rcu* rcu_;
  // The /0 rule's encoded next hop, 0 = none. Written by control, read relaxed
  // by workers: a plain value, no pointer behind it.
  std::atomic<uint32_t> default_hop_{0};
  // Control only: every installed rule (masked ip, depth) -> encoded next hop.
  // rte_lpm keeps its rules privately; this lets clear() delete rule by rule
  // and routes() list them.
  std::unordered_map<uint64_t, uint32_t> rules_;
  std::string error_;
};

// The small table of next-hop addresses that kLanRoute (and kWanGateway) ids
// point into: a static route's `via`. Owned by the control thread next to the
// Fib; workers read address(id) right after a lookup.
//
// Concurrency: control sets an entry before adding any route that uses its id
// (so a reader that finds the route finds the address), and an id freed by its
// last release() is recycled only after a grace period (via DeferredFree), so a
// worker that looked up the old route never reads a different address.
class LanGateways {
 public:
  explicit LanGateways(uint32_t capacity = 256);

  // Control: the id for `via` (host order), shared by every route with the same
  // via; reference counted. nullopt when full.
  std::optional<uint32_t> acquire(uint32_t via);
  // Control: drops one reference; on the last one the id is retired through
  // `deferred` and becomes reusable after a grace period. False if id is unused.
  bool release(uint32_t id, DeferredFree& deferred);

  // Any thread: the address for an id handed out by acquire (host order).
  uint32_t address(uint32_t id) const {
    return entries_[id].address.load(std::memory_order_relaxed);
  }

  uint32_t capacity() const { return static_cast<uint32_t>(entries_.size()); }
  uint32_t in_use() const { return in_use_; }

 private:
  struct Entry {
    std::atomic<uint32_t> address{0};  // read by workers
    uint32_t refs = 0;                 // control only
    bool retiring = false;             // control only: waiting for a grace period
  };
  std::vector<Entry> entries_;
  uint32_t in_use_ = 0;
};

}  // namespace wghub::dp
