// The worker's slow path for an inner packet longer than the tunnel MTU
// (kTunnelMtu, 1420), reached from queue_encrypt's one length check: from the
// LAN, and from a site to another site (a site whose own tunnel MTU is larger
// sends up to WAN MTU - 60 bytes, 1440 on a 1500-byte WAN). Linux in front of
// a wg device with MTU 1420 does the same (ip_forward, ip6_forward):
//
//   IPv4, DF clear   -> fragments of at most 1420 bytes (RFC 791 3.2), each
//                       encrypted to the peer like any other packet;
//   IPv4, DF set     -> dropped (packet_too_big) + ICMP type 3 code 4, next-hop
//                       MTU 1420 (RFC 792, RFC 1191 4) to the source;
//   IPv6             -> dropped (packet_too_big) + ICMPv6 Packet Too Big, MTU
//                       1420 (RFC 4443 3.2) to the source: routers never
//                       fragment IPv6 (RFC 8200 5).
//
// Why here and not on the control thread: the fragments must be sealed on
// the peer's keypair with its send counter, which is the worker's own encrypt
// batch (queue_encrypt); the error goes back the way any packet to its
// destination goes (the FIB: LAN next hop with the neighbour table and ARP /
// NDP by the control thread when unknown, or a peer through the tunnel for a
// site's packet), which is the worker's routing too. A punt would add a
// ControlReason, a second encrypt path and a ring hop for no gain: the work
// is a copy of at most 64 KiB into fresh mbufs from the packet's own pool, and
// the errors are rate limited (Dataplane::icmp_error_limit, per worker share).
//
// Every mbuf leaves once: the oversize packet is dropped under packet_too_big
// (or under the reason fragmentation failed), or freed once its fragments
// exist, each fragment and each error then taking the ordinary path.
#include <rte_mbuf.h>

#include <array>
#include <cstring>

#include "dataplane/pmtu.hpp"
#include "dataplane/worker.hpp"

namespace wghub::dp {

namespace {

// A 65535-byte packet in fragments of 1400 bytes of data (1420 - a 20-byte
// header) is 47; with 60 bytes of header, 1360 each, 49.
constexpr unsigned kMaxFragments = 64;

bool is_ipv4_df(const std::uint8_t* ip) {
  return (ip[6] & 0x40) != 0;
}

}  // namespace

void Worker::too_big(rte_mbuf* m, std::uint32_t slot, std::uint64_t now) {
  if (m->nb_segs > 1 && rte_pktmbuf_linearize(m) != 0) {
    drop(m, DropReason::kNoMbuf);
    return;
  }
  const auto* ip = rte_pktmbuf_mtod(m, const std::uint8_t*);
  if ((ip[0] >> 4) == 4 && !is_ipv4_df(ip)) {
    fragment4(m, slot, now);
    return;
  }
  send_too_big_error(m, now);
  drop(m, DropReason::kPacketTooBig);
}

void Worker::fragment4(rte_mbuf* m, std::uint32_t slot, std::uint64_t now) {
  const auto* ip = rte_pktmbuf_mtod(m, const std::uint8_t*);
  const std::size_t len = m->pkt_len;
  const Ipv4FragmentPlan plan = plan_ipv4_fragments(ip, len, kTunnelMtu);
  if (plan.error != DropReason::kNone) {
    drop(m, plan.error);
    return;
  }
  if (plan.count > kMaxFragments) {  // cannot happen below 65536 bytes; never trust it
    drop(m, DropReason::kPacketTooBig);
    return;
  }
  // All or nothing: a packet missing a fragment would only waste the link.
  std::array<rte_mbuf*, kMaxFragments> frags;
  for (unsigned i = 0; i < plan.count; ++i) {
    const auto flen = static_cast<std::uint16_t>(ipv4_fragment_length(plan, len, i));
    frags[i] = rte_pktmbuf_alloc(m->pool);
    auto* out = frags[i] == nullptr
                    ? nullptr
                    : reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(frags[i], flen));
    if (out == nullptr) {
      for (unsigned j = 0; j <= i; ++j) rte_pktmbuf_free(frags[j]);  // free(nullptr) is a no-op
      drop(m, DropReason::kNoMbuf);
      return;
    }
    write_ipv4_fragment(out, ip, len, plan, i);
  }
  counter_add(stats_.fragments_created, plan.count);
  rte_pktmbuf_free(m);  // replaced by its fragments
  for (unsigned i = 0; i < plan.count; ++i) queue_encrypt(frags[i], slot, now);
}

// The ICMP or ICMPv6 error about `m` (which the caller then drops), when the
// RFCs allow one and the rate limit has a token.
void Worker::send_too_big_error(const rte_mbuf* m, std::uint64_t now) {
  const auto* ip = rte_pktmbuf_mtod(m, const std::uint8_t*);
  const std::size_t len = m->pkt_len;
  const bool v4 = (ip[0] >> 4) == 4;
  const std::uint32_t lan_broadcast = dp_.lan.local.ip_be | ~dp_.lan.mask_be;
  // IPv6 errors come from the LAN's address6, else the WAN's; without
  // either the hub has no IPv6 address to send one from.
  const LocalAddress& from6 = dp_.lan.local.has_ip6 ? dp_.lan.local : dp_.wan.local;
  const bool allowed = v4 ? icmp4_error_allowed(ip, len, lan_broadcast)
                          : (ip[0] >> 4) == 6 && from6.has_ip6 && icmp6_error_allowed(ip, len);
  if (!allowed) {
    counter_add(stats_.icmp_errors_suppressed);
    return;
  }
  if (!icmp_errors_.take(now)) {
    counter_add(stats_.icmp_errors_rate_limited);
    return;
  }
  rte_mbuf* e = rte_pktmbuf_alloc(m->pool);
  const std::size_t room = v4 ? kIcmp4ErrorMaxLen : kIcmp6ErrorMaxLen;
  auto* out = e == nullptr ? nullptr
                           : reinterpret_cast<std::uint8_t*>(
                                 rte_pktmbuf_append(e, static_cast<std::uint16_t>(room)));
  if (out == nullptr) {
    rte_pktmbuf_free(e);
    stats_.drop(DropReason::kNoMbuf);  // the error that could not be built
    return;
  }
  // Every path into queue_encrypt has decremented TTL / hop limit already.
  const std::size_t n =
      v4 ? build_icmp4_frag_needed(out, ip, len, dp_.lan.local.ip_be,
                                   static_cast<std::uint16_t>(kTunnelMtu), ip_id_++, true)
         : build_icmp6_packet_too_big(out, ip, len, from6.ip6.data(), kTunnelMtu, true);
  rte_pktmbuf_trim(e, static_cast<std::uint16_t>(room - n));
  counter_add(stats_.icmp_errors_sent);
  // It goes where the FIB sends its destination, the packet's source: a LAN
  // host (directly or via a LAN gateway), or a site through the tunnel.
  // Nothing is decremented: the hub is its first hop.
  if (v4) {
    route<Inet4>(e, kNoPeer, false);
  } else {
    route<Inet6>(e, kNoPeer, false);
  }
}

}  // namespace wghub::dp
