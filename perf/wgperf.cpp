// wgperf: testpmd-style performance runs of the real wghub data plane (issue
// 6). Starts EAL, builds a Testbed (a Hub on net_ring ports, M simulated
// sites with real sessions), then measures every engine x size point,
// `--repeat` times each, and prints the median per point (and per lcore in
// lcore mode) beside the raw IPsec-MB figure from the same core and run.
// See `wgperf --help` and docs/perf.md. Prints figures; never judges speed.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "dataplane/eal.hpp"
#include "perf/cpu_model.hpp"
#include "perf/wgperf_bench.hpp"
#include "perf/wgperf_options.hpp"

namespace {

using namespace wghub::perf;

std::FILE* g_out = stdout;  // the report (the hub logs to stdout)
std::FILE* g_err = stderr;  // wgperf's own errors (the hub warns on stderr)

// A private copy of `stream` for wgperf; the stream itself to /dev/null.
std::FILE* keep_and_silence(std::FILE* stream, int fd) {
  std::fflush(stream);
  const int copy = ::dup(fd);
  std::FILE* mine = copy >= 0 ? ::fdopen(copy, "w") : nullptr;
  if (mine == nullptr || std::freopen("/dev/null", "w", stream) == nullptr) return stream;
  return mine;
}

double raw_gbps(const PointResult& r) {
  const double mean = r.size == kImix ? 4172.0 / 12 : r.size;
  return r.total.raw_mpps * mean * 8 / 1e3;
}

void print_header(const Options& o) {
  std::fprintf(g_out, "%-10s %-5s %6s %3s %8s %8s %8s %8s %9s %8s %6s  %s\n", "engine", "size",
               "peers", "lc", "Mpps", "Gb/s-in", "Gb/s-wr", "cyc/pkt", "raw-Mpps", "raw-Gb/s",
               "ratio", "drops");
  (void)o;
}

void print_row(const char* label, const PointResult& r, const LcoreFigures& f, const Options& o) {
  char raw[64] = "-", rawg[32] = "-", ratio[32] = "-";
  if (f.raw_mpps > 0) {
    std::snprintf(raw, sizeof raw, "%.3f", f.raw_mpps);
    PointResult tmp = r;
    tmp.total.raw_mpps = f.raw_mpps;
    std::snprintf(rawg, sizeof rawg, "%.2f", raw_gbps(tmp));
    std::snprintf(ratio, sizeof ratio, "%.3f", f.ratio());
  }
  std::fprintf(g_out, "%-10s %-5s %6u %3s %8.3f %8.2f %8.2f %8.0f %9s %8s %6s  %s\n", label,
               size_name(r.size).c_str(), o.peers,
               f.lcore == 0 ? std::to_string(o.lcores).c_str() : std::to_string(f.lcore).c_str(),
               f.mpps, f.gbps_inner, f.gbps_wire, f.cycles_per_packet, raw, rawg, ratio,
               &f == &r.total ? r.drops_text.c_str() : "");
}

void write_csv(const Options& o, const PointResult& r) {
  if (o.csv.empty()) return;
  const bool fresh = !std::ifstream(o.csv).good();
  std::ofstream out(o.csv, std::ios::app);
  if (fresh)
    out << "engine,size,peers,lcores,mode,burst,duration,repeat,mpps,mpps_min,mpps_max,"
           "gbps_inner,gbps_wire,cycles_per_packet,raw_mpps,raw_gbps,ratio,received,forwarded,"
           "dropped,drops,gen_limited\n";
  auto row = [&](const std::string& engine, double mpps, double cpp, double mn, double mx) {
    const LcoreFigures& f = r.total;
    out << engine << "," << size_name(r.size) << "," << o.peers << "," << o.lcores << ","
        << (o.mode == Mode::kStep    ? "step"
            : o.mode == Mode::kDrain ? "drain"
                                     : "lcore")
        << "," << o.burst << "," << o.duration << "," << o.repeat << "," << mpps << "," << mn << ","
        << mx << "," << f.gbps_inner << "," << f.gbps_wire << "," << cpp << "," << f.raw_mpps << ","
        << raw_gbps(r) << "," << f.ratio() << "," << f.received << "," << f.forwarded << ","
        << f.dropped << ",\"" << r.drops_text << "\"," << r.gen_limited << "\n";
  };
  if (r.engine == Engine::kHandshake) {
    row("handshake", r.handshakes_per_s / 1e6, r.cycles_per_handshake, 0, 0);
    row("cookie", r.cookies_per_s / 1e6, r.cycles_per_cookie, 0, 0);
  } else {
    row(std::string(to_string(r.engine)), r.total.mpps, r.total.cycles_per_packet, r.mpps_min,
        r.mpps_max);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  bool exit_now = false;
  if (!parse_options(argc, argv, o, exit_now)) return 2;
  if (exit_now) return 0;
  // The hub logs to stdout and stderr (a handshake flood warns per
  // message); unless --verbose, wgperf keeps its own copies of both and the
  // hub's lines go to /dev/null.
  if (!o.verbose) {
    g_out = keep_and_silence(stdout, STDOUT_FILENO);
    g_err = keep_and_silence(stderr, STDERR_FILENO);
    std::setvbuf(g_err, nullptr, _IONBF, 0);
  }
  // Handshakes last: they replace the sites' pending handshake state.
  std::stable_partition(o.engines.begin(), o.engines.end(),
                        [](Engine e) { return e != Engine::kHandshake; });

  wghub::dp::EalOptions eal;
  eal.no_pci = true;
  eal.memory_mb = 2048;
  if (o.mode != Mode::kStep)
    for (unsigned i = 1; i <= o.lcores; ++i) eal.worker_lcores.push_back(i);
  eal.wrap_lcores = o.mode == Mode::kDrain;
  eal.extra = {"--log-level=lib.eal:error", "--log-level=pmd.net.ring:error"};
  std::string error;
  if (!wghub::dp::eal_start(eal, error)) {
    std::fprintf(g_err, "wgperf: cannot start DPDK: %s\n", error.c_str());
    return 1;
  }
  int rc = 0;
  {
    auto bed = Testbed::create(o, error);
    if (!bed) {
      std::fprintf(g_err, "wgperf: %s\n", error.c_str());
      rte_eal_cleanup();
      return 1;
    }
    std::fprintf(g_out, "wgperf: %s; %s; TSC %.2f GHz\n", wghub::perf::cpu_model().c_str(),
                 bed->aead_name().c_str(), static_cast<double>(rte_get_tsc_hz()) / 1e9);
    std::fprintf(
        g_out,
        "mode %s, %u peer(s) with sessions (set up in %.1f s), %u lcore(s), burst %u, %.2f s x "
        "%u per point (median shown)\n",
        o.mode == Mode::kStep    ? "step (worker cycles only)"
        : o.mode == Mode::kDrain ? "drain (wall clock, rings filled first)"
                                 : "lcore (wall clock)",
        o.peers, bed->setup_seconds(), o.lcores, o.burst, o.duration, o.repeat);
    bool header = false;
    for (Engine engine : o.engines) {
      const std::vector<unsigned> sizes =
          engine == Engine::kHandshake ? std::vector<unsigned>{0} : o.sizes;
      for (unsigned size : sizes) {
        std::vector<PointResult> runs;
        for (unsigned k = 0; k < o.repeat; ++k) runs.push_back(bed->run(engine, size));
        auto key = [](const PointResult& r) {
          return r.engine == Engine::kHandshake ? r.handshakes_per_s : r.total.mpps;
        };
        std::sort(runs.begin(), runs.end(),
                  [&](const PointResult& a, const PointResult& b) { return key(a) < key(b); });
        PointResult r = runs[runs.size() / 2];
        r.mpps_min = runs.front().total.mpps;
        r.mpps_max = runs.back().total.mpps;
        std::string failed;
        for (const auto& one : runs)
          if (!one.check_error.empty()) failed = one.check_error;
        if (engine == Engine::kHandshake) {
          const double floor = 4 * r.x25519_cycles;
          std::fprintf(g_out,
                       "handshake  %u peers: %.0f handshakes/s %s (%.0f cycles "
                       "each, %llu paced); 4 x X25519 = %.0f cycles here: %.2f x the floor\n"
                       "cookie     under load, one worker: %.0f cookie replies/s (%.0f cycles "
                       "each, %llu); control thread: %.0f cycles each (%llu queued before the "
                       "load was seen); drops %s\n",
                       o.peers, r.handshakes_per_s,
                       o.handshake_threads == 0
                           ? "on the control thread"
                           : ("on " + std::to_string(o.handshake_threads) +
                              " handshake thread(s), wall clock")
                                 .c_str(),
                       r.cycles_per_handshake,
                       static_cast<unsigned long long>(r.handshakes), floor,
                       r.cycles_per_handshake > 0 ? floor / r.cycles_per_handshake : 0,
                       r.cookies_per_s, r.cycles_per_cookie,
                       static_cast<unsigned long long>(r.cookies), r.control_cycles_per_cookie,
                       static_cast<unsigned long long>(r.control_cookies), r.drops_text.c_str());
        } else {
          if (!header) {
            print_header(o);
            header = true;
          }
          for (const auto& f : r.per_lcore) print_row("  lcore", r, f, o);
          print_row(std::string(to_string(engine)).c_str(), r, r.total, o);
          if (o.mode == Mode::kLcore && r.gen_limited > 0.05)
            std::fprintf(g_out, "  (gen-limited: the rx ring was empty at %.0f%% of the fills)\n",
                         r.gen_limited * 100);
        }
        std::fflush(g_out);
        write_csv(o, r);
        if (!failed.empty()) {
          std::fprintf(g_err, "wgperf: %s %s: counters do not add up: %s\n",
                       std::string(to_string(engine)).c_str(), size_name(size).c_str(),
                       failed.c_str());
          if (o.check) rc = 1;
        }
      }
    }
  }
  rte_eal_cleanup();
  return rc;
}
