#include "control/control_tx.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include <cstring>
#include <type_traits>

#include "dataplane/arp.hpp"
#include "dataplane/ndp.hpp"
#include "dataplane/outer.hpp"

namespace wghub::ctl {

ControlTx::ControlTx(dp::Dataplane& dp) : dp_(dp) {}

ControlTx::~ControlTx() {
  for (Held& h : held_) rte_pktmbuf_free(h.m);
}

void ControlTx::send_frame(dp::PortContext& port, rte_mbuf* m) {
  if (!dp_.answering.load(std::memory_order_acquire)) {
    ++counters_.fenced;  // a standby sends nothing (docs/ha.md)
    rte_pktmbuf_free(m);
    return;
  }
  const std::uint32_t len = m->pkt_len;
  if (rte_eth_tx_burst(port.port.id, port.control_txq, &m, 1) != 1) {
    ++counters_.tx_failed;
    rte_pktmbuf_free(m);
    return;
  }
  ++counters_.tx_packets[port.stats_index];
  counters_.tx_bytes[port.stats_index] += len;
}

namespace {

template <typename Family>
constexpr bool kIs6 = std::is_same_v<Family, dp::Inet6>;

// A held frame's next hop, of either family: an IPv4 address (network order)
// in the first four bytes.
template <typename Family>
dp::Ipv6Address pack(const typename Family::NextHopAddress& a) {
  if constexpr (kIs6<Family>) {
    return a;
  } else {
    dp::Ipv6Address p{};
    std::memcpy(p.data(), &a, sizeof a);
    return p;
  }
}

std::uint32_t unpack4(const dp::Ipv6Address& p) {
  std::uint32_t a;
  std::memcpy(&a, p.data(), sizeof a);
  return a;
}

}  // namespace

template <typename Family>
bool ControlTx::hint_matches(const typename Family::NextHopAddress& next_hop) const {
  if constexpr (kIs6<Family>) {
    return hint6_valid_ && next_hop == hint_ip6_;
  } else {
    return hint_ip_be_ != 0 && next_hop == hint_ip_be_;
  }
}

template <typename Family>
void ControlTx::send_via(dp::PortContext& port, rte_mbuf* m,
                         const typename Family::NextHopAddress& next_hop, std::uint64_t now) {
  if (const auto mac = Family::neighbours(port).lookup(next_hop)) {
    rte_pktmbuf_mtod(m, rte_ether_hdr*)->dst_addr = *mac;
    send_frame(port, m);
    return;
  }
  if (&port == &dp_.wan && hint_matches<Family>(next_hop)) {
    rte_pktmbuf_mtod(m, rte_ether_hdr*)->dst_addr = hint_mac_;
    send_frame(port, m);
    return;
  }
  hold(Held{m, port.stats_index, now, kIs6<Family>, pack<Family>(next_hop)});
  ask<Family>(port, next_hop, now);
}
template void ControlTx::send_via<dp::Inet4>(dp::PortContext&, rte_mbuf*,
                                             const dp::Inet4::NextHopAddress&, std::uint64_t);
template void ControlTx::send_via<dp::Inet6>(dp::PortContext&, rte_mbuf*,
                                             const dp::Inet6::NextHopAddress&, std::uint64_t);

void ControlTx::hold(Held h) {
  ++counters_.held;
  if (held_.size() >= kMaxHeld) {  // the oldest frame makes room
    rte_pktmbuf_free(held_.front().m);
    held_.pop_front();
    ++counters_.held_dropped;
  }
  held_.push_back(h);
}

// An ARP request (IPv4) or a Neighbor Solicitation (IPv6) for `ip`, unless
// one is outstanding or the neighbour table refuses (neighbour.hpp).
template <typename Family>
void ControlTx::ask(dp::PortContext& port, const typename Family::NextHopAddress& ip,
                    std::uint64_t now) {
  if constexpr (kIs6<Family>) {
    if (!port.local.has_ip6) return;
  }
  if (!Family::neighbours(port).needs_request(ip, now)) return;
  rte_mbuf* req = nullptr;
  if constexpr (kIs6<Family>) {
    req = dp::build_ns(dp_.pool, port.local.mac, port.local.ip6, ip);
  } else {
    req = dp::build_arp_request(dp_.pool, port.local.mac, port.local.ip_be, ip);
  }
  if (req == nullptr) return;
  ++(kIs6<Family> ? counters_.neighbor_solicits : counters_.arp_requests);
  send_frame(port, req);
}

template <typename Family>
void ControlTx::announce(dp::PortContext& port) {
  rte_mbuf* m = nullptr;
  if constexpr (kIs6<Family>) {
    if (!port.local.has_ip6) return;
    m = dp::build_unsolicited_na(dp_.pool, port.local.mac, port.local.ip6);
  } else {
    // A gratuitous ARP: a request for our own address (RFC 5227 2.4).
    m = dp::build_arp_request(dp_.pool, port.local.mac, port.local.ip_be, port.local.ip_be);
  }
  if (m == nullptr) return;
  ++counters_.announcements;
  send_frame(port, m);
}
template void ControlTx::announce<dp::Inet4>(dp::PortContext&);
template void ControlTx::announce<dp::Inet6>(dp::PortContext&);

template <typename Family>
void ControlTx::neighbour_learned(dp::PortContext& port,
                                  const typename Family::NextHopAddress& ip) {
  const auto mac = Family::neighbours(port).lookup(ip);
  if (!mac) return;
  const dp::Ipv6Address key = pack<Family>(ip);
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->v6 == kIs6<Family> && it->port == port.stats_index && it->next_hop == key) {
      rte_pktmbuf_mtod(it->m, rte_ether_hdr*)->dst_addr = *mac;
      send_frame(port, it->m);
      ++counters_.held_sent;
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
}
template void ControlTx::neighbour_learned<dp::Inet4>(dp::PortContext&,
                                                      const dp::Inet4::NextHopAddress&);
template void ControlTx::neighbour_learned<dp::Inet6>(dp::PortContext&,
                                                      const dp::Inet6::NextHopAddress&);

// Re-asks for the entries of the family's table that went stale or stay
// unanswered.
template <typename Family>
void ControlTx::ask_expired(dp::PortContext& port, std::uint64_t now) {
  for (const auto& ip : Family::neighbours(port).expire(now)) ask<Family>(port, ip, now);
}

void ControlTx::tick(std::uint64_t now) {
  const std::uint64_t limit = kHoldSeconds * rte_get_tsc_hz();
  while (!held_.empty() && now > held_.front().since && now - held_.front().since > limit) {
    rte_pktmbuf_free(held_.front().m);
    held_.pop_front();
    ++counters_.held_dropped;
  }
  for (const Held& h : held_) {
    if (h.v6) {
      ask<dp::Inet6>(port(h.port), h.next_hop, now);
    } else {
      ask<dp::Inet4>(port(h.port), unpack4(h.next_hop), now);
    }
  }
  for (dp::PortContext* p : {&dp_.wan, &dp_.lan}) {
    ask_expired<dp::Inet4>(*p, now);
    ask_expired<dp::Inet6>(*p, now);
  }
}

void ControlTx::send_outer(rte_mbuf* m, const dp::Endpoint& to, std::uint64_t now) {
  if (to.is_v6()) {
    send_outer<dp::Inet6>(m, to, now);
  } else {
    send_outer<dp::Inet4>(m, to, now);
  }
}

// The outer headers as the workers write them (dataplane/outer.hpp); the
// Ethernet destination once send_via has the next hop's MAC.
template <typename Family>
void ControlTx::send_outer(rte_mbuf* m, const dp::Endpoint& to, std::uint64_t now) {
  dp::PortContext& wan = dp_.wan;
  typename Family::NextHopAddress next_hop;
  if (!dp::wan_next_hop<Family>(wan, to, next_hop) ||
      dp::prepend_outer<Family>(m, 0, wan.local, to, ip_id_) != dp::DropReason::kNone) {
    ++counters_.tx_failed;
    rte_pktmbuf_free(m);
    return;
  }
  send_via<Family>(wan, m, next_hop, now);
}

void ControlTx::send_udp(const dp::Endpoint& to, std::span<const std::uint8_t> payload,
                         std::uint64_t now) {
  rte_mbuf* m = dp::alloc_frame(dp_.pool, static_cast<std::uint16_t>(payload.size()));
  if (m == nullptr) {
    ++counters_.tx_failed;
    return;
  }
  std::memcpy(rte_pktmbuf_mtod(m, std::uint8_t*), payload.data(), payload.size());
  send_outer(m, to, now);
}

}  // namespace wghub::ctl
