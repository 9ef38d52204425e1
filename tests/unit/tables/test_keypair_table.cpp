// KeypairTable: reservation, publication and lookup by receiver index, stale
// and guessed indices, exhaustion, uniqueness; Keypair's counters; and a
// worker looking keypairs up while control rotates them with RCU retirement.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "dataplane/keypair.hpp"
#include "dataplane/keypair_table.hpp"
#include "dataplane/rcu.hpp"

namespace wghub::dp {
namespace {

Keypair* keypair_for(uint32_t index, uint32_t peer) {
  Keypair* kp = make_keypair();
  kp->local_index = index;
  kp->remote_index = ~index;
  kp->peer = peer;
  std::memset(kp->send_key, static_cast<int>(index & 0xff), sizeof kp->send_key);
  std::memset(kp->recv_key, static_cast<int>((index >> 8) & 0xff), sizeof kp->recv_key);
  return kp;
}

TEST(KeypairTable, AllocatePublishLookupUnpublish) {
  KeypairTable table(8);
  EXPECT_EQ(table.capacity(), 256u);
  const auto index = table.allocate_index();
  ASSERT_TRUE(index.has_value());
  EXPECT_NE(*index, 0u);
  EXPECT_TRUE(table.is_reserved(*index));
  EXPECT_EQ(table.lookup(*index), nullptr);  // reserved for a handshake, no keypair yet

  Keypair* kp = keypair_for(*index, 3);
  ASSERT_TRUE(table.publish(*index, kp));
  EXPECT_EQ(table.lookup(*index), kp);
  EXPECT_FALSE(table.publish(*index, kp));  // slot already has one

  EXPECT_EQ(table.unpublish(*index), kp);
  EXPECT_EQ(table.lookup(*index), nullptr);
  EXPECT_TRUE(table.is_reserved(*index));  // reservation survives
  EXPECT_EQ(table.unpublish(*index), nullptr);

  ASSERT_TRUE(table.publish(*index, kp));
  EXPECT_EQ(table.release_index(*index), kp);  // still published: handed back
  EXPECT_FALSE(table.is_reserved(*index));
  EXPECT_EQ(table.lookup(*index), nullptr);
  EXPECT_EQ(table.release_index(*index), nullptr);
  EXPECT_EQ(table.reserved(), 0u);
  destroy_keypair(kp);
}

TEST(KeypairTable, PublishChecksTheIndex) {
  KeypairTable table(4);
  const auto index = table.allocate_index();
  ASSERT_TRUE(index.has_value());
  Keypair* wrong = keypair_for(*index + 1, 0);  // local_index differs
  EXPECT_FALSE(table.publish(*index, wrong));
  EXPECT_FALSE(table.publish(*index, nullptr));
  wrong->local_index = *index ^ (1u << 4);  // same slot, not the reserved index
  EXPECT_FALSE(table.publish(wrong->local_index, wrong));
  EXPECT_EQ(table.lookup(*index), nullptr);
  destroy_keypair(wrong);
}

TEST(KeypairTable, StaleOrGuessedIndexInTheSameSlotMisses) {
  constexpr unsigned kLog2 = 8;
  KeypairTable table(kLog2);
  const auto index = table.allocate_index();
  ASSERT_TRUE(index.has_value());
  Keypair* kp = keypair_for(*index, 1);
  ASSERT_TRUE(table.publish(*index, kp));
  for (unsigned bit = kLog2; bit < 32; ++bit) {
    const uint32_t other = *index ^ (1u << bit);  // same slot, other high bits
    EXPECT_EQ(table.lookup(other), nullptr) << std::hex << other;
  }
  EXPECT_EQ(table.lookup(0), nullptr);

  // The slot is reused (LIFO) under a new index: the old one misses, the new
  // one finds the new keypair.
  EXPECT_EQ(table.release_index(*index), kp);
  const auto again = table.allocate_index();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again & 0xffu, *index & 0xffu);
  if (*again != *index) {
    Keypair* kp2 = keypair_for(*again, 2);
    ASSERT_TRUE(table.publish(*again, kp2));
    EXPECT_EQ(table.lookup(*index), nullptr);
    EXPECT_EQ(table.lookup(*again), kp2);
    destroy_keypair(table.release_index(*again));
  }
  destroy_keypair(kp);
}

TEST(KeypairTable, ExhaustionUniquenessAndNeverZero) {
  KeypairTable table(6);
  std::set<uint32_t> live;
  for (unsigned i = 0; i < table.capacity(); ++i) {
    const auto index = table.allocate_index();
    ASSERT_TRUE(index.has_value()) << i;
    EXPECT_NE(*index, 0u);
    EXPECT_TRUE(live.insert(*index).second) << "duplicate " << *index;
  }
  std::set<uint32_t> slots;
  for (uint32_t idx : live) slots.insert(idx & 63u);
  EXPECT_EQ(slots.size(), 64u);
  EXPECT_FALSE(table.allocate_index().has_value());
  EXPECT_EQ(table.reserved(), 64u);

  const uint32_t victim = *live.begin();
  EXPECT_EQ(table.release_index(victim), nullptr);
  live.erase(victim);
  const auto index = table.allocate_index();
  ASSERT_TRUE(index.has_value());
  EXPECT_TRUE(live.insert(*index).second);
  EXPECT_FALSE(table.allocate_index().has_value());
}

TEST(KeypairTable, ZeroFromTheRngNeverBecomesIndexZero) {
  KeypairTable table(4, [] { return uint32_t{0}; });
  for (unsigned i = 0; i < table.capacity(); ++i) {
    const auto index = table.allocate_index();
    ASSERT_TRUE(index.has_value());
    EXPECT_NE(*index, 0u);
  }
}

TEST(Keypair, SendCounterAndReplayWindow) {
  Keypair* kp = make_keypair();
  ASSERT_NE(kp, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(kp) % 64, 0u);
  uint64_t c = 99;
  ASSERT_TRUE(kp->take_send_counter(c));
  EXPECT_EQ(c, 0u);
  ASSERT_TRUE(kp->take_send_counter(c));
  EXPECT_EQ(c, 1u);
  kp->send_counter.store(kRejectAfterMessages - 1);
  EXPECT_TRUE(kp->take_send_counter(c));
  EXPECT_FALSE(kp->take_send_counter(c));  // exhausted: never reuse a nonce

  EXPECT_TRUE(kp->accept_counter(5));
  EXPECT_FALSE(kp->accept_counter(5));  // replay
  EXPECT_TRUE(kp->accept_counter(3));
  EXPECT_FALSE(kp->accept_counter(kRejectAfterMessages));

  EXPECT_FALSE(kp->received_data.load());
  EXPECT_TRUE(kp->mark_received_data());  // the first data: confirms
  EXPECT_TRUE(kp->received_data.load());
  EXPECT_FALSE(kp->mark_received_data());

  kp->birth_tsc = 1000;
  EXPECT_FALSE(kp->expired(1500, 600));
  EXPECT_TRUE(kp->expired(1600, 600));
  destroy_keypair(kp);
  destroy_keypair(nullptr);
}

TEST(Keypair, ConcurrentSendersGetUniqueCounters) {
  Keypair* kp = make_keypair();
  constexpr unsigned kThreads = 4, kEach = 5000;
  std::vector<std::vector<uint64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (unsigned i = 0; i < kEach; ++i) {
        uint64_t c;
        if (kp->take_send_counter(c)) got[t].push_back(c);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<uint64_t> all;
  for (auto& v : got)
    for (uint64_t c : v) EXPECT_TRUE(all.insert(c).second);
  EXPECT_EQ(all.size(), kThreads * kEach);
  EXPECT_EQ(*all.rbegin(), kThreads * kEach - 1);
  destroy_keypair(kp);
}

// A worker keeps looking keypairs up and reading them while control unpublishes,
// retires (destroy_keypair after a grace period) and republishes new ones. A
// keypair found must be whole: its keys still hold the pattern for its index
// (destroy_keypair wipes them, so a premature free shows up as zeros).
TEST(KeypairTable, RotationUnderAReaderWithRcu) {
  Rcu rcu;
  ASSERT_TRUE(rcu.init(1));
  ASSERT_TRUE(rcu.register_thread(0));
  KeypairTable table(4);
  DeferredFree deferred(rcu);

  std::vector<std::atomic<uint32_t>> current(table.capacity());  // index per slot, for the reader
  for (auto& c : current) c.store(0);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0}, found{0}, lookups{0};
  std::thread reader([&] {
    std::mt19937 rng(3);
    rcu.online(0);
    while (!stop.load(std::memory_order_relaxed)) {
      for (int i = 0; i < 32; ++i) {
        const uint32_t index = current[rng() % current.size()].load(std::memory_order_relaxed);
        if (index == 0) continue;
        const Keypair* kp = table.lookup(index);
        if (kp == nullptr) continue;
        found.fetch_add(1, std::memory_order_relaxed);
        const bool whole = kp->local_index == index && kp->remote_index == ~index &&
                           kp->send_key[0] == (index & 0xff) &&
                           kp->send_key[31] == (index & 0xff) &&
                           kp->recv_key[17] == ((index >> 8) & 0xff);
        if (!whole) bad.fetch_add(1, std::memory_order_relaxed);
      }
      rcu.quiescent(0);
      lookups.fetch_add(1, std::memory_order_relaxed);
    }
    rcu.offline(0);
  });

  std::mt19937 rng(5);
  std::vector<uint32_t> live;
  unsigned ops = 0;
  while (ops < 20000 || lookups.load() < 2000 || found.load() < 1000) {
    if (!live.empty() && (rng() % 2 == 0 || live.size() == table.capacity())) {
      const size_t at = rng() % live.size();
      const uint32_t index = live[at];
      live.erase(live.begin() + static_cast<long>(at));
      Keypair* kp = table.release_index(index);
      EXPECT_NE(kp, nullptr);  // EXPECT + break, not ASSERT: the reader must be stopped
      if (kp == nullptr) break;
      deferred.retire(kp, destroy_keypair);
    } else {
      const auto index = table.allocate_index();
      EXPECT_TRUE(index.has_value());
      if (!index) break;
      Keypair* kp = keypair_for(*index, ops);
      const bool published = table.publish(*index, kp);
      EXPECT_TRUE(published);
      if (!published) {
        destroy_keypair(kp);
        break;
      }
      current[*index & 15u].store(*index, std::memory_order_relaxed);
      live.push_back(*index);
    }
    deferred.reclaim();
    ++ops;
  }
  stop.store(true);
  reader.join();
  for (uint32_t index : live) destroy_keypair(table.release_index(index));
  deferred.drain();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(found.load(), 0u);
}

// A destroyed keypair's memory is kept for the next one on this thread:
// the keys were wiped, and the next keypair starts as a new one does.
TEST(Keypair, DestroyedMemoryIsReusedWipedAndFresh) {
  Keypair* a = make_keypair();
  ASSERT_NE(a, nullptr);
  std::memset(a->send_key, 0xaa, sizeof a->send_key);
  std::memset(a->recv_key, 0xbb, sizeof a->recv_key);
  a->local_index = 7;
  a->send_counter.store(99);
  a->received_data.store(true);
  destroy_keypair(a);
  EXPECT_EQ(a->send_key[0], 0) << "wiped before it is kept";
  Keypair* b = make_keypair();
  EXPECT_EQ(b, a) << "the same memory, not a new allocation";
  const std::uint8_t zero[32] = {};
  EXPECT_EQ(std::memcmp(b->send_key, zero, 32), 0);
  EXPECT_EQ(std::memcmp(b->recv_key, zero, 32), 0);
  EXPECT_EQ(b->local_index, 0u);
  EXPECT_EQ(b->send_counter.load(), 0u);
  EXPECT_FALSE(b->received_data.load());
  destroy_keypair(b);
}

}  // namespace
}  // namespace wghub::dp
