// The handshake engine's point (see wgperf_bench.hpp): paced initiations
// answered by the control thread or the handshake threads, then a flood
// answered with cookie replies, by the control thread and by a worker.
#include <rte_cycles.h>

#include <algorithm>
#include <sstream>

#include "crypto/x25519.hpp"
#include "perf/sim/frames.hpp"
#include "perf/wgperf_bench.hpp"
#include "perf/wgperf_testbed.hpp"

namespace wghub::perf {

using perfsim::Bytes;

PointResult Testbed::measure_handshake() {
  PointResult r;
  r.engine = Engine::kHandshake;
  r.size = 0;
  const perfsim::HubWan hub_wan = hub_wan_of(*hub_);
  const std::uint64_t hz = rte_get_tsc_hz();
  const auto& engine = hub_->engine();
  // Initiations are made before the clock runs: the sites' X25519 is not
  // the hub's work.
  auto make = [&](std::size_t n, std::size_t offset) {
    std::vector<Bytes> frames;
    frames.reserve(n);
    for (std::size_t k = 0; k < n; ++k) {
      auto& site = *sites_[(offset + k) % sites_.size()];
      frames.push_back(site.frame_to(hub_wan, site.create_initiation()));
    }
    return frames;
  };
  // Without handshake threads: the control thread's cycles. With them: the
  // wall clock until every message is answered (this thread sleeps while
  // the threads work, so it does not take a CPU from them).
  const bool threads = options_.handshake_threads > 0;
  auto step = [&](std::uint64_t& control_cycles) {
    const std::uint64_t start = rte_rdtsc_precise();
    while (hub_->poll_workers_once() > 0) {
    }
    unsigned n;
    do {
      const std::uint64_t t0 = rte_rdtsc_precise();
      n = hub_->poll_control_once();
      if (!threads) control_cycles += rte_rdtsc_precise() - t0;
      drain();
      if (n == 0 && hub_->handshakes_in_flight() > 0) {
        rte_delay_us_sleep(20);
        n = 1;
      }
    } while (n > 0);
    if (threads) control_cycles += rte_rdtsc_precise() - start;
  };
  // The hub refuses a site's initiations closer than 1/50 s apart (the
  // kernel's flood check), so the paced phase goes in rounds of one
  // initiation per site (at most 64 per step, under the under-load mark),
  // rounds >= 21 ms apart (the wait is not measured).
  const std::size_t want =
      std::clamp<std::size_t>(static_cast<std::size_t>(options_.duration * 4000), 128, 40000);
  const std::size_t per_round = std::min<std::size_t>(want, sites_.size());
  const std::size_t rounds = std::max<std::size_t>(
      1, std::min<std::size_t>((want + per_round - 1) / per_round,
                               static_cast<std::size_t>(options_.duration / 0.021)));
  const std::size_t paced = per_round * rounds;
  const auto paced_frames = make(paced, 0);
  // Out of any earlier flood's under-load hold (1 s).
  for (int i = 0; i < 400 && hub_->control().under_load(); ++i) {
    rte_delay_us_sleep(5000);
    settle();
  }
  // The sites handshook while the testbed was built: the hub refuses a
  // site's next initiation within 1/50 s of its last one.
  rte_delay_us_sleep(25000);
  settle();
  const ctl::HandshakeCounters c0 = engine.counters();
  std::uint64_t paced_cycles = 0;
  for (std::size_t round = 0; round < rounds; ++round) {
    for (std::size_t i = 0; i < per_round; i += 64) {
      for (std::size_t k = i; k < std::min(i + 64, per_round); ++k)
        inject(kWan, paced_frames[round * per_round + k]);
      step(paced_cycles);
    }
    // 21 ms from the round's end: a site's next initiation is then more than
    // 1/50 s after its last, however long the round's 64-message polls took.
    const std::uint64_t next_round = rte_get_tsc_cycles() + hz * 21 / 1000;
    if (round + 1 < rounds)
      while (rte_get_tsc_cycles() < next_round) rte_pause();
  }
  const ctl::HandshakeCounters c1 = engine.counters();
  // The floor: four X25519 per responder handshake (es, the ephemeral's
  // public key, ee, se; ss is precomputed per peer), timed on this core now.
  {
    std::array<std::uint8_t, 32> a{}, b{}, out{};
    crypto::x25519_generate(a);
    crypto::x25519_public(b, a);
    constexpr int kOps = 64;
    const std::uint64_t t0 = rte_rdtsc_precise();
    for (int i = 0; i < kOps; ++i) (void)crypto::x25519(out, a, b);
    r.x25519_cycles = static_cast<double>(rte_rdtsc_precise() - t0) / kOps;
  }
  // Flood: 2048 at once: 4x the under-load mark. The workers queue them (the
  // hub is not under load yet); the control thread finds the ring past 1/8,
  // goes under load and answers what is queued with cookie replies.
  const auto flood_frames = make(2048, 0);
  const std::uint64_t control_cookies0 = hub_->control().counters().cookie_replies_sent;
  for (const Bytes& f : flood_frames) inject(kWan, f);
  std::uint64_t flood_cycles = 0;
  step(flood_cycles);
  settle();
  const ctl::HandshakeCounters c2 = engine.counters();
  const std::uint64_t control_cookies =
      hub_->control().counters().cookie_replies_sent - control_cookies0;
  // Under load now: the same flood again is answered by the worker itself
  // (cookie_gate.hpp); its cycles per cookie reply are the figure. Each
  // message from a source of its own (100.64.x.y, a port each), none a site
  // authenticated from (KnownSources would skip the cookie): one source
  // would meet its cookie budget (SourceLimiter::kCookieRepliesPerSecond)
  // and be dropped, not answered.
  auto from_new_source = [](Bytes& f, std::size_t i) {
    constexpr std::size_t kIp = 14;         // Ethernet
    constexpr std::size_t kUdp = kIp + 20;  // IPv4 without options
    perfsim::put32(&f[kIp + 12], static_cast<std::uint32_t>(0x64400000u + 2 + i % 0x3ffff0));
    perfsim::put16(&f[kIp + 10], 0);
    perfsim::put16(&f[kIp + 10], perfsim::inet_checksum(&f[kIp], 20));
    perfsim::put16(&f[kUdp], static_cast<std::uint16_t>(20000 + i % 40000));
    f[kUdp + 6] = f[kUdp + 7] = 0;  // no UDP checksum (IPv4 allows it)
  };
  // In rounds of 256 frames (the mempool cache, as --fill's default for
  // the data engines), enough rounds for ~50 ms of the worker's cycles, so
  // the figure is the steady state rather than the first cold frames.
  dp::LcoreStats& live = *hub_->dataplane().worker_stats.at(0);
  const dp::LcoreStats w0 = dp::snapshot(live);
  constexpr std::size_t kRound = 256;
  const std::size_t worker_flood =
      std::clamp<std::size_t>(static_cast<std::size_t>(options_.duration * 65536), 2048, 262144);
  std::uint64_t worker_cycles = 0;
  std::size_t injected = 0;
  while (injected < worker_flood && hub_->control().under_load()) {
    for (std::size_t k = 0; k < kRound; ++k, ++injected) {
      Bytes f = flood_frames[injected % flood_frames.size()];
      from_new_source(f, injected);
      inject(kWan, f);
    }
    for (;;) {
      const std::uint64_t t0 = rte_rdtsc_precise();
      const unsigned n = hub_->poll_workers_once();
      worker_cycles += rte_rdtsc_precise() - t0;
      drain();
      if (n == 0) break;
    }
  }
  const dp::LcoreStats w1 = dp::snapshot(live);
  settle();

  r.handshakes = c1.responses_sent - c0.responses_sent;
  r.cookies = w1.cookie_replies_sent - w0.cookie_replies_sent;
  r.handshakes_per_s = static_cast<double>(r.handshakes) / (static_cast<double>(paced_cycles) / hz);
  r.cycles_per_handshake =
      r.handshakes ? static_cast<double>(paced_cycles) / static_cast<double>(r.handshakes) : 0;
  r.cookies_per_s = static_cast<double>(r.cookies) / (static_cast<double>(worker_cycles) / hz);
  r.cycles_per_cookie =
      r.cookies ? static_cast<double>(worker_cycles) / static_cast<double>(r.cookies) : 0;
  r.control_cookies = control_cookies;
  r.control_cycles_per_cookie =
      control_cookies ? static_cast<double>(flood_cycles) / static_cast<double>(control_cookies)
                      : 0;
  r.total.received = (c2.initiations_received - c0.initiations_received);
  r.total.forwarded = c2.responses_sent - c0.responses_sent + control_cookies;
  std::uint64_t dropped = 0;
  std::string text;
  for (std::size_t i = 0; i < static_cast<std::size_t>(ctl::HandshakeDrop::kCount); ++i) {
    const std::uint64_t n = c2.drops[i] - c0.drops[i];
    dropped += n;
    if (n != 0)
      text += (text.empty() ? "" : " ") +
              std::string(ctl::to_string(static_cast<ctl::HandshakeDrop>(i))) + "=" +
              std::to_string(n);
  }
  r.total.dropped = dropped;
  r.drops_text = text.empty() ? "none" : text;
  std::ostringstream why;
  if (r.handshakes != paced)
    why << r.handshakes << " responses to " << paced << " paced initiations; ";
  // Handshake threads may take a few from the ring before the control
  // thread sees the load; those run Noise (and meet the flood check).
  const std::uint64_t flood_prepared = c2.initiations_received - c1.initiations_received;
  if (control_cookies + flood_prepared != flood_frames.size())
    why << control_cookies << " cookie replies from the control thread and " << flood_prepared
        << " handshakes to " << flood_frames.size() << " queued; ";
  if (r.cookies != injected)
    why << r.cookies << " cookie replies from the worker to " << injected << "; ";
  r.check_error = why.str();
  return r;
}

}  // namespace wghub::perf
