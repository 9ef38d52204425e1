// The never-forwarded ranges of route_guard.hpp at their edges (issue 13
// item 6): each range's first and last address and the unicast addresses
// just outside it.
#include <gtest/gtest.h>

#include "dataplane/route_guard.hpp"

namespace wghub::dp {
namespace {

constexpr std::uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d) {
  return a << 24 | b << 16 | c << 8 | d;
}

TEST(RouteGuard, Ipv4Ranges) {
  struct Case {
    std::uint32_t address;
    DropReason want;
  } cases[] = {
      {ip4(0, 0, 0, 0), DropReason::kIpv4ThisNetwork},
      {ip4(0, 255, 255, 255), DropReason::kIpv4ThisNetwork},
      {ip4(1, 0, 0, 0), DropReason::kNone},
      {ip4(126, 255, 255, 255), DropReason::kNone},
      {ip4(127, 0, 0, 0), DropReason::kIpv4Loopback},
      {ip4(127, 255, 255, 255), DropReason::kIpv4Loopback},
      {ip4(128, 0, 0, 0), DropReason::kNone},
      {ip4(223, 255, 255, 255), DropReason::kNone},
      {ip4(224, 0, 0, 0), DropReason::kIpv4Multicast},
      {ip4(239, 255, 255, 255), DropReason::kIpv4Multicast},
      {ip4(240, 0, 0, 0), DropReason::kNone},
      {ip4(255, 255, 255, 254), DropReason::kNone},
      {ip4(255, 255, 255, 255), DropReason::kIpv4Broadcast},
      {ip4(10, 0, 0, 255), DropReason::kNone},  // a subnet broadcast is the LAN's business
  };
  for (const Case& c : cases)
    EXPECT_EQ(Inet4::never_forwarded(c.address), c.want) << format_prefix(c.address, 32);
}

TEST(RouteGuard, Ipv6Ranges) {
  struct Case {
    std::uint8_t b0, b1;
    DropReason want;
  } cases[] = {
      {0xfd, 0x00, DropReason::kNone},          {0xfe, 0x7f, DropReason::kNone},
      {0xfe, 0x80, DropReason::kIpv6LinkLocal}, {0xfe, 0xbf, DropReason::kIpv6LinkLocal},
      {0xfe, 0xc0, DropReason::kNone},          {0xff, 0x00, DropReason::kIpv6Multicast},
      {0xff, 0xff, DropReason::kIpv6Multicast}, {0x20, 0x01, DropReason::kNone},
  };
  for (const Case& c : cases) {
    std::uint8_t a[16] = {c.b0, c.b1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    EXPECT_EQ(Inet6::never_forwarded(a), c.want) << int{c.b0} << ":" << int{c.b1};
  }
}

TEST(RouteGuard, DestinationIsJudgedBeforeSource) {
  std::uint8_t ip[20] = {0x45};
  const std::uint32_t src = ip4(127, 0, 0, 1), dst = ip4(224, 0, 0, 1);
  for (int i = 0; i < 4; ++i) {
    ip[12 + i] = static_cast<std::uint8_t>(src >> (24 - 8 * i));
    ip[16 + i] = static_cast<std::uint8_t>(dst >> (24 - 8 * i));
  }
  EXPECT_EQ(martian_verdict<Inet4>(ip), DropReason::kIpv4Multicast);
  ip[16] = 10;
  EXPECT_EQ(martian_verdict<Inet4>(ip), DropReason::kIpv4Loopback);
  ip[12] = 10;
  EXPECT_EQ(martian_verdict<Inet4>(ip), DropReason::kNone);
}

}  // namespace
}  // namespace wghub::dp
