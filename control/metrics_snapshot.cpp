// Building the metrics snapshot on the control thread; see
// metrics_snapshot.hpp for why it must be cheap.
#include "control/metrics_snapshot.hpp"

#include <rte_ethdev.h>
#include <rte_ring.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "control/control_thread.hpp"
#include "control/control_tx.hpp"
#include "control/election.hpp"
#include "control/line_writer.hpp"
#include "control/reload.hpp"
#include "control/store_sync.hpp"
#include "crypto/base64.hpp"
#include "dataplane/context.hpp"

namespace wghub::ctl {

const std::shared_ptr<const MetricsPeerLabels>& MetricsPeerCache::labels(
    const std::string& interface_name, const Device::Peer& p) {
  if (interface_name != interface_name_) {
    by_slot_.clear();  // every label set names the interface
    interface_name_ = interface_name;
  }
  if (p.slot >= by_slot_.size()) by_slot_.resize(std::size_t{p.slot} + 1);
  std::shared_ptr<const MetricsPeerLabels>& l = by_slot_[p.slot];
  // Comparing costs no allocation; rendering (base64, prefixes, escaping)
  // happens once per peer, not once per peer per second.
  if (l == nullptr || l->public_key != p.public_key || l->name != p.name ||
      l->allowed_ips != p.allowed_ips) {
    std::string allowed_ips;
    for (const config::Prefix& prefix : p.allowed_ips) {
      if (!allowed_ips.empty()) allowed_ips += ',';
      allowed_ips += prefix.to_string();
    }
    auto fresh = render_peer_labels(interface_name, crypto::key_to_base64(p.public_key.data()),
                                    allowed_ips, p.name);
    fresh->public_key = p.public_key;
    fresh->allowed_ips = p.allowed_ips;
    l = std::move(fresh);
  }
  return l;
}

std::size_t MetricsPeerCache::size() const {
  std::size_t n = 0;
  for (const auto& l : by_slot_) n += l != nullptr ? 1 : 0;
  return n;
}

void add_snapshot_peer(MetricsSnapshot& s, MetricsPeerCache& cache, const MetricsOptions& options,
                       const Device::Peer& p, const dp::Endpoint& endpoint, bool live_session) {
  ++s.peers_configured;
  s.peers_live += live_session ? 1 : 0;
  s.staged_waiting += p.staged.size();
  if (!options.per_peer ||
      (options.per_peer_limit != 0 && s.peers.size() >= options.per_peer_limit))
    return;
  MetricsPeer& mp = s.peers.emplace_back();
  mp.slot = p.slot;
  mp.labels = cache.labels(s.interface_name, p);
  if (options.peer_endpoints) mp.endpoint = endpoint;  // opt-in: a site's public IP:port
  if (p.last_handshake)
    mp.latest_handshake_unix =
        std::chrono::duration_cast<std::chrono::seconds>(p.last_handshake->time_since_epoch())
            .count();
  mp.live_session = live_session;
  mp.counter_base = p.counters_baseline;
  mp.control = p.control_counters;
}

std::shared_ptr<const MetricsSnapshot> MetricsSnapshotBuilder::step(
    const std::string& interface_name, const MetricsOptions& options, const Device& device,
    const HandshakeEngine& engine, const ControlThread& control, const ControlTx& tx,
    const dp::Dataplane& dp, std::uint64_t now_tsc, std::size_t slice,
    std::chrono::nanoseconds budget) {
  if (building_ == nullptr) {
    std::size_t exported = options.per_peer ? device.peers().size() : 0;
    if (options.per_peer_limit != 0)
      exported = std::min<std::size_t>(exported, options.per_peer_limit);
    std::optional<std::vector<MetricsPeer>> storage = storage_.take(exported);
    if (!storage) return nullptr;  // a helper reserves it: the pass starts on a later poll
    building_ = std::make_shared<MetricsSnapshot>();
    building_->interface_name = interface_name;
    building_->peers = std::move(*storage);
    next_slot_ = 0;
  }
  MetricsSnapshot* s = building_.get();
  // By slot (slice_by_slot): a peer removed meanwhile is skipped, and a
  // limit keeps the lowest slots.
  const bool done = slice_by_slot(
      device.peers(), next_slot_, slice,
      [&](std::uint32_t slot, const Device::Peer& peer) {
        add_snapshot_peer(*s, cache_, options, peer, dp.peers->at(slot).endpoint.load(),
                          device.has_session(peer, now_tsc));
        return true;
      },
      budget);
  if (!done) return nullptr;

  s->handshakes = engine.counters();
  // The DoS gate runs on the workers (cookie_gate.hpp): their cookie
  // replies, mac1 failures and rate-limited sources count here too.
  for (const auto& w : dp.worker_stats) {
    const dp::LcoreStats st = dp::snapshot(*w);
    s->handshakes.cookie_replies_sent += st.cookie_replies_sent;
    s->handshakes.drops[static_cast<std::size_t>(HandshakeDrop::kInvalidMac)] +=
        st.drops[static_cast<std::size_t>(dp::DropReason::kHandshakeBadMac1)];
    s->handshakes.drops[static_cast<std::size_t>(HandshakeDrop::kRateLimited)] +=
        st.drops[static_cast<std::size_t>(dp::DropReason::kHandshakeRateLimited)];
  }
  s->handshakes.cookie_replies_sent += control.counters().cookie_replies_sent;
  const Device::StagedCounters& staged = device.staged_counters();
  s->staged_queued = staged.queued;
  s->staged_sent = staged.sent;
  s->staged_overflow = staged.overflow;
  s->staged_purged = staged.purged;
  s->staged_over_budget = staged.over_budget;
  s->under_load = control.under_load();
  s->under_load_entered = control.counters().under_load_entered;
  if (dp.handshakes != nullptr) {
    s->control_ring_count = rte_ring_count(dp.handshakes);
    s->control_ring_capacity = rte_ring_get_capacity(dp.handshakes);
  }
  const ControlTxCounters& tc = tx.counters();
  for (unsigned p = 0; p < dp::kStatsPortCount; ++p) {
    s->control_tx_packets[p] = tc.tx_packets[p];
    s->control_tx_bytes[p] = tc.tx_bytes[p];
  }
  s->control_tx_failed = tc.tx_failed;
  s->control_held_dropped = tc.held_dropped;
  s->control_bad_ndp = control.counters().ndp_bad;
  s->log_lines_suppressed = control.counters().log_lines_suppressed;
  s->log_lines_dropped = line_writer_dropped();
  s->control_polls = control.poll_histogram();
  if (const HandshakeThreads* t = control.handshake_threads()) {
    const HandshakeThreads::Counters tc = t->counters();
    s->handshake_threads_prepared = tc.prepared;
    s->handshake_threads_queue_full = tc.done_queue_full;
  }
  if (const StoreSync* sync = control.store_sync()) {
    const StoreStatus st = sync->status();
    s->store_enabled = true;
    s->store_connected = st.connected;
    s->store_revision_seen = st.revision_seen;
    s->store_last_contact_unix = st.last_contact_unix;
    s->store_reconnects = st.reconnects;
    if (const Reloader* r = control.reloader()) {
      const StoreApplyStats& a = r->store_stats();
      s->store_revision_applied = a.revision_applied;
      s->store_peer_changes = a.peer_changes;
      s->store_refused = a.refused;
      s->store_last_lag_seconds = std::chrono::duration<double>(a.last_lag).count();
    }
  }
  if (const RoleSource* e = control.election()) {
    const ElectionStatus st = e->status();
    s->ha_enabled = true;
    s->ha_active = dp.answering.load(std::memory_order_relaxed);
    s->ha_leader_changes = st.leader_changes;
    s->ha_keepalive_failures = st.keepalive_failures;
    s->ha_became_active = control.became_active();
    s->ha_became_standby = control.became_standby();
    s->ha_fenced_frames = tc.fenced;
    s->ha_announcements = tc.announcements;
    s->ha_takeover_handshakes = control.takeover_dials();
    s->ha_endpoints_published = st.endpoints_published;
    s->ha_failsafe_enabled = st.failsafe_enabled;
    s->ha_failsafe_answering = st.failsafe_answering;
    s->ha_failsafe = st.failsafe;
  }
  const dp::PortContext* ports[dp::kStatsPortCount] = {&dp.wan, &dp.lan};
  for (unsigned p = 0; p < dp::kStatsPortCount; ++p) {
    s->neighbour_incomplete_refused[p] =
        ports[p]->neighbours->incomplete_refused() + ports[p]->neighbours6->incomplete_refused();
    s->port_rx_missed[p] = ports[p]->socket_drops.total();  // net_af_packet: the kernel's
    rte_eth_stats st{};
    if (ports[p]->port.started && rte_eth_stats_get(ports[p]->port.id, &st) == 0) {
      s->port_rx_missed[p] += st.imissed;
      s->port_rx_nombuf[p] = st.rx_nombuf;
      s->port_rx_errors[p] = st.ierrors;
    }
  }
  return std::move(building_);
}

}  // namespace wghub::ctl
