// Data through the real data plane, packet by packet checked: 10k packets
// site -> HQ (decrypt, inner-source check, route, TTL, neighbour via ARP,
// Ethernet), 10k packets HQ -> site (route, encrypt with padding, counter,
// outer headers to the site's endpoint). Counters must add up exactly. Site
// to site through the hub: test_hub_and_spoke.cpp, for both families.
#include <set>

#include "tests/pipeline/pipeline_test.hpp"

namespace wghub::pipeline {
namespace {

constexpr unsigned kPackets = 10000;
// Injected per step: below the hub's 512 frames held for one neighbour, so
// the first chunk (which waits for ARP) loses nothing.
constexpr unsigned kChunk = 256;

// Inner payload sizes over the whole range a 1420-byte tunnel carries,
// including an empty UDP payload (a 28-byte packet).
std::size_t payload_len(unsigned i) {
  return (i * 131u) % (1420 - 28 + 1);
}

TEST_F(PipelineTest, TenThousandPacketsSiteToHq) {
  SimPeer& a = h().peer("site-a");
  ASSERT_TRUE(h().handshake(a));  // no keepalive: the first data packet confirms
  const dp::LcoreStats before = h().stats();

  std::vector<Bytes> sent;
  std::vector<Bytes> lan;
  for (unsigned i = 0; i < kPackets; ++i) {
    const std::uint32_t src = ip4(10, 1, 0, static_cast<std::uint8_t>(1 + i % 250));
    sent.push_back(inner_udp(src, kHqHostIp, i, payload_len(i)));
    h().send(a, a.seal(sent.back()));
    if (i % kChunk == kChunk - 1 || i + 1 == kPackets) {
      h().run();
      for (Bytes& f : h().take_lan()) lan.push_back(std::move(f));
    }
  }
  EXPECT_TRUE(h().take_wan().empty());
  EXPECT_EQ(h().lan_arp_requests(), std::vector<std::uint32_t>{kHqHostIp});

  ASSERT_EQ(lan.size(), kPackets);
  for (unsigned i = 0; i < kPackets; ++i) {
    const auto pf = parse_frame(lan[i]);
    ASSERT_TRUE(pf.has_value()) << "packet " << i;
    ASSERT_EQ(pf->dst, kHqHostMac) << "packet " << i;
    ASSERT_EQ(pf->src, h().hub_lan_mac()) << "packet " << i;
    ASSERT_TRUE(pf->ip_checksum_ok) << "packet " << i;
    ASSERT_EQ(pf->ttl, 63) << "packet " << i;
    // Everything but TTL and checksum exactly as the site sent it.
    Bytes expected = sent[i];
    Bytes got = pf->ip_packet;
    ASSERT_EQ(got.size(), expected.size()) << "packet " << i;
    got[8] = expected[8];
    got[10] = expected[10];
    got[11] = expected[11];
    ASSERT_EQ(got, expected) << "packet " << i;
  }

  const dp::LcoreStats after = h().stats();
  EXPECT_EQ(after.decrypted_packets - before.decrypted_packets, kPackets);
  EXPECT_EQ(after.rx_packets[dp::kStatsPortWan] - before.rx_packets[dp::kStatsPortWan], kPackets);
  EXPECT_EQ(after.rx_packets[dp::kStatsPortLan] - before.rx_packets[dp::kStatsPortLan], 1u)
      << "the HQ host's ARP reply";
  // The first chunk waited for the HQ host's MAC on the control thread; the
  // rest went straight out of the worker.
  EXPECT_GT(after.tx_packets[dp::kStatsPortLan], 0u);
  EXPECT_LT(after.tx_packets[dp::kStatsPortLan], kPackets);
  EXPECT_EQ(after.encrypted_packets, 0u);
  EXPECT_EQ(total_drops(after), 0u);
  EXPECT_NE(h().device_peer("site-a").current, nullptr);
}

TEST_F(PipelineTest, TenThousandPacketsHqToSite) {
  SimPeer& a = h().peer("site-a");
  ASSERT_TRUE(h().establish(a));
  const dp::LcoreStats before = h().stats();
  const std::size_t arp_before = h().wan_arp_requests().size();

  std::vector<Bytes> sent;
  std::vector<Bytes> wan;
  for (unsigned i = 0; i < kPackets; ++i) {
    const std::uint32_t dst = ip4(10, 1, 0, static_cast<std::uint8_t>(1 + i % 250));
    sent.push_back(inner_udp(kHqHostIp, dst, i, payload_len(i)));
    h().send_from_hq(sent.back());
    if (i % kChunk == kChunk - 1 || i + 1 == kPackets) {
      h().run();
      for (Bytes& f : h().take_wan()) wan.push_back(std::move(f));
    }
  }
  EXPECT_TRUE(h().take_lan().empty());
  EXPECT_EQ(h().wan_arp_requests().size(), arp_before) << "the site's MAC is known";

  ASSERT_EQ(wan.size(), kPackets);
  std::uint64_t last_counter = 0;
  for (unsigned i = 0; i < kPackets; ++i) {
    const Bytes msg = wireguard_payload_to(wan[i], h().hub_wan(), a.outer());
    const auto opened = a.open(msg);
    ASSERT_TRUE(opened.has_value()) << "packet " << i << " does not decrypt (or is a replay)";
    if (i > 0) {
      ASSERT_GT(opened->counter, last_counter) << "packet " << i;
    }
    last_counter = opened->counter;
    // Whitepaper 5.4.6: zero padding to a multiple of 16, within the MTU.
    const Bytes& plain = opened->plaintext;
    const std::size_t want = dp::padded_length(sent[i].size(), 1420);
    ASSERT_EQ(plain.size(), want) << "packet " << i << " of " << sent[i].size() << " bytes";
    for (std::size_t b = sent[i].size(); b < plain.size(); ++b)
      ASSERT_EQ(plain[b], 0) << "padding byte " << b << " of packet " << i;
    const auto inner = parse_ipv4(plain);
    ASSERT_TRUE(inner.has_value());
    ASSERT_EQ(inner->ttl, 63);
    ASSERT_TRUE(inner->checksum_ok);
    Bytes got(plain.begin(), plain.begin() + inner->total_length);
    Bytes expected = sent[i];
    got[8] = expected[8];
    got[10] = expected[10];
    got[11] = expected[11];
    ASSERT_EQ(got, expected) << "packet " << i;
  }
  EXPECT_EQ(last_counter, kPackets - 1) << "counters from 0, none skipped";

  const dp::LcoreStats after = h().stats();
  EXPECT_EQ(after.encrypted_packets - before.encrypted_packets, kPackets);
  EXPECT_EQ(after.tx_packets[dp::kStatsPortWan] - before.tx_packets[dp::kStatsPortWan], kPackets);
  EXPECT_EQ(after.rx_packets[dp::kStatsPortLan] - before.rx_packets[dp::kStatsPortLan], kPackets);
  EXPECT_EQ(after.decrypted_packets, before.decrypted_packets);
  EXPECT_EQ(total_drops(after), 0u);
}

// Ethernet pads a short frame to 60 bytes; that trailer is not part of the
// IPv4 packet and must not be tunnelled (a kernel peer would only ever see
// the IP packet: its tun device never gets the Ethernet padding).
// Regression (found by this tier, fixed): Worker::poll_once (LAN rx, Classify::kForward) strips the
// Ethernet header (rte_pktmbuf_adj) but never trims the mbuf to the IPv4 total length, so a 28-byte
// packet travels as 46 bytes of plaintext (padded to 48 instead of 32) carrying the frame's padding
// bytes to the site. Fix: after rte_pktmbuf_adj, rte_pktmbuf_trim(m, m->pkt_len - ip total_length)
// (classify_lan has already checked total_length <= frame length - 14).
TEST_F(PipelineTest, ShortLanFrameIsTunnelledWithoutEthernetPadding) {
  SimPeer& a = h().peer("site-a");
  ASSERT_TRUE(h().establish(a));
  const Bytes packet = inner_udp(kHqHostIp, ip4(10, 1, 0, 5), 1, 0);  // 28 bytes
  Bytes frame = ethernet_frame(h().hub_lan_mac(), kHqHostMac, kEtherTypeIpv4, packet);
  ASSERT_EQ(frame.size(), 60u);
  std::fill(frame.begin() + 14 + 28, frame.end(), 0xee);  // visible trailer
  h().inject_lan(frame);
  h().run();
  const std::vector<Bytes> wan = h().take_wan();
  ASSERT_EQ(wan.size(), 1u);
  const auto opened = a.open(wireguard_payload_to(wan[0], h().hub_wan(), a.outer()));
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->plaintext.size(), 32u);
  for (std::size_t b = packet.size(); b < opened->plaintext.size(); ++b)
    EXPECT_EQ(opened->plaintext[b], 0) << "byte " << b << " of the padding";
}

}  // namespace
}  // namespace wghub::pipeline
