// The files `wghub site add` writes, through the real readers: the sites:
// section (defaults, errors with file:line:col), the peer file (the loader
// reads it back as that site), and the site's wg-quick file: `wg-quick
// strip` accepts it, and the wg-quick parser (config/wgquick.hpp, `wghub
// import`'s) reads back exactly the peer and interface it was made from.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "config/loader.hpp"
#include "config/site_plan.hpp"
#include "config/wgquick.hpp"
#include "crypto/base64.hpp"
#include "crypto/x25519.hpp"
#include "tests/unit/config/temp_dir.hpp"

namespace wghub::config {
namespace {

using test::key_text;
using test::TempDir;

const std::string kBase = R"(interface:
  name: wghub0
  private_key_file: hub.key
  address: 10.99.0.1/24
ports:
  wan: {devargs: "net_null0", address: 100.64.0.1/24}
  lan:
    devargs: "net_null1"
    address: 10.0.0.1/24
    address6: "fd00::1/64"
    routes: [{prefix: 172.16.0.0/12, via: 10.0.0.254}]
peers_dir: peers.d
)";

// A config dir: hub.key, peers.d/ and wghub.yaml = kBase + `sites`.
struct Hub {
  TempDir dir;
  std::string yaml;
  explicit Hub(const std::string& sites) {
    dir.write("hub.key", key_text(0x11) + "\n", 0600);
    dir.mkdir("peers.d");
    yaml = dir.write("wghub.yaml", kBase + sites);
  }
  LoadResult load() const { return load_config_file(yaml); }
};

TEST(SitesSection, DefaultsAndTheLanPortsNetworks) {
  Hub h("sites:\n  overlay: 10.99.0.0/16\n  endpoint: vpn.example.com:51820\n");
  auto r = h.load();
  ASSERT_TRUE(r.ok()) << r.error_text();
  ASSERT_TRUE(r.state->sites);
  const Sites& s = *r.state->sites;
  EXPECT_EQ(s.overlay.to_string(), "10.99.0.0/16");
  EXPECT_EQ(s.endpoint, "vpn.example.com:51820");
  EXPECT_EQ(s.mtu, 1420);
  EXPECT_EQ(s.keepalive, 25);
  ASSERT_EQ(s.hq_networks.size(), 3u);  // the LAN subnet, its IPv6 subnet, the static route
  EXPECT_EQ(s.hq_networks[0].to_string(), "10.0.0.0/24");
  EXPECT_EQ(s.hq_networks[1].to_string(), "fd00::/64");
  EXPECT_EQ(s.hq_networks[2].to_string(), "172.16.0.0/12");
  EXPECT_EQ(r.state->peers_dir, h.dir / "peers.d");
}

TEST(SitesSection, ExplicitValues) {
  Hub h(
      "sites:\n  overlay: 10.99.0.0/24\n  endpoint: \"[2001:db8::1]:4500\"\n"
      "  hq_networks: [10.0.0.0/24, 192.168.50.0/24]\n  mtu: 1380\n  keepalive: 0\n");
  auto r = h.load();
  ASSERT_TRUE(r.ok()) << r.error_text();
  const Sites& s = *r.state->sites;
  EXPECT_EQ(s.hq_networks.size(), 2u);
  EXPECT_EQ(s.mtu, 1380);
  EXPECT_EQ(s.keepalive, 0);
}

TEST(SitesSection, ErrorsNameFileLineAndField) {
  struct Case {
    const char* sites;
    const char* expected;
  } cases[] = {
      {"sites:\n  overlay: 10.99.0.0/16\n",
       "wghub.yaml:14:3: sites.endpoint: required field is missing"},
      {"sites:\n  overlay: 10.99.0.0/31\n  endpoint: a:1\n",
       "wghub.yaml:14:12: sites.overlay: 10.99.0.0/31 has no room for sites"},
      {"sites:\n  overlay: 10.99.0.0/16\n  endpoint: vpn.example.com\n",
       "wghub.yaml:15:13: sites.endpoint: 'vpn.example.com' has no port"},
      {"sites:\n  overlay: 10.99.0.0/16\n  endpoint: a:1\n  hq_networks: [10.99.1.0/24]\n",
       "wghub.yaml:16:17: sites.hq_networks[0]: 10.99.1.0/24 overlaps the overlay pool"},
      {"sites:\n  overlay: 10.99.0.0/16\n  endpoint: a:1\n  mtu: 100\n",
       "wghub.yaml:16:8: sites.mtu: MTU 100 is out of range (576..9000)"},
      {"sites:\n  overlay: 10.99.0.0/16\n  endpoint: a:1\n  mtus: 1400\n", "sites.mtus"},
  };
  for (const auto& c : cases) {
    Hub h(c.sites);
    auto r = h.load();
    ASSERT_FALSE(r.ok()) << c.sites;
    EXPECT_NE(r.error_text().find(c.expected), std::string::npos)
        << "expected: " << c.expected << "\ngot: " << r.error_text();
  }
}

TEST(SitePeerFile, LoadsBackAsTheSite) {
  Hub h("sites:\n  overlay: 10.99.0.0/24\n  endpoint: a:1\n");
  PublicKey key{};
  key.fill(0x42);
  h.dir.write(
      "peers.d/plant-7.yaml",
      site_peer_yaml("plant-7", key, *Prefix::parse("10.99.0.2/32").value,
                     {*Prefix::parse("10.7.0.0/24").value, *Prefix::parse("fd00:7::/64").value}));
  auto r = h.load();
  ASSERT_TRUE(r.ok()) << r.error_text();
  const Peer* p = r.state->find_peer("plant-7");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->public_key, key);
  auto site = as_site(*p, *r.state->sites);
  ASSERT_TRUE(site);
  EXPECT_EQ(site->overlay.to_string(), "10.99.0.2/32");
  ASSERT_EQ(site->lans.size(), 2u);
  EXPECT_EQ(site->lans[1].to_string(), "fd00:7::/64");
}

struct SiteFile {
  crypto::Key site_key;
  PublicKey hub_key{};
  std::string text;
};

void make_site_file(const DesiredState& state, SiteFile& f) {
  crypto::x25519_generate(std::span<std::uint8_t, 32>(f.site_key.data(), 32));
  crypto::x25519_public(f.hub_key,
                        std::span<const std::uint8_t, 32>(state.interface.private_key->data(), 32));
  f.text = site_wgquick(state, "plant-7", *IpAddress::parse("10.99.0.7"), &f.site_key, f.hub_key);
}

TEST(SiteWgQuickFile, ImportingItGivesTheSamePeer) {
  Hub h("sites:\n  overlay: 10.99.0.0/24\n  endpoint: 198.51.100.10:51820\n");
  auto r = h.load();
  ASSERT_TRUE(r.ok()) << r.error_text();
  SiteFile f;
  make_site_file(*r.state, f);

  auto parsed = parse_wgquick(f.text, "plant7.conf");
  ASSERT_TRUE(parsed.ok()) << (parsed.errors.empty() ? "" : parsed.errors[0].to_string());
  WgQuickConfig expected;
  expected.interface_name = "plant7";
  expected.private_key =
      std::make_shared<const crypto::Key>(std::span<const std::uint8_t, 32>(f.site_key.data(), 32));
  expected.address = InterfaceAddress{*IpAddress::parse("10.99.0.7"), 24};
  WgQuickPeer hub;
  hub.name = "wghub0";
  hub.public_key = f.hub_key;
  for (const char* p : {"10.99.0.0/24", "10.0.0.0/24", "fd00::/64", "172.16.0.0/12"})
    hub.allowed_ips.push_back(*Prefix::parse(p).value);
  hub.endpoint = *Endpoint::parse("198.51.100.10:51820").value;
  hub.persistent_keepalive = 25;
  expected.peers.push_back(hub);
  const auto diffs = compare_wgquick(*parsed.config, expected);
  for (const auto& d : diffs) ADD_FAILURE() << d;
  EXPECT_FALSE(parsed.config->listen_port.has_value()) << "a site dials out: no ListenPort";
  EXPECT_NE(f.text.find("\nMTU = 1420\n"), std::string::npos);
}

TEST(SiteWgQuickFile, WithTheSitesOwnKeyThereIsNoPrivateKey) {
  Hub h("sites:\n  overlay: 10.99.0.0/24\n  endpoint: vpn.example.com:51820\n");
  auto r = h.load();
  ASSERT_TRUE(r.ok()) << r.error_text();
  PublicKey hub_key{};
  const std::string text =
      site_wgquick(*r.state, "plant-7", *IpAddress::parse("10.99.0.7"), nullptr, hub_key);
  EXPECT_EQ(text.find("\nPrivateKey ="), std::string::npos) << text;
  EXPECT_NE(text.find("\n# PrivateKey = (the site's own private key goes here"), std::string::npos)
      << text;
}

// Runs `wg-quick strip FILE`; its exit status and output.
int run_strip(const std::string& file, std::string& out) {
  const std::string cmd = "wg-quick strip " + file + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(SiteWgQuickFile, WgQuickStripAcceptsIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "wg-quick strip runs as root only";
  if (std::system("command -v wg-quick >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "no wg-quick (Debian: wireguard-tools)";
  Hub h("sites:\n  overlay: 10.99.0.0/24\n  endpoint: vpn.example.com:51820\n");
  auto r = h.load();
  ASSERT_TRUE(r.ok()) << r.error_text();
  SiteFile f;
  make_site_file(*r.state, f);
  const std::string file = h.dir.write("plant7.conf", f.text, 0600);
  std::string out;
  ASSERT_EQ(run_strip(file, out), 0) << out;
  // What wg(8) gets: the keys, the hub and its AllowedIPs; wg-quick's own
  // keys (Address, MTU) stripped.
  EXPECT_NE(out.find("PrivateKey = " + crypto::key_to_base64(f.site_key.data())),
            std::string::npos);
  EXPECT_NE(out.find("PublicKey = " + crypto::key_to_base64(f.hub_key.data())), std::string::npos);
  EXPECT_NE(out.find("AllowedIPs = 10.99.0.0/24, 10.0.0.0/24, fd00::/64, 172.16.0.0/12"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("Endpoint = vpn.example.com:51820"), std::string::npos);
  EXPECT_NE(out.find("PersistentKeepalive = 25"), std::string::npos);
  EXPECT_EQ(out.find("Address"), std::string::npos) << out;
  EXPECT_EQ(out.find("MTU"), std::string::npos) << out;
}

}  // namespace
}  // namespace wghub::config
