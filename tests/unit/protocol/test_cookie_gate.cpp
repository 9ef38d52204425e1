// The workers' DoS gate (dataplane/cookie_gate.hpp) on bursts: mac1,
// cookies and cookie replies for many messages at once (16 lanes to a call,
// IPv4 and IPv6 sources, initiations and responses mixed) agree with the
// one-message calls and with the site side we check against (CookieMaker:
// libb2's MAC, libsodium's XChaCha20-Poly1305).
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <vector>

#include "control/cookie.hpp"
#include "control/noise.hpp"
#include "crypto/random.hpp"
#include "crypto/x25519.hpp"
#include "dataplane/cookie_gate.hpp"
#include "test_util.hpp"

namespace wghub::dp {
namespace {

using ctl::CookieMaker;
using test::at_seconds;

ctl::LocalIdentity random_identity() {
  std::array<std::uint8_t, 32> priv{};
  crypto::x25519_generate(priv);
  return ctl::LocalIdentity::from_private_key(priv);
}

// A message of an initiation's or a response's size, random but for its
// macs, which `maker` adds.
std::vector<std::uint8_t> message(std::size_t size, CookieMaker& maker, double t) {
  std::vector<std::uint8_t> m(size);
  crypto::random_bytes(m);
  maker.add_macs(m, at_seconds(t));
  return m;
}

Endpoint source(std::size_t i) {
  if (i % 3 == 0) {
    std::array<std::uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8};
    a[15] = static_cast<std::uint8_t>(i);
    return Endpoint::v6(a.data(), static_cast<std::uint16_t>(0x1000 + i));
  }
  return Endpoint::v4(0x0a000000u + static_cast<std::uint32_t>(i),
                      static_cast<std::uint16_t>(0x2000 + i));
}

class CookieGateBurst : public ::testing::Test {
 protected:
  ctl::LocalIdentity hub = random_identity();
  CookieGate gate{hub.public_key, nullptr, 1'000'000'000};
  crypto::RandomBuffer random;
};

TEST_F(CookieGateBurst, Mac1OfAMixedBurstMatchesOneAtATime) {
  CookieMaker site(hub.public_key);
  std::vector<std::vector<std::uint8_t>> msgs;
  std::vector<bool> want;
  for (std::size_t i = 0; i < 40; ++i) {
    msgs.push_back(message(i % 2 ? kMessageInitiationSize : kMessageResponseSize, site, 0));
    const bool corrupt = i % 5 == 0;
    if (corrupt) msgs.back()[msgs.back().size() - 20] ^= 0x40;  // inside mac1
    want.push_back(!corrupt);
  }
  msgs.push_back(std::vector<std::uint8_t>(10));  // too short to carry macs
  want.push_back(false);
  std::vector<std::span<const std::uint8_t>> spans(msgs.begin(), msgs.end());
  std::unique_ptr<bool[]> valid(new bool[spans.size()]);
  gate.mac1_valid(spans.data(), valid.get(), spans.size());
  for (std::size_t i = 0; i < spans.size(); ++i) {
    EXPECT_EQ(valid[i], want[i]) << "message " << i;
    EXPECT_EQ(gate.mac1_valid(spans[i]), want[i]) << "message " << i;
  }
}

TEST_F(CookieGateBurst, RepliesOfABurstAuthenticateAndTheirCookiesMakeValidMac2) {
  constexpr std::size_t kN = 21;  // more than one call of 16 lanes
  std::vector<std::unique_ptr<CookieMaker>> sites;
  std::vector<std::vector<std::uint8_t>> msgs;
  std::vector<Endpoint> from;
  for (std::size_t i = 0; i < kN; ++i) {
    sites.push_back(std::make_unique<CookieMaker>(hub.public_key));
    msgs.push_back(
        message(i % 2 ? kMessageInitiationSize : kMessageResponseSize, *sites.back(), 0));
    from.push_back(source(i));
  }
  std::vector<const Endpoint*> from_ptrs;
  for (const Endpoint& e : from) from_ptrs.push_back(&e);
  std::vector<CookieGate::Cookie> cookies(kN);
  gate.cookies_for(cookies.data(), from_ptrs.data(), kN);
  for (std::size_t i = 0; i < kN; ++i) {
    CookieGate::Cookie one;
    gate.cookie_for(one, from[i]);
    EXPECT_TRUE(crypto::equal_ct16(one.data(), cookies[i].data())) << "source " << i;
  }
  std::vector<std::span<const std::uint8_t>> spans(msgs.begin(), msgs.end());
  std::vector<MessageCookieReply> replies(kN);
  gate.make_replies(replies.data(), spans.data(), cookies.data(), kN, random);
  for (std::size_t i = 0; i < kN; ++i) {
    EXPECT_EQ(replies[i].header.message_type(), MessageType::kCookieReply);
    EXPECT_EQ(0, std::memcmp(replies[i].receiver_index.bytes.data(), msgs[i].data() + 4, 4));
    ASSERT_TRUE(sites[i]->consume_cookie_reply(replies[i], at_seconds(1))) << "reply " << i;
    // The site's next message carries mac2 under the cookie it took: valid
    // for its own source, not for another's.
    const std::vector<std::uint8_t> next = message(kMessageInitiationSize, *sites[i], 2);
    EXPECT_TRUE(gate.mac2_valid(next, cookies[i])) << "source " << i;
    EXPECT_FALSE(gate.mac2_valid(next, cookies[(i + 1) % kN])) << "source " << i;
  }
  // Every nonce differs.
  for (std::size_t i = 1; i < kN; ++i) EXPECT_NE(replies[i].nonce, replies[i - 1].nonce);
}

TEST_F(CookieGateBurst, ARotatedSecretGivesOtherCookies) {
  const Endpoint e = source(1);
  CookieGate::Cookie before, after;
  gate.cookie_for(before, e);
  gate.rotate(0);
  gate.cookie_for(after, e);
  EXPECT_FALSE(crypto::equal_ct16(before.data(), after.data()));
}

}  // namespace
}  // namespace wghub::dp
