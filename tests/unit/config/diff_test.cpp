// config::diff: every field of the desired state is compared; settings that
// take a restart are named one by one, peers are matched by key and each
// added, removed or changed peer is listed once with the fields that differ.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "config/diff.hpp"
#include "config/loader.hpp"
#include "crypto/base64.hpp"
#include "temp_dir.hpp"

namespace wghub::config {
namespace {

using test::key_text;
using test::TempDir;

const std::string kBase =
    "interface:\n"
    "  name: wg0\n"
    "  private_key_file: hub.key\n"
    "  listen_port: 51820\n"
    "ports:\n"
    "  wan: {devargs: net_null0, address: 198.51.100.10/24, gateway: 198.51.100.1}\n"
    "  lan:\n"
    "    devargs: net_null1\n"
    "    address: 10.0.0.1/16\n"
    "    gateway: 10.0.0.254\n"
    "    routes: [{prefix: 10.9.0.0/16, via: 10.0.0.9}]\n"
    "dataplane: {lcores: [1], burst_size: 32}\n"
    "metrics: {enabled: true, listen: \"0.0.0.0:9586\"}\n";

std::string peer(int n, const std::string& extra = "") {
  return "  - name: p" + std::to_string(n) + "\n    public_key: \"" + key_text(n) +
         "\"\n    allowed_ips: [10." + std::to_string(100 + n) + ".0.0/24]\n" + extra;
}

class Diff : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("hub.key", key_text(0x42) + "\n", 0600);
    dir_.write("other.key", key_text(0x43) + "\n", 0600);
    dir_.write("copy.key", key_text(0x42) + "\n", 0600);
    dir_.write("psk", key_text(0x77) + "\n", 0600);
  }
  std::shared_ptr<const DesiredState> load(const std::string& yaml) {
    LoadResult r = load_config_file(dir_.write("hub" + std::to_string(n_++) + ".yaml", yaml));
    EXPECT_TRUE(r.ok()) << r.error_text();
    return r.state;
  }
  // The restart list of kBase against kBase with `from` replaced by `to`.
  std::vector<std::string> restart(const std::string& from, const std::string& to) {
    std::string next = kBase;
    const auto at = next.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    next.replace(at, from.size(), to);
    auto a = load(kBase), b = load(next);
    if (!a || !b) return {"(load failed)"};
    return diff(*a, *b).restart_needed;
  }

  TempDir dir_;
  int n_ = 0;
};

TEST_F(Diff, TheSameFileIsNoChange) {
  const std::string yaml = kBase + "peers:\n" + peer(1) + peer(2);
  auto a = load(yaml), b = load(yaml);
  ASSERT_TRUE(a && b);
  const StateDiff d = diff(*a, *b);
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.peer_changes(), 0u);
}

TEST_F(Diff, EverySettingThatTakesARestartIsNamed) {
  using V = std::vector<std::string>;
  EXPECT_EQ(restart("name: wg0", "name: wg1"), V{"interface.name"});
  EXPECT_EQ(restart("hub.key", "other.key"), V{"interface.private_key_file"});
  EXPECT_EQ(restart("listen_port: 51820", "listen_port: 51821"), V{"interface.listen_port"});
  EXPECT_EQ(restart("listen_port: 51820", "listen_port: 51820\n  address: 10.200.0.1/24"),
            V{"interface.address"});
  EXPECT_EQ(restart("devargs: net_null0", "devargs: net_null2"), V{"ports.wan.devargs"});
  EXPECT_EQ(restart("198.51.100.10/24", "198.51.100.11/24"), V{"ports.wan.address"});
  // What port_changed used to miss: gateways and routes.
  EXPECT_EQ(restart("gateway: 198.51.100.1", "gateway: 198.51.100.2"), V{"ports.wan.gateway"});
  EXPECT_EQ(restart("gateway: 10.0.0.254", "gateway: 10.0.0.253"), V{"ports.lan.gateway"});
  EXPECT_EQ(restart("via: 10.0.0.9", "via: 10.0.0.8"), V{"ports.lan.routes"});
  EXPECT_EQ(restart("address: 10.0.0.1/16", "address: 10.0.0.1/16\n    address6: fd00::1/64"),
            V{"ports.lan.address6"});
  EXPECT_EQ(restart("lcores: [1]", "lcores: [1, 2]"), V{"dataplane.lcores"});
  // What used to be replaced with the running value without a word.
  EXPECT_EQ(restart("burst_size: 32", "burst_size: 64"), V{"dataplane.burst_size"});
  EXPECT_EQ(restart("enabled: true", "enabled: false"), V{"metrics.enabled"});
  EXPECT_EQ(restart("0.0.0.0:9586", "127.0.0.1:9586"), V{"metrics.listen"});
  EXPECT_EQ(restart("listen: \"0.0.0.0:9586\"", "listen: \"0.0.0.0:9586\", per_peer: none"),
            V{"metrics.per_peer"});
  EXPECT_EQ(restart("listen: \"0.0.0.0:9586\"", "listen: \"0.0.0.0:9586\", per_peer_limit: 10"),
            V{"metrics.per_peer_limit"});
  EXPECT_EQ(restart("listen: \"0.0.0.0:9586\"", "listen: \"0.0.0.0:9586\", peer_endpoints: true"),
            V{"metrics.peer_endpoints"});
}

TEST_F(Diff, ASecretComparesByContentNotByFile) {
  EXPECT_TRUE(restart("hub.key", "copy.key").empty());
}

TEST_F(Diff, PeersAreMatchedByKeyAndEachChangeIsListedOnce) {
  auto a = load(kBase + "peers:\n" + peer(1) + peer(2) + peer(3) + peer(4) + peer(5));
  // 1 removed, 2 unchanged (moved in the file), 3 new AllowedIPs, 4 renamed +
  // keepalive, 5 endpoint + preshared key, 6 added.
  std::string p3 = peer(3);
  p3.replace(p3.find("10.103.0.0/24"), 13, "10.103.0.0/24, 10.203.0.0/24");
  std::string p4 = peer(4, "    persistent_keepalive: 25\n");
  p4.replace(p4.find("name: p4"), 8, "name: q4");
  auto b = load(kBase + "peers:\n" + p3 + p4 +
                peer(5, "    endpoint: \"192.0.2.5:51820\"\n    preshared_key_file: psk\n") +
                peer(6) + peer(2));
  ASSERT_TRUE(a && b);
  const StateDiff d = diff(*a, *b);
  EXPECT_TRUE(d.restart_needed.empty());
  ASSERT_EQ(d.removed.size(), 1u);
  EXPECT_EQ(a->peers[d.removed[0]].name, "p1");
  ASSERT_EQ(d.added.size(), 1u);
  EXPECT_EQ(b->peers[d.added[0]].name, "p6");
  ASSERT_EQ(d.changed.size(), 3u);
  using V = std::vector<std::string>;
  EXPECT_EQ(b->peers[d.changed[0].index].name, "p3");
  EXPECT_EQ(d.changed[0].fields, V{"allowed_ips"});
  EXPECT_EQ(b->peers[d.changed[1].index].name, "q4");
  EXPECT_EQ(d.changed[1].fields, (V{"name", "persistent_keepalive"}));
  EXPECT_EQ(b->peers[d.changed[2].index].name, "p5");
  EXPECT_EQ(d.changed[2].fields, (V{"preshared_key", "endpoint"}));
  EXPECT_EQ(d.peer_changes(), 5u);
}

TEST_F(Diff, OnePeerChangedInManyIsOneChange) {
  std::string before = kBase + "peers:\n", after = kBase + "peers:\n";
  for (int i = 1; i <= 150; ++i) {
    before += peer(i);
    after += peer(i, i == 77 ? "    persistent_keepalive: 5\n" : "");
  }
  auto a = load(before), b = load(after);
  ASSERT_TRUE(a && b);
  const StateDiff d = diff(*a, *b);
  EXPECT_TRUE(d.added.empty());
  EXPECT_TRUE(d.removed.empty());
  ASSERT_EQ(d.changed.size(), 1u);
  EXPECT_EQ(b->peers[d.changed[0].index].name, "p77");
}

TEST_F(Diff, MergeKeepsTheRunningSettingsAndTakesThePeers) {
  auto a = load(kBase + "peers:\n" + peer(1));
  std::string next = kBase + "peers:\n" + peer(2);
  next.replace(next.find("burst_size: 32"), 14, "burst_size: 64");
  auto b = load(next);
  ASSERT_TRUE(a && b);
  const DesiredState m = merge_restart_settings(*a, *b);
  EXPECT_EQ(m.dataplane.burst_size, 32u);
  ASSERT_EQ(m.peers.size(), 1u);
  EXPECT_EQ(m.peers[0].name, "p2");
  EXPECT_NE(m.find_peer(b->peers[0].public_key), nullptr);
  EXPECT_EQ(m.find_peer(a->peers[0].public_key), nullptr);
}

}  // namespace
}  // namespace wghub::config

namespace wghub::config {
namespace {

// peers_dir files are parsed on several threads (peers.cpp): the peers and
// the error messages still come in file-name order, as a sequential load.
TEST(PeersDirInParallel, ManyFilesLoadInNameOrderWithErrorsInOrder) {
  TempDir dir;
  dir.write("hub.key", key_text(0x42) + "\n", 0600);
  constexpr int kFiles = 1200;
  for (int i = 0; i < kFiles; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "peers/s%04d.yaml", i);
    std::uint8_t key[32] = {};
    key[0] = static_cast<std::uint8_t>(i);
    key[1] = static_cast<std::uint8_t>(i >> 8);
    key[2] = 0x99;
    dir.write(name, "public_key: \"" + crypto::key_to_base64(key) + "\"\nallowed_ips: [10." +
                        std::to_string(100 + i / 256) + "." + std::to_string(i % 256) + ".0/24]\n");
  }
  const std::string head =
      "interface: {private_key_file: hub.key}\n"
      "ports:\n"
      "  wan: {devargs: net_null0, address: 198.51.100.10/24}\n"
      "  lan: {devargs: net_null1, address: 10.0.0.1/16}\n"
      "peers_dir: peers\n";
  LoadResult ok = load_config_file(dir.write("hub.yaml", head));
  ASSERT_TRUE(ok.ok()) << ok.error_text();
  ASSERT_EQ(ok.state->peers.size(), static_cast<std::size_t>(kFiles));
  for (int i = 0; i < kFiles; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "s%04d", i);
    ASSERT_EQ(ok.state->peers[static_cast<std::size_t>(i)].name, name);
  }

  dir.write("peers/s0700.yaml", "public_key: nope\n");
  dir.write("peers/s0100.yaml", "public_key: [\n");
  LoadResult bad = load_config_file(dir / "hub.yaml");
  ASSERT_EQ(bad.errors.size(), 2u) << bad.error_text();
  EXPECT_EQ(bad.errors[0].to_string().rfind(dir / "peers/s0100.yaml:", 0), 0u) << bad.error_text();
  EXPECT_EQ(bad.errors[1].to_string().rfind(dir / "peers/s0700.yaml:1:13: public_key: ", 0), 0u)
      << bad.error_text();
}

}  // namespace
}  // namespace wghub::config
