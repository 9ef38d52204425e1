// wgperf's test bed (see wgperf_bench.hpp): the hub on two net_ring ports,
// its config and key file, the sites and their sessions, and the rings'
// traffic in and out while it is stepped (inject, drain, settle).
#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/loader.hpp"
#include "control/cpu_affinity.hpp"
#include "crypto/aead.hpp"
#include "crypto/base64.hpp"
#include "dataplane/messages.hpp"
#include "perf/wgperf_bench.hpp"
#include "perf/wgperf_testbed.hpp"

namespace wghub::perf {

using perfsim::Bytes;
using perfsim::Mac;

namespace {

constexpr std::uint8_t kHubKeySeed = 0x42;

constexpr unsigned kRxRingSize = 4096;
constexpr unsigned kTxRingSize = 16384;
constexpr unsigned kPoolSize = 65535;
// Drain mode: each worker's rx ring holds the whole batch it empties.
constexpr unsigned kDrainRingSize = 32768;

std::array<std::uint8_t, 32> site_key(unsigned i) {
  std::array<std::uint8_t, 32> k{};
  for (unsigned b = 0; b < 32; ++b) k[b] = static_cast<std::uint8_t>(0x5a ^ (b * 29));
  std::memcpy(k.data() + 1, &i, sizeof i);  // byte 0 loses bits to clamping
  k[31] ^= 0x80;
  return k;
}

std::string make_temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/wgperf-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return {};
  return tmpl;
}

ctl::PublicKey hub_public_key() {
  std::array<std::uint8_t, 32> key;
  key.fill(kHubKeySeed);
  return ctl::LocalIdentity::from_private_key(key).public_key;
}

}  // namespace

Testbed::~Testbed() {
  if (hub_) {
    hub_->stop_workers();
    drain();
  }
  hub_.reset();
  for (RingPort& p : ports_) {
    void* m;
    std::vector<rte_ring*> rings = p.rx;
    rings.insert(rings.end(), p.tx.begin(), p.tx.end());
    for (rte_ring* r : rings)
      if (r != nullptr)
        while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    if (!p.device.empty()) (void)rte_vdev_uninit(p.device.c_str());
    for (rte_ring* r : rings) rte_ring_free(r);
  }
  if (pool_ != nullptr) rte_mempool_free(pool_);
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::unique_ptr<Testbed> Testbed::create(const Options& options, std::string& error) {
  std::unique_ptr<Testbed> t(new Testbed(options));
  const std::uint64_t t0 = rte_get_tsc_cycles();
  if (!t->build(error) || !t->establish(error)) return nullptr;
  t->setup_seconds_ =
      static_cast<double>(rte_get_tsc_cycles() - t0) / static_cast<double>(rte_get_tsc_hz());
  return t;
}

unsigned Testbed::rx_ring_size() const {
  return options_.mode == Mode::kDrain ? kDrainRingSize : kRxRingSize;
}

// Every frame of a worker's drain batch lands in its tx ring before the main
// lcore frees any.
unsigned Testbed::tx_ring_size() const {
  return options_.mode == Mode::kDrain ? 2 * kDrainRingSize : kTxRingSize;
}

std::string Testbed::aead_name() const {
  return std::string(crypto::make_best_backend()->name());
}

bool Testbed::make_port(RingPort& port, const std::string& name, std::string& error) {
  const unsigned workers = options_.lcores;
  for (unsigned q = 0; q < workers; ++q) {
    rte_ring* r = rte_ring_create((name + "_rx" + std::to_string(q)).c_str(), rx_ring_size(),
                                  SOCKET_ID_ANY, RING_F_SC_DEQ);
    if (r == nullptr) {
      error = "cannot create rings for " + name + ": " + rte_strerror(rte_errno);
      return false;
    }
    port.rx.push_back(r);
  }
  // Worker queues 0..N-1 and the control thread's queue N.
  for (unsigned q = 0; q <= workers; ++q) {
    rte_ring* r = rte_ring_create((name + "_tx" + std::to_string(q)).c_str(), tx_ring_size(),
                                  SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (r == nullptr) {
      error = "cannot create rings for " + name + ": " + rte_strerror(rte_errno);
      return false;
    }
    port.tx.push_back(r);
  }
  const std::vector<rte_ring*>& tx = port.tx;
  if (rte_eth_from_rings(name.c_str(), port.rx.data(), static_cast<unsigned>(port.rx.size()),
                         tx.data(), static_cast<unsigned>(tx.size()), SOCKET_ID_ANY) < 0) {
    error = "rte_eth_from_rings(" + name + ") failed: " + rte_strerror(rte_errno);
    return false;
  }
  port.device = "net_ring_" + name;
  return true;
}

bool Testbed::build(std::string& error) {
  const unsigned pool_size =
      kPoolSize + (options_.mode == Mode::kDrain ? kDrainRingSize * options_.lcores : 0);
  pool_ = rte_pktmbuf_pool_create("wgperf_gen", pool_size, 256, 0, 2048 + RTE_PKTMBUF_HEADROOM,
                                  SOCKET_ID_ANY);
  if (pool_ == nullptr) {
    error = std::string("cannot create the generator's mbuf pool: ") + rte_strerror(rte_errno);
    return false;
  }
  site_aead_ = crypto::make_best_backend();
  if (!make_port(ports_[kWan], "perfwan", error) || !make_port(ports_[kLan], "perflan", error))
    return false;
  dir_ = make_temp_dir();
  if (dir_.empty()) {
    error = "cannot make a temporary directory";
    return false;
  }
  {
    std::uint8_t key[32];
    std::memset(key, kHubKeySeed, sizeof key);
    std::ofstream out(dir_ + "/hub.key", std::ios::trunc);
    out << crypto::key_to_base64(key) << "\n";
    if (!out || ::chmod((dir_ + "/hub.key").c_str(), 0600) != 0) {
      error = "cannot write the hub's key file under " + dir_;
      return false;
    }
  }
  const ctl::PublicKey hub_public = hub_public_key();
  std::ostringstream yaml;
  yaml << "interface:\n"
       << "  name: wgperf\n"
       << "  private_key_file: hub.key\n"
       << "  listen_port: " << kListenPort << "\n"
       << "ports:\n"
       << "  wan:\n"
       << "    devargs: \"" << ports_[kWan].device << "\"\n"
       << "    address: " << perfsim::format_ip(kHubWanIp) << "/24\n"
       << "    gateway: " << perfsim::format_ip(kWanGatewayIp) << "\n"
       << "  lan:\n"
       << "    devargs: \"" << ports_[kLan].device << "\"\n"
       << "    address: " << perfsim::format_ip(kHubLanIp) << "/24\n"
       << "dataplane:\n"
       << "  lcores: [";
  for (unsigned i = 1; i <= options_.lcores; ++i) yaml << (i > 1 ? ", " : "") << i;
  yaml << "]\n"
       << "  burst_size: " << options_.burst << "\n"
       << "  handshake_threads: " << options_.handshake_threads << "\n"
       << "metrics:\n"
       << "  enabled: false\n"
       << "peers:\n";
  sites_.reserve(options_.peers);
  for (unsigned i = 0; i < options_.peers; ++i) {
    perfsim::Outer outer{kWanGatewayMac, site_outer_ip(i), site_outer_port(i)};
    auto site = std::make_unique<perfsim::SimPeer>("site-" + std::to_string(i), site_key(i),
                                                   0x60000000u + i * 0x1000u, outer, hub_public);
    yaml << "  - name: site-" << i << "\n"
         << "    public_key: \"" << site->public_key_base64() << "\"\n"
         << "    allowed_ips: [" << perfsim::format_ip(site_net(i)) << "/24]\n";
    sites_.push_back(std::move(site));
  }
  const config::LoadResult loaded = config::load_config_string(yaml.str(), dir_ + "/wghub.yaml");
  if (!loaded.ok()) {
    error = "config: " + loaded.error_text();
    return false;
  }
  ctl::HubOptions hub_options;
  hub_options.status_interval_s = 0;
  hub_options.busy_poll = true;
  // The workers are stepped on this thread: handshake threads may use every CPU.
  hub_options.handshake_cpus = ctl::spare_cpus({});
  hub_ = ctl::Hub::create(loaded.state, hub_options, error);
  if (!hub_) return false;
  if (hub_->public_key() != hub_public) {
    error = "the hub's public key is not the one derived from its key file";
    return false;
  }
  return true;
}

void Testbed::inject(unsigned port, const Bytes& frame) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) return;
  auto* data = rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame.size()));
  if (data == nullptr || rte_ring_enqueue(ports_[port].rx[0], m) != 0) {
    rte_pktmbuf_free(m);
    return;
  }
  std::memcpy(data, frame.data(), frame.size());
}

unsigned Testbed::drain_port(unsigned port, std::vector<Bytes>* captured) {
  void* objs[256];
  unsigned total = 0, n;
  for (rte_ring* ring : ports_[port].tx)
    while ((n = rte_ring_dequeue_burst(ring, objs, 256, nullptr)) > 0) {
      total += n;
      for (unsigned i = 0; i < n; ++i) {
        auto* m = static_cast<rte_mbuf*>(objs[i]);
        const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
        const bool arp = m->data_len >= 14 && p[12] == 0x08 && p[13] == 0x06;
        if (!arp && captured == nullptr) continue;
        Bytes frame(p, p + m->data_len);
        if (!arp) {
          captured->push_back(std::move(frame));
          continue;
        }
        const auto f = perfsim::parse_frame(frame);
        if (!f || f->arp_op != 1) continue;
        Mac who{};
        if (port == kWan && f->arp_target_ip == kWanGatewayIp) {
          who = kWanGatewayMac;
        } else if (port == kLan && f->arp_target_ip == kHqHostIp) {
          who = kHqHostMac;
        } else if (port == kLan && f->arp_target_ip == kLanHost2Ip) {
          who = kLanHost2Mac;
        } else {
          continue;
        }
        inject(port, perfsim::arp_frame(2, f->src, who, f->arp_target_ip, f->arp_sender_mac,
                                        f->arp_sender_ip));
        ++arp_injected_;
      }
      rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf**>(objs), n);
    }
  return total;
}

unsigned Testbed::drain(std::vector<Bytes>* captured) {
  return drain_port(kWan, captured) + drain_port(kLan, nullptr);
}

void Testbed::settle(std::vector<Bytes>* captured) {
  for (int round = 0; round < 100000; ++round) {
    unsigned moved = 0;
    for (const RingPort& p : ports_)
      for (rte_ring* r : p.rx) moved += rte_ring_count(r);
    while (hub_->poll_workers_once() > 0) {
    }
    unsigned c;
    while ((c = hub_->poll_control_once()) > 0) moved += c;
    moved += drain(captured);
    if (hub_->handshakes_in_flight() > 0) {  // handshake threads at work
      rte_delay_us_sleep(50);
      continue;
    }
    if (moved == 0) return;
  }
}

bool Testbed::establish(std::string& error) {
  const perfsim::HubWan hub_wan = hub_wan_of(*hub_);
  // Batches well under the under-load mark (1/8 of the control ring), so
  // every initiation gets a response rather than a cookie.
  constexpr unsigned kBatch = 128;
  for (unsigned first = 0; first < sites_.size(); first += kBatch) {
    const unsigned last = std::min<unsigned>(first + kBatch, static_cast<unsigned>(sites_.size()));
    for (unsigned i = first; i < last; ++i)
      inject(kWan, sites_[i]->frame_to(hub_wan, sites_[i]->create_initiation()));
    std::vector<Bytes> captured;
    settle(&captured);
    for (const Bytes& f : captured) {
      const auto pf = perfsim::parse_frame(f);
      if (!pf || pf->proto != perfsim::kProtoUdp ||
          pf->udp_payload.size() != dp::kMessageResponseSize)
        continue;
      const std::uint32_t i = pf->dst_ip - kSiteOuterBase - 1;
      if (i < sites_.size()) (void)sites_[i]->consume_response(pf->udp_payload);
    }
    // A keepalive from each: confirms the hub's responder keypair (5.4.5).
    for (unsigned i = first; i < last; ++i)
      if (sites_[i]->has_session()) inject(kWan, sites_[i]->frame_to(hub_wan, sites_[i]->seal({})));
    settle();
  }
  // The keepalive used counter 0.
  site_counters_.assign(sites_.size(), 1);
  unsigned ready = 0;
  dp::Dataplane& d = hub_->dataplane();
  for (const auto& [slot, p] : hub_->device().peers())
    if (d.peers->at(slot).current.load() != nullptr && !d.peers->at(slot).endpoint.load().empty())
      ++ready;
  if (ready != sites_.size()) {
    error = "only " + std::to_string(ready) + " of " + std::to_string(sites_.size()) +
            " sites have a session with the hub";
    return false;
  }
  return true;
}

}  // namespace wghub::perf
