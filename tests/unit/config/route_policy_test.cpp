// config/route_policy: the prefixes a peer's AllowedIPs may never be (issue
// 13 item 2), as the device (wg(8), reload) and the loader ask it.
#include "config/route_policy.hpp"

#include <gtest/gtest.h>

namespace wghub::config {
namespace {

Prefix prefix(const char* text) {
  return Prefix::parse(text).value.value();
}
IpAddress ip(const char* text) {
  return IpAddress::parse(text).value();
}
InterfaceAddress iface(const char* text) {
  return InterfaceAddress::parse(text).value.value();
}

Ports lab_ports() {
  Ports p;
  p.wan.address = iface("100.64.0.1/24");
  p.lan.address = iface("10.0.0.1/24");
  p.lan.address6 = iface("fd00::1/64");
  p.lan.routes.push_back(Route{prefix("172.16.0.0/12"), ip("10.0.0.254")});
  return p;
}

TEST(RoutePolicy, RefusesTheHubsOwnRoutes) {
  Interface interface;
  interface.address = iface("10.99.0.1/24");
  const RoutePolicy policy(interface, lab_ports());
  for (const char* reserved : {"10.0.0.0/24", "10.0.0.1/32", "100.64.0.1/32", "100.64.0.0/24",
                               "fd00::/64", "fd00::1/128", "172.16.0.0/12", "10.99.0.1/32"}) {
    SCOPED_TRACE(reserved);
    const auto why = policy.refusal(prefix(reserved));
    ASSERT_TRUE(why.has_value());
    EXPECT_EQ(why->rfind(std::string(reserved) + " is ", 0), 0u) << *why;
  }
  EXPECT_NE(policy.refusal(prefix("10.0.0.0/24"))->find("connected subnet of port lan"),
            std::string::npos);
}

TEST(RoutePolicy, OtherPrefixesAreAllowed) {
  const RoutePolicy policy(Interface{}, lab_ports());
  // Wider or narrower than a reserved prefix, a site's network, and the
  // default routes (no LAN gateway here).
  for (const char* ok : {"10.0.0.0/16", "10.0.0.128/25", "10.0.0.10/32", "10.1.0.0/24",
                         "172.16.1.0/24", "0.0.0.0/0", "::/0", "fd00:1::/64"}) {
    SCOPED_TRACE(ok);
    EXPECT_FALSE(policy.refusal(prefix(ok)).has_value());
  }
  EXPECT_FALSE(policy.refusal(std::vector{prefix("10.1.0.0/24"), prefix("0.0.0.0/0")}));
  EXPECT_TRUE(policy.refusal(std::vector{prefix("10.1.0.0/24"), prefix("10.0.0.0/24")}));
}

TEST(RoutePolicy, DefaultRouteOnlyWithoutALanGatewayOfItsFamily) {
  Ports ports = lab_ports();
  ports.lan.gateway = ip("10.0.0.254");
  const RoutePolicy v4(Interface{}, ports);
  ASSERT_TRUE(v4.refusal(prefix("0.0.0.0/0")).has_value());
  EXPECT_NE(v4.refusal(prefix("0.0.0.0/0"))->find("ports.lan.gateway 10.0.0.254"),
            std::string::npos);
  EXPECT_FALSE(v4.refusal(prefix("::/0")).has_value());
  ports.lan.gateway6 = ip("fd00::fe");
  const RoutePolicy both(Interface{}, ports);
  EXPECT_TRUE(both.refusal(prefix("::/0")).has_value());
  // The WAN's gateway routes the outer packets only: not a reservation.
  Ports wan_only = lab_ports();
  wan_only.wan.gateway = ip("100.64.0.254");
  EXPECT_FALSE(RoutePolicy(Interface{}, wan_only).refusal(prefix("0.0.0.0/0")).has_value());
}

TEST(RoutePolicy, EmptyPolicyReservesNothing) {
  EXPECT_FALSE(RoutePolicy().refusal(prefix("10.0.0.0/24")).has_value());
}

}  // namespace
}  // namespace wghub::config
