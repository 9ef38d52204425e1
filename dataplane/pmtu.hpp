// Packets bigger than the tunnel MTU, the way Linux treats them in front of a
// wg device (ip_forward / ip6_forward, ip_fragment): an IPv4 packet that may
// be fragmented is cut into fragments that fit (RFC 791 3.2); one with DF
// set, and any IPv6 packet (routers never fragment IPv6, RFC 8200 5), is
// refused with an ICMP "fragmentation needed" (RFC 792, RFC 1191 4) or an
// ICMPv6 Packet Too Big (RFC 4443 3.2) to its source, so that the sender's
// path MTU discovery learns the tunnel's MTU.
//
// Everything here works on plain bytes (no EAL, no mbuf): the worker
// (worker_pmtu.cpp) allocates the buffers and routes what comes out.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/drop_reason.hpp"

namespace wghub::dp {

inline constexpr std::uint8_t kIcmpDestUnreachable = 3;  // RFC 792
inline constexpr std::uint8_t kIcmpCodeFragNeeded = 4;   // RFC 792, RFC 1191 4
inline constexpr std::uint8_t kIcmp6PacketTooBig = 2;    // RFC 4443 3.2
// RFC 1812 5.3.5 / 4.3.2.5: ICMP errors a router originates carry
// precedence 6 (internetwork control), as Linux sets them.
inline constexpr std::uint8_t kIcmpErrorTos = 0xc0;
inline constexpr std::uint8_t kIcmpErrorTtl = 64;

// RFC 1812 4.3.2.3: the error quotes as much of the offending packet as fits
// in 576 bytes in all (Linux icmp_send does the same); at least the IP header
// and 8 bytes of data (RFC 792).
inline constexpr std::size_t kIcmp4ErrorMaxLen = 576;
// RFC 4443 2.4 (c): as much as fits without exceeding the IPv6 minimum MTU.
inline constexpr std::size_t kIcmp6ErrorMaxLen = 1280;
inline constexpr std::size_t kIcmpErrorHeaderLen = 8;

// ---- may we answer with an error at all?

// RFC 1812 4.3.2.7: no ICMP error about a packet that is itself an ICMP error
// (or an ICMP message too short to tell), a fragment other than the first,
// one from a source that is not a unique host (0/8, 127/8, multicast, class
// E, limited broadcast, `subnet_broadcast_be`: the LAN's directed broadcast),
// or one to a multicast or broadcast destination. `packet` is a whole IPv4
// packet of `len` bytes.
bool icmp4_error_allowed(const std::uint8_t* packet, std::size_t len,
                         std::uint32_t subnet_broadcast_be) noexcept;

// RFC 4443 2.4 (e): no ICMPv6 error about an ICMPv6 error message (a type
// below 128), a packet from the unspecified or a multicast source, or a
// fragment other than the first. (A multicast destination is fine for Packet
// Too Big: RFC 4443 2.4 (e.2), path MTU discovery for multicast.) The
// extension header chain (hop-by-hop, routing, destination options,
// fragment) is walked to find the upper layer; one that runs off the packet
// or takes more than 8 headers gets no answer.
bool icmp6_error_allowed(const std::uint8_t* packet, std::size_t len) noexcept;

// ---- errors

// Writes into `out` (room for kIcmp4ErrorMaxLen bytes) an IPv4 packet from
// `src_be` to the source of `packet`: ICMP type 3 code 4 with the next-hop
// MTU in the low half of the second word (RFC 1191 4), quoting the first
// min(len, 548) bytes of `packet`. With `forwarded` the packet's TTL was
// already decremented by this router (header checksum patched): the quote
// shows it as it arrived, as Linux does (ip_forward checks the MTU before
// ip_decrease_ttl). Returns the packet's length.
std::size_t build_icmp4_frag_needed(std::uint8_t* out, const std::uint8_t* packet, std::size_t len,
                                    std::uint32_t src_be, std::uint16_t mtu,
                                    std::uint16_t packet_id, bool forwarded) noexcept;

// Writes into `out` (room for kIcmp6ErrorMaxLen bytes) an IPv6 packet from
// `src16` to the source of `packet`: ICMPv6 Packet Too Big (RFC 4443 3.2)
// with `mtu`, quoting the first min(len, 1232) bytes of `packet`, checksum
// over the pseudo-header (RFC 4443 2.3). `forwarded`: the hop limit was
// already decremented; the quote shows it as it arrived. Returns the
// packet's length.
std::size_t build_icmp6_packet_too_big(std::uint8_t* out, const std::uint8_t* packet,
                                       std::size_t len, const std::uint8_t* src16,
                                       std::uint32_t mtu, bool forwarded) noexcept;

// ---- IPv4 fragmentation (RFC 791 3.2, "An Example Fragmentation Procedure")

// How a packet is cut: every fragment carries header_len bytes of header and
// data_per_fragment bytes of data (a multiple of 8), the last one the rest.
// Like Linux (ip_options_fragment), every fragment keeps the original header
// length: after the first, options whose copied flag is clear become NOPs.
struct Ipv4FragmentPlan {
  DropReason error = DropReason::kNone;  // kNone, or why the packet cannot be fragmented
  std::uint16_t header_len = 0;
  std::uint16_t data_per_fragment = 0;
  unsigned count = 0;
};

// `packet` is a whole IPv4 packet of `len` bytes (its total length) whose DF
// bit is clear. Errors: kBadInnerPacket (a truncated header, a length that
// disagrees), kBadIpHeader (malformed options: RFC 791 option lengths that run
// off the header), kPacketTooBig (DF set, or `mtu` leaves no 8 bytes of data
// after the header), kBadIpLength (an existing fragment offset whose data
// would pass 65535). A packet that already fits is one fragment: itself.
Ipv4FragmentPlan plan_ipv4_fragments(const std::uint8_t* packet, std::size_t len,
                                     std::uint32_t mtu) noexcept;

// Length of fragment `index` of `plan` (header included).
std::size_t ipv4_fragment_length(const Ipv4FragmentPlan& plan, std::size_t len,
                                 unsigned index) noexcept;

// Writes fragment `index` into `out` (room for ipv4_fragment_length bytes):
// the header with its total length, offset (the original offset plus this
// fragment's place: fragments of a fragment stay in the original's
// numbering), MF (set on all but the last, and on the last too when the
// original had it) and checksum; then its slice of the data. Returns its
// length.
std::size_t write_ipv4_fragment(std::uint8_t* out, const std::uint8_t* packet, std::size_t len,
                                const Ipv4FragmentPlan& plan, unsigned index) noexcept;

}  // namespace wghub::dp
