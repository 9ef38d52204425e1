// The appliance's own addresses: ARP (RFC 826) and ICMP echo (RFC 792) on
// both ports go from the worker to the control thread and are answered from
// the control thread's tx queue.
#include "tests/pipeline/pipeline_test.hpp"

namespace wghub::pipeline {
namespace {

// One port: `ask` is the neighbour's MAC/IP, `own_mac`/`own_ip` the hub's.
void check_port(Harness& h, bool wan, const Mac& ask_mac, std::uint32_t ask_ip, const Mac& own_mac,
                std::uint32_t own_ip) {
  auto inject = [&](const Bytes& f) { wan ? h.inject_wan(f) : h.inject_lan(f); };
  auto take = [&] { return wan ? h.take_wan() : h.take_lan(); };

  inject(arp_frame(1, kBroadcastMac, ask_mac, ask_ip, Mac{}, own_ip));
  h.run();
  std::vector<Bytes> out = take();
  ASSERT_EQ(out.size(), 1u);
  auto pf = parse_frame(out[0]);
  ASSERT_TRUE(pf.has_value());
  EXPECT_EQ(pf->ether_type, kEtherTypeArp);
  EXPECT_EQ(pf->arp_op, 2);
  EXPECT_EQ(pf->dst, ask_mac);
  EXPECT_EQ(pf->src, own_mac);
  EXPECT_EQ(pf->arp_sender_mac, own_mac);
  EXPECT_EQ(pf->arp_sender_ip, own_ip);
  EXPECT_EQ(pf->arp_target_mac, ask_mac);
  EXPECT_EQ(pf->arp_target_ip, ask_ip);

  const Bytes request = echo_request(0x4242, 7);
  inject(ethernet_frame(own_mac, ask_mac, kEtherTypeIpv4,
                        ipv4_packet(ask_ip, own_ip, kProtoIcmp, request)));
  h.run();
  out = take();
  ASSERT_EQ(out.size(), 1u);
  pf = parse_frame(out[0]);
  ASSERT_TRUE(pf.has_value());
  EXPECT_EQ(pf->dst, ask_mac);
  EXPECT_EQ(pf->src, own_mac);
  EXPECT_EQ(pf->src_ip, own_ip);
  EXPECT_EQ(pf->dst_ip, ask_ip);
  EXPECT_TRUE(pf->ip_checksum_ok);
  ASSERT_EQ(pf->proto, kProtoIcmp);
  const Bytes reply(pf->ip_packet.begin() + 20, pf->ip_packet.end());
  ASSERT_EQ(reply.size(), request.size());
  EXPECT_EQ(reply[0], 0) << "echo reply";
  EXPECT_EQ(inet_checksum(reply.data(), reply.size()), 0);
  EXPECT_EQ(Bytes(reply.begin() + 4, reply.end()), Bytes(request.begin() + 4, request.end()))
      << "identifier, sequence and data echoed";
}

TEST_F(PipelineTest, ApplianceAnswersArpAndEchoOnBothPorts) {
  check_port(h(), /*wan=*/false, kHqHostMac, kHqHostIp, h().hub_lan_mac(), kHubLanIp);
  const SimPeer& a = h().peer("site-a");
  check_port(h(), /*wan=*/true, a.outer().mac, a.outer().ip, h().hub_wan().mac, kHubWanIp);
  EXPECT_EQ(h().hub().control().counters().arp_answered, 2u);
  EXPECT_EQ(h().hub().control().counters().icmp_answered, 2u);
  EXPECT_EQ(total_drops(h().stats()), 0u);
  EXPECT_TRUE(h().wan_arp_requests().empty());
  EXPECT_TRUE(h().lan_arp_requests().empty());
}

}  // namespace
}  // namespace wghub::pipeline
