// ICMP "fragmentation needed", ICMPv6 Packet Too Big and IPv4 fragmentation
// on plain bytes; see pmtu.hpp.
#include "dataplane/pmtu.hpp"

#include <rte_ip.h>

#include <algorithm>
#include <cstring>

#include "dataplane/packet.hpp"

namespace wghub::dp {

namespace {

std::uint16_t get16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
void put16(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

// RFC 1071: the value to store for `len` bytes whose checksum field is zero.
std::uint16_t checksum_of(const void* p, std::size_t len) {
  return static_cast<std::uint16_t>(~rte_raw_cksum(p, len));
}

constexpr std::uint16_t kFlagDf = 0x4000;
constexpr std::uint16_t kFlagMf = 0x2000;
constexpr std::uint16_t kOffsetMask = 0x1fff;

// RFC 792: the ICMP types that are not errors (echo, router discovery,
// timestamp, information, address mask). Any other type, unknown ones
// included, is treated as an error, as Linux does.
bool icmp_type_is_informational(std::uint8_t type) {
  switch (type) {
    case 0:   // echo reply
    case 8:   // echo request
    case 9:   // router advertisement (RFC 1256)
    case 10:  // router solicitation
    case 13:  // timestamp
    case 14:  // timestamp reply
    case 15:  // information request
    case 16:  // information reply
    case 17:  // address mask request (RFC 950)
    case 18:  // address mask reply
      return true;
    default:
      return false;
  }
}

// RFC 791 3.1 options in `opts` (`n` bytes, the header past its first 20):
// end of list (0) and no-operation (1) are one byte, every other option is
// type, length (>= 2, within the header), data. With `nop_uncopied` the
// options whose copied flag (bit 7 of the type) is clear become NOPs, for
// every fragment but the first (Linux ip_options_fragment). False when an
// option is malformed.
bool walk_ipv4_options(std::uint8_t* opts, std::size_t n, bool nop_uncopied) {
  std::size_t i = 0;
  while (i < n) {
    const std::uint8_t type = opts[i];
    if (type == 0) break;  // end of option list: the rest is padding
    if (type == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= n) return false;
    const std::size_t len = opts[i + 1];
    if (len < 2 || i + len > n) return false;
    if (nop_uncopied && (type & 0x80) == 0) std::memset(opts + i, 1, len);
    i += len;
  }
  return true;
}

}  // namespace

bool icmp4_error_allowed(const std::uint8_t* p, std::size_t len,
                         std::uint32_t subnet_broadcast_be) noexcept {
  if (len < kIpv4MinHeaderLen) return false;
  const std::size_t ihl = (p[0] & 0x0f) * 4u;
  if (ihl < kIpv4MinHeaderLen || ihl > len) return false;
  if ((get16(p + 6) & kOffsetMask) != 0) return false;  // not the first fragment
  std::uint32_t src_be, dst_be;
  std::memcpy(&src_be, p + 12, 4);
  std::memcpy(&dst_be, p + 16, 4);
  const std::uint8_t src0 = p[12], dst0 = p[16];
  // Not a unique host: "this network" 0/8, loopback 127/8, multicast 224/4,
  // class E 240/4 and the limited broadcast, the subnet's broadcast.
  if (src0 == 0 || src0 == 127 || src0 >= 224) return false;
  if (subnet_broadcast_be != 0 && src_be == subnet_broadcast_be) return false;
  if ((dst0 >= 224 && dst0 < 240) || dst_be == 0xffffffffu) return false;
  if (subnet_broadcast_be != 0 && dst_be == subnet_broadcast_be) return false;
  if (p[9] == kIpProtoIcmp) {
    if (len < ihl + 1) return false;
    return icmp_type_is_informational(p[ihl]);
  }
  return true;
}

bool icmp6_error_allowed(const std::uint8_t* p, std::size_t len) noexcept {
  if (len < kIpv6HeaderLen) return false;
  const std::uint8_t* src = p + 8;
  if (detail::ipv6_is_unspecified(src) || detail::ipv6_is_multicast(src)) return false;
  std::uint8_t next = p[6];
  std::size_t at = kIpv6HeaderLen;
  for (int headers = 0; headers < 8; ++headers) {
    switch (next) {
      case 0:   // hop-by-hop options
      case 43:  // routing
      case 60:  // destination options (RFC 8200 4.3 - 4.6)
        if (at + 2 > len) return false;
        next = p[at];
        at += (std::size_t{p[at + 1]} + 1) * 8;
        continue;
      case kIpProtoFragment6:  // RFC 8200 4.5
        if (at + 8 > len) return false;
        if ((get16(p + at + 2) & 0xfff8) != 0) return false;  // not the first fragment
        next = p[at];
        at += 8;
        continue;
      case kIpProtoIcmp6:
        if (at + 1 > len) return false;
        return p[at] >= 128;  // RFC 4443 2.1: types below 128 are errors
      default:
        return true;
    }
  }
  return false;
}

std::size_t build_icmp4_frag_needed(std::uint8_t* out, const std::uint8_t* packet, std::size_t len,
                                    std::uint32_t src_be, std::uint16_t mtu,
                                    std::uint16_t packet_id, bool forwarded) noexcept {
  const std::size_t quote =
      std::min(len, kIcmp4ErrorMaxLen - kIpv4MinHeaderLen - kIcmpErrorHeaderLen);
  const std::size_t icmp_len = kIcmpErrorHeaderLen + quote;
  const std::size_t total = kIpv4MinHeaderLen + icmp_len;

  std::uint8_t* icmp = out + kIpv4MinHeaderLen;
  icmp[0] = kIcmpDestUnreachable;
  icmp[1] = kIcmpCodeFragNeeded;
  put16(icmp + 2, 0);
  put16(icmp + 4, 0);    // unused (RFC 1191 4)
  put16(icmp + 6, mtu);  // next-hop MTU
  std::uint8_t* quoted = icmp + kIcmpErrorHeaderLen;
  std::memcpy(quoted, packet, quote);
  if (forwarded && quote >= kIpv4MinHeaderLen) {
    // Undo our TTL decrement in the copy (RFC 1624 on the quoted checksum).
    std::uint16_t old_word, new_word, cksum;
    std::memcpy(&old_word, quoted + 8, 2);
    ++quoted[8];
    std::memcpy(&new_word, quoted + 8, 2);
    std::memcpy(&cksum, quoted + 10, 2);
    cksum = checksum_adjust(cksum, old_word, new_word);
    std::memcpy(quoted + 10, &cksum, 2);
  }
  const std::uint16_t icmp_cksum = checksum_of(icmp, icmp_len);
  std::memcpy(icmp + 2, &icmp_cksum, 2);

  out[0] = 0x45;
  out[1] = kIcmpErrorTos;
  put16(out + 2, static_cast<std::uint32_t>(total));
  put16(out + 4, packet_id);
  put16(out + 6, 0);  // may itself be fragmented on the way (Linux: IP_PMTUDISC_DONT)
  out[8] = kIcmpErrorTtl;
  out[9] = kIpProtoIcmp;
  put16(out + 10, 0);
  std::memcpy(out + 12, &src_be, 4);
  std::memcpy(out + 16, packet + 12, 4);  // back to the packet's source
  const std::uint16_t ip_cksum = checksum_of(out, kIpv4MinHeaderLen);
  std::memcpy(out + 10, &ip_cksum, 2);
  return total;
}

std::size_t build_icmp6_packet_too_big(std::uint8_t* out, const std::uint8_t* packet,
                                       std::size_t len, const std::uint8_t* src16,
                                       std::uint32_t mtu, bool forwarded) noexcept {
  const std::size_t quote = std::min(len, kIcmp6ErrorMaxLen - kIpv6HeaderLen - kIcmpErrorHeaderLen);
  const std::size_t icmp_len = kIcmpErrorHeaderLen + quote;

  out[0] = 0x60;  // version 6, traffic class and flow label 0
  out[1] = out[2] = out[3] = 0;
  put16(out + 4, static_cast<std::uint32_t>(icmp_len));
  out[6] = kIpProtoIcmp6;
  out[7] = kDefaultHopLimit;
  std::memcpy(out + 8, src16, 16);
  std::memcpy(out + 24, packet + 8, 16);  // back to the packet's source

  std::uint8_t* icmp = out + kIpv6HeaderLen;
  icmp[0] = kIcmp6PacketTooBig;
  icmp[1] = 0;
  put16(icmp + 2, 0);
  put16(icmp + 4, mtu >> 16);
  put16(icmp + 6, mtu & 0xffff);
  std::uint8_t* quoted = icmp + kIcmpErrorHeaderLen;
  std::memcpy(quoted, packet, quote);
  if (forwarded && quote >= kIpv6HeaderLen) ++quoted[7];  // the hop limit as it arrived
  // RFC 4443 2.3: over the pseudo-header (RFC 8200 8.1) and the message.
  std::uint32_t sum = std::uint32_t{rte_ipv6_phdr_cksum(reinterpret_cast<rte_ipv6_hdr*>(out), 0)} +
                      rte_raw_cksum(icmp, icmp_len);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  const auto cksum = static_cast<std::uint16_t>(~sum);
  std::memcpy(icmp + 2, &cksum, 2);
  return kIpv6HeaderLen + icmp_len;
}

Ipv4FragmentPlan plan_ipv4_fragments(const std::uint8_t* p, std::size_t len,
                                     std::uint32_t mtu) noexcept {
  Ipv4FragmentPlan plan;
  const auto fail = [&plan](DropReason why) {
    plan.error = why;
    return plan;
  };
  if (len < kIpv4MinHeaderLen || (p[0] >> 4) != 4) return fail(DropReason::kBadInnerPacket);
  const std::size_t ihl = (p[0] & 0x0f) * 4u;
  if (ihl < kIpv4MinHeaderLen || ihl > len || get16(p + 2) != len)
    return fail(DropReason::kBadInnerPacket);
  const std::uint16_t frag = get16(p + 6);
  if ((frag & kFlagDf) != 0) return fail(DropReason::kPacketTooBig);
  if (mtu < ihl + 8) return fail(DropReason::kPacketTooBig);  // RFC 791: 68 is the least
  std::uint8_t header[60];
  std::memcpy(header, p, ihl);
  if (!walk_ipv4_options(header + kIpv4MinHeaderLen, ihl - kIpv4MinHeaderLen, false))
    return fail(DropReason::kBadIpHeader);
  const std::size_t data = len - ihl;
  if (static_cast<std::size_t>(frag & kOffsetMask) * 8 + data > 65535)
    return fail(DropReason::kBadIpLength);

  plan.header_len = static_cast<std::uint16_t>(ihl);
  plan.data_per_fragment = static_cast<std::uint16_t>((mtu - ihl) & ~std::uint32_t{7});
  plan.count =
      len <= mtu
          ? 1
          : static_cast<unsigned>((data + plan.data_per_fragment - 1) / plan.data_per_fragment);
  return plan;
}

std::size_t ipv4_fragment_length(const Ipv4FragmentPlan& plan, std::size_t len,
                                 unsigned index) noexcept {
  if (index + 1 < plan.count) return std::size_t{plan.header_len} + plan.data_per_fragment;
  return len - std::size_t{index} * plan.data_per_fragment;
}

std::size_t write_ipv4_fragment(std::uint8_t* out, const std::uint8_t* packet, std::size_t len,
                                const Ipv4FragmentPlan& plan, unsigned index) noexcept {
  const std::size_t ihl = plan.header_len;
  const std::size_t flen = ipv4_fragment_length(plan, len, index);
  const std::size_t skip = std::size_t{index} * plan.data_per_fragment;
  std::memcpy(out, packet, ihl);
  if (index > 0) walk_ipv4_options(out + kIpv4MinHeaderLen, ihl - kIpv4MinHeaderLen, true);
  std::memcpy(out + ihl, packet + ihl + skip, flen - ihl);

  const std::uint16_t frag = get16(packet + 6);
  const bool more = index + 1 < plan.count || (frag & kFlagMf) != 0;
  const std::uint32_t offset = (frag & kOffsetMask) + skip / 8;
  put16(out + 2, static_cast<std::uint32_t>(flen));
  put16(out + 6, (frag & ~(kFlagMf | kOffsetMask)) | (more ? kFlagMf : 0) | offset);
  put16(out + 10, 0);
  const std::uint16_t cksum = checksum_of(out, ihl);
  std::memcpy(out + 10, &cksum, 2);
  return flen;
}

}  // namespace wghub::dp
