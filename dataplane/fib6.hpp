// The IPv6 FIB: the second table of DESIGN.md's "One FIB" (IPv6 AllowedIPs,
// the LAN port's IPv6 subnet and routes, the appliance's own IPv6 addresses),
// with the same NextHop encoding as the IPv4 Fib (fib.hpp) and the same two
// questions: where does this destination go, and which peer owns this inner
// source.
//
// Why rte_lpm6 and not rte_fib6. rte_fib6's TRIE in DPDK 22.11 installs a
// prefix wrongly when more-specific prefixes already cover all of it: with
// c000::/3 and e000::/3 installed, adding c000::/2 makes c000:: and e000::
// answer the /2 (found by the naive-model test in tests/unit/fib/test_fib6.cpp,
// reduced to those three adds). rte_lpm6 passes that test, adds and deletes.
// Its cost: 21 bits of next hop per rule (rte_fib6 has 31), so the IPv6 table
// packs the NextHop {kind, id} tighter than the IPv4 one (encode_next_hop6):
// a peer takes 1 + 20 bits (slots up to 2^20 - 1: the kernel's peer limit),
// every other kind 1 + 3 + 17 (ids up to 131071, beyond the gateways' 256).
// It rejects depth 0, so /0 is kept beside each table. Memory is the same for
// both: a 2^24-entry first level (64 MiB at 4 bytes) plus 1 KiB per tbl8
// group, per table.
//
// Addresses are 16 bytes in network order (as in the packet and in
// rte_lpm6's API): Ipv6Address.
//
// Concurrency: double buffering ("left-right") under RCU. Neither rte_lpm6
// nor rte_fib6 has RCU support in DPDK 22.11 (rte_lpm's rte_lpm_rcu_qsbr_add
// has no IPv6 counterpart), and both free tbl8 groups at once on delete, so a
// reader walking a group that a delete frees and an add reuses could answer
// with an unrelated prefix's next hop. So readers never see a table change:
// there are two identical tables, readers use the `active` one (one atomic
// pointer, acquire), and the control thread (the only writer) changes the
// other ("standby") one only once a grace period has passed since readers
// last could use it:
//
//   add/remove: recorded in the shadow rule map and in an op log, then
//   publish() (non-blocking): if the standby is free of readers (the RCU
//   token taken when it was retired has expired), apply the log to it, swap
//   it in (release store), take a new token for the old active table. The
//   old table catches up from the same log at the next publish.
//
// A change is therefore visible to workers at once when the last publish was
// more than a grace period ago (the usual case: one `wg set`), and otherwise
// with the next publish() that finds the standby free (a burst of changes is
// batched; the control thread calls publish() on its periodic tick). Nothing
// ever blocks. Whoever frees something a removed route pointed to (a peer
// slot, a gateway id) hands that to when_published(): it runs once every
// change made so far is visible, and it should itself retire through a grace
// period (DeferredFree), which then covers readers still on the old table.
//
// Both tables receive the same operations in the same order, so they fail
// the same way: an add that does not fit (rules or tbl8 groups) fails on the
// first table it is applied to. Applied at once, add() returns false with
// error(); applied later, the rule is dropped from the shadow and counted in
// failed_ops(), with the message in error().
#pragma once

#include <rte_lpm6.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/fib.hpp"

namespace wghub::dp {

using Ipv6Address = std::array<uint8_t, 16>;  // network order

// "fd00:1::/64" style (RFC 5952 text), for messages and test output.
std::string format_prefix6(const Ipv6Address& ip, uint8_t depth);
std::string format_ipv6(const uint8_t* ip16);
// The address with the bits past `depth` cleared.
Ipv6Address mask_ipv6(const Ipv6Address& ip, uint8_t depth);

// rte_lpm6 keeps 21 bits per rule. Bit 20 set: a peer, its slot in bits
// 0..19. Bit 20 clear: kind in bits 17..19, id in bits 0..16. Peers get the
// wide field because 2^20 of them (the kernel's limit) must each be able to
// own IPv6 AllowedIPs; the encoded value is never 0 for an installed rule.
inline constexpr unsigned kNextHop6PeerIdBits = 20;
inline constexpr uint32_t kNextHop6PeerFlag = uint32_t{1} << kNextHop6PeerIdBits;
inline constexpr uint32_t kMaxNextHop6PeerId = kNextHop6PeerFlag - 1;
inline constexpr unsigned kNextHop6IdBits = 17;
inline constexpr uint32_t kMaxNextHop6Id = (uint32_t{1} << kNextHop6IdBits) - 1;
constexpr uint32_t max_next_hop6_id(NextHopKind kind) {
  return kind == NextHopKind::kPeer ? kMaxNextHop6PeerId : kMaxNextHop6Id;
}
constexpr uint32_t encode_next_hop6(NextHop nh) {
  if (nh.kind == NextHopKind::kPeer) return kNextHop6PeerFlag | (nh.id & kMaxNextHop6PeerId);
  return (static_cast<uint32_t>(nh.kind) << kNextHop6IdBits) | (nh.id & kMaxNextHop6Id);
}
constexpr NextHop decode_next_hop6(uint32_t value) {
  if (value & kNextHop6PeerFlag) return NextHop{NextHopKind::kPeer, value & kMaxNextHop6PeerId};
  return NextHop{static_cast<NextHopKind>((value >> kNextHop6IdBits) & 0x7),
                 value & kMaxNextHop6Id};
}

struct Fib6Config {
  // rte_lpm6 objects are named memzones: unique per process ("_a"/"_b" are
  // appended for the two tables).
  std::string name = "wghub_fib6";
  uint32_t max_rules = 1u << 16;
  // Each prefix longer than /24 needs up to (depth - 24) / 8 groups of its own
  // (a /64 five, a /128 thirteen); prefixes share the groups of their common
  // leading bytes. 1 KiB each, per table.
  uint32_t tbl8_groups = 1u << 13;
  int socket_id = -1;  // SOCKET_ID_ANY
};

using Route6 = RouteOf<Ipv6Address>;

class Fib6 {
 public:
  // Creates both tables; rcu and errors as Fib::create, except that with rcu
  // a table is changed only a grace period after readers last used it.
  static std::unique_ptr<Fib6> create(const Fib6Config& config, Rcu* rcu, std::string& error);
  ~Fib6();
  Fib6(const Fib6&) = delete;
  Fib6& operator=(const Fib6&) = delete;

  // --- control thread only ---

  // Installs or replaces the rule for ip/depth (0..128). False if depth >
  // 128, nh is kNone or its id above max_next_hop6_id(kind), the rule table is full, or the
  // change was applied at once and did not fit; error() then says which.
  bool add(const Ipv6Address& ip, uint8_t depth, NextHop nh);
  // Removes the rule for exactly ip/depth; false if there was none.
  bool remove(const Ipv6Address& ip, uint8_t depth);
  // The next hop of exactly this rule (as the workers will see it once
  // published), not a longest match.
  std::optional<NextHop> rule(const Ipv6Address& ip, uint8_t depth) const;
  void clear();
  bool add_all(std::span<const Route6> routes);
  std::vector<Route6> routes() const;
  std::size_t size() const { return rules_.size(); }
  const std::string& error() const { return error_; }

  // Makes every change so far visible to the workers if the standby table is
  // free of readers; never blocks. True when nothing is pending afterwards.
  bool publish();
  bool pending() const { return op_end() != applied_[active_index_]; }
  // Runs fn once every change made so far is visible to the workers: now if
  // nothing is pending, else from the publish() that makes it so.
  void when_published(std::function<void()> fn);
  // Changes that were accepted but did not fit when applied later.
  uint64_t failed_ops() const { return failed_ops_; }
  // One of those: the prefix, the next hop add() accepted for it, and what
  // the table keeps for it instead (the rule before the change, or none).
  struct FailedChange {
    Ipv6Address ip{};
    uint8_t depth = 0;
    NextHop wanted{};
    std::optional<NextHop> kept;
  };
  // The failures since the last call, so that whoever recorded the change
  // (the device's owner of an AllowedIP) can take it back. A change whose add()
  // returned false is not among them.
  std::vector<FailedChange> take_failures() { return std::exchange(failures_, {}); }

  // --- any thread, lock-free (workers: between quiescent reports) ---

  NextHop lookup(const uint8_t* ip16) const {
    const Side* side = active_.load(std::memory_order_acquire);
    uint32_t value;
    if (rte_lpm6_lookup(side->lpm, ip16, &value) != 0) value = side->default_value;
    return decode_next_hop6(value);
  }
  NextHop lookup(const Ipv6Address& ip) const { return lookup(ip.data()); }

  // out[i] = lookup(ips[i]) for i < n.
  void lookup_bulk(const Ipv6Address* ips, NextHop* out, unsigned n) const {
    const Side* side = active_.load(std::memory_order_acquire);
    int32_t raw[kBulkChunk];
    static_assert(sizeof(Ipv6Address) == RTE_LPM6_IPV6_ADDR_SIZE);
    for (unsigned base = 0; base < n; base += kBulkChunk) {
      const unsigned count = n - base < kBulkChunk ? n - base : kBulkChunk;
      // rte_lpm6 takes a non-const array but only reads it.
      rte_lpm6_lookup_bulk_func(side->lpm,
                                reinterpret_cast<uint8_t(*)[RTE_LPM6_IPV6_ADDR_SIZE]>(
                                    const_cast<Ipv6Address*>(ips + base)),
                                raw, count);
      for (unsigned i = 0; i < count; ++i)
        out[base + i] =
            decode_next_hop6(raw[i] < 0 ? side->default_value : static_cast<uint32_t>(raw[i]));
    }
  }

  static constexpr unsigned kBulkChunk = 64;

 private:
  using Key = std::pair<Ipv6Address, uint8_t>;  // masked address, depth
  struct Op {
    Key key;
    uint32_t value;  // encoded next hop; 0 = delete
    uint32_t prev;   // the shadow's value before this op (0 = none)
  };

  // One table and its /0 (rte_lpm6 has no depth 0). Both are changed only
  // while the side is the standby one, so readers see them constant.
  struct Side {
    rte_lpm6* lpm = nullptr;
    uint32_t default_value = 0;  // encoded /0 next hop, 0 = none
  };

  Fib6(std::array<rte_lpm6*, 2> tables, Rcu* rcu) : rcu_(rcu) {
    sides_[0].lpm = tables[0];
    sides_[1].lpm = tables[1];
    active_.store(&sides_[0], std::memory_order_relaxed);
  }
  uint64_t op_end() const { return op_base_ + ops_.size(); }
  // Applies ops [applied_[side], op_end()) to that table. False (and the
  // failing op dropped) when an add did not fit.
  bool catch_up(unsigned side);
  void record(const Key& key, uint32_t value);

  std::array<Side, 2> sides_;
  Rcu* rcu_;
  std::atomic<const Side*> active_{nullptr};  // read by workers

  // Control only:
  unsigned active_index_ = 0;
  bool standby_token_valid_ = false;  // false: the standby never had readers
  uint64_t standby_token_ = 0;
  std::deque<Op> ops_;             // log of changes not yet in both tables
  uint64_t op_base_ = 0;           // absolute index of ops_.front()
  uint64_t applied_[2]{};          // absolute index up to which each table is current
  std::map<Key, uint32_t> rules_;  // desired state: masked key -> encoded next hop
  std::deque<std::pair<uint64_t, std::function<void()>>> waiting_;  // (op index, fn)
  uint32_t max_rules_ = 0;
  uint64_t failed_ops_ = 0;
  uint64_t last_failed_index_ = 0;
  std::vector<FailedChange> failures_;
  std::string error_;
};

// kLanRoute ids of the IPv6 table point into a LanGateways6 (lan_gateways.hpp).
using LanGateways6 = LanGatewaysOf<Ipv6Address>;

}  // namespace wghub::dp
