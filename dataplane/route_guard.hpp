// Forwarding guards the worker applies before a routing decision, written once
// for both address families (Inet4, Inet6 below give each family's header
// offsets and table type):
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
#include "dataplane/fib.hpp"
#include "dataplane/fib6.hpp"

namespace wghub::dp {

// IPv4: addresses in host order (the Fib's convention).
struct Inet4 {
  using Address = std::uint32_t;
  using Table = Fib;
  static Address src(const std::uint8_t* ip) noexcept { return load(ip + 12); }
  static Address dst(const std::uint8_t* ip) noexcept { return load(ip + 16); }

 private:
  static Address load(const std::uint8_t* at) noexcept {
    std::uint32_t be;
    std::memcpy(&be, at, 4);
    return rte_be_to_cpu_32(be);
  }
};

// IPv6: addresses are pointers to the 16 header bytes (network order, Fib6's).
struct Inet6 {
  using Address = const std::uint8_t*;
  using Table = Fib6;
  static Address src(const std::uint8_t* ip) noexcept { return ip + 8; }
  static Address dst(const std::uint8_t* ip) noexcept { return ip + 24; }
};

// kNone, or why a packet received on the LAN must not be forwarded: its
// source belongs to a peer or to the hub itself.
template <typename Family>
inline DropReason lan_ingress_verdict(const typename Family::Table& fib,
                                      const std::uint8_t* ip) noexcept {
  const NextHopKind owner = fib.lookup(Family::src(ip)).kind;
  if (owner == NextHopKind::kPeer || owner == NextHopKind::kLocal)
    return DropReason::kSpoofedLanSource;
  return DropReason::kNone;
}

}  // namespace wghub::dp
