// The control thread's own transmit path. Each port has one tx queue that
// only the control thread uses (workers own the others), so nothing here is
// shared. It builds and sends handshake messages, keepalives, ARP requests
// and replies, Neighbor Solicitations and Advertisements and ICMP echo
// replies, and it holds, in one bounded queue, frames whose next hop's MAC is
// not known yet: the worker hands those up, the control thread ARPs (IPv4)
// or solicits (IPv6, NDP), and sends them once the neighbour answers.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <deque>
#include <span>

#include "dataplane/context.hpp"

namespace wghub::ctl {

struct ControlTxCounters {
  std::uint64_t tx_packets[dp::kStatsPortCount] = {};
  std::uint64_t tx_bytes[dp::kStatsPortCount] = {};
  std::uint64_t tx_failed = 0;  // the control tx queue was full
  std::uint64_t arp_requests = 0;
  std::uint64_t neighbor_solicits = 0;  // NDP: Neighbor Solicitations sent
  std::uint64_t held = 0;               // frames that waited for a neighbour
  std::uint64_t held_sent = 0;
  std::uint64_t held_dropped = 0;   // queue full, or no answer in time
  std::uint64_t fenced = 0;         // frames not sent: this hub is a standby
  std::uint64_t announcements = 0;  // gratuitous ARPs and unsolicited NAs sent
};

class ControlTx {
 public:
  explicit ControlTx(dp::Dataplane& dp);
  ~ControlTx();
  ControlTx(const ControlTx&) = delete;
  ControlTx& operator=(const ControlTx&) = delete;

  dp::PortContext& port(unsigned stats_index) {
    return stats_index == dp::kStatsPortWan ? dp_.wan : dp_.lan;
  }

  // Sends `payload` in a UDP datagram from our WAN address (IPv4 or, to an
  // IPv6 endpoint, address6) and listen port.
  void send_udp(const dp::Endpoint& to, std::span<const std::uint8_t> payload, std::uint64_t now);
  // m holds a UDP payload (from data_off); adds the outer headers and sends
  // it to the endpoint (the worker's path, for control-built data).
  void send_outer(rte_mbuf* m, const dp::Endpoint& to, std::uint64_t now);
  // A complete frame; sent as it is on the port's control queue.
  void send_frame(dp::PortContext& port, rte_mbuf* m);
  // A complete frame but for its destination MAC: sent now if the next hop
  // is resolved, else held while we ARP (IPv4) or solicit (IPv6, NDP) for it.
  template <typename Family>
  void send_via(dp::PortContext& port, rte_mbuf* m, const typename Family::NextHopAddress& next_hop,
                std::uint64_t now);
  // While answering one received frame: its sender's IP and MAC, used only
  // for a frame sent back to that IP (a handshake response or cookie reply),
  // never stored. The neighbour table learns a sender only once a handshake
  // authenticated it; this spares the reply an ARP round trip.
  void set_reply_hint(std::uint32_t ip_be, const rte_ether_addr& mac) {
    hint_ip_be_ = ip_be;
    hint_mac_ = mac;
  }
  // The same for a sender on the WAN's IPv6 link.
  void set_reply_hint6(const dp::Ipv6Address& ip, const rte_ether_addr& mac) {
    hint6_valid_ = true;
    hint_ip6_ = ip;
    hint_mac_ = mac;
  }
  void clear_reply_hint() {
    hint_ip_be_ = 0;
    hint6_valid_ = false;
  }
  // On becoming active: a gratuitous ARP (IPv4) or an unsolicited Neighbor
  // Advertisement (IPv6, if the port has an address) for our address, so
  // the segment's caches point at this hub's MAC.
  template <typename Family>
  void announce(dp::PortContext& port);
  // A neighbour was learned on `port`: sends the frames that waited for it.
  template <typename Family>
  void neighbour_learned(dp::PortContext& port, const typename Family::NextHopAddress& ip);
  // Re-asks for next hops whose entries expired, drops held frames that
  // waited too long. `now` in TSC cycles.
  void tick(std::uint64_t now);

  std::size_t held_frames() const { return held_.size(); }
  const ControlTxCounters& counters() const { return counters_; }

 private:
  template <typename Family>
  void send_outer(rte_mbuf* m, const dp::Endpoint& to, std::uint64_t now);
  struct Held {
    rte_mbuf* m;
    unsigned port;  // stats index
    std::uint64_t since;
    bool v6;                   // the family of next_hop
    dp::Ipv6Address next_hop;  // IPv4: the address (network order) in bytes 0..3
  };
  void hold(Held h);
  template <typename Family>
  void ask(dp::PortContext& port, const typename Family::NextHopAddress& ip, std::uint64_t now);
  template <typename Family>
  void ask_expired(dp::PortContext& port, std::uint64_t now);
  template <typename Family>
  bool hint_matches(const typename Family::NextHopAddress& next_hop) const;

  // At most this many frames wait for ARP / NDP, and for at most kHoldSeconds.
  static constexpr std::size_t kMaxHeld = 512;
  static constexpr std::uint64_t kHoldSeconds = 3;

  dp::Dataplane& dp_;
  std::deque<Held> held_;
  ControlTxCounters counters_;
  std::uint16_t ip_id_ = 0x8000;
  std::uint32_t hint_ip_be_ = 0;
  bool hint6_valid_ = false;
  dp::Ipv6Address hint_ip6_{};
  rte_ether_addr hint_mac_{};
};

}  // namespace wghub::ctl
