// Budgets a stranger or an offline site can fill (issue 12): packets staged
// for handshakes across all peers, and ARP/NDP/echo passed up to the control
// thread. Each test fills the budget and checks that its counter moves while
// a live site keeps forwarding both ways.
#include "tests/pipeline/pipeline_test.hpp"

namespace wghub::pipeline {
namespace {

// Sites 10.100.i.0/24 with a configured endpoint 100.64.0.(100+i), never
// answered: traffic for them waits for a handshake that does not come.
std::vector<PeerSpec> offline_sites(unsigned n) {
  std::vector<PeerSpec> specs{site_a()};
  for (unsigned i = 0; i < n; ++i)
    specs.push_back(
        {"offline-" + std::to_string(i),
         static_cast<std::uint8_t>(0x40 + i),
         Outer{test_mac(static_cast<std::uint16_t>(0x4000 + i)), ip4(100, 64, 0, 100 + i), 51820},
         {"10.100." + std::to_string(i) + ".0/24"},
         true});
  return specs;
}

// Site A's session carries a packet to HQ and one back.
void expect_site_a_forwards(Harness& h, std::uint32_t seq) {
  SimPeer& a = h.peer("site-a");
  h.send(a, a.seal(inner_udp(ip4(10, 1, 0, 5), kHqHostIp, seq, 100)));
  h.run();
  EXPECT_EQ(h.take_lan().size(), 1u) << "site A -> HQ";
  h.send_from_hq(inner_udp(kHqHostIp, ip4(10, 1, 0, 5), seq, 100));
  h.run();
  std::size_t opened = 0;
  for (const Bytes& f : h.take_wan()) {
    const auto pf = parse_frame(f);
    if (pf && a.open(pf->udp_payload)) ++opened;
  }
  EXPECT_EQ(opened, 1u) << "HQ -> site A";
}

TEST_F(PipelineTest, StagedPacketsHaveOneBudgetAcrossPeers) {
  constexpr unsigned kPerPeer = ctl::Device::kMaxStagedPackets;
  constexpr unsigned kFull = ctl::Device::kStagedBudget / kPerPeer;  // peers that fill it
  rebuild({.peers = offline_sites(kFull + 2)});
  ASSERT_TRUE(h().establish(h().peer("site-a")));
  expect_site_a_forwards(h(), 0);
  h().take_wan();

  // kPerPeer packets for each offline site, a peer at a time (the workers'
  // ring to the control thread holds 2048).
  for (unsigned i = 0; i < kFull + 2; ++i) {
    for (unsigned seq = 0; seq < kPerPeer; ++seq)
      h().send_from_hq(inner_udp(kHqHostIp, ip4(10, 100, i, 9), seq, 64));
    h().run();
    h().take_wan();  // ARP requests and initiations towards the offline sites
  }
  const ctl::Device::StagedCounters& staged = h().hub().device().staged_counters();
  EXPECT_EQ(staged.waiting, ctl::Device::kStagedBudget);
  EXPECT_EQ(staged.queued, ctl::Device::kStagedBudget);
  EXPECT_EQ(staged.over_budget, 2u * kPerPeer) << "the last two sites' packets found it full";
  EXPECT_EQ(h().device_peer("offline-" + std::to_string(kFull + 1)).staged.size(), 0u);
  EXPECT_EQ(total_drops(h().stats()), 0u);

  // The pool is not drained: the live site still forwards both ways.
  expect_site_a_forwards(h(), 1);

  // A peer's removal gives its share back.
  ASSERT_TRUE(h().hub().device().remove_peer(h().peer("offline-0").public_key()));
  EXPECT_EQ(staged.waiting, ctl::Device::kStagedBudget - kPerPeer);
}

TEST_F(PipelineTest, PingFloodAtTheHubMeetsTheLocalBudget) {
  SimPeer& a = h().peer("site-a");
  ASSERT_TRUE(h().establish(a));
  expect_site_a_forwards(h(), 0);
  h().take_wan();
  const dp::LcoreStats before = h().stats();
  const std::uint64_t answered = h().hub().control().counters().icmp_answered;
  // Far more echo requests at once than the worker's share of the budget
  // (burst 1000 across the workers): the rest never reaches a ring.
  constexpr unsigned kPings = 3000;
  for (unsigned i = 0; i < kPings; ++i)
    h().inject_wan(
        ethernet_frame(h().hub_wan().mac, a.outer().mac, kEtherTypeIpv4,
                       ipv4_packet(a.outer().ip, kHubWanIp, kProtoIcmp,
                                   echo_request(0x4242, static_cast<std::uint16_t>(i)))));
  h().run();
  const std::uint64_t limited =
      h().stats().drops[static_cast<std::size_t>(dp::DropReason::kLocalRateLimited)] -
      before.drops[static_cast<std::size_t>(dp::DropReason::kLocalRateLimited)];
  const std::uint64_t up = h().hub().control().counters().icmp_answered - answered;
  EXPECT_GT(limited, 0u);
  EXPECT_EQ(limited + up, kPings) << "every echo request is answered or counted";
  EXPECT_LE(up, dp::LocalLimit{}.burst + 100u) << "about one burst goes up, not the flood";
  h().take_wan();
  expect_site_a_forwards(h(), 1);
}

// A captured initiation of a known peer, replayed: each copy fails
// (replayed timestamp) and would log and audit a line; past the budget of
// 20 lines (then 10 a second) the rest are only counted.
TEST_F(PipelineTest, ReplayedInitiationsMeetTheLogBudget) {
  SimPeer& a = h().peer("site-a");
  const Bytes initiation = a.create_initiation();
  h().send(a, initiation);
  h().run();
  h().take_wan();
  constexpr unsigned kCopies = 300;  // under the under-load mark: each one runs Noise
  for (unsigned i = 0; i < kCopies; ++i) h().send(a, initiation);
  h().run();
  const auto& hs = h().hub().engine().counters();
  EXPECT_EQ(hs.noise_errors[static_cast<std::size_t>(ctl::NoiseError::kReplayedTimestamp)],
            kCopies);
  const std::uint64_t suppressed = h().hub().control().counters().log_lines_suppressed;
  EXPECT_GT(suppressed, 0u);
  EXPECT_LE(suppressed, kCopies - 20) << "the burst of 20 lines is always there";
}

// A site sends to LAN addresses nobody answers (a scan of the LAN's /64):
// each would be an incomplete neighbour entry with a Neighbor Solicitation
// and a held frame. Past a quarter of the table the rest are refused and
// counted; the HQ host's resolved entry and site A's session are untouched.
TEST_F(PipelineTest, UnansweredLanNeighboursMeetTheIncompleteBudget) {
  rebuild(dual_stack());
  SimPeer& a = h().peer("site-a");
  ASSERT_TRUE(h().establish(a));
  auto udp6 = [](const Ip6& src, const Ip6& dst, std::uint32_t seq) {
    return udp6_packet(src, dst, 1000, 2000, pattern_payload(seq, 100));
  };
  // Site A <-> the HQ host, over IPv6: one packet each way.
  auto forwards = [&](std::uint32_t seq) {
    h().send(a, a.seal(udp6(kSiteAHost6, kHqHostIp6, seq)));
    h().run();
    EXPECT_EQ(h().take_lan().size(), 1u) << "site A -> HQ";
    h().send_from_hq6(udp6(kHqHostIp6, kSiteAHost6, seq));
    h().run();
    std::size_t opened = 0;
    for (const Bytes& f : h().take_wan()) {
      const auto pf = parse_frame(f);
      if (pf && a.open(pf->udp_payload)) ++opened;
    }
    EXPECT_EQ(opened, 1u) << "HQ -> site A";
  };
  forwards(0);  // the HQ host's entry is resolved
  const dp::Neighbour6Table& table = *h().hub().dataplane().lan.neighbours6;
  const std::size_t budget = table.max_incomplete();
  const std::uint64_t refused_before = table.incomplete_refused();
  // Twice the budget, quicker than an entry gives up (3 tries, 1 s apart).
  const std::size_t targets = 2 * budget;
  for (std::size_t i = 0; i < targets; ++i) {
    char text[40];
    std::snprintf(text, sizeof text, "fd00::1:%zx", i);
    h().send(a, a.seal(udp6(kSiteAHost6, ip6(text), static_cast<std::uint32_t>(i + 1))));
    if (i % 64 == 63) h().run();
  }
  h().run();
  EXPECT_TRUE(h().take_lan().empty()) << "nothing reaches an unresolved host";
  const std::uint64_t refused = table.incomplete_refused() - refused_before;
  EXPECT_GT(refused, 0u);
  EXPECT_LE(table.incomplete(), budget);
  // The HQ host's one, then at most 3 tries per admitted address, none for
  // a refused one.
  EXPECT_LE(h().lan_ndp_requests().size(), 1 + (targets - refused) * 3);
  forwards(1);
}

}  // namespace
}  // namespace wghub::pipeline
