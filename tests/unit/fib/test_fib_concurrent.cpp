// The FIB under concurrent readers: the control side keeps adding and removing
// long prefixes (each add/remove cycle allocates and frees a tbl8 group, and the
// table has only a few, so groups are recycled across /24s all the time) while
// reader threads, registered with the RCU, look up addresses and check every
// answer: a next hop must belong to an installed-at-some-point prefix that
// covers the address, and an address under a never-removed prefix always has
// an answer. No timing: the writer runs until it has done its operations and
// every reader has done its lookups.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/fib.hpp"
#include "dataplane/rcu.hpp"

namespace wghub::dp {
namespace {

uint32_t mask_of(unsigned depth) {
  return depth == 0 ? 0 : ~uint32_t{0} << (32 - depth);
}

struct Prefix {
  uint32_t net;
  uint8_t depth;
  bool covers(uint32_t ip) const { return (ip & mask_of(depth)) == net; }
};

TEST(FibConcurrent, ReadersNeverSeeAForeignNextHop) {
  constexpr unsigned kReaders = 2;
  constexpr unsigned kPoolNets = 16;         // /24s that get long prefixes
  constexpr unsigned kPrefixesPerNet = 6;    // /25../32 candidates in each
  constexpr unsigned kWriterOps = 10000;     // add/remove operations
  constexpr uint64_t kReaderBatches = 1000;  // per reader, at least

  Rcu rcu;
  ASSERT_TRUE(rcu.init(kReaders));
  FibConfig config;
  config.name = "fib_conc";
  config.max_rules = 1024;
  config.tbl8_groups = 8;  // fewer than kPoolNets: groups move between /24s
  std::string error;
  auto fib = Fib::create(config, &rcu, error);
  ASSERT_NE(fib, nullptr) << error;

  // The id of every next hop is the index of its prefix here (immutable, shared).
  // Index 0 is the stable 10.0.0.0/16 covering all pool nets; then a stable /24.
  std::vector<Prefix> prefixes = {{0x0a000000u, 16}, {0x0a00ff00u, 24}};
  std::mt19937 rng(7);
  std::vector<uint32_t> pool_nets;
  for (unsigned n = 0; n < kPoolNets; ++n) {
    const uint32_t net = 0x0a000000u | (n << 8);
    pool_nets.push_back(net);
    for (unsigned i = 0; i < kPrefixesPerNet;) {  // distinct prefixes per net
      const uint8_t depth = static_cast<uint8_t>(25 + rng() % 8);
      const Prefix p{(net | (static_cast<uint32_t>(rng()) & 0xffu)) & mask_of(depth), depth};
      bool dup = false;
      for (size_t j = prefixes.size() - i; j < prefixes.size(); ++j)
        dup = dup || (prefixes[j].net == p.net && prefixes[j].depth == p.depth);
      if (dup) continue;
      prefixes.push_back(p);
      ++i;
    }
  }
  ASSERT_TRUE(fib->add(prefixes[0].net, prefixes[0].depth, {NextHopKind::kLanConnected, 0}));
  ASSERT_TRUE(fib->add(prefixes[1].net, prefixes[1].depth, {NextHopKind::kPeer, 1}));

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> violations{0};
  std::atomic<uint64_t> batches_done[kReaders] = {};
  std::atomic<uint64_t> hits_long{0};
  std::vector<std::thread> readers;
  for (unsigned r = 0; r < kReaders; ++r) {
    ASSERT_TRUE(rcu.register_thread(r));
    readers.emplace_back([&, r] {
      std::mt19937 local(100 + r);
      rcu.online(r);
      uint32_t ips[Fib::kBulkChunk + 3];
      NextHop out[Fib::kBulkChunk + 3];
      uint64_t long_hits = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        for (uint32_t& ip : ips) {
          ip = pool_nets[local() % pool_nets.size()] | (local() & 0xffu);
          if (local() % 16 == 0) ip = 0x0a00ff00u | (local() & 0xffu);
        }
        const unsigned n = sizeof ips / sizeof ips[0];
        fib->lookup_bulk(ips, out, n);
        out[0] = fib->lookup(ips[0]);  // the single lookup path too
        for (unsigned i = 0; i < n; ++i) {
          const NextHop nh = out[i];
          // Every probed address is under the stable /16: never "no route".
          const bool ok = nh.found() && nh.id < prefixes.size() && prefixes[nh.id].covers(ips[i]) &&
                          (nh.id < 2 || nh.kind == NextHopKind::kPeer);
          if (!ok) violations.fetch_add(1, std::memory_order_relaxed);
          if (nh.id >= 2) ++long_hits;
        }
        rcu.quiescent(r);  // holds nothing from the table past this point
        batches_done[r].fetch_add(1, std::memory_order_relaxed);
      }
      rcu.offline(r);
      hits_long.fetch_add(long_hits, std::memory_order_relaxed);
    });
  }

  // Writer: fill a random pool net with some of its long prefixes, then empty
  // it again (freeing its tbl8 group into the RCU defer queue).
  std::vector<std::vector<unsigned>> installed(kPoolNets);
  unsigned ops = 0;
  uint64_t failed_adds = 0;
  auto readers_done = [&] {
    for (auto& b : batches_done)
      if (b.load(std::memory_order_relaxed) < kReaderBatches) return false;
    return true;
  };
  while (ops < kWriterOps || !readers_done()) {
    const unsigned n = static_cast<unsigned>(rng() % kPoolNets);
    auto& live = installed[n];
    if (live.empty() || rng() % 2 == 0) {
      const unsigned idx = 2 + n * kPrefixesPerNet + static_cast<unsigned>(rng() % kPrefixesPerNet);
      if (std::find(live.begin(), live.end(), idx) == live.end()) {
        if (fib->add(prefixes[idx].net, prefixes[idx].depth, {NextHopKind::kPeer, idx}))
          live.push_back(idx);
        else
          ++failed_adds;  // all tbl8 groups busy: allowed, the table stays consistent
      }
    } else {
      // EXPECT, not ASSERT: returning early would leave the readers running.
      for (unsigned idx : live) EXPECT_TRUE(fib->remove(prefixes[idx].net, prefixes[idx].depth));
      live.clear();
    }
    ++ops;
  }
  stop.store(true);
  for (auto& t : readers) t.join();

  EXPECT_EQ(violations.load(), 0u);
  EXPECT_GT(hits_long.load(), 0u) << "readers never saw a long prefix: the test tested nothing";
  EXPECT_LT(failed_adds, ops);
  // After the churn the table still answers exactly like its rule set.
  for (unsigned n = 0; n < kPoolNets; ++n) {
    for (uint32_t host = 0; host < 256; ++host) {
      const uint32_t ip = pool_nets[n] | host;
      unsigned best = 0;
      for (unsigned idx : installed[n])
        if (prefixes[idx].covers(ip) && prefixes[idx].depth > prefixes[best].depth) best = idx;
      ASSERT_EQ(fib->lookup(ip).id, best) << format_prefix(ip, 32);
    }
  }
  for (unsigned r = 0; r < kReaders; ++r) EXPECT_TRUE(rcu.unregister_thread(r));
}

// With one tbl8 group and a live reader, removing the only long prefix and
// adding one under another /24 must still work: the freed group comes back
// after a grace period (Fib holds it until then).
TEST(FibConcurrent, FreedGroupIsReusedAfterAGracePeriod) {
  Rcu rcu;
  ASSERT_TRUE(rcu.init(1));
  ASSERT_TRUE(rcu.register_thread(0));
  FibConfig config;
  config.name = "fib_reuse";
  config.max_rules = 16;
  config.tbl8_groups = 1;
  std::string error;
  auto fib = Fib::create(config, &rcu, error);
  ASSERT_NE(fib, nullptr) << error;

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reports{0};
  std::thread reader([&] {
    rcu.online(0);
    while (!stop.load(std::memory_order_relaxed)) {
      (void)fib->lookup(0x0a000081u);
      rcu.quiescent(0);
      reports.fetch_add(1, std::memory_order_relaxed);
    }
    rcu.offline(0);
  });
  while (reports.load() == 0) std::this_thread::yield();  // reader is inside its loop
  for (uint32_t round = 0; round < 50; ++round) {
    const uint32_t net = 0x0a000080u | ((round % 7) << 8);
    const bool added = fib->add(net, 25, {NextHopKind::kPeer, round});
    EXPECT_TRUE(added) << round << ": " << fib->error();
    if (!added) break;  // not ASSERT: the reader must be stopped first
    EXPECT_EQ(fib->lookup(net | 1), (NextHop{NextHopKind::kPeer, round}));
    EXPECT_TRUE(fib->remove(net, 25));
  }
  stop.store(true);
  reader.join();
}

// Every one of rte_fib's groups in use (64: it allocates multiples of 64)
// and a live reader: a long prefix's removal frees a group, which the Fib
// holds for a grace period; an add under a new /24 then finds no free group
// in rte_fib, waits for the grace period, and succeeds with the held one.
TEST(FibConcurrent, AddWaitsForAHeldGroupWhenTheTableIsFull) {
  Rcu rcu;
  ASSERT_TRUE(rcu.init(1));
  ASSERT_TRUE(rcu.register_thread(0));
  FibConfig config;
  config.name = "fib_held";
  config.max_rules = 256;
  config.tbl8_groups = 64;
  std::string error;
  auto fib = Fib::create(config, &rcu, error);
  ASSERT_NE(fib, nullptr) << error;
  for (uint32_t n = 0; n < 64; ++n)
    ASSERT_TRUE(fib->add(0x0a000001u | (n << 8), 32, {NextHopKind::kPeer, n})) << fib->error();
  EXPECT_FALSE(fib->add(0x0b000001u, 32, {NextHopKind::kPeer, 99}));  // 65th /24: full

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reports{0}, wrong{0};
  std::thread reader([&] {
    rcu.online(0);
    while (!stop.load(std::memory_order_relaxed)) {
      for (uint32_t n = 1; n < 64; ++n) {
        const NextHop nh = fib->lookup(0x0a000001u | (n << 8));
        if (nh != NextHop{NextHopKind::kPeer, n}) wrong.fetch_add(1, std::memory_order_relaxed);
      }
      rcu.quiescent(0);
      reports.fetch_add(1, std::memory_order_relaxed);
    }
    rcu.offline(0);
  });
  while (reports.load() == 0) std::this_thread::yield();
  for (uint32_t round = 0; round < 20; ++round) {
    const uint32_t old_ip = round == 0 ? 0x0a000001u : 0x0b000001u | ((round - 1) << 8);
    EXPECT_TRUE(fib->remove(old_ip, 32));
    const uint32_t ip = 0x0b000001u | (round << 8);
    const bool added = fib->add(ip, 32, {NextHopKind::kPeer, 100 + round});
    EXPECT_TRUE(added) << round << ": " << fib->error();
    if (!added) break;  // not ASSERT: the reader must be stopped first
    EXPECT_EQ(fib->lookup(ip), (NextHop{NextHopKind::kPeer, 100 + round}));
  }
  stop.store(true);
  reader.join();
  EXPECT_EQ(wrong.load(), 0u);
}

}  // namespace
}  // namespace wghub::dp
