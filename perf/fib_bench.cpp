// wghub-fib-bench: the IPv4 FIB's worker-side lookup (dataplane/fib.hpp, on
// rte_fib's DIR24_8) against rte_lpm's inline lookup as the Fib used it before
// issue 12 (rte_lpm_lookup, the /0 beside it), on the same rules and the same
// addresses, in one run, rounds interleaved; and the control side's cost of
// loading n /32s into each. Prints cycles per lookup and the ratio; asserts
// nothing (DESIGN.md: speed is printed, never tested).
//
//   wghub-fib-bench [--peers N] [--lookups N] [--rounds N]
//   (above 2^17 peers only rte_fib's load is timed: rte_lpm's is quadratic)
//
// Address sets: "peer /32" are inner addresses of peers with one /32 each
// (the tbl8 path: 256 per /24, as scripts/gen-peers.py lays them out);
// "/24 route" addresses under /24 routes (the first level only, as wgperf's
// sites have them). Each set is looked up one address at a time as the worker
// does: prefetch a burst of 32, then look each up.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_lpm.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dataplane/fib.hpp"

namespace {

using wghub::dp::decode_next_hop;
using wghub::dp::encode_next_hop;
using wghub::dp::Fib;
using wghub::dp::NextHop;
using wghub::dp::NextHopKind;

// The lookup the Fib had on rte_lpm (fib.hpp before issue 12).
struct LpmReference {
  rte_lpm* lpm;
  uint32_t default_hop = 0;
  NextHop lookup(uint32_t ip) const {
    uint32_t value;
    if (rte_lpm_lookup(lpm, ip, &value) == 0) return decode_next_hop(value);
    return decode_next_hop(default_hop);
  }
  void prefetch(uint32_t ip) const { __builtin_prefetch(&lpm->tbl24[ip >> 8]); }
};

template <class Table>
uint64_t cycles_per_1000(const Table& t, const std::vector<uint32_t>& ips, uint64_t& sink) {
  constexpr std::size_t kBurst = 32;
  const uint64_t start = rte_rdtsc_precise();
  uint64_t sum = 0;
  for (std::size_t base = 0; base < ips.size(); base += kBurst) {
    const std::size_t end = std::min(ips.size(), base + kBurst);
    for (std::size_t i = base; i < end; ++i) t.prefetch(ips[i]);
    for (std::size_t i = base; i < end; ++i) sum += t.lookup(ips[i]).id;
  }
  const uint64_t cycles = rte_rdtsc_precise() - start;
  sink += sum;
  return cycles * 1000 / ips.size();
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t peers = 1u << 16;
  // Short rounds, many of them: on a shared machine a round that the OS
  // interrupts is an outlier the median and the minimum leave out.
  std::size_t lookups = 1u << 16;
  unsigned rounds = 201;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    const unsigned long v = std::strtoul(argv[i + 1], nullptr, 10);
    if (opt == "--peers") peers = static_cast<uint32_t>(std::clamp(v, 256ul, 1ul << 20));
    else if (opt == "--lookups") lookups = std::max(v, 1024ul);
    else if (opt == "--rounds") rounds = static_cast<unsigned>(std::max(v, 1ul));
    else {
      std::fprintf(stderr, "usage: wghub-fib-bench [--peers N] [--lookups N] [--rounds N]\n");
      return 2;
    }
  }
  const char* eal_args[] = {"wghub-fib-bench", "-l", "0", "--no-huge", "--no-shconf", "-m", "2048",
                            "--no-pci", "--no-telemetry", "--log-level=lib.eal:error"};
  if (rte_eal_init(static_cast<int>(sizeof eal_args / sizeof eal_args[0]),
                   const_cast<char**>(eal_args)) < 0) {
    std::fprintf(stderr, "wghub-fib-bench: rte_eal_init failed\n");
    return 1;
  }
  constexpr uint32_t kPeerBase = 0xac100000u;  // 172.16.0.0/12, as gen-peers.py
  constexpr uint32_t kRouteBase = 0x0a000000u;  // 10.0.0.0: 4096 /24 routes
  constexpr uint32_t kRoutes = 4096;

  wghub::dp::FibConfig config;
  config.name = "bench_fib";
  config.max_rules = peers + kRoutes;
  config.tbl8_groups = peers / 256 + 1;
  std::string error;
  auto t0 = std::chrono::steady_clock::now();
  auto fib = Fib::create(config, nullptr, error);
  if (!fib) {
    std::fprintf(stderr, "wghub-fib-bench: %s\n", error.c_str());
    return 1;
  }
  for (uint32_t i = 0; i < kRoutes; ++i) fib->add(kRouteBase + (i << 8), 24, {NextHopKind::kLanRoute, i});
  for (uint32_t i = 0; i < peers; ++i) fib->add(kPeerBase + i, 32, {NextHopKind::kPeer, i});
  const double fib_load = seconds_since(t0);

  if (peers > (1u << 17)) {  // rte_lpm would take minutes (O(n^2)): the load only
    std::printf("wghub-fib-bench: %u peer /32s + %u /24 routes; load: rte_fib %.2f s (rte_lpm not run above 2^17)\n",
                peers, kRoutes, fib_load);
    return 0;
  }
  rte_lpm_config lpm_config{};
  lpm_config.max_rules = peers + kRoutes;
  lpm_config.number_tbl8s = peers / 256 + 1;
  t0 = std::chrono::steady_clock::now();
  LpmReference lpm{rte_lpm_create("bench_lpm", SOCKET_ID_ANY, &lpm_config)};
  if (lpm.lpm == nullptr) {
    std::fprintf(stderr, "wghub-fib-bench: rte_lpm_create failed\n");
    return 1;
  }
  for (uint32_t i = 0; i < kRoutes; ++i)
    rte_lpm_add(lpm.lpm, kRouteBase + (i << 8), 24, encode_next_hop({NextHopKind::kLanRoute, i}));
  for (uint32_t i = 0; i < peers; ++i)
    rte_lpm_add(lpm.lpm, kPeerBase + i, 32, encode_next_hop({NextHopKind::kPeer, i}));
  const double lpm_load = seconds_since(t0);

  std::mt19937 rng(1);
  std::vector<uint32_t> peer_ips(lookups), route_ips(lookups);
  for (auto& ip : peer_ips) ip = kPeerBase + rng() % peers;
  for (auto& ip : route_ips) ip = kRouteBase + rng() % (kRoutes << 8);
  uint64_t sink = 0;
  for (std::size_t i = 0; i < 4096; ++i) {  // both answer alike
    if (fib->lookup(peer_ips[i]) != lpm.lookup(peer_ips[i]) ||
        fib->lookup(route_ips[i]) != lpm.lookup(route_ips[i])) {
      std::fprintf(stderr, "wghub-fib-bench: the tables disagree\n");
      return 1;
    }
  }
  std::printf("wghub-fib-bench: %u peer /32s + %u /24 routes; load: rte_fib %.2f s, rte_lpm %.2f s\n",
              peers, kRoutes, fib_load, lpm_load);
  std::printf("cycles per lookup over %u interleaved rounds of %zu lookups: median (minimum)\n",
              rounds, lookups);
  std::printf("%-10s %16s %16s %14s\n", "addresses", "rte_lpm", "Fib (rte_fib)", "ratio");
  for (const auto* set : {&peer_ips, &route_ips}) {
    std::vector<uint64_t> a, b;
    for (unsigned r = 0; r < rounds; ++r) {
      a.push_back(cycles_per_1000(lpm, *set, sink));
      b.push_back(cycles_per_1000(*fib, *set, sink));
    }
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    const double ma = a[rounds / 2] / 1000.0, mb = b[rounds / 2] / 1000.0;
    const double la = a[0] / 1000.0, lb = b[0] / 1000.0;
    std::printf("%-10s %7.2f (%6.2f) %7.2f (%6.2f) %6.3f (%5.3f)\n",
                set == &peer_ips ? "peer /32" : "/24 route", ma, la, mb, lb, mb / ma, lb / la);
  }
  std::printf("(sink %llu)\n", static_cast<unsigned long long>(sink & 1));
  rte_lpm_free(lpm.lpm);
  fib.reset();
  rte_eal_cleanup();
  return 0;
}
