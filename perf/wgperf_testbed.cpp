// wgperf's test bed (see wgperf_bench.hpp): the hub on the ring bed
// (perf/sim/ring_bed.hpp) with its config, the sites and their sessions, and
// the rings' traffic in and out while it is stepped (inject, drain, settle).
#include <rte_cycles.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "control/cpu_affinity.hpp"
#include "control/line_writer.hpp"
#include "crypto/aead.hpp"
#include "dataplane/messages.hpp"
#include "perf/wgperf_bench.hpp"
#include "perf/wgperf_testbed.hpp"

namespace wghub::perf {

using perfsim::Bytes;
using perfsim::Mac;

namespace {

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

}  // namespace

Testbed::~Testbed() {
  ctl::line_writer_stop();
  if (hub_ != nullptr) hub_->stop_workers();
}

std::unique_ptr<Testbed> Testbed::create(const Options& options, std::string& error) {
  std::unique_ptr<Testbed> t(new Testbed(options));
  const std::uint64_t t0 = rte_get_tsc_cycles();
  if (!t->build(error) || !t->establish(error)) return nullptr;
  // As the running hub does (hub.cpp): its lines leave through the writer
  // thread, not a write(2) on the thread measured.
  ctl::line_writer_start();
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

bool Testbed::build(std::string& error) {
  perfsim::RingBedOptions bed;
  bed.name = "perf";
  bed.workers = options_.lcores;
  bed.rx_ring_size = rx_ring_size();
  bed.tx_ring_size = tx_ring_size();
  bed.pool_size =
      kPoolSize + (options_.mode == Mode::kDrain ? kDrainRingSize * options_.lcores : 0);
  if (!bed_.open(bed, error)) return false;
  pool_ = bed_.pool();
  bed_.answer_arp(kWan, kWanGatewayIp, kWanGatewayMac);
  bed_.answer_arp(kLan, kHqHostIp, kHqHostMac);
  bed_.answer_arp(kLan, kLanHost2Ip, kLanHost2Mac);
  site_aead_ = crypto::make_best_backend();

  perfsim::BedConfig head;
  head.interface_name = "wgperf";
  head.workers = options_.lcores;
  head.burst = options_.burst;
  head.handshake_threads = options_.handshake_threads;
  std::ostringstream yaml;
  yaml << bed_.config_head(head);
  const ctl::PublicKey hub_public = perfsim::bed_hub_public_key();
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
  const std::string path = bed_.dir() + "/wghub.yaml";
  {
    std::ofstream out(path, std::ios::trunc);
    out << yaml.str();
    if (!out) {
      error = "cannot write " + path;
      return false;
    }
  }
  ctl::HubOptions hub_options;
  hub_options.status_interval_s = 0;
  hub_options.busy_poll = true;
  // The workers are stepped on this thread: handshake threads may use every CPU.
  hub_options.handshake_cpus = ctl::spare_cpus({});
  if (!bed_.start_hub(path, hub_options, error)) return false;
  hub_ = &bed_.hub();
  return true;
}

void Testbed::inject(unsigned port, const Bytes& frame) {
  (void)bed_.inject(port, frame);
}

unsigned Testbed::drain(std::vector<Bytes>* captured) {
  perfsim::RingBed::Sink sink;
  if (captured != nullptr)
    sink = [captured](unsigned port, const rte_mbuf* m) {
      if (port == kWan) captured->push_back(perfsim::frame_bytes(m));
    };
  return bed_.drain(kWan, sink) + bed_.drain(kLan, sink);
}

void Testbed::settle(std::vector<Bytes>* captured) {
  perfsim::RingBed::Sink sink;
  if (captured != nullptr)
    sink = [captured](unsigned port, const rte_mbuf* m) {
      if (port == kWan) captured->push_back(perfsim::frame_bytes(m));
    };
  (void)bed_.settle(sink);
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
