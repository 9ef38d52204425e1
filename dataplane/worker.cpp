// The worker lcore's loop; see worker.hpp for the pipeline. Every mbuf that
// enters leaves exactly once: transmitted, handed to the control thread, or
// dropped under one DropReason.
#include "dataplane/worker.hpp"

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "dataplane/data_message.hpp"
#include "dataplane/fast_path.hpp"
#include "dataplane/messages.hpp"
#include "dataplane/route_guard.hpp"

namespace wghub::dp {

namespace {

// How long a worker with nothing to do sleeps between polls unless --poll:
// short enough that a burst waits little, long enough to leave a small or
// shared machine its CPU.
constexpr unsigned kIdlePollsBeforeSleep = 64;
constexpr unsigned kIdleSleepUs = 50;

}  // namespace

Worker::Worker(Dataplane& dp, WorkerConfig config, std::unique_ptr<crypto::AeadBackend> aead)
    : dp_(dp),
      config_(std::move(config)),
      aead_(std::move(aead)),
      stats_(*dp.worker_stats.at(config_.index)),
      peer_counters_(*dp.worker_peer_counters.at(config_.index)),
      icmp_errors_(dp.icmp_error_limit.share(dp.worker_stats.size(), rte_get_tsc_hz())),
      local_budget_(dp.local_limit.share(dp.worker_stats.size(), rte_get_tsc_hz())),
      handshake_sources_(rte_get_tsc_hz()),
      cookie_sources_(rte_get_tsc_hz(), SourceLimiter::kCookieRepliesPerSecond,
                      SourceLimiter::kCookieRepliesBurstable) {
  handshake_batch_.reserve(2 * kMaxBurst);
  proven_batch_.reserve(2 * kMaxBurst);
  local_batch_.reserve(2 * kMaxBurst);
  tx_wan_.reserve(2 * kMaxBurst);
  tx_lan_.reserve(2 * kMaxBurst);
}

Worker::~Worker() = default;

int worker_lcore_main(void* arg) {
  return static_cast<Worker*>(arg)->run();
}

int Worker::run() {
  dp_.rcu->online(config_.index);
  unsigned idle = 0;
  while (!dp_.stop.load(std::memory_order_relaxed)) {
    if (poll_once() != 0 || dp_.busy_poll) {
      idle = 0;
      continue;
    }
    if (++idle > kIdlePollsBeforeSleep) rte_delay_us_sleep(kIdleSleepUs);
  }
  dp_.rcu->offline(config_.index);
  return 0;
}

// What both ports do with every received frame first: count it, drop one
// longer than the port carries, make a chained one linear. False when it
// was dropped.
inline bool Worker::admit(rte_mbuf* m, const PortContext& port) {
  counter_add(stats_.rx_packets[port.stats_index]);
  counter_add(stats_.rx_bytes[port.stats_index], m->pkt_len);
  if (m->pkt_len > port.max_frame_len()) {
    drop(m, DropReason::kFrameTooLong);
    return false;
  }
  if (m->nb_segs > 1 && rte_pktmbuf_linearize(m) != 0) {
    drop(m, DropReason::kNoMbuf);
    return false;
  }
  return true;
}

// One WAN rx burst: data messages to the decrypt batch, handshakes through
// the gate, the rest to the slow classifier.
unsigned Worker::rx_wan(std::uint16_t queue, rte_mbuf** burst, unsigned want) {
  const std::uint16_t n = rte_eth_rx_burst(dp_.wan.port.id, queue, burst, want);
  const std::uint64_t now = now_ = rte_get_tsc_cycles();
  if (!dp_.answering.load(std::memory_order_acquire)) [[unlikely]] {
    // A standby hears nothing on the shared addresses (fencing).
    for (std::uint16_t i = 0; i < n; ++i) drop(burst[i], DropReason::kStandby);
    return n;
  }
  prefetch_sessions(burst, n);
  for (std::uint16_t i = 0; i < n; ++i) {
    if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(burst[i + 1], void*));
    rte_mbuf* m = burst[i];
    if (!admit(m, dp_.wan)) continue;
    WireGuardDatagram d;
    if (match_wireguard_ipv4(rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len, m->pkt_len,
                             dp_.wan.local, rx_ip_checksum(m), d)) {
      queue_message(m, kOuterHeadersLen, d.payload_len, Endpoint::v4(d.src_ip_be, d.src_port_be),
                    now);
    } else {
      classify_wan_slow(m, now);
    }
  }
  finish_decrypt(now);
  finish_encrypt(now);
  finish_gate(now);
  return n;
}

template <typename Family>
inline bool Worker::admit_from_lan(rte_mbuf* m) {
  const auto* ip = rte_pktmbuf_mtod(m, const std::uint8_t*);
  DropReason why;
  if constexpr (std::is_same_v<Family, Inet4>) {
    why = lan_ingress_verdict<Inet4>(*dp_.fib, ip);
  } else {
    why = lan_ingress_verdict<Inet6>(*dp_.fib6, ip);
  }
  if (why == DropReason::kNone) [[likely]]
    return true;
  drop(m, why);
  return false;
}

// One LAN rx burst: packets into the tunnel (or to another LAN next hop),
// the rest to the slow classifier.
unsigned Worker::rx_lan(std::uint16_t queue, rte_mbuf** burst, unsigned want) {
  const std::uint16_t n = rte_eth_rx_burst(dp_.lan.port.id, queue, burst, want);
  const std::uint64_t now = now_ = rte_get_tsc_cycles();
  if (!dp_.answering.load(std::memory_order_acquire)) [[unlikely]] {
    for (std::uint16_t i = 0; i < n; ++i) drop(burst[i], DropReason::kStandby);
    return n;
  }
  prefetch_routes(burst, n);
  for (std::uint16_t i = 0; i < n; ++i) {
    if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(burst[i + 1], void*));
    rte_mbuf* m = burst[i];
    if (!admit(m, dp_.lan)) continue;
    std::uint32_t total, dst_be;
    if (match_forward_ipv4(rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len, m->pkt_len,
                           dp_.lan.local, rx_ip_checksum(m), total, dst_be)) {
      rte_pktmbuf_adj(m, kEthernetHeaderLen);
      // Ethernet pads short frames to 60 bytes: tunnel only the packet.
      if (m->pkt_len > total) rte_pktmbuf_trim(m, static_cast<std::uint16_t>(m->pkt_len - total));
      if (admit_from_lan<Inet4>(m)) route<Inet4>(m, kNoPeer);
    } else {
      classify_lan_slow(m);
    }
  }
  finish_encrypt(now);
  return n;
}

unsigned Worker::poll_once() {
  unsigned received = 0;
  rte_mbuf* burst[kMaxBurst];
  const unsigned want = std::min(dp_.burst, kMaxBurst);
  for (std::uint16_t q : config_.wan_rx_queues) received += rx_wan(q, burst, want);
  for (std::uint16_t q : config_.lan_rx_queues) received += rx_lan(q, burst, want);
  flush_tx();
  flush_control();
  dp_.rcu->quiescent(config_.index);
  return received;
}

// Everything match_wireguard_ipv4 did not take: IPv6, IP options, ARP, NDP,
// echo to us, and every malformed frame with its drop reason.
void Worker::classify_wan_slow(rte_mbuf* m, std::uint64_t now) {
  const Classified c = classify_wan(m, dp_.wan.local);
  switch (c.kind) {
    case Classify::kWireGuard: {
      const Endpoint from =
          c.ip_version == 6
              ? Endpoint::v6(ipv6_src(rte_pktmbuf_mtod(m, const std::uint8_t*), c), c.src_port_be)
              : Endpoint::v4(c.src_ip_be, c.src_port_be);
      queue_message(m, c.payload_offset, c.payload_len, from, now);
      break;
    }
    default:
      local_or_drop(m, c, dp_.wan);
      break;
  }
}

// Everything match_forward_ipv4 did not take on the LAN.
void Worker::classify_lan_slow(rte_mbuf* m) {
  const Classified c = classify_lan(m, dp_.lan.local);
  switch (c.kind) {
    case Classify::kForward: {
      rte_pktmbuf_adj(m, c.l3_offset);
      // Ethernet pads short frames to 60 bytes: tunnel only the packet.
      const auto* ip = rte_pktmbuf_mtod(m, const std::uint8_t*);
      const std::uint32_t total =
          c.ip_version == 6
              ? kIpv6HeaderLen +
                    rte_be_to_cpu_16(reinterpret_cast<const rte_ipv6_hdr*>(ip)->payload_len)
              : rte_be_to_cpu_16(reinterpret_cast<const rte_ipv4_hdr*>(ip)->total_length);
      if (m->pkt_len > total) rte_pktmbuf_trim(m, static_cast<std::uint16_t>(m->pkt_len - total));
      if (c.ip_version == 6) {
        if (admit_from_lan<Inet6>(m)) route<Inet6>(m, kNoPeer);
      } else {
        if (admit_from_lan<Inet4>(m)) route<Inet4>(m, kNoPeer);
      }
      break;
    }
    default:
      local_or_drop(m, c, dp_.lan);
      break;
  }
}

// With thousands of sessions every packet of a burst misses the cache on its
// keypair slot, its keypair and its peer's state, one after the other. For
// what looks like a data message (plain Ethernet/IPv4/UDP or IPv6/UDP, type
// 4; the real checks come later) start those loads for the whole burst first, in passes
// so that each line has arrived before the next pointer is read from it.
// wgperf, 10k peers: decap +37..42 %, hub-and-spoke +17..20 %.
void Worker::prefetch_sessions(rte_mbuf* const* pkts, std::uint16_t n) {
  constexpr std::uint32_t kIndexOffset = kEthernetHeaderLen + kIpv4MinHeaderLen + kUdpHeaderLen +
                                         offsetof(MessageDataHeader, receiver_index);
  constexpr std::uint32_t kIndexOffset6 = kEthernetHeaderLen + kIpv6HeaderLen + kUdpHeaderLen +
                                          offsetof(MessageDataHeader, receiver_index);
  std::uint32_t index[kMaxBurst];
  std::uint64_t counter[kMaxBurst];
  std::uint16_t k = 0;
  for (std::uint16_t i = 0; i < n; ++i) {
    const rte_mbuf* m = pkts[i];
    const auto* f = rte_pktmbuf_mtod(m, const std::uint8_t*);
    std::uint32_t at = kIndexOffset;
    if (m->data_len >= kIndexOffset6 + 12 && f[12] == 0x86 && f[13] == 0xdd &&
        f[20] == kIpProtoUdp) {
      at = kIndexOffset6;  // IPv6 without extension headers
    } else if (m->data_len < kIndexOffset + 12 || f[12] != 0x08 || f[13] != 0x00 || f[14] != 0x45 ||
               f[23] != kIpProtoUdp) {
      continue;
    }
    if (f[at - 4] != static_cast<std::uint8_t>(MessageType::kData)) continue;
    std::memcpy(&index[k], f + at, 4);
    index[k] = rte_le_to_cpu_32(index[k]);
    std::memcpy(&counter[k], f + at + 4, 8);
    counter[k] = rte_le_to_cpu_64(counter[k]);
    dp_.keypairs->prefetch_slot(index[k++]);
  }
  Keypair* kps[kMaxBurst];
  for (std::uint16_t j = 0; j < k; ++j) {
    kps[j] = dp_.keypairs->peek(index[j]);
    if (kps[j] != nullptr) {
      rte_prefetch0(kps[j]->recv_key);  // the key, and the index, peer and birth after it
      rte_prefetch0(&kps[j]->peer);
      rte_prefetch0(&kps[j]->rx_lock);
    }
  }
  for (std::uint16_t j = 0; j < k; ++j) {
    if (kps[j] == nullptr || kps[j]->peer >= dp_.peers->capacity()) continue;
    const std::uint32_t slot = kps[j]->peer;
    kps[j]->window.prefetch(counter[j]);
    const PeerState& peer = dp_.peers->at(slot);
    rte_prefetch0(&peer);
    rte_prefetch0(&peer.endpoint);     // its own line: the roaming check reads it
    rte_prefetch0(&peer.last_rx_tsc);  // the timestamps' line
    peer_counters_.prefetch(slot);
  }
}

// The same for a LAN burst headed into the tunnel: the FIB lines of each
// IPv4 source and destination, then the peer's state and counters, then its sending
// keypair (key, index, counter). The real route decision comes later.
void Worker::prefetch_routes(rte_mbuf* const* pkts, std::uint16_t n) {
  constexpr std::uint32_t kDstOffset = kEthernetHeaderLen + 16;
  std::uint32_t dst[kMaxBurst];
  std::uint16_t k = 0;
  for (std::uint16_t i = 0; i < n; ++i) {
    const rte_mbuf* m = pkts[i];
    const auto* f = rte_pktmbuf_mtod(m, const std::uint8_t*);
    if (m->data_len < kDstOffset + 4 || f[12] != 0x08 || f[13] != 0x00) continue;
    std::uint32_t be;
    std::memcpy(&be, f + kDstOffset - 4, 4);  // the source: admit_from_lan looks it up
    dp_.fib->prefetch(rte_be_to_cpu_32(be));
    std::memcpy(&be, f + kDstOffset, 4);
    dst[k] = rte_be_to_cpu_32(be);
    dp_.fib->prefetch(dst[k++]);
  }
  std::uint32_t slots[kMaxBurst];
  std::uint16_t p = 0;
  for (std::uint16_t j = 0; j < k; ++j) {
    const NextHop nh = dp_.fib->lookup(dst[j]);
    if (nh.kind != NextHopKind::kPeer || nh.id >= dp_.peers->capacity()) continue;
    const PeerState& peer = dp_.peers->at(nh.id);
    rte_prefetch0(&peer);
    rte_prefetch0(&peer.endpoint);
    rte_prefetch0(&peer.last_rx_tsc);
    peer_counters_.prefetch(nh.id);
    slots[p++] = nh.id;
  }
  for (std::uint16_t j = 0; j < p; ++j) {
    const Keypair* kp = dp_.peers->at(slots[j]).current.load(std::memory_order_acquire);
    if (kp == nullptr) continue;
    rte_prefetch0(kp->send_key);
    rte_prefetch0(&kp->remote_index);
    __builtin_prefetch(&kp->send_counter, 1);
  }
}

void Worker::drop(rte_mbuf* m, DropReason why) {
  stats_.drop(why);
  rte_pktmbuf_free(m);
}

// A WireGuard message on the WAN port. Data messages join the decrypt batch;
// handshake messages go up to the control thread (never X25519 here).
void Worker::queue_message(rte_mbuf* m, std::uint16_t payload_offset, std::uint16_t payload_len,
                           const Endpoint& from, std::uint64_t now) {
  auto* payload = rte_pktmbuf_mtod_offset(m, std::uint8_t*, payload_offset);
  if (payload_len < sizeof(MessageHeader)) {
    drop(m, DropReason::kBadMessageLength);
    return;
  }
  const auto type = reinterpret_cast<const MessageHeader*>(payload)->message_type();
  switch (type) {
    case MessageType::kData:
      break;
    case MessageType::kInitiation:
    case MessageType::kResponse:
    case MessageType::kCookieReply:
      // Exact sizes, as the kernel checks before queueing: a wrong-sized
      // message never takes a slot on the control ring.
      if (payload_len != handshake_message_size(type)) {
        drop(m, DropReason::kBadMessageLength);
        return;
      }
      gate_handshake(m, payload_offset, payload_len, type, from, now);
      return;
    default:
      drop(m, DropReason::kUnknownMessageType);
      return;
  }
  if (payload_len < kMessageDataMinSize) {
    drop(m, DropReason::kBadMessageLength);
    return;
  }
  const auto* hdr = reinterpret_cast<const MessageDataHeader*>(payload);
  Keypair* kp = dp_.keypairs->lookup(hdr->receiver_index.get());
  if (kp == nullptr) {
    drop(m, DropReason::kUnknownIndex);
    return;
  }
  if (kp->expired(now, dp_.reject_after_cycles) ||
      !dp_.peers->at(kp->peer).active.load(std::memory_order_relaxed)) {
    drop(m, DropReason::kKeypairExpired);
    return;
  }
  if (n_decrypt_ == kMaxBurst) finish_decrypt(now);  // never with rx bursts <= kMaxBurst
  const std::uint32_t body_len = payload_len - kMessageDataMinSize;
  crypto::AeadOp& op = decrypt_ops_[n_decrypt_];
  op.key = kp->recv_key;
  op.counter = hdr->counter.get();
  op.data = payload + kMessageDataHeaderSize;
  op.len = body_len;
  op.tag = op.data + body_len;
  op.ad = nullptr;
  op.ad_len = 0;
  op.nonce_prefix = 0;
  Pending& p = decrypt_pending_[n_decrypt_++];
  p.m = m;
  p.keypair = kp;
  p.endpoint = from;
  p.payload_offset = payload_offset;
}

void Worker::finish_decrypt(std::uint64_t now) {
  if (n_decrypt_ == 0) return;
  const std::uint32_t n = n_decrypt_;
  n_decrypt_ = 0;
  aead_->open_burst(std::span(decrypt_ops_.data(), n));
  // The inner-source check looks every packet's source up in the FIB: start
  // those loads for the whole burst (the plaintext is in cache now).
  for (std::uint32_t i = 0; i < n; ++i) {
    const crypto::AeadOp& op = decrypt_ops_[i];
    if (op.ok && op.len >= kIpv4MinHeaderLen && op.data[0] == 0x45) {
      std::uint32_t src_be;
      std::memcpy(&src_be, op.data + 12, 4);
      dp_.fib->prefetch(rte_be_to_cpu_32(src_be));
    }
  }
  const std::uint64_t stamp_granularity = rte_get_tsc_hz() / 100;
  for (std::uint32_t i = 0; i < n; ++i) {
    const crypto::AeadOp& op = decrypt_ops_[i];
    const Pending& p = decrypt_pending_[i];
    rte_mbuf* m = p.m;
    Keypair* kp = p.keypair;
    if (!op.ok) {
      drop(m, DropReason::kAuthFailed);
      continue;
    }
    // Whitepaper 6.1 Reject-After-Messages: a counter at or past the limit
    // means the keypair is spent. Checked only once the message
    // authenticated, so only the genuine peer's counter lands here.
    if (op.counter >= kRejectAfterMessages) {
      drop(m, DropReason::kKeypairExpired);
      continue;
    }
    // The counter is trusted only now that the message authenticated.
    if (!kp->accept_counter(op.counter)) {
      drop(m, DropReason::kReplay);
      continue;
    }
    // Whitepaper 5.4.5: the first data on a responder's keypair confirms it
    // for sending.
    if (kp->mark_received_data() && !kp->is_initiator)
      post_event(dp_.events, WorkerEvent::kKeypairConfirmed, kp->peer);
    PeerState& peer = dp_.peers->at(kp->peer);
    // Roaming (whitepaper 2.1): the latest authenticated source is the endpoint.
    if (peer.update_endpoint(p.endpoint)) dp_.known_sources->add(p.endpoint);
    touch(peer.last_rx_tsc, now, stamp_granularity);
    counter_add(stats_.decrypted_packets);
    counter_add(stats_.decrypted_bytes, op.len);
    peer_counters_.add_rx(kp->peer, op.len + kMessageDataMinSize);
    if (op.len == 0) {  // a keepalive: nothing to forward
      rte_pktmbuf_free(m);
      continue;
    }
    InnerPacket inner;
    if (const DropReason why = parse_inner(op.data, op.len, inner); why != DropReason::kNone) {
      drop(m, why);
      continue;
    }
    // Broadcast, multicast, loopback, ... never cross the hub (route_guard.hpp).
    if (const DropReason why =
            inner.version == 4 ? martian_verdict<Inet4>(op.data) : martian_verdict<Inet6>(op.data);
        why != DropReason::kNone) [[unlikely]] {
      drop(m, why);
      continue;
    }
    // The inner source must be one of the sender's AllowedIPs (whitepaper 2.2),
    // looked up in the table of its family (the IPv6 source is at byte 8).
    const NextHop owner = inner.version == 4 ? dp_.fib->lookup(rte_be_to_cpu_32(inner.src_be))
                                             : dp_.fib6->lookup(op.data + 8);
    if (owner.kind != NextHopKind::kPeer || owner.id != kp->peer) {
      drop(m, DropReason::kSpoofedInnerSource);
      continue;
    }
    touch(peer.last_data_rx_tsc, now, stamp_granularity);
    rte_pktmbuf_adj(m, static_cast<std::uint16_t>(p.payload_offset + kMessageDataHeaderSize));
    rte_pktmbuf_trim(m, static_cast<std::uint16_t>(m->pkt_len - inner.length));
    if (inner.version == 6) {
      route<Inet6>(m, kp->peer);
    } else {
      route<Inet4>(m, kp->peer);
    }
  }
}

// m starts at an IP header of the family: decrypted from a peer (`from_peer`),
// received on the LAN (kNoPeer), or an error the hub originates (`forwarded`
// false: kNoPeer, nothing decremented, the hub is its first hop). The FIB of
// the family decides: a peer (never the sender itself), the LAN directly or
// through a LAN gateway.
template <typename Family>
void Worker::route(rte_mbuf* m, std::uint32_t from_peer, bool forwarded) {
  auto* ip = rte_pktmbuf_mtod(m, std::uint8_t*);
  const typename Family::Address dst = Family::dst(ip);
  const NextHop nh = Family::fib(dp_).lookup(dst);
  switch (nh.kind) {
    case NextHopKind::kPeer:
    case NextHopKind::kLanConnected:
    case NextHopKind::kLanRoute:
      break;
    case NextHopKind::kLocal:
      drop(m, forwarded ? DropReason::kNotForUs : DropReason::kNoRoute);
      return;
    default:
      drop(m, DropReason::kNoRoute);
      return;
  }
  if (nh.kind == NextHopKind::kPeer && nh.id == from_peer) {
    drop(m, DropReason::kNoRoute);  // never reflect a packet to its sender
    return;
  }
  if (forwarded && !Family::decrement_hop_limit(ip)) {
    drop(m, Family::kHopLimitExceeded);
    return;
  }
  if (nh.kind == NextHopKind::kPeer) {
    queue_encrypt(m, nh.id, now_);
  } else {
    tx_lan<Family>(m, nh.kind == NextHopKind::kLanRoute ? Family::lan_gateway(dp_, nh.id)
                                                        : Family::next_hop(dst));
  }
}
template void Worker::route<Inet4>(rte_mbuf*, std::uint32_t, bool);
template void Worker::route<Inet6>(rte_mbuf*, std::uint32_t, bool);

// Ethernet to the next hop's MAC; unknown: the control thread resolves it
// (ARP, NDP) and sends the frame then.
template <typename Family>
void Worker::tx_lan(rte_mbuf* m, const typename Family::NextHopAddress& next_hop) {
  const std::uint64_t mac = Family::neighbours(dp_.lan).lookup_mac48(next_hop);
  auto* at = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_prepend(m, kEthernetHeaderLen));
  if (at == nullptr) {
    drop(m, DropReason::kNoHeadroom);
    return;
  }
  write_ethernet_fast(at, mac, dp_.lan.local.mac, Family::kEtherTypeBe);
  m->l2_len = kEthernetHeaderLen;
  if (mac == 0) {
    await_neighbour<Family>(m, kStatsPortLan, next_hop);
    return;
  }
  tx(dp_.lan, m);
}

}  // namespace wghub::dp
