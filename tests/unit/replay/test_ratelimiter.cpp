// Rate limiter in simulated time: the Linux kernel's selftest
// (drivers/net/wireguard/selftest/ratelimiter.c) timings table and capacity
// test, plus per-source independence, IPv6 /64 grouping and garbage collection.
// All times are invented nanosecond values; nothing here reads a real clock.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>

#include "control/ratelimiter.hpp"

namespace wghub::ctl {
namespace {

constexpr uint64_t kCost = RateLimiter::kPacketCostNs;
constexpr uint64_t kSec = RateLimiter::kNsecPerSec;
constexpr uint64_t kStart = 1'000 * kSec;  // arbitrary monotonic origin

TEST(RateLimiter, SpecConstants) {
  EXPECT_EQ(RateLimiter::kPacketCostNs, 50'000'000u);  // NSEC_PER_SEC / 20
  EXPECT_EQ(RateLimiter::kTokenMaxNs, 250'000'000u);   // PACKET_COST * 5
  EXPECT_EQ(RateLimiter::kIdleTimeoutNs, 1'000'000'000u);
}

// selftest/ratelimiter.c expected_results: {sleep before, allowed}.
struct Step {
  uint64_t sleep_ns;
  bool allowed;
};
const Step kExpectedResults[] = {
    {0, true},         {0, true}, {0, true}, {0, true}, {0, true},  // PACKETS_BURSTABLE
    {0, false},                                                     // [5]
    {kCost, true},                                                  // [6]
    {0, false},                                                     // [7]
    {kCost * 2, true},                                              // [8]
    {0, true},                                                      // [9]
    {0, false},                                                     // [10]
};

SourceAddress v6(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3) {
  std::array<uint8_t, 16> b{};
  const uint32_t words[4] = {w0, w1, w2, w3};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) b[i * 4 + j] = static_cast<uint8_t>(words[i] >> (24 - 8 * j));
  return SourceAddress::ipv6(b);
}

// The kernel's timings_test, with the sleeps taken exactly in simulated time.
// Per step: the IPv4 source under test follows the table; a different IPv4
// source is always allowed; an IPv6 source whose low 64 bits change every step
// still follows the table (same /64); a different /64 is always allowed.
TEST(RateLimiter, KernelTimingsTable) {
  RateLimiter rl;
  constexpr uint32_t kV4 = 8182;                // hdr4->saddr
  constexpr uint32_t kW0 = 1212, kW1 = 289188;  // hdr6 saddr words 0 and 1
  uint64_t now = kStart;
  uint32_t i = 0;
  for (const Step& step : kExpectedResults) {
    now += step.sleep_ns;
    EXPECT_EQ(rl.allow(SourceAddress::ipv4(kV4), now), step.allowed) << "v4 step " << i;
    EXPECT_TRUE(rl.allow(SourceAddress::ipv4(kV4 + i + 1), now)) << "other v4, step " << i;
    EXPECT_EQ(rl.allow(v6(kW0, kW1, i, i), now), step.allowed) << "v6 step " << i;
    EXPECT_TRUE(rl.allow(v6(kW0 + i + 1, kW1, i, i), now)) << "other /64, step " << i;
    ++i;
  }
  EXPECT_EQ(i, 11u);
}

// The kernel's capacity_test: with an empty table, max_entries distinct sources
// are admitted and the next new one is refused.
TEST(RateLimiter, KernelCapacityTest) {
  constexpr size_t kMax = 512;
  RateLimiter rl(kMax);
  EXPECT_EQ(rl.size(), 0u);
  for (uint32_t i = 0; i <= kMax; ++i)
    EXPECT_EQ(rl.allow(SourceAddress::ipv4(i), kStart), i != kMax) << "source " << i;
  EXPECT_EQ(rl.size(), kMax);
  // Sources already in the table keep their buckets while it is full.
  EXPECT_TRUE(rl.allow(SourceAddress::ipv4(7), kStart));
}

TEST(RateLimiter, FullTableRecoversAfterIdleEntriesAreCollected) {
  RateLimiter rl(4);
  for (uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(rl.allow(SourceAddress::ipv4(i), kStart));
  EXPECT_FALSE(rl.allow(SourceAddress::ipv4(100), kStart + kSec));
  // allow() collects once per second (as the kernel's gc work), so an idle entry
  // is gone at the latest 2 s after its last packet; then the new one fits.
  EXPECT_TRUE(rl.allow(SourceAddress::ipv4(100), kStart + 2 * kSec));
  EXPECT_EQ(rl.size(), 1u);
}

TEST(RateLimiter, IndependentSources) {
  RateLimiter rl;
  const auto a = SourceAddress::ipv4(0xC0000201);  // 192.0.2.1
  const auto b = SourceAddress::ipv4(0xC0000202);  // 192.0.2.2
  for (int n = 0; n < 5; ++n) ASSERT_TRUE(rl.allow(a, kStart));
  EXPECT_FALSE(rl.allow(a, kStart));
  for (int n = 0; n < 5; ++n) EXPECT_TRUE(rl.allow(b, kStart)) << n;
  EXPECT_FALSE(rl.allow(b, kStart));
  EXPECT_FALSE(rl.allow(a, kStart));
}

TEST(RateLimiter, Ipv6SameSlash64SharesBucket) {
  RateLimiter rl;
  // 2001:db8:1:2::/64 — vary only the interface identifier.
  for (uint32_t n = 0; n < 5; ++n) ASSERT_TRUE(rl.allow(v6(0x20010db8, 0x00010002, n, ~n), kStart));
  EXPECT_FALSE(rl.allow(v6(0x20010db8, 0x00010002, 0xffffffff, 0x12345678), kStart));
  // Neighbouring /64s (last bit of the prefix differs) have their own buckets.
  EXPECT_TRUE(rl.allow(v6(0x20010db8, 0x00010003, 0, 1), kStart));
  EXPECT_TRUE(rl.allow(v6(0x20010db8, 0x00010000, 0, 1), kStart));
  EXPECT_EQ(rl.size(), 3u);
}

TEST(RateLimiter, Ipv4AndIpv6DoNotShare) {
  RateLimiter rl;
  // An IPv6 address whose first bytes equal the IPv4 address bytes.
  const auto v4 = SourceAddress::ipv4(0xC0000201);
  const auto v6same = v6(0xC0000201, 0, 0, 0);
  for (int n = 0; n < 5; ++n) ASSERT_TRUE(rl.allow(v4, kStart));
  EXPECT_FALSE(rl.allow(v4, kStart));
  EXPECT_TRUE(rl.allow(v6same, kStart));
  // The neighbouring IPv4 address is a source of its own.
  EXPECT_TRUE(rl.allow(SourceAddress::ipv4(0xC0000200), kStart));
}

TEST(RateLimiter, SteadyRateOfTwentyPerSecond) {
  RateLimiter rl;
  const auto a = SourceAddress::ipv4(0x0A000001);
  uint64_t now = kStart;
  for (int n = 0; n < 5; ++n) ASSERT_TRUE(rl.allow(a, now));
  // One packet per PACKET_COST keeps passing; one nanosecond early does not.
  for (int n = 0; n < 100; ++n) {
    now += kCost;
    EXPECT_FALSE(rl.allow(a, now - 1)) << n;
    EXPECT_TRUE(rl.allow(a, now)) << n;
  }
}

TEST(RateLimiter, BurstIsCappedAtFive) {
  RateLimiter rl;
  const auto a = SourceAddress::ipv4(0x0A000001);
  ASSERT_TRUE(rl.allow(a, kStart));
  // 0.9 s idle (still inside the GC timeout) refills only up to TOKEN_MAX.
  const uint64_t later = kStart + 9 * kSec / 10;
  for (int n = 0; n < 5; ++n) EXPECT_TRUE(rl.allow(a, later)) << n;
  EXPECT_FALSE(rl.allow(a, later));
}

TEST(RateLimiter, GcRemovesOnlyEntriesIdleMoreThanOneSecond) {
  RateLimiter rl;
  const auto a = SourceAddress::ipv4(1), b = SourceAddress::ipv4(2);
  ASSERT_TRUE(rl.allow(a, kStart));
  ASSERT_TRUE(rl.allow(b, kStart + kSec / 2));
  EXPECT_EQ(rl.size(), 2u);
  rl.gc(kStart + kSec);  // a idle exactly 1 s: kept (the kernel removes only > 1 s)
  EXPECT_EQ(rl.size(), 2u);
  rl.gc(kStart + kSec + 1);  // a idle just over 1 s: removed, b stays
  EXPECT_EQ(rl.size(), 1u);
  rl.gc(kStart + kSec / 2 + kSec + 1);
  EXPECT_EQ(rl.size(), 0u);
}

TEST(RateLimiter, AllowCollectsIdleEntriesOnItsOwn) {
  RateLimiter rl;
  for (uint32_t i = 0; i < 10; ++i) ASSERT_TRUE(rl.allow(SourceAddress::ipv4(i), kStart));
  EXPECT_EQ(rl.size(), 10u);
  EXPECT_TRUE(rl.allow(SourceAddress::ipv4(99), kStart + 2 * kSec));
  EXPECT_EQ(rl.size(), 1u);
}

TEST(RateLimiter, ClockSteppingBackGivesNoCredit) {
  RateLimiter rl;
  const auto a = SourceAddress::ipv4(0x0A000001);
  for (int n = 0; n < 5; ++n) ASSERT_TRUE(rl.allow(a, kStart));
  EXPECT_FALSE(rl.allow(a, kStart - kSec));
  EXPECT_FALSE(rl.allow(a, kStart));
  EXPECT_TRUE(rl.allow(a, kStart + kCost));
}

TEST(RateLimiter, SourceFromSockaddr) {
  sockaddr_storage ss{};
  auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = htonl(0xC0000201);
  sin->sin_port = htons(51820);
  const auto got = SourceAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->family, SourceAddress::Family::kIpv4);
  EXPECT_EQ(*got, SourceAddress::ipv4(0xC0000201, 51820));

  ss = {};
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_addr.s6_addr[0] = 0x20;
  sin6->sin6_addr.s6_addr[15] = 0x01;
  sin6->sin6_port = htons(443);
  const auto got6 = SourceAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
  ASSERT_TRUE(got6.has_value());
  EXPECT_EQ(got6->family, SourceAddress::Family::kIpv6);
  EXPECT_EQ(got6->addr[0], 0x20);
  EXPECT_EQ(got6->addr[15], 0x01);
  EXPECT_EQ(got6->port, 443);

  ss = {};
  ss.ss_family = AF_UNIX;
  EXPECT_FALSE(SourceAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss)).has_value());
  EXPECT_FALSE(SourceAddress::from_sockaddr(nullptr).has_value());
}

}  // namespace
}  // namespace wghub::ctl
