// Peers from a store (docs/ha.md) through the real hub: a store snapshot
// handed to the reloader (what the store thread does for every etcd change)
// is parsed, diffed and applied in slices like a reload; the peers it keeps
// keep their sessions, the ones it drops are gone, the new ones are there;
// the snapshot is cached. A snapshot with an error and a file whose store
// settings changed apply nothing. (tests/interop/store_lab_test.sh runs the
// same with a real etcd.)
#include <chrono>
#include <filesystem>
#include <thread>

#include "config/store_cache.hpp"
#include "crypto/base64.hpp"
#include "tests/pipeline/pipeline_test.hpp"

namespace wghub::pipeline {
namespace {

constexpr const char* kPrefix = "/pipe/peers/";

std::string store_yaml() {
  return std::string("store:\n  endpoints: [\"http://127.0.0.1:1\"]\n  prefix: ") + kPrefix +
         "\n  cache_file: store-cache.json\n";
}

// A peer value nobody plays: a key of `fill` bytes, one /32.
std::string stranger_value(std::uint8_t fill) {
  std::uint8_t key[32];
  for (auto& b : key) b = fill;
  return "public_key: \"" + crypto::key_to_base64(key) + "\"\nallowed_ips: [172.16.9." +
         std::to_string(fill) + "/32]\n";
}

bool site_to_hq(Harness& h, SimPeer& site, std::uint32_t seq) {
  h.send(site, site.seal(inner_udp(ip4(10, 1, 0, 5), kHqHostIp, seq, 64)));
  h.run();
  return h.take_lan().size() == 1;
}

class StoreTest : public PipelineTest {
 protected:
  void SetUp() override {
    HarnessOptions o;
    o.extra_yaml = store_yaml();
    rebuild(std::move(o));
  }
  // The store entry of a peer the harness plays, as `wghub store push` writes it.
  config::StoreEntry played(const std::string& name) {
    const config::DesiredState& s = h().hub().state();
    const config::Peer* p = s.find_peer(name);
    EXPECT_NE(p, nullptr) << name;
    return config::StoreEntry{config::store_key(s.store, *p), config::store_value(*p)};
  }
  // Hands the snapshot to the reloader and steps the control thread until applied.
  const ctl::ReloadReport& apply(std::vector<config::StoreEntry> entries, std::int64_t revision) {
    auto snap = std::make_shared<config::StoreSnapshot>();
    snap->revision = revision;
    snap->entries = std::move(entries);
    h().hub().reloader().request_store(snap, std::chrono::steady_clock::now());
    while (h().hub().reloader().busy()) {
      h().hub().poll_control_once();
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    h().hub().reloader().wait_disposed();  // the cache is written by then
    return h().hub().reloader().last();
  }
  std::string cache_path() const {
    return (std::filesystem::path(h_->config_path()).parent_path() / "store-cache.json").string();
  }
};

TEST_F(StoreTest, ASnapshotIsAppliedLikeAReloadAndCached) {
  SimPeer& a = h().peer("site-a");
  ASSERT_TRUE(h().establish(a));
  h().send(a, a.seal(inner_udp(ip4(10, 1, 0, 5), kHqHostIp, 0, 64)));
  h().run();  // the first packet waits for ARP of the HQ host
  ASSERT_EQ(h().take_lan().size(), 1u);
  ASSERT_EQ(h().hub().device().peers().size(), 2u);

  // site-a stays (same value), site-b is not in the store, two strangers are.
  const ctl::ReloadReport& r = apply({played("site-a"),
                                      {std::string(kPrefix) + "x1", stranger_value(1)},
                                      {std::string(kPrefix) + "x2", stranger_value(2)}},
                                     11);
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(r.from_store);
  EXPECT_EQ(r.added, 2u);
  EXPECT_EQ(r.removed, 1u);
  EXPECT_EQ(r.changed, 0u);
  const config::DesiredState& s = h().hub().state();
  EXPECT_NE(s.find_peer("x1"), nullptr);
  EXPECT_EQ(s.find_peer("site-b"), nullptr);
  EXPECT_EQ(h().hub().device().peers().size(), 3u);
  // site-a's session was not touched.
  EXPECT_TRUE(site_to_hq(h(), a, 1));
  const ctl::StoreApplyStats& st = h().hub().reloader().store_stats();
  EXPECT_EQ(st.revision_applied, 11);
  EXPECT_EQ(st.peer_changes, 3u);

  std::string error;
  auto cache = config::read_store_cache(cache_path(), kPrefix, error);
  ASSERT_TRUE(cache) << error;
  EXPECT_EQ(cache->snapshot.revision, 11);
  EXPECT_EQ(cache->snapshot.entries.size(), 3u);

  // A deleted key removes its peer; the others are untouched.
  const ctl::ReloadReport& r2 =
      apply({played("site-a"), {std::string(kPrefix) + "x2", stranger_value(2)}}, 12);
  EXPECT_EQ(r2.removed, 1u);
  EXPECT_EQ(r2.added + r2.changed, 0u);
  EXPECT_EQ(h().hub().state().find_peer("x1"), nullptr);
  EXPECT_TRUE(site_to_hq(h(), a, 2));
}

TEST_F(StoreTest, ASnapshotWithAnErrorChangesNothing) {
  apply({played("site-a"), played("site-b")}, 5);
  const ctl::ReloadReport& r = apply(
      {played("site-a"), {std::string(kPrefix) + "bad", "public_key: nope\nallowed_ips: [x]\n"}},
      6);
  EXPECT_FALSE(r.ok);
  ASSERT_FALSE(r.errors.empty());
  EXPECT_NE(r.errors[0].find("etcd:/pipe/peers/bad:1:13: public_key:"), std::string::npos)
      << r.errors[0];
  EXPECT_EQ(h().hub().device().peers().size(), 2u);
  EXPECT_NE(h().hub().state().find_peer("site-b"), nullptr);
  EXPECT_EQ(h().hub().reloader().store_stats().refused, 1u);
  EXPECT_EQ(h().hub().reloader().store_stats().revision_applied, 5);
  std::string error;
  auto cache = config::read_store_cache(cache_path(), kPrefix, error);
  ASSERT_TRUE(cache) << error;
  EXPECT_EQ(cache->snapshot.revision, 5) << "a refused snapshot was cached";
}

TEST_F(StoreTest, ChangedStoreSettingsApplyNothing) {
  apply({played("site-a")}, 3);
  ASSERT_EQ(h().hub().device().peers().size(), 1u);
  // The file loses its store: section; its own peers (site-a, site-b) must
  // not replace the store's on a reload.
  std::string head = h().config_head();
  head.erase(head.find(store_yaml()), store_yaml().size());
  ASSERT_TRUE(h().write_config(head + h().config_played_peers()));
  h().hub().reload();
  const ctl::ReloadReport& r = h().hub().reloader().last();
  EXPECT_FALSE(r.ok);
  ASSERT_FALSE(r.errors.empty());
  EXPECT_NE(r.errors[0].find("store: the store settings changed"), std::string::npos)
      << r.errors[0];
  EXPECT_EQ(h().hub().device().peers().size(), 1u);
}

}  // namespace
}  // namespace wghub::pipeline
