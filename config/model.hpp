// The desired state: everything the hub applies, as loaded and validated from
// YAML. It is built once per load and then only read (the loader hands out
// std::shared_ptr<const DesiredState>), so the control thread can diff an old
// and a new state on reload without locks. Key material sits behind
// shared_ptr<const crypto::Key> so copying a Peer never copies a secret.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/address.hpp"
#include "config/endpoint.hpp"
#include "config/error.hpp"
#include "crypto/key_hash.hpp"
#include "crypto/secret.hpp"

namespace wghub::config {

using PublicKey = std::array<std::uint8_t, 32>;

using PublicKeyHash = crypto::PublicKeyHash;  // crypto/key_hash.hpp

// The kernel's MAX_PEERS_PER_DEVICE (2^20): the most peers a config may hold,
// and the most the hub's tables are ever sized for (the IPv6 FIB's next hop
// has 20 bits of peer slot, fib6.hpp).
inline constexpr std::size_t kMaxPeers = std::size_t{1} << 20;
// Distinct next hops (`via`s and the gateway) per port and family: the data
// plane's LanGateways table (fib.hpp).
inline constexpr std::size_t kMaxNextHopsPerPort = 256;

inline constexpr std::uint16_t kDefaultListenPort = 51820;
inline constexpr const char* kDefaultInterfaceName = "wghub0";
inline constexpr std::uint32_t kDefaultBurstSize = 32;
inline constexpr std::uint32_t kMaxBurstSize = 512;
// DPDK's default RTE_MAX_LCORE on Debian; lcore ids must stay below it.
inline constexpr unsigned kMaxLcore = 127;
inline constexpr std::uint16_t kDefaultMetricsPort = 9586;

struct Interface {
  std::string name = kDefaultInterfaceName;
  std::string private_key_file;  // resolved against the config file's directory
  std::shared_ptr<const crypto::Key> private_key;
  std::uint16_t listen_port = kDefaultListenPort;
  std::optional<InterfaceAddress> address;  // the hub's own overlay address
};

// A static route: traffic for `prefix` leaves the port towards `via`.
struct Route {
  Prefix prefix;
  IpAddress via;
  friend bool operator==(const Route&, const Route&) = default;
};

struct Port {
  std::string devargs;               // DPDK devargs: "0000:3b:00.0", "net_af_packet0,iface=veth0"
  InterfaceAddress address;          // the appliance's own address and the connected subnet
  std::optional<IpAddress> gateway;  // default next hop; inside address.subnet()
  // Dual stack: the port's IPv6 address and subnet next to an IPv4 `address`
  // (only when `address` is IPv4), and the IPv6 default next hop inside it.
  std::optional<InterfaceAddress> address6;
  std::optional<IpAddress> gateway6;
  std::vector<Route> routes;  // every via inside the subnet of its family's address

  // The port's address of one family, if it has one.
  std::optional<InterfaceAddress> address_of(Family family) const {
    if (address.address.family == family) return address;
    if (address6 && address6->address.family == family) return address6;
    return std::nullopt;
  }
};

struct Ports {
  Port wan;  // where sites dial in (UDP listen_port)
  Port lan;  // the networks behind the hub
};

struct Dataplane {
  std::vector<unsigned> lcores{1};  // worker lcores; lcore 0 is the main/control lcore
  std::uint32_t burst_size = kDefaultBurstSize;
  // Threads that run the responder's X25519s (control/handshake_threads.hpp),
  // on the CPUs the workers do not use; 0: the control thread runs them.
  std::uint32_t handshake_threads = 0;
};
inline constexpr std::uint32_t kMaxHandshakeThreads = 64;

// Which peers get per-peer series (wireguard_*, wghub_peer_*): each peer adds
// seven series and ~1.2 kB to every scrape (docs/metrics.md).
enum class PerPeerMetrics { kAll, kNone };
// The kernel's limit on peers per interface (MAX_PEERS_PER_DEVICE).
inline constexpr std::uint32_t kMaxPerPeerLimit = 1u << 20;

struct Metrics {
  bool enabled = true;
  // Loopback by default: the scrape names every site's public key and
  // AllowedIPs; an operator opens it on purpose (docs/config.md#metrics).
  Endpoint listen{IpAddress::v4(127, 0, 0, 1), kDefaultMetricsPort};
  PerPeerMetrics per_peer = PerPeerMetrics::kAll;
  // With kAll: at most this many peers (the lowest peer slots) are exported;
  // 0 = no limit.
  std::uint32_t per_peer_limit = 0;
  // wghub_peer_info's `endpoint` label: each site's public IP and port. Off
  // by default (the label is then empty): who dials in from where is not
  // every scraper's business.
  bool peer_endpoints = false;
};

// `sites:`: what `wghub site add` needs to onboard a site (docs/config.md,
// "sites"). Only the `wghub site` commands read it; the running hub does not
// use it (a reload takes it as it is, and nothing about it takes a restart).
inline constexpr std::uint16_t kDefaultSiteMtu = 1420;      // wg-quick's default
inline constexpr std::uint16_t kDefaultSiteKeepalive = 25;  // seconds; NAT-friendly
struct Sites {
  Prefix overlay;        // the pool the sites' tunnel addresses come from
  std::string endpoint;  // what sites dial: "vpn.example.com:51820" (names allowed)
  // The networks behind the hub that sites reach (their AllowedIPs next to
  // the overlay). Empty in the file: the LAN port's subnets and static routes.
  std::vector<Prefix> hq_networks;
  std::uint16_t mtu = kDefaultSiteMtu;
  std::uint16_t keepalive = kDefaultSiteKeepalive;  // PersistentKeepalive; 0 = off
  friend bool operator==(const Sites&, const Sites&) = default;
};

// Where the peers come from when not from this file: an etcd cluster
// (docs/ha.md). No endpoints: the file's peers run (the single-box default).
inline constexpr const char* kDefaultStorePrefix = "/wghub/peers/";
inline constexpr const char* kDefaultStoreCacheDir = "/var/lib/wghub";

struct Store {
  std::vector<std::string> endpoints;        // "http://10.0.0.5:2379", "https://etcd1:2379"
  std::string prefix = kDefaultStorePrefix;  // one key per peer: prefix + name
  std::string ca_file;                       // TLS: the CA that signed etcd's certificate
  std::string cert_file;                     // TLS client certificate and key (etcd's
  std::string key_file;                      // --client-cert-auth); all resolved paths
  std::string user;                          // etcd authentication; empty: none
  std::string password_file;                 // the user's password (first line)
  // The last good store state, used when etcd is unreachable at start;
  // default kDefaultStoreCacheDir/<interface.name>.store.json.
  std::string cache_file;
  // Leader election (docs/ha.md): hubs sharing the WAN service address
  // elect one active hub with an etcd lease; the others stand by and answer
  // nothing on the WAN. Off: the hub is always active (one box).
  bool election = false;
  std::string node_name;        // this hub's name in the leader key; default: the host name
  std::uint32_t lease_ttl = 2;  // seconds (etcd rounds shorter leases up to its minimum)
  std::string leader_key;       // default: the prefix's parent + "leader" (/wghub/leader)
  // Failsafe mode (docs/ha.md): where this hub answers the other hubs'
  // promise requests, and every other hub of the group. With them the active
  // hub answers on while etcd is unreachable, as long as all of them promise
  // not to campaign. Empty: fence when the lease cannot be renewed.
  std::optional<Endpoint> failsafe_listen;
  std::vector<Endpoint> failsafe_peers;

  bool enabled() const { return !endpoints.empty(); }
  friend bool operator==(const Store&, const Store&) = default;
};

struct Peer {
  std::string name;
  PublicKey public_key{};
  std::string preshared_key_file;                    // empty when none
  std::shared_ptr<const crypto::Key> preshared_key;  // null when none
  std::vector<Prefix> allowed_ips;
  std::optional<Endpoint> endpoint;
  std::uint16_t persistent_keepalive = 0;  // seconds; 0 = off
  Location origin;                         // where the peer is defined (for logs)
};

struct LoadedSources;  // config/sources.hpp

// Where each peer of a DesiredState sits in `peers`, by key and by name.
struct PeerIndex {
  std::unordered_map<PublicKey, std::uint32_t, PublicKeyHash> by_key;
  std::unordered_map<std::string, std::uint32_t> by_name;
};

struct DesiredState {
  std::string source_file;  // the config file this was loaded from
  Interface interface;
  Ports ports;
  Dataplane dataplane;
  Metrics metrics;
  std::optional<Sites> sites;  // absent: `wghub site` refuses to run
  std::string peers_dir;       // resolved; empty when the file names none
  Store store;
  std::vector<Peer> peers;  // inline peers first, then peers_dir files by file name
  // Built by index_peers() (the loader does, once the peers are final), so
  // that a reload's diff and wg(8)'s name lookups are O(1) per peer rather
  // than a scan: with 10^5 peers a scan per peer was the reload's O(n^2).
  PeerIndex peer_index;
  // What the load that built this state read (null for states built by
  // hand): the next load of the same file reuses the parts that did not
  // change (config/sources.hpp).
  std::shared_ptr<const LoadedSources> sources;

  // O(1) once index_peers() ran and `peers` did not change size since; a
  // scan otherwise (states built by hand in tests).
  const Peer* find_peer(const PublicKey& key) const;
  const Peer* find_peer(const std::string& name) const;
  void index_peers();
};

}  // namespace wghub::config
