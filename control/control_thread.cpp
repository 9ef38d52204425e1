#include "control/control_thread.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ring.h>
#include <unistd.h>

#include <array>
#include <cinttypes>
#include <cstring>
#include <string>

#include "control/audit.hpp"
#include "control/election.hpp"
#include "control/handshake_threads.hpp"
#include "control/log.hpp"
#include "control/metrics.hpp"
#include "control/pacing.hpp"
#include "control/reload.hpp"
#include "control/store_sync.hpp"
#include "control/uapi_server.hpp"
#include "crypto/base64.hpp"
#include "dataplane/arp.hpp"
#include "dataplane/icmp.hpp"
#include "dataplane/ndp.hpp"

namespace wghub::ctl {

namespace {

constexpr unsigned kRingBurst = 64;
constexpr auto kTickInterval = std::chrono::milliseconds(100);
// Peers serviced per poll during a timer pass: a few ms at most, so that
// with 10^5 peers a pass is spread over polls instead of stalling one
// (handshakes and wg(8) are served between the slices).
constexpr std::size_t kTickSlicePeers = 4096;
constexpr auto kTickSliceBudget = std::chrono::milliseconds(1);
// Peer metadata for the metrics exporter: O(peers) work, so once a second
// at most, and at most a tenth of the thread (duty_paced_next): at 2^20
// peers a pass's slices take ~1-2 s of it (each peer's state a cache
// miss), and a snapshot is then ~10-20 s old at most.
constexpr auto kMetricsInterval = std::chrono::seconds(1);
constexpr unsigned kMetricsIdlePerBusy = 9;
// A poll this long is logged with where its time went, once per interval.
constexpr auto kSlowPoll = std::chrono::milliseconds(50);
constexpr auto kSlowPollLogEvery = std::chrono::seconds(10);
constexpr std::size_t kPollSteps = 6;

SourceAddress source_of(const std::uint8_t* frame, const dp::Classified& c) {
  if (c.ip_version == 6) {
    std::array<std::uint8_t, 16> a;
    std::memcpy(a.data(), dp::ipv6_src(frame, c), 16);
    return SourceAddress::ipv6(a, rte_be_to_cpu_16(c.src_port_be));
  }
  std::array<std::uint8_t, 4> a;
  std::memcpy(a.data(), &c.src_ip_be, 4);
  return SourceAddress::ipv4(a, rte_be_to_cpu_16(c.src_port_be));
}

}  // namespace

ControlThread::ControlThread(dp::Dataplane& dp, Device& device, HandshakeEngine& engine,
                             ControlTx& tx, unsigned status_interval_s)
    : dp_(dp),
      device_(device),
      engine_(engine),
      tx_(tx),
      status_interval_s_(status_interval_s),
      failure_lines_(kFailureLinesPerSecond, kFailureLinesBurst, rte_get_tsc_hz()) {
  next_status_ = Clock::now() + std::chrono::seconds(status_interval_s_);
}

void ControlThread::set_metrics(MetricsExporter* exporter, std::string interface_name) {
  metrics_ = exporter;
  metrics_interface_ = std::move(interface_name);
  metrics_builder_ = MetricsSnapshotBuilder();  // a pass under way named the old interface
  next_metrics_ = {};
}

void ControlThread::set_election(RoleSource* election) {
  election_ = election;
  // Until the election says otherwise, a hub with one is a standby (and
  // one whose election ends, at shutdown, stays fenced).
  dp_.answering.store(false, std::memory_order_release);
}

// The fence, every poll (election.hpp): by this hub's clock, not by the
// election thread's progress, so a thread stuck in a call to etcd still
// stops the WAN before the lease could be granted elsewhere.
void ControlThread::update_role() {
  const bool active = election_->answering();
  if (active == dp_.answering.load(std::memory_order_relaxed)) return;
  const ElectionStatus st = election_->status();
  if (active) {
    dp_.answering.store(true, std::memory_order_release);  // before the announcements
    ++became_active_;
    for (dp::PortContext* port : {&dp_.wan, &dp_.lan}) {
      tx_.announce<dp::Inet4>(*port);
      tx_.announce<dp::Inet6>(*port);
    }
    takeover_queue_ = election_->take_endpoints();
    clear_takeover_map();  // an earlier takeover may have stopped half way
    publish_open_ = false;
    published_endpoints_.clear();
    for (const auto& [name, value] : takeover_queue_) published_endpoints_[name] = value;
    log_info("role: active (%s holds the lease); answering, gratuitous ARP/NA sent on both ports",
             election_->node().c_str());
  } else {
    dp_.answering.store(false, std::memory_order_release);
    ++became_standby_;
    log_warn("role: standby (%s); answering nothing on either port",
             st.leader.empty() || st.leader == election_->node()
                 ? "the lease is lost or in doubt"
                 : ("the leader is " + st.leader).c_str());
  }
  AuditEvent("role_changed")
      .add("role", active ? "active" : "standby")
      .add("node", election_->node())
      .add("leader", st.leader)
      .emit();
}

namespace {
constexpr std::size_t kTakeoverDialsPerPoll = 256;  // each costs a handshake initiation
constexpr auto kPublishInterval = std::chrono::seconds(2);
}  // namespace

void ControlThread::clear_takeover_map() {
  takeover_next_ = 0;
  takeover_slots_.clear();
  takeover_slots_ready_ = false;
  takeover_scan_ = 0;
}

// The active hub's side of takeover handshakes (docs/ha.md): dials the
// endpoints the previous active hub published, a slice per poll (the ticks
// then send the initiations, within their per-poll budget), and publishes
// its own peers' endpoints that changed, in a pass every 2 s. The name ->
// slot map and the publication pass walk the peers scan_slice_ at a time.
void ControlThread::takeover_step(TimePoint now) {
  const auto& peers = device_.peers();
  if (takeover_next_ < takeover_queue_.size()) {
    if (!takeover_slots_ready_) {
      auto it = peers.lower_bound(takeover_scan_);
      for (std::size_t n = 0; it != peers.end() && n < scan_slice_; ++it, ++n)
        takeover_slots_.emplace(it->second.name, it->first);
      if (it != peers.end()) {
        takeover_scan_ = it->first;
        return;  // more next poll
      }
      takeover_slots_ready_ = true;
    }
    const std::size_t end =
        std::min(takeover_queue_.size(), takeover_next_ + kTakeoverDialsPerPoll);
    for (; takeover_next_ < end; ++takeover_next_) {
      const auto& [name, value] = takeover_queue_[takeover_next_];
      const auto slot = takeover_slots_.find(name);
      if (slot == takeover_slots_.end()) continue;
      // The map was built over several polls: the slot may hold another
      // peer by now (removed, reused by a reload).
      const auto peer = peers.find(slot->second);
      const auto ep = config::Endpoint::parse(value);
      if (peer != peers.end() && peer->second.name == name && ep &&
          device_.dial(slot->second, *ep.value))
        ++takeover_dials_;
    }
    if (takeover_next_ == takeover_queue_.size()) {
      log_info("takeover: handshakes started to %" PRIu64 " of %zu published endpoint(s)",
               takeover_dials_, takeover_queue_.size());
      takeover_queue_.clear();
      clear_takeover_map();
    }
  }
  if (!publish_open_) {
    if (now < next_publish_) return;
    next_publish_ = now + kPublishInterval;
    publish_open_ = true;
    publish_scan_ = 0;
  }
  std::vector<std::pair<std::string, std::string>> changed;
  auto it = peers.lower_bound(publish_scan_);
  for (std::size_t n = 0; it != peers.end() && n < scan_slice_; ++it, ++n) {
    const Device::Peer& p = it->second;
    const dp::Endpoint ep = device_.endpoint(p);
    if (ep.empty()) continue;
    std::string text = format_endpoint(ep);
    std::string& published = published_endpoints_[p.name];
    if (published == text) continue;
    published = text;
    changed.emplace_back(p.name, std::move(text));
  }
  if (it == peers.end())
    publish_open_ = false;
  else
    publish_scan_ = it->first;
  if (!changed.empty()) election_->publish_endpoints(std::move(changed));
}

void ControlThread::run(ControlSignals& signals, const std::function<void()>& on_reload) {
  while (signals.stop == 0) {
    if (signals.dump != 0) {
      signals.dump = 0;
      print_status(true);
    }
    if (signals.reload != 0) {
      signals.reload = 0;
      if (on_reload) on_reload();
    }
    // Idle: a short sleep; not while a timer pass or a reload has slices left.
    if (poll_once() == 0 && !tick_pass_open_ && (reloader_ == nullptr || !reloader_->parsed()))
      usleep(200);
  }
}

void ControlThread::update_load(TimePoint now) {
  const unsigned depth = rte_ring_count(dp_.handshakes);
  std::uint64_t answered = 0;  // the workers' cookie replies so far
  for (const auto& w : dp_.worker_stats) answered += dp::counter_read(w->cookie_replies_sent);
  switch (load_.update(depth, rte_ring_get_capacity(dp_.handshakes), answered, now)) {
    case UnderLoad::Change::kEntered:
      ++counters_.under_load_entered;
      log_warn("under load: %u handshake messages queued; the workers answer with cookies", depth);
      AuditEvent("under_load").add("state", "entered").add("queued", std::uint64_t{depth}).emit();
      break;
    case UnderLoad::Change::kLeft:
      log_info("no longer under load");
      AuditEvent("under_load").add("state", "left").emit();
      break;
    case UnderLoad::Change::kNone:
      break;
  }
  dp_.under_load.store(load_.active(), std::memory_order_relaxed);
}

unsigned ControlThread::poll_once() {
  const auto poll_start = std::chrono::steady_clock::now();
  const TimePoint now = Clock::now();
  update_load(now);
  if (election_ != nullptr) {
    update_role();
    if (dp_.answering.load(std::memory_order_relaxed)) takeover_step(now);
  }
  const std::uint64_t now_tsc = rte_get_tsc_cycles();
  void* objs[kRingBurst];
  const unsigned handshakes = poll_handshakes(now, now_tsc);
  const unsigned local = rte_ring_dequeue_burst(dp_.local, objs, kRingBurst, nullptr);
  for (unsigned i = 0; i < local; ++i) process_local(static_cast<rte_mbuf*>(objs[i]), now_tsc);
  const unsigned n = handshakes + local;
  const unsigned events = rte_ring_dequeue_burst(dp_.events, objs, kRingBurst, nullptr);
  for (unsigned i = 0; i < events; ++i) {
    dp::WorkerEvent event;
    std::uint32_t slot;
    dp::decode_event(objs[i], event, slot);
    device_.on_event(engine_, event, slot, now, now_tsc);
  }
  const unsigned staged = rte_ring_dequeue_burst(dp_.staged, objs, kRingBurst, nullptr);
  for (unsigned i = 0; i < staged; ++i) {
    auto* m = static_cast<rte_mbuf*>(objs[i]);
    const dp::ControlMeta& meta = dp::control_meta(m);
    device_.stage(m, meta.peer_slot, meta.peer_generation, now, now_tsc);
  }

  // When each step ended, for the slow-poll warning below.
  std::array<std::chrono::steady_clock::time_point, kPollSteps> ended;
  ended[0] = std::chrono::steady_clock::now();
  // One slice of a reload in progress (bounded: reload.hpp), between the
  // rings above and the wg(8) socket below, so neither waits for all of it.
  if (store_sync_ != nullptr && reloader_ != nullptr) {
    std::chrono::steady_clock::time_point received;
    if (auto snapshot = store_sync_->take(&received))
      reloader_->request_store(std::move(snapshot), received);
  }
  if (reloader_ != nullptr) reloader_->step();
  ended[1] = std::chrono::steady_clock::now();
  if (uapi_ != nullptr) uapi_->poll();
  ended[2] = std::chrono::steady_clock::now();
  // The timers: a pass over the peers each kTickInterval, in slices; quiet
  // peers (nothing armed, nothing waiting) only every
  // Device::kSweepEvery-th pass. A pass longer than the interval would leave
  // the thread no idle time and the background threads (a reload's parse)
  // only what nice 10 gets; the next pass starts no sooner than the last
  // took, so timers then fire within about a pass's time.
  if (now >= next_tick_ || tick_pass_open_) {
    if (!tick_pass_open_) {
      next_tick_ = now + kTickInterval;
      tick_pass_start_ = now;
    }
    tick_pass_open_ = !device_.tick_slice(engine_, now, now_tsc, kTickSlicePeers, kTickSliceBudget);
    if (!tick_pass_open_) next_tick_ = paced_next(tick_pass_start_, now, kTickInterval);
    dp_.cookie_gate->rotate_if_due(now_tsc);
    // Fresh: the device tick may have stamped held frames after now_tsc.
    tx_.tick(rte_get_tsc_cycles());
    for (dp::PortContext* port : {&dp_.wan, &dp_.lan}) port->socket_drops.sample();
  }
  ended[3] = std::chrono::steady_clock::now();
  // A snapshot is built over several polls, a slice of peers each
  // (MetricsSnapshotBuilder), and published when complete. The next starts
  // a second after this one started, or nine times its slices' time after
  // it ended (kMetricsIdlePerBusy), so snapshots take at most a tenth of
  // the control thread.
  if (metrics_ != nullptr && (now >= next_metrics_ || metrics_builder_.building())) {
    if (!metrics_builder_.building()) {
      metrics_pass_start_ = now;
      metrics_pass_busy_ = {};
    }
    const TimePoint step_start = ended[3];  // read just above
    auto s = metrics_builder_.step(metrics_interface_, metrics_->options(), device_, engine_, *this,
                                   tx_, dp_, now_tsc);
    const TimePoint step_end = std::chrono::steady_clock::now();
    metrics_pass_busy_ += step_end - step_start;
    if (s) {
      metrics_->publish(std::move(s));
      next_metrics_ = duty_paced_next(metrics_pass_start_, step_end, metrics_pass_busy_,
                                      kMetricsInterval, kMetricsIdlePerBusy);
    }
  }
  ended[4] = std::chrono::steady_clock::now();
  if (status_interval_s_ != 0 && now >= next_status_) {
    next_status_ = now + std::chrono::seconds(status_interval_s_);
    print_status(false);
  }
  ended[5] = std::chrono::steady_clock::now();
  const std::chrono::nanoseconds took = ended[5] - poll_start;
  polls_.observe(took);
  if (took >= kSlowPoll && now >= next_slow_poll_log_) {
    // Where a long poll went: what an operator (or the next profile) needs
    // to know which pass to look at. At most one line per kSlowPollLogEvery.
    next_slow_poll_log_ = now + kSlowPollLogEvery;
    auto ms = [](auto a, auto b) {
      return std::chrono::duration<double, std::milli>(b - a).count();
    };
    log_warn(
        "slow control poll: %.1f ms (rings %.1f, reload %.1f, wg(8) %.1f, timers %.1f, metrics "
        "%.1f, status %.1f ms); handshakes waited through it",
        ms(poll_start, ended[5]), ms(poll_start, ended[0]), ms(ended[0], ended[1]),
        ms(ended[1], ended[2]), ms(ended[2], ended[3]), ms(ended[3], ended[4]),
        ms(ended[4], ended[5]));
  }
  if (reloader_ != nullptr) reloader_->observe_poll(took);
  return n + events + staged;
}

unsigned ControlThread::poll_handshakes(TimePoint now, std::uint64_t now_tsc) {
  // One burst of a handshake ring, processed here (no prepared crypto).
  auto drain = [&](rte_ring* ring, bool proven) {
    void* objs[kRingBurst];
    const unsigned n = rte_ring_dequeue_burst(ring, objs, kRingBurst, nullptr);
    for (unsigned i = 0; i < n; ++i)
      process_handshake(static_cast<rte_mbuf*>(objs[i]), proven, nullptr, now, now_tsc);
    return n;
  };
  if (handshake_threads_ == nullptr) {
    // Proven messages first: a flood of unproven ones never makes them wait.
    const unsigned proven = drain(dp_.handshakes_proven, true);
    return proven + drain(dp_.handshakes, false);
  }
  // The threads did the X25519s (and took the proven ring first).
  handshake_jobs_.clear();
  const std::size_t n = handshake_threads_->take(handshake_jobs_, 2 * kRingBurst);
  for (HandshakeThreads::Job& job : handshake_jobs_)
    process_handshake(job.m, job.proven, job.prepared.get(), now, now_tsc);
  handshake_jobs_.clear();  // wipes what was prepared
  // Under load the threads leave the unproven ring: cookie replies from here.
  return static_cast<unsigned>(n) + (load_.active() ? drain(dp_.handshakes, false) : 0);
}

void ControlThread::process_handshake(rte_mbuf* m, bool proven, HandshakeEngine::Prepared* prepared,
                                      TimePoint now, std::uint64_t now_tsc) {
  const dp::Classified c = dp::classify_wan(m, dp_.wan.local);
  if (c.kind != dp::Classify::kWireGuard) {  // cannot happen: a worker classified it
    rte_pktmbuf_free(m);
    return;
  }
  on_wireguard(m, c, proven, prepared, now, now_tsc);
}

void ControlThread::process_local(rte_mbuf* m, std::uint64_t now_tsc) {
  const dp::ControlMeta meta = dp::control_meta(m);
  dp::PortContext& port = tx_.port(meta.port_stats_index);
  if (meta.reason == dp::ControlReason::kAwaitingNeighbour) {
    if (meta.next_hop_family == 6) {
      dp::Ipv6Address next_hop;
      std::memcpy(next_hop.data(), meta.next_hop6, 16);
      tx_.send_via<dp::Inet6>(port, m, next_hop, now_tsc);
    } else {
      tx_.send_via<dp::Inet4>(port, m, meta.next_hop_be, now_tsc);
    }
    return;
  }
  const bool wan = meta.port_stats_index == dp::kStatsPortWan;
  const dp::Classified c = wan ? dp::classify_wan(m, port.local) : dp::classify_lan(m, port.local);
  switch (c.kind) {
    case dp::Classify::kArp: {
      dp::ArpMessage msg;
      if (dp::parse_arp(rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len, msg)) {
        const dp::ArpLearn learned = dp::arp_merge(
            msg, dp::Ipv4Interface{port.local.ip_be, port.mask_be}, *port.neighbours, now_tsc);
        if (learned != dp::ArpLearn::kIgnored)
          tx_.neighbour_learned<dp::Inet4>(port, msg.sender_ip_be);
      }
      if (dp::answer_arp_in_place(m, port.local.ip_be, port.local.mac)) {
        ++counters_.arp_answered;
        tx_.send_frame(port, m);
      } else {
        rte_pktmbuf_free(m);
      }
      return;
    }
    case dp::Classify::kNdp:
      on_ndp(m, port, c, now_tsc);
      return;
    case dp::Classify::kIcmpEchoToUs:
      dp::icmp_echo_reply_in_place(m, c, port.local.mac);
      ++counters_.icmp_answered;
      tx_.send_frame(port, m);
      return;
    default:
      break;
  }
  rte_pktmbuf_free(m);
}

// RFC 4861: learn the sender (NS) or the target (NA), release frames that
// waited for it, and answer a solicitation for our address.
void ControlThread::on_ndp(rte_mbuf* m, dp::PortContext& port, const dp::Classified& c,
                           std::uint64_t now_tsc) {
  dp::NdpMessage msg;
  if (!dp::parse_ndp(rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len, c, msg)) {
    ++counters_.ndp_bad;
    rte_pktmbuf_free(m);
    return;
  }
  const dp::Ipv6Interface iface{port.local.ip6, port.prefix6};
  if (dp::ndp_merge(msg, iface, *port.neighbours6, now_tsc) != dp::NdpLearn::kIgnored)
    tx_.neighbour_learned<dp::Inet6>(port,
                                     msg.type == dp::kNdpNeighborSolicit ? msg.src : msg.target);
  if (dp::answer_ns(m, msg, port.local.ip6, port.local.mac)) {
    ++counters_.ndp_answered;
    tx_.send_frame(port, m);
  } else {
    rte_pktmbuf_free(m);
  }
}

void ControlThread::on_wireguard(rte_mbuf* m, const dp::Classified& c, bool proven,
                                 HandshakeEngine::Prepared* prepared, TimePoint now,
                                 std::uint64_t now_tsc) {
  ++counters_.handshake_messages;
  const auto* payload = rte_pktmbuf_mtod_offset(m, const std::uint8_t*, c.payload_offset);
  const auto* frame = rte_pktmbuf_mtod(m, const std::uint8_t*);
  const auto* eth = reinterpret_cast<const rte_ether_hdr*>(frame);
  const bool v6 = c.ip_version == 6;
  dp::Ipv6Address src6{};
  if (v6) std::memcpy(src6.data(), dp::ipv6_src(frame, c), 16);
  const bool on_link = v6 ? dp_.wan.on_link6(src6.data()) : dp_.wan.on_link(c.src_ip_be);
  if (on_link) {
    if (v6) {
      tx_.set_reply_hint6(src6, eth->src_addr);
    } else {
      tx_.set_reply_hint(c.src_ip_be, eth->src_addr);
    }
  }
  const SourceAddress source = source_of(frame, c);
  const std::span<const std::uint8_t> message(payload, c.payload_len);
  // The workers checked mac1, and under load mac2 and the source's rate
  // (cookie_gate.hpp). A message queued before the hub came under load is
  // answered as the workers answer now: with a cookie reply, no X25519
  // (unless a handshake thread already spent them).
  if (!proven && prepared == nullptr && load_.active() &&
      message[0] != static_cast<std::uint8_t>(dp::MessageType::kCookieReply)) {
    const dp::Endpoint from = v6 ? dp::Endpoint::v6(src6.data(), c.src_port_be)
                                 : dp::Endpoint::v4(c.src_ip_be, c.src_port_be);
    dp::MessageCookieReply reply;
    dp_.cookie_gate->make_reply(reply, message, from, random_);
    device_.send_handshake(source, {reinterpret_cast<const std::uint8_t*>(&reply), sizeof reply},
                           std::nullopt);
    ++counters_.cookie_replies_sent;
    tx_.clear_reply_hint();
    rte_pktmbuf_free(m);
    return;
  }
  const HandshakeEngine::Result r = prepared != nullptr
                                        ? engine_.complete_initiation(*prepared, source, now)
                                        : engine_.receive(message, source, now);
  tx_.clear_reply_hint();
  // An authenticated handshake proves the on-link sender: remember its MAC so
  // the reply and the data that follows need no ARP / NDP round trip.
  if (r.outcome == HandshakeOutcome::kSessionDerived && on_link) {
    if (v6) {
      if (dp_.wan.neighbours6->update(src6, eth->src_addr, now_tsc))
        tx_.neighbour_learned<dp::Inet6>(dp_.wan, src6);
    } else if (dp_.wan.neighbours->update(c.src_ip_be, eth->src_addr, now_tsc)) {
      tx_.neighbour_learned<dp::Inet4>(dp_.wan, c.src_ip_be);
    }
  }
  if (r.outcome == HandshakeOutcome::kSessionDerived ||
      r.outcome == HandshakeOutcome::kCookieConsumed)
    device_.handshake_received(*r.peer_slot, c.payload_len,
                               r.outcome == HandshakeOutcome::kSessionDerived, now);
  // Failures of a known peer are logged and audited; anonymous garbage is
  // only counted (metrics). A known peer's failure can still be caused by a
  // stranger (a replayed initiation), so those lines have a budget
  // (kFailureLinesPerSecond) and what it holds back is counted and reported.
  const Device::Peer* p = r.peer_slot ? device_.peer_at(*r.peer_slot) : nullptr;
  if (r.drop && r.noise_error && p != nullptr) {
    if (!failure_lines_.take(now_tsc)) {
      ++counters_.log_lines_suppressed;
      rte_pktmbuf_free(m);
      return;
    }
    if (counters_.log_lines_suppressed != reported_suppressed_) {
      log_warn("%" PRIu64 " handshake_failed log and audit lines held back by their budget",
               counters_.log_lines_suppressed - reported_suppressed_);
      reported_suppressed_ = counters_.log_lines_suppressed;
    }
    const std::string endpoint = format_endpoint(endpoint_of(source));
    log_warn("handshake from peer %s at %s refused: %s", p->name.c_str(), endpoint.c_str(),
             to_string(*r.noise_error).data());
    AuditEvent("handshake_failed")
        .add("peer", p->name)
        .add("public_key", crypto::key_to_base64(p->public_key.data()))
        .add("endpoint", endpoint)
        .add("reason", to_string(*r.noise_error))
        .emit();
  }
  rte_pktmbuf_free(m);
}

}  // namespace wghub::ctl
