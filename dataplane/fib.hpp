// The one IPv4 FIB (DESIGN.md "One FIB"): a DPDK rte_fib DIR24_8 table from
// prefix to next hop. The same table answers "where does this destination go"
// (LAN rx and hub-and-spoke) and "which peer owns this inner source" (the
// AllowedIPs check after decryption).
//
// Addresses are uint32_t in HOST byte order everywhere in this API (rte_fib's
// convention): convert with rte_be_to_cpu_32 / ntohl from the packet header.
//
// Why rte_fib and not rte_lpm (issue 12, docs/perf.md "Scale"). rte_lpm keeps
// its rules in one array grouped by depth and searches a depth's rules
// linearly on every add and delete, so 2^20 peers' /32s cost O(n^2) to load
// (10^5 took seconds, 10^6 never finished). rte_fib keeps the rules in an
// rte_rib trie (O(32) per add/delete) over the same DIR-24-8 data plane: a
// 2^24-entry first level (4-byte entries: 64 MiB) and 256-entry tbl8 groups
// (1 KiB) for /24s that hold longer prefixes.
//
// Next hops. A table value is the 24-bit encode_next_hop in bits 0..23 and
// the rule's depth in bits 24..29 (rte_fib's 4-byte entries keep 31 bits).
// The depth makes a rule's value differ from its parent's, so rte_fib never
// takes its "same next hop as the covering rule: install nothing" shortcut,
// whose tbl8 accounting is wrong in DPDK 22.11 (adding and deleting such a
// /32 wraps the reserved-group counter and every later long prefix in a new
// /24 fails). The table value 0 is "no route" (rte_fib's default next hop).
//
// Rules that contain 255.255.255.255 (the /0 among them) are kept beside the
// table, never given to rte_fib: DPDK 22.11's DIR24_8 wraps its range end to 0
// when it changes a rule that has a more specific rule ending at the top of
// the address space (128.0.0.0/1 over 224.0.0.0/3, say), and then writes the
// changed rule's next hop over all 2^24 first-level entries (found by the
// naive-model test). Those rules nest, so an address with k leading one bits
// is inside exactly those of depth <= k: top_best_[k] holds the deepest one's
// value, and answers when the table has no rule for the address (a rule in
// the table covering it would be deeper: it cannot contain the top address,
// so it lies inside every such rule that covers the address). The /0 was
// kept beside rte_lpm the same way, with the same one load on a miss.
//
// Reading the table. The worker's lookup, prefetch and lookup_bulk are inline
// here, on the DIR24_8 arrays rte_fib_get_dp() returns (DPDK's own lookup is
// the same two loads, but behind a function pointer and for bursts only;
// workers look up one address at a time after prefetching it). The layout is
// DPDK 22.11's private `struct dir24_8_tbl`: Fib::create checks it with probe
// routes against rte_fib_lookup_bulk and refuses to start if it differs.
//
// Concurrency. One writer (the control thread) calls add/remove/clear; any
// number of readers (workers) look up without locks. rte_fib writes each
// 4-byte entry with one store, so a reader sees each entry before or after a
// change. Two things need care, and rte_fib has no RCU hookup in 22.11:
//  - A tbl8 group is freed when its 256 entries become equal (the last long
//    prefix under a /24 went): rte_fib writes the plain value into the first
//    level, zeroes the group and frees it. A reader that loaded the old
//    first-level entry may then read 0 from the group: lookups re-read the
//    first level when a group entry is 0 (a live group never holds 0: every
//    entry has the extension bit set).
//  - A freed group can be allocated again for another /24 at once, while a
//    reader is still walking it for the old one, which would answer with an
//    unrelated prefix's next hop. A long prefix's change touches only its own
//    /24's group, so the writer sees which group it freed (the first-level
//    entry before and after) and holds it: marks it used again in rte_fib's
//    allocation bitmap, with an RCU token, and gives it back once that grace
//    period has passed (checked, never waited for, before each change). Only
//    when rte_fib finds no free group while some are held does add() wait for
//    a grace period and retry. A prefix of /24 or shorter over long ones (a
//    LAN route over peers) may free groups that are not tracked one by one:
//    the next change that may allocate a group waits out a grace period then.
//    Start-up and reloads of /32 peers never wait. Readers must be registered
//    with the Rcu and report quiescent states, and the Rcu must outlive the
//    Fib.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dataplane/lan_gateways.hpp"

struct rte_fib;
struct rte_rib;

namespace wghub::dp {

class Rcu;
class DeferredFree;

enum class NextHopKind : uint8_t {
  kNone = 0,          // no route (never installed)
  kPeer = 1,          // id: peer slot (PeerTable); send encrypted to that peer
  kLanRoute = 2,      // id: LanGateways id; forward on LAN to the route's `via`
  kLanConnected = 3,  // on the LAN port's subnet: resolve the destination itself
  kLocal = 4,         // the appliance's own address
};
inline constexpr unsigned kNextHopKindCount = 5;

inline constexpr unsigned kNextHopIdBits = 21;
inline constexpr uint32_t kMaxNextHopId = (uint32_t{1} << kNextHopIdBits) - 1;

struct NextHop {
  NextHopKind kind = NextHopKind::kNone;
  uint32_t id = 0;  // meaning depends on kind; 0 for kinds without an id

  bool found() const { return kind != NextHopKind::kNone; }
  friend bool operator==(const NextHop&, const NextHop&) = default;
};

// Packs kind into bits 21..23 and id into bits 0..20 of a 24-bit value.
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
  // rte_fib objects are named: unique per process.
  std::string name = "wghub_fib";
  uint32_t max_rules = 1u << 16;
  // /24s that may hold prefixes longer than /24: each needs a group (1 KiB).
  // rte_fib allocates a multiple of 64; add() refuses the group past this.
  uint32_t tbl8_groups = 1u << 12;
  int socket_id = -1;  // SOCKET_ID_ANY
};

// The checks both families' create() make on a config: a name of
// 1..max_name characters (DPDK names its objects after it), rules and tbl8
// groups in 1..their limit, and an initialised Rcu when one is given.
struct FibLimits {
  const char* kind;  // "fib", "fib6": the start of every message
  std::size_t max_name;
  uint32_t max_rules;
  uint32_t max_groups;
};
bool check_fib_config(const FibLimits& limits, const std::string& name, uint32_t max_rules,
                      uint32_t tbl8_groups, const Rcu* rcu, std::string& error);

// One rule of a table, as routes() lists them: Address is the IPv4 host-order
// word or the 16 IPv6 bytes; bits below depth are ignored.
template <typename Address>
struct RouteOf {
  Address ip;
  uint8_t depth;
  NextHop next_hop;
};
using Route = RouteOf<uint32_t>;

class Fib {
 public:
  // Creates the table (EAL must be up). With rcu (initialised) attached, a freed
  // tbl8 group is reused only after a grace period; pass nullptr only when
  // there are no concurrent readers (tests, tools). nullptr and `error` on
  // failure (check_fib_config, or DPDK's).
  static std::unique_ptr<Fib> create(const FibConfig& config, Rcu* rcu, std::string& error);
  ~Fib();
  Fib(const Fib&) = delete;
  // The EAL memory a table of this config takes, rounded up: the 64 MiB
  // first level, the tbl8 groups, and rte_fib's trie node pool, which it
  // sizes from max_rules (~416 bytes a rule measured with DPDK 22.11; rte_lpm
  // took 8). The hub sizes EAL's --no-huge memory with it.
  static std::size_t memory_bytes(const FibConfig& config);
  Fib& operator=(const Fib&) = delete;

  // --- control thread only ---

  // Installs or replaces the rule for ip/depth (depth 0..32). False if depth >
  // 32, nh.kind is kNone, nh.id > kMaxNextHopId, or the table is full (rules or
  // tbl8 groups); error() then says which.
  bool add(uint32_t ip, uint8_t depth, NextHop nh);
  // Runs fn now: a change is visible to readers when add/remove returns (Fib6
  // publishes later; LanGatewaysOf::release serves both).
  template <typename Fn>
  void when_published(Fn&& fn) {
    fn();
  }
  // Removes the rule for exactly ip/depth; false if there was none.
  bool remove(uint32_t ip, uint8_t depth);
  // The next hop of exactly this rule, if installed (not a longest match).
  std::optional<NextHop> rule(uint32_t ip, uint8_t depth) const;
  // Removes every rule, the default route included.
  void clear();
  // Adds each route (the control thread converts config prefixes to these).
  // Stops at the first failure: false, with error() naming the prefix.
  bool add_all(std::span<const Route> routes);

  // Every installed rule (from rte_fib's trie), for status dumps.
  std::vector<Route> routes() const;
  std::size_t size() const { return table_rules_ + top_count_; }

  const std::string& error() const { return error_; }

  // --- any thread, lock-free (workers: between quiescent reports) ---

  NextHop lookup(uint32_t ip) const {
    // Plain aligned 4-byte loads (single-copy atomic on the targets DPDK
    // runs on), the same two as rte_lpm's inline lookup: atomic loads here
    // cost the worker ~0.5 cycle a lookup (the compiler then reloads the
    // table pointers for every address). Anything that is not a hit goes to
    // miss_value, which reads again with atomic loads.
    uint32_t entry = tbl24_[ip >> 8];
    if ((entry & kExtended) != 0) entry = tbl8_[(entry >> 1) * 256u + (ip & 0xffu)];
    uint32_t value = entry >> 1;
    if (value == 0) [[unlikely]]
      value = miss_value(ip);
    return decode_next_hop(value);  // takes bits 0..23; the depth above goes
  }

  // Starts loading the DIR-24-8 first-level entry of `ip` (a lookup soon
  // after then finds it in cache; with thousands of peers each packet's
  // inner address has a line of its own).
  void prefetch(uint32_t ip) const { __builtin_prefetch(&tbl24_[ip >> 8]); }

  // out[i] = lookup(ips[i]) for i < n.
  void lookup_bulk(const uint32_t* ips, NextHop* out, unsigned n) const {
    constexpr unsigned kAhead = 8;
    for (unsigned i = 0; i < n && i < kAhead; ++i) prefetch(ips[i]);
    for (unsigned i = 0; i < n; ++i) {
      if (i + kAhead < n) prefetch(ips[i + kAhead]);
      out[i] = lookup(ips[i]);
    }
  }

  static constexpr unsigned kBulkChunk = 64;

 private:
  // DIR24_8 entries: bit 0 set = "extended", bits 1.. the tbl8 group; else
  // bits 1.. the table value (encode_next_hop | depth << 24; 0: no route).
  static constexpr uint32_t kExtended = 1;
  static constexpr uint32_t kNextHopMask = (uint32_t{1} << 24) - 1;

  // The value for an address the fast path found no rule for. Either the
  // table has none (then the rules kept beside answer: a rule in the table
  // never contains 255.255.255.255, so one covering the address would be
  // deeper than all of those that do), or the address's tbl8 group was freed
  // under us: rte_fib writes the first level's new value, then zeroes the
  // group (a live group entry is never 0: the extension bit is set in each),
  // so reading the first level again finds the new value (Concurrency above).
  [[gnu::noinline]] uint32_t miss_value(uint32_t ip) const {
    uint32_t entry;
    for (;;) {
      entry = __atomic_load_n(&tbl24_[ip >> 8], __ATOMIC_ACQUIRE);
      if ((entry & kExtended) == 0) break;
      const uint32_t second =
          __atomic_load_n(&tbl8_[(entry >> 1) * 256u + (ip & 0xffu)], __ATOMIC_ACQUIRE);
      if (second != 0) {
        entry = second;
        break;
      }
    }
    if ((entry >> 1) != 0) return entry >> 1;
    return top_best_[std::countl_one(ip)].load(std::memory_order_relaxed);
  }

  Fib() = default;
  static bool contains_top(uint32_t masked, uint8_t depth);
  std::size_t rules_against_limit() const;
  void publish_top();
  bool extended(uint32_t ip) const { return (tbl24_[ip >> 8] & kExtended) != 0; }
  bool has_long_rule_under(uint32_t masked, uint8_t depth) const;
  // The group-reuse gate (Concurrency above).
  struct Change {
    bool covered_long = false;  // a prefix of /24 or shorter over long ones
    uint32_t first = 0;         // a long prefix's first-level entry before
  };
  Change before_change(uint32_t masked, uint8_t depth);
  void after_change(uint32_t masked, uint8_t depth, const Change& change);
  void hold_group(uint32_t group);
  void release_held(bool wait);
  struct HeldGroup {
    uint32_t group;
    uint64_t token;
  };

  rte_fib* fib_ = nullptr;
  rte_rib* rib_ = nullptr;  // rte_fib's control-side trie: the rule set
  void* dp_ = nullptr;      // the DIR24_8 table (fib.cpp mirrors its header)
  const uint32_t* tbl24_ = nullptr;
  const uint32_t* tbl8_ = nullptr;
  Rcu* rcu_ = nullptr;
  uint32_t max_rules_ = 0;
  uint32_t max_groups_ = 0;
  // Control only: rules in the table, /24s holding long ones, and the rules
  // containing 255.255.255.255 by depth (their table value, 0 = none).
  std::size_t table_rules_ = 0;
  uint32_t long_nets_ = 0;
  uint32_t top_rules_[33] = {};
  unsigned top_count_ = 0;
  // Control only: freed groups held until their grace period ends (oldest
  // first), and "a group we did not track may have been freed since
  // free_token_ was taken".
  std::deque<HeldGroup> held_;
  bool free_pending_ = false;
  uint64_t free_token_ = 0;
  // [k]: the value of the deepest rule of depth <= k containing
  // 255.255.255.255, 0 = none. Written by control (each entry one store),
  // read relaxed by workers: plain values, no pointer behind them.
  std::atomic<uint32_t> top_best_[33] = {};
  std::string error_;
};

// kLanRoute ids of this table point into a LanGateways (lan_gateways.hpp).
using LanGateways = LanGatewaysOf<uint32_t>;

}  // namespace wghub::dp
