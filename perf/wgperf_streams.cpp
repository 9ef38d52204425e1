// wgperf's traffic (see wgperf_bench.hpp): each point's store of frames,
// LAN packets or data messages sealed by the sites, and the refill of the
// rx rings from it.
#include <rte_mbuf.h>
#include <rte_memcpy.h>

#include <algorithm>
#include <cstring>

#include "crypto/aead.hpp"
#include "dataplane/messages.hpp"
#include "perf/wgperf_bench.hpp"
#include "perf/wgperf_testbed.hpp"

namespace wghub::perf {

using perfsim::Bytes;
using perfsim::Mac;
using perfsim::put16;
using perfsim::put32;

namespace {

constexpr std::size_t kEthIpUdp = 14 + 20 + 8;

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

}  // namespace

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
  const std::vector<rte_ring*>& rx = bed_.rx_rings(s.port);
  const unsigned queues = static_cast<unsigned>(rx.size());
  unsigned room = rx_ring_size();
  for (rte_ring* r : rx) room = std::min(room, rte_ring_free_count(r));
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
          rte_ring_enqueue_burst(rx[0], reinterpret_cast<void* const*>(mbufs), k, nullptr);
      if (sent < k) rte_pktmbuf_free_bulk(mbufs + sent, k - sent);
    } else {
      for (unsigned q = 0; q < queues && q < 8; ++q) {
        auto& v = per_queue[q];
        const unsigned sent =
            rte_ring_enqueue_burst(rx[q], reinterpret_cast<void* const*>(v.data()),
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

}  // namespace wghub::perf
