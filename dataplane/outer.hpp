// The outer headers of a WireGuard datagram, written once for both address
// families and for both senders: the worker's encrypt path (worker_send.cpp)
// and the control thread's handshake messages, cookie replies and keepalives
// (control/control_tx.cpp). From the WAN's address and listen port to a
// peer's endpoint, through the WAN next hop of the endpoint's family.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <type_traits>

#include "dataplane/context.hpp"
#include "dataplane/fast_path.hpp"
#include "dataplane/inet.hpp"
#include "dataplane/neighbour.hpp"
#include "dataplane/packet_build.hpp"
#include "dataplane/peer_state.hpp"

namespace wghub::dp {

// The WAN next hop of an outer destination: on the WAN's subnet the endpoint
// itself, else the WAN gateway of its family. False when there is none.
template <typename Family>
bool wan_next_hop(const PortContext& wan, const Endpoint& to,
                  typename Family::NextHopAddress& out) noexcept {
  if constexpr (std::is_same_v<Family, Inet4>) {
    out = wan.next_hop(to.v4_be());
    return out != 0;
  } else {
    return wan.local.has_ip6 && wan.next_hop6(to.addr().data(), out);
  }
}

// Ethernet + IP + UDP in front of m's payload, from `us` (the WAN's address
// and listen port) to `to`; Ethernet destination dst_mac48 (0: written once
// the next hop is resolved). IPv4 takes ip_id and advances it; IPv6 carries
// the UDP checksum it must have (RFC 8200 8.1).
template <typename Family>
DropReason prepend_outer(rte_mbuf* m, std::uint64_t dst_mac48, const LocalAddress& us,
                         const Endpoint& to, std::uint16_t& ip_id) noexcept {
  if constexpr (std::is_same_v<Family, Inet4>) {
    const std::uint32_t payload_len = m->pkt_len;
    if (payload_len > kMaxUdpPayload) return DropReason::kBadMessageLength;
    auto* at = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_prepend(m, kOuterHeadersLen));
    if (at == nullptr) return DropReason::kNoHeadroom;
    write_outer_ipv4(at, dst_mac48, us, to.v4_be(), to.port_be(), ip_id++, payload_len);
    m->l2_len = kEthernetHeaderLen;
    m->l3_len = kIpv4MinHeaderLen;
    m->l4_len = kUdpHeaderLen;
    return DropReason::kNone;
  } else {
    UdpFlow6 flow;
    flow.src_mac = us.mac;
    flow.dst_mac = NeighbourTable::unpack_mac48(dst_mac48).value_or(rte_ether_addr{});
    flow.src_ip = us.ip6;
    flow.dst_ip = to.addr();
    flow.src_port_be = us.udp_port_be;
    flow.dst_port_be = to.port_be();
    return prepend_udp6_headers(m, flow);
  }
}

}  // namespace wghub::dp
