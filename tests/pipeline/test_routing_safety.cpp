// Issue 13, routing safety: forwarding decisions a LAN host or a site could
// turn against the hub. Item 1: a packet from the LAN may not carry a source
// that belongs to a peer (a site's AllowedIPs) or to the hub itself, in
// either address family; each such packet is dropped as spoofed_lan_source
// and nothing reaches the tunnel.
#include "tests/pipeline/pipeline_test.hpp"

namespace wghub::pipeline {
namespace {

using dp::DropReason;

const Ip6 kSiteAHost6 = ip6("fd00:1::5");
const Ip6 kSiteBHost6 = ip6("fd00:2::7");

HarnessOptions dual_stack() {
  HarnessOptions o;
  o.ipv6 = true;
  PeerSpec a = site_a(), b = site_b();
  a.allowed_ips.push_back("fd00:1::/64");
  b.allowed_ips.push_back("fd00:2::/64");
  o.peers = {a, b};
  return o;
}

// Site A's session is up, so anything the hub forwards to it shows on the WAN.
class LanIngressTest : public PipelineTest {
 protected:
  void SetUp() override {
    rebuild(dual_stack());
    ASSERT_TRUE(h().establish(a()));
    // The check is not blanket: the HQ host's own source goes through.
    h().send_from_hq(inner_udp(kHqHostIp, ip4(10, 1, 0, 5), 0, 100));
    h().send_from_hq6(udp6_packet(kHqHostIp6, kSiteAHost6, 1000, 2000, pattern_payload(0, 100)));
    h().run();
    ASSERT_EQ(h().take_wan().size(), 2u);
    ASSERT_EQ(total_drops(h().stats()), 0u);
  }
  SimPeer& a() { return h().peer("site-a"); }

  void expect_lan_drop(const Bytes& ip_packet, bool v6, DropReason reason) {
    const dp::LcoreStats before = h().stats();
    if (v6) {
      h().send_from_hq6(ip_packet);
    } else {
      h().send_from_hq(ip_packet);
    }
    h().run();
    expect_drops_moved(before, h().stats(), reason, 1);
    EXPECT_TRUE(h().take_wan().empty());
    EXPECT_TRUE(h().take_lan().empty());
  }
};

TEST_F(LanIngressTest, SourceInsideAnotherSitesPrefixIsDropped) {
  // A LAN host posing as site B towards site A: A would accept it, since its
  // AllowedIPs for the hub include B's network.
  expect_lan_drop(inner_udp(ip4(10, 2, 0, 7), ip4(10, 1, 0, 5), 1, 100), false,
                  DropReason::kSpoofedLanSource);
  expect_lan_drop(udp6_packet(kSiteBHost6, kSiteAHost6, 1000, 2000, pattern_payload(1, 100)), true,
                  DropReason::kSpoofedLanSource);
}

TEST_F(LanIngressTest, SourceOfTheSiteItselfIsDropped) {
  expect_lan_drop(inner_udp(ip4(10, 1, 0, 9), ip4(10, 1, 0, 5), 2, 100), false,
                  DropReason::kSpoofedLanSource);
  expect_lan_drop(udp6_packet(ip6("fd00:1::9"), kSiteAHost6, 1000, 2000, pattern_payload(2, 100)),
                  true, DropReason::kSpoofedLanSource);
}

TEST_F(LanIngressTest, HubsOwnAddressAsSourceIsDropped) {
  expect_lan_drop(inner_udp(kHubLanIp, ip4(10, 1, 0, 5), 3, 100), false,
                  DropReason::kSpoofedLanSource);
  expect_lan_drop(inner_udp(kHubWanIp, ip4(10, 1, 0, 5), 4, 100), false,
                  DropReason::kSpoofedLanSource);
  expect_lan_drop(udp6_packet(kHubLanIp6, kSiteAHost6, 1000, 2000, pattern_payload(3, 100)), true,
                  DropReason::kSpoofedLanSource);
}

TEST_F(LanIngressTest, UnroutedSourceStillPasses) {
  // A LAN network the hub has no route for (not a site's, not the hub's).
  h().send_from_hq(inner_udp(ip4(192, 168, 50, 1), ip4(10, 1, 0, 5), 5, 100));
  h().run();
  EXPECT_EQ(h().take_wan().size(), 1u);
  EXPECT_EQ(total_drops(h().stats()), 0u);
}

}  // namespace
}  // namespace wghub::pipeline
