// Roaming (whitepaper 2.1): a site's endpoint is the outer source of its
// latest authenticated packet. The site's NAT mapping moves to a new public
// address and port behind the WAN gateway; the hub's next packet to the site
// goes there. Packets that do not authenticate move nothing.
#include <thread>

#include "tests/pipeline/pipeline_test.hpp"

namespace wghub::pipeline {
namespace {

using dp::DropReason;

// HQ -> site A: the outer frame the hub sends, checked against `to`, and the
// decrypted inner packet's sequence number.
void expect_hq_packet_reaches(Harness& h, SimPeer& a, const Outer& to, std::uint32_t seq) {
  h.send_from_hq(inner_udp(kHqHostIp, ip4(10, 1, 0, 5), seq, 64));
  h.run();
  const std::vector<Bytes> wan = h.take_wan();
  ASSERT_EQ(wan.size(), 1u);
  const auto opened = a.open(wireguard_payload_to(wan[0], h.hub_wan(), to));
  ASSERT_TRUE(opened.has_value());
  const auto inner = parse_ipv4(opened->plaintext);
  ASSERT_TRUE(inner.has_value());
  ASSERT_GE(inner->payload.size(), 12u);
  EXPECT_EQ(Bytes(inner->payload.begin() + 8, inner->payload.begin() + 12),
            Bytes(pattern_payload(seq, 4)));
}

TEST_F(PipelineTest, EndpointFollowsAuthenticatedSource) {
  SimPeer& a = h().peer("site-a");
  ASSERT_TRUE(h().establish(a));
  const Outer home = a.outer();
  expect_hq_packet_reaches(h(), a, home, 1);

  // A forged packet from elsewhere (bad tag) does not move the endpoint.
  const Outer elsewhere{kWanGatewayMac, ip4(203, 0, 113, 9), 999};
  a.outer() = elsewhere;
  Bytes forged = a.seal(inner_udp(ip4(10, 1, 0, 5), kHqHostIp, 2, 64));
  forged.back() ^= 1;
  h().send(a, forged);
  h().run();
  EXPECT_EQ(h().drops(DropReason::kAuthFailed), 1u);
  EXPECT_EQ(h().endpoint("site-a"), packed_endpoint(home.ip, home.port));

  // The NAT moves: new public address (off-link, behind the WAN gateway)
  // and port; the next authenticated packet comes from there.
  const Outer roamed{kWanGatewayMac, ip4(198, 51, 100, 7), 41000};
  a.outer() = roamed;
  h().send(a, a.seal(inner_udp(ip4(10, 1, 0, 5), kHqHostIp, 3, 64)));
  h().run();
  EXPECT_EQ(h().take_lan().size(), 1u);
  EXPECT_EQ(h().endpoint("site-a"), packed_endpoint(roamed.ip, roamed.port));

  // The hub answers at the new endpoint, through the gateway (whose MAC it
  // resolves by ARP: the bench answers).
  expect_hq_packet_reaches(h(), a, roamed, 4);
  EXPECT_EQ(h().wan_arp_requests().back(), kWanGatewayIp);

  // The control thread learns the endpoint on its next tick (every 100 ms).
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  h().run();
  const auto engine_endpoint = h().hub().engine().endpoint(h().slot("site-a"));
  ASSERT_TRUE(engine_endpoint.has_value());
  EXPECT_EQ(*engine_endpoint, ctl::SourceAddress::ipv4(roamed.ip, roamed.port));

  // Roaming back works the same way.
  a.outer() = home;
  h().send(a, a.seal(inner_udp(ip4(10, 1, 0, 5), kHqHostIp, 5, 64)));
  h().run();
  EXPECT_EQ(h().endpoint("site-a"), packed_endpoint(home.ip, home.port));
  expect_hq_packet_reaches(h(), a, home, 6);
  EXPECT_EQ(h().drops(DropReason::kAuthFailed), 1u);
  EXPECT_EQ(total_drops(h().stats()), 1u);
}

}  // namespace
}  // namespace wghub::pipeline
