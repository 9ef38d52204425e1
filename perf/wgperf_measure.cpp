// One point of a packet engine (see wgperf_bench.hpp): the warm-up, the
// step, drain and lcore modes' measurement, and the figures and checks of
// the result (finish).
#include <rte_cycles.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include <algorithm>
#include <sstream>
#include <string>

#include "perf/wgperf_bench.hpp"
#include "perf/wgperf_testbed.hpp"

namespace wghub::perf {

namespace {

dp::LcoreStats stats_delta(const dp::LcoreStats& after, const dp::LcoreStats& before) {
  dp::LcoreStats d = after;
  dp::for_each_counter(d, before, [](std::uint64_t& x, const std::uint64_t& b) { x -= b; });
  return d;
}

std::uint64_t total_drops(const dp::LcoreStats& s) {
  std::uint64_t n = 0;
  for (std::uint64_t d : s.drops) n += d;
  return n;
}

// The paired figures of step mode. Rounds where either side took over 3x
// its median cycles per packet were preempted and are left out. What is left
// is summed on both sides: on this machine the per-round split is bimodal
// (some interruption of fixed cost lands in the worker's part or in the raw
// part of a round), so a median of per-round ratios is unstable, while the
// sums give each side its share of the interruptions by time spent.
template <typename Round>
void paired(const std::vector<Round>& rounds, std::uint64_t hz, LcoreFigures& f) {
  auto median = [&](auto per_packet) {
    std::vector<double> v;
    for (const Round& r : rounds) v.push_back(per_packet(r));
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  };
  auto worker = [](const Round& r) { return static_cast<double>(r.cycles) / r.packets; };
  auto raw = [](const Round& r) { return static_cast<double>(r.raw_cycles) / r.raw_packets; };
  const double worker_limit = 3 * median(worker), raw_limit = 3 * median(raw);
  double n = 0, w = 0, p = 0, c = 0;
  for (const Round& r : rounds) {
    if (worker(r) > worker_limit || raw(r) > raw_limit) continue;
    n += r.packets;
    w += r.cycles;
    p += r.raw_packets;
    c += r.raw_cycles;
  }
  if (w == 0 || c == 0) return;
  f.raw_mpps = p / (c / hz) / 1e6;
  f.paired_ratio = (n / w) / (p / c);
}

}  // namespace

PointResult Testbed::run(Engine engine, unsigned size) {
  if (engine == Engine::kHandshake) return measure_handshake();
  auto stream = make_stream(engine, size);
  // Warm-up, stepped with the control thread: neighbours resolved (ARP),
  // caches and the mbuf pool's per-lcore cache filled. Not measured.
  for (int i = 0; i < 4; ++i) {
    fill(*stream, 256);
    settle();
  }
  PointResult r = options_.mode == Mode::kStep    ? measure_step(engine, *stream)
                  : options_.mode == Mode::kDrain ? measure_drain(engine, *stream)
                                                  : measure_lcores(engine, *stream);
  finish(r, engine, *stream);
  return r;
}

PointResult Testbed::measure_step(Engine engine, Stream& s) {
  dp::LcoreStats& live = *hub_->dataplane().worker_stats.at(0);
  const dp::LcoreStats before = dp::snapshot(live);
  const std::uint64_t arp_before = bed_.answers_injected();
  const std::uint64_t hz = rte_get_tsc_hz();
  const std::uint64_t end =
      rte_get_tsc_cycles() + static_cast<std::uint64_t>(options_.duration * hz);
  // The raw AEAD reference runs after every round on as many packets, so a
  // slow moment of this shared machine hits both sides of a round's ratio.
  RawAead raw(engine, s.size, 32);
  struct Round {
    std::uint64_t packets, cycles, raw_packets, raw_cycles;
  };
  std::vector<Round> rounds;
  std::uint64_t worker = 0;
  std::uint64_t last_control = rte_get_tsc_cycles();
  while (rte_get_tsc_cycles() < end) {
    fill(s, options_.fill);
    unsigned n;
    std::uint64_t round_cycles = 0, round_packets = 0;
    do {
      const std::uint64_t t0 = rte_rdtsc_precise();
      n = hub_->poll_workers_once();
      round_cycles += rte_rdtsc_precise() - t0;
      round_packets += n;
    } while (n > 0);
    worker += round_cycles;
    drain();
    if (raw.applicable() && round_packets > 0) {
      std::uint64_t p = 0, c = 0;
      raw.run(round_packets, p, c);
      rounds.push_back(Round{round_packets, round_cycles, p, c});
    }
    // The control thread keeps its timers (not measured).
    if (rte_get_tsc_cycles() - last_control > hz / 20) {
      (void)hub_->poll_control_once();
      drain();
      last_control = rte_get_tsc_cycles();
    }
  }
  settle();
  PointResult r;
  r.engine = engine;
  r.size = s.size;
  r.total.lcore = rte_lcore_id();
  r.total.delta = stats_delta(dp::snapshot(live), before);
  r.total.cycles = worker;
  r.total.seconds = static_cast<double>(worker) / static_cast<double>(hz);
  // ARP replies injected while measuring reached the worker as frames for
  // the control thread: part of rx, not of the traffic.
  const std::uint64_t arps = bed_.answers_injected() - arp_before;
  r.total.received = (s.port == kWan ? r.total.delta.rx_packets[dp::kStatsPortWan]
                                     : r.total.delta.rx_packets[dp::kStatsPortLan]) -
                     (s.port == kLan ? arps : 0);
  if (!rounds.empty() && (engine != Engine::kDecap || raw.all_opened()))
    paired(rounds, hz, r.total);
  return r;
}

PointResult Testbed::measure_drain(Engine engine, Stream& s) {
  return drain_rounds(engine, s.size, s.port == kWan ? dp::kStatsPortWan : dp::kStatsPortLan,
                      bed_.rx_rings(s.port),
                      [&] { fill(s, (rx_ring_size() - 1) * options_.lcores); });
}

PointResult Testbed::measure_lcores(Engine engine, Stream& s) {
  const unsigned n = options_.lcores;
  const auto& lcores = hub_->state().dataplane.lcores;
  // Raw AEAD on each worker lcore first (same cores, same run).
  std::vector<RawArgs> raw(n, RawArgs{engine, s.size, std::min(0.2, options_.duration)});
  for (unsigned i = 0; i < n; ++i) rte_eal_remote_launch(raw_on_lcore, &raw[i], lcores[i]);
  rte_eal_mp_wait_lcore();

  dp::Dataplane& d = hub_->dataplane();
  d.stop = false;
  std::string error;
  PointResult r;
  r.engine = engine;
  r.size = s.size;
  if (!hub_->launch_workers(error)) {
    r.check_error = error;
    return r;
  }
  const std::uint64_t hz = rte_get_tsc_hz();
  // Let the workers reach the loop and the rings fill.
  const std::uint64_t warm_end = rte_get_tsc_cycles() + hz / 20;
  while (rte_get_tsc_cycles() < warm_end) {
    fill(s, 512 * n);
    drain();
  }
  std::vector<dp::LcoreStats> before(n);
  for (unsigned i = 0; i < n; ++i) before[i] = dp::snapshot(*d.worker_stats[i]);
  const std::uint64_t arp_before = bed_.answers_injected();
  const std::uint64_t t0 = rte_get_tsc_cycles();
  const std::uint64_t end = t0 + static_cast<std::uint64_t>(options_.duration * hz);
  std::uint64_t fills = 0, starved = 0;
  while (rte_get_tsc_cycles() < end) {
    for (rte_ring* ring : bed_.rx_rings(s.port))
      if (rte_ring_count(ring) == 0) ++starved;
    ++fills;
    fill(s, 512 * n);
    drain();
  }
  const std::uint64_t t1 = rte_get_tsc_cycles();
  std::vector<dp::LcoreStats> after(n);
  for (unsigned i = 0; i < n; ++i) after[i] = dp::snapshot(*d.worker_stats[i]);
  // Let the rings empty, then stop, so the final counters add up.
  const std::uint64_t quiet_end = rte_get_tsc_cycles() + hz / 10;
  while (rte_get_tsc_cycles() < quiet_end) drain();
  hub_->stop_workers();
  drain();
  settle();
  const std::uint64_t arps = bed_.answers_injected() - arp_before;

  r.gen_limited = fills ? static_cast<double>(starved) / static_cast<double>(fills * n) : 0;
  const double wall = static_cast<double>(t1 - t0) / static_cast<double>(hz);
  double raw_sum = 0;
  for (unsigned i = 0; i < n; ++i) {
    LcoreFigures f;
    f.lcore = lcores[i];
    f.delta = stats_delta(after[i], before[i]);
    f.seconds = wall;
    f.cycles = t1 - t0;
    f.raw_mpps = raw[i].mpps;
    f.received = s.port == kWan ? f.delta.rx_packets[dp::kStatsPortWan]
                                : f.delta.rx_packets[dp::kStatsPortLan];
    raw_sum += raw[i].mpps;
    r.per_lcore.push_back(f);
  }
  // Totals over the measured window; the check uses whole-run counters below.
  r.total.lcore = 0;
  for (const auto& f : r.per_lcore) {
    dp::for_each_counter(r.total.delta, f.delta,
                         [](std::uint64_t& x, const std::uint64_t& y) { x += y; });
    r.total.received += f.received;
  }
  r.total.received -= std::min<std::uint64_t>(r.total.received, s.port == kLan ? arps : 0);
  r.total.seconds = wall;
  r.total.cycles = t1 - t0;
  r.total.raw_mpps = raw_sum / n;
  return r;
}

void Testbed::finish(PointResult& r, Engine engine, const Stream& s) {
  auto figures = [&](LcoreFigures& f, bool per_lcore_total) {
    const dp::LcoreStats& d = f.delta;
    std::uint64_t out = 0, inner_bytes = 0, wire_bytes = 0;
    switch (engine) {
      case Engine::kIo:
        out = d.tx_packets[dp::kStatsPortLan];
        inner_bytes = d.tx_bytes[dp::kStatsPortLan] - 14 * out;
        wire_bytes = d.tx_bytes[dp::kStatsPortLan];
        break;
      case Engine::kDecap:
        out = d.tx_packets[dp::kStatsPortLan];
        inner_bytes = d.tx_bytes[dp::kStatsPortLan] - 14 * out;
        wire_bytes = d.rx_bytes[dp::kStatsPortWan];
        break;
      case Engine::kEncap:
        out = d.tx_packets[dp::kStatsPortWan];
        inner_bytes = d.encrypted_bytes;
        wire_bytes = d.tx_bytes[dp::kStatsPortWan];
        break;
      case Engine::kHubFwd:
        out = d.tx_packets[dp::kStatsPortWan];
        inner_bytes = d.encrypted_bytes;
        wire_bytes = d.rx_bytes[dp::kStatsPortWan];
        break;
      case Engine::kHandshake:
        break;
    }
    f.forwarded = out;
    f.dropped = total_drops(d);
    const double secs = f.seconds > 0 ? f.seconds : 1;
    f.mpps = static_cast<double>(out) / secs / 1e6;
    f.gbps_inner = static_cast<double>(inner_bytes) * 8 / secs / 1e9;
    f.gbps_wire = static_cast<double>(wire_bytes) * 8 / secs / 1e9;
    // Lcore mode: wall cycles of each worker over its packets; the total is
    // the mean over the workers.
    const double lanes = per_lcore_total ? static_cast<double>(r.per_lcore.size()) : 1.0;
    f.cycles_per_packet =
        f.received ? static_cast<double>(f.cycles) * lanes / static_cast<double>(f.received) : 0;
  };
  for (auto& f : r.per_lcore) figures(f, false);
  figures(r.total, !r.per_lcore.empty());

  // Drops by reason.
  std::string text;
  for (std::size_t i = 1; i < dp::kDropReasonCount; ++i)
    if (r.total.delta.drops[i] != 0)
      text += (text.empty() ? "" : " ") + std::string(dp::kDropReasonNames[i]) + "=" +
              std::to_string(r.total.delta.drops[i]);
  r.drops_text = text.empty() ? "none" : text;

  // Does every packet that came in leave once? (In lcore mode the window's
  // edges cut packets in flight; the check is on step mode's exact counts.)
  if (!r.check_error.empty()) return;
  const dp::LcoreStats& d = r.total.delta;
  std::ostringstream why;
  if (r.total.forwarded == 0) why << "nothing forwarded; ";
  if (r.total.dropped != 0) why << "drops: " << r.drops_text << "; ";
  if (options_.mode != Mode::kLcore) {  // exact counts: no window edges
    if (r.total.received != r.total.forwarded + r.total.dropped)
      why << "received " << r.total.received << " != forwarded " << r.total.forwarded
          << " + dropped " << r.total.dropped << "; ";
    if ((engine == Engine::kDecap || engine == Engine::kHubFwd) &&
        d.decrypted_packets != r.total.forwarded)
      why << "decrypted " << d.decrypted_packets << " != forwarded " << r.total.forwarded << "; ";
    if ((engine == Engine::kEncap || engine == Engine::kHubFwd) &&
        d.encrypted_packets != r.total.forwarded)
      why << "encrypted " << d.encrypted_packets << " != forwarded " << r.total.forwarded << "; ";
    if (engine == Engine::kIo && (d.decrypted_packets | d.encrypted_packets) != 0)
      why << "io touched crypto; ";
  }
  (void)s;
  r.check_error = why.str();
}

}  // namespace wghub::perf
