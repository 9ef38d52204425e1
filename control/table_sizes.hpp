// How big the hub's fixed tables are, from the config it starts with. The
// data plane's tables are allocated once (workers index them without locks),
// so they are sized here: the config's peers and prefixes plus headroom for
// peers and routes wg(8) adds later, never below what the hub always had (so
// a small config keeps its room for wg(8)), and never more peers than the
// kernel's 2^20 (config::kMaxPeers; the config refuses more, so the hub and
// --check-config agree). Memory grows with the config, not with the limit.
#pragma once

#include <cstdint>

#include "config/model.hpp"

namespace wghub::ctl {

struct TableSizes {
  std::uint32_t peers = 0;       // PeerTable slots (and per-worker counter blocks)
  unsigned keypair_log2 = 0;     // KeypairTable: 2^k receiver-index slots
  std::uint32_t fib_rules = 0;   // IPv4 FIB: rules
  std::uint32_t fib_tbl8 = 0;    // ... and 256-entry groups for prefixes longer than /24
  std::uint32_t fib6_rules = 0;  // IPv6 FIB (each of its two tables)
  std::uint32_t fib6_tbl8 = 0;
};

// The sizes for `state`'s peers and routes with headroom; O(prefixes).
TableSizes table_sizes(const config::DesiredState& state);

}  // namespace wghub::ctl
