// The neighbour table, one typed test for both address families (the table is
// one template, NeighbourTableOf<Family>): lookups, capacity, aging, the budget
// of incomplete entries, and a reader thread racing the single writer (no
// torn or misattributed MAC may ever be seen).
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <initializer_list>
#include <thread>
#include <vector>

#include "dataplane/neighbour.hpp"

namespace wghub::dp {
namespace {

rte_ether_addr mac_of(std::uint8_t byte) {
  rte_ether_addr m;
  std::memset(m.addr_bytes, byte, sizeof m.addr_bytes);
  return m;
}

// host(i): the i-th address of the family; kZero: the address that is never
// a neighbour.
template <typename Family>
struct Hosts;
template <>
struct Hosts<Inet4> {
  static std::uint32_t host(std::uint32_t i) { return rte_cpu_to_be_32(0x0a000000u + i); }  // 10.x
  static constexpr const char* kZero = "0.0.0.0";
};
template <>
struct Hosts<Inet6> {
  // fd00::<i> (the low 32 bits; addresses of one /64 hash apart too).
  static Ipv6Bytes host(std::uint32_t i) {
    Ipv6Bytes a{0xfd};
    a[12] = static_cast<std::uint8_t>(i >> 24);
    a[13] = static_cast<std::uint8_t>(i >> 16);
    a[14] = static_cast<std::uint8_t>(i >> 8);
    a[15] = static_cast<std::uint8_t>(i);
    return a;
  }
  static constexpr const char* kZero = "::";
};

constexpr NeighbourTiming kTiming{/*reachable=*/300, /*retry_interval=*/1, /*max_tries=*/3};

template <typename Family>
class Neighbour : public ::testing::Test {
 protected:
  using Table = NeighbourTableOf<Family>;
  using Address = typename Table::Address;
  static Address host(std::uint32_t i) { return Hosts<Family>::host(i); }
  static std::vector<Address> hosts(std::initializer_list<std::uint32_t> is) {
    std::vector<Address> out;
    for (std::uint32_t i : is) out.push_back(host(i));
    return out;
  }
};
using Families = ::testing::Types<Inet4, Inet6>;
TYPED_TEST_SUITE(Neighbour, Families);

TYPED_TEST(Neighbour, UpdateLookupRemove) {
  typename TestFixture::Table t(kTiming, 64);
  EXPECT_EQ(t.capacity(), 64u);
  EXPECT_FALSE(t.lookup(this->host(1)));
  ASSERT_TRUE(t.update(this->host(1), mac_of(0x11), 5));
  ASSERT_TRUE(t.update(this->host(2), mac_of(0x22), 5));
  ASSERT_TRUE(t.lookup(this->host(1)));
  EXPECT_EQ(t.lookup(this->host(1))->addr_bytes[0], 0x11);
  EXPECT_EQ(t.lookup(this->host(2))->addr_bytes[5], 0x22);
  ASSERT_TRUE(t.update(this->host(1), mac_of(0x33), 6));  // the host changed its MAC
  EXPECT_EQ(t.lookup(this->host(1))->addr_bytes[3], 0x33);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_TRUE(t.remove(this->host(1)));
  EXPECT_FALSE(t.remove(this->host(1)));
  EXPECT_FALSE(t.lookup(this->host(1)));
  EXPECT_TRUE(t.lookup(this->host(2)));
  EXPECT_EQ(t.size(), 1u);
  EXPECT_FALSE(t.update({}, mac_of(1), 1)) << Hosts<TypeParam>::kZero << " is never a neighbour";
}

TYPED_TEST(Neighbour, CapacityIsThreeQuartersAndSlotsAreReused) {
  typename TestFixture::Table t(kTiming, 100);  // rounded up to 128
  ASSERT_EQ(t.capacity(), 128u);
  ASSERT_EQ(t.max_entries(), 96u);
  for (std::uint32_t i = 1; i <= 96; ++i) ASSERT_TRUE(t.update(this->host(i), mac_of(i), 1)) << i;
  EXPECT_FALSE(t.update(this->host(97), mac_of(97), 1));
  EXPECT_FALSE(t.needs_request(this->host(97), 1)) << "full: no incomplete entry either";
  for (std::uint32_t i = 1; i <= 96; ++i) {
    ASSERT_TRUE(t.lookup(this->host(i))) << i;
    EXPECT_EQ(t.lookup(this->host(i))->addr_bytes[0], static_cast<std::uint8_t>(i));
  }
  // Churn: delete and insert many times over; every live entry stays
  // reachable and tombstones never exceed the slots.
  for (std::uint32_t round = 0; round < 50; ++round) {
    for (std::uint32_t i = 1; i <= 96; i += 2) ASSERT_TRUE(t.remove(this->host(i + round * 1000)));
    for (std::uint32_t i = 1; i <= 96; i += 2)
      ASSERT_TRUE(t.update(this->host(i + (round + 1) * 1000), mac_of(i), 2));
    for (std::uint32_t i = 2; i <= 96; i += 2) ASSERT_TRUE(t.lookup(this->host(i)));
    for (std::uint32_t i = 1; i <= 96; i += 2) {
      ASSERT_TRUE(t.lookup(this->host(i + (round + 1) * 1000)));
      ASSERT_FALSE(t.lookup(this->host(i + round * 1000)));
    }
    ASSERT_EQ(t.size(), 96u);
    // Tombstones are reclaimed: misses still end at an empty slot.
    ASSERT_LE(t.tombstones(), t.capacity() / 8);
    ASSERT_LT(t.size() + t.tombstones(), t.capacity());
  }
  // Removing everything trims every tombstone back to empty.
  for (std::uint32_t i = 2; i <= 96; i += 2) ASSERT_TRUE(t.remove(this->host(i)));
  for (std::uint32_t i = 1; i <= 96; i += 2) ASSERT_TRUE(t.remove(this->host(i + 50 * 1000)));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.tombstones(), 0u);
}

TYPED_TEST(Neighbour, IncompleteEntriesHaveABudget) {
  typename TestFixture::Table t(kTiming, 64);
  const std::size_t budget = t.max_incomplete();
  ASSERT_EQ(budget, t.max_entries() / 4);
  for (std::uint32_t i = 1; i <= budget; ++i) EXPECT_TRUE(t.needs_request(this->host(i), 0)) << i;
  EXPECT_EQ(t.incomplete(), budget);
  EXPECT_FALSE(t.needs_request(this->host(1000), 0));
  EXPECT_FALSE(t.needs_request(this->host(1001), 0));
  EXPECT_EQ(t.incomplete_refused(), 2u);
  EXPECT_FALSE(t.contains(this->host(1000)));
  ASSERT_TRUE(t.update(this->host(2000), mac_of(0x20), 0)) << "a real neighbour is learned";
  ASSERT_TRUE(t.update(this->host(1), mac_of(0x01), 0)) << "an answer resolves an incomplete entry";
  EXPECT_EQ(t.incomplete(), budget - 1);
  EXPECT_TRUE(t.needs_request(this->host(1000), 0)) << "its place is free again";
  EXPECT_TRUE(t.remove(this->host(2)));
  EXPECT_EQ(t.incomplete(), budget - 1);
}

TYPED_TEST(Neighbour, RequestsRetriesAndGivingUp) {
  typename TestFixture::Table t(kTiming, 64);
  EXPECT_TRUE(t.needs_request(this->host(7), 10));   // first: ask
  EXPECT_FALSE(t.lookup(this->host(7)));             // incomplete: no MAC for workers
  EXPECT_FALSE(t.needs_request(this->host(7), 10));  // asked just now
  EXPECT_TRUE(t.needs_request(this->host(7), 11));   // retry interval passed
  EXPECT_EQ(t.entry(this->host(7))->tries, 2u);
  EXPECT_EQ(t.expire(11), std::vector<typename TestFixture::Address>{});
  EXPECT_EQ(t.expire(12), this->hosts({7}));         // third try
  EXPECT_FALSE(t.needs_request(this->host(7), 20));  // max tries reached
  EXPECT_TRUE(t.contains(this->host(7)));
  EXPECT_TRUE(t.expire(13).empty());  // unanswered: dropped
  EXPECT_FALSE(t.contains(this->host(7)));
  EXPECT_TRUE(t.needs_request(this->host(7), 14)) << "a new packet starts over";

  // An answer resolves it and stops the requests.
  ASSERT_TRUE(t.update(this->host(7), mac_of(7), 15));
  EXPECT_FALSE(t.needs_request(this->host(7), 16));
  EXPECT_EQ(t.entry(this->host(7))->state, NeighbourState::kResolved);
}

TYPED_TEST(Neighbour, StaleEntriesAreReResolvedThenDropped) {
  typename TestFixture::Table t(kTiming, 64);
  ASSERT_TRUE(t.update(this->host(1), mac_of(1), 0));
  ASSERT_TRUE(t.update(this->host(2), mac_of(2), 200));
  EXPECT_TRUE(t.expire(299).empty());
  EXPECT_EQ(t.expire(300), this->hosts({1}));  // stale: ask
  EXPECT_TRUE(t.lookup(this->host(1))) << "the stale MAC stays usable while re-resolving";
  EXPECT_TRUE(t.expire(300).empty());
  EXPECT_EQ(t.expire(301), this->hosts({1}));
  // An answer refreshes it.
  ASSERT_TRUE(t.update(this->host(1), mac_of(1), 302));
  EXPECT_TRUE(t.expire(303).empty());
  // host 2 goes stale at 500 and never answers: three requests, then gone.
  EXPECT_EQ(t.expire(500), this->hosts({2}));
  EXPECT_EQ(t.expire(501), this->hosts({2}));
  EXPECT_EQ(t.expire(502), this->hosts({2}));
  EXPECT_TRUE(t.lookup(this->host(2)));
  EXPECT_TRUE(t.expire(503).empty());
  EXPECT_FALSE(t.lookup(this->host(2)));
  EXPECT_FALSE(t.contains(this->host(2)));
  EXPECT_EQ(t.entries().size(), 1u);  // host 1
}

// One writer keeps changing MACs, deleting and re-inserting entries (so
// slots are recycled for other addresses), while a reader looks them up.
// Every MAC written for address i has all six bytes equal to a value whose
// high nibble is i: a torn read or a MAC from another address is caught.
TYPED_TEST(Neighbour, ConcurrentReaderNeverSeesTornOrForeignMac) {
  typename TestFixture::Table t(kTiming, 16);  // small: heavy slot reuse
  constexpr std::uint32_t kHosts = 12;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> hits{0}, bad{0};
  std::thread reader([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      for (std::uint32_t i = 0; i < kHosts; ++i) {
        const std::optional<rte_ether_addr> m = t.lookup(this->host(i + 1));
        if (!m) continue;
        hits.fetch_add(1, std::memory_order_relaxed);
        const std::uint8_t b0 = m->addr_bytes[0];
        bool ok = (b0 >> 4) == i;
        for (int b = 1; b < 6; ++b) ok = ok && m->addr_bytes[b] == b0;
        if (!ok) bad.fetch_add(1, std::memory_order_relaxed);
      }
    }
  });
  // The writer runs until the reader has looked up plenty while it wrote
  // (a count, not a duration): every check below overlaps with writes.
  std::uint64_t now = 0;
  for (std::uint32_t round = 0; round < 200000 || hits.load() < 2000000; ++round) {
    const std::uint32_t i = round % kHosts;
    const auto value = static_cast<std::uint8_t>(i << 4 | (round / kHosts) % 16);
    if (round % 7 == 3) {
      t.remove(this->host(i + 1));
    } else {
      ASSERT_TRUE(t.update(this->host(i + 1), mac_of(value), ++now));
    }
  }
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GE(hits.load(), 2000000u);
}

}  // namespace
}  // namespace wghub::dp
