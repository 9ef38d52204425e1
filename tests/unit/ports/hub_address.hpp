// The hub's WAN address in the classifier tests: frames.hpp's MAC, a
// documentation-range IPv4 address (RFC 5737) and the WireGuard port.
#pragma once

#include <algorithm>
#include <cstdint>

#include "dataplane/packet.hpp"
#include "frames.hpp"

namespace wghub::dp::test {

inline const std::uint32_t kHubIp = ip(198, 51, 100, 1);
inline const std::uint32_t kPeerIp = ip(203, 0, 113, 7);
inline constexpr std::uint16_t kListenPort = 51820;

inline LocalAddress hub() {
  LocalAddress us;
  std::copy(kHubMac.begin(), kHubMac.end(), us.mac.addr_bytes);
  us.ip_be = kHubIp;
  us.udp_port_be = port_be(kListenPort);
  return us;
}

}  // namespace wghub::dp::test
