// The Prometheus exporter (pull, prometheus-cpp): what a scrape of
// http://<listen>/metrics returns. docs/metrics.md lists every family.
//
// Two kinds of input, read two ways, so a scrape never slows a worker:
//   live counters   the per-lcore LcoreStats and PeerCounterBlocks. A scrape
//                   reads them directly with counter_read (relaxed loads) and
//                   sums them; it takes no lock and writes nothing a worker
//                   touches. They are plain memory (no DPDK), allocated once
//                   at start-up and outliving the exporter.
//   control state   peer metadata (name, public key, allowed IPs, endpoint,
//                   latest handshake, live session) and the control thread's
//                   own counters (handshakes, under load, control tx, ring
//                   depth) belong to the control thread. It builds an
//                   immutable MetricsSnapshot and publishes it; the exporter
//                   swaps a shared_ptr under `mutex_`, which only the control
//                   thread (publish) and the scrape threads (collect) take,
//                   for the length of a pointer copy.
//
// collect() is a pure function of both, so the tests call it without a
// network. Keys: the snapshot holds public keys only (base64); no private or
// preshared key ever reaches it.
#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "control/handshake_engine.hpp"
#include "dataplane/lcore_stats.hpp"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace wghub::config {
struct Metrics;
}  // namespace wghub::config

namespace wghub::dp {
struct Dataplane;
}  // namespace wghub::dp

namespace wghub::ctl {

class ControlThread;
class ControlTx;
class Device;

inline constexpr const char* kMetricsPath = "/metrics";

// One worker's live counter blocks and the label it is exported under.
struct MetricsLcore {
  std::string lcore;  // label value: the EAL lcore id ("1", "2", ...)
  const dp::LcoreStats* stats = nullptr;
  const dp::PeerCounterBlock* peer_counters = nullptr;
};

// One configured peer as the control thread sees it.
struct MetricsPeer {
  std::uint32_t slot = 0;   // data plane peer slot: indexes the PeerCounterBlocks
  std::string name;         // -> friendly_name
  std::string public_key;   // base64, as wg(8) prints it
  std::string allowed_ips;  // comma-joined CIDRs, as prometheus_wireguard_exporter writes them
  std::string endpoint;     // "a.b.c.d:port"; empty = none known
  std::int64_t latest_handshake_unix = 0;  // seconds since the epoch; 0 = never
  bool live_session = false;               // holds a keypair it may send on
  // The slot's counter totals when this peer got it (lcore_stats.hpp: a
  // reused slot inherits the old totals); subtracted from the live sums.
  dp::PeerCounters counter_base{};
  // Handshake messages and keepalives the control thread sent or accepted
  // for this peer (not in the workers' blocks); added to the live sums.
  dp::PeerCounters control{};
};

// The control thread's state, published as a whole (immutable once built).
struct MetricsSnapshot {
  std::string interface_name;  // the `interface` label of the wireguard_* families
  std::vector<MetricsPeer> peers;
  HandshakeCounters handshakes;
  bool under_load = false;
  std::uint64_t under_load_entered = 0;
  std::uint64_t control_ring_count = 0;     // messages waiting for the control thread
  std::uint64_t control_ring_capacity = 0;  // the ring's usable size
  // Packets that waited for a handshake (Device::StagedCounters) and those
  // waiting now.
  std::uint64_t staged_queued = 0, staged_sent = 0, staged_overflow = 0, staged_purged = 0;
  std::uint64_t staged_waiting = 0;
  // The control thread's own tx queue on each port (handshakes, keepalives,
  // ARP, ICMP): exported with lcore="control".
  std::uint64_t control_tx_packets[dp::kStatsPortCount] = {};
  std::uint64_t control_tx_bytes[dp::kStatsPortCount] = {};
  std::uint64_t control_tx_failed = 0;     // control tx queue full -> reason tx_full
  std::uint64_t control_held_dropped = 0;  // no neighbour answered -> reason no_neighbour
  std::uint64_t control_bad_ndp = 0;       // NS/NA refused by RFC 4861 7.1 -> reason bad_ndp
  // What the ports' drivers dropped before any worker saw it (rte_eth_stats):
  // rx rings full (imissed), no mbuf (rx_nombuf), bad frames (ierrors).
  std::uint64_t port_rx_missed[dp::kStatsPortCount] = {};
  std::uint64_t port_rx_nombuf[dp::kStatsPortCount] = {};
  std::uint64_t port_rx_errors[dp::kStatsPortCount] = {};
};

// Every metric family of one scrape, from the live counters and a snapshot
// (nullptr = none published yet: the per-peer and control families are
// exported empty or zero). Any thread.
std::vector<prometheus::MetricFamily> collect(std::span<const MetricsLcore> lcores,
                                              const MetricsSnapshot* snapshot);

// The same, in the Prometheus text format (version 0.0.4).
std::string serialize_text(const std::vector<prometheus::MetricFamily>& families);

// --- glue to the hub (control thread) ---

// The workers' counter blocks, labelled with their lcore ids (`lcore_ids[i]`
// runs worker i, as config dataplane.lcores says).
std::vector<MetricsLcore> metrics_lcores(const dp::Dataplane& dp,
                                         std::span<const unsigned> lcore_ids);

// The control thread's state now. O(peers); meant to run about once a second
// from the control tick, not per packet.
std::shared_ptr<const MetricsSnapshot> make_metrics_snapshot(
    const std::string& interface_name, const Device& device, const HandshakeEngine& engine,
    const ControlThread& control, const ControlTx& tx, const dp::Dataplane& dp,
    std::uint64_t now_tsc);

// "0.0.0.0:9586", "[::1]:9586": the listen endpoint as civetweb takes it.
std::string metrics_bind_address(const config::Metrics& metrics);

// Owns the HTTP server (prometheus::Exposer, its own threads) and the
// Collectable it serves on /metrics. Destroy it before the data plane whose
// counter blocks it reads.
class MetricsExporter {
 public:
  // Listens on `bind_address` ("host:port"; port 0 = any free port). nullptr
  // with a message when the address cannot be bound.
  static std::unique_ptr<MetricsExporter> start(const std::string& bind_address,
                                                std::vector<MetricsLcore> lcores,
                                                std::string& error);
  ~MetricsExporter();
  MetricsExporter(const MetricsExporter&) = delete;
  MetricsExporter& operator=(const MetricsExporter&) = delete;

  // Control thread: replaces the snapshot that scrapes combine with the
  // live counters.
  void publish(std::shared_ptr<const MetricsSnapshot> snapshot);
  // The port actually bound (the one asked for, or the one picked for 0).
  std::uint16_t port() const { return port_; }
  // What a scrape would return now (tests, debugging).
  std::string scrape_text() const;

 private:
  class Collector;
  MetricsExporter() = default;

  std::shared_ptr<Collector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::uint16_t port_ = 0;
};

}  // namespace wghub::ctl
