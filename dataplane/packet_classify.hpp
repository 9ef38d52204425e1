// The receive side of packet.hpp: classify_wan / classify_lan look at
// Ethernet + IPv4 or IPv6 (+ UDP / ICMP / ICMPv6) and say what the frame is
// (a WireGuard datagram for us, ARP, NDP, an echo request to one of our
// addresses, an IP packet to forward) or why it is dropped. IPv6 is
// classified only on a port that has an IPv6 address (LocalAddress::has_ip6);
// elsewhere it stays an unsupported ethertype.
//
// The classifiers work on plain bytes (testable without EAL); the mbuf
// overloads are thin wrappers.
#pragma once

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <cstdint>
#include <cstring>
#include <string_view>

#include "dataplane/drop_reason.hpp"
#include "dataplane/packet_defs.hpp"

namespace wghub::dp {

// What the classifier decided. Every kind except kWireGuard, kArp,
// kIcmpEchoToUs and kForward is a drop and comes with a DropReason.
enum class Classify : std::uint8_t {
  kWireGuard,     // UDP to our address and listen port: payload is a WireGuard message
  kArp,           // an Ethernet/IPv4 ARP message (arp.hpp decides what to do)
  kIcmpEchoToUs,  // ICMP / ICMPv6 echo request to our address (icmp.hpp answers it)
  kForward,       // LAN only: an IPv4 or IPv6 packet to somebody else, to be routed
  kOtherToUs,     // IPv4 or IPv6 to our address that we do not serve (port, protocol)
  kNdp,           // ICMPv6 Neighbor Solicitation / Advertisement for us (ndp.hpp)
  kNotForUs,      // not addressed to us (other MAC, other IP, other ethertype)
  kMalformed,     // a header is truncated or inconsistent
};

std::string_view classify_name(Classify c) noexcept;

struct Classified {
  Classify kind = Classify::kMalformed;
  DropReason reason = DropReason::kNone;  // set when kind is a drop
  std::uint16_t l3_offset = 0;            // IPv4 header
  std::uint16_t l4_offset = 0;            // UDP / ICMP header
  std::uint16_t payload_offset = 0;       // kWireGuard: the WireGuard message
  std::uint16_t payload_len = 0;          // kWireGuard: UDP length - 8
  std::uint32_t src_ip_be = 0;            // outer source: the peer's endpoint (IPv4)
  std::uint16_t src_port_be = 0;
  std::uint32_t dst_ip_be = 0;
  // 6 for IPv6: the addresses are then read from the header at l3_offset
  // (ipv6_src / ipv6_dst), src_ip_be and dst_ip_be stay 0.
  std::uint8_t ip_version = 4;
};

inline const std::uint8_t* ipv6_src(const std::uint8_t* frame, const Classified& c) noexcept {
  return frame + c.l3_offset + 8;
}
inline const std::uint8_t* ipv6_dst(const std::uint8_t* frame, const Classified& c) noexcept {
  return frame + c.l3_offset + 24;
}

// Whether the IPv4 header checksum was already checked by the NIC.
enum class IpChecksum : std::uint8_t { kVerify, kKnownGood, kKnownBad };

namespace detail {

inline Classified drop(Classify kind, DropReason why) noexcept {
  Classified c;
  c.kind = kind;
  c.reason = why;
  return c;
}

inline bool mac_equal(const rte_ether_addr& a, const rte_ether_addr& b) noexcept {
  return std::memcmp(a.addr_bytes, b.addr_bytes, RTE_ETHER_ADDR_LEN) == 0;
}

// The Ethernet and IPv4 checks both ports share. `len` is the frame length,
// `contiguous` how many of its bytes are readable at `frame` (the first
// segment). On success fills l3_offset, addresses, and returns kind kForward
// as a placeholder; the caller refines it.
inline Classified classify_ipv4_common(const std::uint8_t* frame, std::uint32_t contiguous,
                                       std::uint32_t len, const LocalAddress& us,
                                       IpChecksum checksum, bool* is_arp) noexcept {
  *is_arp = false;
  if (contiguous < kEthernetHeaderLen || len < contiguous)
    return drop(Classify::kMalformed, DropReason::kBadEthernet);
  const auto* eth = reinterpret_cast<const rte_ether_hdr*>(frame);
  const std::uint16_t type = eth->ether_type;
  const bool unicast_to_us = mac_equal(eth->dst_addr, us.mac);
  if (type == kEtherTypeArpBe) {
    // ARP requests are broadcast; replies unicast to us.
    if (!unicast_to_us && !rte_is_broadcast_ether_addr(&eth->dst_addr))
      return drop(Classify::kNotForUs, DropReason::kNotOurMac);
    *is_arp = true;
    Classified c;
    c.kind = Classify::kArp;
    c.l3_offset = kEthernetHeaderLen;
    return c;
  }
  if (type != kEtherTypeIpv4Be) return drop(Classify::kNotForUs, DropReason::kUnsupportedEthertype);
  // Promiscuous mode shows us traffic between other hosts: never route it.
  if (!unicast_to_us) return drop(Classify::kNotForUs, DropReason::kNotOurMac);

  // RFC 791 header checks (RFC 1812 5.2.2 for a router's receive path).
  if (contiguous < kEthernetHeaderLen + kIpv4MinHeaderLen)
    return drop(Classify::kMalformed, DropReason::kBadIpHeader);
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(frame + kEthernetHeaderLen);
  const std::uint8_t vihl = ip->version_ihl;
  const std::uint32_t ihl_bytes = (vihl & RTE_IPV4_HDR_IHL_MASK) * 4u;
  if ((vihl >> 4) != 4 || ihl_bytes < kIpv4MinHeaderLen ||
      contiguous < kEthernetHeaderLen + ihl_bytes)
    return drop(Classify::kMalformed, DropReason::kBadIpHeader);
  const std::uint32_t total = rte_be_to_cpu_16(ip->total_length);
  // The frame may be longer (Ethernet pads to 60 bytes), never shorter.
  if (total < ihl_bytes || total > len - kEthernetHeaderLen)
    return drop(Classify::kMalformed, DropReason::kBadIpLength);
  if (checksum == IpChecksum::kKnownBad ||
      (checksum == IpChecksum::kVerify &&
       !ipv4_header_checksum_ok(frame + kEthernetHeaderLen, ihl_bytes)))
    return drop(Classify::kMalformed, DropReason::kBadIpChecksum);

  Classified c;
  c.kind = Classify::kForward;
  c.l3_offset = kEthernetHeaderLen;
  c.l4_offset = static_cast<std::uint16_t>(kEthernetHeaderLen + ihl_bytes);
  c.src_ip_be = ip->src_addr;
  c.dst_ip_be = ip->dst_addr;
  return c;
}

inline bool is_fragment(const rte_ipv4_hdr* ip) noexcept {
  return (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0;
}

// An IPv4 packet addressed to us: WireGuard, echo request, or something we do
// not serve. `c` comes from classify_ipv4_common.
inline Classified classify_to_us(const std::uint8_t* frame, std::uint32_t contiguous, Classified c,
                                 const LocalAddress& us, bool serve_wireguard) noexcept {
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(frame + c.l3_offset);
  // We do not reassemble: WireGuard keeps its datagrams under the path MTU.
  if (is_fragment(ip)) return drop(Classify::kMalformed, DropReason::kIpFragment);
  const std::uint32_t l4_len = rte_be_to_cpu_16(ip->total_length) - (c.l4_offset - c.l3_offset);
  const std::uint8_t proto = ip->next_proto_id;
  if (proto == kIpProtoUdp && serve_wireguard) {
    if (l4_len < kUdpHeaderLen || contiguous < c.l4_offset + std::uint32_t{kUdpHeaderLen})
      return drop(Classify::kMalformed, DropReason::kBadUdpLength);
    const auto* udp = reinterpret_cast<const rte_udp_hdr*>(frame + c.l4_offset);
    const std::uint32_t udp_len = rte_be_to_cpu_16(udp->dgram_len);
    // RFC 768: the UDP length covers header and data and fits the IP payload.
    if (udp_len < kUdpHeaderLen || udp_len > l4_len)
      return drop(Classify::kMalformed, DropReason::kBadUdpLength);
    if (udp->dst_port != us.udp_port_be) {
      c.kind = Classify::kOtherToUs;
      c.reason = DropReason::kUdpPortClosed;
      return c;
    }
    // The UDP checksum is not verified: a damaged WireGuard message fails its
    // Poly1305 tag, and handshakes carry mac1.
    c.kind = Classify::kWireGuard;
    c.src_port_be = udp->src_port;
    c.payload_offset = static_cast<std::uint16_t>(c.l4_offset + kUdpHeaderLen);
    c.payload_len = static_cast<std::uint16_t>(udp_len - kUdpHeaderLen);
    return c;
  }
  if (proto == kIpProtoIcmp) {
    if (l4_len < kIcmpHeaderLen || contiguous < c.l4_offset + l4_len)
      return drop(Classify::kMalformed, DropReason::kBadIcmp);
    const auto* icmp = reinterpret_cast<const rte_icmp_hdr*>(frame + c.l4_offset);
    if (icmp->icmp_type == RTE_IP_ICMP_ECHO_REQUEST && icmp->icmp_code == 0) {
      // RFC 1122 3.2.2: silently discard ICMP messages with a bad checksum.
      if (rte_raw_cksum(icmp, l4_len) != 0xffff)
        return drop(Classify::kMalformed, DropReason::kBadIcmpChecksum);
      c.kind = Classify::kIcmpEchoToUs;
      c.payload_offset = static_cast<std::uint16_t>(c.l4_offset + kIcmpHeaderLen);
      c.payload_len = static_cast<std::uint16_t>(l4_len - kIcmpHeaderLen);
      return c;
    }
    c.kind = Classify::kOtherToUs;
    c.reason = DropReason::kUnsupportedProtocol;
    return c;
  }
  c.kind = Classify::kOtherToUs;
  c.reason = proto == kIpProtoUdp ? DropReason::kUdpPortClosed : DropReason::kUnsupportedProtocol;
  return c;
}

// ---- IPv6 (RFC 8200; addressing RFC 4291)

// RFC 4443 2.3 / RFC 8200 8.1: the upper-layer checksum over the pseudo-header
// (addresses, upper-layer length, next header) and `len` bytes at `l4`.
// True when it verifies. The header's payload_len must equal `len` (no
// extension headers).
inline bool ipv6_l4_checksum_ok(const rte_ipv6_hdr* ip, const void* l4,
                                std::uint32_t len) noexcept {
  std::uint32_t sum = std::uint32_t{rte_ipv6_phdr_cksum(ip, 0)} + rte_raw_cksum(l4, len);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

// An Ethernet frame with ethertype IPv6 on a port that has an IPv6 address.
// `forward`: the LAN port routes IPv6 to others; `serve_wireguard`: the WAN
// port takes UDP to its listen port.
inline Classified classify_ipv6(const std::uint8_t* frame, std::uint32_t contiguous,
                                std::uint32_t len, const LocalAddress& us, bool forward,
                                bool serve_wireguard) noexcept {
  const auto* eth = reinterpret_cast<const rte_ether_hdr*>(frame);
  const bool unicast_to_us = mac_equal(eth->dst_addr, us.mac);
  // IPv6 multicast rides 33:33:xx:xx:xx:xx frames (RFC 2464 7).
  const bool multicast_frame = rte_is_multicast_ether_addr(&eth->dst_addr);
  if (!unicast_to_us && !multicast_frame) return drop(Classify::kNotForUs, DropReason::kNotOurMac);
  if (contiguous < kEthernetHeaderLen + kIpv6HeaderLen)
    return drop(Classify::kMalformed, DropReason::kBadIpv6Header);
  const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(frame + kEthernetHeaderLen);
  const std::uint8_t* raw = frame + kEthernetHeaderLen;
  if ((raw[0] >> 4) != 6) return drop(Classify::kMalformed, DropReason::kBadIpv6Header);
  // A zero payload length means a jumbogram (RFC 2675): never on Ethernet.
  const std::uint32_t payload = rte_be_to_cpu_16(ip->payload_len);
  if (payload == 0 || kIpv6HeaderLen + payload > len - kEthernetHeaderLen)
    return drop(Classify::kMalformed, DropReason::kBadIpv6Length);
  const std::uint8_t* src = ip->src_addr;
  const std::uint8_t* dst = ip->dst_addr;
  // RFC 4291 2.7: a multicast source is never valid.
  if (ipv6_is_multicast(src)) return drop(Classify::kMalformed, DropReason::kBadIpv6Header);

  Classified c;
  c.ip_version = 6;
  c.l3_offset = kEthernetHeaderLen;
  c.l4_offset = static_cast<std::uint16_t>(kEthernetHeaderLen + kIpv6HeaderLen);
  const std::uint8_t proto = ip->proto;

  bool to_us = false;
  bool ndp_only = false;
  if (ipv6_is_multicast(dst)) {
    // A unicast frame to us asks the hub to route to a group: never
    // (route_guard.hpp), under the reason a decrypted one gets.
    if (!multicast_frame && forward) return drop(Classify::kNotForUs, DropReason::kIpv6Multicast);
    // Only what NDP sends to us: a Neighbor Solicitation to our
    // solicited-node group, an unsolicited Advertisement to all nodes.
    if (!multicast_frame ||
        !(ipv6_is_solicited_node_of(dst, us.ip6.data()) || ipv6_is_all_nodes(dst)))
      return drop(Classify::kNotForUs, DropReason::kNotForUs);
    to_us = true;
    ndp_only = true;
  } else {
    if (!unicast_to_us) return drop(Classify::kNotForUs, DropReason::kNotOurMac);
    to_us = std::memcmp(dst, us.ip6.data(), 16) == 0;
  }
  if (!to_us) {
    if (!forward) return drop(Classify::kNotForUs, DropReason::kNotForUs);
    // RFC 4291 2.5.6: link-local packets never leave their link.
    if (ipv6_is_link_local(src) || ipv6_is_link_local(dst))
      return drop(Classify::kNotForUs, DropReason::kIpv6LinkLocal);
    c.kind = Classify::kForward;
    return c;
  }

  if (proto == kIpProtoIcmp6) {
    if (payload < 8 || contiguous < c.l4_offset + payload)
      return drop(Classify::kMalformed, DropReason::kBadIcmp);
    const std::uint8_t type = frame[c.l4_offset];
    const bool ndp = type == kNdpNeighborSolicit || type == kNdpNeighborAdvert;
    const bool echo = type == kIcmp6EchoRequest && frame[c.l4_offset + 1] == 0 && !ndp_only;
    if (!ndp && !echo) {
      c.kind = Classify::kOtherToUs;
      c.reason = ndp_only ? DropReason::kNotForUs : DropReason::kUnsupportedProtocol;
      return c;
    }
    // RFC 4443 2.4: silently discard messages with a bad checksum.
    if (!ipv6_l4_checksum_ok(ip, frame + c.l4_offset, payload))
      return drop(Classify::kMalformed, DropReason::kBadIcmpChecksum);
    c.kind = ndp ? Classify::kNdp : Classify::kIcmpEchoToUs;
    c.payload_offset = static_cast<std::uint16_t>(c.l4_offset + 8);
    c.payload_len = static_cast<std::uint16_t>(payload - 8);
    return c;
  }
  if (ndp_only) return drop(Classify::kNotForUs, DropReason::kNotForUs);
  if (proto == kIpProtoUdp && serve_wireguard) {
    if (payload < kUdpHeaderLen || contiguous < c.l4_offset + std::uint32_t{kUdpHeaderLen})
      return drop(Classify::kMalformed, DropReason::kBadUdpLength);
    const auto* udp = reinterpret_cast<const rte_udp_hdr*>(frame + c.l4_offset);
    const std::uint32_t udp_len = rte_be_to_cpu_16(udp->dgram_len);
    if (udp_len < kUdpHeaderLen || udp_len > payload)
      return drop(Classify::kMalformed, DropReason::kBadUdpLength);
    if (udp->dst_port != us.udp_port_be) {
      c.kind = Classify::kOtherToUs;
      c.reason = DropReason::kUdpPortClosed;
      return c;
    }
    // RFC 8200 8.1: a zero UDP checksum over IPv6 is discarded. A non-zero
    // one is not verified, as over IPv4: Poly1305 and mac1 protect the
    // message itself.
    if (udp->dgram_cksum == 0) return drop(Classify::kMalformed, DropReason::kBadUdpChecksum);
    c.kind = Classify::kWireGuard;
    c.src_port_be = udp->src_port;
    c.payload_offset = static_cast<std::uint16_t>(c.l4_offset + kUdpHeaderLen);
    c.payload_len = static_cast<std::uint16_t>(udp_len - kUdpHeaderLen);
    return c;
  }
  // We do not reassemble (WireGuard keeps its datagrams under the path MTU).
  if (proto == kIpProtoFragment6) return drop(Classify::kMalformed, DropReason::kIpFragment);
  c.kind = Classify::kOtherToUs;
  c.reason = proto == kIpProtoUdp ? DropReason::kUdpPortClosed : DropReason::kUnsupportedProtocol;
  return c;
}

inline bool is_ipv6_frame(const std::uint8_t* frame, std::uint32_t contiguous,
                          const LocalAddress& us) noexcept {
  return us.has_ip6 && contiguous >= kEthernetHeaderLen &&
         reinterpret_cast<const rte_ether_hdr*>(frame)->ether_type == kEtherTypeIpv6Be;
}

}  // namespace detail

// WAN receive: WireGuard to our address and port (IPv4 or IPv6), ARP, NDP,
// echo to us; anything else is dropped with a reason. `contiguous` bytes are readable at `frame`,
// `len` is the whole frame (pkt_len); headers must lie in the first segment.
inline Classified classify_wan(const std::uint8_t* frame, std::uint32_t contiguous,
                               std::uint32_t len, const LocalAddress& us,
                               IpChecksum checksum = IpChecksum::kVerify) noexcept {
  if (detail::is_ipv6_frame(frame, contiguous, us))
    return detail::classify_ipv6(frame, contiguous, len, us, /*forward=*/false,
                                 /*serve_wireguard=*/true);
  bool is_arp;
  Classified c = detail::classify_ipv4_common(frame, contiguous, len, us, checksum, &is_arp);
  if (is_arp || c.kind != Classify::kForward) return c;
  if (c.dst_ip_be != us.ip_be) return detail::drop(Classify::kNotForUs, DropReason::kNotForUs);
  return detail::classify_to_us(frame, contiguous, c, us, /*serve_wireguard=*/true);
}

// LAN receive: ARP, NDP, echo to us, and IPv4 / IPv6 to anybody else
// (kForward: fragments included, they are tunnelled as they are). The LAN
// address serves no UDP.
inline Classified classify_lan(const std::uint8_t* frame, std::uint32_t contiguous,
                               std::uint32_t len, const LocalAddress& us,
                               IpChecksum checksum = IpChecksum::kVerify) noexcept {
  if (detail::is_ipv6_frame(frame, contiguous, us))
    return detail::classify_ipv6(frame, contiguous, len, us, /*forward=*/true,
                                 /*serve_wireguard=*/false);
  bool is_arp;
  Classified c = detail::classify_ipv4_common(frame, contiguous, len, us, checksum, &is_arp);
  if (is_arp || c.kind != Classify::kForward) return c;
  if (c.dst_ip_be != us.ip_be) return c;
  return detail::classify_to_us(frame, contiguous, c, us, /*serve_wireguard=*/false);
}

// What the NIC already knows about the IPv4 checksum (RTE_MBUF_F_RX_IP_CKSUM_*).
inline IpChecksum rx_ip_checksum(const rte_mbuf* m) noexcept {
  switch (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) {
    case RTE_MBUF_F_RX_IP_CKSUM_GOOD:
      return IpChecksum::kKnownGood;
    case RTE_MBUF_F_RX_IP_CKSUM_BAD:
      return IpChecksum::kKnownBad;
    default:
      return IpChecksum::kVerify;
  }
}

inline Classified classify_wan(const rte_mbuf* m, const LocalAddress& us) noexcept {
  return classify_wan(rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len, m->pkt_len, us,
                      rx_ip_checksum(m));
}

inline Classified classify_lan(const rte_mbuf* m, const LocalAddress& us) noexcept {
  return classify_lan(rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len, m->pkt_len, us,
                      rx_ip_checksum(m));
}

}  // namespace wghub::dp
