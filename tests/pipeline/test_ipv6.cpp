// IPv6 through the real data plane. Inner: site -> HQ (decrypt, IPv6
// inner-source check, IPv6 table, hop limit, NDP for the HQ host, Ethernet),
// HQ -> site (IPv6 table, encrypt with padding), spoofed IPv6 sources, hop
// limit 1, an inner IPv6 packet longer than its plaintext, the hub's own NDP
// and ping on the LAN, and IPv6 route changes made while the standby table
// still has readers. Outer: a site that reaches the hub over IPv6 (handshake,
// data both ways, IPv6/UDP with its checksum), the hub initiating to a
// configured IPv6 endpoint (NDP on the WAN first), and a site roaming from
// IPv4 to IPv6 and back. Site to site: test_hub_and_spoke.cpp.
#include <rte_cycles.h>

#include "tests/pipeline/pipeline_test.hpp"

namespace wghub::pipeline {
namespace {

class Ipv6Test : public PipelineTest {
 protected:
  void SetUp() override { rebuild(dual_stack()); }
};

std::size_t payload_len(unsigned i) {
  return (i * 131u) % (1420 - 48 + 1);  // IPv6 + UDP headers are 48 bytes
}

Bytes inner_udp6(const Ip6& src, const Ip6& dst, std::uint32_t seq, std::size_t len,
                 std::uint8_t hop_limit = 64) {
  return udp6_packet(src, dst, 1000, 2000, pattern_payload(seq, len), hop_limit);
}

// Everything but the hop limit as sent.
void expect_forwarded(const Bytes& got, const Bytes& sent, unsigned i) {
  ASSERT_EQ(got.size(), sent.size()) << "packet " << i;
  ASSERT_EQ(got[7], sent[7] - 1) << "packet " << i << ": hop limit";
  Bytes g = got;
  g[7] = sent[7];
  ASSERT_EQ(g, sent) << "packet " << i;
}

TEST_F(Ipv6Test, SiteToHq) {
  constexpr unsigned kPackets = 2000;
  SimPeer& a = h().peer("site-a");
  ASSERT_TRUE(h().handshake(a));
  std::vector<Bytes> sent, lan;
  for (unsigned i = 0; i < kPackets; ++i) {
    sent.push_back(inner_udp6(kSiteAHost6, kHqHostIp6, i, payload_len(i)));
    h().send(a, a.seal(sent.back()));
    if (i % 256 == 255 || i + 1 == kPackets) {
      h().run();
      for (Bytes& f : h().take_lan()) lan.push_back(std::move(f));
    }
  }
  EXPECT_TRUE(h().take_wan().empty());
  EXPECT_EQ(h().lan_ndp_requests(), std::vector<Ip6>{kHqHostIp6}) << "one NS for the HQ host";
  EXPECT_TRUE(h().lan_arp_requests().empty());
  ASSERT_EQ(lan.size(), kPackets);
  for (unsigned i = 0; i < kPackets; ++i) {
    const auto pf = parse_frame(lan[i]);
    ASSERT_TRUE(pf.has_value()) << "packet " << i;
    ASSERT_EQ(pf->ether_type, kEtherTypeIpv6);
    ASSERT_EQ(pf->dst, kHqHostMac) << "packet " << i;
    ASSERT_EQ(pf->src, h().hub_lan_mac()) << "packet " << i;
    ASSERT_TRUE(pf->ip_checksum_ok) << "packet " << i << ": UDP checksum";
    expect_forwarded(pf->ip_packet, sent[i], i);
  }
  const dp::LcoreStats after = h().stats();
  EXPECT_EQ(after.decrypted_packets, kPackets);
  EXPECT_EQ(total_drops(after), 0u);
}

TEST_F(Ipv6Test, HqToSite) {
  constexpr unsigned kPackets = 2000;
  SimPeer& a = h().peer("site-a");
  ASSERT_TRUE(h().establish(a));
  const dp::LcoreStats before = h().stats();
  std::vector<Bytes> sent, wan;
  for (unsigned i = 0; i < kPackets; ++i) {
    sent.push_back(inner_udp6(kHqHostIp6, kSiteAHost6, i, payload_len(i)));
    h().send_from_hq6(sent.back());
    if (i % 256 == 255 || i + 1 == kPackets) {
      h().run();
      for (Bytes& f : h().take_wan()) wan.push_back(std::move(f));
    }
  }
  EXPECT_TRUE(h().take_lan().empty());
  ASSERT_EQ(wan.size(), kPackets);
  for (unsigned i = 0; i < kPackets; ++i) {
    const auto opened = a.open(wireguard_payload_to(wan[i], h().hub_wan(), a.outer()));
    ASSERT_TRUE(opened.has_value()) << "packet " << i;
    const Bytes& plain = opened->plaintext;
    ASSERT_EQ(plain.size(), dp::padded_length(sent[i].size(), 1420)) << "packet " << i;
    for (std::size_t b = sent[i].size(); b < plain.size(); ++b)
      ASSERT_EQ(plain[b], 0) << "padding byte " << b << " of packet " << i;
    expect_forwarded(
        Bytes(plain.begin(), plain.begin() + static_cast<std::ptrdiff_t>(sent[i].size())), sent[i],
        i);
  }
  const dp::LcoreStats after = h().stats();
  EXPECT_EQ(after.encrypted_packets - before.encrypted_packets, kPackets);
  EXPECT_EQ(total_drops(after), 0u);
}

TEST_F(Ipv6Test, SpoofedIpv6SourceIsDropped) {
  SimPeer& a = h().peer("site-a");
  ASSERT_TRUE(h().establish(a));
  const dp::LcoreStats before = h().stats();
  // From site B's prefix, and from a prefix nobody owns.
  h().send(a, a.seal(inner_udp6(kSiteBHost6, kHqHostIp6, 1, 100)));
  h().send(a, a.seal(inner_udp6(ip6("fd00:99::1"), kHqHostIp6, 2, 100)));
  // Site A's IPv4 AllowedIPs do not cover an IPv6 source with the same bits.
  h().send(a, a.seal(inner_udp6(ip6("::a01:5"), kHqHostIp6, 3, 100)));
  h().run();
  EXPECT_TRUE(h().take_lan().empty());
  expect_drops_moved(before, h().stats(), dp::DropReason::kSpoofedInnerSource, 3);
  // The session itself is fine.
  h().send(a, a.seal(inner_udp6(kSiteAHost6, kHqHostIp6, 4, 100)));
  h().run();
  EXPECT_EQ(h().take_lan().size(), 1u);
}

TEST_F(Ipv6Test, HopLimitOneIsNotForwarded) {
  SimPeer& a = h().peer("site-a");
  ASSERT_TRUE(h().establish(a));
  const dp::LcoreStats before = h().stats();
  h().send(a, a.seal(inner_udp6(kSiteAHost6, kHqHostIp6, 1, 100, 1)));
  h().send_from_hq6(inner_udp6(kHqHostIp6, kSiteAHost6, 2, 100, 1));
  h().run();
  EXPECT_TRUE(h().take_lan().empty());
  EXPECT_TRUE(h().take_wan().empty());
  expect_drops_moved(before, h().stats(), dp::DropReason::kHopLimitExceeded, 2);
}

TEST_F(Ipv6Test, InnerPayloadLengthBeyondThePlaintextIsDropped) {
  SimPeer& a = h().peer("site-a");
  ASSERT_TRUE(h().establish(a));
  const dp::LcoreStats before = h().stats();
  Bytes packet = inner_udp6(kSiteAHost6, kHqHostIp6, 1, 100);
  // Claims 32 bytes more than it has; the padding to 16 covers at most 15.
  const std::uint16_t claimed = static_cast<std::uint16_t>(packet.size() - 40 + 32);
  packet[4] = static_cast<std::uint8_t>(claimed >> 8);
  packet[5] = static_cast<std::uint8_t>(claimed);
  h().send(a, a.seal(packet));
  h().run();
  EXPECT_TRUE(h().take_lan().empty());
  expect_drops_moved(before, h().stats(), dp::DropReason::kBadInnerIpv6, 1);
}

// The HQ host asks for the hub's address: the hub answers (and learns the
// host, so its own traffic to it needs no solicitation), pings its address.
TEST_F(Ipv6Test, NdpAndPingOnTheLan) {
  h().inject_lan(neighbor_solicit_frame(kHqHostMac, kHqHostIp6, kHubLanIp6));
  h().run();
  std::vector<Bytes> lan = h().take_lan();
  ASSERT_EQ(lan.size(), 1u);
  auto pf = parse_frame(lan[0]);
  ASSERT_TRUE(pf.has_value());
  EXPECT_EQ(pf->ether_type, kEtherTypeIpv6);
  EXPECT_EQ(pf->dst, kHqHostMac);
  EXPECT_EQ(pf->src, h().hub_lan_mac());
  EXPECT_EQ(pf->icmp6_type, 136);
  EXPECT_EQ(pf->src_ip6, kHubLanIp6);
  EXPECT_EQ(pf->dst_ip6, kHqHostIp6);
  EXPECT_EQ(pf->ttl, 255) << "RFC 4861: hop limit 255";
  EXPECT_TRUE(pf->ip_checksum_ok);
  EXPECT_EQ(pf->ndp_target, kHubLanIp6);
  ASSERT_TRUE(pf->ndp_has_lla);
  EXPECT_EQ(pf->ndp_lla, h().hub_lan_mac());
  const std::uint8_t flags = pf->ip_packet[40 + 4];
  EXPECT_EQ(flags, 0xe0) << "Router, Solicited, Override";

  // A solicitation for somebody else's address: no answer.
  h().inject_lan(neighbor_solicit_frame(kHqHostMac, kHqHostIp6, ip6("fd00::77")));
  h().run();
  EXPECT_TRUE(h().take_lan().empty());

  // Ping the hub's LAN address.
  Bytes echo_body = {0x12, 0x34, 0x00, 0x01, 'p', 'i', 'n', 'g'};
  h().send_from_hq6(icmp6_packet(kHqHostIp6, kHubLanIp6, 128, 0, echo_body));
  h().run();
  lan = h().take_lan();
  ASSERT_EQ(lan.size(), 1u);
  pf = parse_frame(lan[0]);
  ASSERT_TRUE(pf.has_value());
  EXPECT_EQ(pf->icmp6_type, 129);
  EXPECT_EQ(pf->src_ip6, kHubLanIp6);
  EXPECT_EQ(pf->dst_ip6, kHqHostIp6);
  EXPECT_TRUE(pf->ip_checksum_ok);
  EXPECT_EQ(Bytes(pf->ip_packet.begin() + 44, pf->ip_packet.end()), echo_body);

  // The hub learned the HQ host from its solicitation: site -> HQ needs no NS.
  SimPeer& a = h().peer("site-a");
  ASSERT_TRUE(h().establish(a));
  h().send(a, a.seal(inner_udp6(kSiteAHost6, kHqHostIp6, 1, 64)));
  h().run();
  EXPECT_EQ(h().take_lan().size(), 1u);
  EXPECT_TRUE(h().lan_ndp_requests().empty());
  EXPECT_EQ(h().hub().control().counters().ndp_answered, 1u);
}

// Changes right after another one wait for the workers to leave the standby
// table; the control tick publishes them.
TEST_F(Ipv6Test, RouteChangesInABurstReachTheWorkers) {
  SimPeer& a = h().peer("site-a");
  ASSERT_TRUE(h().establish(a));
  ctl::Device& device = h().hub().device();
  ctl::PeerSpec spec;
  const ctl::Device::Peer& p = h().device_peer("site-a");
  spec.name = p.name;
  spec.public_key = p.public_key;
  spec.allowed_ips = p.allowed_ips;
  std::string error;
  spec.allowed_ips.push_back(config::Prefix::parse("fd00:1:1::/64").value.value());
  ASSERT_TRUE(device.update_peer(spec, error)) << error;
  spec.allowed_ips.push_back(config::Prefix::parse("fd00:1:2::/64").value.value());
  ASSERT_TRUE(device.update_peer(spec, error)) << error;
  EXPECT_TRUE(h().hub().dataplane().fib6->pending()) << "the workers have not moved on yet";
  h().run();  // the workers report quiescent states
  device.tick(h().hub().engine(), ctl::Clock::now(), rte_get_tsc_cycles());
  EXPECT_FALSE(h().hub().dataplane().fib6->pending());
  for (const char* dst : {"fd00:1:1::9", "fd00:1:2::9"}) {
    h().send_from_hq6(inner_udp6(kHqHostIp6, ip6(dst), 1, 64));
    h().run();
    const std::vector<Bytes> wan = h().take_wan();
    ASSERT_EQ(wan.size(), 1u) << dst;
    EXPECT_TRUE(a.open(wireguard_payload_to(wan[0], h().hub_wan(), a.outer())).has_value());
  }
  EXPECT_EQ(total_drops(h().stats()), 0u);
}

// ---------------------------------------------------------------- outer IPv6

const Ip6 kSiteC6Outer = ip6("fd00:64::21");
const Ip6 kSiteD6Outer = ip6("fd00:64::22");

PeerSpec site_c6() {  // dials in over IPv6
  return {"site-c6",
          0xc6,
          Outer{test_mac(0x0e0e), 0, 40006, true, kSiteC6Outer},
          {"10.3.0.0/24", "fd00:3::/64"},
          false};
}
PeerSpec site_d6() {  // configured endpoint [fd00:64::22]:51820: the hub dials
  return {"site-d6",
          0xd6,
          Outer{test_mac(0x0f0f), 0, 51820, true, kSiteD6Outer},
          {"10.4.0.0/24"},
          true};
}

class Ipv6OuterTest : public PipelineTest {
 protected:
  void SetUp() override {
    HarnessOptions o = dual_stack();
    o.peers.push_back(site_c6());
    rebuild(o);
  }
};

TEST_F(Ipv6OuterTest, SiteReachesTheHubOverIpv6) {
  SimPeer& c = h().peer("site-c6");
  ASSERT_TRUE(h().establish(c)) << "handshake over IPv6";
  EXPECT_EQ(h().endpoint("site-c6"), packed_endpoint6(kSiteC6Outer, 40006));
  EXPECT_TRUE(h().wan_ndp_requests().empty()) << "the site's MAC came with its handshake";
  constexpr unsigned kEach = 200;
  std::vector<Bytes> sent4, sent6;
  for (unsigned i = 0; i < kEach; ++i) {
    sent4.push_back(inner_udp(ip4(10, 3, 0, 5), kHqHostIp, i, payload_len(i)));
    sent6.push_back(inner_udp6(ip6("fd00:3::5"), kHqHostIp6, i, payload_len(i + 7)));
    h().send(c, c.seal(sent4.back()));
    h().send(c, c.seal(sent6.back()));
  }
  h().run();
  std::vector<Bytes> lan = h().take_lan();
  ASSERT_EQ(lan.size(), 2 * kEach);
  unsigned v4 = 0, v6 = 0;
  for (const Bytes& f : lan) {
    const auto pf = parse_frame(f);
    ASSERT_TRUE(pf.has_value());
    if (pf->ether_type == kEtherTypeIpv6) {
      expect_forwarded(pf->ip_packet, sent6[v6], v6);
      ++v6;
    } else {
      ASSERT_EQ(pf->ip_packet.size(), sent4[v4].size());
      ++v4;
    }
  }
  EXPECT_EQ(v4, kEach);
  EXPECT_EQ(v6, kEach);

  // HQ -> site: both inner families leave as IPv6/UDP to the site.
  for (unsigned i = 0; i < kEach; ++i) {
    h().send_from_hq(inner_udp(kHqHostIp, ip4(10, 3, 0, 5), i, payload_len(i)));
    h().send_from_hq6(inner_udp6(kHqHostIp6, ip6("fd00:3::5"), i, payload_len(i)));
  }
  h().run();
  const std::vector<Bytes> wan = h().take_wan();
  ASSERT_EQ(wan.size(), 2 * kEach);
  for (const Bytes& f : wan) {
    const auto pf = parse_frame(f);
    ASSERT_TRUE(pf.has_value());
    EXPECT_EQ(pf->ttl, 64) << "hop limit of what the hub originates";
    EXPECT_EQ(pf->src_port, kListenPort);
    ASSERT_TRUE(c.open(wireguard_payload_to(f, h().hub_wan(), c.outer())).has_value());
  }
  EXPECT_TRUE(h().wan_ndp_requests().empty());
  EXPECT_EQ(total_drops(h().stats()), 0u);
}

TEST_F(Ipv6OuterTest, HubInitiatesToAConfiguredIpv6Endpoint) {
  HarnessOptions o = dual_stack();
  o.peers = {site_a(), site_d6()};
  rebuild(o);
  SimPeer& d = h().peer("site-d6");
  h().run();  // first tick: the initiation waits for NDP; the bench answers
  EXPECT_EQ(h().wan_ndp_requests(), std::vector<Ip6>{kSiteD6Outer});
  std::vector<Bytes> wan = h().take_wan();
  ASSERT_EQ(wan.size(), 1u);
  const Bytes initiation = wireguard_payload_to(wan[0], h().hub_wan(), d.outer());
  ASSERT_EQ(initiation.size(), dp::kMessageInitiationSize);
  const auto response = d.consume_initiation(initiation);
  ASSERT_TRUE(response.has_value());
  h().send(d, *response);
  h().run();
  wan = h().take_wan();
  ASSERT_EQ(wan.size(), 1u) << "the initiator's first keepalive";
  ASSERT_TRUE(d.open(wireguard_payload_to(wan[0], h().hub_wan(), d.outer())).has_value());
  h().send_from_hq(inner_udp(kHqHostIp, ip4(10, 4, 0, 9), 7, 100));
  h().run();
  wan = h().take_wan();
  ASSERT_EQ(wan.size(), 1u);
  EXPECT_TRUE(d.open(wireguard_payload_to(wan[0], h().hub_wan(), d.outer())).has_value());
  EXPECT_EQ(total_drops(h().stats()), 0u);
}

// Roaming across families: the latest authenticated outer source wins,
// whichever family it is (whitepaper 2.1).
TEST_F(Ipv6OuterTest, SiteRoamsFromIpv4ToIpv6AndBack) {
  SimPeer& a = h().peer("site-a");
  ASSERT_TRUE(h().establish(a));
  const Outer home = a.outer();
  EXPECT_EQ(h().endpoint("site-a"), packed_endpoint(home.ip, home.port));

  const Ip6 moved = ip6("fd00:64::31");
  h().add_wan_neighbour6(moved, home.mac);
  a.outer().v6 = true;
  a.outer().ip6 = moved;
  a.outer().port = 40100;
  h().send(a, a.seal(inner_udp(ip4(10, 1, 0, 5), kHqHostIp, 1, 64)));
  h().run();
  EXPECT_EQ(h().take_lan().size(), 1u);
  EXPECT_EQ(h().endpoint("site-a"), packed_endpoint6(moved, 40100));
  h().send_from_hq(inner_udp(kHqHostIp, ip4(10, 1, 0, 5), 2, 64));
  h().run();
  std::vector<Bytes> wan = h().take_wan();
  ASSERT_EQ(wan.size(), 1u);
  EXPECT_TRUE(a.open(wireguard_payload_to(wan[0], h().hub_wan(), a.outer())).has_value());
  EXPECT_EQ(h().wan_ndp_requests(), std::vector<Ip6>{moved}) << "resolved with NDP";

  a.outer() = home;
  h().send(a, a.seal(inner_udp(ip4(10, 1, 0, 5), kHqHostIp, 3, 64)));
  h().run();
  EXPECT_EQ(h().take_lan().size(), 1u);
  EXPECT_EQ(h().endpoint("site-a"), packed_endpoint(home.ip, home.port));
  h().send_from_hq(inner_udp(kHqHostIp, ip4(10, 1, 0, 5), 4, 64));
  h().run();
  wan = h().take_wan();
  ASSERT_EQ(wan.size(), 1u);
  EXPECT_TRUE(a.open(wireguard_payload_to(wan[0], h().hub_wan(), a.outer())).has_value());
  EXPECT_EQ(total_drops(h().stats()), 0u);
}

}  // namespace
}  // namespace wghub::pipeline
