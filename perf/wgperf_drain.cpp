// wgperf --mode drain: N workers side by side with nothing else on their
// cores. Each round fills every worker's rx ring with a whole batch (not
// timed), launches the workers, and sleeps until the last ring is empty; the
// wall time from launch to then is the round's time. The main lcore only
// sleeps meanwhile, so a machine with as many cores as workers suffices
// (lcore 2 shares CPU 0 with the main lcore: dataplane/eal.hpp wrap_lcores),
// and the workers contend only with each other: shared peers, keypairs, the
// mempool, the tx ring. Scaling is this mode's Mpps at --lcores 2 over 1.
#include <rte_cycles.h>
#include <rte_launch.h>
#include <rte_ring.h>
#include <unistd.h>

#include <algorithm>
#include <functional>

#include "perf/wgperf_bench.hpp"

namespace wghub::perf {

namespace {

// rte_eal_wait_lcore spins; the main lcore may share its CPU with a worker.
void wait_sleeping(unsigned lcore) {
  while (rte_eal_get_lcore_state(lcore) != WAIT) ::usleep(200);
  rte_eal_wait_lcore(lcore);
}

}  // namespace

PointResult Testbed::drain_rounds(Engine engine, unsigned size, unsigned stats_port,
                                  const std::vector<rte_ring*>& rx,
                                  const std::function<void()>& refill) {
  const unsigned n = options_.lcores;
  const auto& lcores = hub_->state().dataplane.lcores;
  dp::Dataplane& d = hub_->dataplane();
  PointResult r;
  r.engine = engine;
  r.size = size;

  // Raw AEAD on each worker lcore, one at a time (same cores, same run).
  std::vector<RawArgs> raw(n, RawArgs{engine, size, std::min(0.2, options_.duration)});
  for (unsigned i = 0; i < n; ++i) {
    rte_eal_remote_launch(raw_on_lcore, &raw[i], lcores[i]);
    wait_sleeping(lcores[i]);
  }

  std::vector<dp::LcoreStats> before(n);
  for (unsigned i = 0; i < n; ++i) before[i] = dp::snapshot(*d.worker_stats[i]);
  const std::uint64_t hz = rte_get_tsc_hz();
  const auto budget = static_cast<std::uint64_t>(options_.duration * static_cast<double>(hz));
  std::uint64_t measured = 0;
  // Per worker: the time its own ring took (queue q is served by worker
  // q % n, control/hub.cpp), so a slow worker shows as itself.
  std::vector<std::uint64_t> own(n, 0);
  while (measured < budget) {
    refill();
    d.stop = false;
    std::string error;
    const std::uint64_t t0 = rte_get_tsc_cycles();
    if (!hub_->launch_workers(error)) {
      r.check_error = error;
      return r;
    }
    std::uint64_t t1 = t0;
    std::vector<std::uint64_t> emptied(rx.size(), 0);
    for (;;) {
      ::usleep(100);
      t1 = rte_get_tsc_cycles();
      unsigned left = 0;
      for (std::size_t q = 0; q < rx.size(); ++q) {
        const unsigned count = rte_ring_count(rx[q]);
        if (count == 0 && emptied[q] == 0) emptied[q] = t1;
        left += count;
      }
      if (left == 0) break;
      if (t1 - t0 > 30 * hz) {
        r.check_error = "drain: the workers did not empty their rings in 30 s";
        break;
      }
    }
    // The last burst may still be in a worker: let it finish, then stop.
    ::usleep(1000);
    d.stop = true;
    for (unsigned i = 0; i < n; ++i) wait_sleeping(lcores[i]);
    hub_->stop_workers();  // nothing left to wait for: resets its state
    measured += t1 - t0;
    std::vector<std::uint64_t> round_own(n, 0);
    for (std::size_t q = 0; q < rx.size(); ++q)
      round_own[q % n] = std::max(round_own[q % n], emptied[q] - t0);
    for (unsigned i = 0; i < n; ++i) own[i] += round_own[i];
    drain();
    if (!r.check_error.empty()) return r;
  }
  settle();

  const double wall = static_cast<double>(measured) / static_cast<double>(hz);
  double raw_sum = 0;
  r.total.lcore = 0;
  for (unsigned i = 0; i < n; ++i) {
    LcoreFigures f;
    f.lcore = lcores[i];
    f.delta = dp::snapshot(*d.worker_stats[i]);
    dp::for_each_counter(f.delta, before[i],
                         [](std::uint64_t& x, const std::uint64_t& b) { x -= b; });
    // The worker's own time: until its rings were empty.
    f.cycles = own[i] > 0 ? own[i] : measured;
    f.seconds = static_cast<double>(f.cycles) / static_cast<double>(hz);
    f.raw_mpps = raw[i].mpps;
    f.received = f.delta.rx_packets[stats_port];
    raw_sum += raw[i].mpps;
    dp::for_each_counter(r.total.delta, f.delta,
                         [](std::uint64_t& x, const std::uint64_t& y) { x += y; });
    r.total.received += f.received;
    r.per_lcore.push_back(f);
  }
  r.total.seconds = wall;
  r.total.cycles = measured;
  r.total.raw_mpps = raw_sum / n;
  return r;
}

}  // namespace wghub::perf
