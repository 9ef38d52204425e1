// The WAN/LAN classifier against a table of crafted frames, the RFC 1071
// checksum example, inner-packet parsing and the RFC 1624 TTL update.
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <set>
#include <string>

#include "dataplane/packet.hpp"
#include "frames.hpp"
#include "hub_address.hpp"

namespace wghub::dp {
namespace {

using test::Bytes;

using test::hub;
using test::kHubIp;
using test::kListenPort;
using test::kPeerIp;

Bytes good_wireguard(std::size_t payload = 148) {
  return test::udp_frame(kPeerIp, kHubIp, 40000, kListenPort, payload);
}

struct Case {
  std::string name;
  std::function<Bytes()> frame;
  Classify kind;
  DropReason reason;
};

class ClassifyWan : public ::testing::TestWithParam<Case> {};

TEST_P(ClassifyWan, Verdict) {
  const Case& c = GetParam();
  const Bytes frame = c.frame();
  const Classified r = classify_wan(frame.data(), static_cast<std::uint32_t>(frame.size()),
                                    static_cast<std::uint32_t>(frame.size()), hub());
  EXPECT_EQ(classify_name(r.kind), classify_name(c.kind));
  EXPECT_EQ(drop_reason_name(r.reason), drop_reason_name(c.reason));
}

Bytes mutate(Bytes b, const std::function<void(Bytes&)>& f, bool fix_checksum = true) {
  f(b);
  if (fix_checksum) test::fix_ip_checksum(b);
  return b;
}

const Case kCases[] = {
    {"good_wireguard", [] { return good_wireguard(); }, Classify::kWireGuard, DropReason::kNone},
    {"keepalive_padded_to_60",
     [] {
       Bytes b = good_wireguard(4);
       b.resize(60, 0);  // Ethernet minimum: the IP total length stays 32
       return b;
     },
     Classify::kWireGuard, DropReason::kNone},
    {"ip_options",
     [] { return test::udp_frame(kPeerIp, kHubIp, 40000, kListenPort, 32, test::kHubMac, 4); },
     Classify::kWireGuard, DropReason::kNone},
    {"wrong_udp_port", [] { return test::udp_frame(kPeerIp, kHubIp, 40000, 51821, 148); },
     Classify::kOtherToUs, DropReason::kUdpPortClosed},
    {"wrong_dst_ip",
     [] { return test::udp_frame(kPeerIp, test::ip(198, 51, 100, 2), 40000, kListenPort, 148); },
     Classify::kNotForUs, DropReason::kNotForUs},
    {"other_dst_mac",
     [] { return test::udp_frame(kPeerIp, kHubIp, 40000, kListenPort, 148, test::kOtherMac); },
     Classify::kNotForUs, DropReason::kNotOurMac},
    {"broadcast_mac_ipv4",
     [] { return test::udp_frame(kPeerIp, kHubIp, 40000, kListenPort, 148, test::kBroadcast); },
     Classify::kNotForUs, DropReason::kNotOurMac},
    {"more_fragments",
     [] { return mutate(good_wireguard(), [](Bytes& b) { test::put16(b, 20, 0x2000); }); },
     Classify::kMalformed, DropReason::kIpFragment},
    {"fragment_offset",
     [] { return mutate(good_wireguard(), [](Bytes& b) { test::put16(b, 20, 0x0010); }); },
     Classify::kMalformed, DropReason::kIpFragment},
    {"dont_fragment_is_fine",
     [] { return mutate(good_wireguard(), [](Bytes& b) { test::put16(b, 20, 0x4000); }); },
     Classify::kWireGuard, DropReason::kNone},
    {"ihl_4",
     [] {
       return mutate(
           good_wireguard(), [](Bytes& b) { b[14] = 0x44; }, false);
     },
     Classify::kMalformed, DropReason::kBadIpHeader},
    {"version_6_in_ipv4", [] { return mutate(good_wireguard(), [](Bytes& b) { b[14] = 0x65; }); },
     Classify::kMalformed, DropReason::kBadIpHeader},
    {"ihl_beyond_frame",
     [] {
       Bytes b = good_wireguard(0);
       b.resize(14 + 20);  // IHL 15 would need 60 bytes of header
       b[14] = 0x4f;
       return b;
     },
     Classify::kMalformed, DropReason::kBadIpHeader},
    {"total_length_beyond_frame",
     [] { return mutate(good_wireguard(), [](Bytes& b) { test::put16(b, 16, 20 + 8 + 149); }); },
     Classify::kMalformed, DropReason::kBadIpLength},
    {"total_length_below_ihl",
     [] { return mutate(good_wireguard(), [](Bytes& b) { test::put16(b, 16, 19); }); },
     Classify::kMalformed, DropReason::kBadIpLength},
    {"truncated_ethernet", [] { return Bytes(10, 0xab); }, Classify::kMalformed,
     DropReason::kBadEthernet},
    {"truncated_ip",
     [] {
       Bytes b = good_wireguard();
       b.resize(14 + 12);
       return b;
     },
     Classify::kMalformed, DropReason::kBadIpHeader},
    {"truncated_udp",
     [] {
       Bytes b = good_wireguard(0);
       b.resize(14 + 20 + 4);
       test::put16(b, 16, 24);
       test::fix_ip_checksum(b);
       return b;
     },
     Classify::kMalformed, DropReason::kBadUdpLength},
    {"udp_length_beyond_ip",
     [] { return mutate(good_wireguard(), [](Bytes& b) { test::put16(b, 38, 8 + 149); }); },
     Classify::kMalformed, DropReason::kBadUdpLength},
    {"udp_length_below_8",
     [] { return mutate(good_wireguard(), [](Bytes& b) { test::put16(b, 38, 7); }); },
     Classify::kMalformed, DropReason::kBadUdpLength},
    {"bad_ip_checksum",
     [] {
       return mutate(
           good_wireguard(), [](Bytes& b) { b[25] ^= 0x01; }, false);
     },
     Classify::kMalformed, DropReason::kBadIpChecksum},
    {"arp_request_broadcast",
     [] { return test::arp_frame(1, test::kBroadcast, test::kPeerMac, kPeerIp, {}, kHubIp); },
     Classify::kArp, DropReason::kNone},
    {"arp_reply_to_other_mac",
     [] {
       return test::arp_frame(2, test::kOtherMac, test::kPeerMac, kPeerIp, test::kOtherMac, kHubIp);
     },
     Classify::kNotForUs, DropReason::kNotOurMac},
    {"icmp_echo_to_us", [] { return test::icmp_frame(kPeerIp, kHubIp, 8, 56); },
     Classify::kIcmpEchoToUs, DropReason::kNone},
    {"icmp_echo_bad_checksum",
     [] { return mutate(test::icmp_frame(kPeerIp, kHubIp, 8, 56), [](Bytes& b) { b[50] ^= 1; }); },
     Classify::kMalformed, DropReason::kBadIcmpChecksum},
    {"icmp_echo_reply_to_us", [] { return test::icmp_frame(kPeerIp, kHubIp, 0, 56); },
     Classify::kOtherToUs, DropReason::kUnsupportedProtocol},
    {"icmp_truncated",
     [] {
       return mutate(test::icmp_frame(kPeerIp, kHubIp, 8, 0), [](Bytes& b) {
         b.resize(14 + 20 + 4);
         test::put16(b, 16, 24);
       });
     },
     Classify::kMalformed, DropReason::kBadIcmp},
    {"icmp_echo_not_to_us",
     [] { return test::icmp_frame(kPeerIp, test::ip(198, 51, 100, 9), 8, 56); },
     Classify::kNotForUs, DropReason::kNotForUs},
    {"tcp_to_us", [] { return mutate(good_wireguard(), [](Bytes& b) { b[23] = 6; }); },
     Classify::kOtherToUs, DropReason::kUnsupportedProtocol},
    {"ipv6_ethertype",
     [] {
       Bytes b = good_wireguard();
       test::put16(b, 12, 0x86dd);
       return b;
     },
     Classify::kNotForUs, DropReason::kUnsupportedEthertype},
    {"vlan_tagged",
     [] {
       Bytes b = good_wireguard();
       test::put16(b, 12, 0x8100);
       return b;
     },
     Classify::kNotForUs, DropReason::kUnsupportedEthertype},
};

INSTANTIATE_TEST_SUITE_P(Frames, ClassifyWan, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return info.param.name; });

TEST(ClassifyWanDetail, WireGuardOffsetsAndEndpoint) {
  const Bytes frame = good_wireguard(148);
  const Classified r = classify_wan(frame.data(), static_cast<std::uint32_t>(frame.size()),
                                    static_cast<std::uint32_t>(frame.size()), hub());
  ASSERT_EQ(r.kind, Classify::kWireGuard);
  EXPECT_EQ(r.l3_offset, 14);
  EXPECT_EQ(r.l4_offset, 34);
  EXPECT_EQ(r.payload_offset, 42);
  EXPECT_EQ(r.payload_len, 148);
  EXPECT_EQ(r.src_ip_be, kPeerIp);
  EXPECT_EQ(r.src_port_be, test::port_be(40000));
  EXPECT_EQ(frame[r.payload_offset], 1);  // the message type byte

  const Bytes with_options =
      test::udp_frame(kPeerIp, kHubIp, 40000, kListenPort, 32, test::kHubMac, 8);
  const Classified o =
      classify_wan(with_options.data(), with_options.size(), with_options.size(), hub());
  ASSERT_EQ(o.kind, Classify::kWireGuard);
  EXPECT_EQ(o.payload_offset, 14 + 28 + 8);
  EXPECT_EQ(o.payload_len, 32);
}

TEST(ClassifyWanDetail, NicChecksumVerdictIsTrusted) {
  Bytes frame = good_wireguard();
  frame[25] ^= 0x01;  // wrong, but the NIC says good: no software check
  EXPECT_EQ(
      classify_wan(frame.data(), frame.size(), frame.size(), hub(), IpChecksum::kKnownGood).kind,
      Classify::kWireGuard);
  const Bytes good = good_wireguard();
  EXPECT_EQ(
      classify_wan(good.data(), good.size(), good.size(), hub(), IpChecksum::kKnownBad).reason,
      DropReason::kBadIpChecksum);
}

TEST(ClassifyWanDetail, HeadersMustBeInTheFirstSegment) {
  const Bytes frame = good_wireguard();
  // 30 contiguous bytes of a longer packet: the IPv4 header is split.
  EXPECT_EQ(classify_wan(frame.data(), 30, frame.size(), hub()).reason, DropReason::kBadIpHeader);
  // Headers contiguous, payload in later segments: fine.
  EXPECT_EQ(classify_wan(frame.data(), 42, frame.size(), hub()).kind, Classify::kWireGuard);
}

TEST(ClassifyLan, ForwardsOthersAnswersOurs) {
  LocalAddress lan = hub();
  lan.ip_be = test::ip(10, 0, 0, 1);
  lan.udp_port_be = 0;
  // A host on the LAN sending to a site's subnet: forward, fragments too.
  Bytes frame = test::udp_frame(test::ip(10, 0, 0, 5), test::ip(10, 1, 0, 9), 1000, 2000, 100);
  Classified r = classify_lan(frame.data(), frame.size(), frame.size(), lan);
  EXPECT_EQ(r.kind, Classify::kForward);
  EXPECT_EQ(r.dst_ip_be, test::ip(10, 1, 0, 9));
  test::put16(frame, 20, 0x2000);
  test::fix_ip_checksum(frame);
  EXPECT_EQ(classify_lan(frame.data(), frame.size(), frame.size(), lan).kind, Classify::kForward);

  const Bytes echo = test::icmp_frame(test::ip(10, 0, 0, 5), lan.ip_be, 8, 8);
  EXPECT_EQ(classify_lan(echo.data(), echo.size(), echo.size(), lan).kind, Classify::kIcmpEchoToUs);
  const Bytes udp_to_us = test::udp_frame(test::ip(10, 0, 0, 5), lan.ip_be, 1, kListenPort, 8);
  const Classified u = classify_lan(udp_to_us.data(), udp_to_us.size(), udp_to_us.size(), lan);
  EXPECT_EQ(u.kind, Classify::kOtherToUs);
  EXPECT_EQ(u.reason, DropReason::kUdpPortClosed);
  // Traffic between two other LAN hosts seen in promiscuous mode.
  const Bytes transit =
      test::udp_frame(test::ip(10, 0, 0, 5), test::ip(10, 0, 0, 6), 1, 2, 8, test::kOtherMac);
  EXPECT_EQ(classify_lan(transit.data(), transit.size(), transit.size(), lan).reason,
            DropReason::kNotOurMac);
}

// RFC 1071 section 3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2, whose
// complement 220d is the checksum. Compared as bytes: byte-order independent.
TEST(Checksum, Rfc1071Example) {
  const std::uint8_t data[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  const std::uint16_t sum = rte_raw_cksum(data, sizeof data);
  std::uint8_t sum_bytes[2];
  std::memcpy(sum_bytes, &sum, 2);
  EXPECT_EQ(sum_bytes[0], 0xdd);
  EXPECT_EQ(sum_bytes[1], 0xf2);
  EXPECT_EQ(test::internet_checksum(data, sizeof data), 0x220d);
}

// A well-known IPv4 header: 4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7.
TEST(Checksum, WriteIpv4MatchesKnownHeader) {
  std::uint8_t header[20];
  Ipv4Options o;
  o.dont_fragment = true;
  o.ttl = 64;
  write_ipv4(header, ipv4_be(192, 168, 0, 1), ipv4_be(192, 168, 0, 199), kIpProtoUdp, 0x73 - 20, o);
  const std::uint8_t expected[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                     0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(0, std::memcmp(header, expected, sizeof header));
  EXPECT_TRUE(ipv4_checksum_ok(header));
}

TEST(Inner, Ipv4LengthAndAddressesWithPadding) {
  Bytes frame = test::udp_frame(test::ip(10, 1, 0, 2), test::ip(10, 0, 0, 5), 1, 2, 13);
  Bytes plain(frame.begin() + 14, frame.end());  // a 41-byte IPv4 packet
  plain.resize(48, 0);                           // padded to a multiple of 16
  InnerPacket in;
  ASSERT_EQ(parse_inner(plain.data(), plain.size(), in), DropReason::kNone);
  EXPECT_EQ(in.version, 4);
  EXPECT_EQ(in.length, 41);
  EXPECT_EQ(in.src_be, test::ip(10, 1, 0, 2));
  EXPECT_EQ(in.dst_be, test::ip(10, 0, 0, 5));

  EXPECT_EQ(parse_inner(plain.data(), 40, in), DropReason::kBadInnerPacket);  // cut short
  EXPECT_EQ(parse_inner(plain.data(), 19, in), DropReason::kBadInnerPacket);
  Bytes bad_ihl = plain;
  bad_ihl[0] = 0x44;
  EXPECT_EQ(parse_inner(bad_ihl.data(), bad_ihl.size(), in), DropReason::kBadInnerPacket);
  Bytes v5 = plain;
  v5[0] = 0x55;
  EXPECT_EQ(parse_inner(v5.data(), v5.size(), in), DropReason::kBadInnerPacket);
  Bytes bad_checksum = plain;
  bad_checksum[10] ^= 0x01;
  EXPECT_EQ(parse_inner(bad_checksum.data(), bad_checksum.size(), in), DropReason::kBadInnerPacket);
}

TEST(Inner, Ipv6Length) {
  Bytes v6(64, 0);
  v6[0] = 0x60;
  v6[5] = 8;  // payload length 8
  InnerPacket in;
  ASSERT_EQ(parse_inner(v6.data(), v6.size(), in), DropReason::kNone);
  EXPECT_EQ(in.version, 6);
  EXPECT_EQ(in.length, 48);
  v6[5] = 40;
  EXPECT_EQ(parse_inner(v6.data(), v6.size(), in), DropReason::kBadInnerIpv6);
}

// RFC 1624: the incremental update must agree with a full recomputation for
// every TTL, and the result must verify.
TEST(Ttl, DecrementKeepsChecksumValid) {
  std::mt19937 rng(1624);
  for (int ttl = 2; ttl <= 255; ++ttl) {
    Bytes frame = test::udp_frame(rng(), rng(), 1, 2, 0);
    frame[22] = static_cast<std::uint8_t>(ttl);
    frame[15] = static_cast<std::uint8_t>(rng());  // vary the sum
    test::fix_ip_checksum(frame);
    ASSERT_TRUE(ipv4_decrement_ttl(&frame[14]));
    EXPECT_EQ(frame[22], ttl - 1);
    EXPECT_TRUE(ipv4_checksum_ok(&frame[14])) << "ttl " << ttl;
    EXPECT_EQ(test::internet_checksum(&frame[14], 20), 0) << "ttl " << ttl;
  }
  Bytes last = test::udp_frame(1, 2, 1, 2, 0);
  last[22] = 1;
  test::fix_ip_checksum(last);
  const Bytes before = last;
  EXPECT_FALSE(ipv4_decrement_ttl(&last[14]));
  EXPECT_EQ(last, before);
}

TEST(Ttl, ChecksumAdjustRfc1624Example) {
  // RFC 1624 section 3's example: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285.
  // Recomputation gives 0x0000; so must equation 3 (RFC 1141's gave 0xFFFF).
  EXPECT_EQ(checksum_adjust(0xdd2f, 0x5555, 0x3285), 0x0000);
  // And any other change agrees with recomputing from scratch.
  std::mt19937 rng(1141);
  for (int i = 0; i < 10000; ++i) {
    const std::uint16_t rest = static_cast<std::uint16_t>(rng());
    const std::uint16_t m = static_cast<std::uint16_t>(rng());
    const std::uint16_t m2 = static_cast<std::uint16_t>(rng());
    auto full = [&](std::uint16_t word) {
      std::uint32_t sum = std::uint32_t{rest} + word;
      sum = (sum & 0xffff) + (sum >> 16);
      return static_cast<std::uint16_t>(~sum);
    };
    const std::uint16_t adjusted = checksum_adjust(full(m), m, m2);
    // Equal as one's complement numbers (0x0000 and 0xFFFF are both zero).
    const std::uint16_t expected = full(m2);
    const bool both_zero =
        (adjusted == 0 || adjusted == 0xffff) && (expected == 0 || expected == 0xffff);
    EXPECT_TRUE(adjusted == expected || both_zero) << rest << " " << m << " " << m2;
  }
}

TEST(DropReasons, NamesAreUniqueAndComplete) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    const std::string_view n = drop_reason_name(static_cast<DropReason>(i));
    EXPECT_FALSE(n.empty());
    EXPECT_TRUE(names.insert(n).second) << n;
  }
  EXPECT_EQ(drop_reason_name(DropReason::kNone), "none");
  EXPECT_EQ(drop_reason_name(DropReason::kReplay), "replay");
  EXPECT_EQ(drop_reason_name(static_cast<DropReason>(kDropReasonCount)), "invalid");
}

}  // namespace
}  // namespace wghub::dp
