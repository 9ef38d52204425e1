// `wghub site`'s plan, pure and testable: which peers are sites, the overlay
// address allocator, the checks on a new site's LANs, and the two files a
// site add writes (the hub's peer file, the site's wg-quick file). The
// command line around it is control/cli_site.cpp.
//
// A site is a peer (inline or in peers_dir) one of whose allowed_ips is a
// single address inside `sites.overlay`: that is its overlay address, the
// other prefixes are its LANs. Nothing else marks a site, so sites written by
// hand count as well, and `wghub site` keeps no state of its own.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/address.hpp"
#include "config/model.hpp"
#include "crypto/secret.hpp"

namespace wghub::config {

// Why `text` is no endpoint a site can dial ("" when it is): "host:port"
// with a DNS name or an IPv4 literal, or "[IPv6]:port"; port 1..65535.
std::string site_endpoint_problem(std::string_view text);

struct SiteView {
  const Peer* peer = nullptr;
  Prefix overlay;            // the /32 (/128) in the pool
  std::vector<Prefix> lans;  // every other allowed IP
};
// The peer as a site; nullopt when none of its allowed IPs is an address in the pool.
std::optional<SiteView> as_site(const Peer& peer, const Sites& sites);

// The lowest free address of the pool. Never the pool's network address (nor
// its IPv4 broadcast address), never one of the hub's own addresses, and
// never an address inside a peer's allowed IP that lies within the pool
// (prefixes wider than the pool, a breakout's 0.0.0.0/0, do not take it).
// A revoked site's address is free again. Error: the pool is full.
Parsed<IpAddress> allocate_overlay(const DesiredState& state);

// Everything wrong with `lans` as the LANs of a new site: a prefix that
// overlaps (contains or lies within) another peer's allowed IP, an HQ
// network, the overlay pool, a subnet or static route of the hub's ports,
// or is a default route. One message per problem; empty when they fit.
// Peers named `except` are skipped (the site itself, when it is rotated).
std::vector<std::string> lan_problems(const DesiredState& state, const std::vector<Prefix>& lans,
                                      const std::string& except = {});

// The peers_dir file of a site: name, public_key, allowed_ips (overlay
// address first, then the LANs).
std::string site_peer_yaml(const std::string& name, const PublicKey& key, const Prefix& overlay,
                           const std::vector<Prefix>& lans);

// The site's wg-quick file, written by config/wgquick's writer: Address = the
// overlay address with the pool's length, MTU, the hub's public key,
// Endpoint = sites.endpoint, AllowedIPs = the pool and the HQ networks,
// PersistentKeepalive = sites.keepalive. No ListenPort: the site dials out.
// `site_private_key` null: a comment stands where PrivateKey goes (the site
// brought its own key pair, `--public-key`).
std::string site_wgquick(const DesiredState& state, const std::string& name,
                         const IpAddress& overlay_address, const crypto::Key* site_private_key,
                         const PublicKey& hub_public_key);

}  // namespace wghub::config
