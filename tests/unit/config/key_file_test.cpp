// Key files: the ownership and permission rules (a regular file, not a
// link, owned by root, only the owner may access it), the accepted formats,
// and that no key content ever reaches an error message. The ownership tests
// chown, so they need root and are skipped without it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/keys.hpp"
#include "config/loader.hpp"
#include "temp_dir.hpp"

namespace wghub::config {
namespace {

using test::key_text;
using test::TempDir;

TEST(KeyFile, OwnerOnlyModesAreAccepted) {
  TempDir dir;
  for (mode_t mode : {0600, 0400, 0700}) {
    const std::string path = dir.write("k", key_text(0x31) + "\n", mode);
    auto r = read_key_file(path, KeyKind::private_key);
    ASSERT_NE(r.key, nullptr) << std::oct << mode << ": " << r.error;
    EXPECT_TRUE(r.error.empty());
    EXPECT_EQ(r.key->data()[0], 0x31);
  }
}

TEST(KeyFile, GroupOrOtherAccessIsRefused) {
  TempDir dir;
  for (mode_t mode : {0644, 0640, 0604, 0620, 0602, 0660}) {
    const std::string path = dir.write("k", key_text(0x31) + "\n", mode);
    auto r = read_key_file(path, KeyKind::private_key);
    EXPECT_EQ(r.key, nullptr) << std::oct << mode;
    EXPECT_NE(r.error.find("accessible by group or others"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("chmod 600 " + path), std::string::npos) << r.error;
  }
}

TEST(KeyFile, PermissionRuleThroughTheLoader) {
  TempDir dir;
  const std::string yaml =
      "interface:\n  private_key_file: hub.key\nports:\n"
      "  wan: {devargs: w, address: 198.51.100.10/24}\n"
      "  lan: {devargs: l, address: 10.0.0.1/16}\n";
  dir.write("hub.key", key_text(0x31) + "\n", 0644);
  EXPECT_FALSE(load_config_string(yaml, dir / "hub.yaml").ok());
  dir.write("hub.key", key_text(0x31) + "\n", 0600);
  EXPECT_TRUE(load_config_string(yaml, dir / "hub.yaml").ok());
  dir.write("hub.key", key_text(0x31) + "\n", 0400);
  EXPECT_TRUE(load_config_string(yaml, dir / "hub.yaml").ok());
}

TEST(KeyFile, WhitespaceAroundTheKeyIsIgnored) {
  TempDir dir;
  for (const std::string& text : {key_text(0x31), key_text(0x31) + "\n", key_text(0x31) + "\r\n",
                                  "  " + key_text(0x31) + " \n\n", "\t" + key_text(0x31)}) {
    auto r = read_key_file(dir.write("k", text, 0600), KeyKind::preshared_key);
    ASSERT_NE(r.key, nullptr) << r.error;
    EXPECT_EQ(r.key->data()[31], 0x31);
  }
}

TEST(KeyFile, InvalidContentIsRefused) {
  TempDir dir;
  for (const std::string& text :
       {std::string(""), std::string("\n"), key_text(0x31) + key_text(0x31),
        key_text(0x31).substr(0, 43) + "\n", std::string(4000, 'A'),
        key_text(0x31).substr(0, 20) + " " + key_text(0x31).substr(20)}) {
    auto r = read_key_file(dir.write("k", text, 0600), KeyKind::private_key);
    EXPECT_EQ(r.key, nullptr) << text;
    EXPECT_FALSE(r.error.empty());
  }
}

TEST(KeyFile, MissingFile) {
  TempDir dir;
  auto r = read_key_file(dir / "none", KeyKind::preshared_key);
  EXPECT_EQ(r.key, nullptr);
  EXPECT_EQ(r.error, "cannot read preshared key file '" + (dir / "none") +
                         "': No such file or directory; point preshared_key_file at the file "
                         "'wg genpsk' wrote");
}

constexpr uid_t kNobody = 65534;

TEST(KeyFile, RootOwnedFileIsAccepted) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  TempDir dir;
  const std::string path = dir.write("k", key_text(0x31) + "\n", 0600);
  // The group does not matter: mode 0600 gives it nothing.
  ASSERT_EQ(::chown(path.c_str(), 0, kNobody), 0);
  auto r = read_key_file(path, KeyKind::private_key);
  EXPECT_NE(r.key, nullptr) << r.error;
}

TEST(KeyFile, FileOwnedBySomebodyElseIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  TempDir dir;
  for (KeyKind kind : {KeyKind::private_key, KeyKind::preshared_key}) {
    const std::string path = dir.write("k", key_text(0x31) + "\n", 0600);
    ASSERT_EQ(::chown(path.c_str(), kNobody, kNobody), 0);
    auto r = read_key_file(path, kind);
    EXPECT_EQ(r.key, nullptr);
    const std::string kind_name = kind == KeyKind::private_key ? "private" : "preshared";
    EXPECT_EQ(r.error.rfind(kind_name + " key file '" + path + "' is owned by uid 65534", 0), 0u)
        << r.error;
    EXPECT_NE(r.error.find("not root; refusing to use it. Fix it with: chown root:root " + path),
              std::string::npos)
        << r.error;
  }
}

TEST(KeyFile, OwnerIsCheckedBeforeMode) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  TempDir dir;
  const std::string path = dir.write("k", key_text(0x31) + "\n", 0644);
  ASSERT_EQ(::chown(path.c_str(), kNobody, 0), 0);
  auto r = read_key_file(path, KeyKind::private_key);
  EXPECT_EQ(r.key, nullptr);
  EXPECT_NE(r.error.find("chown root:root"), std::string::npos) << r.error;
}

// wghub running as an unprivileged user accepts that user's own key file
// and still refuses anybody else's (root included would be fine: root's
// 0600 file is simply unreadable to it). Runs the check in a child process
// that drops to uid/gid 65534.
TEST(KeyFile, UnprivilegedHubAcceptsItsOwnFile) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  const std::string own = dir.write("own.key", key_text(0x31) + "\n", 0600);
  ASSERT_EQ(::chown(own.c_str(), kNobody, kNobody), 0);
  const std::string other = dir.write("other.key", key_text(0x32) + "\n", 0600);
  ASSERT_EQ(::chown(other.c_str(), 1, 1), 0);  // daemon: neither root nor us
  ASSERT_EQ(::chmod(other.c_str(), 0604), 0);  // readable, so the owner rule decides
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) ::_exit(10);
    if (read_key_file(own, KeyKind::private_key).key == nullptr) ::_exit(11);
    const KeyFileResult r = read_key_file(other, KeyKind::private_key);
    if (r.key != nullptr) ::_exit(12);
    if (r.error.find("is owned by uid 1") == std::string::npos) ::_exit(13);
    if (r.error.find("not root or uid 65534") == std::string::npos) ::_exit(14);
    if (r.error.find("Fix it with: chown 65534 " + other) == std::string::npos) ::_exit(15);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "see the _exit codes in the child above";
}

TEST(KeyFile, SymbolicLinkToAGoodFileIsRefused) {
  TempDir dir;
  const std::string target = dir.write("real.key", key_text(0x31) + "\n", 0600);
  ASSERT_NE(read_key_file(target, KeyKind::private_key).key, nullptr);
  const std::string link = dir / "link.key";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  auto r = read_key_file(link, KeyKind::private_key);
  EXPECT_EQ(r.key, nullptr);
  EXPECT_EQ(r.error, "private key file '" + link +
                         "' is a symbolic link; point private_key_file at the file itself");
  r = read_key_file(link, KeyKind::preshared_key);
  EXPECT_EQ(r.error, "preshared key file '" + link +
                         "' is a symbolic link; point preshared_key_file at the file itself");
  // A dangling link is a link too, not a missing file.
  const std::string dangling = dir / "dangling.key";
  ASSERT_EQ(::symlink((dir / "none").c_str(), dangling.c_str()), 0);
  EXPECT_NE(read_key_file(dangling, KeyKind::private_key).error.find("is a symbolic link"),
            std::string::npos);
}

TEST(KeyFile, DirectoryIsRefused) {
  TempDir dir;
  const std::string path = dir.mkdir("keys");
  ::chmod(path.c_str(), 0700);
  auto r = read_key_file(path, KeyKind::private_key);
  EXPECT_EQ(r.key, nullptr);
  EXPECT_EQ(r.error, "private key file '" + path +
                         "' is a directory, not a key file; point private_key_file at the file "
                         "'wg genkey' wrote");
}

// A FIFO would block a plain open() until a writer appears: it must be
// refused at once.
TEST(KeyFile, FifoIsRefusedWithoutBlocking) {
  TempDir dir;
  const std::string path = dir / "fifo.key";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  auto r = read_key_file(path, KeyKind::preshared_key);
  EXPECT_EQ(r.key, nullptr);
  EXPECT_NE(r.error.find("is a FIFO, not a key file; point preshared_key_file at"),
            std::string::npos)
      << r.error;
}

// Whatever is wrong with a key file, the message never quotes its content,
// in full or in part.
TEST(KeyFile, ContentNeverAppearsInMessages) {
  TempDir dir;
  const std::string key = key_text(0x5a);  // "WlpaWlpa..."
  struct Case {
    std::string content;
    mode_t mode;
  };
  const Case cases[] = {
      {key + "\n", 0644},                                // valid key, bad mode
      {key.substr(0, 40) + "\n", 0600},                  // truncated
      {key.substr(0, 30) + "!" + key.substr(31), 0600},  // bad character
      {key + key, 0600},                                 // too long
      {"WlpaSECRETWlpa secret-ish text\n", 0600},        // not base64
  };
  for (const auto& c : cases) {
    const std::string path = dir.write("secret.key", c.content, c.mode);
    const std::string yaml =
        "interface:\n  private_key_file: secret.key\nports:\n"
        "  wan: {devargs: w, address: 198.51.100.10/24}\n"
        "  lan: {devargs: l, address: 10.0.0.1/16}\n"
        "peers:\n  - name: a\n    public_key: " +
        key_text(1) + "\n    preshared_key_file: secret.key\n";
    LoadResult r = load_config_string(yaml, dir / "hub.yaml");
    ASSERT_EQ(r.errors.size(), 2u) << r.error_text();
    const std::string text = r.error_text();
    EXPECT_EQ(text.find("Wlpa"), std::string::npos) << text;
    EXPECT_EQ(text.find("SECRET"), std::string::npos) << text;
  }
}

TEST(PublicKey, ParsesWgPubkeyOutput) {
  auto k = parse_public_key(key_text(0x31));
  ASSERT_TRUE(k) << k.error;
  EXPECT_EQ((*k.value)[0], 0x31);
  EXPECT_FALSE(parse_public_key(""));
  EXPECT_EQ(parse_public_key("").error,
            "the key is empty; expected the 44-character base64 key printed by 'wg pubkey'");
}

}  // namespace
}  // namespace wghub::config
