// The one test bed of the pipeline tests, fuzz_worker and wgperf: a real
// wghub::ctl::Hub on two net_ring ports whose rings the caller holds, stepped
// on the caller's thread (or run on worker lcores by wgperf).
//
//   caller ──inject──► WAN rx ring(s) ─► hub worker(s) ─► WAN tx ring(s) ──drain──► caller
//   caller ──inject──► LAN rx ring(s) ─►      │       ─► LAN tx ring(s) ──drain──► caller
//                                    control thread (the last tx queue)
//
// Each port is made with rte_eth_from_rings (device "net_ring_<name>"): one
// rx ring per worker, and one tx ring per tx queue (workers, then the control
// thread), as a NIC has, or one ring all queues share when the caller needs
// the hub's frames in the order they were sent. The config's devargs name the
// device and the hub's open_port reuses it. The bed plays the neighbours: it
// answers the hub's ARP requests and IPv6 Neighbor Solicitations for the
// addresses it was told (answer_arp, answer_ndp), so frames the hub holds for
// a neighbour get out, and logs every request. Callers build on it: the
// pipeline Harness (named sites, captured frames) and wgperf's Testbed
// (thousands of sites, streams, measurement), as wireguard-go's genTestPair
// serves its tests and its benchmarks.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "control/hub.hpp"
#include "perf/sim/frames.hpp"
#include "perf/sim/sim_peer.hpp"

namespace wghub::perfsim {

// The bed's addresses (host order).
inline constexpr std::uint32_t kHubWanIp = ip4(100, 64, 0, 1);
inline constexpr std::uint32_t kWanGatewayIp = ip4(100, 64, 0, 254);
inline constexpr Mac kWanGatewayMac = test_mac(0x00fe);
inline constexpr std::uint16_t kListenPort = 51820;
inline constexpr std::uint32_t kHubLanIp = ip4(10, 0, 0, 1);
inline constexpr std::uint32_t kHqHostIp = ip4(10, 0, 0, 10);
inline constexpr Mac kHqHostMac = test_mac(0x0a0a);
inline constexpr std::uint32_t kLanGatewayIp = ip4(10, 0, 0, 254);
// The hub's private key: 32 bytes of this value.
inline constexpr std::uint8_t kHubKeySeed = 0x42;
// With ipv6: the ports' address6 (WAN fd00:64::1/64, LAN fd00::1/64).
inline const Ip6 kHubLanIp6 = ip6("fd00::1");
inline const Ip6 kHubWanIp6 = ip6("fd00:64::1");

// The public key of the hub every bed runs.
ctl::PublicKey bed_hub_public_key();

struct RingBedOptions {
  std::string name;  // unique per process: names the rings and the devices
  unsigned workers = 1;
  unsigned rx_ring_size = 4096;
  unsigned tx_ring_size = 4096;
  // One multi-producer tx ring per port for every queue: the hub's frames in
  // the order it sent them, whichever thread sent them.
  bool shared_tx = false;
  // Frames the caller injects come from here; nullptr: the bed makes a pool
  // of pool_size and frees it with itself.
  rte_mempool* pool = nullptr;
  unsigned pool_size = 8191;
};

// The config up to and including `peers:`, on the bed's ports.
struct BedConfig {
  std::string interface_name = "wghub0";
  unsigned workers = 1;  // dataplane.lcores [1..workers]
  unsigned burst = 32;
  unsigned handshake_threads = 0;
  bool ipv6 = false;         // address6 on both ports
  bool lan_gateway = false;  // ports.lan.gateway kLanGatewayIp
  std::string extra_yaml;    // written before `peers:` (a store: section)
};

class RingBed {
 public:
  static constexpr unsigned kWan = 0;
  static constexpr unsigned kLan = 1;

  RingBed() = default;
  ~RingBed();
  RingBed(const RingBed&) = delete;
  RingBed& operator=(const RingBed&) = delete;

  // Rings, ports, the pool, a temporary directory and the hub's key file in
  // it (hub.key). False with `error` on failure.
  bool open(const RingBedOptions& options, std::string& error);
  const std::string& dir() const { return dir_; }
  rte_mempool* pool() const { return pool_; }
  const std::vector<rte_ring*>& rx_rings(unsigned port) const { return ports_[port].rx; }
  std::string config_head(const BedConfig& c) const;

  // Loads the config file at `path` and starts the hub on it; checks the
  // hub's key is the bed's.
  bool start_hub(const std::string& path, const ctl::HubOptions& options, std::string& error);
  bool has_hub() const { return hub_ != nullptr; }
  ctl::Hub& hub() const { return *hub_; }
  // Frees what the hub left in the tx rings (its pool's mbufs), then the hub.
  void destroy_hub();
  HubWan hub_wan() const;
  Mac hub_mac(unsigned port) const;

  // A frame into the port's rx ring `queue`. False when the pool is empty,
  // the frame does not fit one mbuf or the ring is full.
  bool inject(unsigned port, const Bytes& frame, unsigned queue = 0);

  // Who answers the hub's ARP requests / Neighbor Solicitations on a port.
  void answer_arp(unsigned port, std::uint32_t ip, const Mac& mac) { arp_[port][ip] = mac; }
  void answer_ndp(unsigned port, const Ip6& ip, const Mac& mac) { ndp_[port][ip] = mac; }
  // The targets the hub asked for, in order.
  const std::vector<std::uint32_t>& arp_requests(unsigned port) const {
    return arp_requests_[port];
  }
  const std::vector<Ip6>& ndp_requests(unsigned port) const { return ndp_requests_[port]; }
  std::uint64_t answers_injected() const { return answers_injected_; }

  // Empties the port's tx rings. ARP requests and Neighbor Solicitations are
  // logged and answered; every other frame goes to `sink` (when given), then
  // is freed. Returns the frames taken.
  using Sink = std::function<void(unsigned port, const rte_mbuf* m)>;
  unsigned drain(unsigned port, const Sink& sink = nullptr);
  // Workers (until their rx rings are empty), the control thread and both
  // ports' tx rings, until nothing moves. Handshake threads at work are given
  // up to 120 s. False when the hub kept moving for 10000 rounds.
  bool settle(const Sink& sink = nullptr);
  // Workers only, until the rx rings are empty; then the tx rings.
  void run_workers(const Sink& sink = nullptr);

 private:
  struct RingPort {
    std::string device;  // net_ring_<name>
    std::vector<rte_ring*> rx;
    std::vector<rte_ring*> tx;  // distinct rings (one when shared)
  };
  bool make_port(RingPort& port, const std::string& name, std::string& error);
  std::size_t rx_pending() const;
  bool answer(unsigned port, const rte_mbuf* m);

  RingBedOptions options_;
  bool own_pool_ = false;
  rte_mempool* pool_ = nullptr;
  std::string dir_;
  RingPort ports_[2];
  std::unique_ptr<ctl::Hub> hub_;
  std::map<std::uint32_t, Mac> arp_[2];
  std::map<Ip6, Mac> ndp_[2];
  std::vector<std::uint32_t> arp_requests_[2];
  std::vector<Ip6> ndp_requests_[2];
  std::uint64_t answers_injected_ = 0;
};

// A frame's bytes (all segments).
Bytes frame_bytes(const rte_mbuf* m);

}  // namespace wghub::perfsim
