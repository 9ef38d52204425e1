// Neighbor Discovery (RFC 4861) for the appliance's own IPv6 addresses: the
// IPv6 counterpart of arp.hpp, a side branch of receive on both ports and
// the resolver the transmit paths need for IPv6 next hops.
//   - parse_ndp: a Neighbor Solicitation or Advertisement the classifier
//     handed over (kNdp: checksum verified), checked as RFC 4861 7.1.1 /
//     7.1.2 ask (hop limit 255, code 0, lengths, no multicast target, option
//     lengths, DAD form);
//   - answer_ns: a solicitation for our address becomes our advertisement
//     (RFC 4861 7.2.4), written over the same buffer, to be sent back out of
//     the port it came in on;
//   - ndp_merge: learning into the port's IPv6 neighbour table (control
//     thread: the table has one writer), RFC 4861 7.2.3 / 7.2.5;
//   - write_ns / build_ns: ask for a next hop's MAC (RFC 4861 7.2.2), to its
//     solicited-node multicast group.
// The appliance is a router for the hosts behind it (R flag set). It has no
// link-local address of its own: it speaks NDP from its configured address.
#pragma once

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <array>
#include <cstdint>

#include "dataplane/neighbour.hpp"
#include "dataplane/packet.hpp"

namespace wghub::dp {

// Ethernet + IPv6 + an NS or NA with one link-layer address option.
inline constexpr std::uint32_t kNdpFrameLen = 14 + 40 + 24 + 8;

struct NdpMessage {
  std::uint8_t type = 0;  // kNdpNeighborSolicit or kNdpNeighborAdvert
  Ipv6Bytes src{};        // IPv6 source (unspecified for a DAD probe)
  Ipv6Bytes dst{};
  Ipv6Bytes target{};
  bool has_lla = false;  // source (NS) / target (NA) link-layer address option
  rte_ether_addr lla{};
  bool router = false, solicited = false, override_flag = false;  // NA flags
  rte_ether_addr eth_src{};
};

// The port's own IPv6 address and connected subnet.
struct Ipv6Interface {
  Ipv6Bytes ip{};
  unsigned prefix_len = 64;

  bool in_subnet(const Ipv6Bytes& a) const;
};

// Parses an NDP frame classified kNdp (offsets in `c`). False unless it is a
// valid NS or NA.
bool parse_ndp(const std::uint8_t* frame, std::uint32_t len, const Classified& c,
               NdpMessage& out) noexcept;

// RFC 4861 7.2.4: when `msg` (parsed from `frame`) solicits `our_ip`,
// writes our advertisement over `frame` (at least kNdpFrameLen bytes of room)
// and returns its length: unicast to the solicitor with S and O set, or to
// all nodes without S for a DAD probe (RFC 4861 7.2.4). 0 leaves the frame
// untouched.
std::uint32_t answer_ns(std::uint8_t* frame, const NdpMessage& msg, const Ipv6Bytes& our_ip,
                        const rte_ether_addr& our_mac) noexcept;
// The mbuf form: the mbuf is resized to the advertisement. False: no answer.
bool answer_ns(rte_mbuf* m, const NdpMessage& msg, const Ipv6Bytes& our_ip,
               const rte_ether_addr& our_mac) noexcept;

enum class NdpLearn : std::uint8_t {
  kIgnored,  // nothing learnable: no address option, other subnet, our own address
  kUpdated,  // the neighbour was in the table: its MAC refreshed
  kAdded,    // a solicitation for our address from a new neighbour: added
  kFull,     // would have added, the table is full
};

// Learns from a parsed message received on `iface`: an NS with a source
// link-layer address updates its sender, and adds it when it solicits our
// address (RFC 4861 7.2.3); an NA with a target link-layer address updates
// its target if we have an entry for it (7.2.5: we asked), and never creates
// one. Addresses outside the connected subnet, the unspecified address, our
// own address and non-unicast MACs are never learned. Control thread only.
NdpLearn ndp_merge(const NdpMessage& msg, const Ipv6Interface& iface, Neighbour6Table& table,
                   std::uint64_t now);

// An unsolicited Neighbor Advertisement of our address to all nodes, with
// O set and S clear (RFC 4861 7.2.6): what a hub sends when it takes over
// the address. Returns the frame length (kNdpFrameLen).
std::uint32_t write_unsolicited_na(std::uint8_t* frame, const rte_ether_addr& our_mac,
                                   const Ipv6Bytes& our_ip) noexcept;
rte_mbuf* build_unsolicited_na(rte_mempool* pool, const rte_ether_addr& our_mac,
                               const Ipv6Bytes& our_ip) noexcept;

// Writes "who has target?" from our address and MAC to target's
// solicited-node group (RFC 4861 7.2.2), with our link-layer address, into
// `frame` (at least kNdpFrameLen bytes). Returns the frame length.
std::uint32_t write_ns(std::uint8_t* frame, const rte_ether_addr& our_mac, const Ipv6Bytes& our_ip,
                       const Ipv6Bytes& target) noexcept;
// Same into a fresh mbuf from `pool`; nullptr when the pool is empty.
rte_mbuf* build_ns(rte_mempool* pool, const rte_ether_addr& our_mac, const Ipv6Bytes& our_ip,
                   const Ipv6Bytes& target) noexcept;

}  // namespace wghub::dp
