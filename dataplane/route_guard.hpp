// Forwarding guards the worker applies before a routing decision, written once
// for both address families (Inet4, Inet6 in inet.hpp give each family's header
// offsets, table type and reserved ranges):
//
//   martian_verdict: addresses that are never forwarded, as destination or as
//   source, whichever way the packet goes (decrypted from a site, or from the
//   LAN), each dropped under its own reason (issue 13 item 6):
//     255.255.255.255   ipv4_broadcast     limited broadcast (RFC 919, RFC 1812 5.3.5.1)
//     224.0.0.0/4       ipv4_multicast     (RFC 5771; the hub routes no multicast)
//     127.0.0.0/8       ipv4_loopback      (RFC 1122 3.2.1.3 (g), RFC 1812 5.3.7)
//     0.0.0.0/8         ipv4_this_network  (RFC 1122 3.2.1.3 (a)(b), RFC 1812 5.3.7)
//     fe80::/10         ipv6_link_local    never leaves its link (RFC 4291 2.5.6)
//     ff00::/8          ipv6_multicast     (RFC 4291 2.7; the hub routes no multicast)
//   The common address is answered with two compares of its first byte. On
//   the LAN the classifier (packet.hpp) refuses some IPv6 cases first: a
//   multicast source as bad_ipv6_header (RFC 4291 2.7), a link-local address
//   as ipv6_link_local, a multicast destination in a unicast frame as
//   ipv6_multicast; multicast frames for groups the hub is not in are not_for_us.
//
//   lan_ingress_verdict: a packet that arrived on the LAN may not carry a source
//   address that the FIB gives to a peer (a site's AllowedIPs) or to the hub
//   itself. Without it a LAN host could send "from" site B's network towards
//   site A, and site A, whose AllowedIPs for the hub include B's prefix, would
//   take it as B's (issue 13 item 1). A source with no route, or one routed to
//   the LAN (connected subnet, static route, gateway), passes: the hub does not
//   know every LAN network, and those are the LAN's to use.
//
// The family traits read addresses straight from the IP header; header-only and
// allocation-free, as everything on the per-packet path.
#pragma once

#include <rte_byteorder.h>

#include <cstdint>
#include <cstring>

#include "dataplane/drop_reason.hpp"
#include "dataplane/inet.hpp"

namespace wghub::dp {

// kNone, or the reason a packet (`ip`: its IP header) must never be
// forwarded: its destination, else its source, is in a range above.
template <typename Family>
inline DropReason martian_verdict(const std::uint8_t* ip) noexcept {
  const DropReason why = Family::never_forwarded(Family::dst(ip));
  if (why != DropReason::kNone) return why;
  return Family::never_forwarded(Family::src(ip));
}

// kNone, or why a packet received on the LAN must not be forwarded: a
// martian address, or a source that belongs to a peer or to the hub itself.
template <typename Family>
inline DropReason lan_ingress_verdict(const typename Family::Table& fib,
                                      const std::uint8_t* ip) noexcept {
  if (const DropReason why = martian_verdict<Family>(ip); why != DropReason::kNone) [[unlikely]]
    return why;
  const NextHopKind owner = fib.lookup(Family::src(ip)).kind;
  if (owner == NextHopKind::kPeer || owner == NextHopKind::kLocal)
    return DropReason::kSpoofedLanSource;
  return DropReason::kNone;
}

}  // namespace wghub::dp
