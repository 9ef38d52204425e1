// Packets longer than the tunnel MTU (1420) through the real data plane
// (dataplane/worker_pmtu.cpp): a DF IPv4 packet from the LAN is refused with
// ICMP fragmentation needed (MTU 1420) back to its sender, one without DF is
// fragmented and each fragment tunnelled (the site reassembles the
// original), IPv6 gets ICMPv6 Packet Too Big, a 1420-byte packet still goes
// through whole, a site's oversize packet to another site is handled alike
// (the error travels back through the tunnel), no error answers an ICMP
// error, and the rate limit holds under a burst.
#include <map>

#include "tests/pipeline/pipeline_test.hpp"

namespace wghub::pipeline {
namespace {

constexpr std::uint32_t kSiteAHost = ip4(10, 1, 0, 5);
constexpr std::uint32_t kSiteBHost = ip4(10, 2, 0, 7);

std::uint16_t get16(const Bytes& b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}

// `p` with DF set (header checksum recomputed).
Bytes with_df(Bytes p) {
  p[6] |= 0x40;
  p[10] = p[11] = 0;
  const std::uint16_t c = inet_checksum(p.data(), 20);
  p[10] = static_cast<std::uint8_t>(c >> 8);
  p[11] = static_cast<std::uint8_t>(c);
  return p;
}

// A UDP packet of exactly `total` bytes (IPv4 20 + UDP 8 + payload).
Bytes udp_of_size(std::uint32_t src, std::uint32_t dst, std::size_t total, std::uint32_t seq = 1) {
  return inner_udp(src, dst, seq, total - 28);
}

// Checks the ICMP "fragmentation needed" in `ip` (an IPv4 packet) from `from`
// about `offending` as it was sent, and returns nothing: failures say why.
void expect_frag_needed(const Bytes& ip, std::uint32_t from, const Bytes& offending) {
  const auto p = parse_ipv4(ip);
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->checksum_ok);
  EXPECT_EQ(p->src, from);
  EXPECT_EQ(p->dst, ip4(offending[12], offending[13], offending[14], offending[15]));
  EXPECT_EQ(p->proto, 1);
  EXPECT_EQ(p->ttl, 64);
  EXPECT_EQ(p->total_length, 576) << "RFC 1812 4.3.2.3: as much as fits in 576 bytes";
  const Bytes& icmp = p->payload;
  ASSERT_EQ(icmp.size(), 556u);
  EXPECT_EQ(icmp[0], 3);
  EXPECT_EQ(icmp[1], 4);
  EXPECT_EQ(get16(icmp, 4), 0);
  EXPECT_EQ(get16(icmp, 6), 1420) << "next-hop MTU (RFC 1191 4)";
  EXPECT_EQ(inet_checksum(icmp.data(), icmp.size()), 0) << "ICMP checksum";
  EXPECT_EQ(Bytes(icmp.begin() + 8, icmp.end()), Bytes(offending.begin(), offending.begin() + 548))
      << "the quote: the packet as it arrived";
}

TEST_F(PipelineTest, DfPacketFromLanGetsFragmentationNeeded) {
  ASSERT_TRUE(h().establish(h().peer("site-a")));
  const dp::LcoreStats before = h().stats();
  const Bytes packet = with_df(udp_of_size(kHqHostIp, kSiteAHost, 1500));
  h().send_from_hq(packet);
  h().run();
  EXPECT_TRUE(h().take_wan().empty()) << "nothing into the tunnel";
  const std::vector<Bytes> lan = h().take_lan();
  ASSERT_EQ(lan.size(), 1u);
  const auto pf = parse_frame(lan[0]);
  ASSERT_TRUE(pf.has_value());
  EXPECT_EQ(pf->dst, kHqHostMac);
  EXPECT_EQ(pf->src, h().hub_lan_mac());
  expect_frag_needed(pf->ip_packet, kHubLanIp, packet);

  const dp::LcoreStats after = h().stats();
  expect_drops_moved(before, after, dp::DropReason::kPacketTooBig, 1);
  EXPECT_EQ(after.icmp_errors_sent - before.icmp_errors_sent, 1u);
  EXPECT_EQ(after.encrypted_packets, before.encrypted_packets);
  EXPECT_EQ(after.fragments_created, 0u);
}

TEST_F(PipelineTest, PacketWithoutDfIsFragmentedIntoTheTunnel) {
  SimPeer& a = h().peer("site-a");
  ASSERT_TRUE(h().establish(a));
  const dp::LcoreStats before = h().stats();
  const Bytes packet = udp_of_size(kHqHostIp, kSiteAHost, 1500);
  h().send_from_hq(packet);
  h().run();
  EXPECT_TRUE(h().take_lan().empty());
  const std::vector<Bytes> wan = h().take_wan();
  ASSERT_EQ(wan.size(), 2u);

  std::map<std::size_t, Bytes> pieces;
  bool last_seen = false;
  for (std::size_t i = 0; i < wan.size(); ++i) {
    const auto opened = a.open(wireguard_payload_to(wan[i], h().hub_wan(), a.outer()));
    ASSERT_TRUE(opened.has_value()) << "fragment " << i << " must decrypt";
    const Bytes& plain = opened->plaintext;
    const auto inner = parse_ipv4(plain);
    ASSERT_TRUE(inner.has_value());
    EXPECT_TRUE(inner->checksum_ok);
    EXPECT_EQ(inner->ttl, 63);
    EXPECT_EQ(inner->src, kHqHostIp);
    EXPECT_EQ(inner->dst, kSiteAHost);
    EXPECT_EQ(get16(plain, 4), get16(packet, 4)) << "the original's identification";
    EXPECT_EQ(inner->total_length, i == 0 ? 1420 : 100);
    const std::uint16_t frag = get16(plain, 6);
    EXPECT_EQ(frag & 0x4000, 0);
    const bool more = (frag & 0x2000) != 0;
    EXPECT_EQ(more, i == 0);
    last_seen |= !more;
    pieces[(frag & 0x1fffu) * 8] = inner->payload;
  }
  ASSERT_TRUE(last_seen);
  Bytes data;
  for (const auto& [offset, bytes] : pieces) {
    ASSERT_EQ(offset, data.size()) << "no gap, no overlap";
    data.insert(data.end(), bytes.begin(), bytes.end());
  }
  EXPECT_EQ(data, Bytes(packet.begin() + 20, packet.end())) << "reassembles to the original";

  const dp::LcoreStats after = h().stats();
  EXPECT_EQ(after.fragments_created - before.fragments_created, 2u);
  EXPECT_EQ(after.encrypted_packets - before.encrypted_packets, 2u);
  EXPECT_EQ(after.icmp_errors_sent, 0u);
  EXPECT_EQ(total_drops(after), total_drops(before));
}

TEST_F(PipelineTest, PacketOfExactlyTheMtuGoesThroughWhole) {
  SimPeer& a = h().peer("site-a");
  ASSERT_TRUE(h().establish(a));
  const dp::LcoreStats before = h().stats();
  const Bytes packet = with_df(udp_of_size(kHqHostIp, kSiteAHost, 1420));
  h().send_from_hq(packet);
  h().run();
  EXPECT_TRUE(h().take_lan().empty());
  const std::vector<Bytes> wan = h().take_wan();
  ASSERT_EQ(wan.size(), 1u);
  const auto opened = a.open(wireguard_payload_to(wan[0], h().hub_wan(), a.outer()));
  ASSERT_TRUE(opened.has_value());
  ASSERT_EQ(opened->plaintext.size(), 1420u) << "no padding past the MTU";
  Bytes got = opened->plaintext;
  EXPECT_EQ(got[8], 63);
  got[8] = packet[8];
  got[10] = packet[10];
  got[11] = packet[11];
  EXPECT_EQ(got, packet);
  const dp::LcoreStats after = h().stats();
  EXPECT_EQ(after.fragments_created, 0u);
  EXPECT_EQ(after.icmp_errors_sent, 0u);
  EXPECT_EQ(total_drops(after), total_drops(before));
}

TEST_F(PipelineTest, NoErrorAboutAnIcmpError) {
  ASSERT_TRUE(h().establish(h().peer("site-a")));
  Bytes body(1480, 0);
  body[0] = 3;  // destination unreachable: an ICMP error itself
  body[1] = 1;
  const Bytes packet = with_df(ipv4_packet(kHqHostIp, kSiteAHost, 1, body));
  const dp::LcoreStats before = h().stats();
  h().send_from_hq(packet);
  h().run();
  EXPECT_TRUE(h().take_wan().empty());
  EXPECT_TRUE(h().take_lan().empty());
  const dp::LcoreStats after = h().stats();
  expect_drops_moved(before, after, dp::DropReason::kPacketTooBig, 1);
  EXPECT_EQ(after.icmp_errors_suppressed - before.icmp_errors_suppressed, 1u);
  EXPECT_EQ(after.icmp_errors_sent, 0u);
}

// The limit is a token bucket per worker; with no refill and 5 banked the
// count is exact whatever the clock does.
TEST_F(PipelineTest, IcmpErrorsAreRateLimited) {
  HarnessOptions o;
  o.icmp_error_limit = dp::IcmpErrorLimit{0, 5};
  rebuild(o);
  ASSERT_TRUE(h().establish(h().peer("site-a")));
  const dp::LcoreStats before = h().stats();
  constexpr unsigned kBurst = 20;
  for (unsigned i = 0; i < kBurst; ++i)
    h().send_from_hq(with_df(udp_of_size(kHqHostIp, kSiteAHost, 1500, i)));
  h().run();
  EXPECT_TRUE(h().take_wan().empty());
  const std::vector<Bytes> lan = h().take_lan();
  EXPECT_EQ(lan.size(), 5u);
  const dp::LcoreStats after = h().stats();
  expect_drops_moved(before, after, dp::DropReason::kPacketTooBig, kBurst);
  EXPECT_EQ(after.icmp_errors_sent - before.icmp_errors_sent, 5u);
  EXPECT_EQ(after.icmp_errors_rate_limited - before.icmp_errors_rate_limited, kBurst - 5);
}

// A site whose own tunnel MTU is larger (here 1440: a full 1500-byte WAN
// frame) sends to another site: the same rules, and the error goes back to
// the sending site through its tunnel.
TEST_F(PipelineTest, OversizePacketBetweenSites) {
  SimPeer& a = h().peer("site-a");
  SimPeer& b = h().peer("site-b");
  ASSERT_TRUE(h().establish(a));
  ASSERT_TRUE(h().establish(b));
  const dp::LcoreStats before = h().stats();

  const Bytes df = with_df(udp_of_size(kSiteAHost, kSiteBHost, 1440, 1));
  h().send(a, a.seal(df));
  h().run();
  std::vector<Bytes> wan = h().take_wan();
  ASSERT_EQ(wan.size(), 1u);
  const auto opened = a.open(wireguard_payload_to(wan[0], h().hub_wan(), a.outer()));
  ASSERT_TRUE(opened.has_value()) << "the error reaches site A through its tunnel";
  Bytes error = opened->plaintext;
  error.resize(get16(error, 2));  // without the padding
  expect_frag_needed(error, kHubLanIp, df);

  const Bytes no_df = udp_of_size(kSiteAHost, kSiteBHost, 1440, 2);
  h().send(a, a.seal(no_df));
  h().run();
  wan = h().take_wan();
  ASSERT_EQ(wan.size(), 2u);
  std::size_t total = 0;
  for (const Bytes& f : wan) {
    const auto piece = b.open(wireguard_payload_to(f, h().hub_wan(), b.outer()));
    ASSERT_TRUE(piece.has_value()) << "fragments go to site B";
    const auto inner = parse_ipv4(piece->plaintext);
    ASSERT_TRUE(inner.has_value());
    EXPECT_TRUE(inner->checksum_ok);
    total += inner->payload.size();
  }
  EXPECT_EQ(total, 1420u);
  EXPECT_TRUE(h().take_lan().empty());

  const dp::LcoreStats after = h().stats();
  expect_drops_moved(before, after, dp::DropReason::kPacketTooBig, 1);
  EXPECT_EQ(after.icmp_errors_sent - before.icmp_errors_sent, 1u);
  EXPECT_EQ(after.fragments_created - before.fragments_created, 2u);
}

// ---- IPv6: never fragmented by a router (RFC 8200 5)

const Ip6 kSiteAHost6 = ip6("fd00:1::5");

HarnessOptions ipv6_options(dp::IcmpErrorLimit limit = {}) {
  HarnessOptions o;
  o.ipv6 = true;
  PeerSpec a = site_a();
  a.allowed_ips.push_back("fd00:1::/64");
  o.peers = {a, site_b()};
  o.icmp_error_limit = limit;
  return o;
}

TEST_F(PipelineTest, Ipv6PacketFromLanGetsPacketTooBig) {
  rebuild(ipv6_options());
  ASSERT_TRUE(h().establish(h().peer("site-a")));
  const dp::LcoreStats before = h().stats();
  const Bytes packet =
      udp6_packet(kHqHostIp6, kSiteAHost6, 1000, 2000, pattern_payload(1, 1500 - 48));
  ASSERT_EQ(packet.size(), 1500u);
  h().send_from_hq6(packet);
  h().run();
  EXPECT_TRUE(h().take_wan().empty());
  const std::vector<Bytes> lan = h().take_lan();
  ASSERT_EQ(lan.size(), 1u);
  const auto pf = parse_frame(lan[0]);
  ASSERT_TRUE(pf.has_value());
  EXPECT_EQ(pf->dst, kHqHostMac);
  EXPECT_EQ(pf->ether_type, kEtherTypeIpv6);
  EXPECT_EQ(pf->src_ip6, kHubLanIp6);
  EXPECT_EQ(pf->dst_ip6, kHqHostIp6);
  EXPECT_EQ(pf->proto, 58);
  EXPECT_EQ(pf->icmp6_type, 2);
  EXPECT_TRUE(pf->ip_checksum_ok) << "ICMPv6 checksum over the pseudo-header";
  const Bytes& ip = pf->ip_packet;
  ASSERT_EQ(ip.size(), 1280u) << "RFC 4443 2.4 (c): up to the minimum MTU";
  EXPECT_EQ(ip[41], 0);
  EXPECT_EQ(get16(ip, 44), 0);
  EXPECT_EQ(get16(ip, 46), 1420);
  EXPECT_EQ(Bytes(ip.begin() + 48, ip.end()), Bytes(packet.begin(), packet.begin() + 1232));

  const dp::LcoreStats after = h().stats();
  expect_drops_moved(before, after, dp::DropReason::kPacketTooBig, 1);
  EXPECT_EQ(after.icmp_errors_sent - before.icmp_errors_sent, 1u);
}

}  // namespace
}  // namespace wghub::pipeline
