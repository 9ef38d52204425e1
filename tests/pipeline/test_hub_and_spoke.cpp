// Site to site through the hub, once for each address family (a typed test):
// both sites send each other 300 inner UDP packets of every size up to the
// tunnel MTU; each must come out re-encrypted to the other site, decrypt with
// its keys, carry the payload that was sent, with the hop count one less and
// the addresses unchanged, and nothing may be dropped.
#include "tests/pipeline/pipeline_test.hpp"

namespace wghub::pipeline {
namespace {

struct V4 {
  static HarnessOptions options() { return {}; }
  static constexpr std::size_t kHeaders = 20 + 8;
  static std::uint32_t host_a() { return ip4(10, 1, 0, 5); }
  static std::uint32_t host_b() { return ip4(10, 2, 0, 7); }
  static Bytes udp(std::uint32_t src, std::uint32_t dst, unsigned seq, std::size_t len) {
    return inner_udp(src, dst, seq, len);
  }
  static auto parse(const Bytes& p) { return parse_ipv4(p); }
  static std::uint8_t hops(const ParsedIpv4& p) { return p.ttl; }
  static bool checksum_ok(const ParsedIpv4& p) { return p.checksum_ok; }
};

struct V6 {
  static HarnessOptions options() { return dual_stack(); }
  static constexpr std::size_t kHeaders = 40 + 8;
  static Ip6 host_a() { return kSiteAHost6; }
  static Ip6 host_b() { return kSiteBHost6; }
  static Bytes udp(const Ip6& src, const Ip6& dst, unsigned seq, std::size_t len) {
    return udp6_packet(src, dst, 1000, 2000, pattern_payload(seq, len), 64);
  }
  static auto parse(const Bytes& p) { return parse_ipv6(p); }
  static std::uint8_t hops(const ParsedIpv6& p) { return p.hop_limit; }
  static bool checksum_ok(const ParsedIpv6&) { return true; }  // IPv6 has no header checksum
};

template <typename Family>
class HubAndSpoke : public PipelineTest {
 protected:
  void SetUp() override { rebuild(Family::options()); }
  static std::size_t payload_len(unsigned i) { return (i * 131u) % (1420 - Family::kHeaders + 1); }
};

using Families = ::testing::Types<V4, V6>;
TYPED_TEST_SUITE(HubAndSpoke, Families);

TYPED_TEST(HubAndSpoke, EachSiteReceivesWhatTheOtherSent) {
  using F = TypeParam;
  Harness& h = this->h();
  SimPeer& a = h.peer("site-a");
  SimPeer& b = h.peer("site-b");
  ASSERT_TRUE(h.establish(a));
  ASSERT_TRUE(h.establish(b));
  const dp::LcoreStats before = h.stats();

  constexpr unsigned kEach = 300;
  for (unsigned i = 0; i < kEach; ++i) {
    h.send(a, a.seal(F::udp(F::host_a(), F::host_b(), i, this->payload_len(i))));
    h.send(b, b.seal(F::udp(F::host_b(), F::host_a(), i, this->payload_len(i + 1))));
  }
  h.run();
  EXPECT_TRUE(h.take_lan().empty());
  const std::vector<Bytes> wan = h.take_wan();
  ASSERT_EQ(wan.size(), 2 * kEach);
  unsigned to_a = 0, to_b = 0;
  for (const Bytes& f : wan) {
    const auto pf = parse_frame(f);
    ASSERT_TRUE(pf.has_value());
    const bool for_b = pf->dst_ip == b.outer().ip;
    SimPeer& dst = for_b ? b : a;
    const auto opened = dst.open(wireguard_payload_to(f, h.hub_wan(), dst.outer()));
    ASSERT_TRUE(opened.has_value()) << "re-encrypted to " << dst.name() << " must decrypt";
    const auto inner = F::parse(opened->plaintext);
    ASSERT_TRUE(inner.has_value());
    const unsigned seq = for_b ? to_b++ : to_a++;
    EXPECT_EQ(F::hops(*inner), 63);
    EXPECT_TRUE(F::checksum_ok(*inner));
    EXPECT_EQ(inner->src, for_b ? F::host_a() : F::host_b());
    EXPECT_EQ(inner->dst, for_b ? F::host_b() : F::host_a());
    ASSERT_GE(inner->payload.size(), 8u);
    const Bytes data(inner->payload.begin() + 8, inner->payload.end());
    EXPECT_EQ(data,
              pattern_payload(seq, for_b ? this->payload_len(seq) : this->payload_len(seq + 1)))
        << "packet " << seq << " to " << dst.name();
  }
  EXPECT_EQ(to_a, kEach);
  EXPECT_EQ(to_b, kEach);
  const dp::LcoreStats after = h.stats();
  EXPECT_EQ(after.decrypted_packets - before.decrypted_packets, 2 * kEach);
  EXPECT_EQ(after.encrypted_packets - before.encrypted_packets, 2 * kEach);
  EXPECT_EQ(total_drops(after), 0u);
}

}  // namespace
}  // namespace wghub::pipeline
