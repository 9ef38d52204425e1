// mac1/mac2 and cookie replies (control/cookie.hpp), including the under-load
// flow end to end with a real initiation and simulated time.
#include <gtest/gtest.h>

#include <chrono>

#include "control/cookie.hpp"
#include "control/noise.hpp"
#include "crypto/x25519.hpp"
#include "test_util.hpp"

namespace wghub::ctl {
namespace {

using test::at_seconds;
using test::bytes_of;

LocalIdentity random_identity() {
  std::array<std::uint8_t, 32> priv{};
  crypto::x25519_generate(priv);
  return LocalIdentity::from_private_key(priv);
}

class Cookies : public ::testing::Test {
 protected:
  dp::MessageInitiation fresh_initiation(std::int64_t ts_seconds) {
    dp::MessageInitiation msg{};
    EXPECT_EQ(create_initiation(msg, site_peer_hub, site, 0xabcd,
                                crypto::tai64n_from(timespec{ts_seconds, 0})),
              NoiseError::kOk);
    return msg;
  }

  LocalIdentity site = random_identity();
  LocalIdentity hub = random_identity();
  PeerHandshake site_peer_hub{hub.public_key};
  PeerHandshake hub_peer_site{site.public_key};
  CookieMaker site_maker{hub.public_key};  // the site's macs towards the hub
  CookieChecker hub_checker{hub.public_key};
  SourceAddress site_addr = SourceAddress::ipv4({192, 0, 2, 7}, 51820);
};

TEST_F(Cookies, Mac1ValidatesWithoutCookie) {
  auto msg = fresh_initiation(100);
  site_maker.add_macs(bytes_of(msg), at_seconds(0));
  EXPECT_EQ(hub_checker.validate(bytes_of(msg), site_addr, at_seconds(0), false),
            MacState::kValidMacButNoCookie);
  // Under load the mac2 is checked, and without a cookie it is all zero.
  EXPECT_EQ(msg.macs.mac2, (std::array<std::uint8_t, 16>{}));
  EXPECT_EQ(hub_checker.validate(bytes_of(msg), site_addr, at_seconds(0), true),
            MacState::kValidMacButNoCookie);
}

TEST_F(Cookies, WrongMac1Rejected) {
  auto msg = fresh_initiation(100);
  site_maker.add_macs(bytes_of(msg), at_seconds(0));

  auto bad_mac = msg;
  bad_mac.macs.mac1[3] ^= 1;
  EXPECT_EQ(hub_checker.validate(bytes_of(bad_mac), site_addr, at_seconds(0), false),
            MacState::kInvalidMac);
  // mac1 covers the whole message before it, the sender index included.
  for (std::size_t i : {0u, 4u, 8u, 50u, 115u}) {
    auto changed = msg;
    bytes_of(changed)[i] ^= 0x10;
    EXPECT_EQ(hub_checker.validate(bytes_of(changed), site_addr, at_seconds(0), false),
              MacState::kInvalidMac)
        << "byte " << i;
  }
  // Macs keyed for another responder's public key.
  CookieMaker wrong_maker{random_identity().public_key};
  auto other = msg;
  wrong_maker.add_macs(bytes_of(other), at_seconds(0));
  EXPECT_EQ(hub_checker.validate(bytes_of(other), site_addr, at_seconds(0), false),
            MacState::kInvalidMac);
  // Too short to carry macs at all.
  EXPECT_EQ(hub_checker.validate(bytes_of(msg).first(20), site_addr, at_seconds(0), false),
            MacState::kInvalidMac);
}

TEST_F(Cookies, UnderLoadFlowEndToEnd) {
  const TimePoint t0 = at_seconds(0);
  // 1. The site sends an initiation with mac1 only.
  auto first = fresh_initiation(100);
  site_maker.add_macs(bytes_of(first), t0);
  ASSERT_EQ(hub_checker.validate(bytes_of(first), site_addr, t0, true),
            MacState::kValidMacButNoCookie);

  // 2. The hub is under load: it answers with a cookie reply instead.
  dp::MessageCookieReply reply{};
  hub_checker.create_cookie_reply(reply, bytes_of(first), site_addr, t0);
  EXPECT_EQ(reply.header.message_type(), dp::MessageType::kCookieReply);
  EXPECT_EQ(reply.receiver_index.get(), first.sender_index.get());

  // 3. The site stores the cookie.
  EXPECT_FALSE(site_maker.has_cookie(t0));
  ASSERT_TRUE(site_maker.consume_cookie_reply(reply, at_seconds(0.1)));
  EXPECT_TRUE(site_maker.has_cookie(at_seconds(0.1)));

  // 4. Its retried initiation carries a mac2 the hub accepts, from that source only.
  auto retry = fresh_initiation(101);
  site_maker.add_macs(bytes_of(retry), at_seconds(1));
  EXPECT_NE(retry.macs.mac2, (std::array<std::uint8_t, 16>{}));
  EXPECT_EQ(hub_checker.validate(bytes_of(retry), site_addr, at_seconds(1), true),
            MacState::kValidMacWithCookie);
  auto other_port = SourceAddress::ipv4({192, 0, 2, 7}, 51821);
  auto other_ip = SourceAddress::ipv4({192, 0, 2, 8}, 51820);
  EXPECT_EQ(hub_checker.validate(bytes_of(retry), other_port, at_seconds(1), true),
            MacState::kValidMacButNoCookie);
  EXPECT_EQ(hub_checker.validate(bytes_of(retry), other_ip, at_seconds(1), true),
            MacState::kValidMacButNoCookie);

  // 5. And the hub's handshake layer takes it from there.
  PeerLookup lookup = [this](const PublicKey& key) -> PeerHandshake* {
    return key == site.public_key ? &hub_peer_site : nullptr;
  };
  EXPECT_TRUE(consume_initiation(retry, hub, lookup, at_seconds(1)).ok());
}

TEST_F(Cookies, CookieReplyForWrongMac1Refused) {
  auto sent = fresh_initiation(100);
  site_maker.add_macs(bytes_of(sent), at_seconds(0));
  // A reply made for a different message (another mac1).
  auto other = fresh_initiation(101);
  CookieMaker other_maker{hub.public_key};
  other_maker.add_macs(bytes_of(other), at_seconds(0));
  ASSERT_NE(other.macs.mac1, sent.macs.mac1);
  dp::MessageCookieReply reply{};
  hub_checker.create_cookie_reply(reply, bytes_of(other), site_addr, at_seconds(0));
  EXPECT_FALSE(site_maker.consume_cookie_reply(reply, at_seconds(0)));
  EXPECT_FALSE(site_maker.has_cookie(at_seconds(0)));
  // The right reply still works afterwards, but only once.
  dp::MessageCookieReply right{};
  hub_checker.create_cookie_reply(right, bytes_of(sent), site_addr, at_seconds(0));
  auto tampered = right;
  tampered.encrypted_cookie[0] ^= 1;
  EXPECT_FALSE(site_maker.consume_cookie_reply(tampered, at_seconds(0)));
  EXPECT_TRUE(site_maker.consume_cookie_reply(right, at_seconds(0)));
  EXPECT_FALSE(site_maker.consume_cookie_reply(right, at_seconds(1)));
}

TEST_F(Cookies, ReplyWithoutSentMac1Refused) {
  auto msg = fresh_initiation(100);
  CookieMaker untouched{hub.public_key};
  dp::MessageCookieReply reply{};
  CookieMaker(hub.public_key).add_macs(bytes_of(msg), at_seconds(0));
  hub_checker.create_cookie_reply(reply, bytes_of(msg), site_addr, at_seconds(0));
  EXPECT_FALSE(untouched.consume_cookie_reply(reply, at_seconds(0)));
}

TEST_F(Cookies, SecretRotationInvalidatesOldMac2) {
  auto first = fresh_initiation(100);
  site_maker.add_macs(bytes_of(first), at_seconds(0));
  dp::MessageCookieReply reply{};
  hub_checker.create_cookie_reply(reply, bytes_of(first), site_addr, at_seconds(0));
  ASSERT_TRUE(site_maker.consume_cookie_reply(reply, at_seconds(0)));

  auto msg = fresh_initiation(101);
  site_maker.add_macs(bytes_of(msg), at_seconds(1));
  EXPECT_EQ(hub_checker.validate(bytes_of(msg), site_addr, at_seconds(60), true),
            MacState::kValidMacWithCookie);
  EXPECT_EQ(hub_checker.validate(bytes_of(msg), site_addr, at_seconds(119.9), true),
            MacState::kValidMacWithCookie);
  // R_m is 120 s old: renewed, and the old cookie's mac2 no longer matches.
  EXPECT_EQ(hub_checker.validate(bytes_of(msg), site_addr, at_seconds(120), true),
            MacState::kValidMacButNoCookie);
  // mac1 is unaffected by the rotation.
  EXPECT_EQ(hub_checker.validate(bytes_of(msg), site_addr, at_seconds(121), false),
            MacState::kValidMacButNoCookie);
}

TEST_F(Cookies, MakerStopsUsingAnExpiredCookie) {
  auto first = fresh_initiation(100);
  site_maker.add_macs(bytes_of(first), at_seconds(0));
  dp::MessageCookieReply reply{};
  hub_checker.create_cookie_reply(reply, bytes_of(first), site_addr, at_seconds(0));
  ASSERT_TRUE(site_maker.consume_cookie_reply(reply, at_seconds(0)));
  // Used for 120 s minus the kernel's 5 s latency margin.
  EXPECT_TRUE(site_maker.has_cookie(at_seconds(114.9)));
  EXPECT_FALSE(site_maker.has_cookie(at_seconds(115)));
  auto late = fresh_initiation(101);
  site_maker.add_macs(bytes_of(late), at_seconds(116));
  EXPECT_EQ(late.macs.mac2, (std::array<std::uint8_t, 16>{}));
}

TEST_F(Cookies, ResponsesCarryMacsToo) {
  // The hub's response to the site: macs keyed by the site's public key.
  PeerLookup lookup = [this](const PublicKey& key) -> PeerHandshake* {
    return key == site.public_key ? &hub_peer_site : nullptr;
  };
  auto init = fresh_initiation(100);
  ASSERT_TRUE(consume_initiation(init, hub, lookup, at_seconds(0)).ok());
  dp::MessageResponse resp{};
  ASSERT_EQ(create_response(resp, hub_peer_site, 77), NoiseError::kOk);
  CookieMaker hub_maker{site.public_key};
  hub_maker.add_macs(bytes_of(resp), at_seconds(0));
  CookieChecker site_checker{site.public_key};
  EXPECT_EQ(site_checker.validate(bytes_of(resp), site_addr, at_seconds(0), false),
            MacState::kValidMacButNoCookie);
  EXPECT_EQ(hub_checker.validate(bytes_of(resp), site_addr, at_seconds(0), false),
            MacState::kInvalidMac);
  // A cookie reply to a response goes back to the responder's sender index.
  dp::MessageCookieReply reply{};
  site_checker.create_cookie_reply(reply, bytes_of(resp), site_addr, at_seconds(0));
  EXPECT_EQ(reply.receiver_index.get(), 77u);
  EXPECT_TRUE(hub_maker.consume_cookie_reply(reply, at_seconds(0)));
}

TEST_F(Cookies, Ipv6SourcesAreDistinct) {
  std::array<std::uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8};
  auto src6 = SourceAddress::ipv6(a, 51820);
  auto first = fresh_initiation(100);
  site_maker.add_macs(bytes_of(first), at_seconds(0));
  dp::MessageCookieReply reply{};
  hub_checker.create_cookie_reply(reply, bytes_of(first), src6, at_seconds(0));
  ASSERT_TRUE(site_maker.consume_cookie_reply(reply, at_seconds(0)));
  auto msg = fresh_initiation(101);
  site_maker.add_macs(bytes_of(msg), at_seconds(1));
  EXPECT_EQ(hub_checker.validate(bytes_of(msg), src6, at_seconds(1), true),
            MacState::kValidMacWithCookie);
  a[15] = 1;
  EXPECT_EQ(hub_checker.validate(bytes_of(msg), SourceAddress::ipv6(a, 51820), at_seconds(1), true),
            MacState::kValidMacButNoCookie);
}

}  // namespace
}  // namespace wghub::ctl
