#include "control/control_tx.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include <cstring>

#include "dataplane/arp.hpp"
#include "dataplane/ndp.hpp"

namespace wghub::ctl {

ControlTx::ControlTx(dp::Dataplane& dp) : dp_(dp) {}

ControlTx::~ControlTx() {
  for (Held& h : held_) rte_pktmbuf_free(h.m);
}

void ControlTx::send_frame(dp::PortContext& port, rte_mbuf* m) {
  const std::uint32_t len = m->pkt_len;
  if (rte_eth_tx_burst(port.port.id, port.control_txq, &m, 1) != 1) {
    ++counters_.tx_failed;
    rte_pktmbuf_free(m);
    return;
  }
  ++counters_.tx_packets[port.stats_index];
  counters_.tx_bytes[port.stats_index] += len;
}

void ControlTx::send_via(dp::PortContext& port, rte_mbuf* m, std::uint32_t next_hop_be,
                         std::uint64_t now) {
  if (const auto mac = port.neighbours->lookup(next_hop_be)) {
    rte_pktmbuf_mtod(m, rte_ether_hdr*)->dst_addr = *mac;
    send_frame(port, m);
    return;
  }
  if (hint_ip_be_ != 0 && next_hop_be == hint_ip_be_ && &port == &dp_.wan) {
    rte_pktmbuf_mtod(m, rte_ether_hdr*)->dst_addr = hint_mac_;
    send_frame(port, m);
    return;
  }
  hold(Held{m, port.stats_index, next_hop_be, now});
  ask(port, next_hop_be, now);
}

void ControlTx::hold(Held h) {
  ++counters_.held;
  if (held_.size() >= kMaxHeld) {  // the oldest frame makes room
    rte_pktmbuf_free(held_.front().m);
    held_.pop_front();
    ++counters_.held_dropped;
  }
  held_.push_back(h);
}

void ControlTx::send_via6(dp::PortContext& port, rte_mbuf* m, const dp::Ipv6Address& next_hop,
                          std::uint64_t now) {
  if (const auto mac = port.neighbours6->lookup(next_hop)) {
    rte_pktmbuf_mtod(m, rte_ether_hdr*)->dst_addr = *mac;
    send_frame(port, m);
    return;
  }
  if (hint6_valid_ && next_hop == hint_ip6_ && &port == &dp_.wan) {
    rte_pktmbuf_mtod(m, rte_ether_hdr*)->dst_addr = hint_mac_;
    send_frame(port, m);
    return;
  }
  Held h{m, port.stats_index, 0, now};
  h.v6 = true;
  h.next_hop6 = next_hop;
  hold(h);
  ask6(port, next_hop, now);
}

void ControlTx::ask6(dp::PortContext& port, const dp::Ipv6Address& ip, std::uint64_t now) {
  if (!port.local.has_ip6 || !port.neighbours6->needs_request(ip, now)) return;
  rte_mbuf* req = dp::build_ns(dp_.pool, port.local.mac, port.local.ip6, ip);
  if (req == nullptr) return;
  ++counters_.neighbor_solicits;
  send_frame(port, req);
}

void ControlTx::neighbour_learned6(dp::PortContext& port, const dp::Ipv6Address& ip) {
  const auto mac = port.neighbours6->lookup(ip);
  if (!mac) return;
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->v6 && it->port == port.stats_index && it->next_hop6 == ip) {
      rte_pktmbuf_mtod(it->m, rte_ether_hdr*)->dst_addr = *mac;
      send_frame(port, it->m);
      ++counters_.held_sent;
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
}

void ControlTx::ask(dp::PortContext& port, std::uint32_t ip_be, std::uint64_t now) {
  if (!port.neighbours->needs_request(ip_be, now)) return;
  rte_mbuf* req = dp::build_arp_request(dp_.pool, port.local.mac, port.local.ip_be, ip_be);
  if (req == nullptr) return;
  ++counters_.arp_requests;
  send_frame(port, req);
}

void ControlTx::neighbour_learned(dp::PortContext& port, std::uint32_t ip_be) {
  const auto mac = port.neighbours->lookup(ip_be);
  if (!mac) return;
  for (auto it = held_.begin(); it != held_.end();) {
    if (!it->v6 && it->port == port.stats_index && it->next_hop_be == ip_be) {
      rte_pktmbuf_mtod(it->m, rte_ether_hdr*)->dst_addr = *mac;
      send_frame(port, it->m);
      ++counters_.held_sent;
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
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
      ask6(port(h.port), h.next_hop6, now);
    } else {
      ask(port(h.port), h.next_hop_be, now);
    }
  }
  for (dp::PortContext* p : {&dp_.wan, &dp_.lan}) {
    for (std::uint32_t ip_be : p->neighbours->expire(now)) ask(*p, ip_be, now);
    for (const dp::Ipv6Address& ip : p->neighbours6->expire(now)) ask6(*p, ip, now);
  }
}

void ControlTx::send_outer(rte_mbuf* m, const dp::Endpoint& to, std::uint64_t now) {
  dp::PortContext& wan = dp_.wan;
  if (to.is_v6()) {
    dp::Ipv6Address next_hop;
    dp::UdpFlow6 flow;
    flow.src_mac = wan.local.mac;
    flow.src_ip = wan.local.ip6;
    flow.dst_ip = to.addr();
    flow.src_port_be = wan.local.udp_port_be;
    flow.dst_port_be = to.port_be();
    if (!wan.local.has_ip6 || !wan.next_hop6(to.addr().data(), next_hop) ||
        dp::prepend_udp6_headers(m, flow) != dp::DropReason::kNone) {
      ++counters_.tx_failed;
      rte_pktmbuf_free(m);
      return;
    }
    send_via6(wan, m, next_hop, now);
    return;
  }
  const std::uint32_t dst_be = to.v4_be();
  const std::uint32_t next_hop = wan.next_hop(dst_be);
  dp::UdpFlow flow;
  flow.src_mac = wan.local.mac;
  flow.src_ip_be = wan.local.ip_be;
  flow.dst_ip_be = dst_be;
  flow.src_port_be = wan.local.udp_port_be;
  flow.dst_port_be = to.port_be();
  dp::Ipv4Options options;
  options.packet_id = ip_id_++;
  if (next_hop == 0 || dp::prepend_udp_headers(m, flow, options) != dp::DropReason::kNone) {
    ++counters_.tx_failed;
    rte_pktmbuf_free(m);
    return;
  }
  send_via(wan, m, next_hop, now);
}

void ControlTx::send_udp(const dp::Endpoint& to, std::span<const std::uint8_t> payload,
                         std::uint64_t now) {
  rte_mbuf* m = rte_pktmbuf_alloc(dp_.pool);
  if (m == nullptr) {
    ++counters_.tx_failed;
    return;
  }
  auto* body = rte_pktmbuf_append(m, static_cast<std::uint16_t>(payload.size()));
  if (body == nullptr) {
    ++counters_.tx_failed;
    rte_pktmbuf_free(m);
    return;
  }
  std::memcpy(body, payload.data(), payload.size());
  send_outer(m, to, now);
}

}  // namespace wghub::ctl
