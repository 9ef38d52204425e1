// Ports: where packets enter and leave the data plane. A port is opened from
// DPDK devargs (a PCI address "0000:3b:00.0" in production; a vdev such as
// "net_af_packet0,iface=veth0", "net_tap0,iface=x", "net_ring0", "net_null0"
// in tests, the lab and the perf tool): probed, given an mbuf pool, configured
// with its rx and tx queues, put in promiscuous mode where the driver has one,
// started, and its MAC and MTU read. Control path only (startup, shutdown).
//
// Queue layout: one rx queue per worker; one tx queue per worker plus one
// for the control thread (handshake replies, ARP): callers ask for
// workers + 1 tx queues. net_af_packet's queue count is its devarg qpairs=K,
// appended when more than one queue is needed and the devargs do not say; as
// every af_packet queue takes a share of received traffic (PACKET_FANOUT_HASH
// over its sockets), Port::rx_queues can then exceed the rx queues asked for,
// and every one of them must be polled.
#pragma once

#include <rte_ether.h>
#include <rte_mempool.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wghub::dp {

struct PortOptions {
  std::string devargs;
  std::string role;  // "wan" / "lan": named in messages as ports.<role>.devargs
  std::uint16_t rx_queues = 1;
  std::uint16_t tx_queues = 1;
  std::uint16_t rx_desc = 1024;
  std::uint16_t tx_desc = 1024;
  rte_mempool* pool = nullptr;  // null: the port creates (and owns) one
};

struct Port {
  std::uint16_t id = 0;
  std::string role;
  std::string devargs;  // as probed (qpairs appended where needed)
  std::string name;     // DPDK's device name ("net_ring0", "0000:3b:00.0")
  rte_ether_addr mac{};
  std::uint16_t mtu = 1500;
  std::uint16_t rx_queues = 0;  // poll all of them (see above)
  std::uint16_t tx_queues = 0;
  int socket = 0;               // NUMA node of the device (0 when unknown)
  rte_mempool* pool = nullptr;  // the pool rx queues fill from
  bool owns_pool = false;
  bool detach_on_close = false;  // we probed it: close_port removes the device
  bool started = false;
};

// Opens and starts a port; on failure nullopt and a message such as
// "ports.lan.devargs 'net_af_packet1,iface=nope': cannot probe (interface
// 'nope' does not exist in this network namespace)".
std::optional<Port> open_port(const PortOptions& options, std::string& error);
// Stops and closes it, frees its own pool, detaches a device it probed.
void close_port(Port& port);

// A packet mbuf pool: data room 2048 + RTE_PKTMBUF_HEADROOM, per-lcore cache
// 256. nullptr on failure (rte_errno says why).
rte_mempool* create_packet_pool(const char* name, unsigned n_mbufs, int socket);

// Pure helpers, exposed for tests.
// The device name in devargs: everything before the first comma.
std::string_view devargs_device_name(std::string_view devargs);
// The value of `key=` in comma-separated devargs, if present.
std::optional<std::string> devarg_value(std::string_view devargs, std::string_view key);
// For net_af_packet devargs without qpairs=, appends ",qpairs=K" when K > 1.
std::string devargs_with_queue_count(std::string_view devargs, std::uint16_t queues);

}  // namespace wghub::dp
