// See harness.hpp.
#include "tests/pipeline/harness.hpp"

#include <rte_errno.h>
#include <rte_mbuf.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "crypto/base64.hpp"
#include "dataplane/messages.hpp"

namespace wghub::pipeline {

namespace {

// Rings hold a whole test step: the cookie test queues > 512 handshakes
// and their replies before anything is drained.
constexpr unsigned kRingSize = 4096;
constexpr unsigned kInjectPoolSize = 8191;

std::atomic<unsigned> g_instance{0};

}  // namespace

std::string generated_peer(std::size_t i, std::size_t shift) {
  std::uint8_t key[32];
  for (unsigned b = 0; b < 32; ++b) key[b] = static_cast<std::uint8_t>((i >> (8 * (b % 4))) + b);
  key[31] = 0xee;  // never one of the played sites' keys
  const std::size_t ip = (i + shift) % (std::size_t{1} << 20);
  std::ostringstream out;
  out << "  - name: g" << i << "\n    public_key: \"" << crypto::key_to_base64(key)
      << "\"\n    allowed_ips: [\"172." << 16 + (ip >> 16) << "." << ((ip >> 8) & 0xff) << "."
      << (ip & 0xff) << "/32\"]\n";
  return out.str();
}

bool Harness::write_config(const std::string& yaml) const {
  std::ofstream out(config_path_, std::ios::trunc);
  out << yaml;
  return static_cast<bool>(out);
}

PeerSpec site_a() {
  return {"site-a", 0xa1, Outer{test_mac(0x0b0b), kSiteAOuterIp, 40001}, {"10.1.0.0/24"}, false};
}
PeerSpec site_b() {
  return {"site-b", 0xb2, Outer{test_mac(0x0c0c), kSiteBOuterIp, 40002}, {"10.2.0.0/24"}, false};
}
PeerSpec site_c() {
  return {"site-c", 0xc3, Outer{test_mac(0x0d0d), kSiteCOuterIp, 51820}, {"10.3.0.0/24"}, true};
}

HarnessOptions dual_stack() {
  HarnessOptions o;
  o.ipv6 = true;
  PeerSpec a = site_a(), b = site_b();
  a.allowed_ips.push_back("fd00:1::/64");
  b.allowed_ips.push_back("fd00:2::/64");
  o.peers = {a, b};
  return o;
}

rte_mempool* inject_pool() {
  static rte_mempool* pool = rte_pktmbuf_pool_create("pipeline_inject", kInjectPoolSize, 256, 0,
                                                     2048 + RTE_PKTMBUF_HEADROOM, SOCKET_ID_ANY);
  return pool;
}

Harness::Harness(HarnessOptions options) : options_(std::move(options)) {
  const unsigned n = g_instance.fetch_add(1);
  if (inject_pool() == nullptr) {
    error_ = std::string("cannot create the inject pool: ") + rte_strerror(rte_errno);
    return;
  }
  RingBedOptions bed;
  bed.name = "p" + std::to_string(n);
  bed.rx_ring_size = bed.tx_ring_size = kRingSize;
  bed.shared_tx = true;
  bed.pool = inject_pool();
  if (!bed_.open(bed, error_)) return;

  BedConfig head;
  head.interface_name = "wgpipe" + std::to_string(n % 1000);
  head.burst = options_.burst;
  head.handshake_threads = options_.handshake_threads;
  head.ipv6 = options_.ipv6;
  head.lan_gateway = options_.lan_gateway;
  head.extra_yaml = options_.extra_yaml;
  config_head_ = bed_.config_head(head);
  std::ostringstream yaml;
  yaml << config_head_;
  const ctl::PublicKey hub_public = bed_hub_public_key();
  for (const PeerSpec& spec : options_.peers) {
    auto peer = std::make_unique<SimPeer>(spec.name, spec.key_seed, spec.outer, hub_public);
    yaml << "  - name: " << spec.name << "\n"
         << "    public_key: \"" << peer->public_key_base64() << "\"\n"
         << "    allowed_ips: [";
    for (std::size_t i = 0; i < spec.allowed_ips.size(); ++i)
      yaml << (i ? ", " : "") << "\"" << spec.allowed_ips[i] << "\"";
    yaml << "]\n";
    if (spec.configured_endpoint)
      yaml << "    endpoint: \""
           << (spec.outer.v6 ? "[" + format_ip6(spec.outer.ip6) + "]" : format_ip(spec.outer.ip))
           << ":" << spec.outer.port << "\"\n";
    if (spec.outer.v6) {
      bed_.answer_ndp(RingBed::kWan, spec.outer.ip6, spec.outer.mac);
    } else {
      bed_.answer_arp(RingBed::kWan, spec.outer.ip, spec.outer.mac);
    }
    peers_[spec.name] = std::move(peer);
  }
  config_played_ = yaml.str().substr(config_head_.size());
  for (std::size_t i = 0; i < options_.generated_peers; ++i) yaml << generated_peer(i);
  bed_.answer_arp(RingBed::kWan, kWanGatewayIp, kWanGatewayMac);
  bed_.answer_arp(RingBed::kLan, kHqHostIp, kHqHostMac);
  if (options_.ipv6) bed_.answer_ndp(RingBed::kLan, kHqHostIp6, kHqHostMac);

  config_path_ = bed_.dir() + "/wghub.yaml";
  if (!write_config(yaml.str())) {
    error_ = "cannot write " + config_path_;
    return;
  }
  ctl::HubOptions hub_options;
  hub_options.status_interval_s = 0;
  hub_options.icmp_error_limit = options_.icmp_error_limit;
  hub_options.table_sizes = options_.table_sizes;
  if (!bed_.start_hub(config_path_, hub_options, error_) && error_.starts_with("config:"))
    error_ += "\n" + yaml.str();
}

Harness::~Harness() {
  destroy_hub();
}

void Harness::destroy_hub() {
  bed_.destroy_hub();
  captured_[0].clear();
  captured_[1].clear();
}

SimPeer& Harness::peer(const std::string& name) {
  return *peers_.at(name);
}

HubWan Harness::hub_wan() const {
  return bed_.hub_wan();
}

Mac Harness::hub_lan_mac() const {
  return bed_.hub_mac(RingBed::kLan);
}

void Harness::inject(unsigned port, const Bytes& frame) {
  if (!bed_.inject(port, frame))
    throw std::runtime_error(
        "cannot inject: inject pool empty, frame over one mbuf, or rx ring full (run() more "
        "often)");
}

void Harness::inject_wan(const Bytes& frame) {
  inject(RingBed::kWan, frame);
}
void Harness::inject_lan(const Bytes& frame) {
  inject(RingBed::kLan, frame);
}

void Harness::send_from_hq(const Bytes& ip_packet) {
  inject_lan(ethernet_frame(hub_lan_mac(), kHqHostMac, kEtherTypeIpv4, ip_packet));
}

void Harness::send_from_hq6(const Bytes& ip6_packet) {
  inject_lan(ethernet_frame(hub_lan_mac(), kHqHostMac, kEtherTypeIpv6, ip6_packet));
}

RingBed::Sink Harness::capture() {
  return [this](unsigned port, const rte_mbuf* m) { captured_[port].push_back(frame_bytes(m)); };
}

std::size_t Harness::collect() {
  auto count = [this] {
    std::size_t n = captured_[0].size() + captured_[1].size();
    for (unsigned port : {RingBed::kWan, RingBed::kLan})
      n += bed_.arp_requests(port).size() + bed_.ndp_requests(port).size();
    return n;
  };
  const std::size_t before = count();
  if (bed_.has_hub()) {
    const RingBed::Sink sink = capture();
    bed_.drain(RingBed::kWan, sink);
    bed_.drain(RingBed::kLan, sink);
  }
  return count() - before;
}

void Harness::run_workers() {
  bed_.run_workers(capture());
}

void Harness::run() {
  if (!bed_.settle(capture())) throw std::runtime_error("the hub did not settle");
}

std::vector<Bytes> Harness::take_wan() {
  collect();
  std::vector<Bytes> out(captured_[0].begin(), captured_[0].end());
  captured_[0].clear();
  return out;
}

std::vector<Bytes> Harness::take_lan() {
  collect();
  std::vector<Bytes> out(captured_[1].begin(), captured_[1].end());
  captured_[1].clear();
  return out;
}

dp::LcoreStats Harness::stats() const {
  return dp::snapshot(*bed_.hub().dataplane().worker_stats.at(0));
}

std::uint64_t Harness::drops(dp::DropReason reason) const {
  return stats().drops[static_cast<std::size_t>(reason)];
}

const ctl::Device::Peer& Harness::device_peer(const std::string& name) const {
  for (const auto& [slot, p] : bed_.hub().device().peers())
    if (p.name == name) return p;
  throw std::runtime_error("no peer " + name);
}

dp::Endpoint Harness::endpoint(const std::string& name) {
  return bed_.hub().dataplane().peers->at(slot(name)).endpoint.load();
}

bool Harness::handshake(SimPeer& peer) {
  send(peer, peer.create_initiation());
  run();
  bool done = false;
  for (const Bytes& f : take_wan()) {
    const auto pf = parse_frame(f);
    if (!pf || pf->proto != kProtoUdp || pf->udp_payload.size() != dp::kMessageResponseSize)
      continue;
    const bool addresses_ok = peer.outer().v6
                                  ? pf->ether_type == kEtherTypeIpv6 &&
                                        pf->dst_ip6 == peer.outer().ip6 && pf->src_ip6 == kHubWanIp6
                                  : pf->ether_type == kEtherTypeIpv4 &&
                                        pf->dst_ip == peer.outer().ip && pf->src_ip == kHubWanIp;
    if (pf->dst != peer.outer().mac || !addresses_ok || pf->dst_port != peer.outer().port ||
        pf->src_port != kListenPort)
      continue;
    done = done || peer.consume_response(pf->udp_payload);
  }
  return done;
}

bool Harness::establish(SimPeer& peer) {
  if (!handshake(peer)) return false;
  send(peer, peer.seal({}));  // keepalive: confirms the hub's responder keypair
  run();
  take_wan();
  take_lan();
  return device_peer(peer.name()).current != nullptr;
}

}  // namespace wghub::pipeline
