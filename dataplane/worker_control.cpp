// The worker's paths up to the control thread (see worker.hpp, context.hpp):
// the DoS gate for handshake messages (cookie_gate.hpp: mac1, cookie replies
// under load, the per-source limit, the proven and unproven rings), ARP /
// NDP / echo for the appliance within the local budget, frames waiting for a
// neighbour, packets staged for a handshake, and the per-poll flush of the
// rings. Every mbuf here leaves once: on a ring, sent, or dropped under one
// DropReason.
#include <rte_ring.h>

#include <cstring>
#include <type_traits>

#include "dataplane/arp.hpp"
#include "dataplane/worker.hpp"

namespace wghub::dp {

// What both ports do with a frame that is neither WireGuard nor forwarded:
// ARP, NDP and echo to us go up to the control thread (local ring, within
// this worker's budget); the rest is dropped under the classifier's reason.
void Worker::local_or_drop(rte_mbuf* m, const Classified& c, const PortContext& port) {
  switch (c.kind) {
    case Classify::kArp:
      arp_to_local(m, port);
      break;
    case Classify::kNdp:
    case Classify::kIcmpEchoToUs:
      to_local(m, port);
      break;
    default:
      drop(m, c.reason == DropReason::kNone ? DropReason::kNotForUs : c.reason);
      break;
  }
}

void Worker::to_local(rte_mbuf* m, const PortContext& port) {
  if (!local_budget_.take(now_)) {
    drop(m, DropReason::kLocalRateLimited);
    return;
  }
  ControlMeta& meta = control_meta(m);
  meta = ControlMeta{};
  meta.reason = ControlReason::kReceived;
  meta.port_stats_index = static_cast<std::uint8_t>(port.stats_index);
  local_batch_.push_back(m);
}

// Only well-formed Ethernet/IPv4 ARP requests and replies go up; the rest is
// counted here rather than vanishing on the control thread.
void Worker::arp_to_local(rte_mbuf* m, const PortContext& port) {
  ArpMessage msg;
  if (!parse_arp(rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len, msg)) {
    drop(m, DropReason::kBadArp);
    return;
  }
  to_local(m, port);
}

namespace {

// A handshake-class message on its way up: received on the WAN.
void mark_received_on_wan(rte_mbuf* m) {
  ControlMeta& meta = control_meta(m);
  meta = ControlMeta{};
  meta.reason = ControlReason::kReceived;
  meta.port_stats_index = kStatsPortWan;
}

}  // namespace

// A handshake-class message of the right size (whitepaper 5.3; kernel
// receive.c up to its handshake queue). Cookie replies carry no macs: they
// go up as they are, and the control thread matches them to a handshake of
// ours or drops them. Initiations and responses wait for the burst's end
// (finish_gate), which checks them together.
void Worker::gate_handshake(rte_mbuf* m, std::uint16_t payload_offset, std::uint16_t payload_len,
                            MessageType type, const Endpoint& from, std::uint64_t now) {
  if (type == MessageType::kCookieReply) {
    mark_received_on_wan(m);
    counter_add(stats_.handshakes_to_control);
    handshake_batch_.push_back(m);
    return;
  }
  if (n_gate_ == kMaxBurst) finish_gate(now);  // never with rx bursts <= kMaxBurst
  gate_pending_[n_gate_++] = {
      m, from, {rte_pktmbuf_mtod_offset(m, const std::uint8_t*, payload_offset), payload_len}};
}

// The burst's initiations and responses. mac1 first: without it nothing is
// queued. Under load each needs a valid mac2 or a source a peer
// authenticated from (KnownSources), else it is answered from here with a
// cookie reply within its source's cookie budget (cookie_rate_limited past
// it); with either it passes the per-source limit to the proven ring.
// mac1, the cookies and the replies run 16 messages to a call; a message
// without mac2 over its source's budget costs no cookie.
void Worker::finish_gate(std::uint64_t now) {
  const std::size_t n = n_gate_;
  if (n == 0) return;
  n_gate_ = 0;
  const CookieGate& gate = *dp_.cookie_gate;
  std::span<const std::uint8_t> messages[kMaxBurst];
  bool mac1_ok[kMaxBurst];
  for (std::size_t i = 0; i < n; ++i) messages[i] = gate_pending_[i].message;
  gate.mac1_valid(messages, mac1_ok, n);
  const bool under_load = dp_.under_load.load(std::memory_order_relaxed);
  // Under load: the messages that need their source's cookie.
  std::uint32_t loaded[kMaxBurst];
  const Endpoint* sources[kMaxBurst];
  std::size_t n_loaded = 0;
  for (std::size_t i = 0; i < n; ++i) {
    GatePending& p = gate_pending_[i];
    if (!mac1_ok[i]) {
      drop(p.m, DropReason::kHandshakeBadMac1);
      continue;
    }
    mark_received_on_wan(p.m);
    if (!under_load) {
      counter_add(stats_.handshakes_to_control);
      handshake_batch_.push_back(p.m);
      continue;
    }
    p.known = dp_.known_sources->contains(p.from);
    p.needs_reply = !p.known && !CookieGate::carries_mac2(p.message);
    if (p.needs_reply && !cookie_sources_.allow(p.from, now)) {
      drop(p.m, DropReason::kCookieRateLimited);
      continue;
    }
    sources[n_loaded] = &p.from;
    loaded[n_loaded++] = static_cast<std::uint32_t>(i);
  }
  if (n_loaded == 0) return;
  CookieGate::Cookie* cookies = gate_cookies_.data();
  gate.cookies_for(cookies, sources, n_loaded);
  GateAnswer answer[kMaxBurst];
  std::size_t n_answer = 0;
  for (std::size_t k = 0; k < n_loaded; ++k) {
    GatePending& p = gate_pending_[loaded[k]];
    if (!p.needs_reply && !p.known && !gate.mac2_valid(p.message, cookies[k])) {
      // A mac2 under a cookie that is not (or no longer) this source's.
      if (!cookie_sources_.allow(p.from, now)) {
        drop(p.m, DropReason::kCookieRateLimited);
        continue;
      }
      p.needs_reply = true;
    }
    if (p.needs_reply) {
      answer[n_answer++] = {loaded[k], static_cast<std::uint32_t>(k)};
      continue;
    }
    if (!handshake_sources_.allow(p.from, now)) {
      drop(p.m, DropReason::kHandshakeRateLimited);
      continue;
    }
    counter_add(stats_.handshakes_proven);
    counter_add(stats_.handshakes_to_control);
    proven_batch_.push_back(p.m);
  }
  send_cookie_replies(answer, n_answer);
  crypto::wipe(cookies, n_loaded * sizeof *cookies);
}

// Turns each message's mbuf into the cookie reply answering it: the reply
// replaces the payload, and send_outer writes fresh headers to the sender.
void Worker::send_cookie_replies(const GateAnswer* answer, std::size_t n) {
  constexpr std::size_t kChunk = 16;
  for (std::size_t base = 0; base < n; base += kChunk) {
    const std::size_t count = std::min(kChunk, n - base);
    MessageCookieReply replies[kChunk];
    std::span<const std::uint8_t> messages[kChunk];
    CookieGate::Cookie cookies[kChunk];
    for (std::size_t k = 0; k < count; ++k) {
      messages[k] = gate_pending_[answer[base + k].pending].message;
      std::memcpy(cookies[k].data(), gate_cookies_[answer[base + k].cookie].data(), kCookieLen);
    }
    dp_.cookie_gate->make_replies(replies, messages, cookies, count, random_);
    for (std::size_t k = 0; k < count; ++k) {
      const GatePending& p = gate_pending_[answer[base + k].pending];
      rte_mbuf* m = p.m;
      const auto payload_offset =
          static_cast<std::uint16_t>(p.message.data() - rte_pktmbuf_mtod(m, const std::uint8_t*));
      std::memcpy(rte_pktmbuf_mtod_offset(m, std::uint8_t*, payload_offset), &replies[k],
                  sizeof replies[k]);
      rte_pktmbuf_adj(m, payload_offset);
      rte_pktmbuf_trim(m, static_cast<std::uint16_t>(m->pkt_len - sizeof replies[k]));
      counter_add(stats_.cookie_replies_sent);
      send_outer(m, p.from);
    }
  }
}

void Worker::flush_control() {
  auto flush = [this](rte_ring* ring, std::vector<rte_mbuf*>& batch, DropReason full) {
    if (batch.empty()) return;
    const unsigned sent = rte_ring_enqueue_burst(ring, reinterpret_cast<void* const*>(batch.data()),
                                                 static_cast<unsigned>(batch.size()), nullptr);
    for (std::size_t i = sent; i < batch.size(); ++i) drop(batch[i], full);
    batch.clear();
  };
  flush(dp_.handshakes_proven, proven_batch_, DropReason::kHandshakeRingFull);
  flush(dp_.handshakes, handshake_batch_, DropReason::kHandshakeRingFull);
  flush(dp_.local, local_batch_, DropReason::kLocalRingFull);
}

// A packet for a peer without a usable session: handed to the control thread,
// which keeps it in the peer's bounded queue until the handshake completes
// (kernel send.c: staged packets).
void Worker::stage(rte_mbuf* m, std::uint32_t slot) {
  ControlMeta& meta = control_meta(m);
  meta.reason = ControlReason::kStaged;
  meta.peer_slot = slot;
  meta.peer_generation = dp_.peers->at(slot).generation.load(std::memory_order_relaxed);
  if (rte_ring_enqueue(dp_.staged, m) != 0) drop(m, DropReason::kStagedRingFull);
}

// A finished frame whose next hop's MAC is unknown: the control thread
// resolves it (ARP / NDP) and sends the frame then.
template <typename Family>
void Worker::await_neighbour(rte_mbuf* m, unsigned stats_port,
                             const typename Family::NextHopAddress& next_hop) {
  ControlMeta& meta = control_meta(m);
  meta = ControlMeta{};
  meta.reason = ControlReason::kAwaitingNeighbour;
  meta.port_stats_index = static_cast<std::uint8_t>(stats_port);
  if constexpr (std::is_same_v<Family, Inet4>) {
    meta.next_hop_be = next_hop;
  } else {
    meta.next_hop_family = 6;
    std::memcpy(meta.next_hop6, next_hop.data(), 16);
  }
  local_batch_.push_back(m);
}
template void Worker::await_neighbour<Inet4>(rte_mbuf*, unsigned, const Inet4::NextHopAddress&);
template void Worker::await_neighbour<Inet6>(rte_mbuf*, unsigned, const Inet6::NextHopAddress&);

}  // namespace wghub::dp
