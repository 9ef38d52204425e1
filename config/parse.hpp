// Internal to config/: the section parsers the loader composes, and the
// "drafts" they produce. A draft is a model object plus where each part of it
// was written, so the cross-checks in validate.cpp can name both places when
// two parts of the config collide.
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/keys.hpp"
#include "config/model.hpp"
#include "config/sources.hpp"
#include "config/store_peers.hpp"
#include "config/yaml_reader.hpp"

namespace wghub::config::detail {

// Where a value was written: its position and its field path.
struct Source {
  Location at;
  std::string field;
};

struct PortDraft {
  Port port;
  std::string name;  // "wan", "lan"
  std::string path;  // "ports.wan"
  Source address_src;
  std::optional<Source> address6_src;
  std::vector<Source> route_src;  // parallel to port.routes (their prefix)
};

struct PeerDraft {
  Peer peer;
  std::string path;  // "peers[2]" inline; "" in a peers_dir file
  Source name_src;
  Source key_src;
  std::vector<Source> prefix_src;  // parallel to peer.allowed_ips
};

// A string holding a prefix ("10.1.0.0/24", "fd00:1::/64"); a bad one is
// reported at node under path.
std::optional<Prefix> read_prefix(const Doc& doc, const YAML::Node& node, const std::string& path);

// A string holding an IP literal and port ("10.9.0.2:51821", "[fd00::2]:51821");
// a bad one is reported at node under path.
std::optional<Endpoint> read_endpoint(const Doc& doc, const YAML::Node& node,
                                      const std::string& path);

// A list of prefixes: take(prefix, element node, element path) for each good
// one; a non-list, a non-string or a bad prefix is reported.
template <typename Take>
void read_prefix_list(const Doc& doc, const YAML::Node& list, const std::string& path,
                      const char* example, Take&& take) {
  if (!expect_list(doc, list, path, example)) return;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string epath = element(path, i);
    if (auto prefix = read_prefix(doc, list[i], epath)) take(*prefix, list[i], epath);
  }
}

// Each parser reports its errors through doc and fills what it could.
void parse_interface(const Doc& doc, const YAML::Node& node, const std::string& path,
                     Interface& out);
std::optional<PortDraft> parse_port(const Doc& doc, const YAML::Node& node, const std::string& path,
                                    const std::string& name);
void parse_dataplane(const Doc& doc, const YAML::Node& node, const std::string& path,
                     Dataplane& out);
void parse_metrics(const Doc& doc, const YAML::Node& node, const std::string& path, Metrics& out);
// `sites:`; leaves `out` empty when the section has an error.
void parse_sites(const Doc& doc, const YAML::Node& node, const std::string& path,
                 std::optional<Sites>& out);
// config/store_section.cpp; `interface_name` names the default cache file.
void parse_store(const Doc& doc, const YAML::Node& node, const std::string& path, Store& out,
                 const std::string& interface_name);

// One peer mapping. default_name stands in for a missing name (a peers_dir
// file's stem); empty means the name is required. Returns nullopt when the
// peer is unusable for the cross-checks (no name or key).
std::optional<PeerDraft> parse_peer(const Doc& doc, const YAML::Node& node, const std::string& path,
                                    const std::string& default_name);

// Every entry of a store snapshot under store.prefix as one peer (the name
// defaults to the key's part after the prefix); errors name "etcd:KEY".
// io.reuse (key -> hash of the value, peer) gives unchanged values' peers
// unparsed; io.files gets (key, hash) per peer added.
struct PeersDirLoad;
void load_store_peers(const Store& store, const StoreSnapshot& snapshot,
                      std::vector<ConfigError>& errors, std::vector<PeerDraft>& peers,
                      PeersDirLoad& io);

// The peers_dir files of the previous load (sources.hpp): path -> the hash
// of the text it had and the peer it gave.
using PeerFileReuse = std::unordered_map<std::string, std::pair<TextDigest, const Peer*>>;

// How load_peers_dir went: per peer it added, its file and the file's hash
// (for the next load's reuse), and how many files it parsed or reused.
struct PeersDirLoad {
  const PeerFileReuse* reuse = nullptr;  // null: parse every file
  std::vector<std::pair<std::string, TextDigest>> files;
  std::size_t parsed = 0;
  std::size_t reused = 0;
};

// Loads every *.yaml / *.yml file of dir (sorted by name) as one peer each.
// `at` is where peers_dir was written, for errors about the directory itself.
// A file found in io.reuse with the same hash, whose preshared key file (if
// any) still holds the same key, gives its previous peer unparsed; its
// draft has no positions (a load with errors is done again without reuse).
void load_peers_dir(const Doc& doc, const Location& at, const std::string& field,
                    const std::string& dir, std::vector<ConfigError>& errors,
                    std::vector<PeerDraft>& peers, PeersDirLoad& io);

// True when the key file at path still reads without error and holds `key`.
bool key_file_unchanged(const std::string& path, KeyKind kind,
                        const std::shared_ptr<const crypto::Key>& key);

// A draft for a peer taken from a previous state: the peer, its field path,
// and sources without positions (sized as validate() indexes them).
PeerDraft reused_draft(const Peer& peer, std::string path);

// Cross-checks over the whole config: unique peer names and keys, and no
// prefix owned twice (peers, static routes, connected subnets).
void validate(const Doc& doc, const std::vector<PortDraft>& ports,
              const std::vector<PeerDraft>& peers);
// No peer's allowed IP is one of the hub's own addresses or a LAN default
// route (route_policy.hpp); needs both ports.
void check_reserved_prefixes(const Doc& doc, const Interface& interface, const Ports& ports,
                             const std::vector<PeerDraft>& peers);

}  // namespace wghub::config::detail
