// Shared pieces of the pipeline tests: a fixture that builds a fresh Harness
// per test, inner-packet builders, and checks on what the hub transmits.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "dataplane/drop_reason.hpp"
#include "dataplane/messages.hpp"
#include "dataplane/peer_state.hpp"
#include "tests/pipeline/harness.hpp"

namespace wghub::pipeline {

class PipelineTest : public ::testing::Test {
 protected:
  // Tests that need other peers call rebuild() first thing.
  void SetUp() override { rebuild({}); }
  void rebuild(HarnessOptions options) {
    h_.reset();
    h_ = std::make_unique<Harness>(std::move(options));
    ASSERT_TRUE(h_->ok()) << h_->error();
  }
  Harness& h() { return *h_; }

  std::unique_ptr<Harness> h_;
};

// An inner IPv4/UDP packet whose payload is pattern_payload(seq, len).
// An ICMP echo request (RFC 792): identifier, sequence and 32 bytes of
// pattern data.
inline Bytes echo_request(std::uint16_t id, std::uint16_t seq) {
  Bytes icmp(8 + 32);
  icmp[0] = 8;  // echo request
  icmp[4] = static_cast<std::uint8_t>(id >> 8);
  icmp[5] = static_cast<std::uint8_t>(id);
  icmp[6] = static_cast<std::uint8_t>(seq >> 8);
  icmp[7] = static_cast<std::uint8_t>(seq);
  const Bytes data = pattern_payload(seq, 32);
  std::copy(data.begin(), data.end(), icmp.begin() + 8);
  const std::uint16_t sum = inet_checksum(icmp.data(), icmp.size());
  icmp[2] = static_cast<std::uint8_t>(sum >> 8);
  icmp[3] = static_cast<std::uint8_t>(sum);
  return icmp;
}

inline Bytes inner_udp(std::uint32_t src, std::uint32_t dst, std::uint32_t seq, std::size_t len,
                       std::uint8_t ttl = 64) {
  return udp_packet(src, dst, 1000, 2000, pattern_payload(seq, len), ttl);
}

inline dp::Endpoint packed_endpoint(std::uint32_t ip, std::uint16_t port) {
  return dp::Endpoint::v4(rte_cpu_to_be_32(ip), rte_cpu_to_be_16(port));
}
inline dp::Endpoint packed_endpoint6(const Ip6& ip, std::uint16_t port) {
  return dp::Endpoint::v6(ip.data(), rte_cpu_to_be_16(port));
}

inline std::uint32_t message_type(const Bytes& msg) {
  return msg.size() < 4 ? 0 : msg[0] | msg[1] << 8 | msg[2] << 16 | std::uint32_t{msg[3]} << 24;
}

// A frame the hub sent from its listen port to `to`: checks the outer
// Ethernet/IPv4/UDP headers and returns the WireGuard message (empty, with a
// test failure, when anything is off).
// For an IPv6 `to`, Ethernet/IPv6/UDP with a valid UDP checksum.
inline Bytes wireguard_payload_to(const Bytes& frame, const HubWan& hub, const Outer& to) {
  const auto pf = parse_frame(frame);
  EXPECT_TRUE(pf.has_value());
  if (!pf) return {};
  EXPECT_EQ(pf->src, hub.mac);
  EXPECT_EQ(pf->dst, to.mac) << format_mac(pf->dst);
  EXPECT_EQ(pf->ether_type, to.v6 ? kEtherTypeIpv6 : kEtherTypeIpv4);
  EXPECT_TRUE(pf->ip_checksum_ok);
  EXPECT_GT(pf->ttl, 0);
  EXPECT_EQ(pf->proto, kProtoUdp);
  if (to.v6) {
    EXPECT_EQ(pf->src_ip6, hub.ip6) << format_ip6(pf->src_ip6);
    EXPECT_EQ(pf->dst_ip6, to.ip6) << format_ip6(pf->dst_ip6);
  } else {
    EXPECT_EQ(pf->src_ip, hub.ip) << format_ip(pf->src_ip);
    EXPECT_EQ(pf->dst_ip, to.ip) << format_ip(pf->dst_ip);
  }
  EXPECT_EQ(pf->src_port, hub.port);
  EXPECT_EQ(pf->dst_port, to.port);
  return pf->udp_payload;
}

// The counters of every drop reason, to check that exactly the expected one
// moved.
inline void expect_drops_moved(const dp::LcoreStats& before, const dp::LcoreStats& after,
                               dp::DropReason reason, std::uint64_t by) {
  for (std::size_t r = 0; r < dp::kDropReasonCount; ++r) {
    const std::uint64_t want =
        before.drops[r] + (r == static_cast<std::size_t>(reason) ? by : std::uint64_t{0});
    EXPECT_EQ(after.drops[r], want) << "drop reason " << dp::kDropReasonNames[r];
  }
}

inline std::uint64_t total_drops(const dp::LcoreStats& s) {
  std::uint64_t n = 0;
  for (std::uint64_t d : s.drops) n += d;
  return n;
}

}  // namespace wghub::pipeline
