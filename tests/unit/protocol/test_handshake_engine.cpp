// The control thread's handshake stage against simulated sites built from our
// own Noise and cookie code: responder and initiator paths, the DoS defence
// under load (cookie replies, mac2, the per-source rate limit), index
// bookkeeping and every drop reason. Time is simulated.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <thread>
#include <set>
#include <vector>

#include "control/handshake_engine.hpp"
#include "crypto/aead.hpp"
#include "crypto/tai64n.hpp"
#include "crypto/x25519.hpp"
#include "tests/unit/protocol/test_util.hpp"

namespace wghub::ctl {
namespace {

using test::at_seconds;
using test::bytes_of;

LocalIdentity fresh_identity() {
  std::array<std::uint8_t, 32> priv;
  crypto::x25519_generate(priv);
  auto id = LocalIdentity::from_private_key(priv);
  crypto::wipe(priv.data(), priv.size());
  return id;
}

// Records what the engine asks of the hub.
class FakeSink : public HandshakeSink {
 public:
  struct Sent {
    SourceAddress to;
    std::vector<std::uint8_t> bytes;
    std::optional<std::uint32_t> slot;  // the peer it was for; none for cookie replies
  };
  void send_handshake(const SourceAddress& to, std::span<const std::uint8_t> m,
                      std::optional<std::uint32_t> slot) override {
    sent.push_back({to, {m.begin(), m.end()}, slot});
  }
  std::optional<std::uint32_t> reserve_index() override {
    if (exhausted) return std::nullopt;
    const std::uint32_t index = next_index++;
    reserved.insert(index);
    return index;
  }
  void release_index(std::uint32_t index) override {
    EXPECT_EQ(reserved.erase(index), 1u) << "released an index that was not reserved";
  }
  void install_keypair(std::uint32_t slot, Keypair&& keypair) override {
    EXPECT_EQ(reserved.erase(keypair.local_index), 1u) << "keypair index was not reserved";
    keypairs.emplace_back(slot, std::move(keypair));
  }
  void set_endpoint(std::uint32_t slot, const SourceAddress& endpoint) override {
    endpoints[slot] = endpoint;
  }
  void send_keepalive(std::uint32_t slot) override { keepalives.push_back(slot); }

  std::vector<Sent> sent;
  std::set<std::uint32_t> reserved;
  std::uint32_t next_index = 0x1000;
  bool exhausted = false;
  std::vector<std::pair<std::uint32_t, Keypair>> keypairs;
  std::map<std::uint32_t, SourceAddress> endpoints;
  std::vector<std::uint32_t> keepalives;
};

// A WireGuard site: our own protocol core playing the far end.
struct Site {
  explicit Site(const PublicKey& hub_public)
      : id(fresh_identity()), hub(hub_public), macs_for_hub(hub_public), checker(id.public_key) {}

  dp::MessageInitiation initiation(std::uint32_t index, TimePoint now) {
    dp::MessageInitiation msg{};
    EXPECT_EQ(create_initiation(msg, hub, id, index, crypto::tai64n_now()), NoiseError::kOk);
    macs_for_hub.add_macs(bytes_of(msg), now);
    return msg;
  }

  LocalIdentity id;
  PeerHandshake hub;         // the site's handshake state with the hub
  CookieMaker macs_for_hub;  // macs on what the site sends the hub
  CookieChecker checker;     // checks what the hub sends the site
};

const SourceAddress kSiteAddr = SourceAddress::ipv4({100, 64, 0, 11}, 40001);

class HandshakeEngineTest : public ::testing::Test {
 protected:
  HandshakeEngineTest()
      : hub_id_(fresh_identity()),
        hub_public_(hub_id_.public_key),
        engine_(std::move(hub_id_), sink_),
        site_(hub_public_) {
    HandshakePeerSettings s;
    s.slot = 7;
    s.name = "plant-1";
    s.public_key = site_.id.public_key;
    engine_.add_peer(s);
  }

  std::uint64_t drops(HandshakeDrop d) const {
    return engine_.counters().drops[static_cast<std::size_t>(d)];
  }

  LocalIdentity hub_id_;
  PublicKey hub_public_;
  FakeSink sink_;
  HandshakeEngine engine_;
  Site site_;
};

// Keys agree: what one side seals the other opens.
void expect_keys_match(const Keypair& a, const Keypair& b) {
  std::array<std::uint8_t, 16 + 16> buf{};
  crypto::aead_seal(buf.data(), buf.data(), 16, nullptr, 0, 0, a.sending_key.data());
  EXPECT_TRUE(
      crypto::aead_open(buf.data(), buf.data(), buf.size(), nullptr, 0, 0, b.receiving_key.data()));
  EXPECT_EQ(a.local_index, b.remote_index);
  EXPECT_EQ(a.remote_index, b.local_index);
}

TEST_F(HandshakeEngineTest, RespondsToSiteAndInstallsMatchingKeypair) {
  auto init = site_.initiation(0xabc, at_seconds(0));
  auto r = engine_.receive(bytes_of(init), kSiteAddr, at_seconds(0));
  ASSERT_EQ(r.outcome, HandshakeOutcome::kSessionDerived);
  EXPECT_EQ(r.peer_slot, 7u);
  ASSERT_EQ(sink_.sent.size(), 1u);
  EXPECT_EQ(sink_.sent[0].to, kSiteAddr);
  ASSERT_EQ(sink_.sent[0].bytes.size(), dp::kMessageResponseSize);
  EXPECT_EQ(sink_.sent[0].slot, 7u);
  EXPECT_EQ(sink_.endpoints.at(7), kSiteAddr);
  ASSERT_EQ(sink_.keypairs.size(), 1u);
  EXPECT_FALSE(sink_.keypairs[0].second.is_initiator);
  EXPECT_TRUE(sink_.keepalives.empty()) << "the responder must not speak first";

  // The site checks the response's mac1 and completes the handshake.
  EXPECT_NE(site_.checker.validate(sink_.sent[0].bytes, SourceAddress{}, at_seconds(0), false),
            MacState::kInvalidMac);
  dp::MessageResponse resp;
  std::memcpy(&resp, sink_.sent[0].bytes.data(), sizeof resp);
  auto consumed = consume_response(resp, site_.id, [&](std::uint32_t i) -> PeerHandshake* {
    return i == 0xabc ? &site_.hub : nullptr;
  });
  ASSERT_TRUE(consumed.ok());
  auto site_keys = begin_session(site_.hub, at_seconds(0));
  ASSERT_TRUE(site_keys);
  expect_keys_match(*site_keys, sink_.keypairs[0].second);
  expect_keys_match(sink_.keypairs[0].second, *site_keys);
  EXPECT_EQ(engine_.counters().sessions_derived, 1u);
  EXPECT_TRUE(sink_.reserved.empty());
}

TEST_F(HandshakeEngineTest, BadMac1IsDroppedSilently) {
  auto init = site_.initiation(1, at_seconds(0));
  init.macs.mac1[0] ^= 1;
  auto r = engine_.receive(bytes_of(init), kSiteAddr, at_seconds(0));
  EXPECT_EQ(r.drop, HandshakeDrop::kInvalidMac);
  EXPECT_TRUE(sink_.sent.empty());
  EXPECT_EQ(drops(HandshakeDrop::kInvalidMac), 1u);
}

TEST_F(HandshakeEngineTest, WrongLengthsAreDropped) {
  auto init = site_.initiation(1, at_seconds(0));
  auto bytes = bytes_of(init);
  EXPECT_EQ(engine_.receive(bytes.first(147), kSiteAddr, at_seconds(0)).drop,
            HandshakeDrop::kBadLength);
  std::vector<std::uint8_t> longer(bytes.begin(), bytes.end());
  longer.push_back(0);
  EXPECT_EQ(engine_.receive(longer, kSiteAddr, at_seconds(0)).drop,
            HandshakeDrop::kBadLength);
  std::vector<std::uint8_t> data_type(bytes.begin(), bytes.end());
  data_type[0] = 4;
  EXPECT_EQ(engine_.receive(data_type, kSiteAddr, at_seconds(0)).drop,
            HandshakeDrop::kBadLength);
  EXPECT_EQ(engine_.receive(bytes.first(2), kSiteAddr, at_seconds(0)).drop,
            HandshakeDrop::kBadLength);
  EXPECT_EQ(drops(HandshakeDrop::kBadLength), 4u);
  EXPECT_TRUE(sink_.sent.empty());
}

TEST_F(HandshakeEngineTest, UnknownPeerIsANoiseDrop) {
  Site stranger(hub_public_);
  auto init = stranger.initiation(1, at_seconds(0));
  auto r = engine_.receive(bytes_of(init), kSiteAddr, at_seconds(0));
  EXPECT_EQ(r.drop, HandshakeDrop::kNoise);
  EXPECT_EQ(r.noise_error, NoiseError::kUnknownPeer);
  EXPECT_TRUE(sink_.sent.empty());
  EXPECT_TRUE(sink_.reserved.empty());
}

TEST_F(HandshakeEngineTest, ReplayedInitiationIsRefused) {
  auto init = site_.initiation(1, at_seconds(0));
  ASSERT_EQ(engine_.receive(bytes_of(init), kSiteAddr, at_seconds(0)).outcome,
            HandshakeOutcome::kSessionDerived);
  auto again = engine_.receive(bytes_of(init), kSiteAddr, at_seconds(1));
  EXPECT_EQ(again.noise_error, NoiseError::kReplayedTimestamp);
  EXPECT_EQ(sink_.keypairs.size(), 1u);
}

// Issue 13.7: a removed peer's replay history outlives it. Without it, an
// initiation captured before the peer was removed is accepted again after the
// same key is added back (and would move its endpoint to the replayer).
TEST_F(HandshakeEngineTest, ReplayRefusedAfterThePeerIsRemovedAndAddedAgain) {
  auto init = site_.initiation(1, at_seconds(0));
  ASSERT_EQ(engine_.receive(bytes_of(init), kSiteAddr, at_seconds(0)).outcome,
            HandshakeOutcome::kSessionDerived);
  engine_.remove_peer(7);
  HandshakePeerSettings s;
  s.slot = 8;  // another slot: the history goes by key
  s.name = "plant-1";
  s.public_key = site_.id.public_key;
  engine_.add_peer(s);
  const auto replayer = SourceAddress::ipv4({198, 51, 100, 9}, 666);
  auto replay = engine_.receive(bytes_of(init), replayer, at_seconds(5));
  EXPECT_EQ(replay.noise_error, NoiseError::kReplayedTimestamp);
  EXPECT_EQ(replay.peer_slot, 8u);
  EXPECT_FALSE(sink_.endpoints.contains(8)) << "the replayer must not become the endpoint";
  // The site's fresh initiation is accepted (its TAI64N is rounded to 2^24 ns:
  // let the wall clock pass a granule).
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto fresh = site_.initiation(2, at_seconds(6));
  EXPECT_EQ(engine_.receive(bytes_of(fresh), kSiteAddr, at_seconds(6)).outcome,
            HandshakeOutcome::kSessionDerived);
  EXPECT_EQ(engine_.counters().retired_keys_forgotten, 0u);
}

// The two steps of handshake_threads.hpp: prepared on one thread, completed
// on another, the session is the one receive() would give.
TEST_F(HandshakeEngineTest, PreparedOnAnotherThreadCompletesToAWorkingSession) {
  auto init = site_.initiation(0xdef, at_seconds(0));
  HandshakeEngine::Prepared prepared;
  std::thread([&] { engine_.prepare_initiation(bytes_of(init), prepared); }).join();
  ASSERT_EQ(prepared.error, NoiseError::kOk);
  EXPECT_EQ(prepared.slot, 7u);
  EXPECT_TRUE(sink_.sent.empty()) << "preparing sends nothing";
  EXPECT_TRUE(sink_.reserved.empty()) << "preparing takes no index";

  auto r = engine_.complete_initiation(prepared, kSiteAddr, at_seconds(0));
  ASSERT_EQ(r.outcome, HandshakeOutcome::kSessionDerived);
  ASSERT_EQ(sink_.sent.size(), 1u);
  dp::MessageResponse resp;
  std::memcpy(&resp, sink_.sent[0].bytes.data(), sizeof resp);
  EXPECT_EQ(resp.sender_index.get(), sink_.keypairs.at(0).second.local_index);
  EXPECT_NE(site_.checker.validate(sink_.sent[0].bytes, SourceAddress{}, at_seconds(0), false),
            MacState::kInvalidMac);
  ASSERT_TRUE(consume_response(resp, site_.id, [&](std::uint32_t i) -> PeerHandshake* {
                return i == 0xdef ? &site_.hub : nullptr;
              }).ok());
  auto site_keys = begin_session(site_.hub, at_seconds(0));
  ASSERT_TRUE(site_keys);
  expect_keys_match(*site_keys, sink_.keypairs[0].second);
  expect_keys_match(sink_.keypairs[0].second, *site_keys);
}

// Replay is decided when completing, against the peer's history: two threads
// that both prepared the same initiation give one session.
TEST_F(HandshakeEngineTest, TheSameInitiationPreparedTwiceCompletesOnce) {
  auto init = site_.initiation(1, at_seconds(0));
  HandshakeEngine::Prepared a, b;
  engine_.prepare_initiation(bytes_of(init), a);
  engine_.prepare_initiation(bytes_of(init), b);
  EXPECT_EQ(engine_.complete_initiation(a, kSiteAddr, at_seconds(0)).outcome,
            HandshakeOutcome::kSessionDerived);
  auto again = engine_.complete_initiation(b, kSiteAddr, at_seconds(1));
  EXPECT_EQ(again.noise_error, NoiseError::kReplayedTimestamp);
  EXPECT_EQ(again.peer_slot, 7u);
  EXPECT_EQ(sink_.keypairs.size(), 1u);
  EXPECT_EQ(sink_.sent.size(), 1u);
  EXPECT_TRUE(sink_.reserved.empty());
}

// A peer removed, or replaced in its slot, while its initiation was being
// prepared is not given a session: the generation tells them apart.
TEST_F(HandshakeEngineTest, PeerReplacedWhilePreparingGetsNoSession) {
  auto init = site_.initiation(1, at_seconds(0));
  HandshakeEngine::Prepared prepared;
  engine_.prepare_initiation(bytes_of(init), prepared);
  ASSERT_EQ(prepared.error, NoiseError::kOk);
  engine_.remove_peer(7);
  HandshakePeerSettings s;
  s.slot = 7;
  s.name = "plant-1-again";
  s.public_key = site_.id.public_key;
  engine_.add_peer(s);
  auto r = engine_.complete_initiation(prepared, kSiteAddr, at_seconds(0));
  EXPECT_EQ(r.noise_error, NoiseError::kUnknownPeer);
  EXPECT_TRUE(sink_.sent.empty());
  EXPECT_TRUE(sink_.keypairs.empty());
  EXPECT_TRUE(sink_.reserved.empty());
  // Its next initiation, prepared against the new peer, succeeds.
  auto next = site_.initiation(2, at_seconds(1));
  EXPECT_EQ(engine_.receive(bytes_of(next), kSiteAddr, at_seconds(1)).outcome,
            HandshakeOutcome::kSessionDerived);
}

// Threads prepare while the control thread adds and removes other peers and
// completes what they hand over (TSan checks the locking in scripts/sanitize).
TEST_F(HandshakeEngineTest, PreparesOnThreadsWhilePeersChange) {
  constexpr int kSites = 24;
  std::vector<std::unique_ptr<Site>> sites;
  std::vector<dp::MessageInitiation> inits;
  for (int i = 0; i < kSites; ++i) {
    sites.push_back(std::make_unique<Site>(hub_public_));
    HandshakePeerSettings s;
    s.slot = 100 + static_cast<std::uint32_t>(i);
    s.name = "site-" + std::to_string(i);
    s.public_key = sites.back()->id.public_key;
    engine_.add_peer(s);
    inits.push_back(sites.back()->initiation(static_cast<std::uint32_t>(i), at_seconds(0)));
  }
  std::vector<HandshakeEngine::Prepared> prepared(kSites);
  std::atomic<int> next{0};
  auto work = [&] {
    for (int i; (i = next.fetch_add(1)) < kSites;)
      engine_.prepare_initiation(bytes_of(inits[static_cast<std::size_t>(i)]),
                                 prepared[static_cast<std::size_t>(i)]);
  };
  std::thread t1(work), t2(work);
  // Meanwhile: strangers come and go.
  for (int round = 0; round < 50; ++round) {
    Site stranger(hub_public_);
    HandshakePeerSettings s;
    s.slot = 1000 + static_cast<std::uint32_t>(round);
    s.name = "stranger";
    s.public_key = stranger.id.public_key;
    engine_.add_peer(s);
    engine_.remove_peer(s.slot);
  }
  t1.join();
  t2.join();
  for (int i = 0; i < kSites; ++i)
    EXPECT_EQ(engine_
                  .complete_initiation(prepared[static_cast<std::size_t>(i)], kSiteAddr,
                                       at_seconds(0))
                  .outcome,
              HandshakeOutcome::kSessionDerived)
        << "site " << i;
  EXPECT_EQ(sink_.keypairs.size(), static_cast<std::size_t>(kSites));
}

// Under load, mac2, cookie replies and the per-source limit are the workers'
// (dataplane/cookie_gate.hpp): tests/pipeline/test_handshake.cpp
// (CookieReplyUnderLoadThenRetryWithMac2, KnownEndpointSkipsCookieUnderLoad...)
// and tests/unit/ports/test_source_limiter.cpp.

class HubInitiatesTest : public HandshakeEngineTest {
 protected:
  HubInitiatesTest() {
    HandshakePeerSettings s;
    s.slot = 9;
    s.name = "kiosk";
    s.public_key = kiosk_.id.public_key;
    s.endpoint = kKioskAddr;
    engine_.add_peer(s);
  }

  // The kiosk answers the hub's initiation with our own responder code.
  dp::MessageResponse respond(const std::vector<std::uint8_t>& bytes) {
    dp::MessageInitiation init;
    std::memcpy(&init, bytes.data(), sizeof init);
    auto consumed = consume_initiation(
        init, kiosk_.id,
        [&](const PublicKey& k) -> PeerHandshake* {
          return k == kiosk_.hub.remote_static() ? &kiosk_.hub : nullptr;
        },
        at_seconds(0));
    EXPECT_TRUE(consumed.ok());
    dp::MessageResponse resp{};
    EXPECT_EQ(create_response(resp, kiosk_.hub, 0x77), NoiseError::kOk);
    kiosk_.macs_for_hub.add_macs(bytes_of(resp), at_seconds(0));
    return resp;
  }

  const SourceAddress kKioskAddr = SourceAddress::ipv4({100, 64, 0, 50}, 51820);
  Site kiosk_{hub_public_};
};

TEST_F(HubInitiatesTest, InitiatesToKnownEndpointAndCompletes) {
  EXPECT_FALSE(engine_.initiate(7, at_seconds(0))) << "peer 7 has no endpoint";
  ASSERT_TRUE(engine_.initiate(9, at_seconds(0)));
  ASSERT_EQ(sink_.sent.size(), 1u);
  EXPECT_EQ(sink_.sent[0].to, kKioskAddr);
  EXPECT_EQ(sink_.reserved.size(), 1u);

  auto resp = respond(sink_.sent[0].bytes);
  auto r = engine_.receive(bytes_of(resp), kKioskAddr, at_seconds(0.01));
  ASSERT_EQ(r.outcome, HandshakeOutcome::kSessionDerived);
  EXPECT_EQ(r.peer_slot, 9u);
  ASSERT_EQ(sink_.keypairs.size(), 1u);
  EXPECT_TRUE(sink_.keypairs[0].second.is_initiator);
  EXPECT_EQ(sink_.keepalives, std::vector<std::uint32_t>{9});
  EXPECT_TRUE(sink_.reserved.empty()) << "the pending index became the keypair's";
  auto kiosk_keys = begin_session(kiosk_.hub, at_seconds(0.01));
  ASSERT_TRUE(kiosk_keys);
  expect_keys_match(*kiosk_keys, sink_.keypairs[0].second);

  // The same response again finds no pending handshake.
  EXPECT_EQ(engine_.receive(bytes_of(resp), kKioskAddr, at_seconds(0.02)).drop,
            HandshakeDrop::kUnknownIndex);
}

TEST_F(HubInitiatesTest, RetriesWaitForRekeyTimeoutAndReleaseOldIndex) {
  ASSERT_TRUE(engine_.initiate(9, at_seconds(0)));
  EXPECT_FALSE(engine_.initiate(9, at_seconds(4.9)));
  ASSERT_TRUE(engine_.initiate(9, at_seconds(5)));
  EXPECT_EQ(sink_.reserved.size(), 1u) << "the first initiation's index was given back";
  ASSERT_TRUE(engine_.initiate(9, at_seconds(5.1), true));
  EXPECT_EQ(sink_.reserved.size(), 1u);
  EXPECT_EQ(engine_.counters().initiations_sent, 3u);
  engine_.remove_peer(9);
  EXPECT_TRUE(sink_.reserved.empty()) << "removing the peer gives its index back";
}

TEST_F(HubInitiatesTest, ConsumesCookieReplyAndRetriesWithMac2) {
  ASSERT_TRUE(engine_.initiate(9, at_seconds(0)));
  // The kiosk is under load: it answers with a cookie instead.
  dp::MessageCookieReply reply{};
  kiosk_.checker.create_cookie_reply(reply, sink_.sent[0].bytes, SourceAddress{}, at_seconds(0));
  auto r = engine_.receive(bytes_of(reply), kKioskAddr, at_seconds(0.01));
  EXPECT_EQ(r.outcome, HandshakeOutcome::kCookieConsumed);
  // A forged cookie reply is refused.
  reply.encrypted_cookie[0] ^= 1;
  EXPECT_EQ(engine_.receive(bytes_of(reply), kKioskAddr, at_seconds(0.01)).drop,
            HandshakeDrop::kBadCookieReply);

  ASSERT_TRUE(engine_.initiate(9, at_seconds(5)));
  EXPECT_EQ(kiosk_.checker.validate(sink_.sent.back().bytes, SourceAddress{}, at_seconds(5), true),
            MacState::kValidMacWithCookie);
}

TEST_F(HandshakeEngineTest, ExhaustedIndexSpaceIsCounted) {
  sink_.exhausted = true;
  auto init = site_.initiation(1, at_seconds(0));
  EXPECT_EQ(engine_.receive(bytes_of(init), kSiteAddr, at_seconds(0)).drop,
            HandshakeDrop::kNoIndex);
  EXPECT_TRUE(sink_.sent.empty());
}

}  // namespace
}  // namespace wghub::ctl
