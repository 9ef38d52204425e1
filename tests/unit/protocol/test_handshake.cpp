// In-process WireGuard handshakes between two of our own peers
// (control/noise.hpp): matching keypairs, data both ways, and every refusal
// the responder and initiator must make.
#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "control/noise.hpp"
#include "crypto/aead.hpp"
#include "crypto/x25519.hpp"
#include "test_util.hpp"

namespace wghub::ctl {
namespace {

using crypto::Secret;
using test::at_seconds;
using test::bytes_of;

LocalIdentity random_identity() {
  std::array<std::uint8_t, 32> priv{};
  crypto::x25519_generate(priv);
  return LocalIdentity::from_private_key(priv);
}

crypto::Tai64n timestamp(std::int64_t seconds) {
  return crypto::tai64n_from(timespec{seconds, 0});
}

Secret<32> make_psk(std::uint8_t fill) {
  std::array<std::uint8_t, 32> bytes{};
  bytes.fill(fill);
  return Secret<32>(std::span<const std::uint8_t, 32>(bytes));
}

bool same_key(const Secret<32>& a, const Secret<32>& b) {
  return crypto::equal_ct(a.data(), b.data(), 32);
}

// A site (the initiator) and the hub (the responder), each with a peer
// entry for the other.
class Handshake : public ::testing::Test {
 protected:
  static constexpr std::uint32_t kSiteIndex = 0x1111;
  static constexpr std::uint32_t kHubIndex = 0x2222;

  void SetUp() override { configure(nullptr, nullptr); }

  void configure(const Secret<32>* site_psk, const Secret<32>* hub_psk) {
    site_peer_hub = std::make_unique<PeerHandshake>(hub.public_key, site_psk);
    hub_peer_site = std::make_unique<PeerHandshake>(site.public_key, hub_psk);
  }

  PeerLookup hub_lookup() {
    return [this](const PublicKey& key) -> PeerHandshake* {
      return key == site.public_key ? hub_peer_site.get() : nullptr;
    };
  }
  IndexLookup site_lookup() {
    return [this](std::uint32_t index) -> PeerHandshake* {
      return index == site_peer_hub->local_index() && index != 0 ? site_peer_hub.get() : nullptr;
    };
  }

  dp::MessageInitiation initiation(std::int64_t ts_seconds = 100) {
    dp::MessageInitiation msg{};
    EXPECT_EQ(create_initiation(msg, *site_peer_hub, site, kSiteIndex, timestamp(ts_seconds)),
              NoiseError::kOk);
    return msg;
  }

  // Runs a complete handshake; returns {site keypair, hub keypair}.
  std::pair<std::optional<Keypair>, std::optional<Keypair>> full_handshake(TimePoint now) {
    auto init = initiation();
    auto consumed = consume_initiation(init, hub, hub_lookup(), now);
    EXPECT_EQ(consumed.error, NoiseError::kOk);
    dp::MessageResponse resp{};
    EXPECT_EQ(create_response(resp, *hub_peer_site, kHubIndex), NoiseError::kOk);
    auto hub_keys = begin_session(*hub_peer_site, now);
    auto got = consume_response(resp, site, site_lookup());
    EXPECT_EQ(got.error, NoiseError::kOk);
    auto site_keys = begin_session(*site_peer_hub, now);
    return {std::move(site_keys), std::move(hub_keys)};
  }

  LocalIdentity site = random_identity();
  LocalIdentity hub = random_identity();
  std::unique_ptr<PeerHandshake> site_peer_hub;
  std::unique_ptr<PeerHandshake> hub_peer_site;
};

TEST_F(Handshake, FullHandshakeYieldsMatchingKeypairs) {
  const TimePoint now = at_seconds(0);
  dp::MessageInitiation init{};
  ASSERT_EQ(create_initiation(init, *site_peer_hub, site, kSiteIndex, timestamp(100)),
            NoiseError::kOk);
  EXPECT_EQ(init.header.message_type(), dp::MessageType::kInitiation);
  EXPECT_EQ(init.sender_index.get(), kSiteIndex);
  EXPECT_EQ(site_peer_hub->stage(), HandshakeStage::kCreatedInitiation);

  auto consumed = consume_initiation(init, hub, hub_lookup(), now);
  ASSERT_EQ(consumed.error, NoiseError::kOk) << to_string(consumed.error);
  ASSERT_EQ(consumed.peer, hub_peer_site.get());
  EXPECT_EQ(hub_peer_site->stage(), HandshakeStage::kConsumedInitiation);
  EXPECT_EQ(hub_peer_site->remote_index(), kSiteIndex);
  EXPECT_EQ(hub_peer_site->latest_timestamp(), timestamp(100));

  dp::MessageResponse resp{};
  ASSERT_EQ(create_response(resp, *hub_peer_site, kHubIndex), NoiseError::kOk);
  EXPECT_EQ(resp.header.message_type(), dp::MessageType::kResponse);
  EXPECT_EQ(resp.sender_index.get(), kHubIndex);
  EXPECT_EQ(resp.receiver_index.get(), kSiteIndex);

  auto got = consume_response(resp, site, site_lookup());
  ASSERT_EQ(got.error, NoiseError::kOk) << to_string(got.error);
  EXPECT_EQ(got.peer, site_peer_hub.get());
  EXPECT_EQ(site_peer_hub->remote_index(), kHubIndex);

  auto site_keys = begin_session(*site_peer_hub, now);
  auto hub_keys = begin_session(*hub_peer_site, now);
  ASSERT_TRUE(site_keys && hub_keys);
  EXPECT_TRUE(same_key(site_keys->sending_key, hub_keys->receiving_key));
  EXPECT_TRUE(same_key(site_keys->receiving_key, hub_keys->sending_key));
  EXPECT_FALSE(same_key(site_keys->sending_key, site_keys->receiving_key));
  EXPECT_TRUE(site_keys->is_initiator);
  EXPECT_FALSE(hub_keys->is_initiator);
  EXPECT_EQ(site_keys->local_index, kSiteIndex);
  EXPECT_EQ(site_keys->remote_index, kHubIndex);
  EXPECT_EQ(hub_keys->local_index, kHubIndex);
  EXPECT_EQ(hub_keys->remote_index, kSiteIndex);
  EXPECT_EQ(site_keys->birth, now);
  // The handshakes are spent and zeroed.
  EXPECT_EQ(site_peer_hub->stage(), HandshakeStage::kZeroed);
  EXPECT_EQ(hub_peer_site->stage(), HandshakeStage::kZeroed);
  EXPECT_FALSE(begin_session(*site_peer_hub, now).has_value());
}

// Seals one data message (whitepaper 5.4.6) and opens it on the other side.
bool data_round_trip(const Keypair& from, const Keypair& to, std::uint64_t counter,
                     bool tamper = false) {
  const std::vector<std::uint8_t> inner = {0x45, 0, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::size_t padded = dp::padded_length(inner.size(), 1420);
  std::vector<std::uint8_t> packet(sizeof(dp::MessageDataHeader) + padded + crypto::kAeadTagLen);
  auto* header = reinterpret_cast<dp::MessageDataHeader*>(packet.data());
  header->header.set_type(dp::MessageType::kData);
  header->receiver_index.set(from.remote_index);
  header->counter.set(counter);
  std::vector<std::uint8_t> plain(padded, 0);
  std::copy(inner.begin(), inner.end(), plain.begin());
  crypto::aead_seal(packet.data() + sizeof(dp::MessageDataHeader), plain.data(), plain.size(),
                    nullptr, 0, counter, from.sending_key.data());
  if (tamper) packet.back() ^= 0x80;

  const auto* rx = reinterpret_cast<const dp::MessageDataHeader*>(packet.data());
  if (rx->receiver_index.get() != to.local_index) return false;
  std::vector<std::uint8_t> opened(padded);
  if (!crypto::aead_open(opened.data(), packet.data() + sizeof(dp::MessageDataHeader),
                         packet.size() - sizeof(dp::MessageDataHeader), nullptr, 0,
                         rx->counter.get(), to.receiving_key.data()))
    return false;
  return std::equal(inner.begin(), inner.end(), opened.begin());
}

TEST_F(Handshake, DataFlowsBothWays) {
  auto [site_keys, hub_keys] = full_handshake(at_seconds(0));
  ASSERT_TRUE(site_keys && hub_keys);
  EXPECT_TRUE(data_round_trip(*site_keys, *hub_keys, 0));
  EXPECT_TRUE(data_round_trip(*hub_keys, *site_keys, 0));
  EXPECT_TRUE(data_round_trip(*site_keys, *hub_keys, 7));
  EXPECT_FALSE(data_round_trip(*site_keys, *hub_keys, 1, /*tamper=*/true));
  // Keys are per direction: the site's own receive key does not open what it sent.
  EXPECT_FALSE(data_round_trip(*site_keys, *site_keys, 0));
}

TEST_F(Handshake, SamePskWorks) {
  const Secret<32> psk = make_psk(0x5a);
  configure(&psk, &psk);
  auto [site_keys, hub_keys] = full_handshake(at_seconds(0));
  ASSERT_TRUE(site_keys && hub_keys);
  EXPECT_TRUE(data_round_trip(*site_keys, *hub_keys, 0));
}

TEST_F(Handshake, ZeroPskEqualsNoPsk) {
  // "No preshared key" is 32 zero bytes (whitepaper 5.2), so a peer given an
  // explicit zero psk interoperates with one given none.
  const Secret<32> zero;
  configure(&zero, nullptr);
  auto [site_keys, hub_keys] = full_handshake(at_seconds(0));
  ASSERT_TRUE(site_keys && hub_keys);
  EXPECT_TRUE(data_round_trip(*hub_keys, *site_keys, 3));
}

TEST_F(Handshake, PskMismatchFailsAtTheInitiator) {
  const Secret<32> psk = make_psk(0x5a);
  configure(&psk, nullptr);
  auto init = initiation();
  ASSERT_TRUE(consume_initiation(init, hub, hub_lookup(), at_seconds(0)).ok());
  dp::MessageResponse resp{};
  ASSERT_EQ(create_response(resp, *hub_peer_site, kHubIndex), NoiseError::kOk);
  auto got = consume_response(resp, site, site_lookup());
  EXPECT_EQ(got.error, NoiseError::kDecryptFailed);
  // The pending initiation is untouched by the failure.
  EXPECT_EQ(site_peer_hub->stage(), HandshakeStage::kCreatedInitiation);
  EXPECT_FALSE(begin_session(*site_peer_hub, at_seconds(0)).has_value());
}

TEST_F(Handshake, ReplayedInitiationRejected) {
  auto init = initiation(100);
  ASSERT_TRUE(consume_initiation(init, hub, hub_lookup(), at_seconds(0)).ok());
  dp::MessageResponse resp{};
  ASSERT_EQ(create_response(resp, *hub_peer_site, kHubIndex), NoiseError::kOk);

  // Well past the flood interval, the very same bytes again.
  auto replay = consume_initiation(init, hub, hub_lookup(), at_seconds(10));
  EXPECT_EQ(replay.error, NoiseError::kReplayedTimestamp);
  EXPECT_EQ(replay.peer, hub_peer_site.get());
  // The replay did not reset the responder's handshake in progress.
  EXPECT_EQ(hub_peer_site->stage(), HandshakeStage::kCreatedResponse);
  EXPECT_EQ(hub_peer_site->local_index(), kHubIndex);

  // An older timestamp is refused too; a newer one is accepted.
  auto older = initiation(99);
  EXPECT_EQ(consume_initiation(older, hub, hub_lookup(), at_seconds(20)).error,
            NoiseError::kReplayedTimestamp);
  auto newer = initiation(101);
  EXPECT_EQ(consume_initiation(newer, hub, hub_lookup(), at_seconds(30)).error, NoiseError::kOk);
}

TEST_F(Handshake, InitiationFloodRejected) {
  // INITIATIONS_PER_SECOND = 50: at most one every 20 ms from one peer.
  auto first = initiation(100);
  ASSERT_TRUE(consume_initiation(first, hub, hub_lookup(), at_seconds(0)).ok());
  auto second = initiation(101);
  auto flooded = consume_initiation(second, hub, hub_lookup(), at_seconds(0.010));
  EXPECT_EQ(flooded.error, NoiseError::kFlood);
  // Not consumed, so the same message passes once the interval is over.
  EXPECT_EQ(consume_initiation(second, hub, hub_lookup(), at_seconds(0.020)).error,
            NoiseError::kOk);
  auto third = initiation(102);
  EXPECT_EQ(consume_initiation(third, hub, hub_lookup(), at_seconds(0.030)).error,
            NoiseError::kFlood);
}

TEST_F(Handshake, UnknownPeerRejected) {
  auto init = initiation();
  PeerLookup nobody = [](const PublicKey&) -> PeerHandshake* { return nullptr; };
  auto r = consume_initiation(init, hub, nobody, at_seconds(0));
  EXPECT_EQ(r.error, NoiseError::kUnknownPeer);
  EXPECT_EQ(r.peer, nullptr);
  EXPECT_EQ(hub_peer_site->stage(), HandshakeStage::kZeroed);
}

TEST_F(Handshake, StrangerWithUnconfiguredKeyRejected) {
  // A third party that knows the hub's public key but is not configured.
  LocalIdentity stranger = random_identity();
  PeerHandshake stranger_peer_hub(hub.public_key);
  dp::MessageInitiation init{};
  ASSERT_EQ(create_initiation(init, stranger_peer_hub, stranger, 9, timestamp(100)),
            NoiseError::kOk);
  EXPECT_EQ(consume_initiation(init, hub, hub_lookup(), at_seconds(0)).error,
            NoiseError::kUnknownPeer);
}

TEST_F(Handshake, InitiationForAnotherResponderRejected) {
  // Encrypted to a different responder static key: the hub cannot decrypt s.
  LocalIdentity other = random_identity();
  PeerHandshake site_peer_other(other.public_key);
  dp::MessageInitiation init{};
  ASSERT_EQ(create_initiation(init, site_peer_other, site, 9, timestamp(100)), NoiseError::kOk);
  EXPECT_EQ(consume_initiation(init, hub, hub_lookup(), at_seconds(0)).error,
            NoiseError::kDecryptFailed);
}

TEST_F(Handshake, TamperedInitiationRejectedAtEveryByte) {
  const auto genuine = initiation();
  // The Noise body: ephemeral, encrypted static, encrypted timestamp. (The
  // header and sender index are covered by mac1, not by Noise.)
  for (std::size_t i = offsetof(dp::MessageInitiation, unencrypted_ephemeral);
       i < dp::kMac1OffsetInitiation; ++i) {
    auto msg = genuine;
    bytes_of(msg)[i] ^= 0x01;
    auto r = consume_initiation(msg, hub, hub_lookup(), at_seconds(static_cast<double>(i)));
    EXPECT_FALSE(r.ok()) << "byte " << i;
  }
  EXPECT_EQ(hub_peer_site->stage(), HandshakeStage::kZeroed);
  EXPECT_EQ(hub_peer_site->latest_timestamp(), crypto::Tai64n{});
  // The genuine one still passes afterwards.
  EXPECT_TRUE(consume_initiation(genuine, hub, hub_lookup(), at_seconds(1000)).ok());

  auto wrong_type = genuine;
  wrong_type.header.set_type(dp::MessageType::kResponse);
  EXPECT_EQ(consume_initiation(wrong_type, hub, hub_lookup(), at_seconds(2000)).error,
            NoiseError::kMalformed);
}

TEST_F(Handshake, TamperedResponseRejectedAtEveryByteThenGenuineCompletes) {
  auto init = initiation();
  ASSERT_TRUE(consume_initiation(init, hub, hub_lookup(), at_seconds(0)).ok());
  dp::MessageResponse genuine{};
  ASSERT_EQ(create_response(genuine, *hub_peer_site, kHubIndex), NoiseError::kOk);

  for (std::size_t i = offsetof(dp::MessageResponse, unencrypted_ephemeral);
       i < dp::kMac1OffsetResponse; ++i) {
    auto msg = genuine;
    bytes_of(msg)[i] ^= 0x80;
    EXPECT_FALSE(consume_response(msg, site, site_lookup()).ok()) << "byte " << i;
    ASSERT_EQ(site_peer_hub->stage(), HandshakeStage::kCreatedInitiation);
  }
  auto got = consume_response(genuine, site, site_lookup());
  ASSERT_TRUE(got.ok()) << to_string(got.error);
  auto site_keys = begin_session(*site_peer_hub, at_seconds(0));
  auto hub_keys = begin_session(*hub_peer_site, at_seconds(0));
  ASSERT_TRUE(site_keys && hub_keys);
  EXPECT_TRUE(data_round_trip(*site_keys, *hub_keys, 0));
}

TEST_F(Handshake, ResponseIndexAndStateChecks) {
  auto init = initiation();
  ASSERT_TRUE(consume_initiation(init, hub, hub_lookup(), at_seconds(0)).ok());
  dp::MessageResponse resp{};
  ASSERT_EQ(create_response(resp, *hub_peer_site, kHubIndex), NoiseError::kOk);

  auto wrong_index = resp;
  wrong_index.receiver_index.set(kSiteIndex + 1);
  EXPECT_EQ(consume_response(wrong_index, site, site_lookup()).error, NoiseError::kUnknownIndex);

  // A lookup that maps the index to a peer whose pending index differs.
  IndexLookup confused = [this](std::uint32_t) { return site_peer_hub.get(); };
  EXPECT_EQ(consume_response(wrong_index, site, confused).error, NoiseError::kUnknownIndex);

  ASSERT_TRUE(consume_response(resp, site, site_lookup()).ok());
  // The same response again: the handshake is no longer waiting for one.
  EXPECT_EQ(consume_response(resp, site, confused).error, NoiseError::kWrongState);

  // A responder cannot respond twice, nor without an initiation.
  dp::MessageResponse again{};
  EXPECT_EQ(create_response(again, *hub_peer_site, kHubIndex), NoiseError::kWrongState);
  PeerHandshake fresh(site.public_key);
  EXPECT_EQ(create_response(again, fresh, 5), NoiseError::kWrongState);
  EXPECT_FALSE(begin_session(fresh, at_seconds(0)).has_value());
}

TEST_F(Handshake, LowOrderKeysRefused) {
  // A peer whose static key is a low-order point: ss is all zero.
  const std::array<std::uint8_t, 32> zero_point{};
  PeerHandshake bad(zero_point);
  EXPECT_FALSE(bad.has_valid_static(site));
  dp::MessageInitiation msg{};
  EXPECT_EQ(create_initiation(msg, bad, site, 1, timestamp(100)), NoiseError::kBadPeerKey);
  EXPECT_EQ(bad.stage(), HandshakeStage::kZeroed);

  // An initiation carrying a low-order ephemeral: es is all zero.
  auto init = initiation();
  init.unencrypted_ephemeral.fill(0);
  EXPECT_EQ(consume_initiation(init, hub, hub_lookup(), at_seconds(0)).error, NoiseError::kZeroDh);
}

TEST_F(Handshake, NoIdentityRefused) {
  LocalIdentity none;
  EXPECT_FALSE(none.has_identity());
  PeerHandshake peer(hub.public_key);
  dp::MessageInitiation msg{};
  EXPECT_EQ(create_initiation(msg, peer, none, 1, timestamp(100)), NoiseError::kNoIdentity);
  auto init = initiation();
  EXPECT_EQ(consume_initiation(init, none, hub_lookup(), at_seconds(0)).error,
            NoiseError::kNoIdentity);
}

TEST_F(Handshake, NewInitiationReplacesPendingOne) {
  auto first = initiation(100);
  // The site restarts its handshake; its state now belongs to the second.
  (void)initiation(101);
  ASSERT_TRUE(consume_initiation(first, hub, hub_lookup(), at_seconds(0)).ok());
  dp::MessageResponse stale{};
  ASSERT_EQ(create_response(stale, *hub_peer_site, kHubIndex), NoiseError::kOk);
  // So the response to the first cannot complete it.
  EXPECT_EQ(consume_response(stale, site, site_lookup()).error, NoiseError::kDecryptFailed);
  EXPECT_EQ(site_peer_hub->stage(), HandshakeStage::kCreatedInitiation);
}

TEST_F(Handshake, ChangedLocalKeyInvalidatesPrecomputation) {
  // After the hub's key changes, the site's initiation (made for the old key)
  // no longer decrypts.
  auto init = initiation();
  hub = random_identity();
  hub_peer_site->local_identity_changed();
  EXPECT_EQ(consume_initiation(init, hub, hub_lookup(), at_seconds(0)).error,
            NoiseError::kDecryptFailed);
}

TEST_F(Handshake, InjectedEphemeralIsDeterministic) {
  std::array<std::uint8_t, 32> e_bytes{};
  e_bytes.fill(0x42);
  const Secret<32> e{std::span<const std::uint8_t, 32>(e_bytes)};
  std::array<std::uint8_t, 32> e_pub{};
  crypto::x25519_public(e_pub, e.span());

  dp::MessageInitiation a{};
  dp::MessageInitiation b{};
  ASSERT_EQ(create_initiation(a, *site_peer_hub, site, 7, timestamp(100), &e), NoiseError::kOk);
  ASSERT_EQ(create_initiation(b, *site_peer_hub, site, 7, timestamp(100), &e), NoiseError::kOk);
  EXPECT_EQ(a.unencrypted_ephemeral, e_pub);
  EXPECT_EQ(a.encrypted_static, b.encrypted_static);
  EXPECT_EQ(a.encrypted_timestamp, b.encrypted_timestamp);
  // Without injection every initiation has a fresh ephemeral.
  auto c = initiation();
  EXPECT_NE(c.unencrypted_ephemeral, e_pub);
}

}  // namespace
}  // namespace wghub::ctl
