// ICMP echo (RFC 792) and ICMPv6 echo (RFC 4443 4.1) for the appliance's own
// addresses: after the classifier says kIcmpEchoToUs, the request is turned
// into its reply in place and sent back out of the port it came in on. No
// allocation, no copy: addresses are swapped (which leaves the IPv4 header
// checksum and the ICMPv6 pseudo-header sum as they were) and the changed
// words (TTL, ICMP type) patch their checksums incrementally (RFC 1624).
#pragma once

#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <cstring>

#include "dataplane/packet.hpp"

namespace wghub::dp {

// The TTL of packets the appliance originates (Linux's default).
inline constexpr std::uint8_t kDefaultTtl = 64;

// Rewrites the echo request in `frame` (offsets from its Classified) into the
// echo reply from `our_mac`. Returns the reply's frame length (Ethernet
// padding after the IP packet is no longer counted).
inline std::uint32_t icmp_echo_reply_in_place(std::uint8_t* frame, const Classified& c,
                                              const rte_ether_addr& our_mac) noexcept {
  auto* eth = reinterpret_cast<rte_ether_hdr*>(frame);
  eth->dst_addr = eth->src_addr;
  eth->src_addr = our_mac;

  if (c.ip_version == 6) {
    auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(frame + c.l3_offset);
    std::uint8_t requester[16];
    std::memcpy(requester, ip6->src_addr, 16);
    std::memcpy(ip6->src_addr, ip6->dst_addr, 16);
    std::memcpy(ip6->dst_addr, requester, 16);
    ip6->hop_limits = kDefaultTtl;  // not covered by any checksum
    std::uint8_t* icmp6 = frame + c.l4_offset;
    std::uint16_t old_word, new_word;
    std::memcpy(&old_word, icmp6, 2);  // type + code
    icmp6[0] = kIcmp6EchoReply;
    std::memcpy(&new_word, icmp6, 2);
    std::uint16_t cksum;
    std::memcpy(&cksum, icmp6 + 2, 2);
    cksum = checksum_adjust(cksum, old_word, new_word);
    std::memcpy(icmp6 + 2, &cksum, 2);
    return c.l3_offset + kIpv6HeaderLen + rte_be_to_cpu_16(ip6->payload_len);
  }

  std::uint8_t* ip_bytes = frame + c.l3_offset;
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(ip_bytes);
  // Swapping two words of the header does not change its one's complement sum.
  const std::uint32_t requester = ip->src_addr;
  ip->src_addr = ip->dst_addr;
  ip->dst_addr = requester;
  std::uint16_t old_word;
  std::memcpy(&old_word, ip_bytes + 8, 2);  // TTL + protocol
  ip->time_to_live = kDefaultTtl;
  std::uint16_t new_word;
  std::memcpy(&new_word, ip_bytes + 8, 2);
  ip->hdr_checksum = checksum_adjust(ip->hdr_checksum, old_word, new_word);

  std::uint8_t* icmp_bytes = frame + c.l4_offset;
  auto* icmp = reinterpret_cast<rte_icmp_hdr*>(icmp_bytes);
  std::memcpy(&old_word, icmp_bytes, 2);  // type + code
  icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
  std::memcpy(&new_word, icmp_bytes, 2);
  icmp->icmp_cksum = checksum_adjust(icmp->icmp_cksum, old_word, new_word);
  return c.l3_offset + rte_be_to_cpu_16(ip->total_length);
}

// The mbuf form: rewrites and trims trailing Ethernet padding. The frame must
// have been classified kIcmpEchoToUs from this mbuf (so it is contiguous).
inline void icmp_echo_reply_in_place(rte_mbuf* m, const Classified& c,
                                     const rte_ether_addr& our_mac) noexcept {
  const std::uint32_t len =
      icmp_echo_reply_in_place(rte_pktmbuf_mtod(m, std::uint8_t*), c, our_mac);
  if (m->pkt_len > len) rte_pktmbuf_trim(m, static_cast<std::uint16_t>(m->pkt_len - len));
}

}  // namespace wghub::dp
