#include "control/source_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace wghub::ctl {

SourceAddress SourceAddress::ipv4(const std::array<std::uint8_t, 4>& a, std::uint16_t port) {
  SourceAddress s;
  s.family = Family::kIpv4;
  std::copy(a.begin(), a.end(), s.addr.begin());
  s.port = port;
  return s;
}

SourceAddress SourceAddress::ipv4(std::uint32_t host_order, std::uint16_t port) {
  return ipv4(std::array<std::uint8_t, 4>{static_cast<std::uint8_t>(host_order >> 24),
                                          static_cast<std::uint8_t>(host_order >> 16),
                                          static_cast<std::uint8_t>(host_order >> 8),
                                          static_cast<std::uint8_t>(host_order)},
              port);
}

SourceAddress SourceAddress::ipv6(const std::array<std::uint8_t, 16>& a, std::uint16_t port) {
  SourceAddress s;
  s.family = Family::kIpv6;
  s.addr = a;
  s.port = port;
  return s;
}

std::optional<SourceAddress> SourceAddress::from_sockaddr(const sockaddr* sa) {
  if (sa == nullptr) return std::nullopt;
  if (sa->sa_family == AF_INET) {
    sockaddr_in sin;
    std::memcpy(&sin, sa, sizeof sin);
    std::array<std::uint8_t, 4> a;
    std::memcpy(a.data(), &sin.sin_addr, a.size());
    return ipv4(a, ntohs(sin.sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, sa, sizeof sin6);
    std::array<std::uint8_t, 16> a;
    std::memcpy(a.data(), &sin6.sin6_addr, a.size());
    return ipv6(a, ntohs(sin6.sin6_port));
  }
  return std::nullopt;
}

}  // namespace wghub::ctl
