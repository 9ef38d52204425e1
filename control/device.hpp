// The hub's WireGuard device as the control thread manages it (kernel
// device.c + peer.c + the keypair half of noise.c): applies the desired state
// to the data plane's tables (peer slots, AllowedIPs and LAN routes in the
// IPv4 and IPv6 FIBs, the appliance's own addresses), keeps each peer's keypairs as
// previous/current/next the way the kernel does, and is the HandshakeSink
// through which the handshake engine reaches the data plane. Control thread
// only; what workers may still hold is freed after an RCU grace period.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/model.hpp"
#include "config/route_policy.hpp"
#include "control/control_tx.hpp"
#include "control/handshake_engine.hpp"
#include "control/slot_map.hpp"
#include "control/staged_queue.hpp"
#include "control/timers.hpp"
#include "dataplane/context.hpp"

namespace wghub::ctl {

// One peer as configuration (YAML, wg(8), reload) describes it.
struct PeerSpec {
  std::string name;
  PublicKey public_key{};
  std::shared_ptr<const crypto::Key> preshared_key;  // null = none
  std::vector<config::Prefix> allowed_ips;
  std::optional<config::Endpoint> endpoint;
  std::uint16_t persistent_keepalive = 0;  // seconds, 0 = off

  static PeerSpec from(const config::Peer& peer);
};

class Device : public HandshakeSink {
 public:
  struct Peer {
    std::string name;
    PublicKey public_key{};
    std::uint32_t slot = 0;
    std::uint16_t persistent_keepalive = 0;  // seconds, 0 = off
    bool configured_endpoint = false;
    std::shared_ptr<const crypto::Key> preshared_key;
    std::vector<config::Prefix> allowed_ips;
    dp::PeerCounters counters_baseline;  // what the slot had counted before this peer
    // Handshake messages and keepalives sent or accepted by the control
    // thread (the workers count data): wg(8) and metrics add both, as the
    // kernel counts every message of the peer.
    dp::PeerCounters control_counters;
    // Kernel noise_keypairs: `next` is a responder's keypair until the first
    // data packet confirms it (whitepaper 5.4.5); `current` sends.
    dp::Keypair* previous = nullptr;
    dp::Keypair* current = nullptr;
    dp::Keypair* next = nullptr;
    std::optional<std::chrono::system_clock::time_point> last_handshake;
    std::uint64_t handshakes = 0;
    dp::Endpoint logged_endpoint;  // the endpoint last reported in the log

    // The kernel's timers, driven from the workers' stamps (device_timers.cpp).
    PeerTimers timers;
    struct Stamps {  // the PeerState stamps as last turned into timer events
      std::uint64_t rx = 0, data_rx = 0, tx = 0, data_tx = 0;
    } seen;
    // A configured endpoint or persistent keepalive: dial at the next tick.
    bool dial_pending = false;
    // Inner packets waiting for a session (kernel: staged packets), oldest
    // first, at most kMaxStagedPackets.
    StagedQueue staged;
  };

  // The kernel's MAX_STAGED_PACKETS: beyond it the oldest waiting packet goes.
  static constexpr std::size_t kMaxStagedPackets = 128;
  // All peers together: staged packets come from the pool that also refills
  // the rx rings, so ~130 packets for each of ~100 offline sites must not
  // drain it. 2048 is 1/8 of the hub's 16383-mbuf pool; past it a new packet
  // is dropped (over_budget) while the hub keeps forwarding for live sites.
  static constexpr std::size_t kStagedBudget = 2048;
  struct StagedCounters {
    std::uint64_t queued = 0;       // packets that waited for a handshake
    std::uint64_t sent = 0;         // ... and went out once it completed
    std::uint64_t overflow = 0;     // dropped: more than kMaxStagedPackets waiting
    std::uint64_t purged = 0;       // dropped: the handshake gave up, or the peer went
    std::uint64_t over_budget = 0;  // dropped: kStagedBudget packets already waiting
    std::uint64_t waiting = 0;      // now, all peers together (<= kStagedBudget)
  };

  Device(dp::Dataplane& dp, ControlTx& tx);
  ~Device() override;

  // The handshake engine that works through this device; set once, before
  // any peer is added.
  void attach(HandshakeEngine& engine) { engine_ = &engine; }

  // Start-up: builds the tables from `state`. False with a message naming
  // the config field when the data plane cannot hold it.
  bool apply(const config::DesiredState& state, std::string& error);

  // Runtime changes (wg(8), reload). A prefix another peer owns moves to this
  // one (wg(8) semantics); a prefix the hub reserves (route_policy()) is
  // refused before anything changes. A change of AllowedIPs either applies
  // whole or leaves the peer's routes as they were (a table that fills part
  // way rolls back what it added). Removing a peer cuts it off at once: no more
  // sending, its keypairs and routes are gone before the call returns; its
  // slot is reused only after an RCU grace period.
  bool add_peer(const PeerSpec& spec, std::string& error);
  bool update_peer(const PeerSpec& spec, std::string& error);
  bool remove_peer(const PublicKey& key);
  // The hub's own routes that no peer may take (config/route_policy.hpp),
  // set by apply().
  const config::RoutePolicy& route_policy() const { return route_policy_; }
  Peer* find(const PublicKey& key);
  const Peer* peer_at(std::uint32_t slot) const {
    auto it = peers_.find(slot);
    return it == peers_.end() ? nullptr : &it->second;
  }
  // Bytes and packets counted for the peer since it was added.
  dp::PeerCounters counters(const Peer& p) const;
  // A handshake message of `bytes` from the peer that authenticated
  // (initiation or response) or that only carried a cookie.
  void handshake_received(std::uint32_t slot, std::size_t bytes, bool authenticated, TimePoint now);
  // The peer's current endpoint (empty = none yet).
  dp::Endpoint endpoint(const Peer& p) const { return dp_.peers->at(p.slot).endpoint.load(); }
  // Periodic work: confirms responder keypairs, hands endpoints learned by
  // the workers to the engine, starts handshakes that are wanted, sends
  // persistent keepalives, frees retired keypairs.
  void tick(HandshakeEngine& engine, TimePoint now, std::uint64_t now_tsc);
  // The same, at most `max_peers` peers and about `budget` per call,
  // resuming where the last call stopped: true when the pass over every
  // peer is complete. The control thread runs each pass this way, so with
  // 10^5 peers (a few us each, mostly cache misses) no single poll services
  // them all.
  // A pass skips quiet peers (no keypair, no timer armed, nothing staged or
  // wanted: at 2^20 peers most of them, never connected or long gone) unless
  // it is a sweep: every kSweepEvery-th pass, and tick(), service every
  // peer. Whatever else gives a peer work wakes it (wake()); the sweep bounds
  // what a missed wake could delay to kSweepEvery passes.
  bool tick_slice(HandshakeEngine& engine, TimePoint now, std::uint64_t now_tsc,
                  std::size_t max_peers,
                  std::chrono::nanoseconds budget = std::chrono::nanoseconds::max());
  static constexpr unsigned kSweepEvery = 10;
  // Peers a pass skipped as quiet (all passes so far), for tests and the bench.
  std::uint64_t quiet_skipped() const { return quiet_skipped_; }
  // Peers with a live session as the last finished pass found them (the
  // status line: no walk of every peer in one poll).
  std::size_t live_sessions() const { return live_sessions_; }
  // A worker's notice about one peer: the same work for that peer, at once.
  void on_event(HandshakeEngine& engine, dp::WorkerEvent event, std::uint32_t slot, TimePoint now,
                std::uint64_t now_tsc);
  // A packet a worker could not send for want of a session (ring `staged`):
  // it waits in the peer's queue and a handshake starts.
  // `generation` is the slot's PeerState::generation when the worker staged
  // it: a packet for a peer removed meanwhile is purged, also when another
  // peer holds the slot by now.
  void stage(rte_mbuf* m, std::uint32_t slot, std::uint32_t generation, TimePoint now,
             std::uint64_t now_tsc);
  const StagedCounters& staged_counters() const { return staged_counters_; }

  const SlotMap<Peer>& peers() const { return peers_; }
  // Takeover (docs/ha.md): the endpoint the previous active hub last saw for
  // the peer; the next tick starts a handshake to it (a dial, as for a
  // configured endpoint). False: no such peer, or an IPv6 endpoint and no
  // address6 on the WAN.
  bool dial(std::uint32_t slot, const config::Endpoint& endpoint);
  bool has_session(const Peer& p, std::uint64_t now_tsc) const;

  // HandshakeSink
  void send_handshake(const SourceAddress& to, std::span<const std::uint8_t> message,
                      std::optional<std::uint32_t> peer_slot) override;
  std::optional<std::uint32_t> reserve_index() override;
  void release_index(std::uint32_t index) override;
  void install_keypair(std::uint32_t peer_slot, Keypair&& keypair) override;
  void set_endpoint(std::uint32_t peer_slot, const SourceAddress& endpoint) override;
  void send_keepalive(std::uint32_t peer_slot) override;

 private:
  // device_timers.cpp
  void service(HandshakeEngine& engine, Peer& p, TimePoint now, std::uint64_t now_tsc);
  void observe_stamps(Peer& p, TimePoint now, std::uint64_t now_tsc);
  void run_actions(HandshakeEngine& engine, Peer& p, PeerTimers::Actions& actions, TimePoint now,
                   std::uint64_t now_tsc);
  SendingKey sending_key(const Peer& p, TimePoint now, std::uint64_t now_tsc) const;
  void send_staged(Peer& p, std::uint64_t now_tsc);
  void purge_staged(Peer& p);
  void zero_key_material(Peer& p);
  void promote_next(Peer& p, TimePoint now);
  bool send_data(Peer& p, rte_mbuf* m, std::uint64_t now_tsc);
  void retire(dp::Keypair*& kp);
  void publish_current(Peer& p);
  bool add_route(const config::Prefix& prefix, dp::NextHop nh, const std::string& what,
                 std::string& error);
  bool set_allowed_ips(Peer& p, const std::vector<config::Prefix>& prefixes, std::string& error);
  bool permitted(const PeerSpec& spec, std::string& error) const;
  void remove_route(const config::Prefix& prefix);
  void set_configured_endpoint(Peer& p, const std::optional<config::Endpoint>& endpoint);
  void publish_ipv6_routes();
  // Takes back what the IPv6 FIB accepted and then could not apply
  // (Fib6::take_failures): the AllowedIP goes back to whom the table kept it
  // for, or to nobody. Run after a peer's AllowedIPs change and after each
  // publish (not inside a loop over a peer's allowed_ips: it edits them).
  void settle_fib6_failures();

  dp::Dataplane& dp_;
  ControlTx& tx_;
  dp::DeferredFree deferred_;
  HandshakeEngine* engine_ = nullptr;
  SlotMap<Peer> peers_;                                                             // by slot
  std::unordered_map<PublicKey, std::uint32_t, config::PublicKeyHash> slot_of_;     // by key
  std::unordered_map<config::Prefix, std::uint32_t, config::PrefixHash> owner_of_;  // AllowedIP
  config::RoutePolicy route_policy_;
  StagedCounters staged_counters_;
  std::uint64_t fib6_failures_logged_ = 0;
  std::uint32_t tick_cursor_ = 0;  // tick_slice: the slot the pass resumes at
  bool pass_open_ = false;         // tick_slice: a pass is under way
  bool sweep_ = true;              // ... and it services every peer
  std::uint64_t passes_ = 0;
  std::uint64_t quiet_skipped_ = 0;
  std::size_t pass_live_ = 0;      // live sessions the pass under way has seen
  std::size_t live_sessions_ = 0;  // ... and the last finished pass saw
  // By slot: 1 = the last service found nothing to do and nothing woke the
  // peer since (tick_slice skips it outside a sweep).
  std::vector<std::uint8_t> quiet_;
  void wake(std::uint32_t slot) {
    if (slot < quiet_.size()) quiet_[slot] = 0;
  }
};

// "a.b.c.d:port" or "[v6]:port" of an endpoint ("(none)" when empty), for
// logs and status.
std::string format_endpoint(const dp::Endpoint& endpoint);
// A public key in logs: its first 8 base64 characters, as wg(8) users know it.
std::string short_key(const PublicKey& key);
// The data plane's endpoint for a handshake's source or a configured endpoint.
dp::Endpoint endpoint_of(const SourceAddress& source);
dp::Endpoint endpoint_of(const config::Endpoint& endpoint);
// The handshake stage's address for a data-plane endpoint (not empty).
SourceAddress unpack_endpoint(const dp::Endpoint& endpoint);

}  // namespace wghub::ctl
