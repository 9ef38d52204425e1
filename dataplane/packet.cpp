// Names for classifier verdicts and address formatting for logs and errors
// (control path; the per-packet code is inline in packet.hpp).
#include "dataplane/packet.hpp"

#include <cstdio>

namespace wghub::dp {

std::string_view classify_name(Classify c) noexcept {
  switch (c) {
    case Classify::kWireGuard:
      return "wireguard";
    case Classify::kArp:
      return "arp";
    case Classify::kIcmpEchoToUs:
      return "icmp_echo_to_us";
    case Classify::kForward:
      return "forward";
    case Classify::kOtherToUs:
      return "ipv4_other";
    case Classify::kNotForUs:
      return "not_for_us";
    case Classify::kMalformed:
      return "malformed";
    case Classify::kNdp:
      return "ndp";
  }
  return "invalid";
}

std::string format_ipv4(std::uint32_t ip_be) {
  const auto* b = reinterpret_cast<const std::uint8_t*>(&ip_be);
  char text[16];
  std::snprintf(text, sizeof text, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
  return text;
}

std::string format_mac(const rte_ether_addr& mac) {
  char text[RTE_ETHER_ADDR_FMT_SIZE];
  rte_ether_format_addr(text, sizeof text, &mac);
  return text;
}

}  // namespace wghub::dp
