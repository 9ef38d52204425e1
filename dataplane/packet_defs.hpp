// Packet header constants and the small helpers both directions share: header
// lengths, protocol numbers and ethertypes, the appliance's address on a port
// (LocalAddress), the IPv4 header checksum (RFC 1071) and its incremental
// update (RFC 1624), and the IPv6 address kinds (RFC 4291) the classifier,
// NDP and PMTU code test. Part of packet.hpp; all addresses and ports are in
// network byte order ("_be"), as on the wire.
#pragma once

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>

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

namespace detail {

// IPv6 address kinds (RFC 4291).

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

}  // namespace detail

}  // namespace wghub::dp
