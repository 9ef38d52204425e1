// See table_sizes.hpp.
#include "control/table_sizes.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <unordered_set>

namespace wghub::ctl {

namespace {

// What the hub had before it sized anything (dataplane defaults).
constexpr std::uint32_t kMinPeers = 65536;
constexpr std::uint32_t kMinRules = 65536;
constexpr std::uint32_t kMinTbl8 = 4096;
constexpr std::uint32_t kMinTbl8v6 = 8192;

std::uint32_t with_headroom(std::uint64_t n) {
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(n + n / 4 + 1024, UINT32_MAX / 2));
}

std::uint64_t key_of(const config::IpAddress& a, unsigned bytes, unsigned salt) {
  // FNV-1a over the leading bytes: distinct trie paths of the IPv6 table.
  std::uint64_t h = 1469598103934665603ull ^ salt;
  for (unsigned i = 0; i < bytes; ++i) h = (h ^ a.bytes[i]) * 1099511628211ull;
  return h;
}

}  // namespace

TableSizes table_sizes(const config::DesiredState& s) {
  std::vector<config::Prefix> prefixes;
  for (const auto& p : s.peers)
    prefixes.insert(prefixes.end(), p.allowed_ips.begin(), p.allowed_ips.end());
  for (const config::Port* port : {&s.ports.wan, &s.ports.lan})
    for (const auto& r : port->routes) prefixes.push_back(r.prefix);

  std::uint64_t v4 = 16, v6 = 16;  // + subnets, own addresses, default routes
  // rte_lpm: one tbl8 group per /24 that holds a longer prefix.
  std::unordered_set<std::uint32_t> v4_groups;
  // rte_lpm6: one tbl8 group per distinct leading 3..15 bytes above a
  // prefix's last byte (a /64 needs 5, a /128 13; prefixes share leading ones).
  std::unordered_set<std::uint64_t> v6_groups;
  for (const config::Prefix& p : prefixes) {
    const config::IpAddress a = p.address();
    if (p.family() == config::Family::v4) {
      ++v4;
      if (p.length() > 24)
        v4_groups.insert(std::uint32_t{a.bytes[0]} << 16 | a.bytes[1] << 8 | a.bytes[2]);
    } else {
      ++v6;
      for (unsigned bytes = 3; bytes * 8 < p.length(); ++bytes)
        v6_groups.insert(key_of(a, bytes, bytes));
    }
  }

  TableSizes t;
  const std::uint64_t n = s.peers.size();
  t.peers = static_cast<std::uint32_t>(
      std::clamp<std::uint64_t>(n + n / 4, kMinPeers, config::kMaxPeers));
  // Up to previous + current + next keypairs per peer, and handshakes in
  // flight; most peers of a big hub are idle, so three per slot is room.
  t.keypair_log2 =
      static_cast<unsigned>(std::bit_width(std::bit_ceil(std::uint64_t{t.peers} * 3)) - 1);
  t.fib_rules = std::max(kMinRules, with_headroom(v4));
  t.fib_tbl8 = std::max(kMinTbl8, with_headroom(v4_groups.size()));
  t.fib6_rules = std::max(kMinRules, with_headroom(v6));
  t.fib6_tbl8 = std::max(kMinTbl8v6, with_headroom(v6_groups.size()));
  return t;
}

}  // namespace wghub::ctl
