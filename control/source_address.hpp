// The outer UDP source of a packet as the control plane sees it: what a cookie
// is bound to (address and port, whitepaper 5.4.7) and what the handshake rate
// limiter keys on (address only). DPDK-free: the data plane fills it from the
// packet's headers, socket code from a sockaddr.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

struct sockaddr;

namespace wghub::ctl {

struct SourceAddress {
  enum class Family : std::uint8_t { kIpv4 = 4, kIpv6 = 6 };

  Family family = Family::kIpv4;
  std::array<std::uint8_t, 16> addr{};  // network order; IPv4 uses the first 4 bytes
  std::uint16_t port = 0;               // host order

  static SourceAddress ipv4(const std::array<std::uint8_t, 4>& a, std::uint16_t port = 0);
  // `host_order` as in 192.0.2.1 == 0xC0000201.
  static SourceAddress ipv4(std::uint32_t host_order, std::uint16_t port = 0);
  static SourceAddress ipv6(const std::array<std::uint8_t, 16>& a, std::uint16_t port = 0);
  // AF_INET / AF_INET6 socket addresses; nullopt for any other family.
  static std::optional<SourceAddress> from_sockaddr(const sockaddr* sa);

  std::size_t addr_len() const { return family == Family::kIpv4 ? 4 : 16; }
  bool operator==(const SourceAddress&) const = default;
};

}  // namespace wghub::ctl
