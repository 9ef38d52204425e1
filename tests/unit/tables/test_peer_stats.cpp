// PeerTable / PeerState helpers and the per-lcore counters (LcoreStats,
// PeerCounterBlock): allocation and reset, endpoint packing, timestamp and
// handshake-request helpers, sums, and a reader summing while a writer counts.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "dataplane/lcore_stats.hpp"
#include "dataplane/peer_state.hpp"

namespace wghub::dp {
namespace {

TEST(PeerTable, AllocateResetsAndFreeReturnsTheSlot) {
  PeerTable peers(3);
  EXPECT_EQ(peers.capacity(), 3u);
  const auto a = peers.allocate();
  const auto b = peers.allocate();
  const auto c = peers.allocate();
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, 0u);
  EXPECT_FALSE(peers.allocate().has_value());
  EXPECT_EQ(peers.in_use(), 3u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(&peers.at(*b)) % 64, 0u);

  PeerState& s = peers.at(*b);
  s.active.store(true);
  s.endpoint.store(Endpoint::v4(htonl(0xc6336401u), htons(51820)));
  s.last_rx_tsc.store(123);
  ASSERT_TRUE(s.request_handshake());
  EXPECT_TRUE(peers.free(*b));
  EXPECT_FALSE(peers.free(*b));
  EXPECT_FALSE(peers.allocated(*b));
  EXPECT_FALSE(peers.free(99));

  const auto again = peers.allocate();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, *b);
  EXPECT_FALSE(s.active.load());
  EXPECT_TRUE(s.endpoint.load().empty());
  EXPECT_EQ(s.last_rx_tsc.load(), 0u);
  EXPECT_EQ(s.current.load(), nullptr);
  EXPECT_FALSE(s.handshake_wanted.load());
}

TEST(PeerState, EndpointsOfBothFamiliesAndRoaming) {
  const uint32_t addr = htonl(0xc6336401u);  // 198.51.100.1
  const uint16_t port = htons(51820);
  const Endpoint v4 = Endpoint::v4(addr, port);
  EXPECT_EQ(v4.family(), 4);
  EXPECT_EQ(v4.v4_be(), addr);
  EXPECT_EQ(v4.port_be(), port);
  EXPECT_FALSE(v4.empty());
  EXPECT_TRUE(Endpoint{} == 0) << "0 reads 'no endpoint'";
  EXPECT_FALSE(v4 == 0);
  const uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
  const Endpoint v6 = Endpoint::v6(a6, port);
  EXPECT_TRUE(v6.is_v6());
  EXPECT_EQ(0, std::memcmp(v6.addr().data(), a6, 16));
  EXPECT_NE(v4, v6);

  PeerState s;
  EXPECT_TRUE(s.endpoint.load().empty());
  s.update_endpoint(v4);
  EXPECT_EQ(s.endpoint.load(), v4);
  const Endpoint roamed = Endpoint::v4(addr, htons(40000));
  s.update_endpoint(roamed);
  EXPECT_EQ(s.endpoint.load(), roamed);
  s.update_endpoint(v6);  // a site can roam across families
  EXPECT_EQ(s.endpoint.load(), v6);
  EXPECT_TRUE(s.endpoint.try_store(v4));
  EXPECT_EQ(s.endpoint.load(), v4);
}

// Writers (a "control" thread storing, two "workers" try-storing) and
// readers race on one cell: every endpoint read must be one that was written
// whole (its address bytes all derive from its port), and the last store wins.
TEST(EndpointCell, ReadersNeverSeeATornEndpoint) {
  EndpointCell cell;
  auto make = [](uint16_t n) {
    uint8_t a[16];
    for (int i = 0; i < 16; ++i) a[i] = static_cast<uint8_t>(n * 7 + i);
    return (n % 2 == 0) ? Endpoint::v6(a, n)
                        : Endpoint::v4(static_cast<uint32_t>(n) * 0x01010101u, n);
  };
  auto consistent = [&](const Endpoint& e) { return e.empty() || e == make(e.port_be()); };
  cell.store(make(1));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0}, torn{0}, skipped{0};
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        if (!consistent(cell.load())) torn.fetch_add(1, std::memory_order_relaxed);
        reads.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (uint16_t n = 0; !stop.load(std::memory_order_relaxed); n += 2)
        if (!cell.try_store(make(static_cast<uint16_t>(n + w + 2))))
          skipped.fetch_add(1, std::memory_order_relaxed);
    });
  }
  for (uint16_t n = 0; n < 20000 || reads.load() < 200000; ++n) cell.store(make(n % 1000 + 1));
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(torn.load(), 0u) << reads.load() << " reads, " << skipped.load() << " skipped stores";
  cell.store(make(42));
  EXPECT_EQ(cell.load(), make(42));
}

TEST(PeerState, TouchAndHandshakeRequest) {
  PeerState s;
  touch(s.last_tx_tsc, 1000, 100);
  EXPECT_EQ(s.last_tx_tsc.load(), 1000u);
  touch(s.last_tx_tsc, 1050, 100);  // within the granularity: left alone
  EXPECT_EQ(s.last_tx_tsc.load(), 1000u);
  touch(s.last_tx_tsc, 1200, 100);
  EXPECT_EQ(s.last_tx_tsc.load(), 1200u);
  touch(s.last_tx_tsc, 900);  // never backwards
  EXPECT_EQ(s.last_tx_tsc.load(), 1200u);

  EXPECT_TRUE(s.request_handshake());
  EXPECT_FALSE(s.request_handshake());  // one event until control clears it
  s.handshake_wanted.store(false);
  EXPECT_TRUE(s.request_handshake());
}

TEST(LcoreStats, SnapshotSumCoversEveryCounter) {
  LcoreStats a, b;
  EXPECT_EQ(alignof(LcoreStats), 64u);
  counter_add(a.rx_packets[kStatsPortWan], 3);
  counter_add(a.rx_bytes[kStatsPortWan], 300);
  counter_add(b.rx_packets[kStatsPortWan], 4);
  counter_add(b.tx_packets[kStatsPortLan], 5);
  counter_add(b.tx_bytes[kStatsPortLan], 500);
  counter_add(a.decrypted_packets);
  counter_add(b.decrypted_bytes, 64);
  counter_add(a.encrypted_packets, 2);
  counter_add(b.encrypted_bytes, 128);
  counter_add(a.handshakes_to_control, 7);
  a.drop(DropReason::kReplay);
  b.drop(DropReason::kReplay, 2);
  b.drop(DropReason::kTxFull);

  const LcoreStats* both[] = {&a, nullptr, &b};
  const LcoreStats sum = snapshot_sum(both);
  EXPECT_EQ(sum.rx_packets[kStatsPortWan], 7u);
  EXPECT_EQ(sum.rx_bytes[kStatsPortWan], 300u);
  EXPECT_EQ(sum.rx_packets[kStatsPortLan], 0u);
  EXPECT_EQ(sum.tx_packets[kStatsPortLan], 5u);
  EXPECT_EQ(sum.tx_bytes[kStatsPortLan], 500u);
  EXPECT_EQ(sum.decrypted_packets, 1u);
  EXPECT_EQ(sum.decrypted_bytes, 64u);
  EXPECT_EQ(sum.encrypted_packets, 2u);
  EXPECT_EQ(sum.encrypted_bytes, 128u);
  EXPECT_EQ(sum.handshakes_to_control, 7u);
  EXPECT_EQ(sum.drops[static_cast<size_t>(DropReason::kReplay)], 3u);
  EXPECT_EQ(sum.drops[static_cast<size_t>(DropReason::kTxFull)], 1u);
  EXPECT_EQ(sum.drops[static_cast<size_t>(DropReason::kNoRoute)], 0u);

  // Every field is visited: summing a block of all-ones counts each field once.
  LcoreStats ones;
  uint64_t fields = 0;
  for_each_counter(ones, ones, [&fields](uint64_t& d, const uint64_t&) {
    d = 1;
    ++fields;
  });
  EXPECT_EQ(fields, 4 * kStatsPortCount + 11 + kDropReasonCount);
  const LcoreStats one_copy = snapshot(ones);
  uint64_t total = 0;
  for_each_counter(one_copy, one_copy,
                   [&total](const uint64_t& d, const uint64_t&) { total += d; });
  EXPECT_EQ(total, fields);
}

TEST(LcoreStats, ReaderSeesMonotonicCountsWhileTheOwnerWrites) {
  LcoreStats stats;
  constexpr uint64_t kPackets = 200000;
  std::atomic<bool> done{false};
  std::thread owner([&] {
    for (uint64_t i = 0; i < kPackets; ++i) {
      counter_add(stats.rx_packets[kStatsPortLan]);
      counter_add(stats.rx_bytes[kStatsPortLan], 100);
    }
    done.store(true, std::memory_order_release);
  });
  uint64_t last = 0;
  bool monotonic = true;
  while (!done.load(std::memory_order_acquire)) {
    const LcoreStats* one[] = {&stats};
    const uint64_t now = snapshot_sum(one).rx_packets[kStatsPortLan];
    if (now < last) monotonic = false;
    last = now;
  }
  owner.join();
  EXPECT_TRUE(monotonic);
  EXPECT_EQ(counter_read(stats.rx_packets[kStatsPortLan]), kPackets);
  EXPECT_EQ(counter_read(stats.rx_bytes[kStatsPortLan]), kPackets * 100);
}

TEST(PeerCounters, PerWorkerBlocksSumPerPeer) {
  PeerCounterBlock w0(8), w1(8);
  w0.add_rx(3, 100);
  w0.add_rx(3, 50);
  w1.add_rx(3, 10);
  w1.add_tx(3, 1000, 2);
  w1.add_tx(4, 7);
  const PeerCounterBlock* blocks[] = {&w0, &w1, nullptr};
  const PeerCounters p3 = sum_peer_counters(blocks, 3);
  EXPECT_EQ(p3, (PeerCounters{3, 160, 2, 1000}));
  EXPECT_EQ(sum_peer_counters(blocks, 4), (PeerCounters{0, 0, 1, 7}));
  EXPECT_EQ(sum_peer_counters(blocks, 5), PeerCounters{});
  EXPECT_EQ(sum_peer_counters(blocks, 99), PeerCounters{});  // out of range: nothing

  // A reused slot reports against the baseline taken at allocation.
  const PeerCounters baseline = p3;
  w0.add_rx(3, 40);
  EXPECT_EQ(sum_peer_counters(blocks, 3) - baseline, (PeerCounters{1, 40, 0, 0}));
}

}  // namespace
}  // namespace wghub::dp
