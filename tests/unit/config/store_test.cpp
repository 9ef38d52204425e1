// Peers from a store (docs/ha.md): the `store:` section, a store value <->
// peer round trip, a snapshot loaded as the peers of a config (errors name
// the key, line and field), the diff a store event makes, and the cache file.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>

#include "config/diff.hpp"
#include "config/loader.hpp"
#include "config/store_cache.hpp"
#include "config/store_peers.hpp"
#include "temp_dir.hpp"

namespace wghub::config {
namespace {

using test::key_text;
using test::TempDir;

const std::string kBase =
    "interface: {name: wgha0, private_key_file: hub.key}\n"
    "ports:\n"
    "  wan: {devargs: net_null0, address: 198.51.100.10/24}\n"
    "  lan: {devargs: net_null1, address: 10.0.0.1/16}\n";

std::string value(int n, const std::string& extra = "") {
  return "public_key: \"" + key_text(static_cast<std::uint8_t>(n)) + "\"\nallowed_ips: [10." +
         std::to_string(100 + n) + ".0.0/24]\n" + extra;
}

class Store : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("hub.key", key_text(0x42) + "\n", 0600);
    dir_.write("psk", key_text(0x77) + "\n", 0600);
  }
  std::string config(const std::string& store_section) {
    return dir_.write("hub" + std::to_string(n_++) + ".yaml", kBase + store_section);
  }
  std::string with_store() {
    return config(
        "store: {endpoints: [\"http://127.0.0.1:2379\"], prefix: /t/peers/, cache_file: " +
        (dir_ / "cache.json") + "}\n");
  }
  static StoreSnapshot snap(std::vector<StoreEntry> entries, std::int64_t rev = 7) {
    StoreSnapshot s;
    s.revision = rev;
    s.entries = std::move(entries);
    return s;
  }
  TempDir dir_;
  int n_ = 0;
};

TEST_F(Store, SectionIsParsedWithDefaults) {
  LoadResult r = load_config_file(config("store:\n  endpoints: [\"http://10.0.0.5:2379\"]\n"));
  ASSERT_TRUE(r.ok()) << r.error_text();
  EXPECT_TRUE(r.state->store.enabled());
  EXPECT_EQ(r.state->store.prefix, "/wghub/peers/");
  EXPECT_EQ(r.state->store.cache_file, "/var/lib/wghub/wgha0.store.json");
  EXPECT_FALSE(r.state->store.election);  // one box: always active
  EXPECT_EQ(r.state->store.lease_ttl, 2u);
  EXPECT_EQ(r.state->store.leader_key, "/wghub/leader");
  LoadResult e = load_config_file(
      config("store: {endpoints: [\"http://a:1\"], prefix: /x/y/peers/, election: true, "
             "node_name: hub-b, lease_ttl: 3}\n"));
  ASSERT_TRUE(e.ok()) << e.error_text();
  EXPECT_TRUE(e.state->store.election);
  EXPECT_EQ(e.state->store.node_name, "hub-b");
  EXPECT_EQ(e.state->store.lease_ttl, 3u);
  EXPECT_EQ(e.state->store.leader_key, "/x/y/leader");
  EXPECT_FALSE(e.state->store.failsafe_listen.has_value());
  LoadResult f = load_config_file(
      config("store: {endpoints: [\"http://a:1\"], election: true, failsafe_listen: "
             "\"10.9.0.1:51821\", failsafe_peers: [\"10.9.0.2:51821\", \"10.9.0.3:51821\"]}\n"));
  ASSERT_TRUE(f.ok()) << f.error_text();
  ASSERT_TRUE(f.state->store.failsafe_listen.has_value());
  EXPECT_EQ(f.state->store.failsafe_listen->to_string(), "10.9.0.1:51821");
  ASSERT_EQ(f.state->store.failsafe_peers.size(), 2u);
  EXPECT_EQ(f.state->store.failsafe_peers[1].to_string(), "10.9.0.3:51821");
  // Without the section: no store.
  LoadResult plain = load_config_file(config(""));
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain.state->store.enabled());
}

TEST_F(Store, BadSectionNamesTheField) {
  struct Case {
    std::string yaml, field, text;
  };
  const Case cases[] = {
      {"store: {endpoints: [\"10.0.0.5:2379\"]}\n", "store.endpoints[0]", "not an etcd client URL"},
      {"store: {endpoints: []}\n", "store.endpoints", "empty"},
      {"store: {endpoints: [\"http://a:1\"], prefix: wghub}\n", "store.prefix", "not a key prefix"},
      {"store: {endpoints: [\"http://a:1\"], user: hub}\n", "store.password_file", "go together"},
      {"store: {endpoints: [\"http://a:1\"], cert_file: c.pem}\n", "store.key_file", "go together"},
      {"store: {endpoints: [\"http://a:1\"], endpoint: x}\n", "store", "endpoint"},
      {"store: {endpoints: [\"http://a:1\"], lease_ttl: 1}\n", "store.lease_ttl", "out of range"},
      {"store: {endpoints: [\"http://a:1\"], election: maybe}\n", "store.election", ""},
      {"store: {endpoints: [\"http://a:1\"], node_name: \"a b\"}\n", "store.node_name",
       "not a node name"},
      {"store: {endpoints: [\"http://a:1\"], leader_key: /wghub/peers/leader}\n",
       "store.leader_key", "outside the peers' prefix"},
      {"store: {endpoints: [\"http://a:1\"], failsafe_listen: \"10.9.0.1:1\", "
       "failsafe_peers: [\"10.9.0.2:1\"]}\n",
       "store.failsafe_peers", "needs election: true"},
      {"store: {endpoints: [\"http://a:1\"], election: true, failsafe_peers: [\"10.9.0.2:1\"]}\n",
       "store.failsafe_peers", "needs failsafe_listen"},
      {"store: {endpoints: [\"http://a:1\"], election: true, failsafe_listen: \"10.9.0.1:1\"}\n",
       "store.failsafe_listen", "needs failsafe_peers"},
      {"store: {endpoints: [\"http://a:1\"], election: true, failsafe_listen: \"10.9.0.1:1\", "
       "failsafe_peers: []}\n",
       "store.failsafe_peers", "empty"},
      {"store: {endpoints: [\"http://a:1\"], election: true, failsafe_listen: \"10.9.0.1:1\", "
       "failsafe_peers: [\"10.9.0.2\"]}\n",
       "store.failsafe_peers[0]", ""},
      {"store: {endpoints: [\"http://a:1\"], election: true, failsafe_listen: \"10.9.0.1:1\", "
       "failsafe_peers: [\"[fd00::2]:1\"]}\n",
       "store.failsafe_peers[0]", "address family"},
  };
  for (const Case& c : cases) {
    LoadResult r = load_config_file(config(c.yaml));
    ASSERT_FALSE(r.ok()) << c.yaml;
    const std::string text = r.error_text();
    EXPECT_NE(text.find(c.field), std::string::npos) << text;
    EXPECT_NE(text.find(c.text), std::string::npos) << text;
  }
}

TEST_F(Store, ValueRoundTripsToTheSamePeer) {
  const std::string path = config(
      "store: {endpoints: [\"http://a:1\"]}\npeers:\n  - name: site-a\n    public_key: \"" +
      key_text(1) +
      "\"\n    allowed_ips: [10.1.0.0/24, \"fd00:1::/64\"]\n    endpoint: \"[2001:db8::1]:51820\"\n"
      "    persistent_keepalive: 25\n    preshared_key_file: psk\n");
  LoadResult file = load_config_file(path);
  ASSERT_TRUE(file.ok()) << file.error_text();
  const StoreSnapshot s = snapshot_of(file.state->store, file.state->peers);
  ASSERT_EQ(s.entries.size(), 1u);
  EXPECT_EQ(s.entries[0].key, "/wghub/peers/site-a");
  EXPECT_EQ(s.entries[0].value.find(key_text(0x77)), std::string::npos) << "a key leaked";
  LoadResult back = load_config_file(path, nullptr, &s);
  ASSERT_TRUE(back.ok()) << back.error_text();
  ASSERT_EQ(back.state->peers.size(), 1u);
  const StateDiff d = diff(*file.state, *back.state);
  EXPECT_TRUE(d.empty()) << d.changed.size();
  EXPECT_EQ(back.state->peers[0].origin.file, "etcd:/wghub/peers/site-a");
}

TEST_F(Store, SnapshotPeersReplaceTheFilesPeers) {
  const std::string path = config(
      "store: {endpoints: [\"http://a:1\"], prefix: /t/peers/}\npeers:\n  - name: filepeer\n"
      "    public_key: \"" +
      key_text(9) + "\"\n");
  const StoreSnapshot s =
      snap({{"/t/peers/a", value(1)}, {"/t/peers/b", "name: bee\n" + value(2)}});
  LoadResult r = load_config_file(path, nullptr, &s);
  ASSERT_TRUE(r.ok()) << r.error_text();
  ASSERT_EQ(r.state->peers.size(), 2u);
  EXPECT_EQ(r.state->peers[0].name, "a");  // the key's name
  EXPECT_EQ(r.state->peers[1].name, "bee");
  EXPECT_EQ(r.state->find_peer("filepeer"), nullptr);
}

TEST_F(Store, BadValueNamesKeyLineAndField) {
  const StoreSnapshot s =
      snap({{"/t/peers/a", value(1)},
            {"/t/peers/b", value(2, "endpoint: nowhere\n")},
            {"/t/peers/c", value(3, "preshared_key_file: psk\n")},
            {"/t/peers/d", "public_key: \"" + key_text(4) + "\"\nallowed_ips: [10.101.0.0/24]\n"}});
  LoadResult r = load_config_file(with_store(), nullptr, &s);
  ASSERT_FALSE(r.ok());
  const std::string text = r.error_text();
  EXPECT_NE(text.find("etcd:/t/peers/b:3:11: endpoint:"), std::string::npos) << text;
  EXPECT_NE(text.find("etcd:/t/peers/c:3:21: preshared_key_file: 'psk' is a relative path"),
            std::string::npos)
      << text;
  // A prefix owned twice names both keys.
  EXPECT_NE(text.find("etcd:/t/peers/d"), std::string::npos) << text;
  EXPECT_NE(text.find("etcd:/t/peers/a"), std::string::npos) << text;
}

TEST_F(Store, AStoreEventDiffsLikeAReload) {
  const std::string path = with_store();
  const StoreSnapshot before = snap({{"/t/peers/a", value(1)}, {"/t/peers/b", value(2)}});
  // b removed, a's allowed IPs changed, c added.
  const StoreSnapshot after =
      snap({{"/t/peers/a", "public_key: \"" + key_text(1) + "\"\nallowed_ips: [10.201.0.0/24]\n"},
            {"/t/peers/c", value(3)}},
           9);
  LoadResult a = load_config_file(path, nullptr, &before);
  LoadResult b = load_config_file(path, a.state.get(), &after);
  ASSERT_TRUE(a.ok() && b.ok()) << a.error_text() << b.error_text();
  const StateDiff d = diff(*a.state, *b.state);
  EXPECT_TRUE(d.restart_needed.empty());
  ASSERT_EQ(d.removed.size(), 1u);
  EXPECT_EQ(a.state->peers[d.removed[0]].name, "b");
  ASSERT_EQ(d.added.size(), 1u);
  EXPECT_EQ(b.state->peers[d.added[0]].name, "c");
  ASSERT_EQ(d.changed.size(), 1u);
  EXPECT_EQ(d.changed[0].fields, std::vector<std::string>{"allowed_ips"});
  // An empty store removes every peer (the hub never builds one from a
  // lost connection: docs/ha.md).
  const StoreSnapshot empty = snap({}, 10);
  LoadResult c = load_config_file(path, b.state.get(), &empty);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(diff(*b.state, *c.state).removed.size(), 2u);
}

TEST_F(Store, UnchangedValuesAreReusedNotParsed) {
  const std::string path = with_store();
  const StoreSnapshot before = snap({{"/t/peers/a", value(1)}, {"/t/peers/b", value(2)}});
  const StoreSnapshot after = snap({{"/t/peers/a", value(1)},
                                    {"/t/peers/b", value(2, "persistent_keepalive: 5\n")},
                                    {"/t/peers/c", value(3)}});
  LoadResult a = load_config_file(path, nullptr, &before);
  ASSERT_TRUE(a.ok()) << a.error_text();
  EXPECT_EQ(a.peers_reused, 0u);
  LoadResult b = load_config_file(path, a.state.get(), &after);
  ASSERT_TRUE(b.ok()) << b.error_text();
  EXPECT_EQ(b.peers_reused, 1u);  // a; b changed, c is new
  const StateDiff d = diff(*a.state, *b.state);
  EXPECT_EQ(d.added.size(), 1u);
  ASSERT_EQ(d.changed.size(), 1u);
  EXPECT_EQ(d.changed[0].fields, std::vector<std::string>{"persistent_keepalive"});
  // A file load after a store load reuses nothing of it (and the other way round).
  LoadResult file = load_config_file(path, b.state.get());
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file.state->peers.size(), 0u);
  // With an error, the messages are those of a full load: the collision
  // names both keys with their positions, the reused one included.
  const StoreSnapshot clash =
      snap({{"/t/peers/a", value(1)},
            {"/t/peers/d", "public_key: \"" + key_text(4) + "\"\nallowed_ips: [10.101.0.0/24]\n"}});
  LoadResult c = load_config_file(path, b.state.get(), &clash);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error_text().find("etcd:/t/peers/a:2:"), std::string::npos) << c.error_text();
}

TEST_F(Store, StoreSettingsTakeARestart) {
  LoadResult a = load_config_file(config("store: {endpoints: [\"http://a:1\"]}\n"));
  LoadResult b = load_config_file(config("store: {endpoints: [\"http://b:1\"]}\n"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(diff(*a.state, *b.state).restart_needed, std::vector<std::string>{"store.endpoints"});
}

TEST_F(Store, CacheRoundTripsAndIsPrivate) {
  const std::string path = dir_ / "sub/cache.json";
  const StoreSnapshot s =
      snap({{"/t/peers/a", value(1)}, {"/t/peers/b", "x: \"quote\\\"\"\n"}}, 42);
  std::string error;
  ASSERT_TRUE(write_store_cache(path, "/t/peers/", s, error)) << error;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = read_store_cache(path, "/t/peers/", error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->snapshot, s);
  EXPECT_GT(back->written, 0);
  // Another prefix's cache, a broken one, one anybody may write: refused, saying why.
  EXPECT_FALSE(read_store_cache(path, "/other/", error));
  EXPECT_NE(error.find("prefix /t/peers/"), std::string::npos) << error;
  dir_.write("broken.json", "{\"format\": 1, \"prefix\": \"/t/peers/\"", 0600);
  EXPECT_FALSE(read_store_cache(dir_ / "broken.json", "/t/peers/", error));
  EXPECT_NE(error.find("unusable"), std::string::npos) << error;
  ::chmod(path.c_str(), 0666);
  EXPECT_FALSE(read_store_cache(path, "/t/peers/", error));
  EXPECT_NE(error.find("chmod"), std::string::npos) << error;
  EXPECT_FALSE(read_store_cache(dir_ / "missing.json", "/t/peers/", error));
  EXPECT_NE(error.find("no cached store state"), std::string::npos) << error;
}

}  // namespace
}  // namespace wghub::config
