// The worker's send side (the kernel's send.c): inner packets become data
// messages for their peer (encrypted in bursts), get their outer Ethernet,
// IP and UDP headers for the peer's endpoint, and leave in one tx burst per
// port and poll. The receive side and the routing are in worker.cpp.
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <span>
#include <type_traits>

#include "dataplane/data_message.hpp"
#include "dataplane/fast_path.hpp"
#include "dataplane/outer.hpp"
#include "dataplane/worker.hpp"

namespace wghub::dp {

// m starts at an inner IPv4 or IPv6 packet; it becomes a data message for the peer
// (whitepaper 5.4.6): header, padded plaintext, tag.
void Worker::queue_encrypt(rte_mbuf* m, std::uint32_t slot, std::uint64_t now) {
  PeerState& peer = dp_.peers->at(slot);
  if (!peer.active.load(std::memory_order_relaxed)) {
    drop(m, DropReason::kNoRoute);
    return;
  }
  if (m->pkt_len > kTunnelMtu) [[unlikely]] {  // fragment or refuse (worker_pmtu.cpp)
    too_big(m, slot, now);
    return;
  }
  Keypair* kp = peer.current.load(std::memory_order_acquire);
  const Endpoint endpoint = peer.endpoint.load(std::memory_order_relaxed);
  std::uint64_t counter = 0;
  if (kp == nullptr || endpoint == 0 || kp->expired(now, dp_.reject_after_cycles) ||
      !kp->take_send_counter(counter)) {
    if (peer.request_handshake()) post_event(dp_.events, WorkerEvent::kHandshakeWanted, slot);
    if (endpoint != 0) {
      stage(m, slot);  // waits for the handshake in the control thread
      return;
    }
    drop(m, DropReason::kNoSession);  // nowhere to send a handshake
    return;
  }
  const std::uint32_t plain = m->pkt_len;
  if (const DropReason why =
          frame_data_message(m, *kp, counter, kTunnelMtu, encrypt_ops_[n_encrypt_]);
      why != DropReason::kNone) {
    drop(m, why);
    return;
  }
  Pending& p = encrypt_pending_[n_encrypt_++];
  p.m = m;
  p.keypair = kp;
  p.endpoint = endpoint;
  p.peer = slot;
  p.plain_len = plain;
  if (n_encrypt_ == kMaxBurst) finish_encrypt(now);
}

void Worker::finish_encrypt(std::uint64_t now) {
  if (n_encrypt_ == 0) return;
  const std::uint32_t n = n_encrypt_;
  n_encrypt_ = 0;
  aead_->seal_burst(std::span(encrypt_ops_.data(), n));
  const std::uint64_t stamp_granularity = rte_get_tsc_hz() / 100;
  for (std::uint32_t i = 0; i < n; ++i) {
    const Pending& p = encrypt_pending_[i];
    PeerState& peer = dp_.peers->at(p.peer);
    counter_add(stats_.encrypted_packets);
    counter_add(stats_.encrypted_bytes, p.plain_len);
    peer_counters_.add_tx(p.peer, p.m->pkt_len);
    touch(peer.last_tx_tsc, now, stamp_granularity);
    touch(peer.last_data_tx_tsc, now, stamp_granularity);
    send_outer(p.m, p.endpoint);
  }
}

void Worker::send_outer(rte_mbuf* m, const Endpoint& endpoint) {
  if (endpoint.is_v6()) {
    send_outer<Inet6>(m, endpoint);
  } else {
    send_outer<Inet4>(m, endpoint);
  }
}

// Ethernet + IP + UDP from the WAN's address and listen port to the endpoint,
// through the WAN next hop (on the subnet: the endpoint itself; else the
// gateway), whose MAC the control thread resolves when it is unknown.
template <typename Family>
void Worker::send_outer(rte_mbuf* m, const Endpoint& endpoint) {
  PortContext& wan = dp_.wan;
  if (!dp_.answering.load(std::memory_order_acquire)) [[unlikely]] {
    drop(m, DropReason::kStandby);  // fenced: a standby sends nothing on the WAN
    return;
  }
  typename Family::NextHopAddress next_hop;
  if (!wan_next_hop<Family>(wan, endpoint, next_hop)) {
    drop(m, DropReason::kNoRoute);
    return;
  }
  const std::uint64_t mac = Family::neighbours(wan).lookup_mac48(next_hop);
  if (const DropReason why = prepend_outer<Family>(m, mac, wan.local, endpoint, ip_id_);
      why != DropReason::kNone) {
    drop(m, why);
    return;
  }
  if (mac == 0) {
    await_neighbour<Family>(m, kStatsPortWan, next_hop);
    return;
  }
  tx(wan, m);
}

void Worker::flush_tx() {
  auto flush = [&](PortContext& port, std::uint16_t queue, std::vector<rte_mbuf*>& pending) {
    if (pending.empty()) return;
    std::uint64_t bytes = 0;
    for (rte_mbuf* m : pending) bytes += m->pkt_len;
    std::uint16_t sent = 0;
    const auto total = static_cast<std::uint16_t>(pending.size());
    for (int tries = 0; sent < total && tries < 4; ++tries)
      sent += rte_eth_tx_burst(port.port.id, queue, pending.data() + sent, total - sent);
    for (std::uint16_t i = sent; i < total; ++i) {
      bytes -= pending[i]->pkt_len;
      drop(pending[i], DropReason::kTxFull);
    }
    counter_add(stats_.tx_packets[port.stats_index], sent);
    counter_add(stats_.tx_bytes[port.stats_index], bytes);
    pending.clear();
  };
  flush(dp_.wan, config_.wan_tx_queue, tx_wan_);
  flush(dp_.lan, config_.lan_tx_queue, tx_lan_);
}

}  // namespace wghub::dp
