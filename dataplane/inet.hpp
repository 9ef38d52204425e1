// The address families, as the per-packet code sees them: one trait struct
// each, so that routing, the LAN transmit, the outer headers and the
// forwarding guards (route_guard.hpp) are written once as templates and
// instantiated for both (the kernel's one table with two roots; VPP's
// is_ip4). Each trait says where a header keeps its addresses, which table
// routes the family, how the next hop is named (the neighbour table's key),
// and how a router decrements the hop count.
//
// The accessors that take the data plane or a port are templates on it, so
// that this header needs only the tables' own headers.
#pragma once

#include <rte_byteorder.h>

#include <cstdint>
#include <cstring>

#include "dataplane/drop_reason.hpp"
#include "dataplane/fib.hpp"
#include "dataplane/fib6.hpp"
#include "dataplane/packet_defs.hpp"
#include "dataplane/packet_inner.hpp"

namespace wghub::dp {

// IPv4: addresses in host order (the Fib's convention); next hops in network
// order (the neighbour table's key, the ARP wire format).
struct Inet4 {
  using Address = std::uint32_t;
  using Table = Fib;
  using NextHopAddress = std::uint32_t;
  static constexpr std::uint16_t kEtherTypeBe = kEtherTypeIpv4Be;
  static constexpr DropReason kHopLimitExceeded = DropReason::kTtlExceeded;

  static Address src(const std::uint8_t* ip) noexcept { return load(ip + 12); }
  static Address dst(const std::uint8_t* ip) noexcept { return load(ip + 16); }
  static DropReason never_forwarded(Address a) noexcept {
    const std::uint32_t top = a >> 24;
    if (top - 1 < 126 || top - 128 < 96) [[likely]]  // 1..126, 128..223: unicast
      return DropReason::kNone;
    if (top == 0) return DropReason::kIpv4ThisNetwork;
    if (top == 127) return DropReason::kIpv4Loopback;
    if (top < 240) return DropReason::kIpv4Multicast;
    if (a == 0xffffffffu) return DropReason::kIpv4Broadcast;
    return DropReason::kNone;  // 240/4 other than the broadcast: not ours to judge
  }
  // RFC 1812 5.3.1: false when the TTL would reach zero.
  static bool decrement_hop_limit(std::uint8_t* ip) noexcept { return ipv4_decrement_ttl(ip); }
  // A connected destination is its own next hop.
  static NextHopAddress next_hop(Address dst) noexcept { return rte_cpu_to_be_32(dst); }

  template <typename Dataplane>
  static const Table& fib(const Dataplane& d) noexcept {
    return *d.fib;
  }
  template <typename Dataplane>
  static NextHopAddress lan_gateway(const Dataplane& d, std::uint32_t id) noexcept {
    return rte_cpu_to_be_32(d.lan_gateways->address(id));
  }
  template <typename Port>
  static auto& neighbours(Port& port) noexcept {
    return *port.neighbours;
  }

 private:
  static Address load(const std::uint8_t* at) noexcept {
    std::uint32_t be;
    std::memcpy(&be, at, 4);
    return rte_be_to_cpu_32(be);
  }
};

// IPv6: addresses are pointers to the 16 header bytes (network order, Fib6's);
// next hops are copies of them.
struct Inet6 {
  using Address = const std::uint8_t*;
  using Table = Fib6;
  using NextHopAddress = Ipv6Address;
  static constexpr std::uint16_t kEtherTypeBe = kEtherTypeIpv6Be;
  static constexpr DropReason kHopLimitExceeded = DropReason::kHopLimitExceeded;

  static Address src(const std::uint8_t* ip) noexcept { return ip + 8; }
  static Address dst(const std::uint8_t* ip) noexcept { return ip + 24; }
  static DropReason never_forwarded(Address a) noexcept {
    if (a[0] < 0xfe) [[likely]]
      return DropReason::kNone;
    if (a[0] == 0xff) return DropReason::kIpv6Multicast;
    if ((a[1] & 0xc0) == 0x80) return DropReason::kIpv6LinkLocal;  // fe80::/10
    return DropReason::kNone;
  }
  // RFC 8200 3: false when the hop limit would reach zero.
  static bool decrement_hop_limit(std::uint8_t* ip) noexcept {
    return ipv6_decrement_hop_limit(ip);
  }
  static NextHopAddress next_hop(Address dst) noexcept {
    NextHopAddress a;
    std::memcpy(a.data(), dst, a.size());
    return a;
  }

  template <typename Dataplane>
  static const Table& fib(const Dataplane& d) noexcept {
    return *d.fib6;
  }
  template <typename Dataplane>
  static NextHopAddress lan_gateway(const Dataplane& d, std::uint32_t id) noexcept {
    return d.lan_gateways6->address(id);
  }
  template <typename Port>
  static auto& neighbours(Port& port) noexcept {
    return *port.neighbours6;
  }
};

}  // namespace wghub::dp
