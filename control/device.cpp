// See device.hpp. The device's peers: add, update, remove, endpoints and
// handshake messages. Its routes are in device_routes.cpp, its keypair
// rotation in device_keypairs.cpp, its timers in device_timers.cpp and the
// packets waiting for a session in device_staged.cpp.
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

std::vector<std::string> prefix_strings(const std::vector<config::Prefix>& prefixes) {
  std::vector<std::string> out;
  for (const auto& p : prefixes) out.push_back(p.to_string());
  return out;
}

}  // namespace

std::string short_key(const PublicKey& key) {
  return crypto::key_to_base64(key.data()).substr(0, 8);
}

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
  return dp::Endpoint::v4(rte_cpu_to_be_32(e.address.v4_host()), rte_cpu_to_be_16(e.port));
}

// The handshake engine's view of a data-plane endpoint (not empty).
SourceAddress unpack_endpoint(const dp::Endpoint& e) {
  if (e.is_v6()) return SourceAddress::ipv6(e.addr(), rte_be_to_cpu_16(e.port_be()));
  std::array<std::uint8_t, 4> a;
  std::memcpy(a.data(), e.addr().data(), 4);
  return SourceAddress::ipv4(a, rte_be_to_cpu_16(e.port_be()));
}

Device::Device(dp::Dataplane& dp, ControlTx& tx)
    : dp_(dp),
      tx_(tx),
      deferred_(*dp.rcu),
      quiet_(dp.peers != nullptr ? dp.peers->capacity() : 0, 0) {}

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

bool Device::dial(std::uint32_t slot, const config::Endpoint& endpoint) {
  auto it = peers_.find(slot);
  if (it == peers_.end()) return false;
  if (endpoint.family() == config::Family::v6 && !dp_.wan.local.has_ip6) return false;
  Peer& p = it->second;
  wake(slot);
  const dp::Endpoint packed = endpoint_of(endpoint);
  dp_.peers->at(slot).endpoint.store(packed);
  dp_.known_sources->add(packed);
  p.logged_endpoint = packed;
  p.dial_pending = true;
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
  wake(*slot);
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
  wake(p->slot);
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
  wake(slot);  // the next peer in the slot starts awake
  // The slot is reused only once no worker can still hold it: once the IPv6
  // table no longer leads to it (its removals may wait for a table swap),
  // then after a grace period.
  dp_.fib6->when_published(
      [this, slot] { deferred_.retire([this, slot] { dp_.peers->free(slot); }); });
  return true;
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
  wake(peer_slot);
  log_info("peer %s endpoint %s -> %s", it->second.name.c_str(), format_endpoint(old).c_str(),
           format_endpoint(packed).c_str());
  it->second.logged_endpoint = packed;
}

void Device::handshake_received(std::uint32_t slot, std::size_t bytes, bool authenticated,
                                TimePoint now) {
  auto it = peers_.find(slot);
  if (it == peers_.end()) return;
  wake(slot);
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
      wake(*peer_slot);
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
  wake(peer_slot);
  rte_mbuf* m = rte_pktmbuf_alloc(dp_.pool);
  if (m == nullptr) return;
  const std::uint64_t now_tsc = rte_get_tsc_cycles();
  if (send_data(it->second, m, now_tsc)) {
    const TimePoint now = Clock::now();
    it->second.timers.any_authenticated_packet_traversal(now);
    it->second.timers.any_authenticated_packet_sent(now);
  }
}

}  // namespace wghub::ctl
