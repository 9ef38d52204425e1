// The exporter's HTTP server: civetweb serving GET /metrics on one thread of
// its own. A scrape builds the whole exposition there (metrics.cpp,
// metrics_peers.cpp) from the live counters and the control thread's latest
// snapshot, so neither the control thread nor a worker waits for it.
#include <CivetServer.h>
#include <civetweb.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <prometheus/summary.h>
#include <prometheus/text_serializer.h>
#include <zlib.h>

#include <chrono>
#include <cstring>
#include <exception>
#include <sstream>
#include <utility>

#include "control/cpu_affinity.hpp"
#include "control/metrics.hpp"

namespace wghub::ctl {

namespace {

// Prometheus asks for gzip. At 100k peers the text is ~120 MB and deflate
// is the largest part of a scrape: the fastest level compresses this
// repetitive text about as well as the default one (docs/metrics.md has
// both) at a fraction of the time.
constexpr int kGzipLevel = Z_BEST_SPEED;

bool accepts_gzip(mg_connection* conn) {
  const char* accept = mg_get_header(conn, "Accept-Encoding");
  return accept != nullptr && std::strstr(accept, "gzip") != nullptr;
}

// The gzip stream of `in`; empty on a zlib failure.
std::string gzip(const std::string& in) {
  z_stream zs{};
  if (deflateInit2(&zs, kGzipLevel, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return {};
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return rc == Z_STREAM_END ? out : std::string();
}

}  // namespace

MetricsOptions metrics_options(const config::Metrics& metrics) {
  MetricsOptions o;
  o.per_peer = metrics.per_peer == config::PerPeerMetrics::kAll;
  o.per_peer_limit = metrics.per_peer_limit;
  o.peer_endpoints = metrics.peer_endpoints;
  return o;
}

class MetricsExporter::Handler : public CivetHandler {
 public:
  explicit Handler(const MetricsExporter& exporter)
      : exporter_(exporter),
        transferred_(prometheus::BuildCounter()
                         .Name("exposer_transferred_bytes_total")
                         .Help("Transferred bytes to metrics services")
                         .Register(registry_)
                         .Add({})),
        scrapes_(prometheus::BuildCounter()
                     .Name("exposer_scrapes_total")
                     .Help("Number of times metrics were scraped")
                     .Register(registry_)
                     .Add({})),
        latencies_(
            prometheus::BuildSummary()
                .Name("exposer_request_latencies")
                .Help("Latencies of serving scrape requests, in microseconds")
                .Register(registry_)
                .Add({}, prometheus::Summary::Quantiles{{0.5, 0.05}, {0.9, 0.01}, {0.99, 0.001}})) {
  }

  bool handleGet(CivetServer*, mg_connection* conn) override {
    lower_this_thread();  // below the control thread (cpu_affinity.hpp)
    const auto start = std::chrono::steady_clock::now();
    std::string body = exporter_.scrape_text();
    {
      // The server's own families (as prometheus::Exposer served them):
      // figures of the scrapes before this one.
      std::ostringstream self;
      prometheus::TextSerializer().Serialize(self, registry_.Collect());
      body += self.view();
    }
    bool gzipped = false;
    if (accepts_gzip(conn)) {
      std::string z = gzip(body);
      gzipped = !z.empty();  // on a zlib failure the text goes as it is
      if (gzipped) body = std::move(z);
    }
    mg_printf(conn,
              "HTTP/1.1 200 OK\r\n"
              "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
              "%s"
              "Content-Length: %zu\r\n\r\n",
              gzipped ? "Content-Encoding: gzip\r\n" : "", body.size());
    mg_write(conn, body.data(), body.size());
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
    latencies_.Observe(static_cast<double>(us.count()));
    transferred_.Increment(static_cast<double>(body.size()));
    scrapes_.Increment();
    return true;
  }

 private:
  const MetricsExporter& exporter_;
  // Touched only by the one server thread.
  prometheus::Registry registry_;
  prometheus::Counter& transferred_;
  prometheus::Counter& scrapes_;
  prometheus::Summary& latencies_;
};

std::unique_ptr<MetricsExporter> MetricsExporter::start(const std::string& bind_address,
                                                        std::vector<MetricsLcore> lcores,
                                                        MetricsOptions options,
                                                        std::string& error) {
  std::unique_ptr<MetricsExporter> e(new MetricsExporter());
  e->lcores_ = std::move(lcores);
  e->options_ = options;
  e->handler_ = std::make_unique<Handler>(*e);
  try {
    // One server thread: scrapes are rare, and one at a time bounds the
    // memory a scrape holds (the text, then its gzip).
    e->server_ = std::make_unique<CivetServer>(
        std::vector<std::string>{"listening_ports", bind_address, "num_threads", "1"});
  } catch (const std::exception& ex) {
    error = "metrics: cannot listen on " + bind_address + ": " + ex.what();
    return nullptr;
  }
  e->server_->addHandler(kMetricsPath, e->handler_.get());
  const std::vector<int> ports = e->server_->getListeningPorts();
  e->port_ = ports.empty() ? 0 : static_cast<std::uint16_t>(ports.front());
  return e;
}

MetricsExporter::~MetricsExporter() {
  // Stop the server (and its thread) before the handler and the snapshot go.
  if (server_ != nullptr) server_->close();
  server_.reset();
}

std::shared_ptr<const MetricsSnapshot> MetricsExporter::snapshot() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

void MetricsExporter::publish(std::shared_ptr<const MetricsSnapshot> snapshot) {
  {
    std::lock_guard lock(mutex_);
    snapshot_.swap(snapshot);
  }
  disposer_.dispose(std::move(snapshot));
}

std::string MetricsExporter::scrape_text() const {
  const std::shared_ptr<const MetricsSnapshot> s = snapshot();
  return exposition(lcores_, s.get());
}

}  // namespace wghub::ctl
