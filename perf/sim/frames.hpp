// Byte-level frames for simulated traffic (wgperf, and any test that wants
// them): what the simulated sites and the HQ host put on the wire (Ethernet,
// ARP, IPv4, UDP) and a parser for what the hub transmits. Written independently of
// dataplane/packet.hpp on purpose: the hub's builders and classifier are what is measured and
// tested, so the simulator's view of the wire must not share their code. Addresses are host order
// here (ip4(10, 0, 0, 1) == 0x0a000001) and converted when written.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wghub::perfsim {

using Bytes = std::vector<std::uint8_t>;
using Mac = std::array<std::uint8_t, 6>;

inline constexpr Mac kBroadcastMac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeArp = 0x0806;
inline constexpr std::uint16_t kEtherTypeIpv6 = 0x86dd;
inline constexpr std::uint8_t kProtoIcmp = 1;
inline constexpr std::uint8_t kProtoUdp = 17;
inline constexpr std::uint8_t kProtoIcmp6 = 58;

// An IPv6 address, network order.
using Ip6 = std::array<std::uint8_t, 16>;

constexpr std::uint32_t ip4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return std::uint32_t{a} << 24 | std::uint32_t{b} << 16 | std::uint32_t{c} << 8 | d;
}

// Locally administered unicast MAC 02:00:00:00:xx:yy from a 16-bit tag.
constexpr Mac test_mac(std::uint16_t tag) {
  return Mac{
      0x02, 0x00, 0x00, 0x00, static_cast<std::uint8_t>(tag >> 8), static_cast<std::uint8_t>(tag)};
}

std::string format_ip(std::uint32_t ip);
// "fd00::1" -> bytes (inet_pton; the text must be valid) and back.
Ip6 ip6(const char* text);
std::string format_ip6(const Ip6& ip);
std::string format_mac(const Mac& mac);

// Big-endian stores, as headers want them.
inline void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void put32(std::uint8_t* p, std::uint32_t v) {
  put16(p, static_cast<std::uint16_t>(v >> 16));
  put16(p + 2, static_cast<std::uint16_t>(v));
}

// RFC 1071 Internet checksum of `len` bytes (the value to store, big endian).
std::uint16_t inet_checksum(const std::uint8_t* p, std::size_t len);

// An IPv4 header (no options) in front of `payload`, checksum filled in.
Bytes ipv4_packet(std::uint32_t src, std::uint32_t dst, std::uint8_t proto, const Bytes& payload,
                  std::uint8_t ttl = 64, std::uint16_t id = 0);
// IPv4 + UDP (checksum 0: "none", RFC 768) around `payload`.
Bytes udp_packet(std::uint32_t src, std::uint32_t dst, std::uint16_t sport, std::uint16_t dport,
                 const Bytes& payload, std::uint8_t ttl = 64);
// An IPv6 header (RFC 8200, no extension headers) in front of `payload`.
// Checksums inside `payload` are the caller's (udp6_packet, icmp6_packet).
Bytes ipv6_packet(const Ip6& src, const Ip6& dst, std::uint8_t next, const Bytes& payload,
                  std::uint8_t hop_limit = 64);
// IPv6 + UDP with its mandatory checksum (RFC 8200 8.1).
Bytes udp6_packet(const Ip6& src, const Ip6& dst, std::uint16_t sport, std::uint16_t dport,
                  const Bytes& payload, std::uint8_t hop_limit = 64);
// IPv6 + ICMPv6: type, code, checksum, then `body` (RFC 4443 2.1).
Bytes icmp6_packet(const Ip6& src, const Ip6& dst, std::uint8_t type, std::uint8_t code,
                   const Bytes& body, std::uint8_t hop_limit = 64);
// A Neighbor Advertisement (RFC 4861 4.4) from `target` owned by `mac` to
// `to` (Ethernet `eth_dst`): solicited and override, with the target
// link-layer address option.
Bytes neighbor_advert_frame(const Mac& eth_dst, const Mac& mac, const Ip6& target, const Ip6& to);
// A Neighbor Solicitation (RFC 4861 4.3) from `src`/`mac` for `target`, to
// target's solicited-node group, with the source link-layer address option.
Bytes neighbor_solicit_frame(const Mac& mac, const Ip6& src, const Ip6& target);
// RFC 8200 8.1 upper-layer checksum of `l4` (pseudo-header included):
// 0 when a received packet's checksum verifies.
std::uint16_t ipv6_upper_checksum(const Ip6& src, const Ip6& dst, std::uint8_t next,
                                  const std::uint8_t* l4, std::size_t len);

// Ethernet II around `payload`, padded to the 60-byte minimum.
Bytes ethernet_frame(const Mac& dst, const Mac& src, std::uint16_t ether_type,
                     const Bytes& payload);
// ARP for Ethernet/IPv4 (RFC 826), op 1 request (target MAC zero) or 2 reply.
Bytes arp_frame(std::uint16_t op, const Mac& eth_dst, const Mac& sender_mac,
                std::uint32_t sender_ip, const Mac& target_mac, std::uint32_t target_ip);

// A deterministic payload: `len` bytes derived from `seq`, so each packet of
// a run is distinguishable and corruption is visible.
Bytes pattern_payload(std::uint32_t seq, std::size_t len);

struct ParsedFrame {
  Mac dst{}, src{};
  std::uint16_t ether_type = 0;
  // ARP
  std::uint16_t arp_op = 0;
  Mac arp_sender_mac{}, arp_target_mac{};
  std::uint32_t arp_sender_ip = 0, arp_target_ip = 0;
  // IPv4
  std::uint32_t src_ip = 0, dst_ip = 0;
  std::uint8_t ttl = 0, proto = 0;
  std::uint16_t ip_total_length = 0;
  bool ip_checksum_ok = false;
  Bytes ip_packet;  // the IPv4 packet (header included), ip_total_length bytes
  // UDP (over IPv4 or IPv6)
  std::uint16_t src_port = 0, dst_port = 0;
  Bytes udp_payload;
  // IPv6 (ether_type kEtherTypeIpv6): ip_packet holds the whole packet,
  // proto the next header, ttl the hop limit, ip_checksum_ok the UDP /
  // ICMPv6 checksum.
  Ip6 src_ip6{}, dst_ip6{};
  std::uint8_t icmp6_type = 0;  // ICMPv6
  Ip6 ndp_target{};             // NS / NA
  bool ndp_has_lla = false;
  Mac ndp_lla{};
};

// nullopt when the frame is not well-formed Ethernet + (ARP | IPv4 [+ UDP]
// | IPv6 [+ UDP | ICMPv6]).
std::optional<ParsedFrame> parse_frame(const Bytes& frame);

// The fields of an IPv4 packet (no Ethernet), for decrypted inner packets.
struct ParsedIpv4 {
  std::uint32_t src = 0, dst = 0;
  std::uint8_t ttl = 0, proto = 0;
  std::uint16_t total_length = 0;
  bool checksum_ok = false;
  Bytes payload;  // after the header, total_length - header bytes
};
std::optional<ParsedIpv4> parse_ipv4(const Bytes& packet);

// The fields of an IPv6 packet (no Ethernet), for decrypted inner packets.
struct ParsedIpv6 {
  Ip6 src{}, dst{};
  std::uint8_t hop_limit = 0, next = 0;
  std::uint16_t payload_length = 0;
  Bytes payload;  // payload_length bytes after the header
};
std::optional<ParsedIpv6> parse_ipv6(const Bytes& packet);

}  // namespace wghub::perfsim
