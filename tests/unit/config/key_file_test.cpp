// Key files: the permission rule (only the owner may access a key file, as
// wg-quick warns), the accepted formats, and that no key content ever
// reaches an error message.
#include <gtest/gtest.h>

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
  EXPECT_EQ(r.error,
            "cannot read preshared key file '" + (dir / "none") + "': No such file or directory");
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
