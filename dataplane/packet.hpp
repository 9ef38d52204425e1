// Packet headers: the first and last stage of every packet's trip through a
// worker. On receive, classify_wan / classify_lan look at Ethernet + IPv4 or
// IPv6 (+ UDP / ICMP / ICMPv6) and say what the frame is (a WireGuard datagram
// for us, ARP, NDP, an echo request to one of our addresses, an IP packet to
// forward) or why it is dropped. IPv6 is classified only on a port that has an
// IPv6 address (LocalAddress::has_ip6); elsewhere it stays an unsupported
// ethertype. On transmit, the builders prepend Ethernet + IPv4 + UDP in front of
// a WireGuard message already in an mbuf (Ethernet + IPv6 + UDP for a site
// reached over IPv6), or Ethernet in front of a decrypted inner packet. Helpers for inner packets
// read the IPv4 header of a decrypted plaintext (its true length: the rest is padding,
// whitepaper 5.4.6) and decrement TTL with an incremental checksum update (RFC 1624).
//
// Everything here is inline, allocation-free and branch-light: it runs per
// packet. The classifiers work on plain bytes (testable without EAL); the mbuf
// overloads are thin wrappers. All addresses and ports are kept in network
// byte order ("_be") exactly as on the wire.
#pragma once

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "dataplane/drop_reason.hpp"

namespace wghub::dp {

inline constexpr std::uint16_t kEthernetHeaderLen = sizeof(rte_ether_hdr);  // 14, no VLAN tag
inline constexpr std::uint16_t kIpv4MinHeaderLen = sizeof(rte_ipv4_hdr);    // 20
inline constexpr std::uint16_t kUdpHeaderLen = sizeof(rte_udp_hdr);         // 8
inline constexpr std::uint16_t kIcmpHeaderLen = sizeof(rte_icmp_hdr);       // 8
// Ethernet + IPv4 (no options) + UDP: what the WAN builder prepends.
inline constexpr std::uint16_t kOuterHeadersLen =
    kEthernetHeaderLen + kIpv4MinHeaderLen + kUdpHeaderLen;
static_assert(kEthernetHeaderLen == 14 && kIpv4MinHeaderLen == 20 && kUdpHeaderLen == 8);

inline constexpr std::uint8_t kIpProtoIcmp = 1;
inline constexpr std::uint8_t kIpProtoUdp = 17;
inline constexpr std::uint8_t kIpProtoFragment6 = 44;  // IPv6 Fragment header (RFC 8200 4.5)
inline constexpr std::uint8_t kIpProtoIcmp6 = 58;
inline constexpr std::uint16_t kIpv6HeaderLen = 40;  // RFC 8200, no extension headers
// ICMPv6 (RFC 4443) and NDP (RFC 4861) message types.
inline constexpr std::uint8_t kIcmp6EchoRequest = 128;
inline constexpr std::uint8_t kIcmp6EchoReply = 129;
inline constexpr std::uint8_t kNdpNeighborSolicit = 135;
inline constexpr std::uint8_t kNdpNeighborAdvert = 136;
static_assert(sizeof(rte_ipv6_hdr) == kIpv6HeaderLen);
inline constexpr std::uint16_t kEtherTypeIpv4Be = RTE_BE16(RTE_ETHER_TYPE_IPV4);
inline constexpr std::uint16_t kEtherTypeIpv6Be = RTE_BE16(RTE_ETHER_TYPE_IPV6);
inline constexpr std::uint16_t kEtherTypeArpBe = RTE_BE16(RTE_ETHER_TYPE_ARP);

// Builds an IPv4 address in network byte order from its dotted quad.
constexpr std::uint32_t ipv4_be(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  if constexpr (std::endian::native == std::endian::little)
    return std::uint32_t{d} << 24 | std::uint32_t{c} << 16 | std::uint32_t{b} << 8 | a;
  return std::uint32_t{a} << 24 | std::uint32_t{b} << 16 | std::uint32_t{c} << 8 | d;
}

// What the classifier decided. Every kind except kWireGuard, kArp,
// kIcmpEchoToUs and kForward is a drop and comes with a DropReason.
enum class Classify : std::uint8_t {
  kWireGuard,     // UDP to our address and listen port: payload is a WireGuard message
  kArp,           // an Ethernet/IPv4 ARP message (arp.hpp decides what to do)
  kIcmpEchoToUs,  // ICMP / ICMPv6 echo request to our address (icmp.hpp answers it)
  kForward,       // LAN only: an IPv4 or IPv6 packet to somebody else, to be routed
  kIpv4Other,     // IPv4 or IPv6 to our address that we do not serve (port, protocol)
  kNdp,           // ICMPv6 Neighbor Solicitation / Advertisement for us (ndp.hpp)
  kNotForUs,      // not addressed to us (other MAC, other IP, other ethertype)
  kMalformed,     // a header is truncated or inconsistent
};

std::string_view classify_name(Classify c) noexcept;
// Dotted quad / colon-separated hex, for logs and error messages.
std::string format_ipv4(std::uint32_t ip_be);
std::string format_mac(const rte_ether_addr& mac);

// The appliance's identity on one port.
struct LocalAddress {
  rte_ether_addr mac{};
  std::uint32_t ip_be = 0;
  std::uint16_t udp_port_be = 0;  // the WireGuard listen port (WAN only)
  bool has_ip6 = false;           // the port speaks IPv6 (config address6)
  std::array<std::uint8_t, 16> ip6{};
};

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

// RFC 1071 one's complement sum of a 20-byte IPv4 header (no options) given
// as five 32-bit words, folded to 16 bits: summed in 64 bits, no byte swaps
// (the sum is byte-order independent, RFC 1071 2(B)).
inline std::uint16_t ipv4_header20_sum(const std::uint32_t (&w)[5]) noexcept {
  std::uint64_t s = std::uint64_t{w[0]} + w[1] + w[2] + w[3] + w[4];
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffffu) + (s >> 16);
  s = (s & 0xffffu) + (s >> 16);
  s = (s & 0xffffu) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}

// True when the 20-byte header's sum, its checksum included, is 0xffff.
inline bool ipv4_header20_checksum_ok(const std::uint8_t* ip) noexcept {
  std::uint32_t w[5];
  std::memcpy(w, ip, sizeof w);
  return ipv4_header20_sum(w) == 0xffffu;
}

// An IPv4 header checksum check: the 20-byte fast case or RFC 1071 in general.
inline bool ipv4_header_checksum_ok(const std::uint8_t* ip, std::uint32_t ihl_bytes) noexcept {
  return ihl_bytes == kIpv4MinHeaderLen ? ipv4_header20_checksum_ok(ip)
                                        : rte_raw_cksum(ip, ihl_bytes) == 0xffff;
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
      c.kind = Classify::kIpv4Other;
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
    c.kind = Classify::kIpv4Other;
    c.reason = DropReason::kUnsupportedProtocol;
    return c;
  }
  c.kind = Classify::kIpv4Other;
  c.reason = proto == kIpProtoUdp ? DropReason::kUdpPortClosed : DropReason::kUnsupportedProtocol;
  return c;
}

// ---- IPv6 (RFC 8200; addressing RFC 4291)

inline bool ipv6_is_multicast(const std::uint8_t* a) noexcept {
  return a[0] == 0xff;
}
inline bool ipv6_is_link_local(const std::uint8_t* a) noexcept {  // fe80::/10
  return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}
inline bool ipv6_is_unspecified(const std::uint8_t* a) noexcept {
  for (int i = 0; i < 16; ++i)
    if (a[i] != 0) return false;
  return true;
}
// ff02::1:ffXX:XXXX for the low 24 bits of `unicast` (RFC 4291 2.7.1).
inline bool ipv6_is_solicited_node_of(const std::uint8_t* a, const std::uint8_t* unicast) noexcept {
  static constexpr std::uint8_t kPrefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
  return std::memcmp(a, kPrefix, 13) == 0 && std::memcmp(a + 13, unicast + 13, 3) == 0;
}
inline bool ipv6_is_all_nodes(const std::uint8_t* a) noexcept {  // ff02::1
  static constexpr std::uint8_t kAllNodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0,
                                                 0,    0,    0, 0, 0, 0, 0, 0x01};
  return std::memcmp(a, kAllNodes, 16) == 0;
}

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
      c.kind = Classify::kIpv4Other;
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
      c.kind = Classify::kIpv4Other;
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
  c.kind = Classify::kIpv4Other;
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

// ---------------------------------------------------------------- builders

// The outer addresses of a WireGuard datagram (WAN transmit).
struct UdpFlow {
  rte_ether_addr src_mac{};
  rte_ether_addr dst_mac{};
  std::uint32_t src_ip_be = 0;
  std::uint32_t dst_ip_be = 0;
  std::uint16_t src_port_be = 0;
  std::uint16_t dst_port_be = 0;
};

struct Ipv4Options {
  std::uint8_t ttl = 64;
  std::uint8_t tos = 0;
  std::uint16_t packet_id = 0;  // host order; callers keep a per-lcore counter
  bool dont_fragment = false;
  // RFC 768: a zero UDP checksum over IPv4 means "none"; WireGuard's own
  // authentication protects the payload, so computing it is optional.
  bool udp_checksum = false;
};

inline void write_ethernet(std::uint8_t* at, const rte_ether_addr& src, const rte_ether_addr& dst,
                           std::uint16_t ether_type_be) noexcept {
  auto* eth = reinterpret_cast<rte_ether_hdr*>(at);
  eth->dst_addr = dst;
  eth->src_addr = src;
  eth->ether_type = ether_type_be;
}

// Fills an IPv4 header (no options) carrying `l4_len` bytes, checksum included.
inline void write_ipv4(std::uint8_t* at, std::uint32_t src_be, std::uint32_t dst_be,
                       std::uint8_t proto, std::uint16_t l4_len, const Ipv4Options& o) noexcept {
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(at);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->type_of_service = o.tos;
  ip->total_length = rte_cpu_to_be_16(static_cast<std::uint16_t>(kIpv4MinHeaderLen + l4_len));
  ip->packet_id = rte_cpu_to_be_16(o.packet_id);
  ip->fragment_offset = o.dont_fragment ? RTE_BE16(RTE_IPV4_HDR_DF_FLAG) : 0;
  ip->time_to_live = o.ttl;
  ip->next_proto_id = proto;
  ip->hdr_checksum = 0;
  ip->src_addr = src_be;
  ip->dst_addr = dst_be;
  ip->hdr_checksum = rte_ipv4_cksum(ip);  // RFC 1071, in software
}

// The largest UDP payload one IPv4 datagram can carry.
inline constexpr std::uint32_t kMaxUdpPayload = 65535 - kIpv4MinHeaderLen - kUdpHeaderLen;

// Prepends Ethernet + IPv4 + UDP in front of the payload that is the whole
// mbuf (pkt_len bytes, possibly several segments). Returns kNone, or
// kNoHeadroom / kBadMessageLength when it cannot.
inline DropReason prepend_udp_headers(rte_mbuf* m, const UdpFlow& f,
                                      const Ipv4Options& o = {}) noexcept {
  const std::uint32_t payload_len = m->pkt_len;
  if (payload_len > kMaxUdpPayload) return DropReason::kBadMessageLength;
  auto* at = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_prepend(m, kOuterHeadersLen));
  if (at == nullptr) return DropReason::kNoHeadroom;
  const auto udp_len = static_cast<std::uint16_t>(kUdpHeaderLen + payload_len);
  write_ethernet(at, f.src_mac, f.dst_mac, kEtherTypeIpv4Be);
  write_ipv4(at + kEthernetHeaderLen, f.src_ip_be, f.dst_ip_be, kIpProtoUdp, udp_len, o);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(at + kEthernetHeaderLen + kIpv4MinHeaderLen);
  udp->src_port = f.src_port_be;
  udp->dst_port = f.dst_port_be;
  udp->dgram_len = rte_cpu_to_be_16(udp_len);
  udp->dgram_cksum = 0;
  if (o.udp_checksum) {
    // RFC 768: one's complement sum of the pseudo-header, UDP header and
    // data (over every segment), complemented; a zero result is sent as 0xFFFF.
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(at + kEthernetHeaderLen);
    std::uint16_t raw = 0;
    rte_raw_cksum_mbuf(m, kEthernetHeaderLen + kIpv4MinHeaderLen, udp_len, &raw);
    std::uint32_t sum = std::uint32_t{raw} + rte_ipv4_phdr_cksum(ip, 0);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    const auto cksum = static_cast<std::uint16_t>(~sum);
    udp->dgram_cksum = cksum == 0 ? 0xffff : cksum;
  }
  m->l2_len = kEthernetHeaderLen;
  m->l3_len = kIpv4MinHeaderLen;
  m->l4_len = kUdpHeaderLen;
  return DropReason::kNone;
}

// The outer addresses of a WireGuard datagram to a site over IPv6.
struct UdpFlow6 {
  rte_ether_addr src_mac{};
  rte_ether_addr dst_mac{};
  std::array<std::uint8_t, 16> src_ip{};
  std::array<std::uint8_t, 16> dst_ip{};
  std::uint16_t src_port_be = 0;
  std::uint16_t dst_port_be = 0;
};

// Ethernet + IPv6 + UDP: what the WAN builder prepends for an IPv6 endpoint.
inline constexpr std::uint16_t kOuterHeadersLen6 =
    kEthernetHeaderLen + kIpv6HeaderLen + kUdpHeaderLen;
// The hop limit of packets the appliance originates (Linux's default).
inline constexpr std::uint8_t kDefaultHopLimit = 64;

// Prepends Ethernet + IPv6 + UDP in front of the payload that is the whole
// mbuf (possibly several segments). The UDP checksum is computed: IPv6 has
// no header checksum, so RFC 8200 8.1 makes it mandatory (a zero one is
// discarded by the receiver). Returns kNone, kNoHeadroom or kBadMessageLength.
inline DropReason prepend_udp6_headers(rte_mbuf* m, const UdpFlow6& f) noexcept {
  const std::uint32_t payload_len = m->pkt_len;
  if (payload_len > 65535 - kUdpHeaderLen) return DropReason::kBadMessageLength;
  auto* at = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_prepend(m, kOuterHeadersLen6));
  if (at == nullptr) return DropReason::kNoHeadroom;
  const auto udp_len = static_cast<std::uint16_t>(kUdpHeaderLen + payload_len);
  write_ethernet(at, f.src_mac, f.dst_mac, kEtherTypeIpv6Be);
  auto* ip = reinterpret_cast<rte_ipv6_hdr*>(at + kEthernetHeaderLen);
  ip->vtc_flow = RTE_BE32(0x60000000u);  // version 6, traffic class and flow label 0
  ip->payload_len = rte_cpu_to_be_16(udp_len);
  ip->proto = kIpProtoUdp;
  ip->hop_limits = kDefaultHopLimit;
  std::memcpy(ip->src_addr, f.src_ip.data(), 16);
  std::memcpy(ip->dst_addr, f.dst_ip.data(), 16);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(at + kEthernetHeaderLen + kIpv6HeaderLen);
  udp->src_port = f.src_port_be;
  udp->dst_port = f.dst_port_be;
  udp->dgram_len = rte_cpu_to_be_16(udp_len);
  udp->dgram_cksum = 0;
  // The pseudo-header sum (addresses, length, next header) plus the UDP
  // header and data over every segment, complemented; 0 is sent as 0xFFFF.
  std::uint16_t raw = 0;
  rte_raw_cksum_mbuf(m, kEthernetHeaderLen + kIpv6HeaderLen, udp_len, &raw);
  std::uint32_t sum = std::uint32_t{raw} + rte_ipv6_phdr_cksum(ip, 0);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  const auto cksum = static_cast<std::uint16_t>(~sum);
  udp->dgram_cksum = cksum == 0 ? 0xffff : cksum;
  m->l2_len = kEthernetHeaderLen;
  m->l3_len = kIpv6HeaderLen;
  m->l4_len = kUdpHeaderLen;
  return DropReason::kNone;
}

// Prepends an Ethernet header (LAN transmit of a decrypted inner packet).
inline DropReason prepend_ethernet(rte_mbuf* m, const rte_ether_addr& src,
                                   const rte_ether_addr& dst,
                                   std::uint16_t ether_type_be = kEtherTypeIpv4Be) noexcept {
  auto* at = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_prepend(m, kEthernetHeaderLen));
  if (at == nullptr) return DropReason::kNoHeadroom;
  write_ethernet(at, src, dst, ether_type_be);
  m->l2_len = kEthernetHeaderLen;
  return DropReason::kNone;
}

// ---------------------------------------------------------- inner packets

// The IP packet inside a decrypted WireGuard data message. The plaintext is
// the packet followed by zero padding to a multiple of 16 (whitepaper 5.4.6),
// so the packet's own length field says where it ends.
struct InnerPacket {
  std::uint8_t version = 0;  // 4 or 6
  std::uint16_t length = 0;  // the packet without padding; trim the mbuf to it
  std::uint32_t src_be = 0;  // IPv4 only
  std::uint32_t dst_be = 0;  // IPv4 only; IPv6 addresses: bytes 8 and 24 of the packet
};

// Returns kNone and fills `out`, or kBadInnerPacket (IPv4: a length that
// disagrees with the plaintext, a bad header checksum; or an unknown version)
// / kBadInnerIpv6. A zero-length plaintext is a keepalive and must be handled
// before calling this.
inline DropReason parse_inner(const std::uint8_t* p, std::uint32_t plain_len,
                              InnerPacket& out) noexcept {
  if (plain_len < 1) return DropReason::kBadInnerPacket;
  const std::uint8_t version = p[0] >> 4;
  if (version == 4) {
    if (plain_len < kIpv4MinHeaderLen) return DropReason::kBadInnerPacket;
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(p);
    const std::uint32_t ihl_bytes = (ip->version_ihl & RTE_IPV4_HDR_IHL_MASK) * 4u;
    const std::uint32_t total = rte_be_to_cpu_16(ip->total_length);
    if (ihl_bytes < kIpv4MinHeaderLen || total < ihl_bytes || total > plain_len)
      return DropReason::kBadInnerPacket;
    // RFC 1812 5.2.2: a router verifies the header checksum before it
    // forwards, as the stack behind a kernel or wireguard-go peer would.
    if (!ipv4_header_checksum_ok(p, ihl_bytes)) return DropReason::kBadInnerPacket;
    out.version = 4;
    out.length = static_cast<std::uint16_t>(total);
    out.src_be = ip->src_addr;
    out.dst_be = ip->dst_addr;
    return DropReason::kNone;
  }
  if (version == 6) {
    // RFC 8200: the payload length must fit the plaintext (the rest is
    // padding, whitepaper 5.4.6); zero would be a jumbogram, never tunnelled.
    if (plain_len < kIpv6HeaderLen) return DropReason::kBadInnerIpv6;
    const std::uint32_t payload = std::uint32_t{p[4]} << 8 | p[5];
    const std::uint32_t total = kIpv6HeaderLen + payload;
    if (payload == 0 || total > plain_len) return DropReason::kBadInnerIpv6;
    out.version = 6;
    out.length = static_cast<std::uint16_t>(total);
    out.src_be = 0;
    out.dst_be = 0;
    return DropReason::kNone;
  }
  return DropReason::kBadInnerPacket;
}

// RFC 1624 equation 3: HC' = ~(~HC + ~m + m'), for one 16-bit word m changed
// to m'. All three values as they lie in memory (the one's complement sum is
// byte-order independent, RFC 1071 2(B)). Never yields the 0x0000 "-0" that
// equation 2 can produce.
constexpr std::uint16_t checksum_adjust(std::uint16_t checksum, std::uint16_t old_word,
                                        std::uint16_t new_word) noexcept {
  std::uint32_t sum = std::uint32_t{static_cast<std::uint16_t>(~checksum)} +
                      std::uint32_t{static_cast<std::uint16_t>(~old_word)} + new_word;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// Router forwarding (RFC 1812 5.3.1): decrement TTL and patch the header
// checksum incrementally. Returns false, leaving the header as it was, when
// the TTL would reach zero (drop with kTtlExceeded).
inline bool ipv4_decrement_ttl(std::uint8_t* ip_header) noexcept {
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(ip_header);
  if (ip->time_to_live <= 1) return false;
  std::uint16_t old_word;  // TTL and protocol share one 16-bit word
  std::memcpy(&old_word, ip_header + 8, 2);
  ip->time_to_live = static_cast<std::uint8_t>(ip->time_to_live - 1);
  std::uint16_t new_word;
  std::memcpy(&new_word, ip_header + 8, 2);
  ip->hdr_checksum = checksum_adjust(ip->hdr_checksum, old_word, new_word);
  return true;
}

// Router forwarding (RFC 8200 3): decrement the hop limit; no checksum in
// the IPv6 header. False, leaving it as it was, when it would reach zero
// (drop with kHopLimitExceeded).
inline bool ipv6_decrement_hop_limit(std::uint8_t* ip_header) noexcept {
  if (ip_header[7] <= 1) return false;
  --ip_header[7];
  return true;
}

// True when the IPv4 header at `ip_header` (with options) has a valid checksum.
inline bool ipv4_checksum_ok(const std::uint8_t* ip_header) noexcept {
  return ipv4_header_checksum_ok(ip_header, (ip_header[0] & RTE_IPV4_HDR_IHL_MASK) * 4u);
}

}  // namespace wghub::dp
