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
inline constexpr std::uint8_t kProtoIcmp = 1;
inline constexpr std::uint8_t kProtoUdp = 17;

constexpr std::uint32_t ip4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return std::uint32_t{a} << 24 | std::uint32_t{b} << 16 | std::uint32_t{c} << 8 | d;
}

// Locally administered unicast MAC 02:00:00:00:xx:yy from a 16-bit tag.
constexpr Mac test_mac(std::uint16_t tag) {
  return Mac{
      0x02, 0x00, 0x00, 0x00, static_cast<std::uint8_t>(tag >> 8), static_cast<std::uint8_t>(tag)};
}

std::string format_ip(std::uint32_t ip);
std::string format_mac(const Mac& mac);

// RFC 1071 Internet checksum of `len` bytes (the value to store, big endian).
std::uint16_t inet_checksum(const std::uint8_t* p, std::size_t len);

// An IPv4 header (no options) in front of `payload`, checksum filled in.
Bytes ipv4_packet(std::uint32_t src, std::uint32_t dst, std::uint8_t proto, const Bytes& payload,
                  std::uint8_t ttl = 64, std::uint16_t id = 0);
// IPv4 + UDP (checksum 0: "none", RFC 768) around `payload`.
Bytes udp_packet(std::uint32_t src, std::uint32_t dst, std::uint16_t sport, std::uint16_t dport,
                 const Bytes& payload, std::uint8_t ttl = 64);
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
  // UDP
  std::uint16_t src_port = 0, dst_port = 0;
  Bytes udp_payload;
};

// nullopt when the frame is not well-formed Ethernet + (ARP | IPv4 [+ UDP]).
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

}  // namespace wghub::perfsim
