// IPv6 on the ports: the classifier (RFC 8200 header checks, RFC 4291
// address rules, what is for us, what is forwarded), Neighbor Discovery
// (RFC 4861: parsing, answering, learning, soliciting), ICMPv6 echo
// (RFC 4443) and the inner-packet helpers, on frames built byte by byte in
// frames.hpp.
#include <gtest/gtest.h>

#include "dataplane/icmp.hpp"
#include "dataplane/ndp.hpp"
#include "dataplane/packet.hpp"
#include "frames.hpp"

namespace wghub::dp {
namespace {

using test::Bytes;
using test::Ip6;

const Ip6 kHub6 = test::ip6(0xfd00, 0, 0x01);   // fd00::1
const Ip6 kHost6 = test::ip6(0xfd00, 0, 0x10);  // fd00::10
const Ip6 kSite6 = test::ip6(0xfd00, 1, 0x05);  // fd00:1::5
const Ip6 kLinkLocal = [] {
  Ip6 a = test::ip6(0xfe80, 0, 0x10);
  return a;
}();
constexpr std::uint16_t kListen = 51820;

rte_ether_addr mac(const test::Mac& m) {
  rte_ether_addr a;
  std::copy(m.begin(), m.end(), a.addr_bytes);
  return a;
}

LocalAddress us6(std::uint16_t listen = 0) {
  LocalAddress u;
  u.mac = mac(test::kHubMac);
  u.ip_be = test::ip(10, 0, 0, 1);
  u.udp_port_be = listen == 0 ? 0 : test::port_be(listen);
  u.has_ip6 = true;
  u.ip6 = kHub6;
  return u;
}

Classified lan(const Bytes& f, const LocalAddress& u = us6()) {
  return classify_lan(f.data(), static_cast<std::uint32_t>(f.size()),
                      static_cast<std::uint32_t>(f.size()), u);
}
Classified wan(const Bytes& f, const LocalAddress& u = us6(kListen)) {
  return classify_wan(f.data(), static_cast<std::uint32_t>(f.size()),
                      static_cast<std::uint32_t>(f.size()), u);
}

void expect(const Classified& c, Classify kind, DropReason reason = DropReason::kNone) {
  EXPECT_EQ(classify_name(c.kind), classify_name(kind));
  EXPECT_EQ(drop_reason_name(c.reason), drop_reason_name(reason));
}

Bytes ns_frame(const Ip6& src, const Ip6& target, std::uint8_t hop = 255, bool with_lla = true) {
  const Ip6 group = test::solicited_node(target);
  return test::ipv6_frame(src, group, 58,
                          test::ndp_body(135, 0, target, with_lla ? 1 : 0, test::kPeerMac),
                          test::multicast_mac(group), hop);
}

// ---------------------------------------------------------------- classify

TEST(Ipv6Classify, LanForwardsUnicastToOthers) {
  const Bytes f = test::ipv6_frame(kHost6, kSite6, 17, test::udp6_body(1000, 2000, 100));
  const Classified c = lan(f);
  expect(c, Classify::kForward);
  EXPECT_EQ(c.ip_version, 6);
  EXPECT_EQ(c.l3_offset, 14);
  EXPECT_EQ(0, std::memcmp(ipv6_dst(f.data(), c), kSite6.data(), 16));
  EXPECT_EQ(0, std::memcmp(ipv6_src(f.data(), c), kHost6.data(), 16));
  // Any protocol, extension headers included: a router does not look.
  expect(lan(test::ipv6_frame(kHost6, kSite6, 44, Bytes(16, 0))), Classify::kForward);
}

TEST(Ipv6Classify, WanForwardsNothing) {
  expect(wan(test::ipv6_frame(kHost6, kSite6, 17, test::udp6_body(1, 2, 10))), Classify::kNotForUs,
         DropReason::kNotForUs);
}

TEST(Ipv6Classify, PortWithoutIpv6KeepsItUnsupported) {
  LocalAddress u = us6();
  u.has_ip6 = false;
  expect(lan(test::ipv6_frame(kHost6, kSite6, 17, test::udp6_body(1, 2, 10)), u),
         Classify::kNotForUs, DropReason::kUnsupportedEthertype);
}

TEST(Ipv6Classify, HeaderChecks) {
  Bytes truncated = test::ipv6_frame(kHost6, kSite6, 17, test::udp6_body(1, 2, 10));
  truncated.resize(14 + 39);
  expect(lan(truncated), Classify::kMalformed, DropReason::kBadIpv6Header);
  Bytes v4 = test::ipv6_frame(kHost6, kSite6, 17, test::udp6_body(1, 2, 10));
  v4[14] = 0x40;
  expect(lan(v4), Classify::kMalformed, DropReason::kBadIpv6Header);
  Bytes too_long = test::ipv6_frame(kHost6, kSite6, 17, test::udp6_body(1, 2, 10));
  test::put16(too_long, 18, 19);  // one byte more than there is
  expect(lan(too_long), Classify::kMalformed, DropReason::kBadIpv6Length);
  Bytes jumbo = test::ipv6_frame(kHost6, kSite6, 17, test::udp6_body(1, 2, 10));
  test::put16(jumbo, 18, 0);
  expect(lan(jumbo), Classify::kMalformed, DropReason::kBadIpv6Length);
  Bytes padded = test::ipv6_frame(kHost6, kSite6, 17, test::udp6_body(1, 2, 10));
  padded.resize(padded.size() + 6, 0xee);  // trailing bytes are allowed
  expect(lan(padded), Classify::kForward);
  Ip6 multicast_src = kHost6;
  multicast_src[0] = 0xff;
  expect(lan(test::ipv6_frame(multicast_src, kSite6, 17, test::udp6_body(1, 2, 10))),
         Classify::kMalformed, DropReason::kBadIpv6Header);
}

TEST(Ipv6Classify, LinkLocalIsNeverForwarded) {
  expect(lan(test::ipv6_frame(kLinkLocal, kSite6, 17, test::udp6_body(1, 2, 10))),
         Classify::kNotForUs, DropReason::kIpv6LinkLocal);
  expect(lan(test::ipv6_frame(kHost6, kLinkLocal, 17, test::udp6_body(1, 2, 10))),
         Classify::kNotForUs, DropReason::kIpv6LinkLocal);
}

TEST(Ipv6Classify, OtherMacsAndMulticastGroupsAreNotOurs) {
  expect(lan(test::ipv6_frame(kHost6, kSite6, 17, test::udp6_body(1, 2, 10), test::kOtherMac)),
         Classify::kNotForUs, DropReason::kNotOurMac);
  // MLD report to ff02::16 (hop-by-hop header): a multicast group we are not in.
  const Ip6 mld = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16};
  expect(lan(test::ipv6_frame(kLinkLocal, mld, 0, Bytes(8, 0), test::multicast_mac(mld), 1)),
         Classify::kNotForUs, DropReason::kNotForUs);
  // A solicitation for another host's address.
  expect(lan(ns_frame(kHost6, test::ip6(0xfd00, 0, 0x22))), Classify::kNotForUs,
         DropReason::kNotForUs);
  // Unicast IPv6 in a multicast frame.
  expect(lan(test::ipv6_frame(kHost6, kHub6, 58, test::icmp6_echo_body(128, 8),
                              test::multicast_mac(test::solicited_node(kHub6)))),
         Classify::kNotForUs, DropReason::kNotOurMac);
}

TEST(Ipv6Classify, NdpAndEchoForUs) {
  const Classified ns = lan(ns_frame(kHost6, kHub6));
  expect(ns, Classify::kNdp);
  EXPECT_EQ(ns.l4_offset, 54);
  // A solicitation unicast to us (reachability confirmation) too.
  expect(lan(test::ipv6_frame(kHost6, kHub6, 58, test::ndp_body(135, 0, kHub6, 1, test::kPeerMac))),
         Classify::kNdp);
  const Classified echo = lan(test::ipv6_frame(kHost6, kHub6, 58, test::icmp6_echo_body(128, 56)));
  expect(echo, Classify::kIcmpEchoToUs);
  EXPECT_EQ(echo.ip_version, 6);
  EXPECT_EQ(echo.payload_len, 56);
  Bytes bad = test::ipv6_frame(kHost6, kHub6, 58, test::icmp6_echo_body(128, 56));
  bad.back() ^= 1;
  expect(lan(bad), Classify::kMalformed, DropReason::kBadIcmpChecksum);
  // An echo reply or other ICMPv6 to us is not served; UDP to the LAN address neither.
  expect(lan(test::ipv6_frame(kHost6, kHub6, 58, test::icmp6_echo_body(129, 8))),
         Classify::kOtherToUs, DropReason::kUnsupportedProtocol);
  expect(lan(test::ipv6_frame(kHost6, kHub6, 17, test::udp6_body(1, kListen, 40))),
         Classify::kOtherToUs, DropReason::kUdpPortClosed);
}

TEST(Ipv6Classify, WireGuardOverIpv6OnTheWan) {
  const Bytes f = test::ipv6_frame(kSite6, kHub6, 17, test::udp6_body(40001, kListen, 148));
  const Classified c = wan(f);
  expect(c, Classify::kWireGuard);
  EXPECT_EQ(c.ip_version, 6);
  EXPECT_EQ(c.payload_offset, 14 + 40 + 8);
  EXPECT_EQ(c.payload_len, 148);
  EXPECT_EQ(c.src_port_be, test::port_be(40001));
  EXPECT_EQ(c.src_ip_be, 0u);
  expect(wan(test::ipv6_frame(kSite6, kHub6, 17, test::udp6_body(40001, 53, 148))),
         Classify::kOtherToUs, DropReason::kUdpPortClosed);
  Bytes zero = test::ipv6_frame(kSite6, kHub6, 17, test::udp6_body(40001, kListen, 148),
                                test::kHubMac, 64, /*fix_checksum=*/false);
  expect(wan(zero), Classify::kMalformed, DropReason::kBadUdpChecksum);
  Bytes short_udp = test::ipv6_frame(kSite6, kHub6, 17, test::udp6_body(40001, kListen, 148));
  test::put16(short_udp, 54 + 4, 7);
  expect(wan(short_udp), Classify::kMalformed, DropReason::kBadUdpLength);
  expect(wan(test::ipv6_frame(kSite6, kHub6, 44, Bytes(16, 0))), Classify::kMalformed,
         DropReason::kIpFragment);
  // NDP on the WAN too.
  expect(wan(ns_frame(kSite6, kHub6)), Classify::kNdp);
}

// ---------------------------------------------------------------- NDP

NdpMessage parse(const Bytes& f) {
  const Classified c = lan(f);
  NdpMessage m;
  EXPECT_TRUE(parse_ndp(f.data(), static_cast<std::uint32_t>(f.size()), c, m));
  return m;
}

bool parses(const Bytes& f) {
  const Classified c = lan(f);
  NdpMessage m;
  return c.kind == Classify::kNdp &&
         parse_ndp(f.data(), static_cast<std::uint32_t>(f.size()), c, m);
}

TEST(Ndp, ParsesASolicitation) {
  const NdpMessage m = parse(ns_frame(kHost6, kHub6));
  EXPECT_EQ(m.type, 135);
  EXPECT_EQ(m.src, kHost6);
  EXPECT_EQ(m.target, kHub6);
  EXPECT_TRUE(m.has_lla);
  EXPECT_TRUE(
      rte_is_same_ether_addr(&m.lla, &static_cast<const rte_ether_addr&>(mac(test::kPeerMac))));
}

TEST(Ndp, Rfc4861ValidityChecks) {
  EXPECT_TRUE(parses(ns_frame(kHost6, kHub6)));
  EXPECT_FALSE(parses(ns_frame(kHost6, kHub6, 254))) << "hop limit must be 255";
  Bytes code = ns_frame(kHost6, kHub6);
  code[55] = 1;  // a valid checksum again, so only the code is wrong
  test::put16(code, 56, 0);
  {
    const Ip6 g = test::solicited_node(kHub6);
    Bytes body(code.begin() + 54, code.end());
    test::put16(code, 56, test::ipv6_upper_checksum(kHost6, g, 58, body.data(), body.size()));
  }
  EXPECT_FALSE(parses(code));
  // An option of length zero.
  Bytes zero_opt = test::ipv6_frame(kHost6, kHub6, 58, [] {
    Bytes b = test::ndp_body(135, 0, kHub6, 1, test::kPeerMac);
    b[25] = 0;
    return b;
  }());
  EXPECT_FALSE(parses(zero_opt));
  // DAD: unspecified source, solicited-node destination, no source LLA.
  const Ip6 unspecified{};
  EXPECT_TRUE(parses(ns_frame(unspecified, kHub6, 255, /*with_lla=*/false)));
  EXPECT_FALSE(parses(ns_frame(unspecified, kHub6, 255, /*with_lla=*/true)));
  // A solicited advertisement to a multicast group.
  const Ip6 all_nodes = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
  EXPECT_FALSE(parses(test::ipv6_frame(kHost6, all_nodes, 58,
                                       test::ndp_body(136, 0x40, kHost6, 2, test::kPeerMac),
                                       test::multicast_mac(all_nodes), 255)));
  EXPECT_TRUE(parses(test::ipv6_frame(kHost6, all_nodes, 58,
                                      test::ndp_body(136, 0x20, kHost6, 2, test::kPeerMac),
                                      test::multicast_mac(all_nodes), 255)));
}

TEST(Ndp, SolicitationForUsBecomesExactAdvertisement) {
  Bytes f = ns_frame(kHost6, kHub6);
  const NdpMessage m = parse(f);
  f.resize(kNdpFrameLen);
  ASSERT_EQ(answer_ns(f.data(), m, kHub6, mac(test::kHubMac)), kNdpFrameLen);
  // R, S and O set (RFC 4861 7.2.4), unicast back with our address option.
  const Bytes expected =
      test::ipv6_frame(kHub6, kHost6, 58, test::ndp_body(136, 0xe0, kHub6, 2, test::kHubMac),
                       test::kPeerMac, 255, true, test::kHubMac);
  EXPECT_EQ(f, expected);
}

TEST(Ndp, DadProbeForOurAddressIsDefendedToAllNodes) {
  const Ip6 unspecified{};
  Bytes f = ns_frame(unspecified, kHub6, 255, false);
  const NdpMessage m = parse(f);
  f.resize(kNdpFrameLen);
  ASSERT_EQ(answer_ns(f.data(), m, kHub6, mac(test::kHubMac)), kNdpFrameLen);
  const Ip6 all_nodes = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
  const Bytes expected =
      test::ipv6_frame(kHub6, all_nodes, 58, test::ndp_body(136, 0xa0, kHub6, 2, test::kHubMac),
                       test::multicast_mac(all_nodes), 255, true, test::kHubMac);
  EXPECT_EQ(f, expected);
}

TEST(Ndp, OnlySolicitationsForOurAddressAreAnswered) {
  Bytes f = ns_frame(kHost6, kHub6);
  NdpMessage m = parse(f);
  m.target = kHost6;
  const Bytes before = f;
  EXPECT_EQ(answer_ns(f.data(), m, kHub6, mac(test::kHubMac)), 0u);
  EXPECT_EQ(f, before);
  m = parse(f);
  m.type = 136;
  EXPECT_EQ(answer_ns(f.data(), m, kHub6, mac(test::kHubMac)), 0u);
}

TEST(Ndp, SolicitationWeSendIsExact) {
  Bytes f(kNdpFrameLen, 0xcc);
  ASSERT_EQ(write_ns(f.data(), mac(test::kHubMac), kHub6, kHost6), kNdpFrameLen);
  const Ip6 group = test::solicited_node(kHost6);
  const Bytes expected =
      test::ipv6_frame(kHub6, group, 58, test::ndp_body(135, 0, kHost6, 1, test::kHubMac),
                       test::multicast_mac(group), 255, true, test::kHubMac);
  EXPECT_EQ(f, expected);
}

TEST(Ndp, LearningFollowsRfc4861) {
  Neighbour6Table table(NeighbourTiming{300, 1, 3}, 64);
  const Ipv6Interface iface{kHub6, 64};
  // An NS for our address from a new host: added (7.2.3).
  EXPECT_EQ(ndp_merge(parse(ns_frame(kHost6, kHub6)), iface, table, 1), NdpLearn::kAdded);
  ASSERT_TRUE(table.lookup(kHost6).has_value());
  // An NS for someone else from an unknown host: nothing.
  const Ip6 other = test::ip6(0xfd00, 0, 0x20);
  NdpMessage for_other = parse(ns_frame(other, kHub6));
  for_other.target = kHost6;
  EXPECT_EQ(ndp_merge(for_other, iface, table, 2), NdpLearn::kIgnored);
  EXPECT_FALSE(table.contains(other));
  // From outside the subnet: never learned.
  EXPECT_EQ(ndp_merge(parse(ns_frame(kSite6, kHub6)), iface, table, 3), NdpLearn::kIgnored);
  // An unsolicited NA for an unknown host creates nothing (7.2.5); for a
  // host we asked for, it resolves the entry.
  const Bytes na =
      test::ipv6_frame(other, kHub6, 58, test::ndp_body(136, 0x60, other, 2, test::kOtherMac),
                       test::kHubMac, 255, true, test::kOtherMac);
  EXPECT_EQ(ndp_merge(parse(na), iface, table, 4), NdpLearn::kIgnored);
  EXPECT_TRUE(table.needs_request(other, 5));
  EXPECT_FALSE(table.lookup(other).has_value());
  EXPECT_EQ(ndp_merge(parse(na), iface, table, 6), NdpLearn::kUpdated);
  ASSERT_TRUE(table.lookup(other).has_value());
  EXPECT_EQ(table.lookup(other)->addr_bytes[5], 0x99);
  // Without a link-layer address option: nothing to learn.
  EXPECT_EQ(ndp_merge(parse(ns_frame(kHost6, kHub6, 255, false)), iface, table, 7),
            NdpLearn::kIgnored);
}

// ---------------------------------------------------------------- echo, inner

TEST(Icmp6Echo, RequestBecomesReplyWithValidChecksum) {
  Bytes f = test::ipv6_frame(kHost6, kHub6, 58, test::icmp6_echo_body(128, 56));
  const Classified c = lan(f);
  ASSERT_EQ(c.kind, Classify::kIcmpEchoToUs);
  const std::uint32_t len = icmp_echo_reply_in_place(f.data(), c, mac(test::kHubMac));
  EXPECT_EQ(len, f.size());
  const Bytes expected = test::ipv6_frame(kHub6, kHost6, 58, test::icmp6_echo_body(129, 56),
                                          test::kPeerMac, 64, true, test::kHubMac);
  EXPECT_EQ(f, expected);
}

TEST(Inner6, ParseAndHopLimit) {
  Bytes f = test::ipv6_frame(kSite6, kHost6, 17, test::udp6_body(1, 2, 30));
  Bytes packet(f.begin() + 14, f.end());
  Bytes plain = packet;
  plain.resize(((packet.size() + 15) / 16) * 16, 0);  // WireGuard padding
  InnerPacket inner;
  ASSERT_EQ(parse_inner(plain.data(), static_cast<std::uint32_t>(plain.size()), inner),
            DropReason::kNone);
  EXPECT_EQ(inner.version, 6);
  EXPECT_EQ(inner.length, packet.size());
  EXPECT_EQ(parse_inner(plain.data(), 39, inner), DropReason::kBadInnerIpv6);
  Bytes long_payload = plain;
  test::put16(long_payload, 4, static_cast<std::uint16_t>(plain.size() - 40 + 1));
  EXPECT_EQ(
      parse_inner(long_payload.data(), static_cast<std::uint32_t>(long_payload.size()), inner),
      DropReason::kBadInnerIpv6);
  Bytes zero = plain;
  test::put16(zero, 4, 0);
  EXPECT_EQ(parse_inner(zero.data(), static_cast<std::uint32_t>(zero.size()), inner),
            DropReason::kBadInnerIpv6);

  EXPECT_TRUE(ipv6_decrement_hop_limit(packet.data()));
  EXPECT_EQ(packet[7], 63);
  packet[7] = 1;
  EXPECT_FALSE(ipv6_decrement_hop_limit(packet.data()));
  EXPECT_EQ(packet[7], 1);
}

}  // namespace
}  // namespace wghub::dp
