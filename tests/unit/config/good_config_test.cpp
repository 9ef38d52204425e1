// Configs that must load, and what the desired state then holds: defaults,
// peers_dir merging, relative key paths, IPv6, and the shipped example.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/loader.hpp"
#include "crypto/base64.hpp"
#include "temp_dir.hpp"

#ifndef WGHUB_EXAMPLE_CONFIG
#error "meson passes the path of examples/wghub.yaml"
#endif

namespace wghub::config {
namespace {

using test::key_text;
using test::TempDir;

PublicKey key_bytes(std::uint8_t fill) {
  PublicKey k;
  k.fill(fill);
  return k;
}

Prefix prefix(const char* text) {
  return Prefix::parse(text).value.value();
}
IpAddress ip(const char* text) {
  return IpAddress::parse(text).value();
}

const std::string kMinimal =
    "interface:\n"
    "  private_key_file: hub.key\n"
    "ports:\n"
    "  wan: {devargs: net_null0, address: 198.51.100.10/24}\n"
    "  lan: {devargs: net_null1, address: 10.0.0.1/16}\n";

class GoodConfig : public ::testing::Test {
 protected:
  void SetUp() override { dir_.write("hub.key", key_text(0x42) + "\n", 0600); }

  std::shared_ptr<const DesiredState> load(const std::string& yaml) {
    const std::string path = dir_.write("hub.yaml", yaml);
    LoadResult r = load_config_file(path);
    EXPECT_TRUE(r.ok()) << r.error_text();
    EXPECT_TRUE(r.errors.empty());
    return r.state;
  }

  TempDir dir_;
};

TEST_F(GoodConfig, MinimalConfigGetsDefaults) {
  auto s = load(kMinimal);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->source_file, dir_ / "hub.yaml");
  EXPECT_EQ(s->interface.name, "wghub0");
  EXPECT_EQ(s->interface.listen_port, 51820);
  EXPECT_FALSE(s->interface.address.has_value());
  EXPECT_EQ(s->interface.private_key_file, dir_ / "hub.key");
  ASSERT_NE(s->interface.private_key, nullptr);
  for (std::size_t i = 0; i < 32; ++i) EXPECT_EQ(s->interface.private_key->data()[i], 0x42);
  EXPECT_EQ(s->ports.wan.devargs, "net_null0");
  EXPECT_EQ(s->ports.wan.address.to_string(), "198.51.100.10/24");
  EXPECT_FALSE(s->ports.wan.gateway.has_value());
  EXPECT_TRUE(s->ports.lan.routes.empty());
  EXPECT_EQ(s->dataplane.lcores, std::vector<unsigned>{1});
  EXPECT_EQ(s->dataplane.burst_size, 32u);
  EXPECT_TRUE(s->metrics.enabled);
  // Loopback unless opened on purpose; no site endpoints in the scrape.
  EXPECT_EQ(s->metrics.listen.to_string(), "127.0.0.1:9586");
  EXPECT_EQ(s->metrics.per_peer, PerPeerMetrics::kAll);
  EXPECT_EQ(s->metrics.per_peer_limit, 0u);
  EXPECT_FALSE(s->metrics.peer_endpoints);
  EXPECT_TRUE(s->peers.empty());
}

TEST_F(GoodConfig, EverySectionIsRead) {
  auto s = load(
      "interface:\n"
      "  name: hub-1\n"
      "  private_key_file: hub.key\n"
      "  listen_port: 4500\n"
      "  address: 10.99.0.1/24\n"
      "ports:\n"
      "  wan:\n"
      "    devargs: net_af_packet0,iface=veth0\n"
      "    address: 198.51.100.10/24\n"
      "    gateway: 198.51.100.1\n"
      "  lan:\n"
      "    devargs: \"0000:3b:00.1\"\n"
      "    address: 10.0.0.1/16\n"
      "    gateway: 10.0.0.2\n"
      "    routes:\n"
      "      - prefix: 172.16.0.0/12\n"
      "        via: 10.0.0.254\n"
      "dataplane:\n"
      "  lcores: [3, 1, 2]\n"
      "  burst_size: 64\n"
      "metrics:\n"
      "  enabled: false\n"
      "  listen: \"[::1]:9100\"\n"
      "  per_peer: all\n"
      "  per_peer_limit: 5000\n"
      "  peer_endpoints: true\n");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->interface.name, "hub-1");
  EXPECT_EQ(s->interface.listen_port, 4500);
  ASSERT_TRUE(s->interface.address.has_value());
  EXPECT_EQ(s->interface.address->to_string(), "10.99.0.1/24");
  EXPECT_EQ(s->ports.wan.devargs, "net_af_packet0,iface=veth0");
  EXPECT_EQ(s->ports.wan.address.subnet(), prefix("198.51.100.0/24"));
  EXPECT_EQ(s->ports.wan.gateway, ip("198.51.100.1"));
  EXPECT_EQ(s->ports.lan.devargs, "0000:3b:00.1");
  EXPECT_EQ(s->ports.lan.gateway, ip("10.0.0.2"));
  ASSERT_EQ(s->ports.lan.routes.size(), 1u);
  EXPECT_EQ(s->ports.lan.routes[0].prefix, prefix("172.16.0.0/12"));
  EXPECT_EQ(s->ports.lan.routes[0].via, ip("10.0.0.254"));
  EXPECT_EQ(s->dataplane.lcores, (std::vector<unsigned>{3, 1, 2}));
  EXPECT_EQ(s->dataplane.burst_size, 64u);
  EXPECT_FALSE(s->metrics.enabled);
  EXPECT_EQ(s->metrics.listen.to_string(), "[::1]:9100");
  EXPECT_EQ(s->metrics.per_peer, PerPeerMetrics::kAll);
  EXPECT_EQ(s->metrics.per_peer_limit, 5000u);
  EXPECT_TRUE(s->metrics.peer_endpoints);
}

TEST_F(GoodConfig, PerPeerMetricsOff) {
  auto s = load(
      "interface:\n"
      "  private_key_file: hub.key\n"
      "ports:\n"
      "  wan: {devargs: net_null0, address: 198.51.100.10/24}\n"
      "  lan: {devargs: net_null1, address: 10.0.0.1/16}\n"
      "metrics:\n"
      "  per_peer: none\n");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->metrics.per_peer, PerPeerMetrics::kNone);
}

TEST_F(GoodConfig, DualStackPorts) {
  auto s = load(
      "interface:\n"
      "  private_key_file: hub.key\n"
      "ports:\n"
      "  wan:\n"
      "    devargs: net_null0\n"
      "    address: 198.51.100.10/24\n"
      "    gateway: 198.51.100.1\n"
      "    address6: \"2001:db8:1::10/64\"\n"
      "    gateway6: \"2001:db8:1::1\"\n"
      "  lan:\n"
      "    devargs: net_null1\n"
      "    address: 10.0.0.1/16\n"
      "    address6: \"fd00::1/64\"\n"
      "    routes:\n"
      "      - {prefix: 172.16.0.0/12, via: 10.0.0.254}\n"
      "      - {prefix: \"fd00:100::/48\", via: \"fd00::fe\"}\n");
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->ports.wan.address6.has_value());
  EXPECT_EQ(s->ports.wan.address6->to_string(), "2001:db8:1::10/64");
  EXPECT_EQ(s->ports.wan.gateway6, ip("2001:db8:1::1"));
  EXPECT_EQ(s->ports.wan.gateway, ip("198.51.100.1"));
  ASSERT_TRUE(s->ports.lan.address6.has_value());
  EXPECT_EQ(s->ports.lan.address_of(Family::v6)->subnet(), prefix("fd00::/64"));
  EXPECT_EQ(s->ports.lan.address_of(Family::v4)->subnet(), prefix("10.0.0.0/16"));
  EXPECT_FALSE(s->ports.lan.gateway6.has_value());
  ASSERT_EQ(s->ports.lan.routes.size(), 2u);
  EXPECT_EQ(s->ports.lan.routes[1].prefix, prefix("fd00:100::/48"));
  EXPECT_EQ(s->ports.lan.routes[1].via, ip("fd00::fe"));
}

TEST_F(GoodConfig, PeersWithIpv6AndRelativeKeyPaths) {
  dir_.write("psk/a.key", key_text(0x77), 0400);  // no trailing newline is fine too
  auto s = load(kMinimal +
                "peers:\n"
                "  - name: a\n"
                "    public_key: " +
                key_text(1) +
                "\n"
                "    preshared_key_file: psk/a.key\n"
                "    allowed_ips: [10.1.0.0/24, \"fd00:1::/64\", 10.9.9.9]\n"
                "    endpoint: \"[2001:db8::7]:51820\"\n"
                "    persistent_keepalive: 25\n"
                "  - name: b\n"
                "    public_key: " +
                key_text(2) +
                "\n"
                "    allowed_ips: []\n"
                "    endpoint: 203.0.113.7:1\n");
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->peers.size(), 2u);
  const Peer& a = s->peers[0];
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.public_key, key_bytes(1));
  EXPECT_EQ(a.preshared_key_file, dir_ / "psk/a.key");
  ASSERT_NE(a.preshared_key, nullptr);
  EXPECT_EQ(a.preshared_key->data()[0], 0x77);
  EXPECT_EQ(a.preshared_key->data()[31], 0x77);
  EXPECT_EQ(a.allowed_ips, (std::vector<Prefix>{prefix("10.1.0.0/24"), prefix("fd00:1::/64"),
                                                prefix("10.9.9.9/32")}));
  ASSERT_TRUE(a.endpoint.has_value());
  EXPECT_EQ(a.endpoint->family(), Family::v6);
  EXPECT_EQ(a.endpoint->to_string(), "[2001:db8::7]:51820");
  EXPECT_EQ(a.persistent_keepalive, 25);
  EXPECT_EQ(a.origin.to_string(), (dir_ / "hub.yaml") + ":7:5");
  const Peer& b = s->peers[1];
  EXPECT_TRUE(b.allowed_ips.empty());
  EXPECT_EQ(b.preshared_key, nullptr);
  EXPECT_TRUE(b.preshared_key_file.empty());
  EXPECT_EQ(b.endpoint->port, 1);
  EXPECT_EQ(b.persistent_keepalive, 0);
  EXPECT_EQ(s->find_peer(key_bytes(2)), &b);
  EXPECT_EQ(s->find_peer(std::string("a")), &a);
  EXPECT_EQ(s->find_peer(key_bytes(3)), nullptr);
}

TEST_F(GoodConfig, OverlappingButDistinctPrefixesAreAllowed) {
  // Longest-prefix match decides; only identical prefixes are ambiguous.
  auto s = load(kMinimal + "peers:\n  - {name: a, public_key: " + key_text(1) +
                ", allowed_ips: [10.1.0.0/16]}\n  - {name: b, public_key: " + key_text(2) +
                ", allowed_ips: [10.1.2.0/24, 10.0.5.0/24]}\n");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->peers.size(), 2u);
}

TEST_F(GoodConfig, DefaultRoutePeerWithoutALanGateway) {
  // No ports.lan.gateway: the peer is the hub's default route (route_policy.hpp).
  auto s = load(kMinimal + "peers:\n  - {name: breakout, public_key: " + key_text(1) +
                ", allowed_ips: [0.0.0.0/0, \"::/0\"]}\n");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->peers.at(0).allowed_ips.size(), 2u);
}

TEST_F(GoodConfig, PeersDirIsMergedAfterInlinePeersInFileOrder) {
  dir_.write("peers.d/b-site.yaml",
             "public_key: " + key_text(3) + "\nallowed_ips: [10.3.0.0/24]\n");
  dir_.write("peers.d/a-site.yml", "name: alpha\npublic_key: " + key_text(2) +
                                       "\nallowed_ips: [10.2.0.0/24]\n"
                                       "preshared_key_file: ../psk/alpha.key\n");
  dir_.write("psk/alpha.key", key_text(0x55) + "\n", 0600);
  dir_.write("peers.d/README.txt", "not a peer\n");
  dir_.write("peers.d/.b-site.yaml.swp", "not a peer\n");
  dir_.mkdir("peers.d/sub.yaml");  // a directory is not a peer file
  auto s =
      load(kMinimal + "peers_dir: peers.d\npeers:\n  - {name: inline, public_key: " + key_text(1) +
           ", allowed_ips: [10.1.0.0/24]}\n");
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->peers.size(), 3u);
  EXPECT_EQ(s->peers[0].name, "inline");
  EXPECT_EQ(s->peers[1].name, "alpha");  // a-site.yml sorts first and names itself
  EXPECT_EQ(s->peers[1].public_key, key_bytes(2));
  // A relative key path in a peer file resolves against that file's directory.
  EXPECT_EQ(s->peers[1].preshared_key_file, dir_ / "psk/alpha.key");
  ASSERT_NE(s->peers[1].preshared_key, nullptr);
  EXPECT_EQ(s->peers[1].origin.to_string(), (dir_ / "peers.d/a-site.yml") + ":1:1");
  EXPECT_EQ(s->peers[2].name, "b-site");  // named after its file
  EXPECT_EQ(s->peers[2].allowed_ips, std::vector<Prefix>{prefix("10.3.0.0/24")});
}

TEST_F(GoodConfig, EmptyPeersDirIsFine) {
  dir_.mkdir("peers.d");
  auto s = load(kMinimal + "peers_dir: peers.d\n");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->peers.empty());
}

TEST_F(GoodConfig, AbsoluteKeyPathAndStringLoad) {
  const std::string yaml = "interface:\n  private_key_file: " + (dir_ / "hub.key") +
                           "\nports:\n"
                           "  wan: {devargs: w, address: 198.51.100.10/31}\n"
                           "  lan: {devargs: l, address: 10.0.0.1/32}\n";
  // The virtual path only names the file in messages; the key path is absolute.
  LoadResult r = load_config_string(yaml, "/nonexistent/dir/hub.yaml");
  ASSERT_TRUE(r.ok()) << r.error_text();
  EXPECT_EQ(r.state->interface.private_key_file, dir_ / "hub.key");
  EXPECT_EQ(r.state->source_file, "/nonexistent/dir/hub.yaml");
}

TEST_F(GoodConfig, RelativeKeyPathResolvesAgainstVirtualPath) {
  LoadResult r = load_config_string(kMinimal, dir_ / "virtual.yaml");
  ASSERT_TRUE(r.ok()) << r.error_text();
  EXPECT_EQ(r.state->interface.private_key_file, dir_ / "hub.key");
}

TEST(ConfigFile, MissingConfigFileIsAnError) {
  TempDir dir;
  LoadResult r = load_config_file(dir / "absent.yaml");
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(),
            (dir / "absent.yaml") + ": cannot read config file: No such file or directory");
}

TEST(ExampleConfig, LoadsWithGeneratedKeys) {
  // The example refers to private.key, psk/plant-berlin.key and peers.d next to it.
  TempDir dir;
  std::ifstream in(WGHUB_EXAMPLE_CONFIG);
  ASSERT_TRUE(in) << WGHUB_EXAMPLE_CONFIG;
  std::stringstream text;
  text << in.rdbuf();
  const std::string path = dir.write("wghub.yaml", text.str());
  dir.write("private.key", key_text(0x21) + "\n", 0600);
  dir.write("psk/plant-berlin.key", key_text(0x22) + "\n", 0600);
  dir.write("peers.d/plant-munich.yaml",
            "public_key: " + key_text(0x23) + "\nallowed_ips: [10.3.0.0/24]\n");

  LoadResult r = load_config_file(path);
  ASSERT_TRUE(r.ok()) << r.error_text();
  const DesiredState& s = *r.state;
  EXPECT_EQ(s.interface.name, "wghub0");
  EXPECT_EQ(s.interface.private_key_file, dir / "private.key");
  EXPECT_EQ(s.ports.wan.gateway, ip("198.51.100.1"));
  EXPECT_EQ(s.ports.lan.routes.size(), 2u);
  EXPECT_EQ(s.dataplane.lcores, (std::vector<unsigned>{1, 2}));
  ASSERT_EQ(s.peers.size(), 5u);
  EXPECT_EQ(s.peers[0].name, "plant-berlin");
  EXPECT_NE(s.peers[0].preshared_key, nullptr);
  EXPECT_EQ(s.peers[0].persistent_keepalive, 25);
  EXPECT_EQ(s.peers[3].endpoint->to_string(), "[2001:db8::7]:51820");
  EXPECT_EQ(s.peers[4].name, "plant-munich");
}

}  // namespace
}  // namespace wghub::config
