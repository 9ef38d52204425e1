// See harness.hpp.
#include "tests/pipeline/harness.hpp"

#include <rte_bus_vdev.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "config/loader.hpp"
#include "crypto/base64.hpp"
#include "dataplane/messages.hpp"

namespace wghub::pipeline {

namespace {

// Rings hold a whole test step: the cookie test queues > 512 handshakes
// and their replies before anything is drained.
constexpr unsigned kRingSize = 4096;
constexpr unsigned kInjectPoolSize = 8191;

std::atomic<unsigned> g_instance{0};

std::string ip_text(std::uint32_t ip) {
  return format_ip(ip);
}

std::string make_temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/wghub-pipeline-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return {};
  return tmpl;
}

// The hub's private key: a file only its owner can read (the loader refuses
// anything else).
bool write_key_file(const std::string& path, std::uint8_t seed) {
  std::uint8_t key[32];
  std::memset(key, seed, sizeof key);
  {
    std::ofstream out(path, std::ios::trunc);
    out << crypto::key_to_base64(key) << "\n";
    if (!out) return false;
  }
  return ::chmod(path.c_str(), 0600) == 0;
}

ctl::PublicKey hub_public_key() {
  std::array<std::uint8_t, 32> key;
  key.fill(kHubKeySeed);
  return ctl::LocalIdentity::from_private_key(key).public_key;
}

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
  if (!make_port(wan_, "pwan" + std::to_string(n)) || !make_port(lan_, "plan" + std::to_string(n)))
    return;
  dir_ = make_temp_dir();
  if (dir_.empty() || !write_key_file(dir_ + "/hub.key", kHubKeySeed)) {
    error_ = "cannot write the hub's key file under " + dir_;
    return;
  }

  const ctl::PublicKey hub_public = hub_public_key();
  std::ostringstream yaml;
  yaml << "interface:\n"
       << "  name: wgpipe" << n % 1000 << "\n"
       << "  private_key_file: hub.key\n"
       << "  listen_port: " << kListenPort << "\n"
       << "ports:\n"
       << "  wan:\n"
       << "    devargs: \"" << wan_.device << "\"\n"
       << "    address: " << ip_text(kHubWanIp) << "/24\n"
       << "    gateway: " << ip_text(kWanGatewayIp) << "\n"
       << (options_.ipv6 ? "    address6: \"" + format_ip6(kHubWanIp6) + "/64\"\n" : "")
       << "  lan:\n"
       << "    devargs: \"" << lan_.device << "\"\n"
       << "    address: " << ip_text(kHubLanIp) << "/24\n"
       << (options_.lan_gateway ? "    gateway: " + ip_text(kLanGatewayIp) + "\n" : "")
       << (options_.ipv6 ? "    address6: \"" + format_ip6(kHubLanIp6) + "/64\"\n" : "")
       << "dataplane:\n"
       << "  lcores: [1]\n"
       << "  burst_size: " << options_.burst << "\n"
       << "  handshake_threads: " << options_.handshake_threads << "\n"
       << "metrics:\n"
       << "  enabled: false\n"
       << options_.extra_yaml << "peers:\n";
  config_head_ = yaml.str();
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
           << (spec.outer.v6 ? "[" + format_ip6(spec.outer.ip6) + "]" : ip_text(spec.outer.ip))
           << ":" << spec.outer.port << "\"\n";
    if (spec.outer.v6) {
      neighbours6_[0][spec.outer.ip6] = spec.outer.mac;
    } else {
      neighbours_[0][spec.outer.ip] = spec.outer.mac;
    }
    peers_[spec.name] = std::move(peer);
  }
  config_played_ = yaml.str().substr(config_head_.size());
  for (std::size_t i = 0; i < options_.generated_peers; ++i) yaml << generated_peer(i);
  neighbours_[0][kWanGatewayIp] = kWanGatewayMac;
  neighbours_[1][kHqHostIp] = kHqHostMac;
  if (options_.ipv6) neighbours6_[1][kHqHostIp6] = kHqHostMac;

  config_path_ = dir_ + "/wghub.yaml";
  if (!write_config(yaml.str())) {
    error_ = "cannot write " + config_path_;
    return;
  }
  const config::LoadResult loaded = config::load_config_file(config_path_);
  if (!loaded.ok()) {
    error_ = "config: " + loaded.error_text() + "\n" + yaml.str();
    return;
  }
  ctl::HubOptions hub_options;
  hub_options.status_interval_s = 0;
  hub_options.icmp_error_limit = options_.icmp_error_limit;
  hub_options.table_sizes = options_.table_sizes;
  hub_ = ctl::Hub::create(loaded.state, hub_options, error_);
  if (hub_ && hub_->public_key() != hub_public) {
    error_ = "the hub's public key is not the one derived from its key file";
    hub_.reset();
  }
}

Harness::~Harness() {
  destroy_hub();
  for (RingPort* p : {&wan_, &lan_}) {
    void* m;
    for (rte_ring* r : {p->rx, p->tx})
      if (r != nullptr)
        while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    // The ethdev port went with the hub; this removes the vdev itself.
    if (!p->device.empty()) (void)rte_vdev_uninit(p->device.c_str());
    rte_ring_free(p->rx);
    rte_ring_free(p->tx);
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

void Harness::destroy_hub() {
  if (!hub_) return;
  // Frames in the tx rings come from the hub's pool: free them before the
  // hub frees the pool.
  collect();
  captured_[0].clear();
  captured_[1].clear();
  hub_.reset();  // closes (and releases) both ethdev ports
}

bool Harness::make_port(RingPort& port, const std::string& name) {
  // Single consumer on rx (one worker) but several producers on tx (the
  // worker's queue and the control thread's share the ring).
  port.rx = rte_ring_create((name + "_rx").c_str(), kRingSize, SOCKET_ID_ANY, RING_F_SC_DEQ);
  port.tx = rte_ring_create((name + "_tx").c_str(), kRingSize, SOCKET_ID_ANY, 0);
  if (port.rx == nullptr || port.tx == nullptr) {
    error_ = "cannot create rings for " + name + ": " + rte_strerror(rte_errno);
    return false;
  }
  rte_ring* const rx[] = {port.rx};
  rte_ring* const tx[] = {port.tx, port.tx};  // worker queue 0, control queue 1
  if (rte_eth_from_rings(name.c_str(), rx, 1, tx, 2, SOCKET_ID_ANY) < 0) {
    error_ = "rte_eth_from_rings(" + name + ") failed: " + rte_strerror(rte_errno);
    return false;
  }
  port.device = "net_ring_" + name;
  return true;
}

SimPeer& Harness::peer(const std::string& name) {
  return *peers_.at(name);
}

HubWan Harness::hub_wan() const {
  HubWan w;
  std::memcpy(w.mac.data(), hub_->dataplane().wan.local.mac.addr_bytes, 6);
  w.ip = kHubWanIp;
  w.port = kListenPort;
  w.ip6 = kHubWanIp6;
  return w;
}

Mac Harness::hub_lan_mac() const {
  Mac m;
  std::memcpy(m.data(), hub_->dataplane().lan.local.mac.addr_bytes, 6);
  return m;
}

void Harness::inject(RingPort& port, const Bytes& frame) {
  rte_mbuf* m = rte_pktmbuf_alloc(inject_pool());
  if (m == nullptr) throw std::runtime_error("inject pool exhausted");
  auto* data = rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame.size()));
  if (data == nullptr) {
    rte_pktmbuf_free(m);
    throw std::runtime_error("frame too large for one mbuf");
  }
  // An empty frame (the malformed table has one) has no data() to copy from.
  if (!frame.empty()) std::memcpy(data, frame.data(), frame.size());
  if (rte_ring_enqueue(port.rx, m) != 0) {
    rte_pktmbuf_free(m);
    throw std::runtime_error("rx ring full: run() more often");
  }
}

void Harness::inject_wan(const Bytes& frame) {
  inject(wan_, frame);
}
void Harness::inject_lan(const Bytes& frame) {
  inject(lan_, frame);
}

void Harness::send_from_hq(const Bytes& ip_packet) {
  inject_lan(ethernet_frame(hub_lan_mac(), kHqHostMac, kEtherTypeIpv4, ip_packet));
}

void Harness::send_from_hq6(const Bytes& ip6_packet) {
  inject_lan(ethernet_frame(hub_lan_mac(), kHqHostMac, kEtherTypeIpv6, ip6_packet));
}

void Harness::collect_port(unsigned index, RingPort& port) {
  void* objs[256];
  unsigned n;
  while ((n = rte_ring_dequeue_burst(port.tx, objs, 256, nullptr)) > 0) {
    for (unsigned i = 0; i < n; ++i) {
      auto* m = static_cast<rte_mbuf*>(objs[i]);
      Bytes frame(m->pkt_len);
      const void* p = rte_pktmbuf_read(m, 0, m->pkt_len, frame.data());
      if (p != frame.data()) std::memcpy(frame.data(), p, m->pkt_len);
      rte_pktmbuf_free(m);
      const auto parsed = parse_frame(frame);
      if (parsed && parsed->ether_type == kEtherTypeArp && parsed->arp_op == 1) {
        arp_requests_[index].push_back(parsed->arp_target_ip);
        auto who = neighbours_[index].find(parsed->arp_target_ip);
        if (who != neighbours_[index].end())
          inject(port, arp_frame(2, parsed->src, who->second, who->first, parsed->arp_sender_mac,
                                 parsed->arp_sender_ip));
        continue;
      }
      if (parsed && parsed->ether_type == kEtherTypeIpv6 && parsed->icmp6_type == 135) {
        ndp_requests_[index].push_back(parsed->ndp_target);
        auto who = neighbours6_[index].find(parsed->ndp_target);
        if (who != neighbours6_[index].end())
          inject(port,
                 neighbor_advert_frame(parsed->src, who->second, who->first, parsed->src_ip6));
        continue;
      }
      captured_[index].push_back(std::move(frame));
    }
  }
}

std::size_t Harness::collect() {
  auto count = [this] {
    return captured_[0].size() + captured_[1].size() + arp_requests_[0].size() +
           arp_requests_[1].size() + ndp_requests_[0].size() + ndp_requests_[1].size();
  };
  const std::size_t before = count();
  if (wan_.tx != nullptr) collect_port(0, wan_);
  if (lan_.tx != nullptr) collect_port(1, lan_);
  return count() - before;
}

void Harness::run_workers() {
  while (rte_ring_count(wan_.rx) + rte_ring_count(lan_.rx) > 0) {
    hub_->poll_workers_once();
    collect();
  }
  hub_->poll_workers_once();
  collect();
}

void Harness::run() {
  // Bounded: a hub that keeps talking to itself fails the test instead of
  // hanging it. Waiting for handshake threads is bounded by time instead,
  // generously: they may share a busy machine.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (int round = 0; round < 10000;) {
    bool moved = rte_ring_count(wan_.rx) + rte_ring_count(lan_.rx) > 0;
    run_workers();
    while (hub_->poll_control_once() > 0) moved = true;
    if (collect() > 0) moved = true;
    if (hub_->handshakes_in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
      // Handshake threads still at work: give them the CPU, then look again.
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    if (!moved) return;
    ++round;
  }
  throw std::runtime_error("the hub did not settle");
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
  return dp::snapshot(*hub_->dataplane().worker_stats.at(0));
}

std::uint64_t Harness::drops(dp::DropReason reason) const {
  return stats().drops[static_cast<std::size_t>(reason)];
}

const ctl::Device::Peer& Harness::device_peer(const std::string& name) const {
  for (const auto& [slot, p] : hub_->device().peers())
    if (p.name == name) return p;
  throw std::runtime_error("no peer " + name);
}

dp::Endpoint Harness::endpoint(const std::string& name) {
  return hub_->dataplane().peers->at(slot(name)).endpoint.load();
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
