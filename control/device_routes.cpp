// The device's routes (issue 17: the AllowedIPs rules in a file of their
// own): the config's LAN routes and the hub's own addresses, each peer's
// AllowedIPs installed make before break and rolled back when the table
// fills, the route policy that keeps peers off the hub's own routes
// (route_policy.hpp), and the owner records kept true to the IPv6 table's
// deferred changes.
#include <algorithm>
#include <cinttypes>
#include <cstring>

#include "control/audit.hpp"
#include "control/device.hpp"
#include "control/log.hpp"

namespace wghub::ctl {

bool Device::add_route(const config::Prefix& prefix, dp::NextHop nh, const std::string& what,
                       std::string& error) {
  if (prefix.family() == config::Family::v6) {
    const bool added =
        dp_.fib6->add(prefix.address().bytes, static_cast<std::uint8_t>(prefix.length()), nh);
    if (!added)
      error =
          what + ": cannot add " + prefix.to_string() + " to the IPv6 FIB: " + dp_.fib6->error();
    return added;
  }
  if (!dp_.fib->add(prefix.address().v4_host(), static_cast<std::uint8_t>(prefix.length()), nh)) {
    error = what + ": cannot add " + prefix.to_string() + " to the FIB: " + dp_.fib->error();
    return false;
  }
  return true;
}

bool Device::apply(const config::DesiredState& state, std::string& error) {
  using config::Prefix;
  route_policy_ = config::RoutePolicy(state.interface, state.ports);
  const AuditBatch audit_lines;  // one peer_added line a peer: written together
  // Hash maps sized once: a rehash of 2^20 entries is one ~100 ms stall of
  // the control thread (a 1 % reload's first new AllowedIP did it). Peers
  // never outnumber the slots; AllowedIPs get a quarter's headroom.
  const std::size_t slots = std::max<std::size_t>(dp_.peers->capacity(), state.peers.size());
  std::size_t prefixes = 0;
  for (const config::Peer& cp : state.peers) prefixes += cp.allowed_ips.size();
  slot_of_.reserve(slots);
  owner_of_.reserve(prefixes + prefixes / 4 + 1024);
  if (engine_ != nullptr) engine_->reserve(slots);
  for (const config::Peer& cp : state.peers)
    if (!add_peer(PeerSpec::from(cp), error)) return false;

  const config::Port& lan = state.ports.lan;
  if (!add_route(lan.address.subnet(), {dp::NextHopKind::kLanConnected, 0}, "ports.lan.address",
                 error))
    return false;
  if (lan.address6 && !add_route(lan.address6->subnet(), {dp::NextHopKind::kLanConnected, 0},
                                 "ports.lan.address6", error))
    return false;
  auto via_route = [&](const config::Prefix& prefix, const config::IpAddress& via,
                       const std::string& what) {
    const auto id = via.family == config::Family::v6 ? dp_.lan_gateways6->acquire(via.bytes)
                                                     : dp_.lan_gateways->acquire(via.v4_host());
    if (!id) {
      error = what + ": too many distinct next hops";
      return false;
    }
    return add_route(prefix, {dp::NextHopKind::kLanRoute, *id}, what, error);
  };
  for (std::size_t i = 0; i < lan.routes.size(); ++i)
    if (!via_route(lan.routes[i].prefix, lan.routes[i].via,
                   "ports.lan.routes[" + std::to_string(i) + "]"))
      return false;
  if (lan.gateway && lan.gateway->family == config::Family::v4 &&
      !via_route(Prefix::from(*lan.gateway, 0), *lan.gateway, "ports.lan.gateway"))
    return false;
  if (lan.gateway6 &&
      !via_route(Prefix::from(*lan.gateway6, 0), *lan.gateway6, "ports.lan.gateway6"))
    return false;

  // The appliance's own addresses answer for themselves.
  std::vector<config::IpAddress> own{state.ports.wan.address.address,
                                     state.ports.lan.address.address};
  for (const config::Port* port : {&state.ports.wan, &state.ports.lan})
    if (port->address6) own.push_back(port->address6->address);
  if (state.interface.address) own.push_back(state.interface.address->address);
  for (const auto& a : own)
    if (!add_route(Prefix::from(a, a.family == config::Family::v4 ? 32 : 128),
                   {dp::NextHopKind::kLocal, 0}, "own address", error))
      return false;
  return true;
}

// Installs `prefixes` as the peer's AllowedIPs, make before break: the new
// ones are added first (taken from their previous owner if any, as wg(8)
// does), and only when all of them fit do the previous owners lose them and
// the peer's old ones go. A table that fills part way (rules or tbl8 groups)
// undoes the adds, so no route is left pointing at a slot that is freed and
// reused later, and owner_of_ never names a peer that is gone.
bool Device::set_allowed_ips(Peer& p, const std::vector<config::Prefix>& prefixes,
                             std::string& error) {
  struct Taken {
    config::Prefix prefix;
    std::optional<std::uint32_t> previous;  // the slot that owned it before
  };
  std::vector<Taken> taken;
  for (const config::Prefix& prefix : prefixes) {
    auto owner = owner_of_.find(prefix);
    if (owner != owner_of_.end() && owner->second == p.slot) continue;  // already ours
    const std::optional<std::uint32_t> previous =
        owner == owner_of_.end() ? std::nullopt : std::optional(owner->second);
    if (!add_route(prefix, {dp::NextHopKind::kPeer, p.slot}, "peer " + p.name + " allowed_ips",
                   error)) {
      for (auto t = taken.rbegin(); t != taken.rend(); ++t) {
        if (t->previous) {  // the rule is there: replacing its next hop needs no room
          std::string ignored;
          add_route(t->prefix, {dp::NextHopKind::kPeer, *t->previous}, "rollback", ignored);
          owner_of_[t->prefix] = *t->previous;
        } else {
          remove_route(t->prefix);
          owner_of_.erase(t->prefix);
        }
      }
      settle_fib6_failures();  // older IPv6 changes these adds published may have failed
      return false;
    }
    owner_of_[prefix] = p.slot;
    taken.push_back({prefix, previous});
  }
  for (const Taken& t : taken) {
    if (!t.previous) continue;
    auto previous = peers_.find(*t.previous);
    if (previous == peers_.end()) continue;
    std::erase(previous->second.allowed_ips, t.prefix);
    log_info("allowed ip %s moves from peer %s to peer %s", t.prefix.to_string().c_str(),
             previous->second.name.c_str(), p.name.c_str());
  }
  for (const config::Prefix& old : p.allowed_ips) {
    if (std::find(prefixes.begin(), prefixes.end(), old) != prefixes.end()) continue;
    auto owner = owner_of_.find(old);
    if (owner == owner_of_.end() || owner->second != p.slot) continue;
    owner_of_.erase(owner);
    remove_route(old);
  }
  p.allowed_ips = prefixes;
  settle_fib6_failures();  // older IPv6 changes these adds published may have failed
  return true;
}

void Device::remove_route(const config::Prefix& prefix) {
  if (prefix.family() == config::Family::v4) {
    dp_.fib->remove(prefix.address().v4_host(), static_cast<std::uint8_t>(prefix.length()));
  } else {
    dp_.fib6->remove(prefix.address().bytes, static_cast<std::uint8_t>(prefix.length()));
  }
}

// A peer's AllowedIPs may not replace the hub's own routes (route_policy.hpp).
bool Device::permitted(const PeerSpec& spec, std::string& error) const {
  if (auto why = route_policy_.refusal(spec.allowed_ips)) {
    error = "peer " + spec.name + " allowed_ips: " + *why;
    return false;
  }
  return true;
}

// IPv6 route changes made while the standby table still had readers go out
// with the first publish that finds it free (fib6.hpp).
void Device::publish_ipv6_routes() {
  dp_.fib6->publish();
  settle_fib6_failures();
}

// An IPv6 route change accepted while the standby table still had readers
// is applied later (fib6.hpp), and may then not fit. Its owner record must
// not outlive it: a peer listed as owning a prefix the table does not route
// to it would pass the inner-source check for nothing and show in wg(8).
void Device::settle_fib6_failures() {
  if (dp_.fib6->failed_ops() != fib6_failures_logged_) {
    log_error("IPv6 FIB: %" PRIu64 " route change(s) did not fit and were dropped; last: %s",
              dp_.fib6->failed_ops() - fib6_failures_logged_, dp_.fib6->error().c_str());
    fib6_failures_logged_ = dp_.fib6->failed_ops();
  }
  for (const dp::Fib6::FailedChange& f : dp_.fib6->take_failures()) {
    config::IpAddress address;
    address.family = config::Family::v6;
    std::memcpy(address.bytes.data(), f.ip.data(), 16);
    const config::Prefix prefix = config::Prefix::from(address, f.depth);
    if (f.wanted.kind != dp::NextHopKind::kPeer) continue;  // a LAN route: logged above
    auto owner = owner_of_.find(prefix);
    if (owner == owner_of_.end() || owner->second != f.wanted.id) continue;
    owner_of_.erase(owner);
    if (auto p = peers_.find(f.wanted.id); p != peers_.end()) {
      std::erase(p->second.allowed_ips, prefix);
      log_error("peer %s: allowed ip %s did not fit in the IPv6 FIB and is not installed",
                p->second.name.c_str(), prefix.to_string().c_str());
    }
    // The table kept the previous owner's route: so does the record.
    if (f.kept && f.kept->kind == dp::NextHopKind::kPeer) {
      if (auto q = peers_.find(f.kept->id); q != peers_.end()) {
        owner_of_[prefix] = q->first;
        if (std::find(q->second.allowed_ips.begin(), q->second.allowed_ips.end(), prefix) ==
            q->second.allowed_ips.end())
          q->second.allowed_ips.push_back(prefix);
      }
    }
  }
}

}  // namespace wghub::ctl
