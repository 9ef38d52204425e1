// A tiny appliance for the af_packet smoke test: opens one port from devargs
// (net_af_packet on a veth), owns one IPv4 address on it, answers ARP and ICMP
// echo for that address and learns neighbours from ARP, until it has answered
// --echoes echo requests or --seconds have passed. Proves the plumbing (EAL,
// port, classifier, ARP, ICMP, neighbour table) against a real kernel peer.
//
// With --tx-queues N (workers + 1 for control, as wghub asks) net_af_packet
// gets qpairs=N appended, and every rx queue the port reports is polled.
//
// With --pause FILE, once the echoes are answered it stops polling: it
// creates FILE, waits for FILE.done (the peer floods meanwhile and the
// sockets' rx rings overflow), drains what the rings kept, and prints the
// port's AF_PACKET sockets and the kernel's drops on them (socket_drops.hpp).
//
// usage: af_packet_responder DEVARGS A.B.C.D/PREFIX [--echoes N] [--seconds S]
//                            [--tx-queues N] [--ready FILE] [--pause FILE]
#include <arpa/inet.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <sched.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "dataplane/arp.hpp"
#include "dataplane/eal.hpp"
#include "dataplane/icmp.hpp"
#include "dataplane/neighbour.hpp"
#include "dataplane/packet.hpp"
#include "dataplane/port.hpp"
#include "dataplane/socket_drops.hpp"

using namespace wghub::dp;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: %s DEVARGS A.B.C.D/PREFIX [--echoes N] [--seconds S] [--ready FILE]\n",
                 argv[0]);
    return 2;
  }
  const std::string devargs = argv[1];
  std::string address = argv[2];
  unsigned echoes_wanted = 3, seconds = 20, tx_queues = 1;
  std::string ready_file, pause_file;
  for (int i = 3; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--echoes"))
      echoes_wanted = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seconds"))
      seconds = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--ready"))
      ready_file = argv[i + 1];
    else if (!std::strcmp(argv[i], "--tx-queues"))
      tx_queues = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--pause"))
      pause_file = argv[i + 1];
  }
  const std::size_t slash = address.find('/');
  const int prefix = slash == std::string::npos ? 32 : std::atoi(address.c_str() + slash + 1);
  address = address.substr(0, slash);
  Ipv4Interface iface;
  if (inet_pton(AF_INET, address.c_str(), &iface.ip_be) != 1 || prefix < 0 || prefix > 32) {
    std::fprintf(stderr, "bad address '%s'\n", argv[2]);
    return 2;
  }
  iface.mask_be = htonl(prefix == 0 ? 0 : ~0u << (32 - prefix));

  EalOptions eal;
  cpu_set_t set;
  CPU_ZERO(&set);
  sched_getaffinity(0, sizeof set, &set);
  for (unsigned c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) {
      eal.main_lcore = c;
      break;
    }
  eal.memory = MemoryMode::kNoHuge;
  eal.memory_mb = 256;
  eal.no_pci = true;
  eal.extra = {"--log-level=lib.eal:error"};
  std::string error;
  if (!eal_start(eal, error)) {
    std::fprintf(stderr, "responder: %s\n", error.c_str());
    return 1;
  }
  PortOptions po;
  po.devargs = devargs;
  po.role = "lan";
  po.tx_queues = static_cast<std::uint16_t>(tx_queues);
  po.rx_desc = 256;
  po.tx_desc = 256;
  std::optional<Port> port = open_port(po, error);
  if (!port) {
    std::fprintf(stderr, "responder: %s\n", error.c_str());
    return 1;
  }
  std::printf("port %s (%s) mac %s mtu %u rx_queues %u tx_queues %u ip %s/%d\n", port->name.c_str(),
              port->devargs.c_str(), format_mac(port->mac).c_str(), port->mtu, port->rx_queues,
              port->tx_queues, address.c_str(), prefix);
  std::fflush(stdout);
  SocketDrops socket_drops = SocketDrops::for_devargs(port->devargs);
  std::printf("af_packet sockets %zu\n", socket_drops.sockets());
  std::fflush(stdout);
  if (!ready_file.empty()) std::ofstream(ready_file) << "ready\n";

  LocalAddress us;
  us.mac = port->mac;
  us.ip_be = iface.ip_be;
  const std::uint64_t hz = rte_get_timer_hz();
  NeighbourTable neighbours(NeighbourTiming::from_hz(hz), 256);
  std::array<std::uint64_t, kDropReasonCount> drops{};  // by reason
  unsigned arp_replies = 0, echo_replies = 0, learned = 0;
  const std::uint64_t deadline = rte_get_timer_cycles() + seconds * hz;
  std::uint16_t q = 0;
  while (echo_replies < echoes_wanted && rte_get_timer_cycles() < deadline) {
    q = static_cast<std::uint16_t>((q + 1) % port->rx_queues);
    rte_mbuf* rx[32];
    const std::uint16_t n = rte_eth_rx_burst(port->id, q, rx, 32);
    for (std::uint16_t i = 0; i < n; ++i) {
      rte_mbuf* m = rx[i];
      const Classified c = classify_lan(m, us);
      bool send = false;
      if (c.kind == Classify::kArp) {
        ArpMessage msg;
        if (parse_arp(rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len, msg)) {
          const ArpLearn l = arp_merge(msg, iface, neighbours, rte_get_timer_cycles());
          if (l == ArpLearn::kAdded || l == ArpLearn::kUpdated) ++learned;
          send = answer_arp_in_place(m, us.ip_be, us.mac);
          arp_replies += send;
        } else {
          ++drops[static_cast<std::size_t>(DropReason::kBadArp)];
        }
      } else if (c.kind == Classify::kIcmpEchoToUs) {
        icmp_echo_reply_in_place(m, c, us.mac);
        send = true;
        ++echo_replies;
      } else if (c.reason != DropReason::kNone) {
        ++drops[static_cast<std::size_t>(c.reason)];
      }
      if (!send || rte_eth_tx_burst(port->id, 0, &m, 1) != 1) rte_pktmbuf_free(m);
    }
  }
  std::printf("arp_replies=%u echo_replies=%u learned=%u\n", arp_replies, echo_replies, learned);
  if (!pause_file.empty()) {
    std::ofstream(pause_file) << "paused\n";
    const std::string done = pause_file + ".done";
    for (int i = 0; i < 200 && !std::ifstream(done).good(); ++i) rte_delay_ms(100);
    unsigned long long after = 0;
    const std::uint64_t until = rte_get_timer_cycles() + hz;
    while (rte_get_timer_cycles() < until) {
      for (std::uint16_t rq = 0; rq < port->rx_queues; ++rq) {
        rte_mbuf* rx[32];
        const std::uint16_t n = rte_eth_rx_burst(port->id, rq, rx, 32);
        after += n;
        rte_pktmbuf_free_bulk(rx, n);
      }
    }
    std::printf("socket_drops=%llu rx_after_pause=%llu\n",
                static_cast<unsigned long long>(socket_drops.sample()), after);
  }
  for (const NeighbourEntry& e : neighbours.entries())
    std::printf("neighbour %s %s\n", format_ipv4(e.ip).c_str(), format_mac(e.mac).c_str());
  for (std::size_t r = 1; r < kDropReasonCount; ++r)
    if (drops[r] != 0)
      std::printf("drop %s=%llu\n", drop_reason_name(static_cast<DropReason>(r)).data(),
                  static_cast<unsigned long long>(drops[r]));
  close_port(*port);
  return echo_replies >= echoes_wanted ? 0 : 1;
}
