// The worker's fast path (dataplane/fast_path.hpp) against the general
// classifiers and builders of packet.hpp: on randomly damaged frames a
// matcher must accept exactly the frames the general classifier gives the
// same verdict for (IPv4 without options), and the word-built headers must
// be the bytes the general builders write.
#include <gtest/gtest.h>

#include <random>

#include "dataplane/fast_path.hpp"
#include "dataplane/neighbour.hpp"
#include "frames.hpp"
#include "hub_address.hpp"

namespace wghub::dp {
namespace {

using test::Bytes;

using test::hub;
using test::kHubIp;
using test::kListenPort;
using test::kPeerIp;

// A frame near the common case: one or two random byte changes in the
// headers (sometimes with the IP checksum repaired), a shorter length, a
// shorter first segment, or a fragment / another port / another address.
struct Damaged {
  Bytes frame;
  std::uint32_t contiguous;
  std::uint32_t len;
};

Damaged damage(Bytes b, std::mt19937& rng) {
  std::uint32_t len = static_cast<std::uint32_t>(b.size());
  std::uint32_t contiguous = len;
  // Readable bytes beyond len, like an mbuf's buffer; enough for a damaged
  // IHL of 15 (a 60-byte header at offset 14) that fix_ip_checksum sums.
  b.resize(std::max<std::size_t>(b.size(), 14 + 60));
  switch (rng() % 6) {
    case 0:  // untouched
      break;
    case 1:
    case 2: {  // 1-2 header bytes
      const unsigned edits = 1 + rng() % 2;
      for (unsigned i = 0; i < edits; ++i)
        b[rng() % std::min<std::size_t>(b.size(), 50)] ^= 1u << (rng() % 8);
      if (rng() % 2) test::fix_ip_checksum(b);
      break;
    }
    case 3:  // a field to an edge value, checksum repaired
      switch (rng() % 5) {
        case 0:
          test::put16(b, 16, static_cast<std::uint16_t>(rng() % (len + 8)));  // IP total length
          break;
        case 1:
          test::put16(b, 38, static_cast<std::uint16_t>(rng() % (len + 8)));  // UDP length
          break;
        case 2:
          test::put16(b, 20,
                      static_cast<std::uint16_t>(rng() % 2 ? 0x2000 : 0x0001));  // MF / offset
          break;
        case 3:
          b[14] = static_cast<std::uint8_t>(0x40 | rng() % 16);  // IHL
          break;
        default:
          b[23] = static_cast<std::uint8_t>(rng() % 2 ? 1 : 6);  // ICMP / TCP
          break;
      }
      test::fix_ip_checksum(b);
      break;
    case 4:  // truncated packet
      len = static_cast<std::uint32_t>(rng() % (len + 1));
      contiguous = len;
      break;
    default:  // headers split across segments
      contiguous = static_cast<std::uint32_t>(rng() % (len + 1));
      break;
  }
  return {std::move(b), contiguous, len};
}

IpChecksum random_checksum_verdict(std::mt19937& rng) {
  const unsigned r = rng() % 8;
  return r == 0 ? IpChecksum::kKnownGood : r == 1 ? IpChecksum::kKnownBad : IpChecksum::kVerify;
}

TEST(FastPath, WireGuardMatcherAgreesWithClassifyWan) {
  std::mt19937 rng(1);
  const LocalAddress us = hub();
  unsigned matched = 0, general = 0;
  for (int i = 0; i < 200000; ++i) {
    const Damaged d =
        damage(test::udp_frame(kPeerIp, kHubIp, 40000, kListenPort, 32 + rng() % 1400), rng);
    const IpChecksum verdict = random_checksum_verdict(rng);
    WireGuardDatagram fast{};
    const bool hit = match_wireguard_ipv4(d.frame.data(), d.contiguous, d.len, us, verdict, fast);
    const Classified c = classify_wan(d.frame.data(), d.contiguous, d.len, us, verdict);
    const bool common = c.kind == Classify::kWireGuard && c.ip_version == 4 &&
                        c.l4_offset == kEthernetHeaderLen + kIpv4MinHeaderLen;
    ASSERT_EQ(hit, common) << "frame " << i;
    if (!hit) continue;
    ++matched;
    EXPECT_EQ(c.payload_offset, kOuterHeadersLen);
    EXPECT_EQ(fast.payload_len, c.payload_len);
    EXPECT_EQ(fast.src_ip_be, c.src_ip_be);
    EXPECT_EQ(fast.src_port_be, c.src_port_be);
    general += c.kind == Classify::kWireGuard;
  }
  // Both verdicts were exercised, not just one.
  EXPECT_GT(matched, 20000u);
  EXPECT_LT(matched, 180000u);
  EXPECT_EQ(general, matched);
}

TEST(FastPath, ForwardMatcherAgreesWithClassifyLan) {
  std::mt19937 rng(2);
  LocalAddress lan = hub();
  lan.ip_be = test::ip(10, 0, 0, 1);
  lan.udp_port_be = 0;
  unsigned matched = 0;
  for (int i = 0; i < 200000; ++i) {
    const std::uint32_t dst = rng() % 8 == 0 ? lan.ip_be : test::ip(10, 1, 0, 9);
    const Damaged d =
        damage(test::udp_frame(test::ip(10, 0, 0, 5), dst, 1000, 2000, rng() % 1450), rng);
    const IpChecksum verdict = random_checksum_verdict(rng);
    std::uint32_t total = 0, dst_be = 0;
    const bool hit =
        match_forward_ipv4(d.frame.data(), d.contiguous, d.len, lan, verdict, total, dst_be);
    const Classified c = classify_lan(d.frame.data(), d.contiguous, d.len, lan, verdict);
    const bool common = c.kind == Classify::kForward && c.ip_version == 4 &&
                        c.l4_offset == kEthernetHeaderLen + kIpv4MinHeaderLen;
    ASSERT_EQ(hit, common) << "frame " << i;
    if (!hit) continue;
    ++matched;
    EXPECT_EQ(dst_be, c.dst_ip_be);
    EXPECT_EQ(total, test::get16(d.frame, 16));
  }
  EXPECT_GT(matched, 20000u);
  EXPECT_LT(matched, 180000u);
}

TEST(FastPath, Header20ChecksumMatchesRfc1071) {
  std::mt19937 rng(3);
  for (int i = 0; i < 100000; ++i) {
    std::uint8_t h[20];
    for (auto& b : h) b = static_cast<std::uint8_t>(rng());
    if (i % 2) {  // half of them valid
      h[10] = h[11] = 0;
      const std::uint16_t c = test::internet_checksum(h, 20);
      h[10] = static_cast<std::uint8_t>(c >> 8);
      h[11] = static_cast<std::uint8_t>(c);
    }
    ASSERT_EQ(ipv4_header20_checksum_ok(h), rte_raw_cksum(h, 20) == 0xffff) << i;
    ASSERT_EQ(ipv4_header20_checksum_ok(h), i % 2 == 1 || test::internet_checksum(h, 20) == 0);
  }
}

TEST(FastPath, OuterHeadersAreTheGeneralBuildersBytes) {
  std::mt19937 rng(4);
  LocalAddress us = hub();
  for (int i = 0; i < 20000; ++i) {
    rte_ether_addr dst{};
    for (auto& b : dst.addr_bytes) b = static_cast<std::uint8_t>(rng());
    us.ip_be = static_cast<std::uint32_t>(rng());
    us.udp_port_be = static_cast<std::uint16_t>(rng());
    const auto dst_ip = static_cast<std::uint32_t>(rng());
    const auto dst_port = static_cast<std::uint16_t>(rng());
    const auto id = static_cast<std::uint16_t>(rng());
    const std::uint32_t payload = 32 + rng() % 1500;

    std::uint8_t fast[kOuterHeadersLen], general[kOuterHeadersLen];
    write_outer_ipv4(fast, mac48(dst) | NeighbourTable::kFound, us, dst_ip, dst_port, id, payload);

    const auto udp_len = static_cast<std::uint16_t>(kUdpHeaderLen + payload);
    write_ethernet(general, us.mac, dst, kEtherTypeIpv4Be);
    Ipv4Options o;
    o.packet_id = id;
    write_ipv4(general + kEthernetHeaderLen, us.ip_be, dst_ip, kIpProtoUdp, udp_len, o);
    auto* udp = reinterpret_cast<rte_udp_hdr*>(general + kEthernetHeaderLen + kIpv4MinHeaderLen);
    udp->src_port = us.udp_port_be;
    udp->dst_port = dst_port;
    udp->dgram_len = rte_cpu_to_be_16(udp_len);
    udp->dgram_cksum = 0;
    ASSERT_EQ(0, std::memcmp(fast, general, sizeof fast)) << i;
    ASSERT_EQ(test::internet_checksum(fast + kEthernetHeaderLen, kIpv4MinHeaderLen), 0);
  }
}

TEST(FastPath, NeighbourWordIsTheLookedUpMac) {
  NeighbourTable table(NeighbourTiming::from_hz(1000), 64);
  const rte_ether_addr mac{{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}};
  const std::uint32_t ip = test::ip(10, 0, 0, 7);
  EXPECT_EQ(table.lookup_mac48(ip), 0u);
  ASSERT_TRUE(table.update(ip, mac, 1));
  const std::uint64_t word = table.lookup_mac48(ip);
  ASSERT_NE(word & NeighbourTable::kFound, 0u);
  EXPECT_EQ(word & 0xffffffffffffu, mac48(mac));

  std::uint8_t fast[kEthernetHeaderLen], general[kEthernetHeaderLen];
  const rte_ether_addr src{{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}};
  write_ethernet_fast(fast, word, src, kEtherTypeIpv4Be);
  write_ethernet(general, src, mac, kEtherTypeIpv4Be);
  EXPECT_EQ(0, std::memcmp(fast, general, sizeof fast));
  ASSERT_TRUE(table.remove(ip));
  EXPECT_EQ(table.lookup_mac48(ip), 0u);
}

}  // namespace
}  // namespace wghub::dp
