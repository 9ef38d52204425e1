// ARP (RFC 826): answering for our addresses, learning neighbours, asking for
// next hops. See arp.hpp.
#include "dataplane/arp.hpp"

#include <rte_arp.h>
#include <rte_byteorder.h>

#include <cstring>

#include "dataplane/packet.hpp"

namespace wghub::dp {
namespace {

static_assert(sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr) == kArpFrameLen);

bool is_ethernet_ipv4(const rte_arp_hdr* arp) {
  return arp->arp_hardware == RTE_BE16(RTE_ARP_HRD_ETHER) &&
         arp->arp_protocol == RTE_BE16(RTE_ETHER_TYPE_IPV4) &&
         arp->arp_hlen == RTE_ETHER_ADDR_LEN && arp->arp_plen == 4;
}

}  // namespace

bool parse_arp(const std::uint8_t* frame, std::uint32_t len, ArpMessage& out) noexcept {
  if (len < kArpFrameLen) return false;
  const auto* eth = reinterpret_cast<const rte_ether_hdr*>(frame);
  if (eth->ether_type != kEtherTypeArpBe) return false;
  const auto* arp = reinterpret_cast<const rte_arp_hdr*>(frame + sizeof(rte_ether_hdr));
  if (!is_ethernet_ipv4(arp)) return false;
  const std::uint16_t op = rte_be_to_cpu_16(arp->arp_opcode);
  if (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY) return false;
  out.op = op;
  out.sender_mac = arp->arp_data.arp_sha;
  out.sender_ip_be = arp->arp_data.arp_sip;
  out.target_mac = arp->arp_data.arp_tha;
  out.target_ip_be = arp->arp_data.arp_tip;
  return true;
}

bool answer_arp_in_place(std::uint8_t* frame, std::uint32_t len, std::uint32_t our_ip_be,
                         const rte_ether_addr& our_mac) noexcept {
  ArpMessage msg;
  if (!parse_arp(frame, len, msg) || msg.op != RTE_ARP_OP_REQUEST ||
      msg.target_ip_be != our_ip_be || !rte_is_unicast_ether_addr(&msg.sender_mac))
    return false;
  auto* eth = reinterpret_cast<rte_ether_hdr*>(frame);
  auto* arp = reinterpret_cast<rte_arp_hdr*>(frame + sizeof(rte_ether_hdr));
  // RFC 826: "swap hardware and protocol fields, putting the local hardware
  // and protocol addresses in the sender fields", set the opcode to reply.
  eth->dst_addr = msg.sender_mac;
  eth->src_addr = our_mac;
  arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
  arp->arp_data.arp_tha = msg.sender_mac;
  arp->arp_data.arp_tip = msg.sender_ip_be;
  arp->arp_data.arp_sha = our_mac;
  arp->arp_data.arp_sip = our_ip_be;
  return true;
}

bool answer_arp_in_place(rte_mbuf* m, std::uint32_t our_ip_be,
                         const rte_ether_addr& our_mac) noexcept {
  return answer_arp_in_place(rte_pktmbuf_mtod(m, std::uint8_t*), m->data_len, our_ip_be, our_mac);
}

ArpLearn arp_merge(const ArpMessage& msg, const Ipv4Interface& iface, NeighbourTable& table,
                   std::uint64_t now) {
  if (msg.sender_ip_be == 0 || msg.sender_ip_be == iface.ip_be ||
      !iface.in_subnet(msg.sender_ip_be) || !rte_is_valid_assigned_ether_addr(&msg.sender_mac))
    return ArpLearn::kIgnored;
  if (table.contains(msg.sender_ip_be)) {
    table.update(msg.sender_ip_be, msg.sender_mac, now);
    return ArpLearn::kUpdated;
  }
  if (msg.target_ip_be != iface.ip_be) return ArpLearn::kIgnored;
  return table.update(msg.sender_ip_be, msg.sender_mac, now) ? ArpLearn::kAdded : ArpLearn::kFull;
}

std::uint32_t write_arp_request(std::uint8_t* frame, const rte_ether_addr& sender_mac,
                                std::uint32_t sender_ip_be, std::uint32_t target_ip_be) noexcept {
  std::memset(frame, 0, kEthernetMinFrameLen);
  rte_ether_addr broadcast;
  std::memset(broadcast.addr_bytes, 0xff, RTE_ETHER_ADDR_LEN);
  write_ethernet(frame, sender_mac, broadcast, kEtherTypeArpBe);
  auto* arp = reinterpret_cast<rte_arp_hdr*>(frame + sizeof(rte_ether_hdr));
  arp->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
  arp->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
  arp->arp_hlen = RTE_ETHER_ADDR_LEN;
  arp->arp_plen = 4;
  arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
  arp->arp_data.arp_sha = sender_mac;
  arp->arp_data.arp_sip = sender_ip_be;
  // RFC 826 leaves the target hardware address open; zero, as Linux sends.
  arp->arp_data.arp_tip = target_ip_be;
  return kEthernetMinFrameLen;
}

rte_mbuf* build_arp_request(rte_mempool* pool, const rte_ether_addr& sender_mac,
                            std::uint32_t sender_ip_be, std::uint32_t target_ip_be) noexcept {
  rte_mbuf* m = alloc_frame(pool, kEthernetMinFrameLen);
  if (m != nullptr)
    write_arp_request(rte_pktmbuf_mtod(m, std::uint8_t*), sender_mac, sender_ip_be, target_ip_be);
  return m;
}

}  // namespace wghub::dp
