// ARP (RFC 826) answers, learning and requests; ICMP echo (RFC 792) replies.
#include <gtest/gtest.h>

#include "dataplane/arp.hpp"
#include "dataplane/icmp.hpp"
#include "dataplane/packet.hpp"
#include "frames.hpp"

namespace wghub::dp {
namespace {

using test::Bytes;

const std::uint32_t kHubIp = test::ip(10, 0, 0, 1);
const std::uint32_t kHostIp = test::ip(10, 0, 0, 5);

rte_ether_addr mac(const test::Mac& m) {
  rte_ether_addr a;
  std::copy(m.begin(), m.end(), a.addr_bytes);
  return a;
}

Ipv4Interface lan() {
  return Ipv4Interface{kHubIp, test::ip(255, 255, 255, 0)};
}

TEST(Arp, RequestForUsBecomesExactReply) {
  Bytes frame = test::arp_frame(1, test::kBroadcast, test::kPeerMac, kHostIp, {}, kHubIp);
  ASSERT_TRUE(answer_arp_in_place(frame.data(), frame.size(), kHubIp, mac(test::kHubMac)));
  const Bytes expected =
      test::arp_frame(2, test::kPeerMac, test::kHubMac, kHubIp, test::kPeerMac, kHostIp);
  EXPECT_EQ(frame, expected);
}

TEST(Arp, PaddedRequestKeepsItsLength) {
  Bytes frame = test::arp_frame(1, test::kBroadcast, test::kPeerMac, kHostIp, {}, kHubIp);
  frame.resize(60, 0);
  ASSERT_TRUE(answer_arp_in_place(frame.data(), frame.size(), kHubIp, mac(test::kHubMac)));
  EXPECT_EQ(frame.size(), 60u);
  EXPECT_EQ(test::get16(frame, 20), 2);
}

TEST(Arp, OnlyRequestsForOurAddressAreAnswered) {
  const auto try_answer = [](Bytes frame) {
    const Bytes before = frame;
    const bool answered =
        answer_arp_in_place(frame.data(), frame.size(), kHubIp, mac(test::kHubMac));
    EXPECT_EQ(frame, before) << "an unanswered frame must stay untouched";
    return answered;
  };
  EXPECT_FALSE(try_answer(  // for another host
      test::arp_frame(1, test::kBroadcast, test::kPeerMac, kHostIp, {}, test::ip(10, 0, 0, 9))));
  EXPECT_FALSE(try_answer(  // a reply, not a request
      test::arp_frame(2, test::kHubMac, test::kPeerMac, kHostIp, test::kHubMac, kHubIp)));
  Bytes truncated = test::arp_frame(1, test::kBroadcast, test::kPeerMac, kHostIp, {}, kHubIp);
  truncated.resize(41);
  EXPECT_FALSE(try_answer(truncated));
  Bytes ipv6_arp = test::arp_frame(1, test::kBroadcast, test::kPeerMac, kHostIp, {}, kHubIp);
  test::put16(ipv6_arp, 16, 0x86dd);
  EXPECT_FALSE(try_answer(ipv6_arp));
  Bytes long_hw = test::arp_frame(1, test::kBroadcast, test::kPeerMac, kHostIp, {}, kHubIp);
  long_hw[18] = 8;
  EXPECT_FALSE(try_answer(long_hw));
  EXPECT_FALSE(try_answer(  // a multicast sender MAC is never answered
      test::arp_frame(1, test::kBroadcast, test::kBroadcast, kHostIp, {}, kHubIp)));
}

TEST(Arp, ParseReadsAllFields) {
  const Bytes frame =
      test::arp_frame(2, test::kHubMac, test::kPeerMac, kHostIp, test::kHubMac, kHubIp);
  ArpMessage msg;
  ASSERT_TRUE(parse_arp(frame.data(), frame.size(), msg));
  EXPECT_EQ(msg.op, 2);
  EXPECT_EQ(msg.sender_ip_be, kHostIp);
  EXPECT_EQ(msg.target_ip_be, kHubIp);
  EXPECT_EQ(0, std::memcmp(msg.sender_mac.addr_bytes, test::kPeerMac.data(), 6));
  EXPECT_EQ(0, std::memcmp(msg.target_mac.addr_bytes, test::kHubMac.data(), 6));
}

TEST(Arp, MergeFollowsRfc826) {
  NeighbourTable table(NeighbourTiming{100, 10, 3}, 64);
  ArpMessage msg;
  // A request between two other hosts: not for us, sender unknown: ignored.
  Bytes other =
      test::arp_frame(1, test::kBroadcast, test::kPeerMac, kHostIp, {}, test::ip(10, 0, 0, 9));
  ASSERT_TRUE(parse_arp(other.data(), other.size(), msg));
  EXPECT_EQ(arp_merge(msg, lan(), table, 1), ArpLearn::kIgnored);
  EXPECT_FALSE(table.lookup(kHostIp));
  // A request for us: the sender is added.
  Bytes for_us = test::arp_frame(1, test::kBroadcast, test::kPeerMac, kHostIp, {}, kHubIp);
  ASSERT_TRUE(parse_arp(for_us.data(), for_us.size(), msg));
  EXPECT_EQ(arp_merge(msg, lan(), table, 2), ArpLearn::kAdded);
  ASSERT_TRUE(table.lookup(kHostIp));
  EXPECT_EQ(0, std::memcmp(table.lookup(kHostIp)->addr_bytes, test::kPeerMac.data(), 6));
  // Now known: a request to somebody else refreshes it (merge flag).
  Bytes moved =
      test::arp_frame(1, test::kBroadcast, test::kOtherMac, kHostIp, {}, test::ip(10, 0, 0, 9));
  ASSERT_TRUE(parse_arp(moved.data(), moved.size(), msg));
  EXPECT_EQ(arp_merge(msg, lan(), table, 3), ArpLearn::kUpdated);
  EXPECT_EQ(0, std::memcmp(table.lookup(kHostIp)->addr_bytes, test::kOtherMac.data(), 6));
  // Never learned: other subnet, a probe from 0.0.0.0, our own address.
  for (std::uint32_t sender : {test::ip(10, 0, 1, 5), 0u, kHubIp}) {
    Bytes f = test::arp_frame(1, test::kBroadcast, test::kPeerMac, sender, {}, kHubIp);
    ASSERT_TRUE(parse_arp(f.data(), f.size(), msg));
    EXPECT_EQ(arp_merge(msg, lan(), table, 4), ArpLearn::kIgnored);
  }
  EXPECT_EQ(table.size(), 1u);
}

TEST(Arp, RequestBytes) {
  std::uint8_t frame[kEthernetMinFrameLen + 4];
  std::memset(frame, 0xee, sizeof frame);
  const std::uint32_t len =
      write_arp_request(frame, mac(test::kHubMac), kHubIp, test::ip(10, 0, 0, 254));
  ASSERT_EQ(len, 60u);
  Bytes expected =
      test::arp_frame(1, test::kBroadcast, test::kHubMac, kHubIp, {}, test::ip(10, 0, 0, 254));
  expected.resize(60, 0);
  EXPECT_EQ(Bytes(frame, frame + len), expected);
  EXPECT_EQ(frame[60], 0xee);  // nothing written past the frame
  // And our own answerer replies to it as a host would.
  Bytes request(frame, frame + len);
  ASSERT_TRUE(answer_arp_in_place(request.data(), request.size(), test::ip(10, 0, 0, 254),
                                  mac(test::kOtherMac)));
  ArpMessage reply;
  ASSERT_TRUE(parse_arp(request.data(), request.size(), reply));
  EXPECT_EQ(reply.op, 2);
  EXPECT_EQ(reply.target_ip_be, kHubIp);
}

TEST(IcmpEcho, ReplyInPlace) {
  const std::uint32_t peer = test::ip(203, 0, 113, 7);
  LocalAddress us;
  us.mac = mac(test::kHubMac);
  us.ip_be = kHubIp;
  Bytes frame = test::icmp_frame(peer, kHubIp, 8, 56);
  const Bytes request = frame;
  const Classified c = classify_wan(frame.data(), frame.size(), frame.size(), us);
  ASSERT_EQ(c.kind, Classify::kIcmpEchoToUs);
  EXPECT_EQ(icmp_echo_reply_in_place(frame.data(), c, us.mac), frame.size());

  EXPECT_EQ(0, std::memcmp(&frame[0], test::kPeerMac.data(), 6));
  EXPECT_EQ(0, std::memcmp(&frame[6], test::kHubMac.data(), 6));
  std::uint32_t src, dst;
  std::memcpy(&src, &frame[26], 4);
  std::memcpy(&dst, &frame[30], 4);
  EXPECT_EQ(src, kHubIp);
  EXPECT_EQ(dst, peer);
  EXPECT_EQ(frame[22], kDefaultTtl);
  EXPECT_EQ(frame[34], 0);  // echo reply
  EXPECT_EQ(frame[35], 0);
  EXPECT_EQ(Bytes(frame.begin() + 38, frame.end()), Bytes(request.begin() + 38, request.end()))
      << "identifier, sequence and data are echoed unchanged";
  EXPECT_EQ(test::internet_checksum(&frame[14], 20), 0) << "IPv4 header checksum";
  EXPECT_EQ(test::internet_checksum(&frame[34], frame.size() - 34), 0) << "ICMP checksum";
}

TEST(IcmpEcho, OddLengthPayloadAndPadding) {
  LocalAddress us;
  us.mac = mac(test::kHubMac);
  us.ip_be = kHubIp;
  Bytes frame = test::icmp_frame(kHostIp, kHubIp, 8, 3);  // 45 bytes
  frame.resize(60, 0);                                    // Ethernet padding
  const Classified c = classify_lan(frame.data(), frame.size(), frame.size(), us);
  ASSERT_EQ(c.kind, Classify::kIcmpEchoToUs);
  EXPECT_EQ(icmp_echo_reply_in_place(frame.data(), c, us.mac), 45u);
  EXPECT_EQ(test::internet_checksum(&frame[34], 11), 0);
  EXPECT_EQ(test::internet_checksum(&frame[14], 20), 0);
}

}  // namespace
}  // namespace wghub::dp
