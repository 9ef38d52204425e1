// The control thread's side of the exporter: what it does about once a second to
// publish a MetricsSnapshot. The control thread answers handshakes, so this
// must stay cheap at 2^20 peers: per peer it copies a few values and one
// shared pointer to label text rendered when the peer appeared
// (MetricsPeerCache), in slices (MetricsSnapshotBuilder). Formatting and
// serialisation happen on the exporter's HTTP thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "control/device.hpp"
#include "control/metrics.hpp"
#include "control/reserved_ahead.hpp"

namespace wghub::ctl {

// The rendered label sets of the peers, by slot. Control thread only. A
// peer's labels are rendered again only when its name, key or allowed IPs
// differ from what they were rendered from (a changed peer, or a reused
// slot); otherwise the snapshot shares them.
class MetricsPeerCache {
 public:
  const std::shared_ptr<const MetricsPeerLabels>& labels(const std::string& interface_name,
                                                         const Device::Peer& p);
  // Label sets held (tests).
  std::size_t size() const;

 private:
  std::string interface_name_;
  std::vector<std::shared_ptr<const MetricsPeerLabels>> by_slot_;
};

// One peer's part of a snapshot: counts it, and adds it to the
// exported peers when `options` export it. Apart so that the benchmark times
// exactly the control thread's per-peer work (perf/metrics_bench.cpp).
void add_snapshot_peer(MetricsSnapshot& s, MetricsPeerCache& cache, const MetricsOptions& options,
                       const Device::Peer& p, const dp::Endpoint& endpoint, bool live_session);

// Builds the control thread's snapshot a slice of peers at a time. Even the
// cheap per-peer step cost ~1-2.5 µs a peer at 100k peers on a shared VM
// (measured when the Device's peers were a std::map; each peer's state is
// still a cache miss), and
// rendering a new peer's labels more; 100k in one go would be 100+ ms on
// the thread that answers handshakes. A slice ends after kSlicePeers peers
// or kSliceBudget, whichever comes first (a pass where every peer is new,
// just after start, renders ~4 µs a peer: measured 9-11 ms per 4,096-peer
// slice before the budget). A 100k-peer snapshot completes over ~100 of its
// polls. Peers added or removed between two slices show up in the next
// snapshot.
class MetricsSnapshotBuilder {
 public:
  static constexpr std::size_t kSlicePeers = 4096;
  static constexpr std::chrono::microseconds kSliceBudget{1000};

  // Control thread. Adds up to `slice` more peers (by slot), for at most
  // about `budget`, to the snapshot
  // under way, starting one if none is. Once every peer is in, completes it
  // with the control thread's own counters and returns it to publish;
  // nullptr while the pass is under way.
  std::shared_ptr<const MetricsSnapshot> step(const std::string& interface_name,
                                              const MetricsOptions& options, const Device& device,
                                              const HandshakeEngine& engine,
                                              const ControlThread& control, const ControlTx& tx,
                                              const dp::Dataplane& dp, std::uint64_t now_tsc,
                                              std::size_t slice = kSlicePeers,
                                              std::chrono::nanoseconds budget = kSliceBudget);
  // A pass is under way (the control loop keeps calling step()).
  bool building() const { return building_ != nullptr; }

 private:
  MetricsPeerCache cache_;
  // A pass's exported peers: 2^20 of them are ~200 MB (reserved_ahead.hpp).
  ReservedAhead<MetricsPeer> storage_;
  std::shared_ptr<MetricsSnapshot> building_;
  std::uint32_t next_slot_ = 0;  // where the next slice starts
};

}  // namespace wghub::ctl
