// control/table_sizes: the hub's fixed tables follow the config (peers and
// prefixes, with headroom for wg(8)), keep the old sizes as a floor, and never
// go past the kernel's 2^20 peers.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <string>

#include "control/table_sizes.hpp"

namespace wghub::ctl {
namespace {

config::Prefix prefix(const std::string& text) {
  return config::Prefix::parse(text).value.value();
}

config::DesiredState with_peers(std::size_t n, const std::function<std::string(std::size_t)>& ip) {
  config::DesiredState s;
  s.peers.resize(n);
  for (std::size_t i = 0; i < n; ++i) s.peers[i].allowed_ips = {prefix(ip(i))};
  return s;
}

std::string v4_host(std::size_t i) {
  return "172." + std::to_string(16 + (i >> 16)) + "." + std::to_string((i >> 8) & 0xff) + "." +
         std::to_string(i & 0xff) + "/32";
}

TEST(TableSizes, ASmallConfigKeepsTheOldSizes) {
  const TableSizes t = table_sizes(with_peers(2, v4_host));
  EXPECT_EQ(t.peers, 65536u);
  EXPECT_GE(1u << t.keypair_log2, 3u * 65536);
  EXPECT_EQ(t.fib_rules, 65536u);
  EXPECT_EQ(t.fib_tbl8, 4096u);
  EXPECT_EQ(t.fib6_rules, 65536u);
  EXPECT_EQ(t.fib6_tbl8, 8192u);
}

TEST(TableSizes, PeersAndPrefixesGetHeadroom) {
  const TableSizes t = table_sizes(with_peers(100000, v4_host));
  EXPECT_EQ(t.peers, 125000u);  // + 25 % for wg(8)
  EXPECT_GE(1u << t.keypair_log2, 3u * t.peers);
  EXPECT_LT(1u << t.keypair_log2, 6u * t.peers);
  EXPECT_GE(t.fib_rules, 125000u);
  // 100,000 /32s fill 391 /24s: the 4096-group floor holds them.
  EXPECT_EQ(t.fib_tbl8, 4096u);
}

TEST(TableSizes, NeverMoreThanTheKernelsPeerLimit) {
  const TableSizes t = table_sizes(with_peers(config::kMaxPeers, v4_host));
  EXPECT_EQ(t.peers, config::kMaxPeers);
  EXPECT_LE(t.keypair_log2, 24u);  // KeypairTable's maximum
  EXPECT_GE(t.fib_rules, config::kMaxPeers);
}

TEST(TableSizes, LongPrefixesInDistinctSlash24sEachGetAGroup) {
  // /32s each in a /24 of its own: one tbl8 group each, plus headroom.
  const TableSizes t = table_sizes(with_peers(20000, [](std::size_t i) {
    return "10." + std::to_string(i >> 8) + "." + std::to_string(i & 0xff) + ".1/32";
  }));
  EXPECT_GE(t.fib_tbl8, 20000u);
  EXPECT_LT(t.fib_tbl8, 30000u);
}

TEST(TableSizes, Ipv6GroupsCountTheDistinctTriePaths) {
  // rte_lpm6 keeps one group per distinct leading 3..k bytes above a
  // prefix's last byte. /64s under one /48 share all but byte 6: 5 levels,
  // 1 + 1 + 1 + 1 + (distinct byte 6) groups, so the floor holds them.
  const TableSizes shared = table_sizes(with_peers(10000, [](std::size_t i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "fd00:1:2:%zx::/64", i);
    return std::string(buf);
  }));
  EXPECT_EQ(shared.fib6_tbl8, 8192u);
  // /128s that differ in bytes 2..3 share nothing below byte 4: 12 groups
  // each (bytes 4..15) plus the 40 distinct byte-3 ones.
  const TableSizes spread = table_sizes(with_peers(10000, [](std::size_t i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "fd00:%zx::1/128", i + 1);
    return std::string(buf);
  }));
  EXPECT_GE(spread.fib6_tbl8, 12u * 10000u);
  EXPECT_LE(spread.fib6_tbl8, (12u * 10000u + 64u) * 5 / 4 + 1024u);
  EXPECT_GE(spread.fib6_rules, 10000u);
}

}  // namespace
}  // namespace wghub::ctl
