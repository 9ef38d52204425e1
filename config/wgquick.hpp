// wg-quick(8) hub configs <-> wghub: `wghub import` parses a wg-quick file
// (the [Interface]/[Peer] format of wg(8), plus wg-quick's own keys) into a
// WgQuickConfig and writes wghub's YAML with the keys in 0600 files;
// `wghub export` turns a loaded DesiredState back into a wg-quick file.
//
// Peer names travel as comments, the way prometheus_wireguard_exporter reads
// them, so dashboards keep their labels:
//   1. `# friendly_name = NAME` inside a [Peer] section names that peer (the
//      exporter's convention since 3.4; key and value are trimmed, last one wins).
//      Such a line outside any [Peer] section names the next peer.
//   2. Otherwise a plain comment (`# NAME`, no '=') on the line directly above
//      `[Peer]` names it (the exporter's convention before 3.4).
//   3. Otherwise the name is "peer-" plus the first 8 characters of the public
//      key (stable when peers are reordered).
// Names are made to fit wghub's rule (1-64 of A-Z a-z 0-9 _ . -: other
// characters become '-') and unique (a "-2" suffix), each change with a warning.
// Export writes form 1.
//
// Errors and warnings are values with file:line; no message ever contains
// private or preshared key material.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/address.hpp"
#include "config/endpoint.hpp"
#include "config/error.hpp"
#include "config/model.hpp"
#include "crypto/secret.hpp"

namespace wghub::config {

struct WgQuickPeer {
  std::string name;  // valid for wghub and unique within the file
  PublicKey public_key{};
  std::shared_ptr<const crypto::Key> preshared_key;  // null when none
  std::vector<Prefix> allowed_ips;                   // in file order, all lines merged
  std::optional<Endpoint> endpoint;
  std::uint16_t persistent_keepalive = 0;  // 0 = off
  Location origin;                         // the [Peer] line
};

struct WgQuickConfig {
  std::string interface_name;  // the file name without .conf when valid, else the default
  std::shared_ptr<const crypto::Key> private_key;
  std::optional<std::uint16_t> listen_port;  // absent: wghub's default (51820)
  std::optional<InterfaceAddress> address;   // the first IPv4 Address (else the first one)
  std::vector<WgQuickPeer> peers;
};

struct WgQuickResult {
  std::optional<WgQuickConfig> config;  // set only when errors is empty
  std::vector<ConfigError> errors;
  std::vector<ConfigError> warnings;  // ignored wg-quick keys, renamed peers, dropped addresses

  bool ok() const { return config.has_value() && errors.empty(); }
};

// Parses wg-quick text as if read from `file` (named in messages; its name
// without ".conf" becomes the interface name, as wg-quick does).
WgQuickResult parse_wgquick(std::string_view text, const std::string& file);
// Reads and parses the file at path.
WgQuickResult read_wgquick_file(const std::string& path);

// What the YAML needs that a wg-quick file does not say.
inline constexpr const char* kPlaceholder = "CHANGE-ME";

struct ImportOptions {
  std::string interface_name;  // empty: WgQuickConfig::interface_name
  std::string wan_devargs;     // empty: kPlaceholder
  std::string wan_address;     // empty: kPlaceholder
  std::string wan_gateway;     // empty: left out
  std::string lan_devargs;     // empty: kPlaceholder
  std::string lan_address;     // empty: kPlaceholder
  std::string source;          // the imported file, for the header comment
};

inline constexpr const char* kImportYamlFile = "wghub.yaml";
inline constexpr const char* kImportPrivateKeyFile = "private.key";
inline constexpr const char* kImportPskDir = "psk";

// True when the YAML will carry CHANGE-ME placeholders (some port option is empty).
bool has_placeholders(const ImportOptions& options);

// wghub's YAML for an imported config. It holds no key material: it names
// kImportPrivateKeyFile and kImportPskDir/NAME.key, relative to its directory.
std::string to_wghub_yaml(const WgQuickConfig& config, const ImportOptions& options);

// Writes dir/wghub.yaml, dir/private.key and dir/psk/NAME.key (keys mode 0600,
// psk/ mode 0700), creating dir. Refuses (writing nothing) when one of those
// files exists, unless overwrite. Returns one message per problem; empty on
// success. `written` (optional) receives the paths written.
std::vector<std::string> write_import(const WgQuickConfig& config, const ImportOptions& options,
                                      const std::string& dir, bool overwrite,
                                      std::vector<std::string>* written = nullptr);

struct ExportOptions {
  // When false, PrivateKey and PresharedKey lines become comments saying they
  // were left out (for a terminal or a pipe the operator did not ask keys for).
  bool include_secrets = true;
  // The comment's text after "# PrivateKey" / "# PresharedKey" then.
  std::string omitted_note =
      " omitted: `wghub export` writes keys only to a file (--output FILE) or with "
      "--include-private-key";
};

// One wg-quick file as write_wgquick writes it: header comments, [Interface],
// then each [Peer] (its name as a `# friendly_name` comment). Keys are
// borrowed, never copied.
struct WgQuickOut {
  std::vector<std::string> header;           // comment lines, without "# "
  const crypto::Key* private_key = nullptr;  // null: "# PrivateKey <private_key_note>"
  std::string private_key_note;
  std::optional<std::uint16_t> listen_port;  // absent: no line (a random port)
  std::vector<InterfaceAddress> addresses;
  std::optional<std::uint16_t> mtu;
  struct PeerOut {
    std::string name;  // empty: no friendly_name comment
    PublicKey public_key{};
    const crypto::Key* preshared_key = nullptr;
    std::vector<Prefix> allowed_ips;
    std::string endpoint;  // "host:port" as the peer should dial it; empty: none
    std::uint16_t persistent_keepalive = 0;
  };
  std::vector<PeerOut> peers;
};

std::string write_wgquick(const WgQuickOut& out, const ExportOptions& options);

// A wg-quick file with the same meaning as the state's WireGuard side:
// [Interface] PrivateKey, ListenPort, Address; per peer a `# friendly_name`
// comment, PublicKey, PresharedKey, AllowedIPs, Endpoint, PersistentKeepalive.
// Ports, data plane and metrics have no wg-quick equivalent and are left out.
std::string to_wgquick(const DesiredState& state, const ExportOptions& options);

// The differences in meaning between two parsed configs, one line each
// (names, keys, allowed IPs, endpoints, keepalives, port, address); empty when
// equal. Secrets are compared but never printed.
std::vector<std::string> compare_wgquick(const WgQuickConfig& a, const WgQuickConfig& b);

// The wghub peer name for free text: invalid characters become '-', runs of
// '-' collapse, '-' is trimmed from the ends, at most 64 characters. May
// return "" (nothing usable).
std::string sanitize_peer_name(std::string_view text);

}  // namespace wghub::config
