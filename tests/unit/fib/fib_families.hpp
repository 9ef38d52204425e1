// The two address families of the FIB tests: the traits fib_model.hpp's
// templates take (address type, table, config, the next-hop encoding, and
// the address arithmetic a naive model needs), written side by side.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "dataplane/fib.hpp"
#include "dataplane/fib6.hpp"

namespace wghub::dp {

// IPv4: host-order addresses.
struct Ipv4Fib {
  using Address = uint32_t;
  using Table = Fib;
  using Config = FibConfig;
  static constexpr unsigned kBits = 32;
  static constexpr uint32_t kMaxId = kMaxNextHopId;
  static constexpr unsigned kNextHopBits = 24;  // encode_next_hop's width

  static uint32_t encode(NextHop nh) { return encode_next_hop(nh); }
  static NextHop decode(uint32_t v) { return decode_next_hop(v); }

  static uint32_t mask(uint32_t ip, unsigned depth) {
    return depth == 0 ? 0 : ip & ~uint32_t{0} << (32 - depth);
  }
  static uint32_t with_host_bits(uint32_t net, unsigned depth, uint32_t bits) {
    const uint32_t m = mask(all_ones(), depth);
    return (net & m) | (bits & ~m);
  }
  static uint32_t all_ones() { return ~uint32_t{0}; }
  static uint32_t next(uint32_t ip) { return ip + 1; }
  static uint32_t random(std::mt19937& rng) { return static_cast<uint32_t>(rng()); }
  static std::string format(uint32_t ip) { return format_prefix(ip, 32); }
  static std::string format(uint32_t ip, unsigned depth) {
    return format_prefix(ip, static_cast<uint8_t>(depth));
  }
};

// IPv6: the 16 bytes in network order.
struct Ipv6Fib {
  using Address = Ipv6Address;
  using Table = Fib6;
  using Config = Fib6Config;
  static constexpr unsigned kBits = 128;
  static constexpr uint32_t kMaxId = kMaxNextHop6Id;
  static constexpr unsigned kNextHopBits = 21;  // rte_lpm6 keeps 21 bits

  static uint32_t encode(NextHop nh) { return encode_next_hop6(nh); }
  static NextHop decode(uint32_t v) { return decode_next_hop6(v); }

  static Ipv6Address mask(const Ipv6Address& ip, unsigned depth) {
    return mask_ipv6(ip, static_cast<uint8_t>(depth));
  }
  static Ipv6Address with_host_bits(const Ipv6Address& net, unsigned depth,
                                    const Ipv6Address& bits) {
    const Ipv6Address m = mask(all_ones(), depth);
    Ipv6Address out;
    for (unsigned i = 0; i < 16; ++i)
      out[i] = static_cast<uint8_t>((net[i] & m[i]) | (bits[i] & ~m[i]));
    return out;
  }
  static Ipv6Address all_ones() {
    Ipv6Address ones;
    ones.fill(0xff);
    return ones;
  }
  static Ipv6Address next(Ipv6Address ip) {
    for (int i = 15; i >= 0; --i)
      if (++ip[static_cast<unsigned>(i)] != 0) break;
    return ip;
  }
  static Ipv6Address random(std::mt19937& rng) {
    Ipv6Address a;
    for (auto& b : a) b = static_cast<uint8_t>(rng());
    return a;
  }
  static std::string format(const Ipv6Address& ip) { return format_ipv6(ip.data()); }
  static std::string format(const Ipv6Address& ip, unsigned depth) {
    return format_prefix6(ip, static_cast<uint8_t>(depth));
  }
};

}  // namespace wghub::dp
