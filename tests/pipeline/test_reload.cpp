// Reload at scale without stopping the hub (control/reload.hpp): the file is
// parsed and diffed on a thread and applied in slices between control polls.
// A large peer set is reloaded (some removed, some added, all the others with
// new AllowedIPs) while a site's data keeps flowing both ways and sites
// handshake between the slices: nothing may be lost, and every handshake is
// answered before the reload is over. Then: a bad file changes nothing, and
// reloads requested while one is in flight coalesce into one.
//
// The peer count is the largest that loads and applies in a few seconds here
// (scripts/bench-scale measures 10^5 and beyond with the real binary). No
// timing is asserted: slices are bounded by a peer count for the test.
#include <algorithm>
#include <chrono>
#include <thread>

#include "tests/pipeline/pipeline_test.hpp"

namespace wghub::pipeline {
namespace {

constexpr std::size_t kPeers = 20000;
constexpr std::size_t kRemoved = 1000;  // g0 .. g999 go
constexpr std::size_t kAdded = 1000;    // g20000 .. g20999 come
constexpr std::size_t kPerSlice = 500;

// Steps the reload until its file is parsed and diffed (on its thread).
void wait_parsed(Harness& h) {
  while (h.hub().reloader().busy() && !h.hub().reloader().parsed()) {
    h.hub().poll_control_once();
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

// One data packet site -> HQ through the workers only (the control thread
// is stepped by the reload loop): true when it came out on the LAN.
bool site_to_hq(Harness& h, SimPeer& site, std::uint32_t seq) {
  h.send(site, site.seal(inner_udp(ip4(10, 1, 0, 5), kHqHostIp, seq, 64)));
  h.run_workers();
  return h.take_lan().size() == 1;
}

// And HQ -> site: the hub encrypts it to the site, which must open it.
bool hq_to_site(Harness& h, SimPeer& site, std::uint32_t seq) {
  h.send_from_hq(inner_udp(kHqHostIp, ip4(10, 1, 0, 5), seq, 64));
  h.run_workers();
  const std::vector<Bytes> wan = h.take_wan();
  if (wan.size() != 1) return false;
  return site.open(wireguard_payload_to(wan[0], h.hub_wan(), site.outer())).has_value();
}

class ReloadTest : public PipelineTest {
 protected:
  void SetUp() override {
    HarnessOptions o;
    o.generated_peers = kPeers;
    rebuild(std::move(o));
  }
  std::string reloaded_config() const {
    std::string yaml = h_->config_head() + h_->config_played_peers();
    for (std::size_t i = kRemoved; i < kPeers + kAdded; ++i)
      yaml += generated_peer(i, i < kPeers ? 1 << 19 : 0);
    return yaml;
  }
};

TEST_F(ReloadTest, LargeReloadInSlicesLosesNothingAndAnswersHandshakes) {
  SimPeer& a = h().peer("site-a");
  SimPeer& b = h().peer("site-b");
  ASSERT_TRUE(h().establish(a));
  h().send(a, a.seal(inner_udp(ip4(10, 1, 0, 5), kHqHostIp, 0, 64)));
  h().run();  // the first packet waits for ARP of the HQ host
  ASSERT_EQ(h().take_lan().size(), 1u);
  ASSERT_EQ(h().hub().device().peers().size(), kPeers + 2);
  const std::uint64_t a_handshakes = h().device_peer("site-a").handshakes;
  const ctl::HandshakeCounters& hs = h().hub().engine().counters();
  const std::uint64_t responses_before = hs.responses_sent;

  ASSERT_TRUE(h().write_config(reloaded_config()));
  h().hub().reloader().set_options({std::chrono::hours(1), kPerSlice});
  h().hub().request_reload();
  wait_parsed(h());
  ASSERT_TRUE(h().hub().reloader().parsed());

  unsigned slices = 0, delivered = 0, sent = 0, rekeyed_at = 0;
  bool b_done = false;
  std::uint32_t seq = 1;
  while (h().hub().reloader().busy()) {
    h().hub().poll_control_once();  // one slice, and whatever the rings hold
    ++slices;
    // Data both ways between every two slices, through the workers. HQ ->
    // site first: the simulated site keeps only its newest keypair, and
    // after its rekey the hub moves to the new one once the control thread
    // has seen the site's first packet on it (the poll above).
    for (int k = 0; k < 4; ++k, ++sent) {
      const bool ok = hq_to_site(h(), a, seq++);
      delivered += ok ? 1 : 0;
      EXPECT_TRUE(ok) << "HQ -> site packet " << seq - 1 << " after poll " << slices;
    }
    for (int k = 0; k < 4; ++k, ++sent) {
      const bool ok = site_to_hq(h(), a, seq++);
      delivered += ok ? 1 : 0;
      EXPECT_TRUE(ok) << "site -> HQ packet " << seq - 1 << " after poll " << slices;
    }
    if (slices == 5) {
      // Site B's first handshake, and site A rekeys, in the middle of the
      // reload: the control thread answers between two slices.
      h().send(b, b.create_initiation());
      h().send(a, a.create_initiation());
      h().run_workers();
      h().hub().poll_control_once();  // answers both (and applies one more slice)
      ++slices;
      for (const Bytes& f : h().take_wan()) {
        const auto pf = parse_frame(f);
        if (!pf || pf->udp_payload.size() != dp::kMessageResponseSize) continue;
        if (pf->dst_ip == b.outer().ip) b_done = b.consume_response(pf->udp_payload);
        if (pf->dst_ip == a.outer().ip && a.consume_response(pf->udp_payload)) rekeyed_at = slices;
      }
      ASSERT_TRUE(b_done) << "site B's handshake was not answered during the reload";
      ASSERT_NE(rekeyed_at, 0u) << "site A's rekey was not answered during the reload";
      ASSERT_TRUE(h().hub().reloader().busy()) << "the reload ended before the handshakes";
      // Both confirm their new keypairs with data: B a keepalive, A its
      // next packets (on the new keys).
      h().send(b, b.seal({}));
      h().run_workers();
      for (int k = 0; k < 4; ++k, ++sent) {
        const bool ok = site_to_hq(h(), a, seq++);
        delivered += ok ? 1 : 0;
        EXPECT_TRUE(ok) << "site -> HQ packet " << seq - 1 << " on the new keys";
      }
    }
  }

  const ctl::ReloadReport& r = h().hub().reloader().last();
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.removed, kRemoved);
  EXPECT_EQ(r.added, kAdded);
  EXPECT_EQ(r.changed, kPeers - kRemoved);
  EXPECT_EQ(r.failed, 0u);
  const std::size_t changes = kRemoved + kAdded + (kPeers - kRemoved);
  EXPECT_EQ(r.slices, (changes + kPerSlice - 1) / kPerSlice);
  EXPECT_GE(slices, kPeers / kPerSlice);
  EXPECT_EQ(sent, delivered) << "data lost during the reload";
  EXPECT_GT(sent, 8u * (kPeers / kPerSlice) - 1);
  EXPECT_EQ(hs.responses_sent, responses_before + 2);
  EXPECT_EQ(h().device_peer("site-a").handshakes, a_handshakes + 1);
  EXPECT_EQ(h().device_peer("site-b").handshakes, 1u);

  // The state now running is the new file's, and the tables agree with it.
  EXPECT_EQ(h().hub().device().peers().size(), kPeers - kRemoved + kAdded + 2);
  EXPECT_EQ(h().hub().state().peers.size(), kPeers - kRemoved + kAdded + 2);
  EXPECT_EQ(h().hub().state().find_peer(std::string("g0")), nullptr);
  EXPECT_NE(h().hub().state().find_peer(std::string("g20999")), nullptr);
  // g1000 moved from 172.16.3.232 to 172.24.3.232 (1 << 19 further).
  const auto moved = h().hub().dataplane().fib->lookup(ip4(172, 24, 3, 232));
  EXPECT_EQ(moved.kind, dp::NextHopKind::kPeer);
  EXPECT_EQ(moved.id, h().slot("g1000"));
  EXPECT_FALSE(h().hub().dataplane().fib->lookup(ip4(172, 16, 3, 232)).found());
  EXPECT_EQ(total_drops(h().stats()), 0u);

  // And after it, site A's session (on its new keys) still carries data.
  EXPECT_TRUE(site_to_hq(h(), a, seq++));
  EXPECT_TRUE(hq_to_site(h(), a, seq++));
}

TEST_F(ReloadTest, ABadFileChangesNothingAndNamesTheLine) {
  std::string yaml = reloaded_config();
  yaml += "  - name: broken\n    public_key: \"not a key\"\n    allowed_ips: [10.9.0.0/24]\n";
  ASSERT_TRUE(h().write_config(yaml));
  EXPECT_FALSE(h().hub().reload());
  const ctl::ReloadReport& r = h().hub().reloader().last();
  EXPECT_FALSE(r.ok);
  ASSERT_EQ(r.errors.size(), 1u);
  // file:line:column: field: message
  const std::string where =
      h().config_path() + ":" + std::to_string(std::count(yaml.begin(), yaml.end(), '\n') - 1) +
      ":17: peers[" + std::to_string(kPeers - kRemoved + kAdded + 2) + "].public_key: ";
  EXPECT_EQ(r.errors[0].rfind(where, 0), 0u) << r.errors[0] << "\nwanted " << where;
  EXPECT_EQ(h().hub().reloader().completed(), 1u);
  EXPECT_EQ(h().hub().device().peers().size(), kPeers + 2);
  EXPECT_NE(h().hub().state().find_peer(std::string("g0")), nullptr);
  EXPECT_EQ(h().hub().state().peers.size(), kPeers + 2);
}

TEST_F(ReloadTest, RequestsDuringAReloadCoalesceIntoOneMore) {
  ASSERT_TRUE(h().write_config(reloaded_config()));
  h().hub().reloader().set_options({std::chrono::hours(1), kPerSlice});
  h().hub().request_reload();
  wait_parsed(h());
  h().hub().poll_control_once();  // a slice
  // Three SIGHUPs while the first is applying: one more reload, not three.
  h().hub().request_reload();
  h().hub().request_reload();
  h().hub().request_reload();
  while (h().hub().reloader().busy()) {
    h().hub().poll_control_once();
    if (!h().hub().reloader().parsed()) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  EXPECT_EQ(h().hub().reloader().completed(), 2u);
  // The second found the file already applied: nothing left to do.
  EXPECT_TRUE(h().hub().reloader().last().ok);
  EXPECT_EQ(h().hub().reloader().last().added + h().hub().reloader().last().removed +
                h().hub().reloader().last().changed,
            0u);
  EXPECT_EQ(h().hub().device().peers().size(), kPeers - kRemoved + kAdded + 2);
}

}  // namespace
}  // namespace wghub::pipeline
