// wghub-metrics-bench: what the Prometheus exporter costs at 1k / 10k / 100k
// peers (or the counts given as arguments). Prints one table row per count:
//   snapshot cold   the control thread's per-peer snapshot work the first
//                   time it sees the peers (labels rendered)
//   snapshot warm   the same, once a second after that (labels shared):
//                   what the control thread pays per publish, in all
//   longest slice   the longest of its slices of kSlicePeers peers: the
//                   control thread's longest stall for metrics
//   scrape text     exposition() on the HTTP thread, and its bytes
//   gzip            zlib at the exporter's level (Prometheus asks for gzip)
//   http gzip       one GET /metrics over loopback with Accept-Encoding: gzip,
//                   from connect to the last byte
// Figures only, no thresholds (DESIGN.md: benchmarks, not timed tests); the
// numbers in docs/metrics.md come from this program.
//
// The peers are Device::Peer records in a std::map by slot, as the Device
// keeps them, with one allowed IPv4 /24 each, 2 workers' counter blocks with
// non-zero counts, and an IPv4 endpoint each. No DPDK: the snapshot's
// per-peer step (add_snapshot_peer) is the one make_metrics_snapshot runs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "control/metrics_snapshot.hpp"

namespace {

using namespace wghub;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

template <typename F>
double median_ms(int runs, F&& f) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    f();
    t.push_back(ms_since(start));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::size_t gzip_size(const std::string& in) {
  z_stream zs{};
  deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  const std::size_t n = zs.total_out;
  deflateEnd(&zs);
  return n;
}

// Bytes of one GET /metrics (headers included) from 127.0.0.1:port.
std::size_t http_get_gzip(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::size_t got = 0;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request =
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n"
        "Connection: close\r\n\r\n";
    if (send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
      static char buf[1 << 16];
      ssize_t n;
      while ((n = recv(fd, buf, sizeof buf, 0)) > 0) got += static_cast<std::size_t>(n);
    }
  }
  close(fd);
  return got;
}

void bench(std::uint32_t n) {
  std::mt19937_64 rng(n);
  std::map<std::uint32_t, ctl::Device::Peer> peers;
  for (std::uint32_t i = 0; i < n; ++i) {
    ctl::Device::Peer p;
    char text[32];
    std::snprintf(text, sizeof text, "site-%07u", i);
    p.name = text;
    for (auto& b : p.public_key) b = static_cast<std::uint8_t>(rng());
    p.slot = i;
    std::snprintf(text, sizeof text, "10.%u.%u.0/24", (i >> 8) & 255, i & 255);
    p.allowed_ips.push_back(*config::Prefix::parse(text).value);
    p.last_handshake = std::chrono::system_clock::now();
    peers.emplace(i, std::move(p));
  }
  dp::LcoreStats stats[2];
  auto block0 = std::make_unique<dp::PeerCounterBlock>(n);
  auto block1 = std::make_unique<dp::PeerCounterBlock>(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    block0->add_rx(i, rng() % 100000000, rng() % 100000);
    block1->add_tx(i, rng() % 100000000, rng() % 100000);
  }
  const std::vector<ctl::MetricsLcore> lcores = {{"1", &stats[0], block0.get()},
                                                 {"2", &stats[1], block1.get()}};

  ctl::MetricsPeerCache cache;
  const ctl::MetricsOptions options;
  std::shared_ptr<ctl::MetricsSnapshot> snapshot;
  auto take_snapshot = [&] {
    auto s = std::make_shared<ctl::MetricsSnapshot>();
    s->interface_name = "wghub0";
    s->peers.reserve(peers.size());
    for (const auto& [slot, p] : peers)
      ctl::add_snapshot_peer(*s, cache, options, p, dp::Endpoint::v4(0x0a000001 + slot, 0xca6c),
                             true);
    snapshot = std::move(s);  // the previous one is freed here, as in publish()
  };
  const double cold = median_ms(1, take_snapshot);
  const double warm = median_ms(5, take_snapshot);
  // The control thread takes the pass in slices (MetricsSnapshotBuilder):
  // its longest stall is the slowest slice.
  double slice_max = 0;
  for (int round = 0; round < 3; ++round) {
    auto s = std::make_shared<ctl::MetricsSnapshot>();
    s->interface_name = "wghub0";
    s->peers.reserve(peers.size());
    auto it = peers.begin();
    while (it != peers.end()) {
      const auto start = Clock::now();
      for (std::size_t k = 0; it != peers.end() && k < ctl::MetricsSnapshotBuilder::kSlicePeers;
           ++it, ++k)
        ctl::add_snapshot_peer(*s, cache, options, it->second,
                               dp::Endpoint::v4(0x0a000001 + it->first, 0xca6c), true);
      slice_max = std::max(slice_max, ms_since(start));
    }
  }

  std::string text;
  const double scrape = median_ms(3, [&] { text = ctl::exposition(lcores, snapshot.get()); });
  std::size_t gz = 0;
  const double gzip = median_ms(3, [&] { gz = gzip_size(text); });

  std::string error;
  auto exporter = ctl::MetricsExporter::start("127.0.0.1:0", lcores, options, error);
  double http = -1;
  std::size_t http_bytes = 0;
  if (exporter != nullptr) {
    exporter->publish(snapshot);
    http = median_ms(3, [&] { http_bytes = http_get_gzip(exporter->port()); });
  } else {
    std::fprintf(stderr, "%s\n", error.c_str());
  }
  std::printf(
      "| %u | %.1f ms | %.2f ms | %.3f µs | %.2f ms | %.1f MB | %zu B | %.0f ms | %.1f MB | %.0f "
      "ms | "
      "%.0f ms | %.1f MB |\n",
      n, cold, warm, warm * 1000 / n, slice_max, static_cast<double>(text.size()) / 1e6,
      text.size() / n, scrape, static_cast<double>(gz) / 1e6, gzip + scrape, http,
      static_cast<double>(http_bytes) / 1e6);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::uint32_t> counts = {1000, 10000, 100000};
  if (argc > 1) {
    counts.clear();
    for (int i = 1; i < argc; ++i)
      counts.push_back(static_cast<std::uint32_t>(std::stoul(argv[i])));
  }
  std::printf(
      "| peers | snapshot cold | snapshot warm | warm per peer | longest slice | scrape text | "
      "per peer | text time | gzip size | text+gzip time | http gzip | http bytes |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (std::uint32_t n : counts) bench(n);
  return 0;
}
