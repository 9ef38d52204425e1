// The transmit side of packet.hpp: the builders prepend Ethernet + IPv4 + UDP
// in front of a WireGuard message already in an mbuf (Ethernet + IPv6 + UDP
// for a site reached over IPv6), or Ethernet in front of a decrypted inner
// packet.
#pragma once

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "dataplane/drop_reason.hpp"
#include "dataplane/packet_defs.hpp"

namespace wghub::dp {

// A new mbuf from pool holding `len` bytes of data (not initialised), or
// nullptr when the pool is empty or len does not fit one segment.
inline rte_mbuf* alloc_frame(rte_mempool* pool, std::uint16_t len) noexcept {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  if (rte_pktmbuf_append(m, len) == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  return m;
}

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

}  // namespace wghub::dp
