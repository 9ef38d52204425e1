// The Prometheus exporter (pull, text format 0.0.4): what a scrape of
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
//                   thread (publish) and the HTTP thread (a scrape) take,
//                   for the length of a pointer copy.
//
// exposition() is a pure function of both, so the tests call it without a
// network. The per-peer families (7 series a peer) are written as text
// directly (metrics_peers.cpp); the few hundred fixed series go through
// prometheus-cpp (collect_fixed). Costs per peer: docs/metrics.md. Keys: the snapshot holds public
// keys only (base64); no private or preshared key ever reaches it.
#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.hpp"
#include "control/disposer.hpp"
#include "control/failsafe.hpp"
#include "control/handshake_engine.hpp"
#include "control/poll_histogram.hpp"
#include "dataplane/lcore_stats.hpp"
#include "dataplane/peer_state.hpp"

class CivetServer;

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

// A peer's label sets, rendered once (escaped, in the text format) when the
// peer first appears or its name, key or allowed IPs change, and shared by
// every snapshot after that: the control thread copies a pointer per peer
// each second instead of building strings, and a scrape copies bytes instead
// of escaping labels.
struct MetricsPeerLabels {
  // {interface="…",public_key="…",allowed_ips="…",friendly_name="…"}: the
  // wireguard_* and wghub_peer_* label set, in prometheus_wireguard_exporter's order.
  std::string series;
  // {interface="…",public_key="…",friendly_name="…",endpoint=" : the start of
  // wghub_peer_info's; the scrape appends the endpoint and `"}`.
  std::string info_prefix;
  // What they were rendered from (MetricsPeerCache checks these).
  config::PublicKey public_key{};
  std::string name;
  std::vector<config::Prefix> allowed_ips;
};

// Renders the label sets from text values (tests, benchmarks; the hub goes
// through MetricsPeerCache). `allowed_ips` is comma-joined CIDRs, as
// prometheus_wireguard_exporter writes them.
std::shared_ptr<MetricsPeerLabels> render_peer_labels(std::string_view interface_name,
                                                      std::string_view public_key_base64,
                                                      std::string_view allowed_ips,
                                                      std::string_view name);

// One exported peer as the control thread sees it: plain values and a shared
// pointer, so a snapshot of 100k peers is one allocation and no string work.
struct MetricsPeer {
  std::uint32_t slot = 0;  // data plane peer slot: indexes the PeerCounterBlocks
  std::shared_ptr<const MetricsPeerLabels> labels;
  dp::Endpoint endpoint{};                 // last authenticated endpoint; empty = none known
  std::int64_t latest_handshake_unix = 0;  // seconds since the epoch; 0 = never
  bool live_session = false;               // holds a keypair it may send on
  // The slot's counter totals when this peer got it (lcore_stats.hpp: a
  // reused slot inherits the old totals); subtracted from the live sums.
  dp::PeerCounters counter_base{};
  // Handshake messages and keepalives the control thread sent or accepted
  // for this peer (not in the workers' blocks); added to the live sums.
  dp::PeerCounters control{};
};

// Which peers get per-peer series (config metrics.per_peer, per_peer_limit).
struct MetricsOptions {
  bool per_peer = true;
  std::uint32_t per_peer_limit = 0;  // at most this many peers, lowest slots first; 0 = no limit
  bool peer_endpoints = false;       // wghub_peer_info's endpoint label; empty when false
};

// The control thread's state, published as a whole (immutable once built).
struct MetricsSnapshot {
  std::string interface_name;  // the `interface` label of the wireguard_* families
  // The peers whose series are exported (all of them unless MetricsOptions
  // says otherwise), by slot.
  std::vector<MetricsPeer> peers;
  // Every configured peer, whatever the options export.
  std::uint64_t peers_configured = 0;
  std::uint64_t peers_live = 0;
  HandshakeCounters handshakes;
  bool under_load = false;
  std::uint64_t under_load_entered = 0;
  std::uint64_t control_ring_count = 0;     // messages waiting for the control thread
  std::uint64_t control_ring_capacity = 0;  // the ring's usable size
  // Packets that waited for a handshake (Device::StagedCounters) and those
  // waiting now.
  std::uint64_t staged_queued = 0, staged_sent = 0, staged_overflow = 0, staged_purged = 0;
  std::uint64_t staged_over_budget = 0;
  std::uint64_t staged_waiting = 0;
  // The control thread's own tx queue on each port (handshakes, keepalives,
  // ARP, ICMP): exported with lcore="control".
  std::uint64_t control_tx_packets[dp::kStatsPortCount] = {};
  std::uint64_t control_tx_bytes[dp::kStatsPortCount] = {};
  std::uint64_t control_tx_failed = 0;     // control tx queue full -> reason tx_full
  std::uint64_t control_held_dropped = 0;  // no neighbour answered -> reason no_neighbour
  std::uint64_t log_lines_suppressed = 0;  // handshake_failed lines over their budget
  std::uint64_t log_lines_dropped = 0;     // lines over the line writer's budget
  PollHistogram control_polls;             // how long the control thread's polls took
  // dataplane.handshake_threads (handshake_threads.hpp)
  std::uint64_t handshake_threads_prepared = 0;
  std::uint64_t handshake_threads_queue_full = 0;
  std::uint64_t control_bad_ndp = 0;  // NS/NA refused by RFC 4861 7.1 -> reason bad_ndp
  // What the ports' drivers dropped before any worker saw it (rte_eth_stats):
  // rx rings full (imissed), no mbuf (rx_nombuf), bad frames (ierrors).
  std::uint64_t port_rx_missed[dp::kStatsPortCount] = {};
  // IPv4 and IPv6 neighbour tables together (incomplete-entry budget).
  std::uint64_t neighbour_incomplete_refused[dp::kStatsPortCount] = {};
  std::uint64_t port_rx_nombuf[dp::kStatsPortCount] = {};
  std::uint64_t port_rx_errors[dp::kStatsPortCount] = {};
  // Peers from etcd (docs/ha.md); the wghub_store_* families are written
  // only when store_enabled.
  bool store_enabled = false;
  bool store_connected = false;
  std::int64_t store_revision_seen = 0, store_revision_applied = 0;
  std::int64_t store_last_contact_unix = 0;
  std::uint64_t store_peer_changes = 0, store_refused = 0, store_reconnects = 0;
  double store_last_lag_seconds = 0;
  // Leader election (docs/ha.md); the wghub_ha_* families only when enabled.
  bool ha_enabled = false;
  bool ha_active = false;  // answering on the WAN now
  std::uint64_t ha_leader_changes = 0, ha_became_active = 0, ha_became_standby = 0;
  std::uint64_t ha_keepalive_failures = 0, ha_fenced_frames = 0, ha_announcements = 0;
  std::uint64_t ha_takeover_handshakes = 0, ha_endpoints_published = 0;
  bool ha_failsafe_enabled = false;    // store.failsafe_peers set
  bool ha_failsafe_answering = false;  // answering on the other hubs' promises now
  FailsafeStatus ha_failsafe;
};

// The fixed families of one scrape (ports, lcores, drops, handshakes, load,
// peer counts), from the live counters and a snapshot (nullptr = none
// published yet: exported as zero). A few hundred series whatever the peer
// count: prometheus-cpp builds and serializes them. Any thread.
std::vector<prometheus::MetricFamily> collect_fixed(std::span<const MetricsLcore> lcores,
                                                    const MetricsSnapshot* snapshot);

// Appends the per-peer families (wireguard_*, wghub_peer_*) of `snapshot`'s
// peers to `out` in the text format, written directly: at 100k peers these
// are 700k series, which prometheus-cpp's label vectors and ostream
// formatting made a multi-second scrape. Every family is written (HELP and
// TYPE) even with no peer. Any thread.
void append_peer_series(std::span<const MetricsLcore> lcores, const MetricsSnapshot* snapshot,
                        std::string& out);

// The whole scrape in the Prometheus text format (version 0.0.4): the
// per-peer families, then the fixed ones.
std::string exposition(std::span<const MetricsLcore> lcores, const MetricsSnapshot* snapshot);

// --- glue to the hub (control thread) ---

// The workers' counter blocks, labelled with their lcore ids (`lcore_ids[i]`
// runs worker i, as config dataplane.lcores says).
std::vector<MetricsLcore> metrics_lcores(const dp::Dataplane& dp,
                                         std::span<const unsigned> lcore_ids);

// "0.0.0.0:9586", "[::1]:9586": the listen endpoint as civetweb takes it.
std::string metrics_bind_address(const config::Metrics& metrics);

// What config metrics.per_peer / per_peer_limit ask for.
MetricsOptions metrics_options(const config::Metrics& metrics);

// Owns the HTTP server (civetweb, its own thread) that serves /metrics.
// Destroy it before the data plane whose counter blocks it reads.
//
// Not prometheus::Exposer: its handler takes only prometheus-cpp
// MetricFamily objects (no pre-rendered text) and gzips every scrape at
// zlib's default level, which at 100k peers costs more than building the
// text. The server is the civetweb that Exposer wraps, with the same
// options; the exposer_* families it added are kept, under the same names.
class MetricsExporter {
 public:
  // Listens on `bind_address` ("host:port"; port 0 = any free port). nullptr
  // with a message when the address cannot be bound.
  static std::unique_ptr<MetricsExporter> start(const std::string& bind_address,
                                                std::vector<MetricsLcore> lcores,
                                                MetricsOptions options, std::string& error);
  ~MetricsExporter();
  MetricsExporter(const MetricsExporter&) = delete;
  MetricsExporter& operator=(const MetricsExporter&) = delete;

  // Control thread: replaces the snapshot that scrapes combine with the
  // live counters. Takes `mutex_` for a pointer swap; the old snapshot is
  // freed on the disposer's thread (or by the scrape still holding it).
  void publish(std::shared_ptr<const MetricsSnapshot> snapshot);
  // Which peers the control thread's snapshots should export.
  const MetricsOptions& options() const { return options_; }
  // The port actually bound (the one asked for, or the one picked for 0).
  std::uint16_t port() const { return port_; }
  // What a scrape would return now, without the exposer_* families (tests,
  // debugging).
  std::string scrape_text() const;

 private:
  class Handler;
  MetricsExporter() = default;
  std::shared_ptr<const MetricsSnapshot> snapshot() const;

  std::vector<MetricsLcore> lcores_;  // fixed at start-up
  MetricsOptions options_;
  // Guards snapshot_ only; taken by the control thread (publish) and the
  // HTTP thread (a scrape) for the length of a pointer copy. Never by a
  // worker.
  mutable std::mutex mutex_;
  std::shared_ptr<const MetricsSnapshot> snapshot_;
  Disposer disposer_;
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<CivetServer> server_;
  std::uint16_t port_ = 0;
};

}  // namespace wghub::ctl
