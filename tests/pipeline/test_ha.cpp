// Fencing (docs/ha.md): a hub whose election says standby answers nothing on
// either port (no ARP/NDP for the shared addresses, no handshake, no data
// out); on becoming active it announces the addresses (gratuitous ARP,
// unsolicited NA) and answers; losing the lease fences it again at once.
#include <algorithm>
#include <atomic>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "control/election.hpp"
#include "tests/pipeline/pipeline_test.hpp"

namespace wghub::pipeline {
namespace {

class FakeRole : public ctl::RoleSource {
 public:
  bool answering(Clock::time_point) const override { return active.load(); }
  ctl::ElectionStatus status() const override {
    ctl::ElectionStatus s;
    s.leader = active ? name_ : "hub-other";
    return s;
  }
  const std::string& node() const override { return name_; }
  void publish_endpoints(std::vector<std::pair<std::string, std::string>> changed) override {
    published.push_back(std::move(changed));
  }
  std::vector<std::pair<std::string, std::string>> take_endpoints() override {
    return std::move(to_take);
  }
  std::atomic<bool> active{false};
  // The control thread's calls (it is the only caller; the test reads
  // between runs).
  std::vector<std::vector<std::pair<std::string, std::string>>> published;
  std::vector<std::pair<std::string, std::string>> to_take;

 private:
  std::string name_ = "hub-test";
};

class HaTest : public PipelineTest {
 protected:
  void TearDown() override {
    if (h_) h_->hub().control().set_election(nullptr);
  }
  FakeRole role_;
};

Bytes arp_for_hub(const SimPeer& a) {
  return arp_frame(1, kBroadcastMac, a.outer().mac, a.outer().ip, Mac{}, kHubWanIp);
}

TEST_F(HaTest, StandbyAnswersNothingOnTheWan) {
  SimPeer& a = h().peer("site-a");
  h().hub().control().set_election(&role_);
  h().inject_wan(arp_for_hub(a));
  h().run();
  EXPECT_TRUE(h().take_wan().empty()) << "a standby answered ARP for the service address";
  EXPECT_FALSE(h().handshake(a)) << "a standby answered a handshake";
  EXPECT_GE(h().drops(dp::DropReason::kStandby), 2u);
  EXPECT_EQ(h().hub().control().counters().arp_answered, 0u);
  // Nor on the LAN: the pair shares the gateway address too.
  h().inject_lan(arp_frame(1, kBroadcastMac, kHqHostMac, kHqHostIp, Mac{}, kHubLanIp));
  h().run();
  EXPECT_TRUE(h().take_lan().empty()) << "a standby answered ARP for the LAN address";
  EXPECT_EQ(h().hub().control().became_active(), 0u);
}

TEST_F(HaTest, TakeoverAnnouncesTheAddressThenAnswers) {
  SimPeer& a = h().peer("site-a");
  h().hub().control().set_election(&role_);
  h().run();
  EXPECT_TRUE(h().take_wan().empty());
  EXPECT_TRUE(h().wan_arp_requests().empty()) << "a standby sent ARP";
  role_.active = true;
  h().run();
  // The bed logs every ARP request's target: a gratuitous ARP asks for our
  // own address, on each port.
  auto count = [](const std::vector<std::uint32_t>& targets, std::uint32_t ip) {
    return std::count(targets.begin(), targets.end(), ip);
  };
  EXPECT_EQ(count(h().wan_arp_requests(), kHubWanIp), 1) << "no gratuitous ARP on the WAN";
  EXPECT_EQ(count(h().lan_arp_requests(), kHubLanIp), 1) << "no gratuitous ARP on the LAN";
  bool na = false;
  for (const Bytes& f : h().take_wan()) {
    const auto pf = parse_frame(f);
    ASSERT_TRUE(pf.has_value());
    EXPECT_EQ(pf->src, h().hub_wan().mac);
    if (pf->ether_type == kEtherTypeIpv6 && pf->icmp6_type == 136) {
      EXPECT_EQ(pf->src_ip6, kHubWanIp6);
      na = true;
    }
  }
  EXPECT_EQ(na, h().hub().dataplane().wan.local.has_ip6) << "unsolicited NA on takeover";
  h().take_lan();
  EXPECT_EQ(h().hub().control().became_active(), 1u);
  // Active: ARP answered, handshake and data go through.
  h().inject_wan(arp_for_hub(a));
  h().run();
  EXPECT_EQ(h().take_wan().size(), 1u);
  ASSERT_TRUE(h().establish(a));
  h().send_from_hq(inner_udp(kHqHostIp, ip4(10, 1, 0, 5), 1, 100));
  h().run();
  EXPECT_EQ(h().take_wan().size(), 1u);

  // The lease is lost: fenced at once, the session's data stays in.
  role_.active = false;
  h().run();
  h().take_wan();
  const std::uint64_t before = h().drops(dp::DropReason::kStandby);
  h().send_from_hq(inner_udp(kHqHostIp, ip4(10, 1, 0, 5), 2, 100));
  h().run();
  EXPECT_TRUE(h().take_wan().empty()) << "a fenced hub sent data on the WAN";
  EXPECT_EQ(h().drops(dp::DropReason::kStandby), before + 1);
  EXPECT_EQ(h().hub().control().became_standby(), 1u);
}

std::string outer_text(const SimPeer& p) {
  return format_ip(p.outer().ip) + ":" + std::to_string(p.outer().port);
}

// The active hub publishes its peers' endpoints, walking the peers a slice
// per control poll (1 here), each once.
TEST_F(HaTest, ActiveHubPublishesEndpointsASlicePerPoll) {
  SimPeer& a = h().peer("site-a");
  SimPeer& b = h().peer("site-b");
  ASSERT_TRUE(h().establish(a));  // no election yet: active
  ASSERT_TRUE(h().establish(b));
  h().hub().control().set_scan_slice(1);
  role_.active = true;
  h().hub().control().set_election(&role_);
  std::map<std::string, std::string> seen;
  for (int i = 0; i < 20 && seen.size() < 2; ++i) {
    h().run();
    for (const auto& batch : role_.published) {
      EXPECT_LE(batch.size(), 1u) << "more peers than the slice in one poll";
      for (const auto& [name, value] : batch) EXPECT_TRUE(seen.emplace(name, value).second);
    }
    role_.published.clear();
  }
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen["site-a"], outer_text(a));
  EXPECT_EQ(seen["site-b"], outer_text(b));
  // Unchanged endpoints are not published again by the next pass.
  h().run();
  EXPECT_TRUE(role_.published.empty());
}

// On takeover the hub dials the endpoints the previous active hub published,
// for the peers it has (the name -> slot map built a slice per poll).
TEST_F(HaTest, TakeoverDialsThePublishedEndpoints) {
  SimPeer& b = h().peer("site-b");
  h().hub().control().set_scan_slice(1);
  h().hub().control().set_election(&role_);
  h().run();
  role_.to_take = {{"gone", "100.64.0.99:51820"}, {"site-b", outer_text(b)}};
  role_.active = true;
  std::size_t initiations = 0;
  for (int i = 0; i < 20 && initiations == 0; ++i) {
    h().run();
    // A dial sends its initiation at the device's next tick.
    h().hub().device().tick(h().hub().engine(), ctl::Clock::now(), rte_get_tsc_cycles());
    h().run();
    for (const Bytes& f : h().take_wan()) {
      const auto pf = parse_frame(f);
      if (pf && pf->proto == kProtoUdp && pf->dst_ip == b.outer().ip &&
          message_type(pf->udp_payload) == 1)
        ++initiations;
    }
  }
  EXPECT_EQ(initiations, 1u) << "no handshake initiation to site-b's published endpoint";
  EXPECT_EQ(h().hub().control().takeover_dials(), 1u);
  EXPECT_EQ(h().endpoint("site-b"), packed_endpoint(b.outer().ip, b.outer().port));
}

TEST_F(HaTest, WithoutAnElectionTheHubIsActive) {
  SimPeer& a = h().peer("site-a");
  EXPECT_TRUE(h().hub().dataplane().answering.load());
  h().inject_wan(arp_for_hub(a));
  h().run();
  EXPECT_EQ(h().take_wan().size(), 1u);
}

}  // namespace
}  // namespace wghub::pipeline
