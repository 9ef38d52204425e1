// Neighbor Discovery (RFC 4861): answering for our addresses, learning
// neighbours, asking for next hops. See ndp.hpp.
#include "dataplane/ndp.hpp"

#include <rte_byteorder.h>
#include <rte_ip.h>

#include <cstring>

namespace wghub::dp {
namespace {

constexpr std::uint8_t kHopLimitNdp = 255;  // RFC 4861 7.1: proves the sender is on-link
constexpr std::uint8_t kOptSourceLla = 1;
constexpr std::uint8_t kOptTargetLla = 2;
constexpr std::uint32_t kNdpBodyLen = 24;  // type, code, checksum, flags/reserved, target
// RFC 4861 4.4: Router, Solicited, Override flags in the first byte after the checksum.
constexpr std::uint8_t kFlagRouter = 0x80;
constexpr std::uint8_t kFlagSolicited = 0x40;
constexpr std::uint8_t kFlagOverride = 0x20;

Ipv6Bytes solicited_node(const Ipv6Bytes& target) {
  Ipv6Bytes g{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
  g[13] = target[13];
  g[14] = target[14];
  g[15] = target[15];
  return g;
}

// RFC 2464 7: 33:33 and the low 32 bits of the group address.
rte_ether_addr multicast_mac(const Ipv6Bytes& group) {
  return rte_ether_addr{{0x33, 0x33, group[12], group[13], group[14], group[15]}};
}

// Writes Ethernet + IPv6 + an NS/NA with one link-layer address option.
std::uint32_t write_ndp_frame(std::uint8_t* frame, const rte_ether_addr& eth_src,
                              const rte_ether_addr& eth_dst, const Ipv6Bytes& src,
                              const Ipv6Bytes& dst, std::uint8_t type, std::uint8_t flags,
                              const Ipv6Bytes& target, std::uint8_t option,
                              const rte_ether_addr& lla) noexcept {
  std::memset(frame, 0, kNdpFrameLen);
  write_ethernet(frame, eth_src, eth_dst, kEtherTypeIpv6Be);
  auto* ip = reinterpret_cast<rte_ipv6_hdr*>(frame + kEthernetHeaderLen);
  ip->vtc_flow = RTE_BE32(0x60000000u);
  ip->payload_len = rte_cpu_to_be_16(static_cast<std::uint16_t>(kNdpBodyLen + 8));
  ip->proto = kIpProtoIcmp6;
  ip->hop_limits = kHopLimitNdp;
  std::memcpy(ip->src_addr, src.data(), 16);
  std::memcpy(ip->dst_addr, dst.data(), 16);
  std::uint8_t* icmp = frame + kEthernetHeaderLen + kIpv6HeaderLen;
  icmp[0] = type;
  icmp[4] = flags;
  std::memcpy(icmp + 8, target.data(), 16);
  icmp[24] = option;
  icmp[25] = 1;  // in units of 8 bytes
  std::memcpy(icmp + 26, lla.addr_bytes, RTE_ETHER_ADDR_LEN);
  std::uint32_t sum = std::uint32_t{rte_ipv6_phdr_cksum(ip, 0)} + rte_raw_cksum(icmp, 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  const auto cksum = static_cast<std::uint16_t>(~sum);
  std::memcpy(icmp + 2, &cksum, 2);  // as it lies in memory (RFC 1071 byte-order independence)
  return kNdpFrameLen;
}

bool same(const Ipv6Bytes& a, const Ipv6Bytes& b) {
  return std::memcmp(a.data(), b.data(), 16) == 0;
}

}  // namespace

bool Ipv6Interface::in_subnet(const Ipv6Bytes& a) const {
  for (unsigned bit = 0; bit < prefix_len && bit < 128; bit += 8) {
    const unsigned n = prefix_len - bit >= 8 ? 8 : prefix_len - bit;
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - n));
    if (((a[bit / 8] ^ ip[bit / 8]) & mask) != 0) return false;
  }
  return true;
}

bool parse_ndp(const std::uint8_t* frame, std::uint32_t len, const Classified& c,
               NdpMessage& out) noexcept {
  if (c.kind != Classify::kNdp || c.ip_version != 6) return false;
  const std::uint32_t icmp_len = std::uint32_t{c.payload_len} + 8;
  if (icmp_len < kNdpBodyLen || len < c.l4_offset + icmp_len) return false;
  const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(frame + c.l3_offset);
  const std::uint8_t* icmp = frame + c.l4_offset;
  // RFC 4861 7.1.1 / 7.1.2.
  if (ip->hop_limits != kHopLimitNdp || icmp[1] != 0) return false;
  out = NdpMessage{};
  out.type = icmp[0];
  if (out.type != kNdpNeighborSolicit && out.type != kNdpNeighborAdvert) return false;
  std::memcpy(out.src.data(), ip->src_addr, 16);
  std::memcpy(out.dst.data(), ip->dst_addr, 16);
  std::memcpy(out.target.data(), icmp + 8, 16);
  out.eth_src = reinterpret_cast<const rte_ether_hdr*>(frame)->src_addr;
  if (detail::ipv6_is_multicast(out.target.data())) return false;
  if (out.type == kNdpNeighborAdvert) {
    out.router = (icmp[4] & kFlagRouter) != 0;
    out.solicited = (icmp[4] & kFlagSolicited) != 0;
    out.override_flag = (icmp[4] & kFlagOverride) != 0;
    if (out.solicited && detail::ipv6_is_multicast(out.dst.data())) return false;
  }
  const std::uint8_t wanted = out.type == kNdpNeighborSolicit ? kOptSourceLla : kOptTargetLla;
  bool any_source_lla = false;
  for (std::uint32_t at = kNdpBodyLen; at < icmp_len;) {
    if (icmp_len - at < 2) return false;
    const std::uint32_t opt_len = std::uint32_t{icmp[at + 1]} * 8;
    if (opt_len == 0 || opt_len > icmp_len - at) return false;  // RFC 4861 4.6
    if (icmp[at] == kOptSourceLla) any_source_lla = true;
    if (icmp[at] == wanted && opt_len == 8) {
      out.has_lla = true;
      std::memcpy(out.lla.addr_bytes, icmp + at + 2, RTE_ETHER_ADDR_LEN);
    }
    at += opt_len;
  }
  if (out.type == kNdpNeighborSolicit && detail::ipv6_is_unspecified(out.src.data())) {
    // A DAD probe: to the solicited-node group, without a source address option.
    if (!detail::ipv6_is_solicited_node_of(out.dst.data(), out.target.data()) || any_source_lla)
      return false;
  }
  return true;
}

std::uint32_t answer_ns(std::uint8_t* frame, const NdpMessage& msg, const Ipv6Bytes& our_ip,
                        const rte_ether_addr& our_mac) noexcept {
  if (msg.type != kNdpNeighborSolicit || !same(msg.target, our_ip)) return 0;
  if (detail::ipv6_is_unspecified(msg.src.data())) {
    // Somebody probes for our address (DAD): defend it to all nodes.
    return write_unsolicited_na(frame, our_mac, our_ip);
  }
  const rte_ether_addr to = msg.has_lla ? msg.lla : msg.eth_src;
  if (!rte_is_unicast_ether_addr(&to)) return 0;
  return write_ndp_frame(frame, our_mac, to, our_ip, msg.src, kNdpNeighborAdvert,
                         kFlagRouter | kFlagSolicited | kFlagOverride, our_ip, kOptTargetLla,
                         our_mac);
}

bool answer_ns(rte_mbuf* m, const NdpMessage& msg, const Ipv6Bytes& our_ip,
               const rte_ether_addr& our_mac) noexcept {
  if (msg.type != kNdpNeighborSolicit || !same(msg.target, our_ip)) return false;
  // Resize the (single-segment) mbuf to exactly the advertisement.
  if (m->pkt_len > kNdpFrameLen) {
    rte_pktmbuf_trim(m, static_cast<std::uint16_t>(m->pkt_len - kNdpFrameLen));
  } else if (m->pkt_len < kNdpFrameLen &&
             rte_pktmbuf_append(m, static_cast<std::uint16_t>(kNdpFrameLen - m->pkt_len)) ==
                 nullptr) {
    return false;
  }
  return answer_ns(rte_pktmbuf_mtod(m, std::uint8_t*), msg, our_ip, our_mac) != 0;
}

NdpLearn ndp_merge(const NdpMessage& msg, const Ipv6Interface& iface, Neighbour6Table& table,
                   std::uint64_t now) {
  if (!msg.has_lla || !rte_is_valid_assigned_ether_addr(&msg.lla)) return NdpLearn::kIgnored;
  if (msg.type == kNdpNeighborSolicit) {
    if (detail::ipv6_is_unspecified(msg.src.data()) || same(msg.src, iface.ip) ||
        !iface.in_subnet(msg.src))
      return NdpLearn::kIgnored;
    if (table.contains(msg.src)) {
      table.update(msg.src, msg.lla, now);
      return NdpLearn::kUpdated;
    }
    if (!same(msg.target, iface.ip)) return NdpLearn::kIgnored;
    return table.update(msg.src, msg.lla, now) ? NdpLearn::kAdded : NdpLearn::kFull;
  }
  // An advertisement: only for an entry we have (we asked, or it was known).
  if (same(msg.target, iface.ip) || !iface.in_subnet(msg.target) || !table.contains(msg.target))
    return NdpLearn::kIgnored;
  table.update(msg.target, msg.lla, now);
  return NdpLearn::kUpdated;
}

std::uint32_t write_unsolicited_na(std::uint8_t* frame, const rte_ether_addr& our_mac,
                                   const Ipv6Bytes& our_ip) noexcept {
  static constexpr Ipv6Bytes kAllNodes{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
  return write_ndp_frame(frame, our_mac, multicast_mac(kAllNodes), our_ip, kAllNodes,
                         kNdpNeighborAdvert, kFlagRouter | kFlagOverride, our_ip, kOptTargetLla,
                         our_mac);
}

rte_mbuf* build_unsolicited_na(rte_mempool* pool, const rte_ether_addr& our_mac,
                               const Ipv6Bytes& our_ip) noexcept {
  rte_mbuf* m = alloc_frame(pool, kNdpFrameLen);
  if (m != nullptr) write_unsolicited_na(rte_pktmbuf_mtod(m, std::uint8_t*), our_mac, our_ip);
  return m;
}

std::uint32_t write_ns(std::uint8_t* frame, const rte_ether_addr& our_mac, const Ipv6Bytes& our_ip,
                       const Ipv6Bytes& target) noexcept {
  const Ipv6Bytes group = solicited_node(target);
  return write_ndp_frame(frame, our_mac, multicast_mac(group), our_ip, group, kNdpNeighborSolicit,
                         0, target, kOptSourceLla, our_mac);
}

rte_mbuf* build_ns(rte_mempool* pool, const rte_ether_addr& our_mac, const Ipv6Bytes& our_ip,
                   const Ipv6Bytes& target) noexcept {
  rte_mbuf* m = alloc_frame(pool, kNdpFrameLen);
  if (m != nullptr) write_ns(rte_pktmbuf_mtod(m, std::uint8_t*), our_mac, our_ip, target);
  return m;
}

}  // namespace wghub::dp
