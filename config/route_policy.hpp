// Which prefixes a peer's AllowedIPs may never be (issue 13 item 2).
//
// The FIB holds one rule per prefix, and adding a rule for a prefix that is
// already there replaces it (rte_lpm_add). A peer that claimed exactly the
// LAN's connected subnet, a static route's prefix, the default route or one of
// the hub's own addresses would silently take that route over, and removing
// the peer would then delete the route until a restart. So such a prefix is
// refused wherever a peer's AllowedIPs come from: the config file (with
// file:line:column, config/loader.cpp; connected subnets and static routes
// were already refused there as prefixes with two owners, validate.cpp), a
// reload (the same loader: the running hub keeps its config) and wg(8)
// (control/device.cpp, control/uapi_backend.cpp).
//
// A peer with 0.0.0.0/0 or ::/0 is allowed only on a hub without a default
// route of that family on the LAN (ports.lan.gateway, ports.lan.gateway6).
// That peer is then the hub's default route: destinations no other rule
// covers go to it, and it may send from any source no other rule covers (a
// full tunnel through one site, e.g. an internet breakout). With a gateway the
// default route is the LAN's, and the peer is refused.
//
// Wider or narrower prefixes are not refused: the longest match keeps the
// hub's own rules where they are more specific (10.0.0.0/16 around the LAN's
// 10.0.0.0/24 leaves the /24 to the LAN), and a narrower prefix is a route of
// its own that removing the peer takes away again.
//
// Plain C++, no DPDK: the config and the device share it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/model.hpp"

namespace wghub::config {

enum class ReservedKind {
  kConnectedSubnet,  // a port's address subnet (address, address6)
  kStaticRoute,      // ports.<port>.routes[i].prefix
  kDefaultRoute,     // 0.0.0.0/0 or ::/0 when ports.lan has a gateway of that family
  kOwnAddress,       // the hub's addresses as /32 or /128 (ports, interface.address)
};

struct ReservedPrefix {
  Prefix prefix;
  ReservedKind kind;
  std::string what;  // "the connected subnet of port lan (ports.lan.address)"
};

class RoutePolicy {
 public:
  RoutePolicy() = default;  // reserves nothing
  RoutePolicy(const Interface& interface, const Ports& ports);

  // The prefix's reservation, if any.
  const ReservedPrefix* find(const Prefix& prefix) const;
  // Why a peer may not have `prefix` among its AllowedIPs; nullopt when it may.
  std::optional<std::string> refusal(const Prefix& prefix) const;
  // The first refusal among `prefixes`, as "PREFIX is ...".
  std::optional<std::string> refusal(const std::vector<Prefix>& prefixes) const;

  std::size_t size() const { return reserved_.size(); }

 private:
  void reserve(const Prefix& prefix, ReservedKind kind, std::string what);
  std::map<Prefix, ReservedPrefix> reserved_;  // the first reservation of a prefix wins
};

}  // namespace wghub::config
