// fuzz_seeds DIR: writes the binary seed files of the fuzz targets into
// DIR/<target>/ (the repository keeps them in fuzz/corpus/): real Ethernet
// frames for fuzz_packet, sealed data messages for fuzz_data, genuine
// handshake messages made with the fixed keys of fuzz_common.hpp for
// fuzz_noise, and record scripts for fuzz_handshake and fuzz_worker. Deterministic except
// where noted (a cookie's content depends on a random secret).
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "control/cookie.hpp"
#include "crypto/aead.hpp"
#include "dataplane/arp.hpp"
#include "dataplane/ndp.hpp"
#include "dataplane/packet.hpp"
#include "fuzz/fuzz_common.hpp"

namespace {

using namespace wghub;
using Bytes = std::vector<std::uint8_t>;

std::string g_dir;

void put(const std::string& target, const std::string& name, const Bytes& b) {
  const std::string d = g_dir + "/" + target;
  ::mkdir(d.c_str(), 0755);
  std::ofstream(d + "/" + name, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

template <typename T>
Bytes raw(const T& m) {
  const auto s = fuzz::bytes_of(m);
  return {s.begin(), s.end()};
}

Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const rte_ether_addr kOurMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
const rte_ether_addr kPeerMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x99}};
const std::uint32_t kOurIp = dp::ipv4_be(198, 51, 100, 10);
const std::uint32_t kPeerIp = dp::ipv4_be(203, 0, 113, 7);

// Ethernet + IPv4 + `proto` payload (UDP header included by the caller).
Bytes ipv4_frame(std::uint32_t src, std::uint32_t dst, std::uint8_t proto, const Bytes& l4) {
  Bytes f(dp::kEthernetHeaderLen + dp::kIpv4MinHeaderLen);
  dp::write_ethernet(f.data(), kPeerMac, kOurMac, dp::kEtherTypeIpv4Be);
  dp::write_ipv4(f.data() + dp::kEthernetHeaderLen, src, dst, proto,
                 static_cast<std::uint16_t>(l4.size()), {});
  return f + l4;
}

Bytes udp(std::uint16_t sport, std::uint16_t dport, const Bytes& payload) {
  Bytes h(8);
  const auto len = static_cast<std::uint16_t>(8 + payload.size());
  h[0] = static_cast<std::uint8_t>(sport >> 8);
  h[1] = static_cast<std::uint8_t>(sport);
  h[2] = static_cast<std::uint8_t>(dport >> 8);
  h[3] = static_cast<std::uint8_t>(dport);
  h[4] = static_cast<std::uint8_t>(len >> 8);
  h[5] = static_cast<std::uint8_t>(len);
  return h + payload;
}

Bytes inner_ipv4(std::uint8_t last_octet) {
  Bytes p(dp::kIpv4MinHeaderLen + 8, 0);
  dp::write_ipv4(p.data(), dp::ipv4_be(10, 1, 0, last_octet), dp::ipv4_be(10, 0, 0, 5), 17, 8, {});
  return p;
}

void packet_seeds(const dp::MessageInitiation& init) {
  put("fuzz_packet", "wg_initiation",
      Bytes{0, 0} + ipv4_frame(kPeerIp, kOurIp, 17, udp(40001, 51820, raw(init))));
  put("fuzz_packet", "udp_other_port",
      Bytes{0, 0} + ipv4_frame(kPeerIp, kOurIp, 17, udp(1, 53, Bytes(12, 7))));
  put("fuzz_packet", "udp_split_segment",
      Bytes{0x40, 42} + ipv4_frame(kPeerIp, kOurIp, 17, udp(40001, 51820, Bytes(48, 4))));
  Bytes echo{8, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'};
  put("fuzz_packet", "icmp_echo", Bytes{0x08, 0} + ipv4_frame(kPeerIp, kOurIp, 1, echo));
  put("fuzz_packet", "lan_forward",
      Bytes{0, 0} +
          ipv4_frame(dp::ipv4_be(10, 0, 0, 5), dp::ipv4_be(10, 1, 0, 9), 6, Bytes(20, 0)));
  Bytes arp(dp::kEthernetMinFrameLen);
  dp::write_arp_request(arp.data(), kPeerMac, kPeerIp, kOurIp);
  put("fuzz_packet", "arp_request", Bytes{0, 0} + arp);
  // An inner packet as the decrypted plaintext would hold it (padded).
  Bytes in = inner_ipv4(9);
  in.resize(32);
  put("fuzz_packet", "inner_in_udp",
      Bytes{0x84, 0} + ipv4_frame(kPeerIp, kOurIp, 17, udp(40001, 51820, in)));
}

// IPv6 frames for fuzz_packet's port with address6 fd00::a: checksums are
// left to the fuzzer's fix-up flags (bit 1 our address, bit 3 the ICMPv6 /
// UDP checksum, bit 7 our port).
const dp::Ipv6Bytes kOurIp6{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a};
const dp::Ipv6Bytes kPeerIp6{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99};

Bytes ipv6_frame(const dp::Ipv6Bytes& dst, std::uint8_t next, const Bytes& l4) {
  Bytes f(dp::kEthernetHeaderLen + dp::kIpv6HeaderLen, 0);
  dp::write_ethernet(f.data(), kPeerMac, kOurMac, dp::kEtherTypeIpv6Be);
  std::uint8_t* ip = f.data() + dp::kEthernetHeaderLen;
  ip[0] = 0x60;
  ip[4] = static_cast<std::uint8_t>(l4.size() >> 8);
  ip[5] = static_cast<std::uint8_t>(l4.size());
  ip[6] = next;
  ip[7] = 64;
  std::memcpy(ip + 8, kPeerIp6.data(), 16);
  std::memcpy(ip + 24, dst.data(), 16);
  return f + l4;
}

void packet_seeds6(const dp::MessageInitiation& init) {
  Bytes ns(dp::kNdpFrameLen);
  dp::write_ns(ns.data(), kPeerMac, kPeerIp6, kOurIp6);  // a solicitation for our address
  put("fuzz_packet", "ipv6_neighbor_solicit", Bytes{0, 0} + ns);
  put("fuzz_packet", "ipv6_wg_initiation",
      Bytes{0x8a, 0} + ipv6_frame(kOurIp6, 17, udp(40001, 51820, raw(init))));
  Bytes echo{128, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'};
  put("fuzz_packet", "ipv6_echo", Bytes{0x0a, 0} + ipv6_frame(kOurIp6, 58, echo));
  dp::Ipv6Bytes host{0xfd, 0, 0, 1};
  host[15] = 9;
  put("fuzz_packet", "ipv6_lan_forward", Bytes{0x01, 0} + ipv6_frame(host, 6, Bytes(20, 0)));
  // An inner IPv6 packet as the decrypted plaintext would hold it (padded).
  Bytes in(dp::kIpv6HeaderLen + 8, 0);
  in[0] = 0x60;
  in[5] = 8;
  in[6] = 17;
  in[7] = 2;
  in.resize(48);
  put("fuzz_packet", "ipv6_inner_in_udp",
      Bytes{0x8a, 0} + ipv6_frame(kOurIp6, 17, udp(40001, 51820, in)));
}

// A data message sealed with fuzz_data's keypair 0 (index 0x1000).
Bytes sealed_data(std::uint64_t counter, const Bytes& plain) {
  Bytes m(dp::kMessageDataHeaderSize + plain.size() + crypto::kAeadTagLen);
  dp::MessageDataHeader h{};
  h.header.set_type(dp::MessageType::kData);
  h.receiver_index.set(0x1000);
  h.counter.set(counter);
  std::memcpy(m.data(), &h, sizeof h);
  const auto key = fuzz::key_bytes(0x10);
  crypto::aead_seal(m.data() + sizeof h, plain.data(), plain.size(), nullptr, 0, counter,
                    key.data());
  return m;
}

Bytes raw_record(const Bytes& msg) {
  return Bytes{0, static_cast<std::uint8_t>(msg.size()),
               static_cast<std::uint8_t>(msg.size() >> 8)} +
         msg;
}

Bytes seal_record(std::uint8_t op, std::uint8_t kp, std::uint64_t counter, const Bytes& plain) {
  Bytes r{op, kp};
  for (int i = 0; i < 8; ++i) r.push_back(static_cast<std::uint8_t>(counter >> (8 * i)));
  r.push_back(static_cast<std::uint8_t>(plain.size()));
  return r + plain;
}

void data_seeds() {
  Bytes in = inner_ipv4(9);
  in.resize(32);
  put("fuzz_data", "raw_sealed_then_replayed",
      raw_record(sealed_data(5, in)) + raw_record(sealed_data(5, in)));
  put("fuzz_data", "raw_keepalive", raw_record(sealed_data(0, {})));
  put("fuzz_data", "seal_window_edges",
      seal_record(1, 0, 0, in) + seal_record(1, 0, 9000, in) + seal_record(1, 0, 1, {}) +
          seal_record(1, 0, 8999, in) + seal_record(1, 0, 871, in) + seal_record(1, 0, 872, in));
  put("fuzz_data", "seal_small_limit",
      seal_record(5, 1, 8190, in) + seal_record(5, 1, 8191, in) + seal_record(5, 1, 8192, {}));
  put("fuzz_data", "seal_forged", seal_record(3, 0, 7, in) + Bytes{200});
  Bytes junk(40, 0xaa);
  junk[0] = 4;
  put("fuzz_data", "raw_unsealed", raw_record(junk));
}

// ---- fuzz_worker: records [op][len lo][len hi][bytes] (see fuzz_worker.cpp).
Bytes worker_record(std::uint8_t op, const Bytes& body) {
  return Bytes{op, static_cast<std::uint8_t>(body.size()),
               static_cast<std::uint8_t>(body.size() >> 8)} +
         body;
}

// An IPv4/UDP packet with `payload` bytes, and `ttl`.
Bytes udp4(std::uint32_t src_be, std::uint32_t dst_be, std::size_t payload, std::uint8_t ttl = 64) {
  Bytes p(dp::kIpv4MinHeaderLen + 8 + payload, 0x5a);
  dp::Ipv4Options o;
  o.ttl = ttl;
  dp::write_ipv4(p.data(), src_be, dst_be, 17, static_cast<std::uint16_t>(8 + payload), o);
  return p;
}

// An IPv6/UDP packet between fd00:<src_net>::<src_host> and fd00:<dst_net>::<dst_host>.
Bytes udp6(std::uint8_t src_net, std::uint8_t src_host, std::uint8_t dst_net, std::uint8_t dst_host,
           std::size_t payload) {
  Bytes p(40 + 8 + payload, 0x6b);
  const std::size_t len = 8 + payload;
  std::fill(p.begin(), p.begin() + 40, 0);
  p[0] = 0x60;
  p[4] = static_cast<std::uint8_t>(len >> 8);
  p[5] = static_cast<std::uint8_t>(len);
  p[6] = 17;
  p[7] = 64;
  p[8] = 0xfd;
  p[11] = src_net;
  p[23] = src_host;
  p[24] = 0xfd;
  p[27] = dst_net;
  p[39] = dst_host;
  return p;
}

void worker_seeds() {
  const auto a = dp::ipv4_be(10, 1, 0, 9);
  const auto b = dp::ipv4_be(10, 2, 0, 7);
  const auto hq = dp::ipv4_be(10, 0, 0, 10);
  Bytes padded = udp4(a, hq, 20);
  padded.resize(padded.size() + 13, 0xee);  // bytes past the declared length: trimmed
  put("fuzz_worker", "site_to_hq_and_back",
      worker_record(0, udp4(a, hq, 100)) + worker_record(0, padded) +
          worker_record(5, udp4(hq, a, 64)) + worker_record(0, Bytes{}));
  put("fuzz_worker", "site_to_site",
      worker_record(0, udp4(a, b, 300)) + worker_record(1, udp4(b, a, 1200)));
  Bytes cut = udp4(a, hq, 10);
  cut.resize(24);  // shorter than it says
  put("fuzz_worker", "refused",
      worker_record(0, udp4(b, hq, 10)) +                             // A spoofs B's source
          worker_record(0, udp4(a, dp::ipv4_be(224, 0, 0, 1), 10)) +  // multicast
          worker_record(0, udp4(a, dp::ipv4_be(10, 3, 0, 1), 10)) +   // no route
          worker_record(0, udp4(a, hq, 10, 1)) +                      // TTL 1
          worker_record(5, udp4(b, a, 10)) +                          // LAN spoofs B
          worker_record(0, cut));
  Bytes counter_then(8, 0);
  counter_then[0] = 3;
  put("fuzz_worker", "counters",
      worker_record(2, counter_then + udp4(a, hq, 16)) +
          worker_record(2, counter_then + udp4(a, hq, 16)) + worker_record(4, Bytes(48, 0x11)) +
          worker_record(3, Bytes(32, 0x04)));
  put("fuzz_worker", "ipv6",
      worker_record(0, udp6(1, 5, 0, 0x10, 40)) + worker_record(6, udp6(0, 0x10, 2, 7, 40)) +
          worker_record(1, udp6(2, 7, 1, 5, 500)) + worker_record(7, Bytes(80, 0x33)) +
          worker_record(0x87, Bytes(44, 0x21)));
}

void noise_seeds(const dp::MessageInitiation& init, const dp::MessageResponse& resp,
                 const dp::MessageCookieReply& reply) {
  put("fuzz_noise", "initiation", Bytes{0} + raw(init));
  put("fuzz_noise", "response", Bytes{1} + raw(resp));
  put("fuzz_noise", "cookie_reply", Bytes{2} + raw(reply));
  put("fuzz_noise", "macs_initiation", Bytes{3} + raw(init));
  put("fuzz_noise", "macs_response_mac2", Bytes{0x0f} + raw(resp));
}

// Records: [mode][sel][dt][n][payload].
Bytes rec(std::uint8_t mode, std::uint8_t sel, std::uint8_t dt, const Bytes& payload = {}) {
  return Bytes{mode, sel, dt, static_cast<std::uint8_t>(payload.size())} + payload;
}

void handshake_seeds(const dp::MessageInitiation& init) {
  put("fuzz_handshake", "site_initiates", rec(2, 0, 0, {0x21}) + rec(2, 1, 5, {0x22}));
  put("fuzz_handshake", "hub_initiates", rec(5, 0, 0) + rec(3, 0, 1) + rec(5, 1, 0) + rec(3, 1, 1));
  put("fuzz_handshake", "cookie_from_site",
      rec(5, 1, 0) + rec(4, 1, 1) + rec(5, 1, 255, {}) + rec(0x10 | 5, 1, 0));
  put("fuzz_handshake", "prepared_twice",
      rec(0x0a, 0, 0, {0x31}) + rec(0x0a, 0, 3, {0x32}) + rec(0x0a, 0, 1, {0x33}));
  put("fuzz_handshake", "tampered",
      rec(0x12, 0, 0, {0x41, 40, 1}) + rec(5, 0, 0) + rec(0x13, 0, 1, {12, 0x80}));
  put("fuzz_handshake", "raw_genuine_initiation",
      rec(0, 0, 0, raw(init)) + rec(1, 0, 1, raw(init)));
  put("fuzz_handshake", "macs_fixed",
      rec(7, 0, 0, Bytes(40, 1)) + rec(7, 1, 0, Bytes{2} + Bytes(60, 9)) +
          rec(7, 2, 0, Bytes{0} + Bytes(60, 9)));
  put("fuzz_handshake", "remove_readd",
      rec(5, 0, 0) + rec(6, 0, 0, {0}) + rec(6, 0, 0, {1}) + rec(3, 0, 1) + rec(5, 2, 0) +
          rec(2, 2, 0));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds DIR\n");
    return 2;
  }
  g_dir = argv[1];
  ::mkdir(g_dir.c_str(), 0755);
  const auto hub = fuzz::hub_identity();
  const auto site = fuzz::site_identity(0);
  ctl::PeerHandshake hs(hub.public_key);
  const auto init = fuzz::site_initiation(hs, site, hub.public_key);
  const auto resp = fuzz::hub_response(init, hub, site.public_key);
  ctl::CookieChecker checker(hub.public_key);
  dp::MessageCookieReply reply{};
  const std::array<std::uint8_t, dp::kCookieNonceLen> nonce{1, 2, 3};
  checker.create_cookie_reply(reply, fuzz::bytes_of(init), fuzz::site_source(), fuzz::at(0),
                              &nonce);
  packet_seeds(init);
  packet_seeds6(init);
  data_seeds();
  worker_seeds();
  noise_seeds(init, resp, reply);
  handshake_seeds(init);
  return 0;
}
