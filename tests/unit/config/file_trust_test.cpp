// config/file_trust (issue 13 item 8): the config file, peers_dir and its peer
// files are refused when someone other than root (or the user wghub runs as)
// could change them, with the key files' kind of message. The ownership cases
// chown, so they need root and are skipped without it.
#include "config/file_trust.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/loader.hpp"
#include "temp_dir.hpp"

namespace wghub::config {
namespace {

using test::key_text;
using test::TempDir;

constexpr uid_t kNobody = 65534;

class FileTrust : public ::testing::Test {
 protected:
  void SetUp() override {
    ::chmod(dir_.path().c_str(), 0755);
    dir_.write("hub.key", key_text(0x42) + "\n", 0600);
    dir_.mkdir("peers.d");
    ::chmod((dir_ / "peers.d").c_str(), 0755);
    dir_.write("peers.d/a.yaml", "public_key: " + key_text(1) + "\nallowed_ips: [10.1.0.0/24]\n",
               0644);
    config_ = dir_.write("hub.yaml",
                         "interface:\n"
                         "  private_key_file: hub.key\n"
                         "ports:\n"
                         "  wan: {devargs: net_null0, address: 198.51.100.10/24}\n"
                         "  lan: {devargs: net_null1, address: 10.0.0.1/16}\n"
                         "peers_dir: peers.d\n",
                         0644);
  }
  // The loader's one error line, or "" when the config loads.
  std::string load_error() {
    const LoadResult r = load_config_file(config_);
    if (r.ok()) return "";
    EXPECT_EQ(r.errors.size(), 1u) << r.error_text();
    return r.errors.empty() ? "" : r.errors[0].to_string();
  }

  TempDir dir_;
  std::string config_;
};

TEST_F(FileTrust, OwnerWritableFilesLoad) {
  EXPECT_EQ(load_error(), "");
  ::chmod(config_.c_str(), 0600);
  ::chmod((dir_ / "peers.d").c_str(), 0700);
  EXPECT_EQ(load_error(), "");
}

TEST_F(FileTrust, GroupWritableConfigFileIsRefused) {
  ::chmod(config_.c_str(), 0664);
  EXPECT_EQ(load_error(), config_ + ": config file '" + config_ +
                              "' is writable by group or others (mode 0664); anyone who can "
                              "write it could add peers. Refusing to use it. Fix it with: chmod "
                              "go-w " +
                              config_);
}

TEST_F(FileTrust, WorldWritablePeersDirIsRefused) {
  const std::string peers = dir_ / "peers.d";
  ::chmod(peers.c_str(), 0777);
  EXPECT_EQ(load_error(), config_ + ":6:12: peers_dir: peers directory '" + peers +
                              "' is writable by group or others (mode 0777); anyone who can "
                              "write it could add peers. Refusing to use it. Fix it with: chmod "
                              "go-w " +
                              peers);
}

TEST_F(FileTrust, GroupWritablePeerFileIsRefused) {
  const std::string file = dir_ / "peers.d/a.yaml";
  ::chmod(file.c_str(), 0620);
  const std::string error = load_error();
  EXPECT_EQ(
      error.rfind(
          file + ": peer file '" + file + "' is writable by group or others (mode " + "0620)", 0),
      0u)
      << error;
}

TEST_F(FileTrust, FilesOwnedByAnotherUserAreRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  ASSERT_EQ(::chown(config_.c_str(), kNobody, 0), 0);
  std::string error = load_error();
  EXPECT_NE(error.find("config file '" + config_ + "' is owned by uid 65534"), std::string::npos)
      << error;
  EXPECT_NE(error.find("not root; its owner could add peers. Refusing to use it. Fix it with: "
                       "chown root:root " +
                       config_),
            std::string::npos)
      << error;
  ASSERT_EQ(::chown(config_.c_str(), 0, 0), 0);
  ASSERT_EQ(::chown((dir_ / "peers.d").c_str(), kNobody, 0), 0);
  EXPECT_NE(load_error().find("peers directory '" + (dir_ / "peers.d") + "' is owned by uid 65534"),
            std::string::npos);
  ASSERT_EQ(::chown((dir_ / "peers.d").c_str(), 0, 0), 0);
  ASSERT_EQ(::chown((dir_ / "peers.d/a.yaml").c_str(), kNobody, kNobody), 0);
  EXPECT_NE(
      load_error().find("peer file '" + (dir_ / "peers.d/a.yaml") + "' is owned by uid 65534"),
      std::string::npos);
}

}  // namespace
}  // namespace wghub::config
