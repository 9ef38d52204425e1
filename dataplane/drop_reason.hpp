// Drop reasons: every packet the data plane discards is counted under exactly
// one reason (VPP's foreach_wg_error). One table below holds the enum names and
// the strings shown by the status dump and the metrics exporter; adding a
// reason is one line in WGHUB_FOREACH_DROP_REASON.
//
// Counters live per lcore (LcoreStats::drops, cache-aligned, plain integers: each
// worker owns its own; the control thread sums them for display).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace wghub::dp {

// X(enum name, metric/status string)
#define WGHUB_FOREACH_DROP_REASON(X)                             \
  X(kNone, "none")                                               \
  /* Ethernet and IPv4 header checks (classifier, packet.hpp) */ \
  X(kBadEthernet, "bad_ethernet")                                \
  X(kFrameTooLong, "frame_too_long")                             \
  X(kNotOurMac, "not_our_mac")                                   \
  X(kUnsupportedEthertype, "unsupported_ethertype")              \
  X(kBadArp, "bad_arp")                                          \
  X(kBadIpHeader, "bad_ip_header")                               \
  X(kBadIpLength, "bad_ip_length")                               \
  X(kBadIpChecksum, "bad_ip_checksum")                           \
  X(kIpFragment, "ip_fragment")                                  \
  X(kNotForUs, "not_for_us")                                     \
  X(kBadUdpLength, "bad_udp_length")                             \
  X(kUdpPortClosed, "udp_port_closed")                           \
  X(kUnsupportedProtocol, "unsupported_protocol")                \
  X(kBadIcmp, "bad_icmp")                                        \
  X(kBadIcmpChecksum, "bad_icmp_checksum")                       \
  /* IPv6 (RFC 8200, RFC 4291) and NDP (RFC 4861) */             \
  X(kBadIpv6Header, "bad_ipv6_header")                           \
  X(kBadIpv6Length, "bad_ipv6_length")                           \
  X(kIpv6LinkLocal, "ipv6_link_local")                           \
  X(kBadUdpChecksum, "bad_udp_checksum")                         \
  X(kBadNdp, "bad_ndp")                                          \
  /* WireGuard messages */                                       \
  X(kUnknownMessageType, "unknown_message_type")                 \
  X(kBadMessageLength, "bad_message_length")                     \
  X(kUnknownIndex, "unknown_index")                              \
  X(kAuthFailed, "auth_failed")                                  \
  X(kReplay, "replay")                                           \
  X(kKeypairExpired, "keypair_expired")                          \
  X(kNoSession, "no_session")                                    \
  X(kStagedRingFull, "staged_ring_full")                         \
  X(kHandshakeRingFull, "handshake_ring_full")                   \
  X(kHandshakeBadMac1, "handshake_bad_mac1")                     \
  X(kHandshakeRateLimited, "handshake_rate_limited")             \
  X(kCookieRateLimited, "cookie_rate_limited")                   \
  X(kLocalRateLimited, "local_rate_limited")                     \
  X(kLocalRingFull, "local_ring_full")                           \
  /* Inner packets and forwarding */                             \
  X(kSpoofedInnerSource, "spoofed_inner_source")                 \
  X(kSpoofedLanSource, "spoofed_lan_source")                     \
  /* Never forwarded, either way (route_guard.hpp) */            \
  X(kIpv4Broadcast, "ipv4_broadcast")                            \
  X(kIpv4Multicast, "ipv4_multicast")                            \
  X(kIpv4Loopback, "ipv4_loopback")                              \
  X(kIpv4ThisNetwork, "ipv4_this_network")                       \
  X(kIpv6Multicast, "ipv6_multicast")                            \
  X(kBadInnerPacket, "bad_inner_packet")                         \
  X(kBadInnerIpv6, "bad_inner_ipv6")                             \
  X(kNoRoute, "no_route")                                        \
  X(kNoNeighbour, "no_neighbour")                                \
  X(kTtlExceeded, "ttl_exceeded")                                \
  X(kHopLimitExceeded, "hop_limit_exceeded")                     \
  X(kPacketTooBig, "packet_too_big")                             \
  X(kNoHeadroom, "no_headroom")                                  \
  X(kNoMbuf, "no_mbuf")                                          \
  X(kTxFull, "tx_full")                                          \
  /* High availability (docs/ha.md) */                           \
  X(kStandby, "standby")

enum class DropReason : std::uint8_t {
#define WGHUB_DROP_REASON_ENUM(name, text) name,
  WGHUB_FOREACH_DROP_REASON(WGHUB_DROP_REASON_ENUM)
#undef WGHUB_DROP_REASON_ENUM
};

inline constexpr std::array kDropReasonNames = {
#define WGHUB_DROP_REASON_NAME(name, text) std::string_view{text},
    WGHUB_FOREACH_DROP_REASON(WGHUB_DROP_REASON_NAME)
#undef WGHUB_DROP_REASON_NAME
};

inline constexpr std::size_t kDropReasonCount = kDropReasonNames.size();

constexpr std::string_view drop_reason_name(DropReason r) noexcept {
  const auto i = static_cast<std::size_t>(r);
  return i < kDropReasonCount ? kDropReasonNames[i] : std::string_view{"invalid"};
}

}  // namespace wghub::dp
