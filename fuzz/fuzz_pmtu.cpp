// Fuzz target: packets over the tunnel MTU (dataplane/pmtu.hpp), which reads
// LAN packets and decrypted inner packets alike: the ICMP / ICMPv6 error rules
// (an extension-header walk on untrusted bytes), the frag-needed and Packet
// Too Big builders, and IPv4 fragmentation. The packet lies in a buffer
// exactly its size, so ASan reports any read past it.
//
// Properties checked on every input:
//   - an error is 28 + min(len, 548) (IPv4) or 48 + min(len, 1232) (IPv6)
//     bytes, its checksums verify, and it quotes the packet as given (but for
//     the TTL / hop limit it restores and the quoted header checksum);
//   - a packet the fragmenter accepts comes out as fragments of at most the
//     MTU (a packet that fits: itself), each with the original's header length,
//     a valid header checksum, its total length, data a multiple of 8 but for
//     the last, offsets that follow on from the original's, MF on all but the
//     last; their data put together is the original's.
//
// Input: [flags][mtu][packet...]
//   flags bit 0: set an IPv4 packet's total length to its size (reaches the
//                fragmenter)                     bit 1: clear DF
//         bit 2: MTU 1420 instead of 68 + 8 * mtu
//         bit 3: the errors are built with `forwarded` (restore TTL / hop limit)
//
// Seeds (fuzz/corpus/fuzz_pmtu/, written by hand rather than by fuzz_seeds):
// IPv4 1500 bytes with and without DF, a middle fragment, options at the
// 68-byte minimum MTU, an ICMP error, IPv6 1500 bytes plain, behind a
// fragment header, behind hop-by-hop options with ICMPv6.
#include <rte_ip.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "dataplane/packet.hpp"
#include "dataplane/pmtu.hpp"
#include "fuzz/fuzz_common.hpp"

namespace {

using namespace wghub;
using fuzz::check;

std::uint16_t get16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}

void errors(const std::vector<std::uint8_t>& p, bool forwarded) {
  const std::size_t len = p.size();
  (void)dp::icmp4_error_allowed(p.data(), len, dp::ipv4_be(10, 0, 0, 255));
  (void)dp::icmp6_error_allowed(p.data(), len);
  if (len >= dp::kIpv4MinHeaderLen) {
    std::vector<std::uint8_t> out(dp::kIcmp4ErrorMaxLen);
    const std::size_t n = dp::build_icmp4_frag_needed(out.data(), p.data(), len,
                                                      dp::ipv4_be(10, 0, 0, 1), 1420, 7, forwarded);
    const std::size_t quote = std::min<std::size_t>(len, 548);
    check(n == 28 + quote, "ICMP error length");
    check(rte_raw_cksum(out.data(), 20) == 0xffff, "ICMP error IP checksum");
    check(rte_raw_cksum(out.data() + 20, n - 20) == 0xffff, "ICMP checksum");
    check(get16(out.data() + 26) == 1420, "next-hop MTU");
    for (std::size_t i = 0; i < quote; ++i) {
      if (forwarded && (i == 8 || i == 10 || i == 11)) continue;
      check(out[28 + i] == p[i], "ICMP quote");
    }
  }
  if (len >= dp::kIpv6HeaderLen) {
    std::vector<std::uint8_t> out(dp::kIcmp6ErrorMaxLen);
    const std::uint8_t src[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const std::size_t n =
        dp::build_icmp6_packet_too_big(out.data(), p.data(), len, src, 1420, forwarded);
    const std::size_t quote = std::min<std::size_t>(len, 1232);
    check(n == 48 + quote, "Packet Too Big length");
    check(dp::detail::ipv6_l4_checksum_ok(reinterpret_cast<const rte_ipv6_hdr*>(out.data()),
                                          out.data() + 40, n - 40),
          "ICMPv6 checksum");
    for (std::size_t i = 0; i < quote; ++i) {
      if (forwarded && i == 7) continue;
      check(out[48 + i] == p[i], "ICMPv6 quote");
    }
  }
}

void fragments(const std::vector<std::uint8_t>& p, std::uint32_t mtu) {
  const std::size_t len = p.size();
  const dp::Ipv4FragmentPlan plan = dp::plan_ipv4_fragments(p.data(), len, mtu);
  if (plan.error != dp::DropReason::kNone) return;
  const std::size_t ihl = plan.header_len;
  check(ihl >= 20 && ihl <= len && plan.count >= 1, "plan");
  check(plan.count == 1 || plan.data_per_fragment % 8 == 0, "data per fragment");
  std::vector<std::uint8_t> data;
  const std::uint16_t frag0 = get16(p.data() + 6);
  for (unsigned i = 0; i < plan.count; ++i) {
    std::vector<std::uint8_t> f(dp::ipv4_fragment_length(plan, len, i));
    check(f.size() > ihl || (plan.count == 1 && f.size() == ihl), "fragment has data");
    check(f.size() <= std::max<std::size_t>(mtu, plan.count == 1 ? len : 0), "fragment fits");
    check(dp::write_ipv4_fragment(f.data(), p.data(), len, plan, i) == f.size(), "written");
    check(f[0] == p[0], "header length kept");
    check(get16(f.data() + 2) == f.size(), "total length");
    check(rte_raw_cksum(f.data(), ihl) == 0xffff, "header checksum");
    const std::uint16_t frag = get16(f.data() + 6);
    check((frag & 0x1fff) == (frag0 & 0x1fff) + data.size() / 8, "offset follows on");
    const bool last = i + 1 == plan.count;
    check(((frag & 0x2000) != 0) == (!last || (frag0 & 0x2000) != 0), "MF");
    if (!last) check((f.size() - ihl) % 8 == 0, "data a multiple of 8");
    data.insert(data.end(), f.begin() + static_cast<std::ptrdiff_t>(ihl), f.end());
  }
  check(data.size() == len - ihl &&
            std::equal(data.begin(), data.end(), p.begin() + static_cast<std::ptrdiff_t>(ihl)),
        "fragments put together are the original");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size) {
  if (size < 2 || size > 2 + 65535) return 0;
  const std::uint8_t flags = input[0];
  const std::uint32_t mtu = (flags & 4) != 0 ? 1420 : 68 + 8u * input[1];
  std::vector<std::uint8_t> p(input + 2, input + size);
  if ((flags & 1) != 0 && p.size() >= 4) {
    p[2] = static_cast<std::uint8_t>(p.size() >> 8);
    p[3] = static_cast<std::uint8_t>(p.size());
  }
  if ((flags & 2) != 0 && p.size() >= 7) p[6] &= 0xbf;
  errors(p, (flags & 8) != 0);
  fragments(p, mtu);
  return 0;
}
