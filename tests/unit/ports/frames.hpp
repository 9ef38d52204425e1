// Test frames built byte by byte, independently of dataplane/packet.hpp, so
// the classifier and the builders are checked against a second opinion.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace wghub::dp::test {

using Bytes = std::vector<std::uint8_t>;
using Mac = std::array<std::uint8_t, 6>;

inline constexpr Mac kHubMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
inline constexpr Mac kPeerMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
inline constexpr Mac kOtherMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x99};
inline constexpr Mac kBroadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

// Network order bytes of a.b.c.d, as a uint32 in memory order.
inline std::uint32_t ip(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  std::uint32_t v;
  const std::uint8_t bytes[4] = {a, b, c, d};
  std::memcpy(&v, bytes, 4);
  return v;
}
inline std::uint16_t port_be(std::uint16_t p) {
  std::uint16_t v;
  const std::uint8_t bytes[2] = {static_cast<std::uint8_t>(p >> 8), static_cast<std::uint8_t>(p)};
  std::memcpy(&v, bytes, 2);
  return v;
}

// RFC 1071, the straightforward way: big-endian 16-bit words, end-around
// carry, complemented.
inline std::uint16_t internet_checksum(const std::uint8_t* p, std::size_t n) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += std::uint32_t{p[i]} << 8 | p[i + 1];
  if (n % 2) sum += std::uint32_t{p[n - 1]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

inline void put16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}
inline std::uint16_t get16(const Bytes& b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}
inline void put_ip(Bytes& b, std::size_t at, std::uint32_t ip_mem) {
  std::memcpy(&b[at], &ip_mem, 4);
}

inline void ethernet(Bytes& b, const Mac& dst, const Mac& src, std::uint16_t type) {
  b.resize(std::max<std::size_t>(b.size(), 14));
  std::copy(dst.begin(), dst.end(), b.begin());
  std::copy(src.begin(), src.end(), b.begin() + 6);
  put16(b, 12, type);
}

// Recomputes the IPv4 header checksum of the header at offset 14.
inline void fix_ip_checksum(Bytes& b) {
  const std::size_t ihl = (b[14] & 0xf) * 4u;
  put16(b, 24, 0);
  put16(b, 24, internet_checksum(&b[14], ihl));
}

// Ethernet + IPv4 (+ `options` bytes of IP options) + UDP + payload.
inline Bytes udp_frame(std::uint32_t src, std::uint32_t dst, std::uint16_t sport,
                       std::uint16_t dport, std::size_t payload_len, const Mac& dst_mac = kHubMac,
                       std::size_t options = 0) {
  const std::size_t ihl = 20 + options;
  Bytes b(14 + ihl + 8 + payload_len, 0);
  ethernet(b, dst_mac, kPeerMac, 0x0800);
  b[14] = static_cast<std::uint8_t>(0x40 | ihl / 4);
  put16(b, 16, static_cast<std::uint16_t>(ihl + 8 + payload_len));
  put16(b, 18, 0x1234);
  b[22] = 64;
  b[23] = 17;
  put_ip(b, 26, src);
  put_ip(b, 30, dst);
  for (std::size_t i = 0; i < options; ++i) b[34 + i] = 1;  // NOP options
  const std::size_t u = 14 + ihl;
  put16(b, u, sport);
  put16(b, u + 2, dport);
  put16(b, u + 4, static_cast<std::uint16_t>(8 + payload_len));
  for (std::size_t i = 0; i < payload_len; ++i) b[u + 8 + i] = static_cast<std::uint8_t>(i + 1);
  if (payload_len >= 4) b[u + 8] = 1, b[u + 9] = b[u + 10] = b[u + 11] = 0;  // type 1
  fix_ip_checksum(b);
  return b;
}

// Ethernet + IPv4 + ICMP (type, code 0, id, seq, payload), checksums right.
inline Bytes icmp_frame(std::uint32_t src, std::uint32_t dst, std::uint8_t type,
                        std::size_t payload_len, const Mac& dst_mac = kHubMac) {
  Bytes b(14 + 20 + 8 + payload_len, 0);
  ethernet(b, dst_mac, kPeerMac, 0x0800);
  b[14] = 0x45;
  put16(b, 16, static_cast<std::uint16_t>(20 + 8 + payload_len));
  put16(b, 18, 0x4321);
  put16(b, 20, 0x4000);  // DF
  b[22] = 61;
  b[23] = 1;
  put_ip(b, 26, src);
  put_ip(b, 30, dst);
  b[34] = type;
  put16(b, 38, 0x0bad);  // identifier
  put16(b, 40, 7);       // sequence
  for (std::size_t i = 0; i < payload_len; ++i) b[42 + i] = static_cast<std::uint8_t>(0xa0 + i);
  put16(b, 36, internet_checksum(&b[34], 8 + payload_len));
  fix_ip_checksum(b);
  return b;
}

// Ethernet + ARP (Ethernet/IPv4), no padding.
inline Bytes arp_frame(std::uint16_t op, const Mac& eth_dst, const Mac& sha, std::uint32_t spa,
                       const Mac& tha, std::uint32_t tpa) {
  Bytes b(42, 0);
  ethernet(b, eth_dst, sha, 0x0806);
  put16(b, 14, 1);
  put16(b, 16, 0x0800);
  b[18] = 6;
  b[19] = 4;
  put16(b, 20, op);
  std::copy(sha.begin(), sha.end(), b.begin() + 22);
  put_ip(b, 28, spa);
  std::copy(tha.begin(), tha.end(), b.begin() + 32);
  put_ip(b, 38, tpa);
  return b;
}

// ---- IPv6 (RFC 8200), built the long way.

using Ip6 = std::array<std::uint8_t, 16>;

// fd00::<low> style addresses: `hi16` is the first group, `low` the last byte.
inline Ip6 ip6(std::uint16_t hi16, std::uint16_t second, std::uint8_t low) {
  Ip6 a{};
  a[0] = static_cast<std::uint8_t>(hi16 >> 8);
  a[1] = static_cast<std::uint8_t>(hi16);
  a[2] = static_cast<std::uint8_t>(second >> 8);
  a[3] = static_cast<std::uint8_t>(second);
  a[15] = low;
  return a;
}

// The RFC 8200 8.1 upper-layer checksum: pseudo-header (source, destination,
// 32-bit length, three zero bytes, next header), then the upper-layer bytes.
inline std::uint16_t ipv6_upper_checksum(const Ip6& src, const Ip6& dst, std::uint8_t next,
                                         const std::uint8_t* l4, std::size_t n) {
  Bytes pseudo(40 + n, 0);
  std::copy(src.begin(), src.end(), pseudo.begin());
  std::copy(dst.begin(), dst.end(), pseudo.begin() + 16);
  pseudo[34] = static_cast<std::uint8_t>(n >> 8);
  pseudo[35] = static_cast<std::uint8_t>(n);
  pseudo[39] = next;
  std::copy(l4, l4 + n, pseudo.begin() + 40);
  return internet_checksum(pseudo.data(), pseudo.size());
}

// Ethernet + IPv6 + `l4` (next header `next`); for ICMPv6 (58) and UDP (17)
// the checksum at its usual place is filled in unless `fix_checksum` is false.
inline Bytes ipv6_frame(const Ip6& src, const Ip6& dst, std::uint8_t next, Bytes l4,
                        const Mac& dst_mac = kHubMac, std::uint8_t hop_limit = 64,
                        bool fix_checksum = true, const Mac& src_mac = kPeerMac) {
  if (fix_checksum && next == 58 && l4.size() >= 4) {
    put16(l4, 2, 0);
    put16(l4, 2, ipv6_upper_checksum(src, dst, next, l4.data(), l4.size()));
  }
  if (fix_checksum && next == 17 && l4.size() >= 8) {
    put16(l4, 6, 0);
    std::uint16_t c = ipv6_upper_checksum(src, dst, next, l4.data(), l4.size());
    put16(l4, 6, c == 0 ? 0xffff : c);
  }
  Bytes b(14 + 40, 0);
  ethernet(b, dst_mac, src_mac, 0x86dd);
  b[14] = 0x60;
  put16(b, 18, static_cast<std::uint16_t>(l4.size()));
  b[20] = next;
  b[21] = hop_limit;
  std::copy(src.begin(), src.end(), b.begin() + 22);
  std::copy(dst.begin(), dst.end(), b.begin() + 38);
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

inline Bytes udp6_body(std::uint16_t sport, std::uint16_t dport, std::size_t payload_len) {
  Bytes u(8 + payload_len, 0);
  put16(u, 0, sport);
  put16(u, 2, dport);
  put16(u, 4, static_cast<std::uint16_t>(8 + payload_len));
  for (std::size_t i = 0; i < payload_len; ++i) u[8 + i] = static_cast<std::uint8_t>(i + 1);
  if (payload_len >= 4) u[8] = 1, u[9] = u[10] = u[11] = 0;  // WireGuard type 1
  return u;
}

// ICMPv6 echo request/reply body (type, code 0, checksum 0 for now, id, seq, data).
inline Bytes icmp6_echo_body(std::uint8_t type, std::size_t payload_len) {
  Bytes e(8 + payload_len, 0);
  e[0] = type;
  put16(e, 4, 0x0bad);
  put16(e, 6, 7);
  for (std::size_t i = 0; i < payload_len; ++i) e[8 + i] = static_cast<std::uint8_t>(0xa0 + i);
  return e;
}

// NS (135) / NA (136) body: flags byte, target, and a link-layer address
// option (type 1 source, 2 target) when `lla_type` is not 0.
inline Bytes ndp_body(std::uint8_t type, std::uint8_t flags, const Ip6& target,
                      std::uint8_t lla_type, const Mac& lla) {
  Bytes n(24, 0);
  n[0] = type;
  n[4] = flags;
  std::copy(target.begin(), target.end(), n.begin() + 8);
  if (lla_type != 0) {
    n.push_back(lla_type);
    n.push_back(1);
    n.insert(n.end(), lla.begin(), lla.end());
  }
  return n;
}

inline Ip6 solicited_node(const Ip6& a) {
  Ip6 g{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
  g[13] = a[13];
  g[14] = a[14];
  g[15] = a[15];
  return g;
}
inline Mac multicast_mac(const Ip6& g) {
  return Mac{0x33, 0x33, g[12], g[13], g[14], g[15]};
}

}  // namespace wghub::dp::test
