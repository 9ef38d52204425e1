// Packets over the tunnel MTU (dataplane/pmtu.hpp): ICMP fragmentation needed
// (RFC 792, RFC 1191) and ICMPv6 Packet Too Big (RFC 4443 3.2) byte for byte,
// when an error may be sent at all (RFC 1812 4.3.2.7, RFC 4443 2.4 (e)), IPv4
// fragmentation (RFC 791 3.2) checked by reassembling, and the token bucket
// that rate limits the errors. Expected bytes are built here independently of
// the code under test; checksums are verified by recomputation.
#include <gtest/gtest.h>

#include <map>

#include "dataplane/context.hpp"
#include "dataplane/pmtu.hpp"
#include "dataplane/token_bucket.hpp"
#include "frames.hpp"

namespace wghub::dp {
namespace {

using test::Bytes;
using test::get16;
using test::internet_checksum;
using test::put16;

const std::uint32_t kHubLan = test::ip(10, 0, 0, 1);
const std::uint32_t kHost = test::ip(10, 0, 0, 10);
const std::uint32_t kSite = test::ip(10, 1, 0, 5);
const std::uint32_t kLanBroadcast = test::ip(10, 0, 0, 255);

// An IPv4 packet of `total` bytes (header `options` included), protocol
// `proto`, payload bytes i*7+3, TTL `ttl`, flags/offset word `frag`.
Bytes ipv4(std::size_t total, std::uint16_t frag = 0, std::uint8_t proto = 17,
           std::uint32_t src = kHost, std::uint32_t dst = kSite, std::uint8_t ttl = 64,
           const Bytes& options = {}) {
  const std::size_t ihl = 20 + options.size();
  Bytes p(total, 0);
  p[0] = static_cast<std::uint8_t>(0x40 | ihl / 4);
  put16(p, 2, static_cast<std::uint16_t>(total));
  put16(p, 4, 0x1234);
  put16(p, 6, frag);
  p[8] = ttl;
  p[9] = proto;
  test::put_ip(p, 12, src);
  test::put_ip(p, 16, dst);
  std::copy(options.begin(), options.end(), p.begin() + 20);
  for (std::size_t i = ihl; i < total; ++i) p[i] = static_cast<std::uint8_t>(i * 7 + 3);
  put16(p, 10, internet_checksum(p.data(), ihl));
  return p;
}

// The router's TTL decrement, header checksum recomputed.
Bytes decremented(Bytes p) {
  --p[8];
  put16(p, 10, 0);
  put16(p, 10, internet_checksum(p.data(), (p[0] & 0xf) * 4u));
  return p;
}

test::Ip6 v6(const char* which) {
  if (std::string(which) == "host") return test::ip6(0xfd00, 0, 0x10);
  if (std::string(which) == "hub") return test::ip6(0xfd00, 0, 0x01);
  return test::ip6(0xfd00, 7, 0x05);  // a site
}

// An IPv6 packet of `total` bytes: header, `ext` (extension headers, the
// first one's type in `next`), then the upper layer (`upper`) padded with
// bytes i*5+1.
Bytes ipv6(std::size_t total, std::uint8_t next = 17, const Bytes& ext = {},
           const test::Ip6& src = v6("host"), const test::Ip6& dst = v6("site"),
           std::uint8_t hop = 64) {
  Bytes p(total, 0);
  p[0] = 0x60;
  put16(p, 4, static_cast<std::uint16_t>(total - 40));
  p[6] = next;
  p[7] = hop;
  std::copy(src.begin(), src.end(), p.begin() + 8);
  std::copy(dst.begin(), dst.end(), p.begin() + 24);
  std::copy(ext.begin(), ext.end(), p.begin() + 40);
  for (std::size_t i = 40 + ext.size(); i < total; ++i) p[i] = static_cast<std::uint8_t>(i * 5 + 1);
  return p;
}

// ------------------------------------------------------ ICMP frag needed

TEST(IcmpFragNeeded, QuotesAs576BytesAllowAndShowsTheTtlAsItArrived) {
  const Bytes arrived = ipv4(1500, 0x4000);  // DF
  const Bytes forwarded = decremented(arrived);
  Bytes out(kIcmp4ErrorMaxLen, 0xee);
  const std::size_t n = build_icmp4_frag_needed(out.data(), forwarded.data(), forwarded.size(),
                                                kHubLan, 1420, 0x0777, /*forwarded=*/true);
  ASSERT_EQ(n, 576u);

  Bytes want(576, 0);
  want[0] = 0x45;
  want[1] = 0xc0;  // precedence 6 (RFC 1812 4.3.2.5)
  put16(want, 2, 576);
  put16(want, 4, 0x0777);
  want[8] = 64;
  want[9] = 1;
  test::put_ip(want, 12, kHubLan);
  test::put_ip(want, 16, kHost);
  want[20] = 3;  // destination unreachable
  want[21] = 4;  // fragmentation needed and DF set
  put16(want, 26, 1420);
  std::copy(arrived.begin(), arrived.begin() + 548, want.begin() + 28);
  put16(want, 22, internet_checksum(&want[20], 556));
  put16(want, 10, internet_checksum(want.data(), 20));
  EXPECT_EQ(out, want);

  // Checksums verify over what was written (a valid sum recomputes to 0).
  EXPECT_EQ(internet_checksum(out.data(), 20), 0);
  EXPECT_EQ(internet_checksum(&out[20], n - 20), 0);
  // The quoted header is the packet as it arrived: TTL 64, its checksum valid.
  EXPECT_EQ(out[28 + 8], 64);
  EXPECT_EQ(internet_checksum(&out[28], 20), 0);
}

TEST(IcmpFragNeeded, ShortPacketIsQuotedWhole) {
  const Bytes p = ipv4(100, 0x4000);
  Bytes out(kIcmp4ErrorMaxLen, 0);
  const std::size_t n =
      build_icmp4_frag_needed(out.data(), p.data(), p.size(), kHubLan, 1420, 1, false);
  ASSERT_EQ(n, 20u + 8u + 100u);
  EXPECT_EQ(get16(out, 2), n);
  EXPECT_TRUE(std::equal(p.begin(), p.end(), out.begin() + 28));
  EXPECT_EQ(internet_checksum(&out[20], n - 20), 0);
  EXPECT_EQ(get16(out, 26), 1420);
}

// ------------------------------------------------------ ICMPv6 PTB

TEST(Icmp6PacketTooBig, FillsTheMinimumMtuWithTheQuote) {
  const Bytes arrived = ipv6(1500);
  Bytes forwarded = arrived;
  --forwarded[7];
  const test::Ip6 hub = v6("hub");
  Bytes out(kIcmp6ErrorMaxLen, 0xee);
  const std::size_t n = build_icmp6_packet_too_big(out.data(), forwarded.data(), forwarded.size(),
                                                   hub.data(), 1420, /*forwarded=*/true);
  ASSERT_EQ(n, 1280u);

  Bytes want(1280, 0);
  want[0] = 0x60;
  put16(want, 4, 1240);
  want[6] = 58;
  want[7] = 64;
  std::copy(hub.begin(), hub.end(), want.begin() + 8);
  const test::Ip6 host = v6("host");
  std::copy(host.begin(), host.end(), want.begin() + 24);
  want[40] = 2;  // Packet Too Big
  want[41] = 0;
  put16(want, 44, 0);
  put16(want, 46, 1420);  // MTU, 32 bits
  std::copy(arrived.begin(), arrived.begin() + 1232, want.begin() + 48);
  put16(want, 42, test::ipv6_upper_checksum(hub, host, 58, &want[40], 1240));
  EXPECT_EQ(out, want);
  EXPECT_EQ(test::ipv6_upper_checksum(hub, host, 58, &out[40], 1240), 0);
  EXPECT_EQ(out[48 + 7], 64) << "the quoted hop limit as it arrived";
}

TEST(Icmp6PacketTooBig, ShortPacketIsQuotedWhole) {
  const Bytes p = ipv6(200);
  const test::Ip6 hub = v6("hub");
  Bytes out(kIcmp6ErrorMaxLen, 0);
  const std::size_t n =
      build_icmp6_packet_too_big(out.data(), p.data(), p.size(), hub.data(), 1420, false);
  ASSERT_EQ(n, 40u + 8u + 200u);
  EXPECT_EQ(get16(out, 4), 208);
  EXPECT_TRUE(std::equal(p.begin(), p.end(), out.begin() + 48));
  EXPECT_EQ(test::ipv6_upper_checksum(hub, v6("host"), 58, &out[40], 208), 0);
}

// ------------------------------------------------------ may we answer?

TEST(IcmpErrorAllowed, Ipv4FollowsRfc1812) {
  const auto allowed = [](const Bytes& p) {
    return icmp4_error_allowed(p.data(), p.size(), kLanBroadcast);
  };
  EXPECT_TRUE(allowed(ipv4(1500, 0x4000)));
  EXPECT_TRUE(allowed(ipv4(1500, 0x2000))) << "the first fragment (MF, offset 0)";
  EXPECT_FALSE(allowed(ipv4(1500, 0x2000 | 185))) << "a later fragment";
  EXPECT_FALSE(allowed(ipv4(1500, 185))) << "the last fragment";

  Bytes echo = ipv4(1500, 0x4000, 1);
  echo[20] = 8;  // echo request: informational
  EXPECT_TRUE(allowed(echo));
  for (std::uint8_t error_type : {3, 4, 5, 11, 12, 42}) {
    Bytes icmp_error = ipv4(1500, 0x4000, 1);
    icmp_error[20] = error_type;
    EXPECT_FALSE(allowed(icmp_error)) << "ICMP type " << int{error_type};
  }
  EXPECT_FALSE(allowed(ipv4(20, 0x4000, 1))) << "an ICMP message too short to tell";

  for (std::uint32_t src :
       {test::ip(0, 0, 0, 0), test::ip(0, 1, 2, 3), test::ip(127, 0, 0, 1), test::ip(224, 0, 0, 5),
        test::ip(240, 0, 0, 1), test::ip(255, 255, 255, 255), kLanBroadcast})
    EXPECT_FALSE(allowed(ipv4(1500, 0x4000, 17, src))) << "source " << std::hex << src;
  for (std::uint32_t dst : {test::ip(224, 0, 0, 251), test::ip(239, 1, 2, 3),
                            test::ip(255, 255, 255, 255), kLanBroadcast})
    EXPECT_FALSE(allowed(ipv4(1500, 0x4000, 17, kHost, dst))) << "destination " << std::hex << dst;
}

TEST(IcmpErrorAllowed, Ipv6FollowsRfc4443) {
  const auto allowed = [](const Bytes& p) { return icmp6_error_allowed(p.data(), p.size()); };
  EXPECT_TRUE(allowed(ipv6(1500)));
  Bytes echo = ipv6(1500, 58);
  echo[40] = 128;
  EXPECT_TRUE(allowed(echo));
  for (std::uint8_t error_type : {1, 2, 3, 4, 100}) {
    Bytes e = ipv6(1500, 58);
    e[40] = error_type;
    EXPECT_FALSE(allowed(e)) << "ICMPv6 type " << int{error_type};
  }
  EXPECT_FALSE(allowed(ipv6(1500, 17, {}, test::Ip6{})));
  test::Ip6 multicast{};
  multicast[0] = 0xff;
  multicast[1] = 0x02;
  multicast[15] = 1;
  EXPECT_FALSE(allowed(ipv6(1500, 17, {}, multicast)));
  EXPECT_TRUE(allowed(ipv6(1500, 17, {}, v6("host"), multicast))) << "RFC 4443 2.4 (e.2)";

  // Fragment header (RFC 8200 4.5): next header, reserved, offset | M, id.
  const Bytes first = {17, 0, 0x00, 0x01, 0, 0, 0, 9};
  const Bytes later = {17, 0, 0x05, 0x01, 0, 0, 0, 9};
  EXPECT_TRUE(allowed(ipv6(1500, 44, first)));
  EXPECT_FALSE(allowed(ipv6(1500, 44, later)));
  // Hop-by-hop options (8 bytes) in front of an ICMPv6 error.
  Bytes hbh_error = ipv6(1500, 0, {58, 0, 1, 4, 0, 0, 0, 0});
  hbh_error[48] = 1;
  EXPECT_FALSE(allowed(hbh_error));
  Bytes hbh_echo = ipv6(1500, 0, {58, 0, 1, 4, 0, 0, 0, 0});
  hbh_echo[48] = 128;
  EXPECT_TRUE(allowed(hbh_echo));
  // An extension header whose length runs off the packet.
  EXPECT_FALSE(allowed(ipv6(48, 60, {58, 200, 0, 0, 0, 0, 0, 0})));
}

// ------------------------------------------------------ fragmentation

struct Fragment {
  Bytes bytes;
  std::uint16_t offset_units;
  bool more;
};

std::vector<Fragment> fragment(const Bytes& p, std::uint32_t mtu,
                               Ipv4FragmentPlan* plan_out = nullptr) {
  const Ipv4FragmentPlan plan = plan_ipv4_fragments(p.data(), p.size(), mtu);
  if (plan_out != nullptr) *plan_out = plan;
  std::vector<Fragment> out;
  if (plan.error != DropReason::kNone) return out;
  for (unsigned i = 0; i < plan.count; ++i) {
    Bytes f(ipv4_fragment_length(plan, p.size(), i), 0xee);
    EXPECT_EQ(write_ipv4_fragment(f.data(), p.data(), p.size(), plan, i), f.size());
    const std::uint16_t word = get16(f, 6);
    out.push_back({f, static_cast<std::uint16_t>(word & 0x1fff), (word & 0x2000) != 0});
  }
  return out;
}

// Checks every fragment's header against the original's and puts the data
// back together by offset: the bytes at the original's offset onwards.
Bytes reassemble(const Bytes& original, const std::vector<Fragment>& frags, std::uint32_t mtu) {
  const std::size_t ihl = (original[0] & 0xf) * 4u;
  std::map<std::size_t, Bytes> by_offset;
  for (std::size_t i = 0; i < frags.size(); ++i) {
    const Bytes& f = frags[i].bytes;
    EXPECT_LE(f.size(), mtu) << "fragment " << i;
    EXPECT_EQ(f[0], original[0]) << "same header length, fragment " << i;
    EXPECT_EQ(get16(f, 2), f.size()) << "total length, fragment " << i;
    EXPECT_EQ(get16(f, 4), get16(original, 4)) << "identification, fragment " << i;
    EXPECT_EQ(get16(f, 6) & 0x4000, 0) << "DF stays clear, fragment " << i;
    EXPECT_EQ(f[8], original[8]);
    EXPECT_EQ(f[9], original[9]);
    EXPECT_TRUE(std::equal(f.begin() + 12, f.begin() + 20, original.begin() + 12));
    EXPECT_EQ(internet_checksum(f.data(), ihl), 0) << "header checksum, fragment " << i;
    const std::size_t data = f.size() - ihl;
    if (i + 1 < frags.size()) {
      EXPECT_EQ(data % 8, 0u) << "fragment " << i;
    }
    by_offset[frags[i].offset_units * 8u] = Bytes(f.begin() + ihl, f.end());
  }
  Bytes data;
  const std::size_t start = (get16(original, 6) & 0x1fff) * 8u;
  for (const auto& [offset, bytes] : by_offset) {
    EXPECT_EQ(offset, start + data.size()) << "no gap, no overlap";
    data.insert(data.end(), bytes.begin(), bytes.end());
  }
  return data;
}

Bytes payload_of(const Bytes& p) {
  return Bytes(p.begin() + (p[0] & 0xf) * 4, p.end());
}

TEST(Fragment, FifteenHundredBytesBecomeTwo) {
  const Bytes p = ipv4(1500);
  Ipv4FragmentPlan plan;
  const auto frags = fragment(p, 1420, &plan);
  ASSERT_EQ(plan.error, DropReason::kNone);
  EXPECT_EQ(plan.data_per_fragment, 1400);
  ASSERT_EQ(frags.size(), 2u);
  EXPECT_EQ(frags[0].bytes.size(), 1420u);
  EXPECT_EQ(frags[1].bytes.size(), 100u);
  EXPECT_EQ(frags[0].offset_units, 0);
  EXPECT_EQ(frags[1].offset_units, 175);
  EXPECT_TRUE(frags[0].more);
  EXPECT_FALSE(frags[1].more);
  EXPECT_EQ(reassemble(p, frags, 1420), payload_of(p));
}

TEST(Fragment, OneByteOverTheMtu) {
  const Bytes p = ipv4(1421);
  const auto frags = fragment(p, 1420);
  ASSERT_EQ(frags.size(), 2u);
  EXPECT_EQ(frags[0].bytes.size(), 1420u);
  EXPECT_EQ(frags[1].bytes.size(), 21u);
  EXPECT_EQ(reassemble(p, frags, 1420), payload_of(p));
}

TEST(Fragment, APacketThatFitsIsItself) {
  for (std::size_t len : {20u, 28u, 1419u, 1420u}) {
    const Bytes p = ipv4(len);
    const auto frags = fragment(p, 1420);
    ASSERT_EQ(frags.size(), 1u) << len;
    EXPECT_EQ(frags[0].bytes, p) << len;
  }
}

TEST(Fragment, LargestPacket) {
  const Bytes p = ipv4(65535);
  const auto frags = fragment(p, 1420);
  EXPECT_EQ(frags.size(), 47u);  // 65515 bytes of data, 1400 a fragment
  EXPECT_EQ(reassemble(p, frags, 1420), payload_of(p));
}

TEST(Fragment, AFragmentKeepsTheOriginalNumbering) {
  // A middle fragment (offset 100 units = 800 bytes, MF): every piece has MF.
  const Bytes middle = ipv4(1500, 0x2000 | 100);
  auto frags = fragment(middle, 1420);
  ASSERT_EQ(frags.size(), 2u);
  EXPECT_EQ(frags[0].offset_units, 100);
  EXPECT_EQ(frags[1].offset_units, 275);
  EXPECT_TRUE(frags[0].more);
  EXPECT_TRUE(frags[1].more) << "more of the original follows";
  EXPECT_EQ(reassemble(middle, frags, 1420), payload_of(middle));

  // The original's last fragment: only the last piece has MF clear.
  const Bytes last = ipv4(1500, 100);
  frags = fragment(last, 1420);
  ASSERT_EQ(frags.size(), 2u);
  EXPECT_TRUE(frags[0].more);
  EXPECT_FALSE(frags[1].more);
  EXPECT_EQ(reassemble(last, frags, 1420), payload_of(last));
}

TEST(Fragment, OptionsWithoutTheCopiedFlagBecomeNopsAfterTheFirst) {
  // Record route (7, not copied, 7 bytes), router alert (148, copied, 4
  // bytes), end of list: 12 bytes, IHL 8 (32 bytes).
  const Bytes options = {7, 7, 4, 0, 0, 0, 0, 148, 4, 0, 0, 0};
  const Bytes p = ipv4(1500, 0, 17, kHost, kSite, 64, options);
  Ipv4FragmentPlan plan;
  const auto frags = fragment(p, 1420, &plan);
  ASSERT_EQ(plan.error, DropReason::kNone);
  EXPECT_EQ(plan.header_len, 32);
  EXPECT_EQ(plan.data_per_fragment, 1384);  // (1420 - 32) rounded down to 8
  ASSERT_EQ(frags.size(), 2u);
  EXPECT_TRUE(std::equal(options.begin(), options.end(), frags[0].bytes.begin() + 20));
  const Bytes later = {1, 1, 1, 1, 1, 1, 1, 148, 4, 0, 0, 0};
  EXPECT_TRUE(std::equal(later.begin(), later.end(), frags[1].bytes.begin() + 20));
  EXPECT_EQ(reassemble(p, frags, 1420), payload_of(p));
}

TEST(Fragment, MinimumMtu) {
  // RFC 791: 68 bytes must pass unfragmented: a 60-byte header and 8 bytes.
  Bytes options(40, 1);  // 40 NOPs
  const Bytes p = ipv4(200, 0, 17, kHost, kSite, 64, options);
  const auto frags = fragment(p, 68);
  ASSERT_EQ(frags.size(), 18u);  // 140 bytes of data, 8 a fragment
  EXPECT_EQ(reassemble(p, frags, 68), payload_of(p));

  Ipv4FragmentPlan plan;
  fragment(p, 67, &plan);
  EXPECT_EQ(plan.error, DropReason::kPacketTooBig) << "no room for 8 bytes of data";
}

TEST(Fragment, RefusesWhatItMustNotCut) {
  Ipv4FragmentPlan plan;
  fragment(ipv4(1500, 0x4000), 1420, &plan);
  EXPECT_EQ(plan.error, DropReason::kPacketTooBig) << "DF";
  fragment(ipv4(1500, 0, 17, kHost, kSite, 64, {7, 9, 4, 0}), 1420, &plan);
  EXPECT_EQ(plan.error, DropReason::kBadIpHeader) << "an option running off the header";
  fragment(ipv4(1500, 0, 17, kHost, kSite, 64, {7, 1, 0, 0}), 1420, &plan);
  EXPECT_EQ(plan.error, DropReason::kBadIpHeader) << "an option length below 2";
  fragment(ipv4(1500, 8100), 1420, &plan);
  EXPECT_EQ(plan.error, DropReason::kBadIpLength) << "offset + data past 65535";
  Bytes wrong_length = ipv4(1500);
  wrong_length.pop_back();
  fragment(wrong_length, 1420, &plan);
  EXPECT_EQ(plan.error, DropReason::kBadInnerPacket);
}

// ------------------------------------------------------ rate limit

TEST(TokenBucket, BurstThenRate) {
  constexpr std::uint64_t kHz = 1'000'000;  // a tick is a microsecond
  TokenBucket b(100, 50, kHz);              // 100/s: a token every 10'000 ticks
  std::uint64_t now = 5'000'000;
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(b.take(now)) << i;
  EXPECT_FALSE(b.take(now));
  EXPECT_FALSE(b.take(now + 9'999));
  EXPECT_TRUE(b.take(now + 10'000));
  EXPECT_FALSE(b.take(now + 10'000));
  // Time earned past a whole token is kept: 1.5 tokens, then 0.5 more.
  EXPECT_TRUE(b.take(now + 25'000));
  EXPECT_FALSE(b.take(now + 25'000));
  EXPECT_TRUE(b.take(now + 30'000));
  // A long idle fills the bucket, no more.
  now += 3'600'000'000ull;
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(b.take(now)) << i;
  EXPECT_FALSE(b.take(now));
}

TEST(TokenBucket, ZeroRateIsAFixedAllowance) {
  TokenBucket b(0, 3, 1000);
  EXPECT_TRUE(b.take(1));
  EXPECT_TRUE(b.take(2));
  EXPECT_TRUE(b.take(1'000'000'000));
  EXPECT_FALSE(b.take(5'000'000'000));
  TokenBucket none(100, 0, 1000);
  EXPECT_FALSE(none.take(1'000'000));
}

TEST(TokenBucket, HubLimitIsSharedByTheWorkers) {
  const IcmpErrorLimit limit{100, 50};
  EXPECT_EQ(limit.share(1, 1000).tokens(), 50u);
  EXPECT_EQ(limit.share(4, 1000).tokens(), 12u);  // 4 x 12 <= 50
  EXPECT_EQ(limit.share(64, 1000).tokens(), 1u);  // never none at all
  const IcmpErrorLimit off{0, 0};
  EXPECT_EQ(off.share(2, 1000).tokens(), 0u);
  // 4 workers at 25/s each: one token per 40 ms of a 1000 Hz clock.
  TokenBucket b = limit.share(4, 1000);
  for (int i = 0; i < 12; ++i) EXPECT_TRUE(b.take(7));
  EXPECT_FALSE(b.take(46));
  EXPECT_TRUE(b.take(47));
}

}  // namespace
}  // namespace wghub::dp
