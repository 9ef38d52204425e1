// See wgperf_bench.hpp.
#include "perf/wgperf_bench.hpp"

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
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
#include "crypto/x25519.hpp"
#include "dataplane/messages.hpp"

namespace wghub::perf {

using perfsim::Bytes;
using perfsim::ip4;
using perfsim::Mac;

namespace {

constexpr unsigned kWan = 0;
constexpr unsigned kLan = 1;

constexpr std::uint32_t kHubWanIp = ip4(100, 64, 0, 1);
constexpr std::uint32_t kWanGatewayIp = ip4(100, 64, 0, 254);
constexpr Mac kWanGatewayMac = perfsim::test_mac(0x00fe);
constexpr std::uint16_t kListenPort = 51820;
constexpr std::uint32_t kHubLanIp = ip4(10, 0, 0, 1);
constexpr std::uint32_t kHqHostIp = ip4(10, 0, 0, 10);
constexpr Mac kHqHostMac = perfsim::test_mac(0x0a0a);
constexpr std::uint32_t kLanHost2Ip = ip4(10, 0, 0, 20);
constexpr Mac kLanHost2Mac = perfsim::test_mac(0x0a14);
constexpr std::uint8_t kHubKeySeed = 0x42;
constexpr std::uint32_t kSiteOuterBase = ip4(198, 18, 0, 0);

constexpr unsigned kRxRingSize = 4096;
constexpr unsigned kTxRingSize = 16384;
constexpr unsigned kPoolSize = 65535;
// Drain mode: each worker's rx ring holds the whole batch it empties.
constexpr unsigned kDrainRingSize = 32768;
constexpr std::size_t kEthIpUdp = 14 + 20 + 8;

std::uint32_t site_outer_ip(unsigned i) {
  return kSiteOuterBase + i + 1;
}
std::uint16_t site_outer_port(unsigned i) {
  return static_cast<std::uint16_t>(40000 + i % 20000);
}
// The site's network: 10.(1 + i/256).(i%256).0/24; its host .1 talks.
std::uint32_t site_net(unsigned i) {
  return ip4(10, static_cast<std::uint8_t>(1 + i / 256), static_cast<std::uint8_t>(i % 256), 0);
}

std::array<std::uint8_t, 32> site_key(unsigned i) {
  std::array<std::uint8_t, 32> k{};
  for (unsigned b = 0; b < 32; ++b) k[b] = static_cast<std::uint8_t>(0x5a ^ (b * 29));
  std::memcpy(k.data() + 1, &i, sizeof i);  // byte 0 loses bits to clamping
  k[31] ^= 0x80;
  return k;
}

void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
  put16(p, static_cast<std::uint16_t>(v >> 16));
  put16(p + 2, static_cast<std::uint16_t>(v));
}
void put_le64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// An inner IPv4/UDP packet of `len` bytes (>= 28) written at p.
void write_inner(std::uint8_t* p, std::uint32_t src, std::uint32_t dst, unsigned len) {
  std::memset(p, 0, 28);
  p[0] = 0x45;
  put16(p + 2, static_cast<std::uint16_t>(len));
  p[8] = 64;
  p[9] = perfsim::kProtoUdp;
  put32(p + 12, src);
  put32(p + 16, dst);
  put16(p + 10, perfsim::inet_checksum(p, 20));
  put16(p + 20, 5001);
  put16(p + 22, 5001);
  put16(p + 24, static_cast<std::uint16_t>(len - 20));
  for (unsigned i = 28; i < len; ++i) p[i] = static_cast<std::uint8_t>(i * 7 + 3);
}

unsigned size_of(unsigned size, std::size_t j) {
  return size == kImix ? kImixPattern[j % 12] : size;
}

std::size_t padded(unsigned inner) {
  return dp::padded_length(inner, std::max<std::size_t>(inner, dp::kTunnelMtu));
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

dp::LcoreStats stats_delta(const dp::LcoreStats& after, const dp::LcoreStats& before) {
  dp::LcoreStats d = after;
  dp::for_each_counter(d, before, [](std::uint64_t& x, const std::uint64_t& b) { x -= b; });
  return d;
}

std::uint64_t total_drops(const dp::LcoreStats& s) {
  std::uint64_t n = 0;
  for (std::uint64_t d : s.drops) n += d;
  return n;
}

}  // namespace

// A stream of frames for one point: the store and how to refresh it.
struct Testbed::Stream {
  Engine engine = Engine::kDecap;
  unsigned size = 0;
  unsigned port = kWan;  // where the frames enter
  bool encrypted = false;
  std::size_t stride = 0;
  std::size_t count = 0;
  std::size_t next = 0;
  std::uint64_t generation = 0;
  std::vector<std::uint8_t> store;
  std::vector<std::uint16_t> length;  // frame bytes per message
  unsigned peers = 0;

  std::uint8_t* frame(std::size_t j) { return store.data() + j * stride; }
  unsigned peer(std::size_t j) const { return static_cast<unsigned>(j % peers); }
};

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
  const perfsim::HubWan hub_wan{[&] {
                                  Mac m;
                                  std::memcpy(m.data(), hub_->dataplane().wan.local.mac.addr_bytes,
                                              6);
                                  return m;
                                }(),
                                kHubWanIp, kListenPort};
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

std::unique_ptr<Testbed::Stream> Testbed::make_stream(Engine engine, unsigned size) {
  auto s = std::make_unique<Stream>();
  s->engine = engine;
  s->size = size;
  s->peers = static_cast<unsigned>(sites_.size());
  s->encrypted = engine == Engine::kDecap || engine == Engine::kHubFwd;
  s->port = s->encrypted ? kWan : kLan;
  const unsigned max_inner = size == kImix ? 1420 : size;
  const std::size_t max_frame = s->encrypted
                                    ? kEthIpUdp + dp::kMessageDataMinSize + padded(max_inner)
                                    : std::max<std::size_t>(60, 14 + max_inner);
  s->stride = (max_frame + 63) / 64 * 64;
  if (s->encrypted) {
    const std::size_t budget = std::size_t{options_.store_mb} << 20;
    const std::size_t per_peer = std::max<std::size_t>(1, budget / (s->stride * s->peers));
    s->count = per_peer * s->peers;
  } else if (engine == Engine::kIo) {
    s->peers = 1;
    s->count = 12;
  } else {
    s->count = std::size_t{s->peers} * (size == kImix ? 12 : 1);
  }
  s->store.assign(s->count * s->stride, 0);
  s->length.resize(s->count);
  const dp::Dataplane& d = hub_->dataplane();
  Mac wan_mac, lan_mac;
  std::memcpy(wan_mac.data(), d.wan.local.mac.addr_bytes, 6);
  std::memcpy(lan_mac.data(), d.lan.local.mac.addr_bytes, 6);
  for (std::size_t j = 0; j < s->count; ++j) {
    const unsigned inner = size_of(size, j);
    const unsigned site = s->peer(j);
    std::uint8_t* f = s->frame(j);
    if (!s->encrypted) {
      // Ethernet from the HQ host to the hub's LAN MAC, then the inner packet.
      const std::uint32_t dst = engine == Engine::kIo ? kLanHost2Ip : site_net(site) + 1;
      std::memcpy(f, lan_mac.data(), 6);
      std::memcpy(f + 6, kHqHostMac.data(), 6);
      put16(f + 12, perfsim::kEtherTypeIpv4);
      write_inner(f + 14, kHqHostIp, dst, inner);
      s->length[j] = static_cast<std::uint16_t>(std::max<std::size_t>(60, 14 + inner));
      continue;
    }
    // Ethernet/IPv4/UDP from the site's outer address (via the gateway),
    // then the data message header; body and tag are written by reseal().
    const std::size_t msg = dp::kMessageDataMinSize + padded(inner);
    const Bytes headers = perfsim::ethernet_frame(
        wan_mac, kWanGatewayMac, perfsim::kEtherTypeIpv4,
        perfsim::udp_packet(site_outer_ip(site), kHubWanIp, site_outer_port(site), kListenPort,
                            Bytes(msg, 0)));
    std::memcpy(f, headers.data(), kEthIpUdp);
    s->length[j] = static_cast<std::uint16_t>(kEthIpUdp + msg);
    std::uint8_t* h = f + kEthIpUdp;
    h[0] = static_cast<std::uint8_t>(dp::MessageType::kData);
    const std::uint32_t index = sites_[site]->keys().remote_index;
    std::memcpy(h + 4, &index, 4);  // little endian on the wire (whitepaper 5.4.6)
  }
  if (s->encrypted) reseal(*s);
  return s;
}

// Writes every message's plaintext with the next counter of its site and
// seals the store in bursts (the sites' work, done on the generator).
void Testbed::reseal(Stream& s) {
  std::vector<crypto::AeadOp> ops;
  ops.reserve(64);
  auto flush = [&] {
    site_aead_->seal_burst(ops);
    ops.clear();
  };
  for (std::size_t j = 0; j < s.count; ++j) {
    const unsigned site = s.peer(j);
    const unsigned inner = size_of(s.size, j);
    // Every stream of the run draws from the site's one counter: each value
    // passes the hub's replay window once.
    const std::uint64_t counter = site_counters_[site]++;
    std::uint8_t* h = s.frame(j) + kEthIpUdp;
    put_le64(h + 8, counter);
    std::uint8_t* body = h + dp::kMessageDataHeaderSize;
    const std::uint32_t dst =
        s.engine == Engine::kHubFwd ? site_net((site + 1) % s.peers) + 1 : kHqHostIp;
    write_inner(body, site_net(site) + 1, dst, inner);
    const std::size_t pad = padded(inner);
    std::memset(body + inner, 0, pad - inner);
    crypto::AeadOp op;
    op.key = sites_[site]->keys().sending_key.data();
    op.counter = counter;
    op.data = body;
    op.len = static_cast<std::uint32_t>(pad);
    op.tag = body + pad;
    ops.push_back(op);
    if (ops.size() == 64) flush();
  }
  if (!ops.empty()) flush();
  ++s.generation;
}

unsigned Testbed::fill(Stream& s, unsigned n) {
  RingPort& port = ports_[s.port];
  const unsigned queues = static_cast<unsigned>(port.rx.size());
  unsigned room = rx_ring_size();
  for (rte_ring* r : port.rx) room = std::min(room, rte_ring_free_count(r));
  n = std::min(n, room * queues);
  constexpr unsigned kChunk = 256;
  rte_mbuf* mbufs[kChunk];
  std::vector<rte_mbuf*> per_queue[8];
  unsigned done = 0;
  while (done < n) {
    const unsigned k = std::min(kChunk, n - done);
    if (rte_pktmbuf_alloc_bulk(pool_, mbufs, k) != 0) break;
    for (unsigned i = 0; i < k; ++i) {
      if (s.next == s.count) {
        if (s.encrypted) reseal(s);
        s.next = 0;
      }
      const std::size_t j = s.next++;
      rte_mbuf* m = mbufs[i];
      const std::uint16_t len = s.length[j];
      rte_memcpy(rte_pktmbuf_mtod(m, void*), s.frame(j), len);
      m->data_len = len;
      m->pkt_len = len;
      if (queues == 1) continue;
      per_queue[s.peer(j) % queues % 8].push_back(m);
    }
    if (queues == 1) {
      const unsigned sent =
          rte_ring_enqueue_burst(port.rx[0], reinterpret_cast<void* const*>(mbufs), k, nullptr);
      if (sent < k) rte_pktmbuf_free_bulk(mbufs + sent, k - sent);
    } else {
      for (unsigned q = 0; q < queues && q < 8; ++q) {
        auto& v = per_queue[q];
        const unsigned sent =
            rte_ring_enqueue_burst(port.rx[q], reinterpret_cast<void* const*>(v.data()),
                                   static_cast<unsigned>(v.size()), nullptr);
        if (sent < v.size())
          rte_pktmbuf_free_bulk(v.data() + sent, static_cast<unsigned>(v.size() - sent));
        v.clear();
      }
    }
    done += k;
  }
  return done;
}

PointResult Testbed::run(Engine engine, unsigned size) {
  if (engine == Engine::kHandshake) return measure_handshake();
  auto stream = make_stream(engine, size);
  // Warm-up, stepped with the control thread: neighbours resolved (ARP),
  // caches and the mbuf pool's per-lcore cache filled. Not measured.
  for (int i = 0; i < 4; ++i) {
    fill(*stream, 256);
    settle();
  }
  PointResult r = options_.mode == Mode::kStep    ? measure_step(engine, *stream)
                  : options_.mode == Mode::kDrain ? measure_drain(engine, *stream)
                                                  : measure_lcores(engine, *stream);
  finish(r, engine, *stream);
  return r;
}

namespace {

// The paired figures of step mode. Rounds where either side took over 3x
// its median cycles per packet were preempted and are left out. What is left
// is summed on both sides: on this machine the per-round split is bimodal
// (some interruption of fixed cost lands in the worker's part or in the raw
// part of a round), so a median of per-round ratios is unstable, while the
// sums give each side its share of the interruptions by time spent.
template <typename Round>
void paired(const std::vector<Round>& rounds, std::uint64_t hz, LcoreFigures& f) {
  auto median = [&](auto per_packet) {
    std::vector<double> v;
    for (const Round& r : rounds) v.push_back(per_packet(r));
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  };
  auto worker = [](const Round& r) { return static_cast<double>(r.cycles) / r.packets; };
  auto raw = [](const Round& r) { return static_cast<double>(r.raw_cycles) / r.raw_packets; };
  const double worker_limit = 3 * median(worker), raw_limit = 3 * median(raw);
  double n = 0, w = 0, p = 0, c = 0;
  for (const Round& r : rounds) {
    if (worker(r) > worker_limit || raw(r) > raw_limit) continue;
    n += r.packets;
    w += r.cycles;
    p += r.raw_packets;
    c += r.raw_cycles;
  }
  if (w == 0 || c == 0) return;
  f.raw_mpps = p / (c / hz) / 1e6;
  f.paired_ratio = (n / w) / (p / c);
}

}  // namespace

PointResult Testbed::measure_step(Engine engine, Stream& s) {
  dp::LcoreStats& live = *hub_->dataplane().worker_stats.at(0);
  const dp::LcoreStats before = dp::snapshot(live);
  const std::uint64_t arp_before = arp_injected_;
  const std::uint64_t hz = rte_get_tsc_hz();
  const std::uint64_t end =
      rte_get_tsc_cycles() + static_cast<std::uint64_t>(options_.duration * hz);
  // The raw AEAD reference runs after every round on as many packets, so a
  // slow moment of this shared machine hits both sides of a round's ratio.
  RawAead raw(engine, s.size, 32);
  struct Round {
    std::uint64_t packets, cycles, raw_packets, raw_cycles;
  };
  std::vector<Round> rounds;
  std::uint64_t worker = 0;
  std::uint64_t last_control = rte_get_tsc_cycles();
  while (rte_get_tsc_cycles() < end) {
    fill(s, options_.fill);
    unsigned n;
    std::uint64_t round_cycles = 0, round_packets = 0;
    do {
      const std::uint64_t t0 = rte_rdtsc_precise();
      n = hub_->poll_workers_once();
      round_cycles += rte_rdtsc_precise() - t0;
      round_packets += n;
    } while (n > 0);
    worker += round_cycles;
    drain();
    if (raw.applicable() && round_packets > 0) {
      std::uint64_t p = 0, c = 0;
      raw.run(round_packets, p, c);
      rounds.push_back(Round{round_packets, round_cycles, p, c});
    }
    // The control thread keeps its timers (not measured).
    if (rte_get_tsc_cycles() - last_control > hz / 20) {
      (void)hub_->poll_control_once();
      drain();
      last_control = rte_get_tsc_cycles();
    }
  }
  settle();
  PointResult r;
  r.engine = engine;
  r.size = s.size;
  r.total.lcore = rte_lcore_id();
  r.total.delta = stats_delta(dp::snapshot(live), before);
  r.total.cycles = worker;
  r.total.seconds = static_cast<double>(worker) / static_cast<double>(hz);
  // ARP replies injected while measuring reached the worker as frames for
  // the control thread: part of rx, not of the traffic.
  const std::uint64_t arps = arp_injected_ - arp_before;
  r.total.received = (s.port == kWan ? r.total.delta.rx_packets[dp::kStatsPortWan]
                                     : r.total.delta.rx_packets[dp::kStatsPortLan]) -
                     (s.port == kLan ? arps : 0);
  if (!rounds.empty() && (engine != Engine::kDecap || raw.all_opened()))
    paired(rounds, hz, r.total);
  return r;
}

PointResult Testbed::measure_drain(Engine engine, Stream& s) {
  return drain_rounds(engine, s.size, s.port == kWan ? dp::kStatsPortWan : dp::kStatsPortLan,
                      ports_[s.port].rx, [&] { fill(s, (rx_ring_size() - 1) * options_.lcores); });
}

int raw_on_lcore(void* arg) {
  auto* a = static_cast<RawArgs*>(arg);
  a->mpps = raw_aead_mpps(a->engine, a->size, 32, a->seconds);
  return 0;
}

PointResult Testbed::measure_lcores(Engine engine, Stream& s) {
  const unsigned n = options_.lcores;
  const auto& lcores = hub_->state().dataplane.lcores;
  // Raw AEAD on each worker lcore first (same cores, same run).
  std::vector<RawArgs> raw(n, RawArgs{engine, s.size, std::min(0.2, options_.duration)});
  for (unsigned i = 0; i < n; ++i) rte_eal_remote_launch(raw_on_lcore, &raw[i], lcores[i]);
  rte_eal_mp_wait_lcore();

  dp::Dataplane& d = hub_->dataplane();
  d.stop = false;
  std::string error;
  PointResult r;
  r.engine = engine;
  r.size = s.size;
  if (!hub_->launch_workers(error)) {
    r.check_error = error;
    return r;
  }
  const std::uint64_t hz = rte_get_tsc_hz();
  // Let the workers reach the loop and the rings fill.
  const std::uint64_t warm_end = rte_get_tsc_cycles() + hz / 20;
  while (rte_get_tsc_cycles() < warm_end) {
    fill(s, 512 * n);
    drain();
  }
  std::vector<dp::LcoreStats> before(n);
  for (unsigned i = 0; i < n; ++i) before[i] = dp::snapshot(*d.worker_stats[i]);
  const std::uint64_t arp_before = arp_injected_;
  const std::uint64_t t0 = rte_get_tsc_cycles();
  const std::uint64_t end = t0 + static_cast<std::uint64_t>(options_.duration * hz);
  std::uint64_t fills = 0, starved = 0;
  while (rte_get_tsc_cycles() < end) {
    for (rte_ring* ring : ports_[s.port].rx)
      if (rte_ring_count(ring) == 0) ++starved;
    ++fills;
    fill(s, 512 * n);
    drain();
  }
  const std::uint64_t t1 = rte_get_tsc_cycles();
  std::vector<dp::LcoreStats> after(n);
  for (unsigned i = 0; i < n; ++i) after[i] = dp::snapshot(*d.worker_stats[i]);
  // Let the rings empty, then stop, so the final counters add up.
  const std::uint64_t quiet_end = rte_get_tsc_cycles() + hz / 10;
  while (rte_get_tsc_cycles() < quiet_end) drain();
  hub_->stop_workers();
  drain();
  settle();
  const std::uint64_t arps = arp_injected_ - arp_before;

  r.gen_limited = fills ? static_cast<double>(starved) / static_cast<double>(fills * n) : 0;
  const double wall = static_cast<double>(t1 - t0) / static_cast<double>(hz);
  double raw_sum = 0;
  for (unsigned i = 0; i < n; ++i) {
    LcoreFigures f;
    f.lcore = lcores[i];
    f.delta = stats_delta(after[i], before[i]);
    f.seconds = wall;
    f.cycles = t1 - t0;
    f.raw_mpps = raw[i].mpps;
    f.received = s.port == kWan ? f.delta.rx_packets[dp::kStatsPortWan]
                                : f.delta.rx_packets[dp::kStatsPortLan];
    raw_sum += raw[i].mpps;
    r.per_lcore.push_back(f);
  }
  // Totals over the measured window; the check uses whole-run counters below.
  r.total.lcore = 0;
  for (const auto& f : r.per_lcore) {
    dp::for_each_counter(r.total.delta, f.delta,
                         [](std::uint64_t& x, const std::uint64_t& y) { x += y; });
    r.total.received += f.received;
  }
  r.total.received -= std::min<std::uint64_t>(r.total.received, s.port == kLan ? arps : 0);
  r.total.seconds = wall;
  r.total.cycles = t1 - t0;
  r.total.raw_mpps = raw_sum / n;
  return r;
}

void Testbed::finish(PointResult& r, Engine engine, const Stream& s) {
  auto figures = [&](LcoreFigures& f, bool per_lcore_total) {
    const dp::LcoreStats& d = f.delta;
    std::uint64_t out = 0, inner_bytes = 0, wire_bytes = 0;
    switch (engine) {
      case Engine::kIo:
        out = d.tx_packets[dp::kStatsPortLan];
        inner_bytes = d.tx_bytes[dp::kStatsPortLan] - 14 * out;
        wire_bytes = d.tx_bytes[dp::kStatsPortLan];
        break;
      case Engine::kDecap:
        out = d.tx_packets[dp::kStatsPortLan];
        inner_bytes = d.tx_bytes[dp::kStatsPortLan] - 14 * out;
        wire_bytes = d.rx_bytes[dp::kStatsPortWan];
        break;
      case Engine::kEncap:
        out = d.tx_packets[dp::kStatsPortWan];
        inner_bytes = d.encrypted_bytes;
        wire_bytes = d.tx_bytes[dp::kStatsPortWan];
        break;
      case Engine::kHubFwd:
        out = d.tx_packets[dp::kStatsPortWan];
        inner_bytes = d.encrypted_bytes;
        wire_bytes = d.rx_bytes[dp::kStatsPortWan];
        break;
      case Engine::kHandshake:
        break;
    }
    f.forwarded = out;
    f.dropped = total_drops(d);
    const double secs = f.seconds > 0 ? f.seconds : 1;
    f.mpps = static_cast<double>(out) / secs / 1e6;
    f.gbps_inner = static_cast<double>(inner_bytes) * 8 / secs / 1e9;
    f.gbps_wire = static_cast<double>(wire_bytes) * 8 / secs / 1e9;
    // Lcore mode: wall cycles of each worker over its packets; the total is
    // the mean over the workers.
    const double lanes = per_lcore_total ? static_cast<double>(r.per_lcore.size()) : 1.0;
    f.cycles_per_packet =
        f.received ? static_cast<double>(f.cycles) * lanes / static_cast<double>(f.received) : 0;
  };
  for (auto& f : r.per_lcore) figures(f, false);
  figures(r.total, !r.per_lcore.empty());

  // Drops by reason.
  std::string text;
  for (std::size_t i = 1; i < dp::kDropReasonCount; ++i)
    if (r.total.delta.drops[i] != 0)
      text += (text.empty() ? "" : " ") + std::string(dp::kDropReasonNames[i]) + "=" +
              std::to_string(r.total.delta.drops[i]);
  r.drops_text = text.empty() ? "none" : text;

  // Does every packet that came in leave once? (In lcore mode the window's
  // edges cut packets in flight; the check is on step mode's exact counts.)
  if (!r.check_error.empty()) return;
  const dp::LcoreStats& d = r.total.delta;
  std::ostringstream why;
  if (r.total.forwarded == 0) why << "nothing forwarded; ";
  if (r.total.dropped != 0) why << "drops: " << r.drops_text << "; ";
  if (options_.mode != Mode::kLcore) {  // exact counts: no window edges
    if (r.total.received != r.total.forwarded + r.total.dropped)
      why << "received " << r.total.received << " != forwarded " << r.total.forwarded
          << " + dropped " << r.total.dropped << "; ";
    if ((engine == Engine::kDecap || engine == Engine::kHubFwd) &&
        d.decrypted_packets != r.total.forwarded)
      why << "decrypted " << d.decrypted_packets << " != forwarded " << r.total.forwarded << "; ";
    if ((engine == Engine::kEncap || engine == Engine::kHubFwd) &&
        d.encrypted_packets != r.total.forwarded)
      why << "encrypted " << d.encrypted_packets << " != forwarded " << r.total.forwarded << "; ";
    if (engine == Engine::kIo && (d.decrypted_packets | d.encrypted_packets) != 0)
      why << "io touched crypto; ";
  }
  (void)s;
  r.check_error = why.str();
}

PointResult Testbed::measure_handshake() {
  PointResult r;
  r.engine = Engine::kHandshake;
  r.size = 0;
  const perfsim::HubWan hub_wan{[&] {
                                  Mac m;
                                  std::memcpy(m.data(), hub_->dataplane().wan.local.mac.addr_bytes,
                                              6);
                                  return m;
                                }(),
                                kHubWanIp, kListenPort};
  const std::uint64_t hz = rte_get_tsc_hz();
  const auto& engine = hub_->engine();
  // Initiations are made before the clock runs: the sites' X25519 is not
  // the hub's work.
  auto make = [&](std::size_t n, std::size_t offset) {
    std::vector<Bytes> frames;
    frames.reserve(n);
    for (std::size_t k = 0; k < n; ++k) {
      auto& site = *sites_[(offset + k) % sites_.size()];
      frames.push_back(site.frame_to(hub_wan, site.create_initiation()));
    }
    return frames;
  };
  // Without handshake threads: the control thread's cycles. With them: the
  // wall clock until every message is answered (this thread sleeps while
  // the threads work, so it does not take a CPU from them).
  const bool threads = options_.handshake_threads > 0;
  auto step = [&](std::uint64_t& control_cycles) {
    const std::uint64_t start = rte_rdtsc_precise();
    while (hub_->poll_workers_once() > 0) {
    }
    unsigned n;
    do {
      const std::uint64_t t0 = rte_rdtsc_precise();
      n = hub_->poll_control_once();
      if (!threads) control_cycles += rte_rdtsc_precise() - t0;
      drain();
      if (n == 0 && hub_->handshakes_in_flight() > 0) {
        rte_delay_us_sleep(20);
        n = 1;
      }
    } while (n > 0);
    if (threads) control_cycles += rte_rdtsc_precise() - start;
  };
  // The hub refuses a site's initiations closer than 1/50 s apart (the
  // kernel's flood check), so the paced phase goes in rounds of one
  // initiation per site (at most 64 per step, under the under-load mark),
  // rounds >= 21 ms apart (the wait is not measured).
  const std::size_t want =
      std::clamp<std::size_t>(static_cast<std::size_t>(options_.duration * 4000), 128, 40000);
  const std::size_t per_round = std::min<std::size_t>(want, sites_.size());
  const std::size_t rounds = std::max<std::size_t>(
      1, std::min<std::size_t>((want + per_round - 1) / per_round,
                               static_cast<std::size_t>(options_.duration / 0.021)));
  const std::size_t paced = per_round * rounds;
  const auto paced_frames = make(paced, 0);
  // Out of any earlier flood's under-load hold (1 s).
  for (int i = 0; i < 400 && hub_->control().under_load(); ++i) {
    rte_delay_us_sleep(5000);
    settle();
  }
  // The sites handshook while the testbed was built: the hub refuses a
  // site's next initiation within 1/50 s of its last one.
  rte_delay_us_sleep(25000);
  settle();
  const ctl::HandshakeCounters c0 = engine.counters();
  std::uint64_t paced_cycles = 0;
  for (std::size_t round = 0; round < rounds; ++round) {
    for (std::size_t i = 0; i < per_round; i += 64) {
      for (std::size_t k = i; k < std::min(i + 64, per_round); ++k)
        inject(kWan, paced_frames[round * per_round + k]);
      step(paced_cycles);
    }
    // 21 ms from the round's end: a site's next initiation is then more than
    // 1/50 s after its last, however long the round's 64-message polls took.
    const std::uint64_t next_round = rte_get_tsc_cycles() + hz * 21 / 1000;
    if (round + 1 < rounds)
      while (rte_get_tsc_cycles() < next_round) rte_pause();
  }
  const ctl::HandshakeCounters c1 = engine.counters();
  // The floor: four X25519 per responder handshake (es, the ephemeral's
  // public key, ee, se; ss is precomputed per peer), timed on this core now.
  {
    std::array<std::uint8_t, 32> a{}, b{}, out{};
    crypto::x25519_generate(a);
    crypto::x25519_public(b, a);
    constexpr int kOps = 64;
    const std::uint64_t t0 = rte_rdtsc_precise();
    for (int i = 0; i < kOps; ++i) (void)crypto::x25519(out, a, b);
    r.x25519_cycles = static_cast<double>(rte_rdtsc_precise() - t0) / kOps;
  }
  // Flood: 2048 at once: 4x the under-load mark. The workers queue them (the
  // hub is not under load yet); the control thread finds the ring past 1/8,
  // goes under load and answers what is queued with cookie replies.
  const auto flood_frames = make(2048, 0);
  const std::uint64_t control_cookies0 = hub_->control().counters().cookie_replies_sent;
  for (const Bytes& f : flood_frames) inject(kWan, f);
  std::uint64_t flood_cycles = 0;
  step(flood_cycles);
  settle();
  const ctl::HandshakeCounters c2 = engine.counters();
  const std::uint64_t control_cookies =
      hub_->control().counters().cookie_replies_sent - control_cookies0;
  // Under load now: the same flood again is answered by the worker itself
  // (cookie_gate.hpp); its cycles per cookie reply are the figure. From
  // source ports no site authenticated from: a site's known endpoint would
  // skip the cookie (KnownSources).
  dp::LcoreStats& live = *hub_->dataplane().worker_stats.at(0);
  const dp::LcoreStats w0 = dp::snapshot(live);
  for (std::size_t i = 0; i < flood_frames.size(); ++i) {
    Bytes f = flood_frames[i];
    constexpr std::size_t kUdp = 14 + 20;  // Ethernet, IPv4 without options
    const auto port = static_cast<std::uint16_t>(20000 + i);
    f[kUdp] = static_cast<std::uint8_t>(port >> 8);
    f[kUdp + 1] = static_cast<std::uint8_t>(port);
    f[kUdp + 6] = f[kUdp + 7] = 0;  // no UDP checksum (IPv4 allows it)
    inject(kWan, f);
  }
  std::uint64_t worker_cycles = 0;
  for (;;) {
    const std::uint64_t t0 = rte_rdtsc_precise();
    const unsigned n = hub_->poll_workers_once();
    worker_cycles += rte_rdtsc_precise() - t0;
    drain();
    if (n == 0) break;
  }
  const dp::LcoreStats w1 = dp::snapshot(live);
  settle();

  r.handshakes = c1.responses_sent - c0.responses_sent;
  r.cookies = w1.cookie_replies_sent - w0.cookie_replies_sent;
  r.handshakes_per_s = static_cast<double>(r.handshakes) / (static_cast<double>(paced_cycles) / hz);
  r.cycles_per_handshake =
      r.handshakes ? static_cast<double>(paced_cycles) / static_cast<double>(r.handshakes) : 0;
  r.cookies_per_s = static_cast<double>(r.cookies) / (static_cast<double>(worker_cycles) / hz);
  r.cycles_per_cookie =
      r.cookies ? static_cast<double>(worker_cycles) / static_cast<double>(r.cookies) : 0;
  r.control_cookies = control_cookies;
  r.control_cycles_per_cookie =
      control_cookies ? static_cast<double>(flood_cycles) / static_cast<double>(control_cookies)
                      : 0;
  r.total.received = (c2.initiations_received - c0.initiations_received);
  r.total.forwarded = c2.responses_sent - c0.responses_sent + control_cookies;
  std::uint64_t dropped = 0;
  std::string text;
  for (std::size_t i = 0; i < static_cast<std::size_t>(ctl::HandshakeDrop::kCount); ++i) {
    const std::uint64_t n = c2.drops[i] - c0.drops[i];
    dropped += n;
    if (n != 0)
      text += (text.empty() ? "" : " ") +
              std::string(ctl::to_string(static_cast<ctl::HandshakeDrop>(i))) + "=" +
              std::to_string(n);
  }
  r.total.dropped = dropped;
  r.drops_text = text.empty() ? "none" : text;
  std::ostringstream why;
  if (r.handshakes != paced)
    why << r.handshakes << " responses to " << paced << " paced initiations; ";
  // Handshake threads may take a few from the ring before the control
  // thread sees the load; those run Noise (and meet the flood check).
  const std::uint64_t flood_prepared = c2.initiations_received - c1.initiations_received;
  if (control_cookies + flood_prepared != flood_frames.size())
    why << control_cookies << " cookie replies from the control thread and " << flood_prepared
        << " handshakes to " << flood_frames.size() << " queued; ";
  if (r.cookies != flood_frames.size())
    why << r.cookies << " cookie replies from the worker to " << flood_frames.size() << "; ";
  r.check_error = why.str();
  return r;
}

RawAead::RawAead(Engine engine, unsigned size, unsigned burst)
    : aead_(crypto::make_best_backend()),
      open_(engine == Engine::kDecap || engine == Engine::kHubFwd),
      seal_(engine == Engine::kEncap || engine == Engine::kHubFwd) {
  if (!applicable()) return;
  std::vector<std::size_t> lens(burst);
  std::size_t total = 0;
  for (unsigned i = 0; i < burst; ++i) total += lens[i] = padded(size_of(size, i));
  data_.resize(total);
  tags_.resize(burst * crypto::kAeadTagLen);
  keys_.resize(burst * 32);
  for (std::size_t i = 0; i < data_.size(); ++i) data_[i] = static_cast<std::uint8_t>(i * 13);
  for (std::size_t i = 0; i < keys_.size(); ++i) keys_[i] = static_cast<std::uint8_t>(i * 7 + 1);
  ops_.resize(burst);
  std::size_t at = 0;
  for (unsigned i = 0; i < burst; ++i) {
    ops_[i].key = &keys_[i * 32];
    ops_[i].counter = i;
    ops_[i].data = &data_[at];
    ops_[i].len = static_cast<std::uint32_t>(lens[i]);
    ops_[i].tag = &tags_[i * crypto::kAeadTagLen];
    at += lens[i];
  }
  aead_->seal_burst(ops_);
  sealed_ = data_;
}

void RawAead::run(std::uint64_t packets, std::uint64_t& done, std::uint64_t& cycles) {
  if (!applicable()) return;
  for (std::uint64_t n = 0; n < packets; n += ops_.size()) {
    // Open works in place: restore the ciphertext outside the timed part.
    if (open_) std::memcpy(data_.data(), sealed_.data(), data_.size());
    const std::uint64_t t0 = rte_rdtsc_precise();
    if (open_) aead_->open_burst(ops_);
    if (seal_) aead_->seal_burst(ops_);
    cycles += rte_rdtsc_precise() - t0;
    done += ops_.size();
  }
}

bool RawAead::all_opened() const {
  return std::all_of(ops_.begin(), ops_.end(), [](const crypto::AeadOp& op) { return op.ok; });
}

double raw_aead_mpps(Engine engine, unsigned size, unsigned burst, double seconds) {
  RawAead raw(engine, size, burst);
  if (!raw.applicable()) return 0;
  const std::uint64_t hz = rte_get_tsc_hz();
  const std::uint64_t budget = static_cast<std::uint64_t>(seconds * hz);
  std::uint64_t cycles = 0, packets = 0;
  const std::uint64_t wall_end = rte_get_tsc_cycles() + 4 * budget;
  while (cycles < budget && rte_get_tsc_cycles() < wall_end) raw.run(burst, packets, cycles);
  if (engine == Engine::kDecap && !raw.all_opened()) return 0;
  return static_cast<double>(packets) / (static_cast<double>(cycles) / hz) / 1e6;
}

}  // namespace wghub::perf
