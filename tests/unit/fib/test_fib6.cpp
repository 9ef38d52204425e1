// The IPv6 FIB against a naive longest-prefix-match model, as test_fib.cpp
// does for IPv4: thousands of random prefixes of every length 0..128 (nested
// ones on purpose), random lookups inside, at the edges of and outside them,
// then a random half removed and everything compared again. Then the
// double-buffered publication under RCU: a change is visible at once when the
// standby table is free of readers, waits (without blocking) while a reader
// may still use it, and when_published() callbacks run only once every
// earlier change is visible. And a reader thread that looks up all the time
// while the writer adds and removes.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/fib6.hpp"
#include "dataplane/rcu.hpp"
#include "tests/unit/fib/fib_families.hpp"
#include "tests/unit/fib/fib_model.hpp"

namespace wghub::dp {
namespace {

Ipv6Address addr(std::initializer_list<uint8_t> bytes) {
  Ipv6Address a{};
  std::copy(bytes.begin(), bytes.end(), a.begin());
  return a;
}

bool covers(const Ipv6Address& net, unsigned depth, const Ipv6Address& ip) {
  return mask_ipv6(ip, static_cast<uint8_t>(depth)) == net;
}

std::unique_ptr<Fib6> make_fib6(const std::string& name, Rcu* rcu = nullptr,
                                uint32_t tbl8_groups = 1u << 10) {
  return make_table<Ipv6Fib>(name, rcu, tbl8_groups);
}

TEST(NextHop6Encoding, RoundTripsEveryKindAndIdEdgesIn21Bits) {
  expect_next_hop_round_trips<Ipv6Fib>({0u, 1u, 65535u, kMaxNextHop6Id});  // rte_lpm6: 21 bits
}

// Peers have 20 bits of slot: the kernel's 2^20 peers can all own IPv6 prefixes.
TEST(NextHop6Encoding, PeersKeepTwentyBitsOfSlot) {
  for (uint32_t id : {0u, 1u, 262144u, kMaxNextHop6PeerId}) {
    const NextHop nh{NextHopKind::kPeer, id};
    EXPECT_EQ(decode_next_hop6(encode_next_hop6(nh)), nh) << id;
    EXPECT_LT(encode_next_hop6(nh), 1u << 21) << id;
  }
  EXPECT_EQ(kMaxNextHop6PeerId, (1u << 20) - 1);
}

// rte_fib6's TRIE (DPDK 22.11) gets this wrong (see fib6.hpp); rte_lpm6 must not.
TEST(Fib6, APrefixCoveredByMoreSpecificOnesChangesNothing) {
  auto fib = make_fib6("fib6_cover");
  ASSERT_NE(fib, nullptr);
  ASSERT_TRUE(fib->add(addr({0xc0}), 3, {NextHopKind::kPeer, 1}));
  ASSERT_TRUE(fib->add(addr({0xe0}), 3, {NextHopKind::kPeer, 2}));
  ASSERT_TRUE(fib->add(addr({0xc0}), 2, {NextHopKind::kPeer, 3}));
  EXPECT_EQ(fib->lookup(addr({0xc0})), (NextHop{NextHopKind::kPeer, 1}));
  EXPECT_EQ(fib->lookup(addr({0xe0})), (NextHop{NextHopKind::kPeer, 2}));
  ASSERT_TRUE(fib->remove(addr({0xe0}), 3));
  EXPECT_EQ(fib->lookup(addr({0xe0})), (NextHop{NextHopKind::kPeer, 3}));
}

TEST(Fib6, MasksAndFormats) {
  const Ipv6Address a = addr({0xfd, 0x00, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0});
  EXPECT_EQ(mask_ipv6(a, 0), Ipv6Address{});
  EXPECT_EQ(mask_ipv6(a, 16), addr({0xfd, 0x00}));
  EXPECT_EQ(mask_ipv6(a, 20), addr({0xfd, 0x00, 0x10}));
  EXPECT_EQ(mask_ipv6(a, 128), a);
  EXPECT_EQ(format_prefix6(addr({0xfd, 0x00, 0x00, 0x01}), 64), "fd00:1::/64");
}

// The edges forced: /0, /128 at both ends of the space, a /24, /25, /64.
TEST(Fib6, MatchesNaiveModelWithRandomPrefixes) {
  // A random /128 needs up to 13 tbl8 groups of its own.
  auto fib = make_fib6("fib6_model", nullptr, 1u << 15);
  ASSERT_NE(fib, nullptr);
  std::mt19937 rng(20240612);
  expect_matches_naive_model<Ipv6Fib>(*fib, rng,
                                      {{Ipv6Address{}, 0},
                                       {Ipv6Fib::all_ones(), 128},
                                       {Ipv6Address{}, 128},
                                       {addr({0xfd}), 8},
                                       {addr({0xfd, 0x00, 0x01}), 24},
                                       {addr({0xfd, 0x00, 0x01, 0x80}), 25},
                                       {addr({0xfd, 0x00, 0x00, 0x01}), 64}});
}

TEST(Fib6, RejectsBadInputWithAMessage) {
  auto fib = make_fib6("fib6_bad");
  ASSERT_NE(fib, nullptr);
  const Ipv6Address net = addr({0xfd, 0x00, 0x00, 0x01});
  EXPECT_FALSE(fib->add(net, 129, NextHop{NextHopKind::kPeer, 1}));
  EXPECT_FALSE(fib->error().empty());
  EXPECT_FALSE(fib->add(net, 64, NextHop{NextHopKind::kNone, 1}));
  EXPECT_FALSE(fib->add(net, 64, NextHop{NextHopKind::kPeer, kMaxNextHop6PeerId + 1}));
  EXPECT_FALSE(fib->add(net, 64, NextHop{NextHopKind::kLanRoute, kMaxNextHop6Id + 1}));
  EXPECT_NE(fib->error().find("fd00:1::/64"), std::string::npos) << fib->error();
  EXPECT_FALSE(fib->remove(net, 64));
  EXPECT_FALSE(fib->remove(net, 200));
  EXPECT_EQ(fib->size(), 0u);
}

// /64s under distinct /24s (each needs tbl8 groups of its own), from fd00:1::.
Ipv6Address distinct_64(unsigned i) {
  return addr({0xfd, 0x00, static_cast<uint8_t>(i + 1), 0, 0, 0, 0, 1});
}

// How many distinct_64 prefixes a table of `groups` tbl8 groups holds.
unsigned capacity_of(uint32_t groups) {
  auto fib = make_fib6("fib6_cap", nullptr, groups);
  unsigned n = 0;
  while (fib != nullptr && n < 200 && fib->add(distinct_64(n), 64, {NextHopKind::kPeer, n})) ++n;
  return n;
}

TEST(Fib6, FullTableFailsCleanly) {
  const unsigned fits = capacity_of(16);
  ASSERT_GT(fits, 0u);
  ASSERT_LT(fits, 200u);
  auto fib = make_fib6("fib6_full", nullptr, 16);
  ASSERT_NE(fib, nullptr);
  for (unsigned i = 0; i < fits; ++i)
    ASSERT_TRUE(fib->add(distinct_64(i), 64, {NextHopKind::kPeer, i})) << fib->error();
  const Ipv6Address extra = distinct_64(fits);
  EXPECT_FALSE(fib->add(extra, 64, {NextHopKind::kPeer, 99}));
  EXPECT_NE(fib->error().find("full"), std::string::npos) << fib->error();
  EXPECT_FALSE(fib->rule(extra, 64).has_value());
  EXPECT_EQ(fib->failed_ops(), 0u) << "reported to the caller, not counted";
  EXPECT_TRUE(fib->take_failures().empty()) << "the caller heard it: nothing to take back";
  EXPECT_EQ(fib->size(), fits);
  EXPECT_FALSE(fib->lookup(extra).found());
  for (unsigned i = 0; i < fits; ++i)
    EXPECT_EQ(fib->lookup(distinct_64(i)), (NextHop{NextHopKind::kPeer, i}));
  // Both tables took the same history: room made, the next change applies.
  ASSERT_TRUE(fib->remove(distinct_64(0), 64));
  ASSERT_TRUE(fib->add(extra, 64, {NextHopKind::kPeer, 99})) << fib->error();
  EXPECT_EQ(fib->lookup(extra), (NextHop{NextHopKind::kPeer, 99}));
  EXPECT_FALSE(fib->lookup(distinct_64(0)).found());
}

// One reader (thread 0) registered and online, as a worker that has not yet
// reported a quiescent state.
bool start_one_reader(Rcu& rcu) {
  if (!rcu.init(1) || !rcu.register_thread(0)) return false;
  rcu.online(0);
  return true;
}

// A reader that is online and has not reported a quiescent state since the
// last swap may still be using the standby table: changes wait for it.
TEST(Fib6, ChangesWaitForTheReadersOfTheStandbyTable) {
  Rcu rcu;
  ASSERT_TRUE(start_one_reader(rcu));
  auto fib = make_fib6("fib6_rcu", &rcu, 64);
  ASSERT_NE(fib, nullptr);
  const Ipv6Address a = addr({0xfd, 0x00, 0x00, 0x01});
  const Ipv6Address b = addr({0xfd, 0x00, 0x00, 0x02});
  const NextHop pa{NextHopKind::kPeer, 1}, pb{NextHopKind::kPeer, 2};

  // The standby never had readers: the first change is visible at once.
  ASSERT_TRUE(fib->add(a, 64, pa));
  EXPECT_FALSE(fib->pending());
  EXPECT_EQ(fib->lookup(a), pa);

  // The reader has not passed a quiescent state since the swap: the next
  // change is accepted but waits.
  ASSERT_TRUE(fib->add(b, 64, pb));
  EXPECT_TRUE(fib->pending());
  EXPECT_EQ(fib->rule(b, 64), pb);
  EXPECT_FALSE(fib->lookup(b).found());
  bool ran = false;
  fib->when_published([&] { ran = true; });
  EXPECT_FALSE(ran);
  ASSERT_TRUE(fib->remove(a, 64));
  EXPECT_FALSE(fib->publish());
  EXPECT_EQ(fib->lookup(a), pa);

  rcu.quiescent(0);
  EXPECT_TRUE(fib->publish());
  EXPECT_TRUE(ran);
  EXPECT_EQ(fib->lookup(b), pb);
  EXPECT_FALSE(fib->lookup(a).found());

  // The table that was active catches up at the next swap.
  rcu.quiescent(0);
  const Ipv6Address c = addr({0xfd, 0x00, 0x00, 0x03});
  ASSERT_TRUE(fib->add(c, 64, pa));
  EXPECT_FALSE(fib->pending());
  EXPECT_EQ(fib->lookup(b), pb);
  EXPECT_EQ(fib->lookup(c), pa);
  EXPECT_FALSE(fib->lookup(a).found());

  // Nothing pending: when_published runs at once.
  rcu.quiescent(0);
  bool at_once = false;
  fib->when_published([&] { at_once = true; });
  EXPECT_TRUE(at_once);
  rcu.offline(0);
}

// Changes applied later that do not fit are dropped from the shadow and
// counted; the two tables stay identical.
TEST(Fib6, LateChangesThatDoNotFitAreCounted) {
  const unsigned fits = capacity_of(16);
  ASSERT_GT(fits, 1u);
  Rcu rcu;
  ASSERT_TRUE(start_one_reader(rcu));
  auto fib = make_fib6("fib6_late", &rcu, 16);
  ASSERT_NE(fib, nullptr);
  // The first is applied at once; the reader then holds the other table, so
  // the rest wait, three more than fit.
  for (unsigned i = 0; i < fits + 3; ++i)
    ASSERT_TRUE(fib->add(distinct_64(i), 64, {NextHopKind::kPeer, i})) << fib->error();
  EXPECT_TRUE(fib->pending());
  EXPECT_EQ(fib->size(), fits + 3);
  rcu.quiescent(0);
  EXPECT_TRUE(fib->publish());
  EXPECT_EQ(fib->failed_ops(), 3u);
  EXPECT_NE(fib->error().find(format_prefix6(distinct_64(fits + 2), 64)), std::string::npos)
      << fib->error();
  EXPECT_EQ(fib->size(), fits);
  // Issue 13.5: each is reported back, with what it was to route to.
  const auto failures = fib->take_failures();
  ASSERT_EQ(failures.size(), 3u);
  for (unsigned k = 0; k < 3; ++k) {
    EXPECT_EQ(failures[k].ip, distinct_64(fits + k));
    EXPECT_EQ(failures[k].depth, 64u);
    EXPECT_EQ(failures[k].wanted, (NextHop{NextHopKind::kPeer, fits + k}));
    EXPECT_FALSE(failures[k].kept.has_value());
  }
  EXPECT_TRUE(fib->take_failures().empty());
  for (unsigned i = 0; i < fits + 3; ++i) {
    EXPECT_EQ(fib->rule(distinct_64(i), 64).has_value(), i < fits) << i;
    EXPECT_EQ(fib->lookup(distinct_64(i)).found(), i < fits) << i;
  }
  // The other table catches up with the same history and the same refusals.
  rcu.quiescent(0);
  ASSERT_TRUE(fib->remove(distinct_64(0), 64));
  EXPECT_FALSE(fib->pending());
  EXPECT_EQ(fib->failed_ops(), 3u);
  EXPECT_FALSE(fib->lookup(distinct_64(0)).found());
  EXPECT_EQ(fib->lookup(distinct_64(1)), (NextHop{NextHopKind::kPeer, 1}));
  rcu.quiescent(0);
  ASSERT_TRUE(fib->add(distinct_64(fits), 64, {NextHopKind::kPeer, 7}));
  EXPECT_EQ(fib->lookup(distinct_64(fits)), (NextHop{NextHopKind::kPeer, 7}));
  rcu.offline(0);
}

TEST(LanGateways6, RecyclesAnIdOnlyAfterPublicationAndAGracePeriod) {
  Rcu rcu;
  ASSERT_TRUE(start_one_reader(rcu));
  DeferredFree deferred(rcu);
  auto fib = make_fib6("fib6_gw", &rcu, 64);
  ASSERT_NE(fib, nullptr);
  LanGateways6 gateways(1);
  const Ipv6Address via1 = addr({0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe});
  const Ipv6Address via2 = addr({0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfd});
  const auto id = gateways.acquire(via1);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(gateways.address(*id), via1);
  ASSERT_TRUE(fib->add(addr({0xfd, 1}), 32, {NextHopKind::kLanRoute, *id}));
  ASSERT_TRUE(fib->remove(addr({0xfd, 1}), 32));  // pending: the reader holds the old table
  ASSERT_TRUE(fib->pending());
  EXPECT_TRUE(gateways.release(*id, *fib, deferred));
  EXPECT_FALSE(gateways.acquire(via2).has_value());
  rcu.quiescent(0);
  fib->publish();  // the removal is visible; the id now waits a grace period
  EXPECT_FALSE(gateways.acquire(via2).has_value());
  rcu.quiescent(0);
  deferred.reclaim();
  const auto again = gateways.acquire(via2);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(gateways.address(*again), via2);
  rcu.offline(0);
}

// One reader thread looks up all the time while the writer adds and removes
// /64s and /128s under a stable /48: every answer must be the next hop of a
// prefix that covers the address (ids are prefix indices), and an address
// under the /48 always has an answer.
TEST(Fib6Concurrent, ReaderNeverSeesAForeignNextHop) {
  Rcu rcu;
  ASSERT_TRUE(rcu.init(1));
  ASSERT_TRUE(rcu.register_thread(0));
  auto fib = make_fib6("fib6_conc", &rcu, 1024);
  ASSERT_NE(fib, nullptr);
  struct P {
    Ipv6Address net;
    unsigned depth;
  };
  std::vector<P> prefixes = {{addr({0xfd, 0x00, 0x00, 0x07}), 48}};
  std::mt19937 rng(11);
  for (unsigned i = 0; i < 64; ++i) {
    Ipv6Address a = addr({0xfd, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, static_cast<uint8_t>(i)});
    const unsigned depth = rng() % 2 == 0 ? 64 : 128;
    if (depth == 128) a[15] = static_cast<uint8_t>(rng());
    prefixes.push_back({a, depth});
  }
  ASSERT_TRUE(fib->add(prefixes[0].net, 48, {NextHopKind::kLanConnected, 0}));

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> violations{0}, lookups{0};
  std::thread reader([&] {
    rcu.online(0);
    std::mt19937 r(99);
    while (!stop.load(std::memory_order_relaxed)) {
      for (int k = 0; k < 64; ++k) {
        const P& p = prefixes[1 + r() % (prefixes.size() - 1)];
        Ipv6Address ip = p.net;
        if (p.depth == 64)
          for (unsigned b = 8; b < 16; ++b) ip[b] = static_cast<uint8_t>(r());
        const NextHop nh = fib->lookup(ip);
        if (!nh.found()) {
          ++violations;
        } else if (nh.kind == NextHopKind::kPeer) {
          const P& owner = prefixes.at(nh.id);
          if (!covers(owner.net, owner.depth, ip)) ++violations;
        }
        lookups.fetch_add(1, std::memory_order_relaxed);
      }
      rcu.quiescent(0);
    }
    rcu.offline(0);
  });
  std::vector<bool> installed(prefixes.size(), false);
  for (unsigned op = 0; op < 20000; ++op) {
    const unsigned i = 1 + static_cast<unsigned>(rng() % (prefixes.size() - 1));
    if (installed[i]) {
      ASSERT_TRUE(fib->remove(prefixes[i].net, static_cast<uint8_t>(prefixes[i].depth)));
    } else {
      ASSERT_TRUE(fib->add(prefixes[i].net, static_cast<uint8_t>(prefixes[i].depth),
                           {NextHopKind::kPeer, i}))
          << fib->error();
    }
    installed[i] = !installed[i];
    if (op % 64 == 0) fib->publish();
  }
  while (!fib->publish()) std::this_thread::yield();
  while (lookups.load() < 100000) std::this_thread::yield();
  stop = true;
  reader.join();
  EXPECT_EQ(violations.load(), 0u);
  EXPECT_EQ(fib->failed_ops(), 0u);
  for (std::size_t i = 1; i < prefixes.size(); ++i) {
    const NextHop nh = fib->lookup(prefixes[i].net);
    if (installed[i]) {
      EXPECT_EQ(nh, (NextHop{NextHopKind::kPeer, static_cast<uint32_t>(i)}));
    }
  }
}

}  // namespace
}  // namespace wghub::dp
