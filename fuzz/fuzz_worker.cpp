// Fuzz target: the worker's data path in a real hub (issue 13): a
// wghub::ctl::Hub on net_ring ports (the pipeline bench, tests/pipeline),
// dual stack, with sites A (10.1.0.0/24, fd00:1::/64) and B (10.2.0.0/24,
// fd00:2::/64) established. The input is a sequence of frames: data messages
// the sites seal around fuzzed inner packets (queue_message, finish_decrypt:
// parse_inner, martians, the AllowedIPs check, the trim to the inner length,
// route_inner/route_inner6, re-encryption), raw WireGuard payloads (the type,
// length and index checks) and packets from the HQ host (LAN ingress).
//
// Properties checked on everything the hub sends, besides "no crash, no
// sanitizer report, the hub settles":
//   - a forwarded packet is one that was sent, byte for byte, cut to the
//     length its own header declares (nothing of bytes past that length), with
//     only TTL / hop limit one less (and the IPv4 checksum); the zeros a data
//     message or a short Ethernet frame is padded with count as sent, since
//     the hub cannot tell them from the packet's own;
//   - its inner source belongs to whoever sent it: site A's AllowedIPs for A,
//     site B's for B, neither and not the hub's own for the LAN;
//   - its destination belongs to where it went: a data message to site S
//     carries a packet for S's AllowedIPs (never back to its sender), the LAN
//     gets packets for the HQ subnet only;
//   - what the hub originates itself (ICMP, NDP) comes from the hub's addresses;
//   - data messages to a site decrypt with that site's keys and are padded to
//     16 bytes.
//
// Input: records [op][len lo][len hi][len bytes], at most kMaxRecords:
//   op % 8 = 0 / 1: site A / B seals the bytes as an inner packet
//            2: site A seals bytes 8.. with the counter in bytes 0..7 (LE)
//            3: the bytes are a raw WireGuard payload from site A's address
//            4: the same, with a data header naming A's live receiver index
//            5 / 6: the HQ host sends the bytes as an IPv4 / IPv6 packet
//            7: site A seals the bytes made into a plausible IPv4/IPv6 header
//               from A's prefix (version, lengths, source): the deep paths
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "dataplane/context.hpp"
#include "dataplane/eal.hpp"
#include "dataplane/messages.hpp"
#include "fuzz/fuzz_common.hpp"
#include "tests/pipeline/harness.hpp"

namespace {

using namespace wghub;            // NOLINT(google-build-using-namespace)
using namespace wghub::pipeline;  // NOLINT(google-build-using-namespace)
using fuzz::check;

constexpr std::size_t kMaxRecords = 48;
constexpr std::size_t kMaxInner = 1500;
// Sessions are renewed well before REJECT_AFTER_TIME (180 s) runs out.
constexpr auto kRenewEvery = std::chrono::seconds(60);

enum class Origin { kSiteA, kSiteB, kLan };

struct Sent {
  Origin origin;
  // The inner packet as the hub gets it: a site's with the zeros its data
  // message pads it with (they may be part of the packet its header declares).
  Bytes packet;
};

Sent from_site(Origin site, const Bytes& inner) {
  Bytes padded = inner;
  padded.resize(
      dp::padded_length(inner.size(), std::max<std::size_t>(inner.size(), dp::kTunnelMtu)), 0);
  return {site, std::move(padded)};
}

// A LAN packet as the hub gets it: the Ethernet frame is padded to its 60-byte
// minimum with zeros (ethernet_frame), which may be part of what its header
// declares.
Sent from_lan(const Bytes& packet) {
  Bytes padded = packet;
  if (padded.size() < 46) padded.resize(46, 0);
  return {Origin::kLan, std::move(padded)};
}

struct Bench {
  std::unique_ptr<Harness> h;
  std::chrono::steady_clock::time_point renewed{};
};
Bench* g_bench = nullptr;

// ---- addresses
bool in4(std::uint32_t ip, std::uint32_t net, unsigned len) {
  return len == 0 || (ip >> (32 - len)) == (net >> (32 - len));
}
std::uint32_t be32_at(const Bytes& b, std::size_t off) {
  return (std::uint32_t{b[off]} << 24) | (std::uint32_t{b[off + 1]} << 16) |
         (std::uint32_t{b[off + 2]} << 8) | b[off + 3];
}
Ip6 ip6_at(const Bytes& b, std::size_t off) {
  Ip6 a{};
  std::memcpy(a.data(), b.data() + off, 16);
  return a;
}
bool in6(const Ip6& ip, const Ip6& net, unsigned len) {
  for (unsigned i = 0; i < len / 8; ++i)
    if (ip[i] != net[i]) return false;
  return true;
}

struct Family {
  bool v6;
  std::uint32_t src4 = 0, dst4 = 0;
  Ip6 src6{}, dst6{};
};
std::optional<Family> addresses(const Bytes& ip) {
  if (ip.size() >= 20 && ip[0] >> 4 == 4) return Family{false, be32_at(ip, 12), be32_at(ip, 16)};
  if (ip.size() >= 40 && ip[0] >> 4 == 6) return Family{true, 0, 0, ip6_at(ip, 8), ip6_at(ip, 24)};
  return std::nullopt;
}

bool belongs_to_site(const Family& f, bool dst, Origin site) {
  const bool a = site == Origin::kSiteA;
  if (f.v6) return in6(dst ? f.dst6 : f.src6, a ? kSiteAHost6 : kSiteBHost6, 64);
  return in4(dst ? f.dst4 : f.src4, a ? kSiteANet : kSiteBNet, 24);
}
bool hub_own(const Family& f) {
  if (f.v6) return f.src6 == kHubLanIp6 || f.src6 == kHubWanIp6;
  return f.src4 == kHubLanIp || f.src4 == kHubWanIp;
}
bool hq_subnet_dst(const Family& f) {
  return f.v6 ? in6(f.dst6, kHubLanIp6, 64) : in4(f.dst4, kHubLanIp, 24);
}

// The length the packet's own header declares.
std::size_t declared_length(const Bytes& ip) {
  if (ip[0] >> 4 == 4) return (std::size_t{ip[2]} << 8) | ip[3];
  return 40 + ((std::size_t{ip[4]} << 8) | ip[5]);
}

// `out` is `in` forwarded: cut to its declared length, TTL / hop limit one
// less, the IPv4 checksum free to change; everything else equal.
bool forwarded_from(const Bytes& out, const Bytes& in) {
  if (out.size() < 20 || in.size() < out.size() || (in[0] >> 4) != (out[0] >> 4)) return false;
  if (out.size() != declared_length(in)) return false;
  const bool v4 = in[0] >> 4 == 4;
  const std::size_t ttl = v4 ? 8 : 7;
  if (in[ttl] == 0 || out[ttl] != in[ttl] - 1) return false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i == ttl || (v4 && (i == 10 || i == 11))) continue;
    if (out[i] != in[i]) return false;
  }
  return true;
}

// Where a forwarded packet went: the LAN, or the data message's site.
// Whether a packet from `from` with these addresses may leave towards `to`
// (a site, or the LAN when empty).
bool may_forward(const Family& f, Origin from, std::optional<Origin> to) {
  if (from == Origin::kLan) {
    if (belongs_to_site(f, false, Origin::kSiteA) || belongs_to_site(f, false, Origin::kSiteB) ||
        hub_own(f))
      return false;  // LAN ingress: a site's or the hub's source
  } else if (!belongs_to_site(f, false, from) || to == from) {
    return false;  // outside the sender's AllowedIPs, or reflected to it
  }
  return to.has_value() ? belongs_to_site(f, true, *to) : hq_subnet_dst(f);
}

void check_forwarded(const Bytes& out, std::optional<Origin> to, const std::vector<Sent>& sent) {
  const auto f = addresses(out);
  check(f.has_value(), "the hub sent a packet that is neither IPv4 nor IPv6");
  // The same bytes may have been sent from several places: one of them must
  // be allowed to reach `to`.
  bool matched = false, allowed = false;
  for (const Sent& s : sent) {
    if (!forwarded_from(out, s.packet)) continue;
    matched = true;
    if (may_forward(*f, s.origin, to)) {
      allowed = true;
      break;
    }
  }
  fuzz::trace("  %s %zu bytes to %s: %s\n", f->v6 ? "IPv6" : "IPv4", out.size(),
              to.has_value() ? (*to == Origin::kSiteA ? "site A" : "site B") : "the LAN",
              matched ? "forwarded" : "the hub's own");
  if (!matched) {
    // Not a forwarded packet: then the hub's own (ICMP errors, echo replies, NDP).
    check(hub_own(*f), "the hub forwarded a packet nobody sent (or changed / mis-trimmed it)");
    return;
  }
  check(allowed,
        "a packet was forwarded that its sender's AllowedIPs, the LAN ingress rule or the "
        "route forbid");
}

void check_lan(const Bytes& frame, const std::vector<Sent>& sent) {
  check(frame.size() >= 14, "a runt frame on the LAN");
  const std::uint16_t type = static_cast<std::uint16_t>(frame[12] << 8 | frame[13]);
  if (type == kEtherTypeArp) return;
  check(type == kEtherTypeIpv4 || type == kEtherTypeIpv6, "an unknown EtherType on the LAN");
  const Bytes ip(frame.begin() + 14, frame.end());
  check(ip.size() >= 20 && declared_length(ip) == ip.size(),
        "a LAN frame longer or shorter than its IP packet");
  check_forwarded(ip, std::nullopt, sent);
}

void check_wan(Harness& h, const Bytes& frame, const std::vector<Sent>& sent) {
  const auto pf = parse_frame(frame);
  if (!pf || pf->proto != kProtoUdp || pf->udp_payload.size() < dp::kMessageDataMinSize) return;
  const auto type = pf->udp_payload[0];
  if (type != static_cast<std::uint8_t>(dp::MessageType::kData)) return;
  check(pf->src_port == kListenPort, "a data message not from the listen port");
  const bool to_a = pf->dst_ip == kSiteAOuterIp;
  check(to_a || pf->dst_ip == kSiteBOuterIp, "a data message to an address no site has");
  SimPeer& site = h.peer(to_a ? "site-a" : "site-b");
  const auto opened = site.open(pf->udp_payload);
  if (!opened) return;  // an older session's message, or a reordering: not ours to judge
  check(opened->plaintext.size() % 16 == 0, "a data message not padded to 16 bytes");
  if (opened->plaintext.empty()) return;  // keepalive
  const Bytes& p = opened->plaintext;
  check(p.size() >= 20 && declared_length(p) <= p.size(),
        "a data message whose inner packet is longer than its plaintext");
  const Bytes inner(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(declared_length(p)));
  for (std::size_t i = inner.size(); i < p.size(); ++i)
    check(p[i] == 0, "padding that is not zeros");
  check_forwarded(inner, to_a ? Origin::kSiteA : Origin::kSiteB, sent);
}

// Fills in a plausible header: version, lengths, source in site A's prefix.
Bytes plausible(Bytes b, std::uint8_t salt) {
  if (b.size() >= 40 && (salt & 1) != 0) {
    b[0] = static_cast<std::uint8_t>(0x60 | (b[0] & 0x0f));
    const std::size_t payload = b.size() - 40 - (salt >> 5 & 3);
    b[4] = static_cast<std::uint8_t>(payload >> 8);
    b[5] = static_cast<std::uint8_t>(payload);
    std::memcpy(b.data() + 8, kSiteAHost6.data(), 8);
  } else if (b.size() >= 20) {
    b[0] = 0x45;
    const std::size_t total = b.size() - (salt >> 5 & 3);
    b[2] = static_cast<std::uint8_t>(total >> 8);
    b[3] = static_cast<std::uint8_t>(total);
    b[12] = 10;
    b[13] = 1;
    b[14] = 0;
  }
  return b;
}

void renew_sessions(Bench& b) {
  const auto now = std::chrono::steady_clock::now();
  if (now - b.renewed < kRenewEvery) return;
  for (const char* name : {"site-a", "site-b"})
    check(b.h->establish(b.h->peer(name)), "a site could not (re-)establish its session");
  b.renewed = now;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  dp::EalOptions o;
  o.no_pci = true;
  o.memory = dp::MemoryMode::kNoHuge;
  o.memory_mb = 1024;
  o.extra = {"--log-level=lib.eal:error", "--log-level=pmd.net.ring:error",
             "--log-level=user1:crit"};
  std::string error;
  if (!dp::eal_start(o, error)) {
    std::fprintf(stderr, "fuzz_worker: EAL: %s\n", error.c_str());
    std::abort();
  }
  g_bench = new Bench;  // lives as long as the process
  g_bench->h = std::make_unique<Harness>(dual_stack());
  if (!g_bench->h->ok()) {
    std::fprintf(stderr, "fuzz_worker: hub: %s\n", g_bench->h->error().c_str());
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Bench& b = *g_bench;
  renew_sessions(b);
  Harness& h = *b.h;
  SimPeer& a = h.peer("site-a");
  SimPeer& sb = h.peer("site-b");
  std::vector<Sent> sent;
  const dp::LcoreStats before = fuzz::tracing() ? h.stats() : dp::LcoreStats{};
  std::size_t pos = 0;
  for (std::size_t r = 0; r < kMaxRecords && pos + 3 <= size; ++r) {
    const std::uint8_t op = data[pos];
    std::size_t len = data[pos + 1] | std::size_t{data[pos + 2]} << 8;
    pos += 3;
    len = std::min({len, size - pos, kMaxInner});
    Bytes body(data + pos, data + pos + len);
    pos += len;
    switch (op % 8) {
      case 0:
        sent.push_back(from_site(Origin::kSiteA, body));
        h.send(a, a.seal(body));
        break;
      case 1:
        sent.push_back(from_site(Origin::kSiteB, body));
        h.send(sb, sb.seal(body));
        break;
      case 2: {
        if (body.size() < 8) break;
        std::uint64_t counter = 0;
        for (int i = 7; i >= 0; --i) counter = counter << 8 | body[static_cast<std::size_t>(i)];
        body.erase(body.begin(), body.begin() + 8);
        sent.push_back(from_site(Origin::kSiteA, body));
        h.send(a, a.seal_with_counter(body, counter));
        break;
      }
      case 3:
        h.send(a, body);
        break;
      case 4:
        if (body.size() >= 8) {
          body[0] = static_cast<std::uint8_t>(dp::MessageType::kData);
          body[1] = body[2] = body[3] = 0;
          const std::uint32_t index = a.keys().remote_index;
          std::memcpy(body.data() + 4, &index, 4);  // little endian on the wire
        }
        h.send(a, body);
        break;
      case 5:
        sent.push_back(from_lan(body));
        h.send_from_hq(body);
        break;
      case 6:
        sent.push_back(from_lan(body));
        h.send_from_hq6(body);
        break;
      case 7:
        body = plausible(std::move(body), op);
        sent.push_back(from_site(Origin::kSiteA, body));
        h.send(a, a.seal(body));
        break;
    }
    if (r % 16 == 15) h.run();  // never more in flight than the rings hold
  }
  h.run();
  if (fuzz::tracing()) {
    const dp::LcoreStats after = h.stats();
    fuzz::trace(
        "%zu inner packets sent, %llu decrypted\n", sent.size(),
        static_cast<unsigned long long>(after.decrypted_packets - before.decrypted_packets));
    for (std::size_t r = 0; r < dp::kDropReasonCount; ++r)
      if (after.drops[r] != before.drops[r])
        fuzz::trace("  dropped %llu: %s\n",
                    static_cast<unsigned long long>(after.drops[r] - before.drops[r]),
                    std::string(dp::drop_reason_name(static_cast<dp::DropReason>(r))).c_str());
  }
  for (const Bytes& f : h.take_lan()) check_lan(f, sent);
  for (const Bytes& f : h.take_wan()) check_wan(h, f, sent);
  return 0;
}
