// Whole-config cross-checks that no single section can make: peer names and
// public keys are unique, and every prefix has exactly one owner in the FIB
// (a peer, a static route or a port's connected subnet), because the same
// table decides both where a packet goes and which peer may send from it.
// Also every limit the hub would otherwise only find at start (the peer
// count, IPv4 port addresses, distinct next hops), so that --check-config
// and the hub agree: one validation, one message.
#include <set>
#include <string_view>
#include <unordered_map>

#include "config/parse.hpp"

namespace wghub::config::detail {

namespace {

struct Owner {
  std::string description;  // "peer 'plant-berlin'", "the subnet of port lan", ...
  Location at;
  int peer = -1;  // index into the peers, or -1
};

class PrefixOwners {
 public:
  PrefixOwners(const Doc& doc, std::size_t expected) : doc_(doc) { owners_.reserve(expected); }

  void claim(const Prefix& prefix, Owner owner, const Source& src) {
    auto [it, inserted] = owners_.try_emplace(prefix, std::move(owner));
    if (inserted) return;
    const Owner& first = it->second;
    std::string message;
    if (owner.peer >= 0 && owner.peer == first.peer) {
      message = prefix.to_string() + " is listed twice (first at " + first.at.to_string() + ")";
    } else if (owner.peer >= 0 && first.peer >= 0) {
      message = owner.description + " and " + first.description + " (" + first.at.to_string() +
                ") both claim " + prefix.to_string() + "; a prefix can belong to one peer only";
    } else {
      message = prefix.to_string() + " is already claimed by " + first.description + " (" +
                first.at.to_string() + ")";
    }
    doc_.error(src.at, src.field, message);
  }

 private:
  const Doc& doc_;
  std::unordered_map<Prefix, Owner, PrefixHash> owners_;
};

}  // namespace

void validate(const Doc& doc, const std::vector<PortDraft>& ports,
              const std::vector<PeerDraft>& peers) {
  if (peers.size() > kMaxPeers) {
    doc.error(Location{doc.file(), 0, 0}, "peers",
              std::to_string(peers.size()) + " peers; the hub holds at most " +
                  std::to_string(kMaxPeers) + " (2^20, the kernel's limit)");
  }
  for (const auto& port : ports) {
    if (port.port.address.address.family != Family::v4)
      doc.error(port.address_src.at, port.address_src.field,
                "the port address must be IPv4 for now; give the IPv6 one as address6");
    std::set<IpAddress> vias[2];  // IPv4, IPv6
    auto count = [&](const IpAddress& a) { vias[a.family == Family::v4 ? 0 : 1].insert(a); };
    for (const Route& r : port.port.routes) count(r.via);
    if (port.port.gateway) count(*port.port.gateway);
    if (port.port.gateway6) count(*port.port.gateway6);
    for (const auto& v : vias)
      if (v.size() > kMaxNextHopsPerPort)
        doc.error(port.address_src.at, port.path + ".routes",
                  std::to_string(v.size()) + " distinct next hops; a port has room for " +
                      std::to_string(kMaxNextHopsPerPort) + " per address family");
  }
  PrefixOwners owners(doc, peers.size());
  for (const auto& port : ports) {
    owners.claim(port.port.address.subnet(),
                 Owner{"the subnet of port " + port.name, port.address_src.at}, port.address_src);
    if (port.port.address6 && port.address6_src)
      owners.claim(port.port.address6->subnet(),
                   Owner{"the IPv6 subnet of port " + port.name, port.address6_src->at},
                   *port.address6_src);
  }
  for (const auto& port : ports) {
    for (std::size_t i = 0; i < port.port.routes.size(); ++i) {
      const Route& r = port.port.routes[i];
      owners.claim(r.prefix,
                   Owner{"a static route via " + r.via.to_string() + " on port " + port.name,
                         port.route_src[i].at},
                   port.route_src[i]);
    }
  }

  // Hash maps: at 10^5 peers the ordered ones were most of this check.
  std::unordered_map<std::string_view, const PeerDraft*> by_name;
  std::unordered_map<PublicKey, const PeerDraft*, PublicKeyHash> by_key;
  by_name.reserve(peers.size());
  by_key.reserve(peers.size());
  for (std::size_t p = 0; p < peers.size(); ++p) {
    const PeerDraft& peer = peers[p];
    const std::string who = "peer '" + peer.peer.name + "'";
    if (auto [it, inserted] = by_name.try_emplace(peer.peer.name, &peer); !inserted) {
      doc.error(peer.name_src.at, peer.name_src.field,
                "duplicate peer name '" + peer.peer.name + "' (first defined at " +
                    it->second->name_src.at.to_string() + ")");
    }
    if (auto [it, inserted] = by_key.try_emplace(peer.peer.public_key, &peer); !inserted) {
      doc.error(peer.key_src.at, peer.key_src.field,
                who + " has the same public key as peer '" + it->second->peer.name + "' (" +
                    it->second->key_src.at.to_string() + "); every peer needs its own key pair");
    }
    for (std::size_t i = 0; i < peer.peer.allowed_ips.size(); ++i) {
      owners.claim(peer.peer.allowed_ips[i], Owner{who, peer.prefix_src[i].at, static_cast<int>(p)},
                   peer.prefix_src[i]);
    }
  }
}

}  // namespace wghub::config::detail
