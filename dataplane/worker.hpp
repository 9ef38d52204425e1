// A worker lcore: run to completion over its own rx queues (DESIGN.md).
//
//   WAN rx -> classify -> data: keypair by index -> decrypt burst (IPsec-MB)
//          -> replay window -> inner-source check (FIB of the inner packet's
//          family) -> FIB lookup of the inner destination -> LAN tx, or
//          re-encrypt to another peer (hub-and-spoke); handshakes -> mac1,
//          under load mac2 or a cookie reply from here (cookie_gate.hpp) ->
//          handshake rings; ARP, NDP, ICMP to us -> local ring
//   LAN rx -> classify -> FIB (IPv4 or IPv6) -> peer -> encrypt burst -> WAN
//          tx to the peer's latest authenticated endpoint; ARP, NDP, ICMP to
//          us -> local ring
//
// A worker owns its tx queues, its AEAD backend, its scratch arrays and its
// counters; it never blocks and never takes a lock the control thread holds
// (the per-keypair rx spinlock is shared with other workers only). Once per
// loop it reports an RCU quiescent state.
//
// Files: worker.cpp (the loop, receive, decrypt, routing: route<Family>,
// tx_lan<Family>), worker_send.cpp (encrypt, outer headers, tx bursts),
// worker_control.cpp (the rings up to the control thread, cookie replies),
// worker_pmtu.cpp (packets over the tunnel MTU). Each routing and transmit
// step is written once for both address families (inet.hpp).
#pragma once

#include <rte_mbuf.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "crypto/aead.hpp"
#include "dataplane/context.hpp"
#include "dataplane/inet.hpp"

namespace wghub::dp {

struct WorkerConfig {
  unsigned index = 0;  // 0..n-1: RCU thread id, stats slot, tx queue id
  std::vector<std::uint16_t> wan_rx_queues;
  std::vector<std::uint16_t> lan_rx_queues;
  std::uint16_t wan_tx_queue = 0;
  std::uint16_t lan_tx_queue = 0;
};

class Worker {
 public:
  Worker(Dataplane& dp, WorkerConfig config, std::unique_ptr<crypto::AeadBackend> aead);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // The lcore loop: runs until dp.stop. Returns 0 (rte_eal_remote_launch).
  int run();
  // One iteration (tests drive the worker step by step). Returns the number
  // of packets received.
  unsigned poll_once();

  const WorkerConfig& config() const { return config_; }
  std::string_view aead_name() const { return aead_->name(); }

 private:
  // An mbuf whose payload sits in an AEAD batch, and what to do after.
  struct Pending {
    rte_mbuf* m;
    Keypair* keypair;
    Endpoint endpoint;             // decrypt: the outer source (roaming); encrypt: the destination
    std::uint16_t payload_offset;  // decrypt: where the WireGuard message starts
    std::uint32_t peer;            // encrypt: destination peer slot
    std::uint32_t plain_len;       // encrypt: the inner packet's length (for counters)
  };

  void prefetch_sessions(rte_mbuf* const* pkts, std::uint16_t n);
  void prefetch_routes(rte_mbuf* const* pkts, std::uint16_t n);
  bool admit(rte_mbuf* m, const PortContext& port);
  unsigned rx_wan(std::uint16_t queue, rte_mbuf** burst, unsigned want);
  unsigned rx_lan(std::uint16_t queue, rte_mbuf** burst, unsigned want);
  void to_local(rte_mbuf* m, const PortContext& port);
  void arp_to_local(rte_mbuf* m, const PortContext& port);
  void gate_handshake(rte_mbuf* m, std::uint16_t payload_offset, std::uint16_t payload_len,
                      MessageType type, const Endpoint& from, std::uint64_t now);
  void finish_gate(std::uint64_t now);
  struct GateAnswer {
    std::uint32_t pending;  // index in gate_pending_
    std::uint32_t cookie;   // index in gate_cookies_
  };
  void send_cookie_replies(const GateAnswer* answer, std::size_t n);
  void queue_message(rte_mbuf* m, std::uint16_t payload_offset, std::uint16_t payload_len,
                     const Endpoint& from, std::uint64_t now);
  void classify_wan_slow(rte_mbuf* m, std::uint64_t now);
  void classify_lan_slow(rte_mbuf* m);
  void local_or_drop(rte_mbuf* m, const Classified& c, const PortContext& port);
  void finish_decrypt(std::uint64_t now);
  // The guards of route_guard.hpp for a packet from the LAN (m starts at
  // its IP header): false when it was dropped.
  template <typename Family>
  bool admit_from_lan(rte_mbuf* m);
  // Routing, the LAN transmit and the outer headers, written once for both
  // address families (Family: Inet4 or Inet6, inet.hpp). kNoPeer: a packet
  // from the LAN, or one the hub originates.
  static constexpr std::uint32_t kNoPeer = ~std::uint32_t{0};
  template <typename Family>
  void route(rte_mbuf* m, std::uint32_t from_peer, bool forwarded = true);
  template <typename Family>
  void tx_lan(rte_mbuf* m, const typename Family::NextHopAddress& next_hop);
  template <typename Family>
  void await_neighbour(rte_mbuf* m, unsigned stats_port,
                       const typename Family::NextHopAddress& next_hop);
  void queue_encrypt(rte_mbuf* m, std::uint32_t peer_slot, std::uint64_t now);
  void stage(rte_mbuf* m, std::uint32_t peer_slot);
  void finish_encrypt(std::uint64_t now);
  void send_outer(rte_mbuf* m, const Endpoint& endpoint);
  template <typename Family>
  void send_outer(rte_mbuf* m, const Endpoint& endpoint);
  void tx(PortContext& port, rte_mbuf* m) {
    (port.stats_index == kStatsPortWan ? tx_wan_ : tx_lan_).push_back(m);
  }
  void flush_tx();
  void flush_control();
  void drop(rte_mbuf* m, DropReason why);
  // Packets over the tunnel MTU, the slow path (worker_pmtu.cpp).
  void too_big(rte_mbuf* m, std::uint32_t peer_slot, std::uint64_t now);
  void fragment4(rte_mbuf* m, std::uint32_t peer_slot, std::uint64_t now);
  void send_too_big_error(const rte_mbuf* m, std::uint64_t now);

  Dataplane& dp_;
  WorkerConfig config_;
  std::unique_ptr<crypto::AeadBackend> aead_;
  LcoreStats& stats_;
  PeerCounterBlock& peer_counters_;
  std::uint16_t ip_id_ = 0;
  std::uint64_t now_ = 0;            // TSC at the current rx burst
  TokenBucket icmp_errors_;          // this worker's share of Dataplane::icmp_error_limit
  TokenBucket local_budget_;         // this worker's share of Dataplane::local_limit
  SourceLimiter handshake_sources_;  // under load: proven messages per source
  SourceLimiter cookie_sources_;     // under load: cookie replies per source
  crypto::RandomBuffer random_;      // cookie reply nonces

  // Scratch, sized for the largest burst of both directions.
  // Built in place (no copies through the stack), n_decrypt_/n_encrypt_ used.
  std::array<crypto::AeadOp, kMaxBurst> decrypt_ops_, encrypt_ops_;
  std::array<Pending, kMaxBurst> decrypt_pending_, encrypt_pending_;
  std::uint32_t n_decrypt_ = 0, n_encrypt_ = 0;
  // The burst's initiations and responses, through the gate together at
  // the burst's end (finish_gate): mac1, cookies and replies on 16 lanes.
  struct GatePending {
    rte_mbuf* m;
    Endpoint from;
    std::span<const std::uint8_t> message;  // in m
    bool known = false;                     // under load: a source a peer authenticated from
    bool needs_reply = false;               // under load: answered with a cookie reply
  };
  std::array<GatePending, kMaxBurst> gate_pending_;
  std::array<CookieGate::Cookie, kMaxBurst> gate_cookies_;  // wiped after each use
  std::uint32_t n_gate_ = 0;
  // Bound for the control rings (Dataplane::handshakes, handshakes_proven,
  // local), enqueued once per poll.
  std::vector<rte_mbuf*> handshake_batch_, proven_batch_, local_batch_;
  std::vector<rte_mbuf*> tx_wan_, tx_lan_;
};

// rte_eal_remote_launch entry: `arg` is a Worker*.
int worker_lcore_main(void* arg);

}  // namespace wghub::dp
