// Handshakes through the real data plane: a site initiates and the hub's
// responder keypair waits for the first data packet (whitepaper 5.4.5); the
// hub initiates to a site with a configured endpoint; and under load (the
// control ring past 1/8 full) the hub answers with cookie replies, the site
// retries with mac2 and completes, while data of an existing session keeps
// flowing through the workers.
#include <rte_ring.h>
#include <thread>

#include "control/clock.hpp"
#include "control/cookie.hpp"
#include "perf/sim/ring_bed.hpp"
#include "tests/pipeline/pipeline_test.hpp"

namespace wghub::pipeline {
namespace {

using dp::DropReason;

TEST_F(PipelineTest, SiteInitiatesAndFirstDataPromotesKeypair) {
  SimPeer& a = h().peer("site-a");
  h().send(a, a.create_initiation());
  h().run();

  const std::vector<Bytes> wan = h().take_wan();
  ASSERT_EQ(wan.size(), 1u) << "exactly one frame, the response";
  const Bytes response = wireguard_payload_to(wan[0], h().hub_wan(), a.outer());
  ASSERT_EQ(response.size(), dp::kMessageResponseSize);
  EXPECT_EQ(message_type(response), 2u);
  ASSERT_TRUE(a.consume_response(response)) << "the hub's response must authenticate";
  EXPECT_TRUE(h().take_lan().empty());

  const ctl::HandshakeCounters& hs = h().hub().engine().counters();
  EXPECT_EQ(hs.initiations_received, 1u);
  EXPECT_EQ(hs.responses_sent, 1u);
  EXPECT_EQ(hs.sessions_derived, 1u);
  EXPECT_EQ(h().stats().handshakes_to_control, 1u);
  EXPECT_EQ(total_drops(h().stats()), 0u);

  // Responder: the keypair is `next` until the initiator's first data.
  const ctl::Device::Peer& dev = h().device_peer("site-a");
  EXPECT_NE(dev.next, nullptr);
  EXPECT_EQ(dev.current, nullptr);
  EXPECT_EQ(h().hub().dataplane().peers->at(dev.slot).current.load(), nullptr);
  EXPECT_EQ(h().endpoint("site-a"), packed_endpoint(a.outer().ip, a.outer().port));
  EXPECT_EQ(dev.next->local_index, a.keys().remote_index);
  EXPECT_EQ(dev.next->remote_index, a.keys().local_index);

  // Until then the hub cannot send to the site: the packet waits, and the
  // hub does not start a competing handshake (it just responded).
  h().send_from_hq(inner_udp(kHqHostIp, ip4(10, 1, 0, 5), 1, 32));
  h().run();
  EXPECT_EQ(total_drops(h().stats()), 0u);
  EXPECT_TRUE(h().take_wan().empty());
  EXPECT_EQ(dev.staged.size(), 1u);
  EXPECT_EQ(hs.initiations_sent, 0u);

  h().send(a, a.seal(inner_udp(ip4(10, 1, 0, 5), kHqHostIp, 2, 32)));
  h().run();
  EXPECT_EQ(h().stats().decrypted_packets, 1u);
  EXPECT_EQ(dev.next, nullptr);
  ASSERT_NE(dev.current, nullptr);
  EXPECT_EQ(h().hub().dataplane().peers->at(dev.slot).current.load(), dev.current);
  EXPECT_EQ(h().take_lan().size(), 1u);
  // The confirmed keypair carries the waiting packet at once.
  std::vector<Bytes> out = h().take_wan();
  ASSERT_EQ(out.size(), 1u);
  auto opened = a.open(wireguard_payload_to(out[0], h().hub_wan(), a.outer()));
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->counter, 0u);
  const auto inner = parse_ipv4(opened->plaintext);
  ASSERT_TRUE(inner.has_value());
  EXPECT_EQ(Bytes(inner->payload.begin() + 8, inner->payload.end()), pattern_payload(1, 32));
  EXPECT_TRUE(dev.staged.empty());

  // And what follows goes straight from the worker.
  h().send_from_hq(inner_udp(kHqHostIp, ip4(10, 1, 0, 5), 3, 32));
  h().run();
  out = h().take_wan();
  ASSERT_EQ(out.size(), 1u);
  opened = a.open(wireguard_payload_to(out[0], h().hub_wan(), a.outer()));
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->counter, 1u);
  EXPECT_EQ(h().hub().device().staged_counters().sent, 1u);
  EXPECT_EQ(hs.initiations_sent, 0u);
}

// ControlThread::on_wireguard learns an on-link initiator's MAC from its
// authenticated handshake "so the reply ... need[s] no ARP round trip", but
// it learns it only after HandshakeEngine::receive returned, and receive has
// already sent the response: ControlTx::send_via finds no neighbour, holds
// the response and broadcasts an ARP request for the site. The response goes
// out once neighbour_learned() runs, so handshakes work, but every handshake
// from a new on-link sender costs a needless ARP broadcast. Fix (verified
// with this test): before engine_.receive, give ControlTx the frame's source
// (ip, MAC) as a reply hint that send_via uses for exactly that next hop on
// the WAN port, and clear it after receive (only replies to this very frame
// use it; the neighbour table is still only written after authentication).
TEST_F(PipelineTest, ResponseToOnLinkInitiatorNeedsNoArp) {
  SimPeer& a = h().peer("site-a");
  h().send(a, a.create_initiation());
  h().run();
  EXPECT_TRUE(h().wan_arp_requests().empty())
      << "the hub ARPed for " << format_ip(h().wan_arp_requests().front());
  EXPECT_EQ(h().hub().control().counters().handshake_messages, 1u);
  EXPECT_EQ(h().take_wan().size(), 1u);
}

TEST_F(PipelineTest, InitiationWithBadMac1IsIgnored) {
  SimPeer& a = h().peer("site-a");
  Bytes init = a.create_initiation();
  init[init.size() - 20] ^= 1;  // inside mac1
  h().send(a, init);
  h().run();
  EXPECT_TRUE(h().take_wan().empty());
  // The worker drops it: it never takes a slot on a control ring.
  EXPECT_EQ(h().stats().drops[static_cast<std::size_t>(dp::DropReason::kHandshakeBadMac1)], 1u);
  EXPECT_EQ(h().stats().handshakes_to_control, 0u);
  const ctl::HandshakeCounters& hs = h().hub().engine().counters();
  EXPECT_EQ(hs.initiations_received, 0u);
  EXPECT_EQ(hs.responses_sent, 0u);
  EXPECT_EQ(h().device_peer("site-a").next, nullptr);
}

TEST_F(PipelineTest, HubInitiatesToConfiguredEndpoint) {
  rebuild({.peers = {site_a(), site_c()}});
  SimPeer& c = h().peer("site-c");
  // Site C is known on the link (it ARPed for the hub) before the control
  // thread's first step; that step runs the first tick: site-c has an
  // endpoint and no session, so the hub initiates.
  h().inject_wan(arp_frame(1, kBroadcastMac, c.outer().mac, c.outer().ip, Mac{}, kHubWanIp));
  h().run();
  EXPECT_TRUE(h().wan_arp_requests().empty());
  std::vector<Bytes> wan = h().take_wan();
  ASSERT_EQ(wan.size(), 2u) << "our ARP reply and the initiation";
  EXPECT_EQ(parse_frame(wan[0])->ether_type, kEtherTypeArp);
  const Bytes initiation = wireguard_payload_to(wan[1], h().hub_wan(), c.outer());
  ASSERT_EQ(initiation.size(), dp::kMessageInitiationSize);
  EXPECT_EQ(message_type(initiation), 1u);
  EXPECT_EQ(h().hub().engine().counters().initiations_sent, 1u);

  const auto response = c.consume_initiation(initiation);
  ASSERT_TRUE(response.has_value()) << "the hub's initiation must authenticate (mac1, Noise)";
  h().send(c, *response);
  h().run();

  const ctl::HandshakeCounters& hs = h().hub().engine().counters();
  EXPECT_EQ(hs.responses_received, 1u);
  EXPECT_EQ(hs.sessions_derived, 1u);
  // The initiator's keypair sends at once ...
  ASSERT_NE(h().device_peer("site-c").current, nullptr);
  // ... and its first message is a keepalive that confirms the session.
  wan = h().take_wan();
  ASSERT_EQ(wan.size(), 1u);
  const auto keepalive = c.open(wireguard_payload_to(wan[0], h().hub_wan(), c.outer()));
  ASSERT_TRUE(keepalive.has_value());
  EXPECT_TRUE(keepalive->plaintext.empty());
  EXPECT_EQ(keepalive->counter, 0u);

  // Data from HQ to the site flows without the site speaking first.
  h().send_from_hq(inner_udp(kHqHostIp, ip4(10, 3, 0, 9), 7, 100));
  h().run();
  wan = h().take_wan();
  ASSERT_EQ(wan.size(), 1u);
  const auto data = c.open(wireguard_payload_to(wan[0], h().hub_wan(), c.outer()));
  ASSERT_TRUE(data.has_value());
  EXPECT_EQ(data->counter, 1u);
  const auto inner = parse_ipv4(data->plaintext);
  ASSERT_TRUE(inner.has_value());
  EXPECT_EQ(inner->dst, ip4(10, 3, 0, 9));

  // And from the site to HQ.
  h().send(c, c.seal(inner_udp(ip4(10, 3, 0, 9), kHqHostIp, 8, 100)));
  h().run();
  EXPECT_EQ(h().take_lan().size(), 1u);
  EXPECT_EQ(h().stats().decrypted_packets, 1u);
  EXPECT_EQ(total_drops(h().stats()), 0u);
}

// Hub-initiated session (issue 4): packets for a site with a known endpoint
// and no session wait in the peer's queue (at most 128, oldest dropped first,
// as the kernel's MAX_STAGED_PACKETS) and go out, in order, on the keypair
// the handshake brings.
TEST_F(PipelineTest, PacketsWaitForTheHandshakeTheyStarted) {
  rebuild({.peers = {site_a(), site_c()}});
  SimPeer& c = h().peer("site-c");
  h().inject_wan(arp_frame(1, kBroadcastMac, c.outer().mac, c.outer().ip, Mac{}, kHubWanIp));
  h().run();
  std::vector<Bytes> wan = h().take_wan();
  ASSERT_EQ(wan.size(), 2u) << "our ARP reply and the initiation (configured endpoint)";
  const Bytes initiation = wireguard_payload_to(wan[1], h().hub_wan(), c.outer());

  constexpr std::uint32_t kSent = ctl::Device::kMaxStagedPackets + 2;
  for (std::uint32_t seq = 0; seq < kSent; ++seq)
    h().send_from_hq(inner_udp(kHqHostIp, ip4(10, 3, 0, 9), seq, 64));
  h().run();
  EXPECT_TRUE(h().take_wan().empty())
      << "no session yet, and no second initiation within REKEY_TIMEOUT";
  EXPECT_EQ(total_drops(h().stats()), 0u);
  const ctl::Device::StagedCounters& staged = h().hub().device().staged_counters();
  EXPECT_EQ(staged.queued, kSent);
  EXPECT_EQ(staged.overflow, 2u);
  EXPECT_EQ(h().device_peer("site-c").staged.size(), ctl::Device::kMaxStagedPackets);
  EXPECT_EQ(h().hub().engine().counters().initiations_sent, 1u);

  const auto response = c.consume_initiation(initiation);
  ASSERT_TRUE(response.has_value());
  h().send(c, *response);
  h().run();
  wan = h().take_wan();
  ASSERT_EQ(wan.size(), ctl::Device::kMaxStagedPackets + 1)
      << "the waiting packets and a keepalive";
  for (std::size_t i = 0; i < wan.size(); ++i) {
    const auto opened = c.open(wireguard_payload_to(wan[i], h().hub_wan(), c.outer()));
    ASSERT_TRUE(opened.has_value()) << i;
    EXPECT_EQ(opened->counter, i);
    if (i == ctl::Device::kMaxStagedPackets) {
      EXPECT_TRUE(opened->plaintext.empty()) << "the keepalive confirming the session";
      continue;
    }
    const auto inner = parse_ipv4(opened->plaintext);
    ASSERT_TRUE(inner.has_value());
    // The two oldest were dropped: sequence numbers 2.. in order.
    EXPECT_EQ(Bytes(inner->payload.begin() + 8, inner->payload.end()),
              pattern_payload(static_cast<std::uint32_t>(i + 2), 64))
        << i;
  }
  EXPECT_EQ(staged.sent, ctl::Device::kMaxStagedPackets);
  EXPECT_TRUE(h().device_peer("site-c").staged.empty());
  EXPECT_EQ(h().device_peer("site-c").timers.handshake_attempts(), 0u);
  EXPECT_FALSE(h().device_peer("site-c").timers.retransmit_armed());
}

// Regression (found by this tier, fixed): a handshake message the control thread sends from its
// tick to a neighbour it still has to resolve is dropped in the same step. poll_once() takes
// now_tsc, then Device::tick -> HandshakeEngine::initiate -> Device::send_handshake stamps the held
// frame (and the neighbour entry's asked_at) with a later rte_get_tsc_cycles(); then
// ControlTx::tick(now_tsc) computes `now - since` with since > now: the unsigned difference is
// huge, "waited too long", and the frame is freed (held_dropped). The ARP request goes out, the
// initiation does not; the next try comes only after REKEY_TIMEOUT (5 s). Keepalives sent from the
// tick are hit the same way, and NeighbourTable::needs_request underflows likewise (a second ARP
// request in the same step). Fix (verified with this test): in ControlThread::poll_once call
// tx_.tick(rte_get_tsc_cycles()) after device_.tick instead of tx_.tick(now_tsc) -- or pass now_tsc
// down to Device::send_handshake/send_keepalive so no stamp is later than `now`.
TEST_F(PipelineTest, HubInitiationWaitsForArpInsteadOfBeingDropped) {
  rebuild({.peers = {site_a(), site_c()}});
  SimPeer& c = h().peer("site-c");
  h().run();  // first tick: initiation held, ARP request for the site
  EXPECT_EQ(h().wan_arp_requests(), std::vector<std::uint32_t>{kSiteCOuterIp});
  ASSERT_TRUE(h().hub().dataplane().wan.neighbours->lookup(rte_cpu_to_be_32(kSiteCOuterIp)))
      << "the bench answered the ARP request";
  const std::vector<Bytes> wan = h().take_wan();
  ASSERT_EQ(wan.size(), 1u) << "the held initiation must go out once the site answered ARP";
  const Bytes initiation = wireguard_payload_to(wan[0], h().hub_wan(), c.outer());
  EXPECT_TRUE(c.consume_initiation(initiation).has_value());
}

TEST_F(PipelineTest, CookieReplyUnderLoadThenRetryWithMac2) {
  SimPeer& a = h().peer("site-a");
  SimPeer& b = h().peer("site-b");
  ASSERT_TRUE(h().establish(a));
  // HQ's MAC resolved before the flood.
  h().send(a, a.seal(inner_udp(ip4(10, 1, 0, 5), kHqHostIp, 0, 40)));
  h().run();
  ASSERT_EQ(h().take_lan().size(), 1u);
  // Site B's router announces itself, so cookie replies need no ARP.
  h().inject_wan(arp_frame(1, kBroadcastMac, b.outer().mac, b.outer().ip, Mac{}, kHubWanIp));
  h().run();
  h().take_wan();

  const std::uint64_t sessions_before = h().hub().engine().counters().sessions_derived;
  const dp::LcoreStats before = h().stats();
  rte_ring* handshakes = h().hub().dataplane().handshakes;
  const unsigned threshold = rte_ring_get_capacity(handshakes) / 8;
  const unsigned flood = threshold + 89;  // 600 with the 4096-slot ring

  // The flood: copies of one initiation from B (valid mac1), with A's data
  // in between. Only the workers run: the handshake ring fills up.
  const Bytes initiation = b.create_initiation();
  for (unsigned i = 0; i < flood; ++i) {
    h().send(b, initiation);
    if (i % 100 == 0) h().send(a, a.seal(inner_udp(ip4(10, 1, 0, 5), kHqHostIp, i, 200)));
  }
  h().run_workers();
  EXPECT_EQ(rte_ring_count(handshakes), flood);
  const unsigned data_packets = (flood + 99) / 100;
  EXPECT_EQ(h().take_lan().size(), data_packets) << "data must not wait for the control thread";
  EXPECT_EQ(h().stats().decrypted_packets - before.decrypted_packets, data_packets);
  EXPECT_EQ(h().stats().handshakes_to_control - before.handshakes_to_control, flood);

  // The control thread finds the ring past 1/8: under load, and what was
  // queued before the workers knew is answered with cookies from there.
  h().run();
  EXPECT_EQ(h().hub().control().counters().under_load_entered, 1u);
  EXPECT_TRUE(h().hub().dataplane().under_load.load());
  EXPECT_EQ(h().hub().control().counters().cookie_replies_sent, flood);
  EXPECT_EQ(h().hub().engine().counters().sessions_derived, sessions_before);
  std::vector<Bytes> wan = h().take_wan();
  ASSERT_EQ(wan.size(), flood);
  const Bytes cookie_reply = wireguard_payload_to(wan.back(), h().hub_wan(), b.outer());
  ASSERT_EQ(cookie_reply.size(), dp::kMessageCookieReplySize);
  EXPECT_EQ(message_type(cookie_reply), 3u);
  ASSERT_TRUE(b.consume_cookie_reply(cookie_reply));

  // Still under load: the workers answer the copies with cookies
  // themselves (16 to a call: crypto/*_lanes.hpp), as many as B's source's
  // cookie budget allows (its burst, and what refilled meanwhile); the rest
  // are dropped as cookie_rate_limited. A reply of theirs authenticates
  // against the copies' mac1 for a site that holds no cookie (a CookieMaker
  // of the hub's key, as B's was before the first reply). B's retry carries
  // mac2, goes up on the proven ring and is answered, behind nothing.
  const dp::LcoreStats mid = h().stats();
  for (unsigned i = 1; i < flood; ++i) h().send(b, initiation);
  h().run_workers();
  EXPECT_EQ(rte_ring_count(handshakes), 0u);
  const std::uint64_t worker_cookies = h().stats().cookie_replies_sent - mid.cookie_replies_sent;
  const std::uint64_t over_budget =
      h().stats().drops[static_cast<std::size_t>(dp::DropReason::kCookieRateLimited)] -
      mid.drops[static_cast<std::size_t>(dp::DropReason::kCookieRateLimited)];
  EXPECT_GE(worker_cookies, dp::SourceLimiter::kCookieRepliesBurstable);
  EXPECT_EQ(worker_cookies + over_budget, flood - 1);
  wan = h().take_wan();
  ASSERT_EQ(wan.size(), worker_cookies);
  {
    ctl::CookieMaker fresh(perfsim::bed_hub_public_key());
    Bytes copy = initiation;
    fresh.add_macs(copy, ctl::Clock::now());
    ASSERT_EQ(copy, initiation);  // the same mac1, and mac2 zero
    const Bytes worker_reply = wireguard_payload_to(wan[wan.size() / 2], h().hub_wan(), b.outer());
    ASSERT_EQ(worker_reply.size(), dp::kMessageCookieReplySize);
    dp::MessageCookieReply reply;
    std::memcpy(&reply, worker_reply.data(), sizeof reply);
    EXPECT_TRUE(fresh.consume_cookie_reply(reply, ctl::Clock::now()));
  }
  const Bytes retry = b.create_initiation();
  h().send(b, retry);
  h().run_workers();
  EXPECT_EQ(rte_ring_count(handshakes), 0u);
  EXPECT_EQ(rte_ring_count(h().hub().dataplane().handshakes_proven), 1u);
  EXPECT_EQ(h().stats().cookie_replies_sent - mid.cookie_replies_sent, worker_cookies);
  EXPECT_EQ(h().stats().handshakes_proven - mid.handshakes_proven, 1u);
  h().run();
  const ctl::HandshakeCounters& hs = h().hub().engine().counters();
  EXPECT_EQ(hs.sessions_derived, sessions_before + 1);
  EXPECT_EQ(h().hub().control().counters().cookie_replies_sent, flood);
  bool completed = false;
  for (const Bytes& f : h().take_wan()) {
    const auto pf = parse_frame(f);
    if (pf && pf->udp_payload.size() == dp::kMessageResponseSize)
      completed = b.consume_response(pf->udp_payload);
  }
  ASSERT_TRUE(completed);
  h().send(b, b.seal(inner_udp(ip4(10, 2, 0, 5), kHqHostIp, 1, 64)));
  h().run();
  EXPECT_EQ(h().take_lan().size(), 1u);
  EXPECT_NE(h().device_peer("site-b").current, nullptr);
  EXPECT_EQ(total_drops(h().stats()), over_budget);
}

// Under load, a site that initiates from the endpoint it authenticated
// from before skips the cookie round trip (KnownSources) and is answered at
// once, behind none of the flood; past the per-source burst the rest of its
// messages are dropped as handshake_rate_limited.
TEST_F(PipelineTest, KnownEndpointSkipsCookieUnderLoadWithinItsSourceLimit) {
  SimPeer& a = h().peer("site-a");
  SimPeer& b = h().peer("site-b");
  ASSERT_TRUE(h().establish(a));
  h().inject_wan(arp_frame(1, kBroadcastMac, b.outer().mac, b.outer().ip, Mac{}, kHubWanIp));
  h().run();
  h().take_wan();
  rte_ring* handshakes = h().hub().dataplane().handshakes;
  const unsigned flood = rte_ring_get_capacity(handshakes) / 8 + 10;
  const Bytes copy = b.create_initiation();
  for (unsigned i = 0; i < flood; ++i) h().send(b, copy);
  h().run_workers();
  h().run();  // under load; the queued copies get cookie replies
  ASSERT_TRUE(h().hub().dataplane().under_load.load());
  h().take_wan();

  const std::uint64_t sessions = h().hub().engine().counters().sessions_derived;
  const dp::LcoreStats before = h().stats();
  // A's fresh initiation carries no mac2 (A holds no cookie), and more of
  // the flood follows it. (More than 1/50 s after A's last initiation, or the
  // hub refuses it as a flood: whitepaper 5.1, kernel INITIATIONS_PER_SECOND.)
  std::this_thread::sleep_for(std::chrono::milliseconds(25));
  const Bytes fresh = a.create_initiation();
  h().send(a, fresh);
  for (unsigned i = 0; i < 100; ++i) h().send(b, copy);
  h().run_workers();
  EXPECT_EQ(h().stats().handshakes_proven - before.handshakes_proven, 1u);
  EXPECT_EQ(h().stats().cookie_replies_sent - before.cookie_replies_sent, 100u);
  h().run();
  EXPECT_EQ(h().hub().engine().counters().sessions_derived, sessions + 1);
  bool answered = false;
  for (const Bytes& f : h().take_wan()) {
    const auto pf = parse_frame(f);
    if (pf && pf->udp_payload.size() == dp::kMessageResponseSize)
      answered = a.consume_response(pf->udp_payload);
  }
  EXPECT_TRUE(answered) << "no response to the site at its known endpoint";

  // The same source, faster than 20/s: 4 more in its burst of 5, then drops.
  const dp::LcoreStats mid = h().stats();
  for (int i = 0; i < 10; ++i) h().send(a, a.create_initiation());
  h().run_workers();
  EXPECT_EQ(h().stats().handshakes_proven - mid.handshakes_proven, 4u);
  EXPECT_EQ(h().stats().drops[static_cast<std::size_t>(dp::DropReason::kHandshakeRateLimited)] -
                mid.drops[static_cast<std::size_t>(dp::DropReason::kHandshakeRateLimited)],
            6u);
  h().run();
}

}  // namespace
}  // namespace wghub::pipeline
