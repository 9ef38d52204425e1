// What the worker lcores and the control thread share: the two ports with the
// appliance's identity on each, the RCU-published tables (FIB, keypairs,
// peers, neighbours), the ring that carries packets up to the control thread,
// and the per-lcore counters. Built once at startup by the control thread
// (control/hub.cpp); workers only read the pointers.
//
// Ownership of writes, as the rest of the data plane documents in place:
//   FIBs (IPv4, IPv6), keypair table, peer table, neighbour tables: control
//   thread only;
//   PeerState timestamps and endpoint, Keypair counters/window: workers;
//   LcoreStats / PeerCounterBlock: their own lcore only.
#pragma once

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "dataplane/cookie_gate.hpp"
#include "dataplane/fib.hpp"
#include "dataplane/fib6.hpp"
#include "dataplane/keypair_table.hpp"
#include "dataplane/lcore_stats.hpp"
#include "dataplane/neighbour.hpp"
#include "dataplane/packet.hpp"
#include "dataplane/peer_state.hpp"
#include "dataplane/port.hpp"
#include "dataplane/rcu.hpp"
#include "dataplane/socket_drops.hpp"
#include "dataplane/token_bucket.hpp"

namespace wghub::dp {

// The tunnel MTU the hub pads against (whitepaper 5.4.6; wg-quick's default).
inline constexpr std::uint32_t kTunnelMtu = 1420;

inline constexpr unsigned kMaxBurst = 512;

// How many ICMP errors (fragmentation needed, Packet Too Big) the hub may
// originate, all workers together: a token bucket of `per_second` with
// `burst` banked, split evenly over the workers (each keeps its own, no
// sharing), so the hub never exceeds it (but for the floor of 1 a worker:
// with more workers than `burst`, the burst is one per worker). Linux's
// icmp_msgs_per_sec / icmp_msgs_burst are 1000 / 50 host-wide; a hub
// answering for a whole LAN stays below that.
struct IcmpErrorLimit {
  std::uint32_t per_second = 100;
  std::uint32_t burst = 50;

  // One worker's bucket out of `workers` (a zero stays zero: no refill / no
  // errors at all; anything else is at least 1). `hz`: TSC cycles a second.
  TokenBucket share(std::size_t workers, std::uint64_t hz) const {
    const std::uint64_t n = workers == 0 ? 1 : workers;
    const auto part = [n](std::uint64_t v) {
      return v == 0 ? 0 : std::max<std::uint64_t>(1, v / n);
    };
    return TokenBucket(part(per_second), part(burst), hz);
  }
};

// How many ARP, NDP and echo frames for the appliance's own addresses the
// workers pass up to the control thread, all workers together (split evenly
// as IcmpErrorLimit is): a stranger flooding pings or ARP at the hub is
// capped here, and what is left over is dropped as local_rate_limited.
struct LocalLimit {
  std::uint32_t per_second = 10000;
  std::uint32_t burst = 1000;

  TokenBucket share(std::size_t workers, std::uint64_t hz) const {
    return IcmpErrorLimit{per_second, burst}.share(workers, hz);
  }
};

struct PortContext {
  Port port;
  LocalAddress local;            // our MAC, our IPv4 (and IPv6) address, the listen port (WAN)
  std::uint32_t mask_be = 0;     // the connected subnet's mask
  std::uint32_t gateway_be = 0;  // default next hop for off-link destinations; 0 = none
  std::unique_ptr<NeighbourTable> neighbours;
  // IPv6 (config address6; local.has_ip6): the subnet's length, the default
  // next hop, and the NDP neighbour cache (always there, empty without IPv6).
  unsigned prefix6 = 0;
  bool has_gateway6 = false;
  Ipv6Address gateway6{};
  std::unique_ptr<Neighbour6Table> neighbours6;
  std::uint16_t control_txq = 0;  // the control thread's own tx queue
  // Frames the kernel dropped before net_af_packet read them (socket_drops.hpp);
  // sampled by the control thread, counted with the driver's imissed.
  SocketDrops socket_drops;
  unsigned stats_index = 0;  // kStatsPortWan / kStatsPortLan

  // The longest frame the port carries: its MTU plus the Ethernet header. A
  // NIC drops longer frames in hardware; a software port may pass them on.
  std::uint32_t max_frame_len() const { return std::uint32_t{port.mtu} + kEthernetHeaderLen; }

  bool on_link(std::uint32_t ip_be) const { return (ip_be & mask_be) == (local.ip_be & mask_be); }
  // The next hop for an outer destination: itself on the subnet, else the
  // gateway (0 when there is none).
  std::uint32_t next_hop(std::uint32_t ip_be) const { return on_link(ip_be) ? ip_be : gateway_be; }

  bool on_link6(const std::uint8_t* ip16) const {
    if (!local.has_ip6) return false;
    for (unsigned bit = 0; bit < prefix6; bit += 8) {
      const unsigned n = prefix6 - bit >= 8 ? 8 : prefix6 - bit;
      const auto mask = static_cast<std::uint8_t>(0xff << (8 - n));
      if (((ip16[bit / 8] ^ local.ip6[bit / 8]) & mask) != 0) return false;
    }
    return true;
  }
  // The IPv6 next hop for an outer destination, as next_hop(); false when
  // there is none.
  bool next_hop6(const std::uint8_t* ip16, Ipv6Address& out) const {
    if (on_link6(ip16)) {
      std::memcpy(out.data(), ip16, 16);
      return true;
    }
    if (!has_gateway6) return false;
    out = gateway6;
    return true;
  }
};

// Why an mbuf travels on a control ring (stored in its dynamic field).
enum class ControlReason : std::uint8_t {
  kReceived = 0,       // a frame for the appliance (handshake, ARP, ICMP): re-classify
  kAwaitingNeighbour,  // a finished frame whose destination MAC is unknown
  kStaged,             // an inner packet for a peer without a session (ring `staged`)
};

struct ControlMeta {
  union {
    std::uint32_t next_hop_be = 0;  // kAwaitingNeighbour: the IPv4 address to resolve
    std::uint32_t peer_generation;  // kStaged: the slot's PeerState::generation then
  };
  std::uint32_t peer_slot = 0;  // kStaged: the peer it waits for
  ControlReason reason = ControlReason::kReceived;
  std::uint8_t port_stats_index = 0;  // which port it arrived on / must leave from
  std::uint8_t next_hop_family = 4;   // kAwaitingNeighbour: 6 = resolve next_hop6 (NDP)
  std::uint8_t next_hop6[16] = {};
};

// Small notices from workers to the control thread, on their own ring (no
// mbuf): a responder keypair got its first data packet (promote it now, not
// at the next tick), or traffic for a peer found no usable session.
enum class WorkerEvent : std::uint8_t {
  kKeypairConfirmed = 1,
  kHandshakeWanted = 2,
};

inline void post_event(rte_ring* ring, WorkerEvent event, std::uint32_t peer_slot) {
  const auto word = static_cast<std::uintptr_t>(event) << 32 | peer_slot;
  // A full ring only delays the notice: the control tick finds the state too.
  (void)rte_ring_enqueue(ring, reinterpret_cast<void*>(word));
}

inline void decode_event(void* obj, WorkerEvent& event, std::uint32_t& peer_slot) {
  const auto word = reinterpret_cast<std::uintptr_t>(obj);
  event = static_cast<WorkerEvent>(word >> 32);
  peer_slot = static_cast<std::uint32_t>(word);
}

// The mbuf dynamic field holding ControlMeta (registered once by the hub).
bool register_control_meta();
ControlMeta& control_meta(rte_mbuf* m);

struct Dataplane {
  PortContext wan;
  PortContext lan;
  rte_mempool* pool = nullptr;
  std::unique_ptr<Rcu> rcu;
  std::unique_ptr<Fib> fib;
  std::unique_ptr<LanGateways> lan_gateways;
  std::unique_ptr<Fib6> fib6;  // IPv6 AllowedIPs, LAN subnet and routes, own addresses
  std::unique_ptr<LanGateways6> lan_gateways6;
  std::unique_ptr<KeypairTable> keypairs;
  std::unique_ptr<PeerTable> peers;
  // Rings up to the control thread: multi-producer (workers), single consumer.
  //   handshakes         handshake messages with a valid mac1 (and cookie
  //                      replies); its depth alone decides "under load";
  //   handshakes_proven  under load: messages with a valid mac2 that passed
  //                      the worker's per-source limit; served first, so
  //                      nothing unproven makes them wait (cookie_gate.hpp);
  //   local              ARP, NDP and echo for our addresses (rate limited per
  //                      worker, LocalLimit) and frames awaiting a neighbour;
  //   events             WorkerEvent notices (no mbuf);
  //   staged             inner packets waiting for a handshake (kStaged).
  rte_ring* handshakes = nullptr;
  rte_ring* handshakes_proven = nullptr;
  rte_ring* local = nullptr;
  rte_ring* events = nullptr;
  rte_ring* staged = nullptr;
  // Set by the control thread from the handshakes ring's depth (past 1/8,
  // held for a second); read by the workers, which then answer messages
  // without mac2 with cookie replies themselves.
  std::atomic<bool> under_load{false};
  // Fencing (docs/ha.md): false on a standby hub, which then receives
  // nothing from its ports and sends nothing out of them (workers and
  // control thread alike): the pair shares the WAN service address and the
  // LAN gateway address. Set by the control thread from the election; true
  // without one (a single hub is always active).
  std::atomic<bool> answering{true};
  // mac1/mac2 keys and the RCU-published cookie secret (set up by the hub).
  std::unique_ptr<CookieGate> cookie_gate;
  // Endpoints peers authenticated from: under load they skip the cookie
  // round trip (cookie_gate.hpp). Workers and the control thread add.
  std::unique_ptr<KnownSources> known_sources = std::make_unique<KnownSources>();
  LocalLimit local_limit;  // read once by each worker at construction
  unsigned burst = 32;
  bool busy_poll = false;
  std::uint64_t reject_after_cycles = 0;  // REJECT_AFTER_TIME in TSC cycles
  IcmpErrorLimit icmp_error_limit;        // read once by each worker at construction
  std::atomic<bool> stop{false};

  // Per worker, indexed like the workers; read by the control thread.
  std::vector<std::unique_ptr<LcoreStats>> worker_stats;
  std::vector<std::unique_ptr<PeerCounterBlock>> worker_peer_counters;
};

}  // namespace wghub::dp
