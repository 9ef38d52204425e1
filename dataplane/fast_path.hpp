// The common frames, recognised in a few word compares before the general
// classifiers (packet.hpp) run: an IPv4 WireGuard datagram to us on the WAN,
// an IPv4 packet to forward on the LAN. A matcher accepts a frame only when
// every check the general classifier makes for that kind of frame passes,
// so for an accepted frame both give the same answer; anything else (IPv6,
// options, ARP, a bad length or checksum, ...) returns false and goes the
// general way, which names the drop reason. tests/unit/ports/test_fast_path.cpp
// holds the two against each other.
//
// Why: the general classifiers return a Classified by value through two
// calls; the copies are wide loads of fields that were just stored narrow,
// and every one of them is a store-forwarding stall (~15 cycles) per packet.
// Here the results stay in registers.
#pragma once

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <cstdint>
#include <cstring>

#include "dataplane/packet.hpp"

namespace wghub::dp {

// The six bytes of a MAC as the low 48 bits of a word (memory order).
inline std::uint64_t mac48(const rte_ether_addr& mac) noexcept {
  std::uint64_t w = 0;
  std::memcpy(&w, mac.addr_bytes, RTE_ETHER_ADDR_LEN);
  return w;
}

// Ethernet header with plain stores: destination from a 48-bit word (a
// neighbour table's answer), source and type from the port.
inline void write_ethernet_fast(std::uint8_t* at, std::uint64_t dst48, const rte_ether_addr& src,
                                std::uint16_t ether_type_be) noexcept {
  const std::uint64_t w0 =
      (dst48 & 0xffffffffffffu) |
      (std::uint64_t{src.addr_bytes[0]} | std::uint64_t{src.addr_bytes[1]} << 8) << 48;
  std::memcpy(at, &w0, 8);
  std::memcpy(at + 8, src.addr_bytes + 2, 4);
  std::memcpy(at + 12, &ether_type_be, 2);
}

// An IPv4/UDP datagram to our WireGuard port.
struct WireGuardDatagram {
  std::uint16_t payload_len;  // the WireGuard message (UDP length - 8), at kOuterHeadersLen
  std::uint16_t src_port_be;
  std::uint32_t src_ip_be;
};

namespace detail {

// What both matchers check first, as classify_ipv4_common does: `need`
// contiguous bytes, an Ethernet frame to our MAC carrying IPv4 without
// options, a total length of at least `min_total` that fits the frame, and a
// good header checksum. The IPv4 header, or nullptr.
inline const rte_ipv4_hdr* ipv4_header20_to_us(const std::uint8_t* f, std::uint32_t contiguous,
                                               std::uint32_t len, std::uint32_t need,
                                               std::uint32_t min_total, const LocalAddress& us,
                                               IpChecksum checksum) noexcept {
  if (contiguous < need || len < contiguous) return nullptr;
  std::uint16_t type;
  std::memcpy(&type, f + 12, 2);
  if (type != kEtherTypeIpv4Be || f[kEthernetHeaderLen] != 0x45 ||
      !mac_equal(*reinterpret_cast<const rte_ether_addr*>(f), us.mac))
    return nullptr;
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(f + kEthernetHeaderLen);
  const std::uint32_t total = rte_be_to_cpu_16(ip->total_length);
  if (total < min_total || total > len - kEthernetHeaderLen) return nullptr;
  if (checksum == IpChecksum::kKnownBad ||
      (checksum == IpChecksum::kVerify && !ipv4_header20_checksum_ok(f + kEthernetHeaderLen)))
    return nullptr;
  return ip;
}

}  // namespace detail

// classify_wan's kWireGuard for Ethernet/IPv4 (IHL 5)/UDP: same checks
// (Ethernet to our MAC, RFC 791 version, lengths and checksum, not a
// fragment, our address; RFC 768 length; our port). `len` is pkt_len,
// `contiguous` data_len.
inline bool match_wireguard_ipv4(const std::uint8_t* f, std::uint32_t contiguous, std::uint32_t len,
                                 const LocalAddress& us, IpChecksum checksum,
                                 WireGuardDatagram& out) noexcept {
  const rte_ipv4_hdr* ip = detail::ipv4_header20_to_us(
      f, contiguous, len, kOuterHeadersLen, kIpv4MinHeaderLen + kUdpHeaderLen, us, checksum);
  if (ip == nullptr || ip->dst_addr != us.ip_be || ip->next_proto_id != kIpProtoUdp ||
      detail::is_fragment(ip))
    return false;
  const std::uint32_t total = rte_be_to_cpu_16(ip->total_length);
  const auto* udp =
      reinterpret_cast<const rte_udp_hdr*>(f + kEthernetHeaderLen + kIpv4MinHeaderLen);
  const std::uint32_t udp_len = rte_be_to_cpu_16(udp->dgram_len);
  if (udp_len < kUdpHeaderLen || udp_len > total - kIpv4MinHeaderLen ||
      udp->dst_port != us.udp_port_be)
    return false;
  out.payload_len = static_cast<std::uint16_t>(udp_len - kUdpHeaderLen);
  out.src_port_be = udp->src_port;
  out.src_ip_be = ip->src_addr;
  return true;
}

// classify_lan's kForward for Ethernet/IPv4 (IHL 5) to someone else: the
// packet's total length and destination.
inline bool match_forward_ipv4(const std::uint8_t* f, std::uint32_t contiguous, std::uint32_t len,
                               const LocalAddress& us, IpChecksum checksum, std::uint32_t& total,
                               std::uint32_t& dst_be) noexcept {
  const rte_ipv4_hdr* ip = detail::ipv4_header20_to_us(
      f, contiguous, len, kEthernetHeaderLen + kIpv4MinHeaderLen, kIpv4MinHeaderLen, us, checksum);
  if (ip == nullptr || ip->dst_addr == us.ip_be) return false;
  total = rte_be_to_cpu_16(ip->total_length);
  dst_be = ip->dst_addr;
  return true;
}

// Ethernet + IPv4 + UDP in front of a WireGuard message of `payload_len`
// bytes, the bytes prepend_udp_headers writes (TTL 64, no DF, UDP checksum
// 0: RFC 768 over IPv4, the payload authenticates itself) built from words
// in registers; the header checksum is summed from those words (RFC 1071).
inline void write_outer_ipv4(std::uint8_t* at, std::uint64_t dst48, const LocalAddress& us,
                             std::uint32_t dst_ip_be, std::uint16_t dst_port_be,
                             std::uint16_t packet_id, std::uint32_t payload_len) noexcept {
  write_ethernet_fast(at, dst48, us.mac, kEtherTypeIpv4Be);
  const auto udp_len = static_cast<std::uint16_t>(kUdpHeaderLen + payload_len);
  const auto total = static_cast<std::uint16_t>(kIpv4MinHeaderLen + udp_len);
  std::uint32_t w[5];
  w[0] = RTE_IPV4_VHL_DEF | std::uint32_t{rte_cpu_to_be_16(total)} << 16;  // TOS 0
  w[1] = rte_cpu_to_be_16(packet_id);                                      // no flags, offset 0
  constexpr std::uint8_t kTtl = Ipv4Options{}.ttl;
  w[2] = std::uint32_t{kTtl} | std::uint32_t{kIpProtoUdp} << 8;  // checksum 0 for now
  w[3] = us.ip_be;
  w[4] = dst_ip_be;
  w[2] |= std::uint32_t{static_cast<std::uint16_t>(~ipv4_header20_sum(w))} << 16;
  std::memcpy(at + kEthernetHeaderLen, w, sizeof w);
  const std::uint64_t udp = std::uint64_t{us.udp_port_be} | std::uint64_t{dst_port_be} << 16 |
                            std::uint64_t{rte_cpu_to_be_16(udp_len)} << 32;  // checksum 0
  std::memcpy(at + kEthernetHeaderLen + kIpv4MinHeaderLen, &udp, 8);
}

}  // namespace wghub::dp
