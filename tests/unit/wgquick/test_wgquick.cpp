// wg-quick import/export (config/wgquick.hpp): a hand-written three-peer hub
// file parses with its comments and names; bad input is refused with
// file:line; the written YAML loads with the real loader; export of that
// state parses back to the same meaning; and no message or YAML ever holds a
// private or preshared key.
#include "config/wgquick.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "config/loader.hpp"
#include "tests/unit/config/temp_dir.hpp"

namespace wghub::config {
namespace {

using test::key_text;
using test::TempDir;

const std::string kHubKey = key_text(0x11);
const std::string kPsk = key_text(0x22);
const std::string kBerlin = key_text(0x31);
const std::string kHamburg = key_text(0x32);
const std::string kKiosk = key_text(0x33);

// Replaces each @NAME@ in text by the key of that name.
std::string with_keys(std::string text) {
  const std::pair<const char*, const std::string*> keys[] = {{"@HUB@", &kHubKey},
                                                             {"@PSK@", &kPsk},
                                                             {"@BERLIN@", &kBerlin},
                                                             {"@HAMBURG@", &kHamburg},
                                                             {"@KIOSK@", &kKiosk}};
  for (const auto& [token, key] : keys) {
    for (auto pos = text.find(token); pos != std::string::npos; pos = text.find(token)) {
      text.replace(pos, std::strlen(token), *key);
    }
  }
  // @Kxx@: the key whose bytes are all 0xxx.
  for (auto pos = text.find("@K"); pos != std::string::npos; pos = text.find("@K")) {
    const auto fill = static_cast<std::uint8_t>(std::stoi(text.substr(pos + 2, 2), nullptr, 16));
    text.replace(pos, 5, key_text(fill));
  }
  return text;
}

// A hub config as people write them: comments everywhere, mixed key case,
// wg-quick extras, AllowedIPs on two lines and as a comma list. Line numbers
// matter to the tests; line 1 is the first comment.
std::string hand_written() {
  return with_keys(R"(# HQ hub, managed by hand
[Interface]
Address = 10.99.0.1/24
ListenPort = 51820   # the forwarded port
PrivateKey = @HUB@
DNS = 10.0.0.53
PostUp = iptables -A FORWARD -i %i -j ACCEPT
SaveConfig = false

[Peer]
# friendly_name = plant-berlin
PublicKey = @BERLIN@
PresharedKey = @PSK@
AllowedIPs = 10.1.0.0/24, fd00:1::/64
AllowedIPs = 10.1.1.0/24
PersistentKeepalive = 25

# plant hamburg (old style)
[peer]
publickey = @HAMBURG@
allowedips = 10.2.0.0/24

[Peer]
#friendly_name=kiosk-17
PublicKey=@KIOSK@
AllowedIPs = 10.99.0.17/32
Endpoint = 203.0.113.7:51820
)");
}

std::string all_messages(const WgQuickResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += e.to_string() + "\n";
  for (const auto& w : r.warnings) out += w.to_string() + "\n";
  return out;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

ImportOptions with_ports() {
  ImportOptions o;
  o.wan_devargs = "net_af_packet0,iface=wan0";
  o.wan_address = "198.51.100.10/24";
  o.wan_gateway = "198.51.100.1";
  o.lan_devargs = "net_af_packet1,iface=lan0";
  o.lan_address = "10.0.0.1/16";
  return o;
}

TEST(WgQuickParse, HandWrittenHubWithThreePeers) {
  auto r = parse_wgquick(hand_written(), "/etc/wireguard/wg0.conf");
  ASSERT_TRUE(r.ok()) << all_messages(r);
  const auto& c = *r.config;
  EXPECT_EQ(c.interface_name, "wg0");
  ASSERT_TRUE(c.private_key);
  EXPECT_EQ(c.listen_port, 51820);
  ASSERT_TRUE(c.address);
  EXPECT_EQ(c.address->to_string(), "10.99.0.1/24");
  ASSERT_EQ(c.peers.size(), 3u);

  EXPECT_EQ(c.peers[0].name, "plant-berlin");
  EXPECT_EQ(c.peers[0].origin.line, 10);
  ASSERT_TRUE(c.peers[0].preshared_key);
  ASSERT_EQ(c.peers[0].allowed_ips.size(), 3u);
  EXPECT_EQ(c.peers[0].allowed_ips[0].to_string(), "10.1.0.0/24");
  EXPECT_EQ(c.peers[0].allowed_ips[1].to_string(), "fd00:1::/64");
  EXPECT_EQ(c.peers[0].allowed_ips[2].to_string(), "10.1.1.0/24");
  EXPECT_EQ(c.peers[0].persistent_keepalive, 25);
  EXPECT_FALSE(c.peers[0].endpoint);

  EXPECT_EQ(c.peers[1].name, "plant-hamburg-old-style");  // rule 2, sanitized
  EXPECT_FALSE(c.peers[1].preshared_key);
  EXPECT_EQ(c.peers[1].persistent_keepalive, 0);

  EXPECT_EQ(c.peers[2].name, "kiosk-17");
  ASSERT_TRUE(c.peers[2].endpoint);
  EXPECT_EQ(c.peers[2].endpoint->to_string(), "203.0.113.7:51820");

  // The wg-quick extras are ignored with a warning each, naming file:line;
  // the sanitized old-style name is a warning too.
  std::vector<int> lines;
  for (const auto& w : r.warnings) lines.push_back(w.line);
  EXPECT_EQ(lines, (std::vector<int>{6, 7, 8, 18})) << all_messages(r);
  EXPECT_EQ(r.warnings[0].to_string(),
            "/etc/wireguard/wg0.conf:6:1: DNS: wg-quick setting ignored: wghub does not manage "
            "the host's resolver");
  EXPECT_EQ(all_messages(r).find(kHubKey), std::string::npos);
  EXPECT_EQ(all_messages(r).find(kPsk), std::string::npos);
}

struct BadCase {
  const char* what;
  std::string text;
  int line;
  std::string message_part;
};

TEST(WgQuickParse, BadInputIsRefusedWithFileAndLine) {
  const std::string head = "[Interface]\nPrivateKey = " + kHubKey + "\n";  // lines 1-2
  const std::string peer = "[Peer]\nPublicKey = " + kBerlin + "\n";        // lines 3-4
  const std::vector<BadCase> cases = {
      {"bad private key", "[Interface]\nPrivateKey = abc\n", 2, "not a valid key"},
      {"short private key", "[Interface]\nPrivateKey = " + key_text(1).substr(0, 40) + "\n", 2,
       "'wg genkey'"},
      {"bad public key", head + "[Peer]\nPublicKey = not-a-key\n", 4, "base64"},
      {"bad psk", head + peer + "PresharedKey = zz\n", 5, "'wg genpsk'"},
      {"bad cidr", head + peer + "AllowedIPs = 10.1.0/24\n", 5, "not a valid IPv4 or IPv6"},
      {"host bits", head + peer + "AllowedIPs = 10.1.0.5/24\n", 5, "did you mean 10.1.0.0/24"},
      {"long prefix", head + peer + "AllowedIPs = 10.1.0.0/33\n", 5, "33"},
      {"bad address", "[Interface]\nAddress = 10.99.0.300/24\nPrivateKey = " + kHubKey + "\n", 2,
       "not a valid"},
      {"unknown section", head + "[Peers]\nPublicKey = " + kBerlin + "\n", 3,
       "unknown section [Peers]"},
      {"unknown interface key", head + "ListenPot = 1\n", 3, "unknown key 'ListenPot'"},
      {"unknown peer key", head + peer + "AllowedIP = 10.1.0.0/24\n", 5, "unknown key"},
      {"key before section", "PrivateKey = " + kHubKey + "\n[Interface]\n", 1,
       "before any section"},
      {"no equals", head + "ListenPort 51820\n", 3, "expected 'Key = value'"},
      {"unclosed header", head + "[Peer\n", 3, "closing ']'"},
      {"bad port", head + "ListenPort = 70000\n", 3, "0..65535"},
      {"bad keepalive", head + peer + "PersistentKeepalive = soon\n", 5, "'off'"},
      {"host name endpoint", head + peer + "Endpoint = vpn.example.com:51820\n", 5,
       "host names are not resolved"},
      {"peer without key", head + "[Peer]\nAllowedIPs = 10.1.0.0/24\n", 3, "no PublicKey"},
      {"duplicate key", head + peer + "[Peer]\nPublicKey = " + kBerlin + "\n", 6,
       "already the peer at line 3"},
      {"key set twice", head + peer + "Endpoint = 1.2.3.4:1\nEndpoint = 1.2.3.4:2\n", 6,
       "set twice"},
      {"second interface", head + "[Interface]\n", 3, "second [Interface]"},
      {"no private key", "[Interface]\nListenPort = 1\n", 1, "no PrivateKey"},
      {"no interface", "[Peer]\nPublicKey = " + kBerlin + "\n", 0, "no [Interface]"},
  };
  for (const auto& c : cases) {
    auto r = parse_wgquick(c.text, "wg0.conf");
    EXPECT_FALSE(r.ok()) << c.what;
    EXPECT_FALSE(r.config) << c.what;
    ASSERT_FALSE(r.errors.empty()) << c.what;
    EXPECT_EQ(r.errors[0].file, "wg0.conf") << c.what;
    EXPECT_EQ(r.errors[0].line, c.line) << c.what << ": " << r.errors[0].to_string();
    EXPECT_NE(r.errors[0].message.find(c.message_part), std::string::npos)
        << c.what << ": " << r.errors[0].to_string();
    EXPECT_EQ(all_messages(r).find(kHubKey), std::string::npos) << c.what;
  }
}

TEST(WgQuickParse, SecretsNeverQuoted) {
  // A 32-byte key cut short: the message must not echo what was written.
  const std::string almost = kPsk.substr(0, 43);
  auto r =
      parse_wgquick("[Interface]\nPrivateKey = " + almost + "\n[Peer]\nPublicKey = " + kBerlin +
                        "\nPresharedKey = " + almost + "\n",
                    "wg0.conf");
  ASSERT_EQ(r.errors.size(), 2u) << all_messages(r);
  EXPECT_EQ(all_messages(r).find(almost), std::string::npos) << all_messages(r);
}

TEST(WgQuickParse, WgKeywordsAreCaseInsensitiveAndOffWorks) {
  auto r =
      parse_wgquick("[INTERFACE]\nprivatekey=" + kHubKey + "\nLISTENPORT=0\n[pEEr]\n" +
                        "PUBLICKEY=" + kBerlin + "\npersistentkeepalive = off\n" + "allowedips =\n",
                    "/x/site one.conf");
  ASSERT_TRUE(r.ok()) << all_messages(r);
  EXPECT_FALSE(r.config->listen_port);  // 0 = random in wg; warned, wghub's default
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].line, 3);
  EXPECT_EQ(r.config->interface_name, "wghub0");  // "site one" is no interface name
  EXPECT_TRUE(r.config->peers[0].allowed_ips.empty());
  EXPECT_EQ(r.config->peers[0].persistent_keepalive, 0);
}

TEST(WgQuickParse, OneAddressIsKeptFirstIPv4) {
  auto r =
      parse_wgquick("[Interface]\nAddress = fd00:99::1/64, 10.99.0.1/24\nAddress = 10.98.0.1\n" +
                        std::string("PrivateKey = ") + kHubKey + "\n",
                    "wg0.conf");
  ASSERT_TRUE(r.ok()) << all_messages(r);
  EXPECT_EQ(r.config->address->to_string(), "10.99.0.1/24");
  ASSERT_EQ(r.warnings.size(), 2u) << all_messages(r);
  EXPECT_NE(r.warnings[0].message.find("ignoring fd00:99::1/64"), std::string::npos);
  EXPECT_EQ(r.warnings[1].line, 3);
  EXPECT_NE(r.warnings[1].message.find("ignoring 10.98.0.1/32"), std::string::npos);
}

TEST(WgQuickNames, ExporterConventions) {
  auto r = parse_wgquick(with_keys(R"([Interface]
PrivateKey = @HUB@

# friendly_name among other comments, with odd spacing
[Peer]
# a comment
#   friendly_name   =   OnePlus 6T
PublicKey = @K41@

# (no name at all: derived from the key; the blank line keeps this comment from naming it)

[Peer]
PublicKey = @K42@

[Peer]
# friendly_name = first
# friendly_name = second
PublicKey = @K43@

[Peer]
# friendly_name = second
PublicKey = @K44@
# just a remark, not a name: a blank line follows

[Peer]
PublicKey = @K45@
# old-name
[Peer]
# friendly_name = new-name
PublicKey = @K46@
)"),
                         "wg0.conf");
  ASSERT_TRUE(r.ok()) << all_messages(r);
  const auto& p = r.config->peers;
  ASSERT_EQ(p.size(), 6u);
  EXPECT_EQ(p[0].name, "OnePlus-6T");
  EXPECT_EQ(p[1].name, "peer-QkJCQkJC");  // base64 of 0x42 0x42 ...
  EXPECT_EQ(p[2].name, "second");
  EXPECT_EQ(p[3].name, "second-2");
  EXPECT_EQ(p[4].name, "peer-RUVFRUVF");
  EXPECT_EQ(p[5].name, "new-name");
}

TEST(WgQuickNames, FriendlyNameAboveTheFirstPeerNamesIt) {
  auto r =
      parse_wgquick("[Interface]\nPrivateKey = " + kHubKey +
                        "\n\n# friendly_name = hq-router\n[Peer]\nPublicKey = " + kBerlin + "\n",
                    "wg0.conf");
  ASSERT_TRUE(r.ok()) << all_messages(r);
  EXPECT_EQ(r.config->peers[0].name, "hq-router");
}

TEST(WgQuickNames, Sanitize) {
  EXPECT_EQ(sanitize_peer_name("varch.local (laptop)"), "varch.local-laptop");
  EXPECT_EQ(sanitize_peer_name("  Plant Berlin / Hall 2 "), "Plant-Berlin-Hall-2");
  EXPECT_EQ(sanitize_peer_name("***"), "");
  EXPECT_EQ(sanitize_peer_name(std::string(80, 'a')).size(), 64u);
  EXPECT_EQ(sanitize_peer_name("Zürich"), "Z-rich");
}

TEST(WgQuickImport, WritesYamlAndKeyFilesThatLoad) {
  TempDir dir;
  auto r = parse_wgquick(hand_written(), "wg0.conf");
  ASSERT_TRUE(r.ok()) << all_messages(r);
  std::vector<std::string> written;
  auto errors = write_import(*r.config, with_ports(), dir.path(), false, &written);
  ASSERT_TRUE(errors.empty()) << errors[0];
  EXPECT_EQ(written.size(), 3u);  // private.key, psk/plant-berlin.key, wghub.yaml

  EXPECT_EQ(mode_of(dir / "private.key"), 0600u);
  EXPECT_EQ(mode_of(dir / "psk/plant-berlin.key"), 0600u);
  EXPECT_EQ(mode_of(dir / "psk"), 0700u);
  EXPECT_EQ(read(dir / "private.key"), kHubKey + "\n");
  const std::string yaml = read(dir / "wghub.yaml");
  EXPECT_EQ(yaml.find(kHubKey), std::string::npos);
  EXPECT_EQ(yaml.find(kPsk), std::string::npos);

  auto loaded = load_config_file(dir / "wghub.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.error_text() << "\n" << yaml;
  const auto& s = *loaded.state;
  EXPECT_EQ(s.interface.name, "wg0");
  EXPECT_EQ(s.interface.listen_port, 51820);
  EXPECT_EQ(s.ports.wan.gateway->to_string(), "198.51.100.1");
  ASSERT_EQ(s.peers.size(), 3u);
  EXPECT_EQ(s.peers[0].name, "plant-berlin");
  EXPECT_TRUE(s.peers[0].preshared_key);
  EXPECT_EQ(s.peers[2].endpoint->to_string(), "203.0.113.7:51820");

  // A second import into the same directory refuses, writing nothing.
  auto again = write_import(*r.config, with_ports(), dir.path(), false);
  EXPECT_EQ(again.size(), 3u);
  EXPECT_NE(again[0].find("refusing to overwrite"), std::string::npos);
  EXPECT_TRUE(write_import(*r.config, with_ports(), dir.path(), true).empty());
}

TEST(WgQuickImport, PlaceholdersAreMarkedAndNamedByTheLoader) {
  TempDir dir;
  auto r = parse_wgquick(hand_written(), "wg0.conf");
  ASSERT_TRUE(r.ok());
  ImportOptions none;
  EXPECT_TRUE(has_placeholders(none));
  ASSERT_TRUE(write_import(*r.config, none, dir.path(), false).empty());
  const std::string yaml = read(dir / "wghub.yaml");
  EXPECT_NE(yaml.find("devargs: \"CHANGE-ME\""), std::string::npos) << yaml;
  auto loaded = load_config_file(dir / "wghub.yaml");
  ASSERT_FALSE(loaded.ok());
  // Only the placeholders are wrong, and each error names its field.
  for (const auto& e : loaded.errors) {
    EXPECT_TRUE(e.field == "ports.wan.address" || e.field == "ports.lan.address") << e.to_string();
  }
}

TEST(WgQuickRoundTrip, ImportExportImportKeepsTheMeaning) {
  TempDir dir;
  auto original = parse_wgquick(hand_written(), dir / "wg0.conf");
  ASSERT_TRUE(original.ok()) << all_messages(original);
  ASSERT_TRUE(write_import(*original.config, with_ports(), dir.path(), false).empty());
  auto loaded = load_config_file(dir / "wghub.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.error_text();

  const std::string exported = to_wgquick(*loaded.state, {});
  auto back = parse_wgquick(exported, dir / "out/wg0.conf");
  ASSERT_TRUE(back.ok()) << all_messages(back) << exported;
  EXPECT_TRUE(back.warnings.empty()) << all_messages(back);
  const auto diffs = compare_wgquick(*original.config, *back.config);
  EXPECT_TRUE(diffs.empty()) << diffs[0] << "\n" << exported;
  EXPECT_NE(exported.find("# friendly_name = plant-hamburg-old-style\n"), std::string::npos);
  EXPECT_NE(exported.find("PrivateKey = " + kHubKey + "\n"), std::string::npos);
  EXPECT_NE(exported.find("PresharedKey = " + kPsk + "\n"), std::string::npos);
  EXPECT_NE(exported.find("AllowedIPs = 10.1.0.0/24, fd00:1::/64, 10.1.1.0/24\n"),
            std::string::npos);

  // The comparison notices a change.
  auto changed = *back.config;
  changed.peers[1].allowed_ips.pop_back();
  changed.peers[2].name = "other";
  EXPECT_EQ(compare_wgquick(*original.config, changed).size(), 2u);
}

TEST(WgQuickExport, WithoutSecretsTheKeyLinesAreComments) {
  TempDir dir;
  auto r = parse_wgquick(hand_written(), "wg0.conf");
  ASSERT_TRUE(write_import(*r.config, with_ports(), dir.path(), false).empty());
  auto loaded = load_config_file(dir / "wghub.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.error_text();
  const std::string text = to_wgquick(*loaded.state, {.include_secrets = false});
  EXPECT_EQ(text.find(kHubKey), std::string::npos);
  EXPECT_EQ(text.find(kPsk), std::string::npos);
  EXPECT_NE(text.find("# PrivateKey omitted"), std::string::npos);
  EXPECT_NE(text.find("# PresharedKey omitted"), std::string::npos);
  EXPECT_NE(text.find("PublicKey = " + kBerlin), std::string::npos);
}

TEST(WgQuickExport, ShippedExampleExportsAndParses) {
  // The example config with keys written next to a copy of it.
  TempDir dir;
  dir.write("private.key", kHubKey + "\n", 0600);
  dir.write("psk/plant-berlin.key", kPsk + "\n", 0600);
  dir.mkdir("peers.d");
  std::ifstream in(WGHUB_EXAMPLE_CONFIG);
  std::ostringstream s;
  s << in.rdbuf();
  const std::string yaml_path = dir.write("wghub.yaml", s.str());
  auto loaded = load_config_file(yaml_path);
  ASSERT_TRUE(loaded.ok()) << loaded.error_text();
  auto back = parse_wgquick(to_wgquick(*loaded.state, {}), "wghub0.conf");
  ASSERT_TRUE(back.ok()) << all_messages(back);
  ASSERT_EQ(back.config->peers.size(), loaded.state->peers.size());
  for (std::size_t i = 0; i < back.config->peers.size(); ++i) {
    EXPECT_EQ(back.config->peers[i].name, loaded.state->peers[i].name);
    EXPECT_EQ(back.config->peers[i].allowed_ips, loaded.state->peers[i].allowed_ips);
    EXPECT_EQ(back.config->peers[i].endpoint, loaded.state->peers[i].endpoint);
  }
}

}  // namespace
}  // namespace wghub::config
