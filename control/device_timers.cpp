// The device's per-peer time-driven work (kernel timers.c, send.c staged
// packets): each tick turns the timestamps the workers stored into PeerTimers
// events (DESIGN.md: timers on the fast path are timestamp stores that the
// control thread re-checks), runs the timers, and acts on what they decide:
// initiations, keepalives, giving up, erasing keys. Packets that found no
// session wait here, per peer, until a keypair can carry them.
//
// Granularity: the workers stamp at most every 10 ms and the tick runs every
// 100 ms, so an event is seen up to one tick late and, when several packets
// went the same way within a tick, as the last of them. Every timer is
// seconds long; the error is bounded by the tick.
#include <rte_cycles.h>

#include <algorithm>
#include <array>

#include "control/device.hpp"
#include "control/log.hpp"
#include "crypto/aead.hpp"
#include "dataplane/data_message.hpp"

namespace wghub::ctl {

namespace {

// A worker's TSC stamp as a time point of the control clock (never later than now).
TimePoint at_tsc(std::uint64_t stamp, TimePoint now, std::uint64_t now_tsc) {
  if (stamp >= now_tsc) return now;
  const auto cycles = static_cast<double>(now_tsc - stamp);
  return now - std::chrono::duration_cast<Clock::duration>(
                   std::chrono::duration<double>(cycles / static_cast<double>(rte_get_tsc_hz())));
}

}  // namespace

bool Device::has_session(const Peer& p, std::uint64_t now_tsc) const {
  return p.current != nullptr && !p.current->expired(now_tsc, dp_.reject_after_cycles) &&
         p.current->send_counter.load(std::memory_order_relaxed) < dp::kRejectAfterMessages;
}

SendingKey Device::sending_key(const Peer& p, TimePoint now, std::uint64_t now_tsc) const {
  SendingKey key;
  if (p.current == nullptr) return key;
  key.valid = has_session(p, now_tsc);
  key.is_initiator = p.current->is_initiator;
  key.birth = at_tsc(p.current->birth_tsc, now, now_tsc);
  key.send_counter = p.current->send_counter.load(std::memory_order_relaxed);
  return key;
}

// The stamps that moved since the last look become events, oldest first;
// for one packet the kernel's order (receive.c/send.c): authenticated, then
// traversal, then data.
void Device::observe_stamps(Peer& p, TimePoint now, std::uint64_t now_tsc) {
  const dp::PeerState& st = dp_.peers->at(p.slot);
  enum Kind { kRx, kDataRx, kTx, kDataTx };
  struct Seen {
    std::uint64_t stamp;
    Kind kind;
  };
  std::array<Seen, 4> moved{};
  std::size_t n = 0;
  auto look = [&](const std::atomic<std::uint64_t>& stamp, std::uint64_t& seen, Kind kind) {
    const std::uint64_t v = stamp.load(std::memory_order_relaxed);
    if (v != seen) {
      seen = v;
      moved[n++] = Seen{v, kind};
    }
  };
  look(st.last_rx_tsc, p.seen.rx, kRx);
  look(st.last_data_rx_tsc, p.seen.data_rx, kDataRx);
  look(st.last_tx_tsc, p.seen.tx, kTx);
  look(st.last_data_tx_tsc, p.seen.data_tx, kDataTx);
  std::stable_sort(moved.begin(), moved.begin() + static_cast<std::ptrdiff_t>(n),
                   [](const Seen& a, const Seen& b) { return a.stamp < b.stamp; });
  PeerTimers::Actions actions;
  for (std::size_t i = 0; i < n; ++i) {
    const TimePoint t = at_tsc(moved[i].stamp, now, now_tsc);
    switch (moved[i].kind) {
      case kRx:
        p.timers.any_authenticated_packet_received(t);
        p.timers.any_authenticated_packet_traversal(t);
        p.timers.keep_key_fresh_received(sending_key(p, now, now_tsc), t, actions);
        break;
      case kDataRx:
        p.timers.data_received(t);
        break;
      case kTx:
        p.timers.any_authenticated_packet_traversal(t);
        p.timers.any_authenticated_packet_sent(t);
        p.timers.keep_key_fresh_sent(sending_key(p, now, now_tsc), t, actions);
        break;
      case kDataTx:
        p.timers.data_sent(t);
        break;
    }
  }
  run_actions(*engine_, p, actions, now, now_tsc);
}

void Device::run_actions(HandshakeEngine& engine, Peer& p, PeerTimers::Actions& actions,
                         TimePoint now, std::uint64_t now_tsc) {
  // Acting may ask for more (a keepalive without a session asks for a
  // handshake): work through the list as it grows.
  for (std::size_t i = 0; i < actions.size(); ++i) {
    switch (actions[i]) {
      case TimerAction::kSendInitiation: {
        const dp::Endpoint ep = endpoint(p);
        if (engine.initiate(p.slot, now, /*force=*/true))
          log_info("handshake initiation sent to peer %s at %s%s", p.name.c_str(),
                   format_endpoint(ep).c_str(),
                   p.timers.handshake_attempts() != 0
                       ? (" (retry " + std::to_string(p.timers.handshake_attempts()) + ")").c_str()
                       : "");
        break;
      }
      case TimerAction::kSendKeepalive:
        if (has_session(p, now_tsc))
          send_keepalive(p.slot);
        else
          p.timers.need_handshake(now, actions);  // send.c: the keepalive waits for a session
        break;
      case TimerAction::kPurgeStaged:
        log_info("handshake with peer %s did not complete after %u attempts, giving up",
                 p.name.c_str(), kMaxTimerHandshakes + 2);
        purge_staged(p);
        break;
      case TimerAction::kZeroKeyMaterial:
        zero_key_material(p);
        break;
    }
  }
  actions.clear();
}

// 3 * REJECT_AFTER_TIME without a new session: nothing of it may stay in
// memory (whitepaper 6.3).
void Device::zero_key_material(Peer& p) {
  if (p.previous == nullptr && p.current == nullptr && p.next == nullptr) return;
  dp_.peers->at(p.slot).current.store(nullptr, std::memory_order_release);
  retire(p.previous);
  retire(p.current);
  retire(p.next);
  if (engine_ != nullptr) engine_->clear_handshake(p.slot);
  log_info("peer %s: no new session for %lld s, key material erased", p.name.c_str(),
           static_cast<long long>(kZeroKeyMaterialAfter.count()));
}

// A responder keypair becomes current with its first data packet
// (whitepaper 5.4.5); that completes the handshake for the timers.
void Device::promote_next(Peer& p, TimePoint now) {
  dp::Keypair* old_previous = p.previous;
  p.previous = p.current;
  p.current = p.next;
  p.next = nullptr;
  publish_current(p);
  retire(old_previous);
  p.timers.handshake_complete(now);
}

void Device::service(HandshakeEngine& engine, Peer& p, TimePoint now, std::uint64_t now_tsc) {
  dp::PeerState& st = dp_.peers->at(p.slot);
  if (p.next != nullptr && p.next->received_data.load(std::memory_order_relaxed))
    promote_next(p, now);
  // Keypairs past REJECT_AFTER_TIME carry nothing any more.
  if (p.previous != nullptr && p.previous->expired(now_tsc, dp_.reject_after_cycles))
    retire(p.previous);

  const dp::Endpoint ep = st.endpoint.load();
  if (ep != 0) engine.update_endpoint(p.slot, unpack_endpoint(ep));
  if (ep != p.logged_endpoint) {  // roamed: a worker saw authenticated data from elsewhere
    log_info("peer %s endpoint %s -> %s", p.name.c_str(),
             format_endpoint(p.logged_endpoint).c_str(), format_endpoint(ep).c_str());
    p.logged_endpoint = ep;
  }

  observe_stamps(p, now, now_tsc);

  PeerTimers::Actions actions;
  const bool session = has_session(p, now_tsc);
  if (p.dial_pending) {  // configured endpoint, or persistent keepalive just turned on
    p.dial_pending = false;
    actions.push_back(TimerAction::kSendKeepalive);  // a handshake first when there is no session
  }
  if (st.handshake_wanted.load(std::memory_order_relaxed)) {
    st.handshake_wanted.store(false, std::memory_order_relaxed);
    if (!session) p.timers.need_handshake(now, actions);
  }
  // Waiting packets asked for their handshake when they came (stage()); only
  // new traffic restarts the attempts, so a dead site is given up on.
  if (!p.staged.empty() && session) send_staged(p, now_tsc);
  p.timers.expire(now, actions);
  run_actions(engine, p, actions, now, now_tsc);
  // Quiet: nothing a later pass could find to do until something wakes it.
  if (p.slot < quiet_.size())
    quiet_[p.slot] = p.previous == nullptr && p.current == nullptr && p.next == nullptr &&
                     !p.dial_pending && p.staged.empty() && !p.timers.next_deadline() &&
                     !st.handshake_wanted.load(std::memory_order_relaxed) &&
                     st.endpoint.load() == p.logged_endpoint;
}

void Device::tick(HandshakeEngine& engine, TimePoint now, std::uint64_t now_tsc) {
  tick_cursor_ = 0;
  pass_open_ = false;
  passes_ = 0;  // a sweep
  while (!tick_slice(engine, now, now_tsc, peers_.size() + 1)) {
  }
}

bool Device::tick_slice(HandshakeEngine& engine, TimePoint now, std::uint64_t now_tsc,
                        std::size_t max_peers, std::chrono::nanoseconds budget) {
  // By slot, from the cursor (slice_by_slot); service() itself removes none.
  // A skip reads one byte: a pass skips ~10^6 quiet peers in a few ms; only
  // serviced peers count toward `max_peers`.
  if (!pass_open_) {
    pass_open_ = true;
    sweep_ = passes_++ % kSweepEvery == 0;
  }
  const bool done = slice_by_slot(
      peers_, tick_cursor_, max_peers,
      [&](std::uint32_t slot, Peer& peer) {
        if (!sweep_ && slot < quiet_.size() && quiet_[slot] != 0) {
          ++quiet_skipped_;
          return false;
        }
        service(engine, peer, now, now_tsc);
        pass_live_ += has_session(peer, now_tsc) ? 1 : 0;  // a quiet peer has no keypair
        return true;
      },
      budget);
  publish_ipv6_routes();
  deferred_.reclaim();
  if (done) {
    pass_open_ = false;
    live_sessions_ = pass_live_;
    pass_live_ = 0;
  }
  return done;
}

void Device::on_event(HandshakeEngine& engine, dp::WorkerEvent, std::uint32_t slot, TimePoint now,
                      std::uint64_t now_tsc) {
  if (auto it = peers_.find(slot); it != peers_.end()) service(engine, it->second, now, now_tsc);
}

}  // namespace wghub::ctl
