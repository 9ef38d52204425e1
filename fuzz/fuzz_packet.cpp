// Fuzz target: the receive classifiers (classify_wan / classify_lan), ARP
// parsing and answering, the inner-packet parser and the TTL decrement. The
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
//   split: bytes in the first segment (0 = the whole frame)
#include <rte_byteorder.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "dataplane/arp.hpp"
#include "dataplane/packet.hpp"
#include "fuzz/fuzz_common.hpp"

namespace {

using namespace wghub::dp;
using wghub::fuzz::check;

const LocalAddress kWan{
    {{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}}, ipv4_be(198, 51, 100, 10), RTE_BE16(51820)};

std::uint16_t checksum_of(const std::uint8_t* p, std::uint32_t len) {
  return static_cast<std::uint16_t>(~rte_raw_cksum(p, len));
}

void apply_fixups(std::vector<std::uint8_t>& f, std::uint8_t flags) {
  if ((flags & 0x01) && f.size() >= 6) std::memcpy(f.data(), kWan.mac.addr_bytes, 6);
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

// The inner-packet helpers on `p` (a decrypted plaintext, as the worker sees it).
void inner(const std::uint8_t* p, std::uint32_t n) {
  InnerPacket out;
  if (parse_inner(p, n, out) != DropReason::kNone) return;
  check(out.length <= n && (out.version == 4 || out.version == 6), "parse_inner result");
  if (out.version != 4) return;
  std::vector<std::uint8_t> copy(p, p + out.length);
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

  if (wan.kind == Classify::kArp || lan.kind == Classify::kArp) {
    ArpMessage msg;
    if (parse_arp(seg.get(), contiguous, msg))
      check(msg.op == 1 || msg.op == 2, "parse_arp accepted an unknown op");
    std::vector<std::uint8_t> copy(seg.get(), seg.get() + contiguous);
    if (answer_arp_in_place(copy.data(), contiguous, kWan.ip_be, kWan.mac)) {
      ArpMessage reply;
      check(parse_arp(copy.data(), contiguous, reply), "our ARP reply does not parse");
      check(reply.op == 2 && reply.sender_ip_be == kWan.ip_be, "our ARP reply's content");
    }
  }
  if (wan.kind == Classify::kWireGuard && wan.payload_offset < contiguous)
    inner(seg.get() + wan.payload_offset,
          std::min<std::uint32_t>(wan.payload_len, contiguous - wan.payload_offset));
  if (contiguous > kEthernetHeaderLen)
    inner(seg.get() + kEthernetHeaderLen, contiguous - kEthernetHeaderLen);
  return 0;
}
