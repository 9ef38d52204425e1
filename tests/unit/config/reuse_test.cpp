// A reload's load with the running state as `previous` (config/sources.hpp):
// files whose text did not change are not parsed again, yet the result and
// every message are those of a load without it. Key files are read again
// (their content is not in the YAML's hash), and a load that reused
// anything and found an error is redone in full.
#include <gtest/gtest.h>

#include <filesystem>

#include "config/diff.hpp"
#include "config/loader.hpp"
#include "temp_dir.hpp"

namespace wghub::config {
namespace {

using test::key_text;
using test::kHead;
using test::messages;
using test::TempDir;

std::string inline_peers(int first, int count, const std::string& extra = "") {
  std::string out = "peers:\n";
  for (int i = first; i < first + count; ++i)
    out += "  - name: p" + std::to_string(i) + "\n    public_key: " + key_text(i) +
           "\n    allowed_ips: [10." + std::to_string(100 + i) + ".0.0/24]\n";
  return out + extra;
}

std::string peer_file(int i, const std::string& allowed) {
  return "public_key: " + key_text(i) + "\nallowed_ips: [" + allowed + "]\n";
}

class Reuse : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("hub.key", key_text(0x42) + "\n", 0600);
    dir_.write("psk/a.key", key_text(0x55) + "\n", 0600);
  }
  std::string config() const { return dir_ / "hub.yaml"; }
  void write_config(const std::string& yaml) { dir_.write("hub.yaml", yaml); }
  LoadResult first_load() {
    LoadResult r = load_config_file(config());
    EXPECT_TRUE(r.ok()) << r.error_text();
    return r;
  }

  TempDir dir_;
};

TEST_F(Reuse, UnchangedFileIsNotParsedAgain) {
  write_config(kHead + inline_peers(1, 20));
  const LoadResult a = first_load();
  EXPECT_EQ(a.files_parsed, 1u);
  EXPECT_EQ(a.peers_reused, 0u);
  const LoadResult b = load_config_file(config(), a.state.get());
  ASSERT_TRUE(b.ok()) << b.error_text();
  EXPECT_EQ(b.files_parsed, 0u);
  EXPECT_EQ(b.peers_reused, 20u);
  EXPECT_TRUE(diff(*a.state, *b.state).empty());
  ASSERT_EQ(b.state->peers.size(), 20u);
  EXPECT_EQ(b.state->peers[7].origin.to_string(), a.state->peers[7].origin.to_string());
  EXPECT_EQ(b.state->find_peer("p8"), &b.state->peers[7]);
}

TEST_F(Reuse, ChangedFileIsParsed) {
  write_config(kHead + inline_peers(1, 20));
  const LoadResult a = first_load();
  write_config(kHead + inline_peers(1, 21));
  const LoadResult b = load_config_file(config(), a.state.get());
  ASSERT_TRUE(b.ok()) << b.error_text();
  EXPECT_EQ(b.files_parsed, 1u);
  EXPECT_EQ(b.peers_reused, 0u);
  EXPECT_EQ(diff(*a.state, *b.state).added.size(), 1u);
}

TEST_F(Reuse, PresharedKeyFileIsReadAgain) {
  write_config(kHead + inline_peers(1, 2,
                                    "  - {name: a, public_key: " + key_text(9) +
                                        ", allowed_ips: [10.9.0.0/24], preshared_key_file: "
                                        "psk/a.key}\n"));
  const LoadResult a = first_load();
  dir_.write("psk/a.key", key_text(0x56) + "\n", 0600);  // the YAML stays as it was
  const LoadResult b = load_config_file(config(), a.state.get());
  ASSERT_TRUE(b.ok()) << b.error_text();
  EXPECT_EQ(b.files_parsed, 1u);
  const StateDiff d = diff(*a.state, *b.state);
  ASSERT_EQ(d.changed.size(), 1u);
  EXPECT_EQ(d.changed[0].fields, std::vector<std::string>{"preshared_key"});
}

TEST_F(Reuse, PrivateKeyFileIsReadAgain) {
  write_config(kHead + inline_peers(1, 2));
  const LoadResult a = first_load();
  dir_.write("hub.key", key_text(0x43) + "\n", 0600);
  const LoadResult b = load_config_file(config(), a.state.get());
  ASSERT_TRUE(b.ok()) << b.error_text();
  EXPECT_EQ(diff(*a.state, *b.state).restart_needed,
            std::vector<std::string>{"interface.private_key_file"});
}

TEST_F(Reuse, KeyFileErrorIsThatOfAFullLoad) {
  write_config(kHead + inline_peers(1, 2,
                                    "  - {name: a, public_key: " + key_text(9) +
                                        ", allowed_ips: [10.9.0.0/24], preshared_key_file: "
                                        "psk/a.key}\n"));
  const LoadResult a = first_load();
  dir_.write("psk/a.key", key_text(0x55) + "\n", 0644);  // readable by others: refused
  const LoadResult full = load_config_file(config());
  const LoadResult b = load_config_file(config(), a.state.get());
  ASSERT_FALSE(full.ok());
  EXPECT_FALSE(b.ok());
  EXPECT_EQ(messages(b), messages(full));
}

// The restart settings: the running state keeps the old ones, its sources
// the file's; an unchanged reload still names what needs a restart.
TEST_F(Reuse, RestartSettingsComeFromTheFile) {
  write_config(kHead + inline_peers(1, 2));
  const LoadResult a = first_load();
  write_config("interface:\n  listen_port: 51821\n" + kHead.substr(kHead.find('\n') + 1) +
               inline_peers(1, 2));
  const LoadResult b = load_config_file(config(), a.state.get());
  ASSERT_TRUE(b.ok()) << b.error_text();
  const auto running =
      std::make_shared<const DesiredState>(merge_restart_settings(*a.state, *b.state));
  EXPECT_EQ(running->interface.listen_port, kDefaultListenPort);
  const LoadResult c = load_config_file(config(), running.get());
  ASSERT_TRUE(c.ok()) << c.error_text();
  EXPECT_EQ(c.files_parsed, 0u);
  EXPECT_EQ(c.state->interface.listen_port, 51821);
  EXPECT_EQ(diff(*running, *c.state).restart_needed,
            std::vector<std::string>{"interface.listen_port"});
}

class ReusePeersDir : public Reuse {
 protected:
  void SetUp() override {
    Reuse::SetUp();
    for (int i = 1; i <= 5; ++i)
      dir_.write("peers.d/s" + std::to_string(i) + ".yaml",
                 peer_file(i, "10." + std::to_string(i) + ".0.0/24"));
    write_config(kHead + "peers_dir: peers.d\n" + inline_peers(50, 2));
  }
};

TEST_F(ReusePeersDir, OneChangedFileIsTheOneParsed) {
  const LoadResult a = first_load();
  EXPECT_EQ(a.files_parsed, 6u);
  dir_.write("peers.d/s3.yaml", peer_file(3, "10.3.0.0/24, 10.33.0.0/24"));
  const LoadResult b = load_config_file(config(), a.state.get());
  ASSERT_TRUE(b.ok()) << b.error_text();
  EXPECT_EQ(b.files_parsed, 1u);
  EXPECT_EQ(b.peers_reused, 6u);  // 2 inline, 4 files
  const StateDiff d = diff(*a.state, *b.state);
  ASSERT_EQ(d.changed.size(), 1u);
  EXPECT_EQ(b.state->peers[d.changed[0].index].name, "s3");
  // The same as a load without reuse.
  const LoadResult full = load_config_file(config());
  EXPECT_TRUE(diff(*full.state, *b.state).empty());
}

TEST_F(ReusePeersDir, AddedAndRemovedFiles) {
  const LoadResult a = first_load();
  std::filesystem::remove(dir_ / "peers.d/s2.yaml");
  dir_.write("peers.d/s6.yaml", peer_file(6, "10.6.0.0/24"));
  const LoadResult b = load_config_file(config(), a.state.get());
  ASSERT_TRUE(b.ok()) << b.error_text();
  EXPECT_EQ(b.files_parsed, 1u);
  const StateDiff d = diff(*a.state, *b.state);
  EXPECT_EQ(d.added.size(), 1u);
  EXPECT_EQ(d.removed.size(), 1u);
  EXPECT_TRUE(d.changed.empty());
}

TEST_F(ReusePeersDir, MainFileChangedPeerFilesReused) {
  const LoadResult a = first_load();
  write_config(kHead + "peers_dir: peers.d\n" + inline_peers(50, 3));
  const LoadResult b = load_config_file(config(), a.state.get());
  ASSERT_TRUE(b.ok()) << b.error_text();
  EXPECT_EQ(b.files_parsed, 1u);
  EXPECT_EQ(b.peers_reused, 5u);
  EXPECT_EQ(diff(*a.state, *b.state).added.size(), 1u);
}

// A new file that collides with a reused peer: the messages name both
// places with line and column, as a load without reuse does.
TEST_F(ReusePeersDir, CollisionWithAReusedPeerIsReportedInFull) {
  const LoadResult a = first_load();
  dir_.write("peers.d/s9.yaml", peer_file(9, "10.2.0.0/24"));
  dir_.write("peers.d/s8.yaml", "name: s1\n" + peer_file(8, "10.8.0.0/24"));
  const LoadResult full = load_config_file(config());
  const LoadResult b = load_config_file(config(), a.state.get());
  ASSERT_FALSE(full.ok());
  EXPECT_FALSE(b.ok());
  EXPECT_EQ(messages(b), messages(full));
  ASSERT_EQ(messages(full).size(), 2u);
  EXPECT_NE(messages(full)[0].find("s1.yaml:1:1"), std::string::npos) << messages(full)[0];
  EXPECT_NE(messages(full)[1].find("s2.yaml:2:15"), std::string::npos) << messages(full)[1];
}

TEST_F(ReusePeersDir, MissingDirectoryIsReportedInFull) {
  const LoadResult a = first_load();
  std::filesystem::remove_all(dir_ / "peers.d");
  const LoadResult full = load_config_file(config());
  const LoadResult b = load_config_file(config(), a.state.get());
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(messages(b), messages(full));
  EXPECT_NE(messages(full)[0].find("hub.yaml:6:12"), std::string::npos) << messages(full)[0];
}

// A state for another file, or built by hand, offers nothing to reuse.
TEST_F(Reuse, OtherFileOrHandBuiltStateIsNotUsed) {
  write_config(kHead + inline_peers(1, 2));
  const LoadResult a = first_load();
  dir_.write("other.yaml", kHead + inline_peers(1, 2));
  const LoadResult b = load_config_file(dir_ / "other.yaml", a.state.get());
  ASSERT_TRUE(b.ok()) << b.error_text();
  EXPECT_EQ(b.files_parsed, 1u);
  DesiredState by_hand = *a.state;
  by_hand.peers.pop_back();
  const LoadResult c = load_config_file(config(), &by_hand);
  ASSERT_TRUE(c.ok()) << c.error_text();
  EXPECT_EQ(c.files_parsed, 1u);
}

}  // namespace
}  // namespace wghub::config
