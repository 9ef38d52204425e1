// Fuzz target: the receive classifiers (classify_wan / classify_lan, on a
// port without and with an IPv6 address), the fast path's matchers against
// them (fast_path.hpp: the first parser every data frame meets), ARP parsing,
// answering and merging into a neighbour table, NDP parsing, answering and
// merging, the ICMPv6 echo reply, the inner-packet parser and
// the TTL / hop limit decrement. The
// frame lies in a buffer exactly `contiguous` bytes long, so ASan reports any
// read past the first segment; offsets the classifier returns are checked
// against the frame.
//
// Input: [flags][split][frame...]
//   flags bit 0: set the destination MAC to ours      bit 1: the IPv4 dst ours
//         bit 2: fix the IPv4 header checksum         bit 3: fix the ICMP checksum
//         bits 4-5: IpChecksum (verify, known good, known bad, verify)
//         bit 6: claim a frame longer than the first segment (pkt_len > data_len)
//         bit 7: the UDP destination port ours
//   For an IPv6 frame (ethertype 0x86dd) bit 1 makes the IPv6 destination our
//   address6, bit 3 fixes the ICMPv6 or UDP checksum, bit 7 as above.
//   split: bytes in the first segment (0 = the whole frame)
#include <rte_byteorder.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "dataplane/arp.hpp"
#include "dataplane/fast_path.hpp"
#include "dataplane/icmp.hpp"
#include "dataplane/ndp.hpp"
#include "dataplane/neighbour.hpp"
#include "dataplane/packet.hpp"
#include "fuzz/fuzz_common.hpp"

namespace {

using namespace wghub::dp;
using wghub::fuzz::check;

const LocalAddress kWan{
    {{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}}, ipv4_be(198, 51, 100, 10), RTE_BE16(51820)};

// The same port with an IPv6 address (fd00::a).
const LocalAddress kWan6 = [] {
  LocalAddress a = kWan;
  a.has_ip6 = true;
  a.ip6 = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a};
  return a;
}();

std::uint16_t checksum_of(const std::uint8_t* p, std::uint32_t len) {
  return static_cast<std::uint16_t>(~rte_raw_cksum(p, len));
}

void apply_fixups6(std::vector<std::uint8_t>& f, std::uint8_t flags) {
  if (f.size() < kEthernetHeaderLen + kIpv6HeaderLen) return;
  std::uint8_t* ip = f.data() + kEthernetHeaderLen;
  if (flags & 0x02) std::memcpy(ip + 24, kWan6.ip6.data(), 16);
  const std::uint32_t payload = std::uint32_t{ip[4]} << 8 | ip[5];
  if (kEthernetHeaderLen + kIpv6HeaderLen + payload > f.size()) return;
  std::uint8_t* l4 = ip + kIpv6HeaderLen;
  if ((flags & 0x80) && ip[6] == kIpProtoUdp && payload >= 4)
    std::memcpy(l4 + 2, &kWan6.udp_port_be, 2);
  const unsigned at = ip[6] == kIpProtoIcmp6 ? 2 : ip[6] == kIpProtoUdp ? 6 : 0;
  if ((flags & 0x08) && at != 0 && payload >= at + 2) {
    l4[at] = l4[at + 1] = 0;
    std::uint32_t sum = std::uint32_t{rte_ipv6_phdr_cksum(reinterpret_cast<rte_ipv6_hdr*>(ip), 0)} +
                        rte_raw_cksum(l4, payload);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    std::uint16_t c = static_cast<std::uint16_t>(~sum);
    if (c == 0 && at == 6) c = 0xffff;
    std::memcpy(l4 + at, &c, 2);
  }
}

void apply_fixups(std::vector<std::uint8_t>& f, std::uint8_t flags) {
  if ((flags & 0x01) && f.size() >= 6) std::memcpy(f.data(), kWan.mac.addr_bytes, 6);
  if (f.size() >= kEthernetHeaderLen && f[12] == 0x86 && f[13] == 0xdd) {
    apply_fixups6(f, flags);
    return;
  }
  if (f.size() < kEthernetHeaderLen + kIpv4MinHeaderLen) return;
  std::uint8_t* ip = f.data() + kEthernetHeaderLen;
  if (flags & 0x02) std::memcpy(ip + 16, &kWan.ip_be, 4);
  const std::uint32_t ihl = (ip[0] & 0x0f) * 4u;
  if (ihl < kIpv4MinHeaderLen || kEthernetHeaderLen + ihl > f.size()) return;
  if ((flags & 0x80) && ip[9] == kIpProtoUdp && kEthernetHeaderLen + ihl + 4 <= f.size())
    std::memcpy(ip + ihl + 2, &kWan.udp_port_be, 2);
  if ((flags & 0x08) && ip[9] == kIpProtoIcmp) {
    const std::uint32_t total = std::uint32_t{ip[2]} << 8 | ip[3];
    if (total >= ihl + kIcmpHeaderLen && kEthernetHeaderLen + total <= f.size()) {
      ip[ihl + 2] = ip[ihl + 3] = 0;
      const std::uint16_t c = checksum_of(ip + ihl, total - ihl);
      std::memcpy(ip + ihl + 2, &c, 2);
    }
  }
  if (flags & 0x04) {
    ip[10] = ip[11] = 0;
    const std::uint16_t c = checksum_of(ip, ihl);
    std::memcpy(ip + 10, &c, 2);
  }
}

void check_classified(const Classified& c, std::uint32_t contiguous, std::uint32_t len) {
  switch (c.kind) {
    case Classify::kWireGuard:
      check(c.reason == DropReason::kNone, "kWireGuard with a drop reason");
      check(c.payload_offset == c.l4_offset + kUdpHeaderLen, "WireGuard payload offset");
      check(c.payload_offset <= contiguous, "UDP header past the first segment");
      check(std::uint32_t{c.payload_offset} + c.payload_len <= len, "UDP payload past the frame");
      break;
    case Classify::kIcmpEchoToUs:
      check(c.reason == DropReason::kNone, "echo with a drop reason");
      check(std::uint32_t{c.payload_offset} + c.payload_len <= contiguous,
            "ICMP payload past the first segment");
      break;
    case Classify::kArp:
      check(c.reason == DropReason::kNone && contiguous >= kEthernetHeaderLen, "ARP verdict");
      break;
    case Classify::kNdp:
      check(c.reason == DropReason::kNone && c.ip_version == 6, "NDP verdict");
      check(std::uint32_t{c.payload_offset} + c.payload_len <= contiguous,
            "ICMPv6 past the first segment");
      break;
    case Classify::kForward:
      check(c.reason == DropReason::kNone, "forward with a drop reason");
      check(c.l4_offset <= contiguous, "IPv4 header past the first segment");
      break;
    default:
      check(c.reason != DropReason::kNone, "a drop without a reason");
      break;
  }
  (void)classify_name(c.kind);
}

// The fast path's matchers give the general classifiers' verdict on every
// frame they claim, and claim every frame the general path would take the
// common way (IPv4 without options).
void fast_path(const std::uint8_t* f, std::uint32_t contiguous, std::uint32_t len,
               IpChecksum checksum, const Classified& wan, const Classified& lan) {
  WireGuardDatagram fast;
  const bool hit = match_wireguard_ipv4(f, contiguous, len, kWan, checksum, fast);
  const bool common = wan.kind == Classify::kWireGuard && wan.ip_version == 4 &&
                      wan.l4_offset == kEthernetHeaderLen + kIpv4MinHeaderLen;
  check(hit == common, "match_wireguard_ipv4 disagrees with classify_wan");
  if (hit)
    check(fast.payload_len == wan.payload_len && fast.src_ip_be == wan.src_ip_be &&
              fast.src_port_be == wan.src_port_be,
          "match_wireguard_ipv4's datagram differs from classify_wan's");
  std::uint32_t total = 0, dst_be = 0;
  const bool fwd = match_forward_ipv4(f, contiguous, len, kWan, checksum, total, dst_be);
  const bool lan_common = lan.kind == Classify::kForward && lan.ip_version == 4 &&
                          lan.l4_offset == kEthernetHeaderLen + kIpv4MinHeaderLen;
  check(fwd == lan_common, "match_forward_ipv4 disagrees with classify_lan");
  if (fwd) check(dst_be == lan.dst_ip_be && total <= len, "match_forward_ipv4's destination");
}

// RFC 826 / RFC 4861 merges into small tables: what is learned is a unicast
// neighbour on the subnet, never us, and the tables keep their budgets.
void merge_arp(const ArpMessage& msg) {
  NeighbourTable table(NeighbourTiming{1000, 10, 3}, 16);
  const Ipv4Interface iface{kWan.ip_be, ipv4_be(255, 255, 255, 0)};
  for (std::uint64_t now = 1; now <= 3; ++now) {
    const ArpLearn learned = arp_merge(msg, iface, table, now * 100);
    if (learned == ArpLearn::kIgnored) continue;
    check(iface.in_subnet(msg.sender_ip_be) && msg.sender_ip_be != kWan.ip_be,
          "arp_merge learned an address off the subnet, or ours");
    check(table.lookup(msg.sender_ip_be).has_value(), "arp_merge learned nothing it can look up");
  }
  check(table.size() <= table.max_entries(), "ARP table over its size");
  check(table.incomplete() <= table.max_incomplete(), "ARP incomplete budget");
}

void merge_ndp(const NdpMessage& msg) {
  Neighbour6Table table(NeighbourTiming{1000, 10, 3}, 16);
  const Ipv6Interface iface{kWan6.ip6, 64};
  for (std::uint64_t now = 1; now <= 3; ++now) {
    const NdpLearn learned = ndp_merge(msg, iface, table, now * 100);
    if (learned == NdpLearn::kIgnored) continue;
    const Ipv6Bytes& who = msg.type == kNdpNeighborSolicit ? msg.src : msg.target;
    check(iface.in_subnet(who) && who != kWan6.ip6, "ndp_merge learned off the subnet, or us");
  }
  check(table.size() <= table.max_entries(), "NDP table over its size");
  check(table.incomplete() <= table.max_incomplete(), "NDP incomplete budget");
}

// The inner-packet helpers on `p` (a decrypted plaintext, as the worker sees it).
void inner(const std::uint8_t* p, std::uint32_t n) {
  InnerPacket out;
  if (parse_inner(p, n, out) != DropReason::kNone) return;
  check(out.length <= n && (out.version == 4 || out.version == 6), "parse_inner result");
  std::vector<std::uint8_t> copy(p, p + out.length);
  if (out.version == 6) {
    const std::uint8_t hop = copy[7];
    check(ipv6_decrement_hop_limit(copy.data()) == (hop > 1), "hop limit decrement");
    return;
  }
  const bool was_ok = ipv4_checksum_ok(copy.data());
  if (ipv4_decrement_ttl(copy.data()) && was_ok)
    check(ipv4_checksum_ok(copy.data()), "TTL decrement broke a valid checksum (RFC 1624)");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2 || size > 65535) return 0;
  const std::uint8_t flags = data[0];
  std::vector<std::uint8_t> frame(data + 2, data + size);
  apply_fixups(frame, flags);
  const auto frame_len = static_cast<std::uint32_t>(frame.size());
  const std::uint32_t contiguous = data[1] == 0 || data[1] > frame_len ? frame_len : data[1];
  const std::uint32_t len = (flags & 0x40) ? frame_len + data[1] : frame_len;
  const auto checksum = static_cast<IpChecksum>(((flags >> 4) & 3) == 3 ? 0 : (flags >> 4) & 3);

  // Exactly the readable bytes, on the heap, so ASan sees an overread.
  std::unique_ptr<std::uint8_t[]> seg(new std::uint8_t[contiguous == 0 ? 1 : contiguous]);
  if (contiguous) std::memcpy(seg.get(), frame.data(), contiguous);

  const Classified wan = classify_wan(seg.get(), contiguous, len, kWan, checksum);
  check_classified(wan, contiguous, len);
  const Classified lan = classify_lan(seg.get(), contiguous, len, kWan, checksum);
  check_classified(lan, contiguous, len);
  check(wan.kind != Classify::kForward, "WAN never forwards");
  check(lan.kind != Classify::kWireGuard, "LAN serves no WireGuard");
  fast_path(seg.get(), contiguous, len, checksum, wan, lan);

  if (wan.kind == Classify::kArp || lan.kind == Classify::kArp) {
    ArpMessage msg;
    if (parse_arp(seg.get(), contiguous, msg)) {
      check(msg.op == 1 || msg.op == 2, "parse_arp accepted an unknown op");
      merge_arp(msg);
    }
    std::vector<std::uint8_t> copy(seg.get(), seg.get() + contiguous);
    if (answer_arp_in_place(copy.data(), contiguous, kWan.ip_be, kWan.mac)) {
      ArpMessage reply;
      check(parse_arp(copy.data(), contiguous, reply), "our ARP reply does not parse");
      check(reply.op == 2 && reply.sender_ip_be == kWan.ip_be, "our ARP reply's content");
    }
  }
  // The same frame on ports with an IPv6 address.
  for (const bool on_wan : {true, false}) {
    const Classified c6 = on_wan ? classify_wan(seg.get(), contiguous, len, kWan6, checksum)
                                 : classify_lan(seg.get(), contiguous, len, kWan6, checksum);
    check_classified(c6, contiguous, len);
    check(!on_wan || c6.kind != Classify::kForward, "WAN never forwards (IPv6)");
    std::vector<std::uint8_t> copy(seg.get(), seg.get() + contiguous);
    copy.resize(std::max<std::size_t>(copy.size(), kNdpFrameLen));
    if (c6.kind == Classify::kNdp) {
      NdpMessage msg;
      if (parse_ndp(seg.get(), contiguous, c6, msg)) {
        check(msg.type == kNdpNeighborSolicit || msg.type == kNdpNeighborAdvert, "NDP type");
        merge_ndp(msg);
        if (answer_ns(copy.data(), msg, kWan6.ip6, kWan6.mac) != 0) {
          const Classified again = classify_wan(copy.data(), kNdpFrameLen, kNdpFrameLen, kWan6);
          check(again.kind == Classify::kNotForUs || again.kind == Classify::kNdp,
                "our advertisement classifies as NDP (or not for us)");
        }
      }
    }
    if (c6.kind == Classify::kIcmpEchoToUs && c6.ip_version == 6) {
      const std::uint32_t reply_len = icmp_echo_reply_in_place(copy.data(), c6, kWan6.mac);
      check(reply_len <= contiguous, "ICMPv6 echo reply length");
      const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(copy.data() + c6.l3_offset);
      check(detail::ipv6_l4_checksum_ok(ip, copy.data() + c6.l4_offset,
                                        rte_be_to_cpu_16(ip->payload_len)),
            "ICMPv6 echo reply checksum (RFC 1624 update)");
    }
  }

  if (wan.kind == Classify::kWireGuard && wan.payload_offset < contiguous)
    inner(seg.get() + wan.payload_offset,
          std::min<std::uint32_t>(wan.payload_len, contiguous - wan.payload_offset));
  if (contiguous > kEthernetHeaderLen)
    inner(seg.get() + kEthernetHeaderLen, contiguous - kEthernetHeaderLen);
  return 0;
}
