// The overlay allocator and the LAN checks of `wghub site add`
// (config/site_plan.hpp) on states built by hand: the lowest free address,
// never a taken one (hub addresses, any peer's allowed IP inside the pool),
// a full pool refused, a revoked site's address reused; LANs that overlap
// a peer, the HQ networks, the pool or the hub's ports refused.
#include <gtest/gtest.h>

#include <string>

#include "config/site_plan.hpp"

namespace wghub::config {
namespace {

Prefix P(const char* text) {
  auto p = Prefix::parse(text);
  EXPECT_TRUE(p) << text << ": " << p.error;
  return p ? *p.value : Prefix{};
}

IpAddress A(const char* text) {
  return *IpAddress::parse(text);
}

// A hub with LAN 10.0.0.0/24 (a static route 172.16.0.0/12), WAN
// 100.64.0.0/24, interface address 10.99.0.1 and the pool `pool`.
DesiredState hub(const char* pool = "10.99.0.0/24") {
  DesiredState s;
  s.interface.address = InterfaceAddress{A("10.99.0.1"), 24};
  s.ports.wan.address = InterfaceAddress{A("100.64.0.1"), 24};
  s.ports.lan.address = InterfaceAddress{A("10.0.0.1"), 24};
  s.ports.lan.routes.push_back(Route{P("172.16.0.0/12"), A("10.0.0.254")});
  Sites sites;
  sites.overlay = P(pool);
  sites.endpoint = "vpn.example.com:51820";
  sites.hq_networks = {P("10.0.0.0/24"), P("172.16.0.0/12")};
  s.sites = sites;
  return s;
}

void add_peer(DesiredState& s, const std::string& name, std::vector<Prefix> ips) {
  Peer p;
  p.name = name;
  p.public_key[0] = static_cast<std::uint8_t>(s.peers.size() + 1);
  p.allowed_ips = std::move(ips);
  s.peers.push_back(std::move(p));
}

std::string allocate(const DesiredState& s) {
  auto a = allocate_overlay(s);
  return a ? a.value->to_string() : "error: " + a.error;
}

TEST(OverlayAllocator, LowestFreeAddressAfterTheHubsOwn) {
  EXPECT_EQ(allocate(hub()), "10.99.0.2");
}

TEST(OverlayAllocator, SkipsEveryAddressAPeerHolds) {
  DesiredState s = hub();
  add_peer(s, "a", {P("10.99.0.2/32"), P("10.1.1.0/24")});
  add_peer(s, "b", {P("10.99.0.4/30")});  // .4 .. .7, e.g. a hand-written peer
  add_peer(s, "c", {P("10.99.0.3/32")});
  EXPECT_EQ(allocate(s), "10.99.0.8");
}

TEST(OverlayAllocator, PrefixesWiderThanThePoolDoNotTakeIt) {
  DesiredState s = hub();
  add_peer(s, "breakout", {P("0.0.0.0/0")});
  add_peer(s, "wide", {P("10.0.0.0/8")});
  EXPECT_EQ(allocate(s), "10.99.0.2");
}

TEST(OverlayAllocator, ReusesARevokedSitesAddress) {
  DesiredState s = hub();
  for (int i = 2; i <= 6; ++i)
    add_peer(s, "s" + std::to_string(i), {P(("10.99.0." + std::to_string(i) + "/32").c_str())});
  EXPECT_EQ(allocate(s), "10.99.0.7");
  s.peers.erase(s.peers.begin() + 2);  // revoke s4
  EXPECT_EQ(allocate(s), "10.99.0.4");
}

TEST(OverlayAllocator, AFullPoolIsRefused) {
  DesiredState s = hub("10.99.0.0/29");  // .1 .. .6 usable; .1 is the hub's
  for (int i = 2; i <= 5; ++i)
    add_peer(s, "s" + std::to_string(i), {P(("10.99.0." + std::to_string(i) + "/32").c_str())});
  EXPECT_EQ(allocate(s), "10.99.0.6");
  add_peer(s, "s6", {P("10.99.0.6/32")});
  const std::string r = allocate(s);
  EXPECT_NE(r.find("error: the overlay pool 10.99.0.0/29 (sites.overlay) is full"),
            std::string::npos)
      << r;  // never the broadcast address .7
}

TEST(OverlayAllocator, APeerHoldingTheWholePoolFillsIt) {
  DesiredState s = hub("10.99.0.0/24");
  add_peer(s, "all", {P("10.99.0.0/24")});
  EXPECT_NE(allocate(s).find("is full"), std::string::npos);
}

TEST(OverlayAllocator, IPv6Pool) {
  DesiredState s = hub("fd00:99::/64");
  s.interface.address.reset();
  EXPECT_EQ(allocate(s), "fd00:99::1");  // never the Subnet-Router anycast ::0
  add_peer(s, "a", {P("fd00:99::1/128"), P("10.99.0.2/32")});
  EXPECT_EQ(allocate(s), "fd00:99::2");
}

TEST(OverlayAllocator, ManyPeers) {
  DesiredState s = hub("10.99.0.0/16");
  for (int i = 0; i < 10000; ++i) {
    const std::string a =
        "10.99." + std::to_string((i + 2) / 256) + "." + std::to_string((i + 2) % 256) + "/32";
    add_peer(s, "s" + std::to_string(i), {P(a.c_str())});
  }
  EXPECT_EQ(allocate(s), "10.99.39.18");  // 10002 = 39 * 256 + 18
}

TEST(LanChecks, AFreeLanPasses) {
  DesiredState s = hub();
  add_peer(s, "a", {P("10.99.0.2/32"), P("10.1.1.0/24")});
  EXPECT_TRUE(lan_problems(s, {P("10.2.1.0/24"), P("192.168.7.0/24")}).empty());
}

TEST(LanChecks, EachOverlapIsNamed) {
  DesiredState s = hub();
  add_peer(s, "plant-a", {P("10.99.0.2/32"), P("10.1.1.0/24")});
  auto has = [&](const std::vector<Prefix>& lans, const std::string& text) {
    const auto problems = lan_problems(s, lans);
    for (const auto& p : problems)
      if (p.find(text) != std::string::npos) return true;
    ADD_FAILURE() << "no problem says '" << text << "'";
    return false;
  };
  has({P("10.1.0.0/16")}, "LAN 10.1.0.0/16 overlaps 10.1.1.0/24 of peer 'plant-a'");
  has({P("10.1.1.128/25")}, "overlaps 10.1.1.0/24 of peer 'plant-a'");
  has({P("10.0.0.0/16")}, "overlaps the HQ network 10.0.0.0/24");
  has({P("172.20.0.0/16")}, "overlaps the HQ network 172.16.0.0/12");
  has({P("10.99.0.128/25")}, "overlaps the overlay pool 10.99.0.0/24");
  has({P("100.64.0.0/16")}, "overlaps the subnet of port wan");
  has({P("0.0.0.0/0")}, "is a default route");
  has({P("10.5.0.0/16"), P("10.5.1.0/24")}, "LAN 10.5.1.0/24 overlaps LAN 10.5.0.0/16");
  // The site itself is skipped when named (rotate keeps its LANs).
  EXPECT_TRUE(lan_problems(s, {P("10.1.1.0/24")}, "plant-a").empty());
}

TEST(SiteEndpoint, NamesLiteralsAndPorts) {
  EXPECT_EQ(site_endpoint_problem("vpn.example.com:51820"), "");
  EXPECT_EQ(site_endpoint_problem("192.0.2.1:51820"), "");
  EXPECT_EQ(site_endpoint_problem("[2001:db8::1]:51820"), "");
  EXPECT_NE(site_endpoint_problem("vpn.example.com").find("has no port"), std::string::npos);
  EXPECT_NE(site_endpoint_problem("2001:db8::1:51820").find("needs brackets"), std::string::npos);
  EXPECT_NE(site_endpoint_problem("vpn:0").find("not a port"), std::string::npos);
  EXPECT_NE(site_endpoint_problem("vpn:70000").find("not a port"), std::string::npos);
  EXPECT_NE(site_endpoint_problem("bad_host:1").find("neither"), std::string::npos);
  EXPECT_NE(site_endpoint_problem("-bad.example:1").find("neither"), std::string::npos);
  EXPECT_NE(site_endpoint_problem("").find("empty"), std::string::npos);
}

TEST(AsSite, OverlayAddressAndLans) {
  DesiredState s = hub();
  add_peer(s, "a", {P("10.1.1.0/24"), P("10.99.0.9/32"), P("10.1.2.0/24")});
  add_peer(s, "not-a-site", {P("10.99.0.0/25")});
  auto site = as_site(s.peers[0], *s.sites);
  ASSERT_TRUE(site);
  EXPECT_EQ(site->overlay.to_string(), "10.99.0.9/32");
  ASSERT_EQ(site->lans.size(), 2u);
  EXPECT_EQ(site->lans[1].to_string(), "10.1.2.0/24");
  EXPECT_FALSE(as_site(s.peers[1], *s.sites));
}

}  // namespace
}  // namespace wghub::config
