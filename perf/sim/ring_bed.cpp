// See ring_bed.hpp.
#include "perf/sim/ring_bed.hpp"

#include <rte_bus_vdev.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "config/loader.hpp"
#include "crypto/base64.hpp"

namespace wghub::perfsim {

namespace {

std::string make_temp_dir(const std::string& name) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/wghub-" + name + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return {};
  return tmpl;
}

// The hub's private key: a file only its owner can read (the loader refuses
// anything else).
bool write_key_file(const std::string& path) {
  std::uint8_t key[32];
  std::memset(key, kHubKeySeed, sizeof key);
  {
    std::ofstream out(path, std::ios::trunc);
    out << crypto::key_to_base64(key) << "\n";
    if (!out) return false;
  }
  return ::chmod(path.c_str(), 0600) == 0;
}

}  // namespace

ctl::PublicKey bed_hub_public_key() {
  std::array<std::uint8_t, 32> key;
  key.fill(kHubKeySeed);
  return ctl::LocalIdentity::from_private_key(key).public_key;
}

Bytes frame_bytes(const rte_mbuf* m) {
  Bytes frame(m->pkt_len);
  const void* p = rte_pktmbuf_read(m, 0, m->pkt_len, frame.data());
  if (p != frame.data() && m->pkt_len > 0) std::memcpy(frame.data(), p, m->pkt_len);
  return frame;
}

RingBed::~RingBed() {
  destroy_hub();
  for (RingPort& p : ports_) {
    std::vector<rte_ring*> rings = p.rx;
    rings.insert(rings.end(), p.tx.begin(), p.tx.end());
    void* m;
    for (rte_ring* r : rings)
      while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    // The ethdev port went with the hub; this removes the vdev itself.
    if (!p.device.empty()) (void)rte_vdev_uninit(p.device.c_str());
    for (rte_ring* r : rings) rte_ring_free(r);
  }
  if (own_pool_) rte_mempool_free(pool_);
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

bool RingBed::open(const RingBedOptions& options, std::string& error) {
  options_ = options;
  pool_ = options.pool;
  if (pool_ == nullptr) {
    pool_ = rte_pktmbuf_pool_create((options.name + "_pool").c_str(), options.pool_size, 256, 0,
                                    2048 + RTE_PKTMBUF_HEADROOM, SOCKET_ID_ANY);
    if (pool_ == nullptr) {
      error = "cannot create the bed's mbuf pool: " + std::string(rte_strerror(rte_errno));
      return false;
    }
    own_pool_ = true;
  }
  if (!make_port(ports_[kWan], options.name + "wan", error) ||
      !make_port(ports_[kLan], options.name + "lan", error))
    return false;
  dir_ = make_temp_dir(options.name);
  if (dir_.empty() || !write_key_file(dir_ + "/hub.key")) {
    error = "cannot write the hub's key file under " + (dir_.empty() ? "TMPDIR" : dir_);
    return false;
  }
  return true;
}

bool RingBed::make_port(RingPort& port, const std::string& name, std::string& error) {
  const unsigned workers = options_.workers;
  for (unsigned q = 0; q < workers; ++q) {
    rte_ring* r = rte_ring_create((name + "_rx" + std::to_string(q)).c_str(), options_.rx_ring_size,
                                  SOCKET_ID_ANY, RING_F_SC_DEQ);
    if (r == nullptr) {
      error = "cannot create rings for " + name + ": " + rte_strerror(rte_errno);
      return false;
    }
    port.rx.push_back(r);
  }
  // Tx queues 0..N-1 are the workers', N the control thread's. A ring shared
  // by several producers makes a worker preempted mid-enqueue stall the
  // others (rte_ring's multi-producer tail wait): wgperf gives each queue its
  // own.
  std::vector<rte_ring*> tx_queues;
  for (unsigned q = 0; q <= workers; ++q) {
    if (options_.shared_tx && q > 0) {
      tx_queues.push_back(port.tx[0]);
      continue;
    }
    rte_ring* r =
        rte_ring_create((name + "_tx" + std::to_string(q)).c_str(), options_.tx_ring_size,
                        SOCKET_ID_ANY, options_.shared_tx ? 0 : RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (r == nullptr) {
      error = "cannot create rings for " + name + ": " + rte_strerror(rte_errno);
      return false;
    }
    port.tx.push_back(r);
    tx_queues.push_back(r);
  }
  if (rte_eth_from_rings(name.c_str(), port.rx.data(), static_cast<unsigned>(port.rx.size()),
                         tx_queues.data(), static_cast<unsigned>(tx_queues.size()),
                         SOCKET_ID_ANY) < 0) {
    error = "rte_eth_from_rings(" + name + ") failed: " + rte_strerror(rte_errno);
    return false;
  }
  port.device = "net_ring_" + name;
  return true;
}

std::string RingBed::config_head(const BedConfig& c) const {
  std::ostringstream yaml;
  yaml << "interface:\n"
       << "  name: " << c.interface_name << "\n"
       << "  private_key_file: hub.key\n"
       << "  listen_port: " << kListenPort << "\n"
       << "ports:\n"
       << "  wan:\n"
       << "    devargs: \"" << ports_[kWan].device << "\"\n"
       << "    address: " << format_ip(kHubWanIp) << "/24\n"
       << "    gateway: " << format_ip(kWanGatewayIp) << "\n"
       << (c.ipv6 ? "    address6: \"" + format_ip6(kHubWanIp6) + "/64\"\n" : "") << "  lan:\n"
       << "    devargs: \"" << ports_[kLan].device << "\"\n"
       << "    address: " << format_ip(kHubLanIp) << "/24\n"
       << (c.lan_gateway ? "    gateway: " + format_ip(kLanGatewayIp) + "\n" : "")
       << (c.ipv6 ? "    address6: \"" + format_ip6(kHubLanIp6) + "/64\"\n" : "") << "dataplane:\n"
       << "  lcores: [";
  for (unsigned i = 1; i <= c.workers; ++i) yaml << (i > 1 ? ", " : "") << i;
  yaml << "]\n"
       << "  burst_size: " << c.burst << "\n"
       << "  handshake_threads: " << c.handshake_threads << "\n"
       << "metrics:\n"
       << "  enabled: false\n"
       << c.extra_yaml << "peers:\n";
  return yaml.str();
}

bool RingBed::start_hub(const std::string& path, const ctl::HubOptions& options,
                        std::string& error) {
  const config::LoadResult loaded = config::load_config_file(path);
  if (!loaded.ok()) {
    error = "config: " + loaded.error_text();
    return false;
  }
  hub_ = ctl::Hub::create(loaded.state, options, error);
  if (!hub_) return false;
  if (hub_->public_key() != bed_hub_public_key()) {
    error = "the hub's public key is not the one derived from its key file";
    hub_.reset();
    return false;
  }
  return true;
}

void RingBed::destroy_hub() {
  if (!hub_) return;
  // Frames in the tx rings come from the hub's pool: free them before the
  // hub frees the pool.
  drain(kWan);
  drain(kLan);
  hub_.reset();  // closes (and releases) both ethdev ports
}

HubWan RingBed::hub_wan() const {
  return HubWan{hub_mac(kWan), kHubWanIp, kListenPort, kHubWanIp6};
}

Mac RingBed::hub_mac(unsigned port) const {
  const dp::Dataplane& d = hub_->dataplane();
  Mac m;
  std::memcpy(m.data(), (port == kWan ? d.wan : d.lan).local.mac.addr_bytes, 6);
  return m;
}

bool RingBed::inject(unsigned port, const Bytes& frame, unsigned queue) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) return false;
  auto* data = rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame.size()));
  if (data == nullptr || frame.size() > UINT16_MAX ||
      rte_ring_enqueue(ports_[port].rx.at(queue), m) != 0) {
    rte_pktmbuf_free(m);
    return false;
  }
  // An empty frame (the malformed table has one) has no data() to copy from.
  if (!frame.empty()) std::memcpy(data, frame.data(), frame.size());
  return true;
}

// An ARP request or a Neighbor Solicitation: logged, answered when the bed
// knows who has the address. False for any other frame.
bool RingBed::answer(unsigned port, const rte_mbuf* m) {
  const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
  if (m->data_len < 14) return false;
  const bool arp = p[12] == 0x08 && p[13] == 0x06;
  // Ethernet + IPv6 (next header 58, ICMPv6) + type 135.
  const bool ns = p[12] == 0x86 && p[13] == 0xdd && m->data_len > 54 && p[20] == 58 && p[54] == 135;
  if (!arp && !ns) return false;
  const auto f = parse_frame(frame_bytes(m));
  if (!f) return false;
  if (arp) {
    if (f->arp_op != 1) return false;
    arp_requests_[port].push_back(f->arp_target_ip);
    const auto who = arp_[port].find(f->arp_target_ip);
    if (who != arp_[port].end() && inject(port, arp_frame(2, f->src, who->second, who->first,
                                                          f->arp_sender_mac, f->arp_sender_ip)))
      ++answers_injected_;
    return true;
  }
  ndp_requests_[port].push_back(f->ndp_target);
  const auto who = ndp_[port].find(f->ndp_target);
  if (who != ndp_[port].end() &&
      inject(port, neighbor_advert_frame(f->src, who->second, who->first, f->src_ip6)))
    ++answers_injected_;
  return true;
}

unsigned RingBed::drain(unsigned port, const Sink& sink) {
  void* objs[256];
  unsigned total = 0, n;
  for (rte_ring* ring : ports_[port].tx)
    while ((n = rte_ring_dequeue_burst(ring, objs, 256, nullptr)) > 0) {
      total += n;
      for (unsigned i = 0; i < n; ++i) {
        const auto* m = static_cast<const rte_mbuf*>(objs[i]);
        if (!answer(port, m) && sink) sink(port, m);
      }
      rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf**>(objs), n);
    }
  return total;
}

std::size_t RingBed::rx_pending() const {
  std::size_t n = 0;
  for (const RingPort& p : ports_)
    for (rte_ring* r : p.rx) n += rte_ring_count(r);
  return n;
}

void RingBed::run_workers(const Sink& sink) {
  while (rx_pending() > 0) {
    hub_->poll_workers_once();
    drain(kWan, sink);
    drain(kLan, sink);
  }
  hub_->poll_workers_once();
  drain(kWan, sink);
  drain(kLan, sink);
}

bool RingBed::settle(const Sink& sink) {
  // Bounded: a hub that keeps talking to itself fails its caller instead of
  // hanging it. Waiting for handshake threads is bounded by time instead,
  // generously: they may share a busy machine.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (int round = 0; round < 10000;) {
    bool moved = rx_pending() > 0;
    run_workers(sink);
    while (hub_->poll_control_once() > 0) moved = true;
    if (drain(kWan, sink) + drain(kLan, sink) > 0) moved = true;
    if (hub_->handshakes_in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
      // Handshake threads still at work: give them the CPU, then look again.
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    if (!moved) return true;
    ++round;
  }
  return false;
}

}  // namespace wghub::perfsim
