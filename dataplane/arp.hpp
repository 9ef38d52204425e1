// ARP (RFC 826) for the appliance's own addresses: a side branch of receive
// on both ports, and the resolver the LAN transmit path needs for next hops.
//   - answer_arp_in_place: a request for our address becomes our reply, in the
//     same buffer, to be sent back out of the port it came in on;
//   - arp_merge: RFC 826's "merge" step, learning the sender's MAC into the
//     port's neighbour table (control thread: the table has one writer);
//   - write_arp_request / build_arp_request: ask for a next hop's MAC.
// Only Ethernet (htype 1) and IPv4 (ptype 0x0800) are spoken.
#pragma once

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <cstdint>

#include "dataplane/neighbour.hpp"

namespace wghub::dp {

// Ethernet header + ARP for Ethernet/IPv4.
inline constexpr std::uint32_t kArpFrameLen = 14 + 28;
// Frames we originate are padded to the Ethernet minimum (without FCS).
inline constexpr std::uint32_t kEthernetMinFrameLen = 60;

struct ArpMessage {
  std::uint16_t op = 0;  // RTE_ARP_OP_REQUEST or RTE_ARP_OP_REPLY (host order)
  rte_ether_addr sender_mac{};
  std::uint32_t sender_ip_be = 0;
  rte_ether_addr target_mac{};
  std::uint32_t target_ip_be = 0;
};

// The port's own IPv4 address and connected subnet.
struct Ipv4Interface {
  std::uint32_t ip_be = 0;
  std::uint32_t mask_be = 0;  // e.g. ipv4_be(255, 255, 255, 0)

  bool in_subnet(std::uint32_t ip) const { return ((ip ^ ip_be) & mask_be) == 0; }
};

// Parses an Ethernet frame carrying ARP. False unless it is a well-formed
// Ethernet/IPv4 request or reply.
bool parse_arp(const std::uint8_t* frame, std::uint32_t len, ArpMessage& out) noexcept;

// RFC 826 reception: when `frame` is a request for `iface.ip_be`, rewrites it
// into the reply from `our_mac` (Ethernet and ARP addresses swapped, op 2) and
// returns true: send it back out of the same port. False leaves it untouched.
bool answer_arp_in_place(std::uint8_t* frame, std::uint32_t len, std::uint32_t our_ip_be,
                         const rte_ether_addr& our_mac) noexcept;
bool answer_arp_in_place(rte_mbuf* m, std::uint32_t our_ip_be,
                         const rte_ether_addr& our_mac) noexcept;

enum class ArpLearn : std::uint8_t {
  kIgnored,  // not learnable: bogus sender, other subnet, our own address
  kUpdated,  // the sender was in the table: its MAC refreshed (RFC 826 merge)
  kAdded,    // we are the target: the sender added
  kFull,     // would have added, the table is full
};

// RFC 826's merge step for a parsed request or reply received on `iface`:
// update the sender if known; add it if the message targets our address.
// Senders outside the connected subnet, 0.0.0.0 (RFC 5227 probes), our own
// address (a conflict) and non-unicast MACs are never learned.
// Control thread only (the table's writer).
ArpLearn arp_merge(const ArpMessage& msg, const Ipv4Interface& iface, NeighbourTable& table,
                   std::uint64_t now);

// Writes a broadcast "who has target_ip_be? tell sender_ip_be" request,
// padded to 60 bytes, into `frame` (at least kEthernetMinFrameLen bytes).
// Returns the frame length.
std::uint32_t write_arp_request(std::uint8_t* frame, const rte_ether_addr& sender_mac,
                                std::uint32_t sender_ip_be, std::uint32_t target_ip_be) noexcept;
// Same into a fresh mbuf from `pool`; nullptr when the pool is empty.
rte_mbuf* build_arp_request(rte_mempool* pool, const rte_ether_addr& sender_mac,
                            std::uint32_t sender_ip_be, std::uint32_t target_ip_be) noexcept;

}  // namespace wghub::dp
