// Issue 13, routing safety: forwarding decisions a LAN host or a site could
// turn against the hub. Item 1: a packet from the LAN may not carry a source
// that belongs to a peer (a site's AllowedIPs) or to the hub itself, in
// either address family; each such packet is dropped as spoofed_lan_source
// and nothing reaches the tunnel. Item 6: broadcast, multicast, loopback,
// "this network", link-local and IPv6 multicast addresses are never
// forwarded, as destination or as source, from a site or from the LAN, each
// under its own drop reason. Item 2: a peer's AllowedIPs may not replace
// the hub's own routes (the LAN's subnet, a default route, the hub's
// addresses), from wg(8) or a reload alike. Item 3: a peer's AllowedIPs
// that fill the FIB part way are rolled back, and a later claim of the same
// prefixes works (it used to throw std::out_of_range, which aborted a reload).
#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <string>
#include <thread>

#include <rte_cycles.h>
#include <rte_ring.h>

#include "control/uapi_backend.hpp"
#include "crypto/base64.hpp"
#include "tests/pipeline/pipeline_test.hpp"

namespace wghub::pipeline {
namespace {

using dp::DropReason;

// Site A's session is up, so anything the hub forwards to it shows on the WAN.
class LanIngressTest : public PipelineTest {
 protected:
  void SetUp() override {
    rebuild(dual_stack());
    ASSERT_TRUE(h().establish(a()));
    // The check is not blanket: the HQ host's own source goes through.
    h().send_from_hq(inner_udp(kHqHostIp, ip4(10, 1, 0, 5), 0, 100));
    h().send_from_hq6(udp6_packet(kHqHostIp6, kSiteAHost6, 1000, 2000, pattern_payload(0, 100)));
    h().run();
    ASSERT_EQ(h().take_wan().size(), 2u);
    ASSERT_EQ(total_drops(h().stats()), 0u);
  }
  SimPeer& a() { return h().peer("site-a"); }

  void expect_lan_drop(const Bytes& ip_packet, bool v6, DropReason reason) {
    const dp::LcoreStats before = h().stats();
    if (v6) {
      h().send_from_hq6(ip_packet);
    } else {
      h().send_from_hq(ip_packet);
    }
    h().run();
    expect_drops_moved(before, h().stats(), reason, 1);
    EXPECT_TRUE(h().take_wan().empty());
    EXPECT_TRUE(h().take_lan().empty());
  }
};

TEST_F(LanIngressTest, SourceInsideAnotherSitesPrefixIsDropped) {
  // A LAN host posing as site B towards site A: A would accept it, since its
  // AllowedIPs for the hub include B's network.
  expect_lan_drop(inner_udp(ip4(10, 2, 0, 7), ip4(10, 1, 0, 5), 1, 100), false,
                  DropReason::kSpoofedLanSource);
  expect_lan_drop(udp6_packet(kSiteBHost6, kSiteAHost6, 1000, 2000, pattern_payload(1, 100)), true,
                  DropReason::kSpoofedLanSource);
}

TEST_F(LanIngressTest, SourceOfTheSiteItselfIsDropped) {
  expect_lan_drop(inner_udp(ip4(10, 1, 0, 9), ip4(10, 1, 0, 5), 2, 100), false,
                  DropReason::kSpoofedLanSource);
  expect_lan_drop(udp6_packet(ip6("fd00:1::9"), kSiteAHost6, 1000, 2000, pattern_payload(2, 100)),
                  true, DropReason::kSpoofedLanSource);
}

TEST_F(LanIngressTest, HubsOwnAddressAsSourceIsDropped) {
  expect_lan_drop(inner_udp(kHubLanIp, ip4(10, 1, 0, 5), 3, 100), false,
                  DropReason::kSpoofedLanSource);
  expect_lan_drop(inner_udp(kHubWanIp, ip4(10, 1, 0, 5), 4, 100), false,
                  DropReason::kSpoofedLanSource);
  expect_lan_drop(udp6_packet(kHubLanIp6, kSiteAHost6, 1000, 2000, pattern_payload(3, 100)), true,
                  DropReason::kSpoofedLanSource);
}

TEST_F(LanIngressTest, UnroutedSourceStillPasses) {
  // A LAN network the hub has no route for (not a site's, not the hub's).
  h().send_from_hq(inner_udp(ip4(192, 168, 50, 1), ip4(10, 1, 0, 5), 5, 100));
  h().run();
  EXPECT_EQ(h().take_wan().size(), 1u);
  EXPECT_EQ(total_drops(h().stats()), 0u);
}

// Site A owns 0.0.0.0/0 and ::/0 (allowed: the harness configures no LAN
// gateway), so every inner source passes its AllowedIPs check and only the
// never-forwarded ranges can stop it.
class MartianTest : public PipelineTest {
 protected:
  void SetUp() override {
    HarnessOptions o;
    o.ipv6 = true;
    PeerSpec everything = site_a();
    everything.allowed_ips = {"0.0.0.0/0", "::/0"};
    o.peers = {everything};
    rebuild(o);
    ASSERT_TRUE(h().establish(a()));
    // Not blanket: an ordinary packet goes through both ways.
    h().send(a(), a().seal(inner_udp(ip4(10, 1, 0, 5), kHqHostIp, 0, 100)));
    h().send_from_hq(inner_udp(kHqHostIp, ip4(10, 1, 0, 5), 0, 100));
    h().run();
    ASSERT_EQ(h().take_lan().size(), 1u);
    ASSERT_EQ(h().take_wan().size(), 1u);
    ASSERT_EQ(total_drops(h().stats()), 0u);
  }
  SimPeer& a() { return h().peer("site-a"); }

  void expect_drop(DropReason reason) {
    h().run();
    expect_drops_moved(before_, h().stats(), reason, 1);
    EXPECT_TRUE(h().take_wan().empty());
    EXPECT_TRUE(h().take_lan().empty());
  }
  // From the site, through decryption.
  void from_site(const Bytes& inner, DropReason reason) {
    before_ = h().stats();
    h().send(a(), a().seal(inner));
    expect_drop(reason);
  }
  void from_lan(const Bytes& packet, DropReason reason) {
    before_ = h().stats();
    h().send_from_hq(packet);
    expect_drop(reason);
  }
  void from_lan6(const Bytes& packet, DropReason reason) {
    before_ = h().stats();
    h().send_from_hq6(packet);
    expect_drop(reason);
  }

  dp::LcoreStats before_;
};

struct Martian4 {
  std::uint32_t address;
  DropReason reason;
};
const Martian4 kMartians4[] = {
    {ip4(255, 255, 255, 255), DropReason::kIpv4Broadcast},
    {ip4(224, 0, 0, 5), DropReason::kIpv4Multicast},
    {ip4(239, 255, 255, 250), DropReason::kIpv4Multicast},
    {ip4(127, 0, 0, 1), DropReason::kIpv4Loopback},
    {ip4(127, 200, 1, 1), DropReason::kIpv4Loopback},
    {ip4(0, 0, 0, 0), DropReason::kIpv4ThisNetwork},
    {ip4(0, 1, 2, 3), DropReason::kIpv4ThisNetwork},
};

TEST_F(MartianTest, Ipv4FromTheSite) {
  std::uint32_t seq = 1;
  for (const Martian4& m : kMartians4) {
    SCOPED_TRACE(format_ip(m.address));
    from_site(inner_udp(ip4(10, 1, 0, 5), m.address, seq++, 100), m.reason);
    from_site(inner_udp(m.address, kHqHostIp, seq++, 100), m.reason);
  }
}

TEST_F(MartianTest, Ipv4FromTheLan) {
  std::uint32_t seq = 1;
  for (const Martian4& m : kMartians4) {
    SCOPED_TRACE(format_ip(m.address));
    from_lan(inner_udp(kHqHostIp, m.address, seq++, 100), m.reason);
    from_lan(inner_udp(m.address, ip4(10, 1, 0, 5), seq++, 100), m.reason);
  }
}

TEST_F(MartianTest, Ipv6FromTheSite) {
  const Ip6 site = ip6("fd00:1::5");
  std::uint32_t seq = 1;
  for (const char* text : {"ff02::1", "ff0e::1234", "fe80::1", "febf::1"}) {
    SCOPED_TRACE(text);
    const Ip6 martian = ip6(text);
    const DropReason why =
        martian[0] == 0xff ? DropReason::kIpv6Multicast : DropReason::kIpv6LinkLocal;
    from_site(udp6_packet(site, martian, 1000, 2000, pattern_payload(seq++, 100)), why);
    from_site(udp6_packet(martian, kHqHostIp6, 1000, 2000, pattern_payload(seq++, 100)), why);
  }
}

TEST_F(MartianTest, Ipv6FromTheLan) {
  const Ip6 site = ip6("fd00:1::5");
  // A multicast destination in a frame unicast to the hub.
  from_lan6(udp6_packet(kHqHostIp6, ip6("ff0e::1234"), 1000, 2000, pattern_payload(1, 100)),
            DropReason::kIpv6Multicast);
  from_lan6(udp6_packet(kHqHostIp6, ip6("fe80::1"), 1000, 2000, pattern_payload(2, 100)),
            DropReason::kIpv6LinkLocal);
  from_lan6(udp6_packet(ip6("fe80::10"), site, 1000, 2000, pattern_payload(3, 100)),
            DropReason::kIpv6LinkLocal);
}

config::Prefix prefix(const char* text) {
  return config::Prefix::parse(text).value.value();
}

// wg(8)'s requests, through the hub's real UAPI backend.
class RoutePolicyTest : public PipelineTest {
 protected:
  void SetUp() override { start({}); }
  void start(HarnessOptions o) {
    rebuild(std::move(o));
    uapi_ = std::make_unique<ctl::DeviceUapiBackend>(h().hub().device(),
                                                     h().hub().state().interface.private_key,
                                                     kListenPort, h().hub().public_key(), nullptr);
  }
  SimPeer& a() { return h().peer("site-a"); }

  // `wg set wghub0 peer KEY allowed-ips LIST` (replaces the list).
  int wg_set_allowed_ips(const ctl::PublicKey& key, const std::vector<const char*>& prefixes) {
    ctl::uapi::SetRequest request;
    ctl::uapi::PeerChange change;
    change.public_key = key;
    change.replace_allowed_ips = true;
    for (const char* p : prefixes) change.allowed_ips.push_back({prefix(p), false});
    request.peers.push_back(std::move(change));
    return uapi_->set(request);
  }
  std::vector<config::Prefix> allowed_ips(const std::string& name) {
    return h().device_peer(name).allowed_ips;
  }
  // Site A -> HQ and HQ -> site A both still work.
  void expect_hq_reachable() {
    ASSERT_TRUE(h().establish(a()));
    h().send(a(), a().seal(inner_udp(ip4(10, 1, 0, 5), kHqHostIp, 7, 100)));
    h().run();
    EXPECT_EQ(h().take_lan().size(), 1u);
    h().send_from_hq(inner_udp(kHqHostIp, ip4(10, 1, 0, 5), 8, 100));
    h().run();
    EXPECT_EQ(h().take_wan().size(), 1u);
    EXPECT_EQ(total_drops(h().stats()), 0u);
  }

  static std::string stranger_key() {
    ctl::PublicKey key;
    key.fill(0x77);
    return crypto::key_to_base64(key.data());
  }

  std::unique_ptr<ctl::DeviceUapiBackend> uapi_;
};

TEST_F(RoutePolicyTest, WgSetWithTheLanPrefixIsRefused) {
  EXPECT_EQ(wg_set_allowed_ips(a().public_key(), {"10.1.0.0/24", "10.0.0.0/24"}), EPERM);
  EXPECT_EQ(allowed_ips("site-a"), std::vector{prefix("10.1.0.0/24")});
  const auto lan = h().hub().dataplane().fib->rule(kHubLanIp, 24);
  ASSERT_TRUE(lan.has_value());
  EXPECT_EQ(lan->kind, dp::NextHopKind::kLanConnected);
  expect_hq_reachable();
}

TEST_F(RoutePolicyTest, WgSetWithTheHubsAddressesIsRefused) {
  ctl::PublicKey stranger;
  stranger.fill(0x77);
  for (const char* own : {"10.0.0.1/32", "100.64.0.1/32"}) {
    SCOPED_TRACE(own);
    EXPECT_EQ(wg_set_allowed_ips(a().public_key(), {own}), EPERM);
    EXPECT_EQ(wg_set_allowed_ips(stranger, {own}), EPERM);  // a new peer: not added
  }
  EXPECT_EQ(h().hub().device().find(stranger), nullptr);
  EXPECT_EQ(allowed_ips("site-a"), std::vector{prefix("10.1.0.0/24")});
  expect_hq_reachable();
  // The check is not blanket: another prefix is taken.
  EXPECT_EQ(wg_set_allowed_ips(a().public_key(), {"10.1.0.0/24", "10.0.0.0/16"}), 0);
}

TEST_F(RoutePolicyTest, DefaultRouteOnlyWithoutALanGateway) {
  // No gateway (the harness default): site A may be the default route.
  EXPECT_EQ(wg_set_allowed_ips(a().public_key(), {"10.1.0.0/24", "0.0.0.0/0"}), 0);
  HarnessOptions o;
  o.lan_gateway = true;
  start(o);
  EXPECT_EQ(wg_set_allowed_ips(a().public_key(), {"10.1.0.0/24", "0.0.0.0/0"}), EPERM);
  EXPECT_EQ(allowed_ips("site-a"), std::vector{prefix("10.1.0.0/24")});
  const auto gateway = h().hub().dataplane().fib->rule(0, 0);
  ASSERT_TRUE(gateway.has_value());
  EXPECT_EQ(gateway->kind, dp::NextHopKind::kLanRoute);
}

TEST_F(RoutePolicyTest, ReloadWithAReservedPrefixChangesNothing) {
  for (const char* reserved : {"10.0.0.1/32", "100.64.0.1/32"}) {
    SCOPED_TRACE(reserved);
    ASSERT_TRUE(h().write_config(h().config_head() + h().config_played_peers() +
                                 "  - name: x\n    public_key: \"" + stranger_key() +
                                 "\"\n    allowed_ips: [\"" + reserved + "\"]\n"));
    EXPECT_FALSE(h().hub().reload());
    EXPECT_EQ(h().hub().device().peers().size(), 2u);
  }
  expect_hq_reachable();
}

// The IPv4 FIB with 4 tbl8 groups: the hub's own /32s (WAN and LAN address)
// take 2, so only two more prefixes longer than /24 in other /24s fit.
class TinyFibTest : public PipelineTest {
 protected:
  void SetUp() override {
    HarnessOptions o;
    ctl::TableSizes sizes;
    sizes.peers = 64;
    sizes.keypair_log2 = 8;
    sizes.fib_rules = 64;
    sizes.fib_tbl8 = 4;
    sizes.fib6_rules = 64;
    sizes.fib6_tbl8 = 64;
    o.table_sizes = sizes;
    rebuild(o);
    // A full table makes the FIB wait a grace period for freed groups; the
    // worker is stepped on this thread, so it must not hold one up.
    h().hub().dataplane().rcu->offline(0);
  }
  void TearDown() override { h().hub().dataplane().rcu->online(0); }

  static ctl::PeerSpec spec(const std::string& name, std::uint8_t key,
                            std::vector<const char*> prefixes) {
    ctl::PeerSpec s;
    s.name = name;
    s.public_key.fill(key);
    for (const char* p : prefixes) s.allowed_ips.push_back(prefix(p));
    return s;
  }
  std::optional<dp::NextHop> rule(std::uint32_t ip, std::uint8_t depth) {
    return h().hub().dataplane().fib->rule(ip, depth);
  }
  static constexpr const char* kTooMany[] = {"172.16.1.1/32", "172.16.2.1/32", "172.16.3.1/32"};
};

TEST_F(TinyFibTest, AddThatDoesNotFitLeavesNoRouteBehind) {
  ctl::Device& device = h().hub().device();
  std::string error;
  ASSERT_FALSE(device.add_peer(spec("x", 0x71, {kTooMany[0], kTooMany[1], kTooMany[2]}), error));
  EXPECT_NE(error.find("FIB full"), std::string::npos) << error;
  EXPECT_EQ(device.peers().size(), 2u);
  EXPECT_FALSE(rule(ip4(172, 16, 1, 1), 32).has_value());
  EXPECT_FALSE(rule(ip4(172, 16, 2, 1), 32).has_value());
  // The same prefix claimed again: by a new peer, then by a site.
  EXPECT_NO_THROW(EXPECT_TRUE(device.add_peer(spec("y", 0x72, {kTooMany[0]}), error)) << error);
  ASSERT_TRUE(rule(ip4(172, 16, 1, 1), 32).has_value());
  const ctl::PublicKey y = spec("y", 0x72, {}).public_key;
  EXPECT_EQ(rule(ip4(172, 16, 1, 1), 32)->id, device.find(y)->slot);
  ASSERT_TRUE(device.remove_peer(y));
  EXPECT_NO_THROW(EXPECT_TRUE(device.add_peer(spec("z", 0x73, {kTooMany[1], kTooMany[0]}), error))
                  << error);
}

TEST_F(TinyFibTest, UpdateThatDoesNotFitKeepsEveryPeerAsItWas) {
  ctl::Device& device = h().hub().device();
  const std::uint32_t b = h().slot("site-b");
  ctl::PeerSpec a =
      spec("site-a", 0, {"10.1.0.0/24", "10.2.0.0/24", kTooMany[0], kTooMany[1], kTooMany[2]});
  a.public_key = h().peer("site-a").public_key();
  std::string error;
  ASSERT_FALSE(device.update_peer(a, error));
  EXPECT_EQ(h().device_peer("site-a").allowed_ips, std::vector{prefix("10.1.0.0/24")});
  // Site B keeps the prefix the failed update would have taken from it.
  EXPECT_EQ(h().device_peer("site-b").allowed_ips, std::vector{prefix("10.2.0.0/24")});
  ASSERT_TRUE(rule(ip4(10, 2, 0, 0), 24).has_value());
  EXPECT_EQ(*rule(ip4(10, 2, 0, 0), 24), (dp::NextHop{dp::NextHopKind::kPeer, b}));
  EXPECT_FALSE(rule(ip4(172, 16, 1, 1), 32).has_value());
  EXPECT_FALSE(rule(ip4(172, 16, 2, 1), 32).has_value());
}

TEST_F(TinyFibTest, ReloadThatDoesNotFitThenClaimsTheSamePrefix) {
  auto with_peer = [&](const std::string& prefixes) {
    return h().config_head() + h().config_played_peers() +
           generated_peer(0).substr(0, generated_peer(0).find("    allowed_ips")) +
           "    allowed_ips: [" + prefixes + "]\n";
  };
  ASSERT_TRUE(h().write_config(with_peer("172.16.1.1/32, 172.16.2.1/32, 172.16.3.1/32")));
  EXPECT_FALSE(h().hub().reload());
  EXPECT_FALSE(rule(ip4(172, 16, 1, 1), 32).has_value());
  ASSERT_TRUE(h().write_config(with_peer("172.16.1.1/32")));
  EXPECT_NO_THROW(EXPECT_TRUE(h().hub().reload()));
  const auto r = rule(ip4(172, 16, 1, 1), 32);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id, h().slot("g0"));
}

// Issue 13.5: an IPv6 AllowedIP accepted while the standby table still had
// readers is applied later (fib6.hpp) and may then not fit. The device must
// hear it: the peer no longer lists the prefix, and nobody owns it, so wg(8)
// and the inner-source check agree with the table.
class TinyFib6Test : public PipelineTest {
 protected:
  void SetUp() override {
    HarnessOptions o;
    ctl::TableSizes sizes;
    sizes.peers = 64;
    sizes.keypair_log2 = 8;
    sizes.fib_rules = 64;
    sizes.fib_tbl8 = 64;
    sizes.fib6_rules = 64;
    sizes.fib6_tbl8 = 16;  // a few /64s in distinct /24s
    o.table_sizes = sizes;
    rebuild(o);
  }
  static ctl::PeerSpec spec(std::uint8_t n) {
    ctl::PeerSpec s;
    s.name = "v6-" + std::to_string(n);
    s.public_key.fill(static_cast<std::uint8_t>(0x80 + n));
    // fdNN::/64: each in a /24 of its own, so each needs its own groups.
    const std::string text = "fd" + std::to_string(10 + n) + "::/64";
    s.allowed_ips.push_back(prefix(text.c_str()));
    return s;
  }
};

TEST_F(TinyFib6Test, LateFailureTakesTheAllowedIpBack) {
  ctl::Device& device = h().hub().device();
  dp::Rcu& rcu = *h().hub().dataplane().rcu;
  // The stepped worker (reader 0) is online and reports no quiescent state
  // meanwhile: after the first change, the standby table has a reader and
  // the later changes wait.
  constexpr std::uint8_t kPeers = 12;
  std::string error;
  for (std::uint8_t n = 0; n < kPeers; ++n)
    ASSERT_TRUE(device.add_peer(spec(n), error)) << "accepted, applied later: " << error;
  ASSERT_TRUE(h().hub().dataplane().fib6->pending());
  rcu.quiescent(0);
  // The next change publishes what waited; the ones that did not fit fail.
  ctl::PeerSpec v4;
  v4.name = "v4-only";
  v4.public_key.fill(0x7f);
  v4.allowed_ips.push_back(prefix("172.16.9.0/24"));
  ASSERT_TRUE(device.add_peer(v4, error)) << error;  // IPv4: settles IPv6 failures too
  rcu.quiescent(0);
  h().run();  // the control tick publishes and settles as well
  const std::uint64_t failed = h().hub().dataplane().fib6->failed_ops();
  ASSERT_GT(failed, 0u) << "the test needs late failures: make the table smaller";
  unsigned kept = 0, dropped = 0;
  for (std::uint8_t n = 0; n < kPeers; ++n) {
    const ctl::PeerSpec s = spec(n);
    const ctl::Device::Peer* p = device.find(s.public_key);
    ASSERT_NE(p, nullptr);
    dp::Ipv6Address a;
    std::memcpy(a.data(), s.allowed_ips[0].address().bytes.data(), 16);
    const auto rule = h().hub().dataplane().fib6->rule(a, 64);
    if (rule) {
      ++kept;
      EXPECT_EQ(rule->id, p->slot);
      EXPECT_EQ(p->allowed_ips, s.allowed_ips) << s.name;
    } else {
      ++dropped;
      EXPECT_TRUE(p->allowed_ips.empty()) << s.name << " still lists a prefix the table lacks";
    }
  }
  EXPECT_EQ(dropped, failed);
  EXPECT_GT(kept, 0u);
  // The prefix is free again: a peer may claim it once there is room.
  const ctl::PeerSpec first = spec(0);
  ASSERT_TRUE(device.remove_peer(first.public_key));
  rcu.quiescent(0);
  h().run();
  rcu.quiescent(0);
  ctl::PeerSpec last = spec(kPeers - 1);
  ASSERT_TRUE(device.update_peer(last, error)) << error;
  rcu.quiescent(0);
  h().run();
  EXPECT_EQ(device.find(last.public_key)->allowed_ips, last.allowed_ips);
}

// Issue 13.4: a packet staged for a peer that is removed, and whose slot then
// goes to another peer, must not reach that peer. The packet waits on the
// staged ring with the slot's generation; by the time the control thread
// takes it, the slot holds someone else.
TEST_F(PipelineTest, StagedPacketDoesNotReachTheNextPeerInItsSlot) {
  ctl::Device& device = h().hub().device();
  dp::Dataplane& dp = h().hub().dataplane();
  const std::uint32_t slot_a = h().slot("site-a");
  const ctl::PublicKey key_a = h().peer("site-a").public_key();
  // Site A handshakes: the hub knows its endpoint, but may not send on the
  // responder's keypair before A's first data. HQ -> site A is staged.
  SimPeer& a = h().peer("site-a");
  h().send(a, a.create_initiation());
  h().run();
  ASSERT_EQ(h().take_wan().size(), 1u) << "the response";
  h().send_from_hq(inner_udp(kHqHostIp, ip4(10, 1, 0, 5), 1, 64));
  h().run_workers();
  void* obj = nullptr;
  ASSERT_EQ(rte_ring_dequeue(dp.staged, &obj), 0) << "the worker staged the packet";
  auto* m = static_cast<rte_mbuf*>(obj);
  const dp::ControlMeta meta = dp::control_meta(m);
  ASSERT_EQ(meta.peer_slot, slot_a);

  // Site A goes; once the grace period passed its slot is free, and the next
  // peer added gets it.
  ASSERT_TRUE(device.remove_peer(key_a));
  // The control tick (every 100 ms) reclaims it after a grace period.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (dp.peers->allocated(slot_a) && std::chrono::steady_clock::now() < deadline) {
    h().run();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(dp.peers->allocated(slot_a)) << "the slot was not freed";
  ctl::PeerSpec c;
  c.name = "site-c-new";
  c.public_key.fill(0x5c);
  c.allowed_ips.push_back(prefix("10.3.0.0/24"));
  std::string error;
  ASSERT_TRUE(device.add_peer(c, error)) << error;
  ASSERT_EQ(device.find(c.public_key)->slot, slot_a) << "the test needs the slot reused";

  const std::uint64_t purged = device.staged_counters().purged;
  device.stage(m, meta.peer_slot, meta.peer_generation, ctl::Clock::now(), rte_get_tsc_cycles());
  EXPECT_EQ(device.staged_counters().purged, purged + 1);
  EXPECT_TRUE(device.find(c.public_key)->staged.empty())
      << "site A's traffic must not wait for (and go to) the new peer";
  h().run();
  EXPECT_TRUE(h().take_wan().empty()) << "no handshake to the new peer for site A's packet";
}

// Issue 13.7 through the hub: a site's initiation, captured, is replayed from
// another address after the site's peer was removed and added again (a
// reload or `wg set` does that). The hub must not answer it, nor move the
// site's endpoint to the replayer.
TEST_F(PipelineTest, ReplayAfterRemoveAndReAddIsRefused) {
  ctl::Device& device = h().hub().device();
  SimPeer& a = h().peer("site-a");
  const Bytes captured = a.create_initiation();
  h().send(a, captured);
  h().run();
  ASSERT_EQ(h().take_wan().size(), 1u) << "the response to the genuine initiation";

  ctl::PeerSpec spec;
  spec.name = "site-a";
  spec.public_key = a.public_key();
  spec.allowed_ips = h().device_peer("site-a").allowed_ips;
  ASSERT_TRUE(device.remove_peer(spec.public_key));
  h().run();
  std::string error;
  ASSERT_TRUE(device.add_peer(spec, error)) << error;

  // The replayer sends the captured initiation from its own address.
  perfsim::Outer replayer = a.outer();
  replayer.ip = ip4(198, 51, 100, 66);
  replayer.port = 4444;
  const HubWan hub = h().hub_wan();
  h().inject_wan(
      ethernet_frame(hub.mac, replayer.mac, kEtherTypeIpv4,
                     udp_packet(replayer.ip, hub.ip, replayer.port, hub.port, captured)));
  h().run();
  EXPECT_TRUE(h().take_wan().empty()) << "a replayed initiation must not be answered";
  const auto& hs = h().hub().engine().counters();
  EXPECT_EQ(hs.noise_errors[static_cast<std::size_t>(ctl::NoiseError::kReplayedTimestamp)], 1u);
  EXPECT_NE(h().endpoint("site-a"), packed_endpoint(replayer.ip, replayer.port))
      << "the replayer must not become site A's endpoint";
}

// `wg show dump` of 10^5 peers is answered a slice of peers per control poll
// (uapi_server.hpp). Unchanged, the slices add up to the one-piece get; with
// peers removed and added between slices, no peer is listed twice and one
// removed before its slice is not listed.
TEST_F(RoutePolicyTest, UapiGetInSlicesListsEachPeerOnce) {
  for (int i = 0; i < 12; ++i) {
    ctl::uapi::SetRequest r;
    ctl::uapi::PeerChange c;
    c.public_key.fill(static_cast<std::uint8_t>(0x20 + i));
    const std::string p = "10.50." + std::to_string(i) + ".0/24";
    c.allowed_ips.push_back({prefix(p.c_str()), false});
    r.peers.push_back(std::move(c));
    ASSERT_EQ(uapi_->set(r), 0);
  }
  const ctl::uapi::DeviceStatus whole = uapi_->get();
  ASSERT_GE(whole.peers.size(), 13u);
  ctl::uapi::GetCursor cursor;
  ctl::uapi::DeviceStatus sliced;
  int calls = 1;
  while (!uapi_->get_slice(cursor, 5, sliced)) ++calls;
  EXPECT_EQ(calls, static_cast<int>((whole.peers.size() + 4) / 5));
  EXPECT_EQ(ctl::uapi::format_get(sliced), ctl::uapi::format_get(whole));

  cursor = {};
  ctl::uapi::DeviceStatus part;
  ASSERT_FALSE(uapi_->get_slice(cursor, 5, part));
  const ctl::PublicKey listed = whole.peers[1].public_key;   // in the first slice
  const ctl::PublicKey not_yet = whole.peers[8].public_key;  // removed before its slice
  ctl::uapi::SetRequest change;
  for (const ctl::PublicKey& k : {listed, not_yet}) {
    ctl::uapi::PeerChange c;
    c.public_key = k;
    c.remove = true;
    change.peers.push_back(std::move(c));
  }
  ctl::uapi::PeerChange added;
  added.public_key.fill(0x7e);
  change.peers.push_back(std::move(added));
  ASSERT_EQ(uapi_->set(change), 0);
  while (!uapi_->get_slice(cursor, 5, part)) {
  }
  std::set<ctl::PublicKey> seen;
  for (const ctl::uapi::PeerStatus& p : part.peers) {
    EXPECT_TRUE(seen.insert(p.public_key).second) << "a peer listed twice";
  }
  EXPECT_FALSE(seen.contains(not_yet));
  EXPECT_TRUE(seen.contains(listed));
  for (const ctl::uapi::PeerStatus& p : whole.peers) {
    if (p.public_key != not_yet) {
      EXPECT_TRUE(seen.contains(p.public_key));
    }
  }
}

}  // namespace
}  // namespace wghub::pipeline
