// What the data plane refuses, each under its own drop reason: replays
// (RFC 6479 window), unknown receiver index, bad tag, spoofed inner source,
// no route, TTL, wrong port, truncated and unknown messages, no session. Each
// check asserts that exactly the expected counter moved and that nothing was
// forwarded; keepalives count as decrypted and forward nothing.
#include <cstring>

#include "tests/pipeline/pipeline_test.hpp"

namespace wghub::pipeline {
namespace {

using dp::DropReason;

// A fixture with site A's session established and the HQ host's MAC known.
class DropTest : public PipelineTest {
 protected:
  void SetUp() override {
    PipelineTest::SetUp();
    ASSERT_TRUE(h().establish(a()));
    h().send(a(), a().seal(to_hq(0)));
    h().run();
    ASSERT_EQ(h().take_lan().size(), 1u);
    ASSERT_EQ(total_drops(h().stats()), 0u);
  }
  SimPeer& a() { return h().peer("site-a"); }
  static Bytes to_hq(std::uint32_t seq, std::uint8_t ttl = 64) {
    return inner_udp(ip4(10, 1, 0, 5), kHqHostIp, seq, 100, ttl);
  }

  // Injects one frame on the WAN, runs the hub, and expects exactly one drop
  // under `reason` and nothing transmitted. `authentic`: the message did
  // decrypt (and counts as decrypted) before it was refused.
  void expect_wan_drop(const Bytes& frame, DropReason reason, bool authentic = false) {
    const dp::LcoreStats before = h().stats();
    h().inject_wan(frame);
    h().run();
    expect_drops_moved(before, h().stats(), reason, 1);
    EXPECT_EQ(h().stats().decrypted_packets - before.decrypted_packets, authentic ? 1u : 0u);
    EXPECT_TRUE(h().take_lan().empty());
    EXPECT_TRUE(h().take_wan().empty());
  }
  void expect_data_drop(const Bytes& message, DropReason reason) {
    expect_wan_drop(a().frame_to(h().hub_wan(), message), reason);
  }
  // A message that authenticates but whose inner packet is refused.
  void expect_inner_drop(const Bytes& message, DropReason reason) {
    expect_wan_drop(a().frame_to(h().hub_wan(), message), reason, /*authentic=*/true);
  }
};

TEST_F(DropTest, ReplayedMessageIsDroppedOnce) {
  const Bytes msg = a().seal(to_hq(1));
  const dp::LcoreStats before = h().stats();
  h().send(a(), msg);
  h().send(a(), msg);
  h().run();
  EXPECT_EQ(h().take_lan().size(), 1u);
  expect_drops_moved(before, h().stats(), DropReason::kReplay, 1);
  EXPECT_EQ(h().stats().decrypted_packets - before.decrypted_packets, 1u);

  // In a later burst too.
  expect_data_drop(msg, DropReason::kReplay);
}

TEST_F(DropTest, CounterBehindTheWindowIsReplay) {
  const std::uint64_t far = 10000;
  h().send(a(), a().seal_with_counter(to_hq(1), far));
  h().run();
  ASSERT_EQ(h().take_lan().size(), 1u);
  // Never seen, but more than the window (8192 - 64) behind the newest.
  const std::uint64_t behind = far - dp::kCounterWindowSize - 1;
  ASSERT_GT(behind, a().next_send_counter());
  expect_data_drop(a().seal_with_counter(to_hq(2), behind), DropReason::kReplay);
  // Inside the window and unseen: accepted (the check above is not blanket).
  const dp::LcoreStats before = h().stats();
  h().send(a(), a().seal_with_counter(to_hq(3), far - 10));
  h().run();
  EXPECT_EQ(h().take_lan().size(), 1u);
  EXPECT_EQ(total_drops(h().stats()), total_drops(before));
}

TEST_F(DropTest, UnknownReceiverIndex) {
  Bytes msg = a().seal(to_hq(1));
  std::uint32_t index = a().keys().remote_index + 0x1234567;
  ASSERT_EQ(h().hub().dataplane().keypairs->lookup(index), nullptr);
  std::memcpy(&msg[4], &index, 4);  // little endian on x86, as on the wire
  expect_data_drop(msg, DropReason::kUnknownIndex);
}

TEST_F(DropTest, FlippedCiphertextBitFailsAuthentication) {
  Bytes msg = a().seal(to_hq(1));
  msg[dp::kMessageDataHeaderSize + 20] ^= 0x01;
  expect_data_drop(msg, DropReason::kAuthFailed);
  // A forged message does not burn its counter: the genuine one still passes.
  h().send(a(), a().seal_with_counter(to_hq(1), a().next_send_counter() - 1));
  h().run();
  EXPECT_EQ(h().take_lan().size(), 1u);
}

TEST_F(DropTest, FlippedTagBitFailsAuthentication) {
  Bytes msg = a().seal(to_hq(1));
  msg.back() ^= 0x80;
  expect_data_drop(msg, DropReason::kAuthFailed);
}

TEST_F(DropTest, SpoofedInnerSource) {
  // Site A sends from site B's prefix.
  expect_inner_drop(a().seal(inner_udp(ip4(10, 2, 0, 5), kHqHostIp, 1, 100)),
                    DropReason::kSpoofedInnerSource);
  // And from an address nobody owns.
  expect_inner_drop(a().seal(inner_udp(ip4(192, 0, 2, 1), kHqHostIp, 2, 100)),
                    DropReason::kSpoofedInnerSource);
}

TEST_F(DropTest, NoRouteForInnerDestination) {
  expect_inner_drop(a().seal(inner_udp(ip4(10, 1, 0, 5), ip4(192, 0, 2, 1), 1, 100)),
                    DropReason::kNoRoute);
  // Nor back to the sender itself (no reflection).
  expect_inner_drop(a().seal(inner_udp(ip4(10, 1, 0, 5), ip4(10, 1, 0, 6), 2, 100)),
                    DropReason::kNoRoute);
}

TEST_F(DropTest, InnerTtlExpires) {
  expect_inner_drop(a().seal(to_hq(1, /*ttl=*/1)), DropReason::kTtlExceeded);
}

TEST_F(DropTest, GarbageInnerPacket) {
  expect_inner_drop(a().seal(Bytes(40, 0x99)), DropReason::kBadInnerPacket);
}

TEST_F(DropTest, KeepaliveIsDecryptedAndForwardsNothing) {
  const dp::LcoreStats before = h().stats();
  h().send(a(), a().seal({}));
  h().run();
  const dp::LcoreStats after = h().stats();
  EXPECT_EQ(after.decrypted_packets - before.decrypted_packets, 1u);
  EXPECT_EQ(after.decrypted_bytes, before.decrypted_bytes);
  EXPECT_EQ(total_drops(after), total_drops(before));
  EXPECT_TRUE(h().take_lan().empty());
  EXPECT_TRUE(h().take_wan().empty());
}

TEST_F(DropTest, TruncatedDataMessage) {
  const Bytes msg = a().seal(to_hq(1));
  expect_data_drop(Bytes(msg.begin(), msg.begin() + 20), DropReason::kBadMessageLength);
  // Header only.
  expect_data_drop(Bytes(msg.begin(), msg.begin() + 4), DropReason::kBadMessageLength);
}

TEST_F(DropTest, UnknownMessageType) {
  Bytes msg = a().seal(to_hq(1));
  msg[0] = 9;
  expect_data_drop(msg, DropReason::kUnknownMessageType);
}

TEST_F(DropTest, WrongUdpPort) {
  const Bytes frame = ethernet_frame(
      h().hub_wan().mac, a().outer().mac, kEtherTypeIpv4,
      udp_packet(a().outer().ip, kHubWanIp, a().outer().port, kListenPort + 1, a().seal(to_hq(1))));
  expect_wan_drop(frame, DropReason::kUdpPortClosed);
}

TEST_F(DropTest, NotOurMacOrAddress) {
  const Bytes msg = a().seal(to_hq(1));
  expect_wan_drop(
      ethernet_frame(test_mac(0x7777), a().outer().mac, kEtherTypeIpv4,
                     udp_packet(a().outer().ip, kHubWanIp, a().outer().port, kListenPort, msg)),
      DropReason::kNotOurMac);
  expect_wan_drop(ethernet_frame(h().hub_wan().mac, a().outer().mac, kEtherTypeIpv4,
                                 udp_packet(a().outer().ip, ip4(100, 64, 0, 2), a().outer().port,
                                            kListenPort, msg)),
                  DropReason::kNotForUs);
}

TEST_F(DropTest, BadOuterIpChecksum) {
  Bytes frame = a().frame_to(h().hub_wan(), a().seal(to_hq(1)));
  frame[14 + 10] ^= 0xff;
  expect_wan_drop(frame, DropReason::kBadIpChecksum);
}

TEST_F(DropTest, LanTrafficForSiteWithoutSession) {
  // Site B has no session (and no endpoint): the hub cannot send to it.
  const dp::LcoreStats before = h().stats();
  h().send_from_hq(inner_udp(kHqHostIp, ip4(10, 2, 0, 9), 1, 100));
  h().run();
  expect_drops_moved(before, h().stats(), DropReason::kNoSession, 1);
  EXPECT_TRUE(h().take_wan().empty());
  // Nothing waits for a handshake that cannot be sent.
  EXPECT_EQ(h().hub().device().staged_counters().queued, 0u);
  EXPECT_EQ(h().hub().engine().counters().initiations_sent, 0u);
}

TEST_F(DropTest, LanTrafficWithoutRoute) {
  const dp::LcoreStats before = h().stats();
  h().send_from_hq(inner_udp(kHqHostIp, ip4(192, 0, 2, 9), 1, 100));
  h().run();
  expect_drops_moved(before, h().stats(), DropReason::kNoRoute, 1);
  EXPECT_TRUE(h().take_wan().empty());
}

}  // namespace
}  // namespace wghub::pipeline
