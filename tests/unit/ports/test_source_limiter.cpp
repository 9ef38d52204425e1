// The workers' per-source handshake limit (dataplane/cookie_gate.hpp
// SourceLimiter: 20 a second, a burst of 5, an IPv4 address or an IPv6 /64)
// against the Linux kernel's ratelimiter selftest timings table
// (drivers/net/wireguard/selftest/ratelimiter.c), in simulated TSC time: a
// 1 GHz clock, so a cycle is a nanosecond.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>

#include "dataplane/cookie_gate.hpp"

namespace wghub::dp {
namespace {

constexpr std::uint64_t kHz = 1'000'000'000;
constexpr std::uint64_t kCost = kHz / SourceLimiter::kPacketsPerSecond;  // 50 ms
constexpr std::uint64_t kStart = 1'000 * kHz;

struct Step {
  std::uint64_t sleep;
  bool allowed;
};
// selftest/ratelimiter.c expected_results: {sleep before, allowed}.
constexpr Step kExpected[] = {
    {0, true},         {0, true}, {0, true}, {0, true}, {0, true},  // PACKETS_BURSTABLE
    {0, false},                                                     // [5]
    {kCost, true},                                                  // [6]
    {0, false},                                                     // [7]
    {kCost * 2, true},                                              // [8]
    {0, true},                                                      // [9]
    {0, false},                                                     // [10]
};

Endpoint v4(std::uint32_t addr) {
  return Endpoint::v4(__builtin_bswap32(addr), 0x5ca1);
}

Endpoint v6(std::uint32_t w0, std::uint32_t w1, std::uint32_t w2, std::uint32_t w3) {
  std::array<std::uint8_t, 16> b{};
  const std::uint32_t words[4] = {w0, w1, w2, w3};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) b[i * 4 + j] = static_cast<std::uint8_t>(words[i] >> (24 - 8 * j));
  return Endpoint::v6(b.data(), 0x5ca1);
}

TEST(SourceLimiter, KernelTimingsTableIpv4) {
  SourceLimiter limiter(kHz);
  std::uint64_t now = kStart;
  int i = 0;
  for (const Step& step : kExpected) {
    now += step.sleep;
    EXPECT_EQ(limiter.allow(v4(8182), now), step.allowed) << "step " << i++;
  }
}

// The kernel's hdr6 case: the low 64 bits change every step, the /64 is one
// source.
TEST(SourceLimiter, KernelTimingsTableIpv6SharesASlash64) {
  SourceLimiter limiter(kHz);
  std::uint64_t now = kStart;
  std::uint32_t i = 0;
  for (const Step& step : kExpected) {
    now += step.sleep;
    EXPECT_EQ(limiter.allow(v6(1212, 289188, i, i), now), step.allowed) << "step " << i;
    ++i;
  }
}

// A source's exhausted bucket is its own: another source still has its burst
// (the port does not make another source either).
TEST(SourceLimiter, AnotherSourceHasItsOwnBurst) {
  SourceLimiter limiter(kHz);
  for (std::uint64_t k = 0; k < SourceLimiter::kPacketsBurstable; ++k)
    EXPECT_TRUE(limiter.allow(v4(0x0a000001), kStart));
  EXPECT_FALSE(limiter.allow(v4(0x0a000001), kStart));
  EXPECT_FALSE(limiter.allow(Endpoint::v4(__builtin_bswap32(0x0a000001), 0x0101), kStart))
      << "another port of the same address is the same source";
  for (std::uint64_t k = 0; k < SourceLimiter::kPacketsBurstable; ++k)
    EXPECT_TRUE(limiter.allow(v4(0x0a000002), kStart));
  EXPECT_FALSE(limiter.allow(v4(0x0a000002), kStart));
}

// The workers' cookie budget: the same buckets at 1,000 a second with a
// burst of 100; a flood from one address gets its burst, then one reply a
// millisecond, whatever its ports.
TEST(SourceLimiter, CookieBudgetBurstThenItsRate) {
  SourceLimiter limiter(kHz, SourceLimiter::kCookieRepliesPerSecond,
                        SourceLimiter::kCookieRepliesBurstable);
  const std::uint64_t ms = kHz / 1000;
  std::uint64_t allowed = 0;
  for (std::uint16_t port = 0; port < 1000; ++port)
    allowed += limiter.allow(Endpoint::v4(__builtin_bswap32(0x64400017), port), kStart);
  EXPECT_EQ(allowed, SourceLimiter::kCookieRepliesBurstable);
  // Over the next second, 10 tries a millisecond: one each.
  allowed = 0;
  for (std::uint64_t t = 1; t <= 1000; ++t)
    for (int k = 0; k < 10; ++k) allowed += limiter.allow(v4(0x64400017), kStart + t * ms);
  EXPECT_EQ(allowed, 1000u);
  // Another address has its own burst.
  allowed = 0;
  for (int k = 0; k < 1000; ++k) allowed += limiter.allow(v4(0x64400018), kStart + 1000 * ms);
  EXPECT_EQ(allowed, SourceLimiter::kCookieRepliesBurstable);
}

}  // namespace
}  // namespace wghub::dp
