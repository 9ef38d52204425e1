// Inner packets, part of packet.hpp: read the IP header of a decrypted
// plaintext (its true length: the rest is padding, whitepaper 5.4.6), and
// decrement TTL with an incremental checksum update (RFC 1624) or the IPv6
// hop limit, as a router forwarding it.
#pragma once

#include <rte_byteorder.h>
#include <rte_ip.h>

#include <cstdint>
#include <cstring>

#include "dataplane/drop_reason.hpp"
#include "dataplane/packet_defs.hpp"

namespace wghub::dp {

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
