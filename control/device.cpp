// See device.hpp. The keypair rotation mirrors the kernel's
// noise.c add_new_keypair / received_with_keypair.
#include "control/device.hpp"

#include <rte_byteorder.h>
#include <rte_cycles.h>

#include <algorithm>
#include <cinttypes>
#include <cstring>

#include "control/audit.hpp"
#include "control/log.hpp"
#include "crypto/aead.hpp"
#include "crypto/base64.hpp"
#include "dataplane/messages.hpp"

namespace wghub::ctl {

namespace {

std::uint32_t ipv4_host(const config::IpAddress& a) {
  return std::uint32_t{a.bytes[0]} << 24 | std::uint32_t{a.bytes[1]} << 16 |
         std::uint32_t{a.bytes[2]} << 8 | a.bytes[3];
}

dp::Ipv6Address ipv6_bytes(const config::IpAddress& a) {
  dp::Ipv6Address out;
  std::memcpy(out.data(), a.bytes.data(), 16);
  return out;
}

// Public keys in logs: the first 8 base64 characters, as wg(8) users know them.
std::vector<std::string> prefix_strings(const std::vector<config::Prefix>& prefixes) {
  std::vector<std::string> out;
  for (const auto& p : prefixes) out.push_back(p.to_string());
  return out;
}

std::string short_key(const PublicKey& key) {
  return crypto::key_to_base64(key.data()).substr(0, 8);
}

}  // namespace

std::string format_endpoint(const dp::Endpoint& e) {
  if (e.empty()) return "(none)";
  const std::string port = std::to_string(rte_be_to_cpu_16(e.port_be()));
  if (e.is_v6()) return "[" + dp::format_ipv6(e.addr().data()) + "]:" + port;
  return dp::format_ipv4(e.v4_be()) + ":" + port;
}

dp::Endpoint endpoint_of(const SourceAddress& s) {
  if (s.family == SourceAddress::Family::kIpv6)
    return dp::Endpoint::v6(s.addr.data(), rte_cpu_to_be_16(s.port));
  std::uint32_t addr_be;
  std::memcpy(&addr_be, s.addr.data(), 4);
  return dp::Endpoint::v4(addr_be, rte_cpu_to_be_16(s.port));
}

dp::Endpoint endpoint_of(const config::Endpoint& e) {
  if (e.family() == config::Family::v6)
    return dp::Endpoint::v6(e.address.bytes.data(), rte_cpu_to_be_16(e.port));
  return dp::Endpoint::v4(rte_cpu_to_be_32(ipv4_host(e.address)), rte_cpu_to_be_16(e.port));
}

// The handshake engine's view of a data-plane endpoint (not empty).
SourceAddress unpack_endpoint(const dp::Endpoint& e) {
  if (e.is_v6()) return SourceAddress::ipv6(e.addr(), rte_be_to_cpu_16(e.port_be()));
  std::array<std::uint8_t, 4> a;
  std::memcpy(a.data(), e.addr().data(), 4);
  return SourceAddress::ipv4(a, rte_be_to_cpu_16(e.port_be()));
}

Device::Device(dp::Dataplane& dp, ControlTx& tx) : dp_(dp), tx_(tx), deferred_(*dp.rcu) {}

Device::~Device() {
  // Called after the workers stopped; the stores keep the order rule anyway.
  for (auto& [slot, p] : peers_) {
    purge_staged(p);
    dp_.peers->at(slot).current.store(nullptr, std::memory_order_release);
    retire(p.previous);
    retire(p.current);
    retire(p.next);
  }
  deferred_.drain();
}

bool Device::add_route(const config::Prefix& prefix, dp::NextHop nh, const std::string& what,
                       std::string& error) {
  if (prefix.family() == config::Family::v6) {
    const bool added =
        dp_.fib6->add(ipv6_bytes(prefix.address()), static_cast<std::uint8_t>(prefix.length()), nh);
    if (!added)
      error =
          what + ": cannot add " + prefix.to_string() + " to the IPv6 FIB: " + dp_.fib6->error();
    return added;
  }
  if (!dp_.fib->add(ipv4_host(prefix.address()), static_cast<std::uint8_t>(prefix.length()), nh)) {
    error = what + ": cannot add " + prefix.to_string() + " to the FIB: " + dp_.fib->error();
    return false;
  }
  return true;
}

PeerSpec PeerSpec::from(const config::Peer& peer) {
  PeerSpec s;
  s.name = peer.name;
  s.public_key = peer.public_key;
  s.preshared_key = peer.preshared_key;
  s.allowed_ips = peer.allowed_ips;
  s.endpoint = peer.endpoint;
  s.persistent_keepalive = peer.persistent_keepalive;
  return s;
}

bool Device::apply(const config::DesiredState& state, std::string& error) {
  using config::Prefix;
  route_policy_ = config::RoutePolicy(state.interface, state.ports);
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
    const auto id = via.family == config::Family::v6 ? dp_.lan_gateways6->acquire(ipv6_bytes(via))
                                                     : dp_.lan_gateways->acquire(ipv4_host(via));
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

Device::Peer* Device::find(const PublicKey& key) {
  auto it = slot_of_.find(key);
  return it == slot_of_.end() ? nullptr : &peers_.at(it->second);
}

dp::PeerCounters Device::counters(const Peer& p) const {
  std::vector<const dp::PeerCounterBlock*> blocks;
  for (const auto& b : dp_.worker_peer_counters) blocks.push_back(b.get());
  dp::PeerCounters c = dp::sum_peer_counters(blocks, p.slot) - p.counters_baseline;
  c += p.control_counters;
  return c;
}

void Device::set_configured_endpoint(Peer& p, const std::optional<config::Endpoint>& endpoint) {
  if (!endpoint) return;
  if (endpoint->family() == config::Family::v6 && !dp_.wan.local.has_ip6)
    log_warn("peer %s: IPv6 endpoint %s, but ports.wan has no address6: not reachable",
             p.name.c_str(), endpoint->to_string().c_str());
  p.configured_endpoint = true;
  p.logged_endpoint = endpoint_of(*endpoint);
  dp_.peers->at(p.slot).endpoint.store(p.logged_endpoint);
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
    dp_.fib->remove(ipv4_host(prefix.address()), static_cast<std::uint8_t>(prefix.length()));
  } else {
    dp_.fib6->remove(ipv6_bytes(prefix.address()), static_cast<std::uint8_t>(prefix.length()));
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

bool Device::add_peer(const PeerSpec& spec, std::string& error) {
  if (slot_of_.contains(spec.public_key)) return update_peer(spec, error);
  if (!permitted(spec, error)) return false;
  const auto slot = dp_.peers->allocate();
  if (!slot) {
    // The table is sized at start from the config's peers plus headroom
    // (table_sizes.hpp); a restart with the peers in the file makes room.
    error = "peers: more than " + std::to_string(dp_.peers->capacity()) +
            " peers (the room sized at start; add them to the config and restart)";
    return false;
  }
  Peer& p = peers_[*slot];
  p.name = spec.name;
  p.public_key = spec.public_key;
  p.slot = *slot;
  p.persistent_keepalive = spec.persistent_keepalive;
  p.preshared_key = spec.preshared_key;
  {
    std::vector<const dp::PeerCounterBlock*> blocks;
    for (const auto& b : dp_.worker_peer_counters) blocks.push_back(b.get());
    p.counters_baseline = dp::sum_peer_counters(blocks, *slot);
  }
  slot_of_[spec.public_key] = *slot;
  set_configured_endpoint(p, spec.endpoint);
  {
    PeerTimers::Actions first;  // the first keepalive: at the first tick, below
    p.timers.set_persistent_keepalive(std::chrono::seconds(p.persistent_keepalive), first);
  }
  // A peer the hub can reach on its own is dialled at once (the kernel
  // does so for a persistent keepalive; a hub also for a configured endpoint,
  // so the session is up before the first packet for it).
  p.dial_pending = p.configured_endpoint || p.persistent_keepalive != 0;
  if (!set_allowed_ips(p, spec.allowed_ips, error)) {
    remove_peer(spec.public_key);
    return false;
  }
  if (engine_ != nullptr) {
    HandshakePeerSettings hs;
    hs.slot = *slot;
    hs.name = p.name;
    hs.public_key = p.public_key;
    hs.preshared_key = p.preshared_key.get();
    const dp::Endpoint ep = dp_.peers->at(*slot).endpoint.load();
    if (ep != 0) hs.endpoint = unpack_endpoint(ep);
    engine_->add_peer(hs);
  }
  dp_.peers->at(*slot).active.store(true, std::memory_order_release);
  AuditEvent("peer_added")
      .add("peer", p.name)
      .add("public_key", crypto::key_to_base64(p.public_key.data()))
      .add("allowed_ips", prefix_strings(p.allowed_ips))
      .add("preshared_key", p.preshared_key != nullptr)
      .emit();
  return true;
}

bool Device::update_peer(const PeerSpec& spec, std::string& error) {
  Peer* p = find(spec.public_key);
  if (p == nullptr) return add_peer(spec, error);
  if (!permitted(spec, error)) return false;  // before any field changes
  std::vector<std::string> changed;
  if (p->name != spec.name) changed.push_back("name");
  if (p->preshared_key != spec.preshared_key) changed.push_back("preshared_key");
  if (p->allowed_ips != spec.allowed_ips) changed.push_back("allowed_ips");
  if (spec.endpoint) changed.push_back("endpoint");
  if (p->persistent_keepalive != spec.persistent_keepalive)
    changed.push_back("persistent_keepalive");
  if (!changed.empty())
    AuditEvent("peer_changed")
        .add("peer", spec.name)
        .add("public_key", crypto::key_to_base64(spec.public_key.data()))
        .add("changed", changed)
        .add("allowed_ips", prefix_strings(spec.allowed_ips))
        .emit();
  p->name = spec.name;
  if (p->persistent_keepalive != spec.persistent_keepalive) {
    PeerTimers::Actions first;
    p->timers.set_persistent_keepalive(std::chrono::seconds(spec.persistent_keepalive), first);
    if (!first.empty()) p->dial_pending = true;  // turned on: one keepalive at once
  }
  p->persistent_keepalive = spec.persistent_keepalive;
  if (p->preshared_key != spec.preshared_key) {
    p->preshared_key = spec.preshared_key;
    if (engine_ != nullptr) engine_->set_preshared_key(p->slot, p->preshared_key.get());
  }
  if (spec.endpoint) {
    set_configured_endpoint(*p, spec.endpoint);
    const dp::Endpoint ep = dp_.peers->at(p->slot).endpoint.load();
    if (engine_ != nullptr && ep != 0) engine_->update_endpoint(p->slot, unpack_endpoint(ep));
  }
  return set_allowed_ips(*p, spec.allowed_ips, error);
}

bool Device::remove_peer(const PublicKey& key) {
  auto it = slot_of_.find(key);
  if (it == slot_of_.end()) return false;
  const std::uint32_t slot = it->second;
  Peer& p = peers_.at(slot);
  dp::PeerState& st = dp_.peers->at(slot);
  // Cut off first: workers stop sending to it and stop accepting from it.
  st.active.store(false, std::memory_order_release);
  st.current.store(nullptr, std::memory_order_release);
  std::string ignored;
  set_allowed_ips(p, {}, ignored);
  if (engine_ != nullptr) engine_->remove_peer(slot);
  p.timers.stop();
  purge_staged(p);
  retire(p.previous);
  retire(p.current);
  retire(p.next);
  log_info("peer %s (%s) removed", p.name.c_str(), short_key(p.public_key).c_str());
  AuditEvent("peer_removed")
      .add("peer", p.name)
      .add("public_key", crypto::key_to_base64(p.public_key.data()))
      .emit();
  slot_of_.erase(it);
  peers_.erase(slot);
  // The slot is reused only once no worker can still hold it: once the IPv6
  // table no longer leads to it (its removals may wait for a table swap),
  // then after a grace period.
  dp_.fib6->when_published(
      [this, slot] { deferred_.retire([this, slot] { dp_.peers->free(slot); }); });
  return true;
}

void Device::retire(dp::Keypair*& kp) {
  if (kp == nullptr) return;
  dp::Keypair* released = dp_.keypairs->release_index(kp->local_index);
  (void)released;  // the same keypair; lookups by its index miss from now on
  deferred_.retire(kp, dp::destroy_keypair);
  kp = nullptr;
}

void Device::publish_current(Peer& p) {
  dp_.peers->at(p.slot).current.store(p.current, std::memory_order_release);
}

std::optional<std::uint32_t> Device::reserve_index() {
  return dp_.keypairs->allocate_index();
}

void Device::release_index(std::uint32_t index) {
  if (dp::Keypair* kp = dp_.keypairs->release_index(index))
    deferred_.retire(kp, dp::destroy_keypair);
}

void Device::install_keypair(std::uint32_t peer_slot, Keypair&& keys) {
  auto it = peers_.find(peer_slot);
  dp::Keypair* kp = dp::make_keypair();
  if (it == peers_.end() || kp == nullptr) {
    release_index(keys.local_index);
    dp::destroy_keypair(kp);
    return;
  }
  Peer& p = it->second;
  const TimePoint now = Clock::now();
  std::memcpy(kp->send_key, keys.sending_key.data(), sizeof kp->send_key);
  std::memcpy(kp->recv_key, keys.receiving_key.data(), sizeof kp->recv_key);
  kp->local_index = keys.local_index;
  kp->remote_index = keys.remote_index;
  kp->peer = peer_slot;
  kp->is_initiator = keys.is_initiator;
  kp->birth_tsc = rte_get_tsc_cycles();
  dp_.keypairs->publish(keys.local_index, kp);

  // Workers must stop seeing a keypair (publish) before it is retired: the
  // grace period only covers readers that found it before the retirement.
  if (kp->is_initiator) {
    // The initiator may send at once; an unconfirmed `next` is superseded.
    dp::Keypair* old_previous = p.previous;
    dp::Keypair* old_current = p.current;
    if (p.next != nullptr) {
      p.previous = p.next;
      p.next = nullptr;
    } else {
      p.previous = old_current;
      old_current = nullptr;
    }
    p.current = kp;
    publish_current(p);
    retire(old_previous);
    retire(old_current);
    p.timers.session_derived(now);
    p.timers.handshake_complete(now);
    send_staged(p, rte_get_tsc_cycles());
  } else {
    // The responder waits for the initiator's first data packet.
    retire(p.next);
    p.next = kp;
    retire(p.previous);
    p.timers.session_derived(now);
  }
  p.last_handshake = std::chrono::system_clock::now();
  ++p.handshakes;
  log_info("handshake completed with peer %s (%s) as %s, endpoint %s", p.name.c_str(),
           short_key(p.public_key).c_str(), kp->is_initiator ? "initiator" : "responder",
           format_endpoint(dp_.peers->at(peer_slot).endpoint.load()).c_str());
  AuditEvent("handshake_completed")
      .add("peer", p.name)
      .add("public_key", crypto::key_to_base64(p.public_key.data()))
      .add("role", kp->is_initiator ? "initiator" : "responder")
      .add("endpoint", format_endpoint(dp_.peers->at(peer_slot).endpoint.load()))
      .emit();
}

void Device::set_endpoint(std::uint32_t peer_slot, const SourceAddress& endpoint) {
  dp::PeerState& st = dp_.peers->at(peer_slot);
  const dp::Endpoint packed = endpoint_of(endpoint);
  const dp::Endpoint old = st.endpoint.load();
  if (old == packed) return;
  st.endpoint.store(packed);
  dp_.known_sources->add(packed);
  auto it = peers_.find(peer_slot);
  if (it == peers_.end()) return;
  log_info("peer %s endpoint %s -> %s", it->second.name.c_str(), format_endpoint(old).c_str(),
           format_endpoint(packed).c_str());
  it->second.logged_endpoint = packed;
}

void Device::handshake_received(std::uint32_t slot, std::size_t bytes, bool authenticated,
                                TimePoint now) {
  auto it = peers_.find(slot);
  if (it == peers_.end()) return;
  ++it->second.control_counters.rx_packets;
  it->second.control_counters.rx_bytes += bytes;
  if (authenticated) {  // receive.c: initiations and responses, not cookie replies
    it->second.timers.any_authenticated_packet_received(now);
    it->second.timers.any_authenticated_packet_traversal(now);
  }
}

void Device::send_handshake(const SourceAddress& to, std::span<const std::uint8_t> message,
                            std::optional<std::uint32_t> peer_slot) {
  tx_.send_udp(endpoint_of(to), message, rte_get_tsc_cycles());
  if (peer_slot) {
    if (auto it = peers_.find(*peer_slot); it != peers_.end()) {
      ++it->second.control_counters.tx_packets;
      it->second.control_counters.tx_bytes += message.size();
      const TimePoint now = Clock::now();  // send.c: handshake messages count as traffic
      if (!message.empty() && message[0] == static_cast<std::uint8_t>(dp::MessageType::kResponse)) {
        it->second.timers.handshake_response_sent(now);
      } else {
        it->second.timers.any_authenticated_packet_traversal(now);
        it->second.timers.any_authenticated_packet_sent(now);
      }
    }
  }
}

// An empty data message (whitepaper 6.5) on the current keypair.
void Device::send_keepalive(std::uint32_t peer_slot) {
  auto it = peers_.find(peer_slot);
  if (it == peers_.end() || it->second.current == nullptr) return;
  rte_mbuf* m = rte_pktmbuf_alloc(dp_.pool);
  if (m == nullptr) return;
  const std::uint64_t now_tsc = rte_get_tsc_cycles();
  if (send_data(it->second, m, now_tsc)) {
    const TimePoint now = Clock::now();
    it->second.timers.any_authenticated_packet_traversal(now);
    it->second.timers.any_authenticated_packet_sent(now);
  }
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
