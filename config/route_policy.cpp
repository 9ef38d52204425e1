// See route_policy.hpp.
#include "config/route_policy.hpp"

#include "config/parse.hpp"

namespace wghub::config {

RoutePolicy::RoutePolicy(const Interface& interface, const Ports& ports) {
  const std::pair<const Port*, std::string> named[] = {{&ports.wan, "wan"}, {&ports.lan, "lan"}};
  for (const auto& [port, name] : named) {
    const std::string path = "ports." + name;
    reserve(Prefix::from(port->address.address, port->address.address.max_prefix_length()),
            ReservedKind::kOwnAddress, "the hub's own address (" + path + ".address)");
    reserve(port->address.subnet(), ReservedKind::kConnectedSubnet,
            "the connected subnet of port " + name + " (" + path + ".address)");
    if (port->address6) {
      reserve(Prefix::from(port->address6->address, 128), ReservedKind::kOwnAddress,
              "the hub's own address (" + path + ".address6)");
      reserve(port->address6->subnet(), ReservedKind::kConnectedSubnet,
              "the connected subnet of port " + name + " (" + path + ".address6)");
    }
    for (std::size_t i = 0; i < port->routes.size(); ++i)
      reserve(port->routes[i].prefix, ReservedKind::kStaticRoute,
              "a static route of port " + name + " (" + path + ".routes[" + std::to_string(i) +
                  "], via " + port->routes[i].via.to_string() + ")");
  }
  if (interface.address)
    reserve(
        Prefix::from(interface.address->address, interface.address->address.max_prefix_length()),
        ReservedKind::kOwnAddress, "the hub's own address (interface.address)");
  // Only the LAN's gateways are routes of the inner FIB (control/device.cpp).
  if (ports.lan.gateway)
    reserve(Prefix::from(*ports.lan.gateway, 0), ReservedKind::kDefaultRoute,
            "the default route via ports.lan.gateway " + ports.lan.gateway->to_string() +
                " (a peer may hold it only on a hub without that gateway)");
  if (ports.lan.gateway6)
    reserve(Prefix::from(*ports.lan.gateway6, 0), ReservedKind::kDefaultRoute,
            "the default route via ports.lan.gateway6 " + ports.lan.gateway6->to_string() +
                " (a peer may hold it only on a hub without that gateway)");
}

void RoutePolicy::reserve(const Prefix& prefix, ReservedKind kind, std::string what) {
  reserved_.try_emplace(prefix, ReservedPrefix{prefix, kind, std::move(what)});
}

const ReservedPrefix* RoutePolicy::find(const Prefix& prefix) const {
  auto it = reserved_.find(prefix);
  return it == reserved_.end() ? nullptr : &it->second;
}

std::optional<std::string> RoutePolicy::refusal(const Prefix& prefix) const {
  const ReservedPrefix* r = find(prefix);
  if (r == nullptr) return std::nullopt;
  return prefix.to_string() + " is " + r->what +
         "; a peer's allowed IPs may not replace the hub's own routes";
}

std::optional<std::string> RoutePolicy::refusal(const std::vector<Prefix>& prefixes) const {
  for (const Prefix& p : prefixes)
    if (auto why = refusal(p)) return why;
  return std::nullopt;
}

namespace detail {

// Called by the loader once both ports parsed. Connected subnets and static
// routes are refused by validate() already (a prefix with two owners), with
// their own message; this adds the hub's own addresses and the default routes.
void check_reserved_prefixes(const Doc& doc, const Interface& interface, const Ports& ports,
                             const std::vector<PeerDraft>& peers) {
  const RoutePolicy policy(interface, ports);
  for (const PeerDraft& peer : peers) {
    for (std::size_t i = 0; i < peer.peer.allowed_ips.size(); ++i) {
      const ReservedPrefix* r = policy.find(peer.peer.allowed_ips[i]);
      if (r == nullptr || r->kind == ReservedKind::kConnectedSubnet ||
          r->kind == ReservedKind::kStaticRoute)
        continue;
      doc.error(peer.prefix_src[i].at, peer.prefix_src[i].field,
                *policy.refusal(peer.peer.allowed_ips[i]));
    }
  }
}

}  // namespace detail
}  // namespace wghub::config
