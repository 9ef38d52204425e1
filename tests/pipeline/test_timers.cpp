// The device's timers on the real data plane in simulated time: the test calls
// Device::tick itself with a clock (and TSC) it moves forward, so minutes of
// protocol time pass in milliseconds. The control thread's own ticks, at real
// time, find nothing due meanwhile. The state machine itself is covered as
// tables in tests/unit/protocol/test_timers.cpp; these check what the device
// does with its decisions: initiations on the wire, packets purged, keys gone.
#include <rte_cycles.h>

#include <limits>

#include "tests/pipeline/pipeline_test.hpp"

namespace wghub::pipeline {
namespace {

using namespace std::chrono_literals;

class TimersTest : public PipelineTest {
 protected:
  // One device tick `offset` after the start of the simulated time.
  void tick_at(ctl::Clock::duration offset) {
    const auto seconds = std::chrono::duration<double>(offset).count();
    const auto tsc =
        base_tsc_ + static_cast<std::uint64_t>(seconds * static_cast<double>(rte_get_tsc_hz()));
    h().hub().device().tick(h().hub().engine(), base_ + offset, tsc);
  }
  void start_clock() {
    base_ = ctl::Clock::now();
    base_tsc_ = rte_get_tsc_cycles();
  }
  // One pass as the control thread runs them (Device::tick_slice: a sweep
  // only every kSweepEvery-th pass; tick() is always one).
  void pass_at(ctl::Clock::duration offset) {
    const auto seconds = std::chrono::duration<double>(offset).count();
    const auto tsc =
        base_tsc_ + static_cast<std::uint64_t>(seconds * static_cast<double>(rte_get_tsc_hz()));
    while (!h().hub().device().tick_slice(h().hub().engine(), base_ + offset, tsc,
                                          std::numeric_limits<std::size_t>::max())) {
    }
  }
  std::size_t initiations_on_wan(const SimPeer& to) {
    std::size_t n = 0;
    for (const Bytes& frame : h().take_wan()) {
      const Bytes msg = wireguard_payload_to(frame, h().hub_wan(), to.outer());
      EXPECT_EQ(message_type(msg), 1u);
      ++n;
    }
    return n;
  }

  // Sites A and C; site C (configured endpoint) announces itself on the link
  // and the hub dials it at once. Returns the hub's first initiation; the
  // simulated clock starts then.
  Bytes dial_site_c() {
    rebuild({.peers = {site_a(), site_c()}});
    SimPeer& c = h().peer("site-c");
    h().inject_wan(arp_frame(1, kBroadcastMac, c.outer().mac, c.outer().ip, Mac{}, kHubWanIp));
    h().run();
    start_clock();
    const std::vector<Bytes> wan = h().take_wan();
    EXPECT_EQ(wan.size(), 2u) << "ARP reply and the first initiation";
    if (wan.size() != 2) return {};
    return wireguard_payload_to(wan[1], h().hub_wan(), c.outer());
  }

  ctl::TimePoint base_;
  std::uint64_t base_tsc_ = 0;
};

// REKEY_ATTEMPT_TIME: a site that never answers gets 20 initiations, one per
// REKEY_TIMEOUT (+ jitter < 1/3 s), then the hub gives up and drops what
// waited for it.
TEST_F(TimersTest, UnansweredHandshakeIsRetriedThenAbandoned) {
  ASSERT_FALSE(dial_site_c().empty());
  SimPeer& c = h().peer("site-c");

  for (std::uint32_t seq = 0; seq < 5; ++seq)
    h().send_from_hq(inner_udp(kHqHostIp, ip4(10, 3, 0, 9), seq, 64));
  h().run();
  EXPECT_TRUE(h().take_wan().empty());
  const ctl::Device::StagedCounters& staged = h().hub().device().staged_counters();
  EXPECT_EQ(staged.queued, 5u);

  // Nothing before REKEY_TIMEOUT.
  tick_at(4900ms);
  EXPECT_EQ(initiations_on_wan(c), 0u);
  for (int k = 1; k <= 19; ++k) {
    tick_at(k * 5500ms);
    EXPECT_EQ(initiations_on_wan(c), 1u) << "retransmission " << k;
    EXPECT_EQ(h().device_peer("site-c").timers.handshake_attempts(), static_cast<unsigned>(k));
  }
  EXPECT_EQ(staged.purged, 0u);
  tick_at(20 * 5500ms);
  EXPECT_EQ(initiations_on_wan(c), 0u) << "given up";
  EXPECT_EQ(staged.purged, 5u);
  EXPECT_TRUE(h().device_peer("site-c").staged.empty());
  EXPECT_EQ(h().hub().engine().counters().initiations_sent, 20u);
  tick_at(300s);
  EXPECT_EQ(initiations_on_wan(c), 0u) << "no traffic, no handshake";
}

// At 2^20 peers most have nothing to do (never connected, or long gone): a
// pass skips them between sweeps, and whatever gives one work wakes it.
TEST_F(TimersTest, QuietPeersWaitForTheSweepUnlessWoken) {
  rebuild({.peers = {site_a()}});
  start_clock();
  ctl::Device& device = h().hub().device();
  tick_at(100ms);  // a sweep: site A, never connected, has nothing to do
  const std::uint64_t skipped = device.quiet_skipped();
  pass_at(200ms);
  EXPECT_EQ(device.quiet_skipped(), skipped + 1) << "the next pass is no sweep";
  // Dialling it (wg set ... endpoint) wakes it: the next pass, no sweep
  // either, starts the handshake.
  const std::uint64_t sent = h().hub().engine().counters().initiations_sent;
  const auto endpoint = config::Endpoint::parse("100.64.0.77:51820");
  ASSERT_TRUE(endpoint.value.has_value());
  ASSERT_TRUE(device.dial(h().slot("site-a"), *endpoint.value));
  pass_at(300ms);
  EXPECT_EQ(device.quiet_skipped(), skipped + 1) << "serviced, not skipped";
  EXPECT_EQ(h().hub().engine().counters().initiations_sent, sent + 1);
  // Awake while its handshake is retried: no pass skips it.
  for (int k = 4; k < 4 + 2 * static_cast<int>(ctl::Device::kSweepEvery); ++k) pass_at(k * 100ms);
  EXPECT_EQ(device.quiet_skipped(), skipped + 1);
}

// The status line's "peers N/M live" is counted by the timer passes (no
// walk of every peer when it is printed): site A's session, not site B
// (never connected), until REJECT_AFTER_TIME has passed.
TEST_F(TimersTest, LiveSessionsAreCountedByThePasses) {
  SimPeer& a = h().peer("site-a");
  ASSERT_TRUE(h().establish(a));
  start_clock();
  ctl::Device& device = h().hub().device();
  tick_at(1s);
  EXPECT_EQ(device.live_sessions(), 1u);
  pass_at(2s);  // no sweep: site B, quiet, is skipped and was never live
  EXPECT_EQ(device.live_sessions(), 1u);
  tick_at(181s);
  EXPECT_EQ(device.live_sessions(), 0u) << "past REJECT_AFTER_TIME the session is gone";
}

// Whitepaper 6.3: 3 * REJECT_AFTER_TIME after the last session, every key
// of the peer is erased; its old receiver index is then unknown.
TEST_F(TimersTest, KeyMaterialIsErasedAfterNineMinutes) {
  SimPeer& a = h().peer("site-a");
  ASSERT_TRUE(h().establish(a));
  start_clock();
  h().send(a, a.seal(inner_udp(ip4(10, 1, 0, 5), kHqHostIp, 1, 40)));
  h().run();
  ASSERT_EQ(h().take_lan().size(), 1u);
  const ctl::Device::Peer& dev = h().device_peer("site-a");
  ASSERT_NE(dev.current, nullptr);
  ASSERT_TRUE(dev.timers.zero_key_material_armed());

  tick_at(539s);
  EXPECT_NE(dev.current, nullptr) << "past REJECT_AFTER_TIME the keypair is useless, but kept";
  tick_at(541s);
  EXPECT_EQ(dev.current, nullptr);
  EXPECT_EQ(dev.previous, nullptr);
  EXPECT_EQ(dev.next, nullptr);
  EXPECT_EQ(h().hub().dataplane().peers->at(dev.slot).current.load(), nullptr);

  const dp::LcoreStats before = h().stats();
  h().send(a, a.seal(inner_udp(ip4(10, 1, 0, 5), kHqHostIp, 2, 40)));
  h().run();
  EXPECT_TRUE(h().take_lan().empty());
  expect_drops_moved(before, h().stats(), dp::DropReason::kUnknownIndex, 1);
}

// Site C (configured endpoint) with the hub as the initiator of the session.
class InitiatorTimersTest : public TimersTest {
 protected:
  void SetUp() override {
    TimersTest::SetUp();
    const Bytes initiation = dial_site_c();
    ASSERT_FALSE(initiation.empty());
    SimPeer& c = h().peer("site-c");
    const auto response = c.consume_initiation(initiation);
    ASSERT_TRUE(response.has_value());
    h().send(c, *response);
    h().run();
    ASSERT_EQ(h().take_wan().size(), 1u) << "the confirming keepalive";
    ASSERT_TRUE(h().device_peer("site-c").current->is_initiator);
  }
  // The test plays the worker: it stamps a packet sent or received at a
  // simulated time, as a worker would; the next tick reads the stamp.
  void stamp(std::atomic<std::uint64_t> dp::PeerState::*field, double seconds) {
    dp::PeerState& st = h().hub().dataplane().peers->at(h().slot("site-c"));
    (st.*field).store(base_tsc_ +
                      static_cast<std::uint64_t>(seconds * static_cast<double>(rte_get_tsc_hz())));
  }
  SimPeer& c() { return h().peer("site-c"); }
};

// send.c keep_key_fresh: the initiator renews the session when it sends
// after REKEY_AFTER_TIME, not before.
TEST_F(InitiatorTimersTest, RenewsWhenSendingAfterTwoMinutes) {
  stamp(&dp::PeerState::last_tx_tsc, 60);
  tick_at(60s);
  EXPECT_EQ(initiations_on_wan(c()), 0u) << "a 60 s old keypair is fresh";
  tick_at(121s);
  EXPECT_EQ(initiations_on_wan(c()), 0u) << "nothing sent: nothing to renew for";
  stamp(&dp::PeerState::last_tx_tsc, 122);
  tick_at(122s);
  EXPECT_EQ(initiations_on_wan(c()), 1u) << "REKEY_AFTER_TIME: renewed on sending";
}

// receive.c keep_key_fresh: 165 s into its session, a packet from the site
// makes the initiator try once ("last minute"), in case its rekey was lost.
TEST_F(InitiatorTimersTest, LastMinuteHandshakeOnReceive) {
  stamp(&dp::PeerState::last_rx_tsc, 160);
  tick_at(160s);
  EXPECT_EQ(initiations_on_wan(c()), 0u);
  stamp(&dp::PeerState::last_rx_tsc, 166);
  tick_at(166s);
  EXPECT_EQ(initiations_on_wan(c()), 1u);
  stamp(&dp::PeerState::last_rx_tsc, 167);
  tick_at(167s);
  EXPECT_EQ(initiations_on_wan(c()), 0u) << "only once per session";
}

}  // namespace
}  // namespace wghub::pipeline
