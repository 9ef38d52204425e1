// The pipeline test bench: a real wghub::ctl::Hub on two net_ring ports whose
// rings the test holds, stepped on the test's thread. The hub, its ports and
// rings, and the neighbours it asks for are perfsim::RingBed (perf/sim), the
// bed wgperf measures on too; this adds the sites a test plays by name, the
// frames the hub sent, kept until the test takes them, and composite steps.
//
//   test ──inject──► WAN rx ring ─► hub worker ─► WAN tx ring ──capture──► test
//   test ──inject──► LAN rx ring ─►     │      ─► LAN tx ring ──capture──► test
//                                control thread (its own tx queue, same rings)
//
// Each port has one tx ring, shared by the worker's tx queue and the control
// thread's, so frames are captured in the order the hub sent them. Every
// Harness gets fresh ports, rings and a fresh Hub, so counters start at zero
// in every test.
//
// The bench answers the hub's ARP requests for the sites' outer addresses and
// the WAN gateway (WAN) and for the HQ host (LAN), and with `ipv6` its
// Neighbor Solicitations for the HQ host's IPv6 address (LAN), so frames the
// hub holds for a neighbour get out. run() steps workers and control until
// nothing moves; no test depends on elapsed time.
#pragma once

#include <rte_mempool.h>
#include <rte_ring.h>

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "control/hub.hpp"
#include "dataplane/lcore_stats.hpp"
#include "perf/sim/frames.hpp"
#include "perf/sim/ring_bed.hpp"
#include "perf/sim/sim_peer.hpp"

namespace wghub::pipeline {

// The simulated sites and frame builders are shared with wgperf (perf/sim).
using namespace ::wghub::perfsim;  // NOLINT(google-build-using-namespace)

// The bed's addresses (kHubWanIp, kHqHostIp, ...) are in perf/sim/ring_bed.hpp.
// IPv6 (HarnessOptions::ipv6): the HQ host.
inline const Ip6 kHqHostIp6 = ip6("fd00::10");
// Hosts in site A's and site B's IPv6 LANs (dual_stack()).
inline const Ip6 kSiteAHost6 = ip6("fd00:1::5");
inline const Ip6 kSiteBHost6 = ip6("fd00:2::7");

// Sites: A and B dial in from the WAN link (NAT-less), C has a configured
// endpoint so the hub dials it.
inline constexpr std::uint32_t kSiteAOuterIp = ip4(100, 64, 0, 11);
inline constexpr std::uint32_t kSiteBOuterIp = ip4(100, 64, 0, 12);
inline constexpr std::uint32_t kSiteCOuterIp = ip4(100, 64, 0, 13);
inline constexpr std::uint32_t kSiteANet = ip4(10, 1, 0, 0);  // /24
inline constexpr std::uint32_t kSiteBNet = ip4(10, 2, 0, 0);
inline constexpr std::uint32_t kSiteCNet = ip4(10, 3, 0, 0);

struct PeerSpec {
  std::string name;
  std::uint8_t key_seed = 0;
  Outer outer;
  std::vector<std::string> allowed_ips;
  bool configured_endpoint = false;  // config `endpoint:` = outer ip:port
};

// Site A, B, C as above.
PeerSpec site_a();
PeerSpec site_b();
PeerSpec site_c();

struct HarnessOptions {
  std::vector<PeerSpec> peers{site_a(), site_b()};
  unsigned burst = 32;
  // Both ports get an address6: LAN fd00::1/64 (HQ host fd00::10), WAN
  // fd00:64::1/64 (sites with an IPv6 Outer are on that link).
  bool ipv6 = false;
  // ICMP errors the hub may send (fragmentation needed, Packet Too Big).
  dp::IcmpErrorLimit icmp_error_limit{};
  // That many more peers nobody plays (generated_peer(i)), after `peers`:
  // the large peer sets of the reload tests.
  std::size_t generated_peers = 0;
  // dataplane.handshake_threads (control/handshake_threads.hpp).
  unsigned handshake_threads = 0;
  // ports.lan.gateway 10.0.0.254 (kLanGatewayIp): the LAN holds the default route.
  bool lan_gateway = false;
  // The hub's tables at these sizes instead of those from the config.
  std::optional<ctl::TableSizes> table_sizes{};
  // YAML written before `peers:` (a store: section, for the store tests).
  std::string extra_yaml{};
};

// IPv6 on both ports, and sites A and B with fd00:1::/64 and fd00:2::/64 too.
HarnessOptions dual_stack();

// The YAML of generated peer i: name g<i>, a key of bytes derived from i
// (any 32 bytes are a public key to the hub), and one /32 from 172.16.0.0/12
// (`shift` moves it: the same peer with other AllowedIPs).
std::string generated_peer(std::size_t i, std::size_t shift = 0);

// The global mbuf pool for frames the test injects (made once per process).
rte_mempool* inject_pool();

class Harness {
 public:
  explicit Harness(HarnessOptions options = {});
  ~Harness();
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  // False (with error()) when the hub could not be built.
  bool ok() const { return bed_.has_hub(); }
  // Destroys the hub now (the rings and ports stay until ~Harness).
  void destroy_hub();
  const std::string& error() const { return error_; }
  // The config file the hub was started from (on disk, so reloads read it),
  // its text up to the peers list (`peers:` included), and the YAML of the
  // peers the harness plays. A test writes a new file for a reload with
  // write_config(config_head() + config_played_peers() + more peers).
  const std::string& config_path() const { return config_path_; }
  const std::string& config_head() const { return config_head_; }
  const std::string& config_played_peers() const { return config_played_; }
  bool write_config(const std::string& yaml) const;

  ctl::Hub& hub() { return bed_.hub(); }
  SimPeer& peer(const std::string& name);
  HubWan hub_wan() const;
  Mac hub_lan_mac() const;

  // ---- wire
  void inject_wan(const Bytes& frame);
  void inject_lan(const Bytes& frame);
  // A WireGuard message from the peer's current outer address.
  void send(SimPeer& peer, const Bytes& message) { inject_wan(peer.frame_to(hub_wan(), message)); }
  // An IPv4 packet from the HQ host (Ethernet to the hub's LAN MAC).
  void send_from_hq(const Bytes& ip_packet);
  // An IPv6 packet from the HQ host.
  void send_from_hq6(const Bytes& ip6_packet);

  // ---- stepping
  // Workers, then the control thread, then capture, until nothing moves.
  void run();
  // Workers only (the control thread is not stepped): until the rx rings are
  // empty.
  void run_workers();

  // Frames the hub transmitted since the last take, ARP requests excepted
  // (the bench answers those).
  std::vector<Bytes> take_wan();
  std::vector<Bytes> take_lan();
  // Targets of the ARP requests the hub sent, in order.
  const std::vector<std::uint32_t>& wan_arp_requests() const {
    return bed_.arp_requests(RingBed::kWan);
  }
  const std::vector<std::uint32_t>& lan_arp_requests() const {
    return bed_.arp_requests(RingBed::kLan);
  }
  // The bench answers the hub's Neighbor Solicitations for `ip` on the WAN
  // (a site that moved to a new IPv6 address).
  void add_wan_neighbour6(const Ip6& ip, const Mac& mac) {
    bed_.answer_ndp(RingBed::kWan, ip, mac);
  }
  // Targets of the Neighbor Solicitations the hub sent, in order.
  const std::vector<Ip6>& wan_ndp_requests() const { return bed_.ndp_requests(RingBed::kWan); }
  const std::vector<Ip6>& lan_ndp_requests() const { return bed_.ndp_requests(RingBed::kLan); }

  // ---- observations
  dp::LcoreStats stats() const;
  std::uint64_t drops(dp::DropReason reason) const;
  const ctl::Device::Peer& device_peer(const std::string& name) const;
  std::uint32_t slot(const std::string& name) const { return device_peer(name).slot; }
  // The peer's endpoint as the data plane holds it (empty = none).
  dp::Endpoint endpoint(const std::string& name);

  // ---- composite steps
  // Peer initiates, hub answers: true when the response came back from the
  // hub's listen port to the peer's outer address and authenticated.
  bool handshake(SimPeer& peer);
  // handshake() + a keepalive, so the hub's responder keypair is confirmed
  // and the hub can send to the peer. Captured frames are discarded.
  bool establish(SimPeer& peer);

 private:
  // Takes what the hub sent into captured_; returns how many frames and
  // neighbour requests that was.
  std::size_t collect();
  RingBed::Sink capture();
  void inject(unsigned port, const Bytes& frame);

  HarnessOptions options_;
  std::string error_;
  std::string config_path_, config_head_, config_played_;
  RingBed bed_;
  std::map<std::string, std::unique_ptr<SimPeer>> peers_;
  std::deque<Bytes> captured_[2];
};

}  // namespace wghub::pipeline
