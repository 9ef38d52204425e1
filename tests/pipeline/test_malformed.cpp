// The malformed-packet table (issue 7): crafted frames through the real data
// plane, each row with the one outcome it must have. For every row:
//   - exactly the expected drop reason moved, by exactly 1 (every other reason
//     unchanged); handshake-class rows that pass the worker's checks go up
//     the control ring and must be refused there under the expected
//     HandshakeDrop (and NoiseError), nothing else;
//   - nothing reached the LAN or WAN tx rings;
//   - a valid data packet from site A injected right after still reaches the
//     HQ host, unchanged but for its TTL (valid traffic keeps flowing).
// Each row runs on a fresh hub (MalformedRow.*), and the whole table runs
// once more in order against one hub (MalformedTable.EveryRowAgainstOneHub).
//
// Decisions the rows document:
//   - The message type is the whole little-endian word (whitepaper 5.4.2:
//     type byte + 3 reserved zero bytes), as in the kernel (SKB_TYPE_LE32)
//     and wireguard-go: a non-zero reserved byte is an unknown type.
//   - Handshake messages have exact sizes (148 / 92 / 64); the worker checks
//     them as the kernel's prepare_skb_header does, so a wrong-sized message
//     never occupies the control ring.
//   - A UDP length shorter than the IP payload trims the datagram (RFC 768,
//     the kernel's udp_rcv): a trimmed data message fails authentication.
//   - IPv4 options are legal: a data message behind them is delivered
//     (DataBehindIpv4OptionsIsDelivered); options not covered by the
//     checksum are a bad checksum.
//   - A frame longer than the port's MTU + Ethernet header is dropped
//     (frame_too_long), as a NIC does in hardware.
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "control/cookie.hpp"
#include "tests/pipeline/pipeline_test.hpp"

namespace wghub::pipeline {
namespace {

using ctl::HandshakeDrop;
using ctl::NoiseError;
using dp::DropReason;

// Offsets in a frame with an option-less IPv4 header.
constexpr std::size_t kL3 = 14;  // IPv4 header
constexpr std::size_t kL4 = 34;  // UDP / ICMP header
constexpr std::size_t kWg = 42;  // WireGuard message

void put16be(Bytes& b, std::size_t at, std::uint16_t v) {
  b.at(at) = static_cast<std::uint8_t>(v >> 8);
  b.at(at + 1) = static_cast<std::uint8_t>(v);
}

void put32le(Bytes& b, std::size_t at, std::uint32_t v) {
  for (std::size_t i = 0; i < 4; ++i) b.at(at + i) = static_cast<std::uint8_t>(v >> (8 * i));
}

// Recomputes the IPv4 header checksum of the header at `l3` (IHL from the header).
void fix_ip_checksum(Bytes& b, std::size_t l3) {
  const std::size_t ihl = (b.at(l3) & 0x0f) * 4u;
  b.at(l3 + 10) = 0;
  b.at(l3 + 11) = 0;
  put16be(b, l3 + 10, inet_checksum(&b.at(l3), ihl));
}

Bytes truncated(Bytes b, std::size_t n) {
  b.resize(n);
  return b;
}

// What a row's frame must cause.
struct Expect {
  DropReason reason = DropReason::kNone;   // the worker's drop; kNone: none
  unsigned decrypted = 0;                  // data messages that authenticated
  std::optional<HandshakeDrop> handshake;  // set: passed to control, refused there
  std::optional<NoiseError> noise;         // with kNoise: which Noise step failed
};

Expect drop(DropReason r) {
  return {r, 0, std::nullopt, std::nullopt};
}
// Authenticated, then refused for what is inside.
Expect inner_drop(DropReason r) {
  return {r, 1, std::nullopt, std::nullopt};
}
Expect control_drop(HandshakeDrop d, std::optional<NoiseError> n = std::nullopt) {
  return {DropReason::kNone, 0, d, n};
}

class MalformedBench;
enum class Via { kWan, kLan };

struct Row {
  const char* name;  // a gtest name: letters, digits, underscores
  Via via;
  Bytes (*build)(MalformedBench&);
  Expect expect;
};

const std::vector<Row>& rows();

// Site A has a session and the HQ host's MAC is known; the first data
// message (counter 0) was delivered and is kept for the replay row.
class MalformedBench : public PipelineTest {
 public:
  SimPeer& a() { return h().peer("site-a"); }
  Harness& hub() { return h(); }
  const Bytes& accepted() const { return accepted_; }

  // An inner IPv4/UDP packet from site A's prefix to the HQ host: 128 bytes,
  // a multiple of 16 (the sealed plaintext has no padding).
  Bytes to_hq(std::uint8_t ttl = 64) {
    return inner_udp(ip4(10, 1, 0, 5), kHqHostIp, ++seq_, 100, ttl);
  }
  // IPv4 (+ whatever) from site A's outer address to the hub's WAN address.
  Bytes wan(const Bytes& ip_packet) {
    return ethernet_frame(h().hub_wan().mac, a().outer().mac, kEtherTypeIpv4, ip_packet);
  }
  Bytes udp_to_hub(const Bytes& payload, std::uint16_t port = kListenPort) {
    return udp_packet(a().outer().ip, kHubWanIp, a().outer().port, port, payload);
  }
  // A WireGuard message from site A, framed.
  Bytes wg(const Bytes& message) { return wan(udp_to_hub(message)); }
  // A valid data message to the HQ host, framed.
  Bytes data() { return wg(a().seal(to_hq())); }
  // An IPv4 packet from the HQ host, framed for the hub's LAN port.
  Bytes lan(const Bytes& ip_packet) {
    return ethernet_frame(h().hub_lan_mac(), kHqHostMac, kEtherTypeIpv4, ip_packet);
  }
  Bytes hq_to_site_a(std::uint8_t ttl = 64) {
    return inner_udp(kHqHostIp, ip4(10, 1, 0, 5), ++seq_, 100, ttl);
  }
  // A handshake-class message with valid macs (mac2 zero: not under load).
  Bytes with_macs(Bytes message) {
    ctl::CookieMaker maker(h().hub().public_key());
    maker.add_macs(message, ctl::Clock::now());
    return message;
  }

 protected:
  void SetUp() override {
    PipelineTest::SetUp();
    ASSERT_TRUE(h().establish(a()));
    accepted_ = a().seal(to_hq());
    h().send(a(), accepted_);
    h().run();
    ASSERT_EQ(h().take_lan().size(), 1u);
    ASSERT_EQ(total_drops(h().stats()), 0u);
  }

  // Injects the row's frame and checks its outcome, then that a valid packet
  // from site A still reaches the HQ host.
  void check(const Row& row) {
    SCOPED_TRACE(row.name);
    const dp::LcoreStats before = h().stats();
    const ctl::HandshakeCounters hs_before = h().hub().engine().counters();
    const Bytes frame = row.build(*this);
    if (row.via == Via::kWan)
      h().inject_wan(frame);
    else
      h().inject_lan(frame);
    h().run();

    const dp::LcoreStats after = h().stats();
    expect_drops_moved(before, after, row.expect.reason,
                       row.expect.reason == DropReason::kNone ? 0 : 1);
    EXPECT_EQ(after.decrypted_packets - before.decrypted_packets, row.expect.decrypted);
    EXPECT_EQ(after.encrypted_packets, before.encrypted_packets);
    EXPECT_EQ(after.handshakes_to_control - before.handshakes_to_control,
              row.expect.handshake ? 1u : 0u);
    const ctl::HandshakeCounters& hs = h().hub().engine().counters();
    for (std::size_t d = 0; d < static_cast<std::size_t>(HandshakeDrop::kCount); ++d) {
      const bool want =
          row.expect.handshake && static_cast<std::size_t>(*row.expect.handshake) == d;
      EXPECT_EQ(hs.drops[d] - hs_before.drops[d], want ? 1u : 0u)
          << "handshake drop " << ctl::to_string(static_cast<HandshakeDrop>(d));
    }
    for (std::size_t e = 0; e < std::size(hs.noise_errors); ++e) {
      const bool want = row.expect.noise && static_cast<std::size_t>(*row.expect.noise) == e;
      EXPECT_EQ(hs.noise_errors[e] - hs_before.noise_errors[e], want ? 1u : 0u)
          << "noise error " << ctl::to_string(static_cast<NoiseError>(e));
    }
    EXPECT_EQ(hs.sessions_derived, hs_before.sessions_derived);
    EXPECT_TRUE(h().take_wan().empty()) << "something left on the WAN";
    EXPECT_TRUE(h().take_lan().empty()) << "something left on the LAN";

    // Valid traffic keeps flowing.
    const Bytes inner = to_hq();
    h().send(a(), a().seal(inner));
    h().run();
    const std::vector<Bytes> lan = h().take_lan();
    ASSERT_EQ(lan.size(), 1u) << "the valid packet after the row did not reach the HQ host";
    const auto pf = parse_frame(lan[0]);
    ASSERT_TRUE(pf.has_value());
    EXPECT_EQ(pf->dst, kHqHostMac);
    EXPECT_TRUE(pf->ip_checksum_ok);
    EXPECT_EQ(pf->ttl, 63);
    Bytes got = pf->ip_packet;
    ASSERT_EQ(got.size(), inner.size());
    got[8] = inner[8];  // TTL and checksum changed on the way
    got[10] = inner[10];
    got[11] = inner[11];
    EXPECT_EQ(got, inner);
    EXPECT_TRUE(h().take_wan().empty());
    expect_drops_moved(after, h().stats(), DropReason::kNone, 0);
  }

 private:
  Bytes accepted_;
  std::uint32_t seq_ = 0;
};

// ------------------------------------------------------------ the builders

using B = MalformedBench;

// An outer IPv4 header (IHL 5) of a valid data frame, edited by `edit`, with
// the checksum recomputed unless `keep_checksum`.
template <typename Edit>
Bytes edit_outer(B& b, Edit edit, bool keep_checksum = false) {
  Bytes f = b.data();
  edit(f);
  if (!keep_checksum) fix_ip_checksum(f, kL3);
  return f;
}

// A data message whose sealed plaintext is `inner` after `edit`.
template <typename Edit>
Bytes edit_inner(B& b, Edit edit, bool fix_checksum = true) {
  Bytes inner = b.to_hq();
  edit(inner);
  if (fix_checksum) fix_ip_checksum(inner, 0);
  return b.wg(b.a().seal(inner));
}

Bytes message_of_type(std::uint32_t type, std::size_t len) {
  Bytes m(len, 0x5a);
  put32le(m, 0, type);
  return m;
}

Bytes icmp_echo(bool good_checksum) {
  Bytes icmp{8, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'};
  put16be(icmp, 2, inet_checksum(icmp.data(), icmp.size()));
  if (!good_checksum) icmp[2] ^= 0x55;
  return icmp;
}

Bytes arp_to_hub(B& b) {
  return arp_frame(1, kBroadcastMac, b.a().outer().mac, b.a().outer().ip, Mac{}, kHubWanIp);
}

// Oversized: 1600 bytes of frame, an authentic data message inside.
Bytes oversized_data(B& b) {
  return b.wg(b.a().seal(inner_udp(ip4(10, 1, 0, 5), kHqHostIp, 7, 1600 - 42 - 32 - 28)));
}

const std::vector<Row>& rows() {
  static const std::vector<Row> table = {
      // ---- Ethernet
      {"EthernetTruncated13Bytes", Via::kWan,
       [](B& b) { return truncated(b.data(), 13); }, drop(DropReason::kBadEthernet)},
      {"EthernetEmpty", Via::kWan, [](B&) { return Bytes{}; }, drop(DropReason::kBadEthernet)},
      {"VlanTagged", Via::kWan,
       [](B& b) { return ethernet_frame(b.hub().hub_wan().mac, b.a().outer().mac, 0x8100,
                                        Bytes(60, 0)); },
       drop(DropReason::kUnsupportedEthertype)},
      {"OtherDestinationMac", Via::kWan,
       [](B& b) { Bytes f = b.data(); f[5] ^= 0x40; return f; }, drop(DropReason::kNotOurMac)},
      {"BroadcastIpv4", Via::kWan,
       [](B& b) { Bytes f = b.data(); std::memcpy(f.data(), kBroadcastMac.data(), 6); return f; },
       drop(DropReason::kNotOurMac)},
      // ---- ARP
      {"ArpTruncated", Via::kWan,
       [](B& b) { return truncated(arp_to_hub(b), 14 + 20); }, drop(DropReason::kBadArp)},
      {"ArpHardwareTypeNotEthernet", Via::kWan,
       [](B& b) { Bytes f = arp_to_hub(b); put16be(f, 14, 6); return f; },
       drop(DropReason::kBadArp)},
      {"ArpUnknownOpcode", Via::kWan,
       [](B& b) { Bytes f = arp_to_hub(b); put16be(f, 14 + 6, 3); return f; },
       drop(DropReason::kBadArp)},
      // ---- IPv4 header
      {"Ipv4HeaderTruncated", Via::kWan,
       [](B& b) { return truncated(b.data(), kL3 + 10); }, drop(DropReason::kBadIpHeader)},
      {"Ipv4VersionSix", Via::kWan,
       [](B& b) { return edit_outer(b, [](Bytes& f) { f[kL3] = 0x65; }); },
       drop(DropReason::kBadIpHeader)},
      {"Ipv4IhlFour", Via::kWan,
       [](B& b) { return edit_outer(b, [](Bytes& f) { f[kL3] = 0x44; }, true); },
       drop(DropReason::kBadIpHeader)},
      {"Ipv4IhlZero", Via::kWan,
       [](B& b) { return edit_outer(b, [](Bytes& f) { f[kL3] = 0x40; }, true); },
       drop(DropReason::kBadIpHeader)},
      {"Ipv4IhlBeyondFrame", Via::kWan,
       [](B& b) {
         // IHL 15 = 60 bytes of header in a 60-byte frame.
         Bytes f = ethernet_frame(b.hub().hub_wan().mac, b.a().outer().mac, kEtherTypeIpv4,
                                  ipv4_packet(b.a().outer().ip, kHubWanIp, kProtoUdp, Bytes(8, 0)));
         f[kL3] = 0x4f;
         return f;
       },
       drop(DropReason::kBadIpHeader)},
      {"Ipv4TotalLengthBeyondFrame", Via::kWan,
       [](B& b) {
         return edit_outer(b, [](Bytes& f) {
           put16be(f, kL3 + 2, static_cast<std::uint16_t>(f.size() - kL3 + 1));
         });
       },
       drop(DropReason::kBadIpLength)},
      {"Ipv4TotalLengthBelowHeader", Via::kWan,
       [](B& b) { return edit_outer(b, [](Bytes& f) { put16be(f, kL3 + 2, 19); }); },
       drop(DropReason::kBadIpLength)},
      {"Ipv4TotalLengthBelowIhlWithOptions", Via::kWan,
       [](B& b) {
         return edit_outer(b, [](Bytes& f) { f[kL3] = 0x46; put16be(f, kL3 + 2, 20); });
       },
       drop(DropReason::kBadIpLength)},
      {"Ipv4BadChecksum", Via::kWan,
       [](B& b) { return edit_outer(b, [](Bytes& f) { f[kL3 + 10] ^= 0x01; }, true); },
       drop(DropReason::kBadIpChecksum)},
      {"Ipv4OptionsOutsideChecksum", Via::kWan,
       [](B& b) {
         // IHL 6, the checksum computed over the first 20 bytes only.
         Bytes f = b.data();
         f.insert(f.begin() + kL4, {0x01, 0x01, 0x01, 0x07});  // NOP NOP NOP, then junk
         f[kL3] = 0x46;
         put16be(f, kL3 + 2, static_cast<std::uint16_t>(f.size() - kL3));
         f[kL3 + 10] = 0;
         f[kL3 + 11] = 0;
         put16be(f, kL3 + 10, inet_checksum(&f[kL3], 20));
         return f;
       },
       drop(DropReason::kBadIpChecksum)},
      {"Ipv4MoreFragments", Via::kWan,
       [](B& b) { return edit_outer(b, [](Bytes& f) { put16be(f, kL3 + 6, 0x2000); }); },
       drop(DropReason::kIpFragment)},
      {"Ipv4LastFragment", Via::kWan,
       [](B& b) { return edit_outer(b, [](Bytes& f) { put16be(f, kL3 + 6, 0x00b9); }); },
       drop(DropReason::kIpFragment)},
      {"Ipv4MiddleFragment", Via::kWan,
       [](B& b) { return edit_outer(b, [](Bytes& f) { put16be(f, kL3 + 6, 0x2001); }); },
       drop(DropReason::kIpFragment)},
      {"Ipv4ToAnotherAddress", Via::kWan,
       [](B& b) { return edit_outer(b, [](Bytes& f) { f[kL3 + 19] ^= 0x02; }); },
       drop(DropReason::kNotForUs)},
      {"TcpToHub", Via::kWan,
       [](B& b) { return b.wan(ipv4_packet(b.a().outer().ip, kHubWanIp, 6, Bytes(20, 0))); },
       drop(DropReason::kUnsupportedProtocol)},
      // ---- ICMP to the hub
      {"IcmpEchoBadChecksum", Via::kWan,
       [](B& b) { return b.wan(ipv4_packet(b.a().outer().ip, kHubWanIp, kProtoIcmp,
                                           icmp_echo(false))); },
       drop(DropReason::kBadIcmpChecksum)},
      {"IcmpTruncated", Via::kWan,
       [](B& b) { return b.wan(ipv4_packet(b.a().outer().ip, kHubWanIp, kProtoIcmp,
                                           Bytes{8, 0, 0, 0})); },
       drop(DropReason::kBadIcmp)},
      {"IcmpNotEcho", Via::kWan,
       [](B& b) {
         Bytes icmp = icmp_echo(true);
         icmp[0] = 3;  // destination unreachable: nothing the hub answers
         return b.wan(ipv4_packet(b.a().outer().ip, kHubWanIp, kProtoIcmp, icmp));
       },
       drop(DropReason::kUnsupportedProtocol)},
      // ---- UDP
      {"UdpHeaderTruncated", Via::kWan,
       [](B& b) { return b.wan(ipv4_packet(b.a().outer().ip, kHubWanIp, kProtoUdp,
                                           Bytes{0x9c, 0x41, 0xca, 0x6c})); },
       drop(DropReason::kBadUdpLength)},
      {"UdpLengthBeyondIpPayload", Via::kWan,
       [](B& b) {
         return edit_outer(b, [](Bytes& f) {
           put16be(f, kL4 + 4, static_cast<std::uint16_t>(f.size() - kL4 + 1));
         });
       },
       drop(DropReason::kBadUdpLength)},
      {"UdpLengthBelowHeader", Via::kWan,
       [](B& b) { return edit_outer(b, [](Bytes& f) { put16be(f, kL4 + 4, 7); }); },
       drop(DropReason::kBadUdpLength)},
      {"UdpLengthBelowIpPayloadTrimsData", Via::kWan,
       [](B& b) {
         return edit_outer(b, [](Bytes& f) {
           put16be(f, kL4 + 4, static_cast<std::uint16_t>(f.size() - kL4 - 1));
         });
       },
       drop(DropReason::kAuthFailed)},
      {"UdpToAnotherPort", Via::kWan,
       [](B& b) { return b.wan(b.udp_to_hub(b.a().seal(b.to_hq()), kListenPort + 1)); },
       drop(DropReason::kUdpPortClosed)},
      {"OversizedFrame", Via::kWan, oversized_data, drop(DropReason::kFrameTooLong)},
      // ---- WireGuard message header
      {"EmptyUdpPayload", Via::kWan, [](B& b) { return b.wg({}); },
       drop(DropReason::kBadMessageLength)},
      {"ThreeBytePayload", Via::kWan, [](B& b) { return b.wg({4, 0, 0}); },
       drop(DropReason::kBadMessageLength)},
      {"MessageTypeZero", Via::kWan, [](B& b) { return b.wg(message_of_type(0, 148)); },
       drop(DropReason::kUnknownMessageType)},
      {"MessageTypeFive", Via::kWan, [](B& b) { return b.wg(message_of_type(5, 148)); },
       drop(DropReason::kUnknownMessageType)},
      {"MessageType255", Via::kWan, [](B& b) { return b.wg(message_of_type(255, 148)); },
       drop(DropReason::kUnknownMessageType)},
      {"DataReservedByteSet", Via::kWan,
       [](B& b) { Bytes m = b.a().seal(b.to_hq()); m[2] = 1; return b.wg(m); },
       drop(DropReason::kUnknownMessageType)},
      {"InitiationReservedByteSet", Via::kWan,
       [](B& b) { Bytes m = b.a().create_initiation(); m[3] = 0x80; return b.wg(m); },
       drop(DropReason::kUnknownMessageType)},
      // ---- wrong length per type
      {"Initiation147Bytes", Via::kWan,
       [](B& b) { return b.wg(truncated(b.a().create_initiation(), 147)); },
       drop(DropReason::kBadMessageLength)},
      {"Initiation149Bytes", Via::kWan,
       [](B& b) { Bytes m = b.a().create_initiation(); m.push_back(0); return b.wg(m); },
       drop(DropReason::kBadMessageLength)},
      {"Response91Bytes", Via::kWan, [](B& b) { return b.wg(message_of_type(2, 91)); },
       drop(DropReason::kBadMessageLength)},
      {"Response93Bytes", Via::kWan, [](B& b) { return b.wg(message_of_type(2, 93)); },
       drop(DropReason::kBadMessageLength)},
      {"CookieReply63Bytes", Via::kWan, [](B& b) { return b.wg(message_of_type(3, 63)); },
       drop(DropReason::kBadMessageLength)},
      {"CookieReply65Bytes", Via::kWan, [](B& b) { return b.wg(message_of_type(3, 65)); },
       drop(DropReason::kBadMessageLength)},
      {"Data31Bytes", Via::kWan,
       [](B& b) { return b.wg(truncated(b.a().seal(b.to_hq()), 31)); },
       drop(DropReason::kBadMessageLength)},
      {"DataHeaderOnly", Via::kWan,
       [](B& b) { return b.wg(truncated(b.a().seal(b.to_hq()), 16)); },
       drop(DropReason::kBadMessageLength)},
      // ---- data: index, authentication, counter
      {"DataReceiverIndexZero", Via::kWan,
       [](B& b) { Bytes m = b.a().seal(b.to_hq()); put32le(m, 4, 0); return b.wg(m); },
       drop(DropReason::kUnknownIndex)},
      {"DataUnknownReceiverIndex", Via::kWan,
       [](B& b) {
         Bytes m = b.a().seal(b.to_hq());
         put32le(m, 4, b.a().keys().remote_index ^ 0x5a5a5a5au);
         return b.wg(m);
       },
       drop(DropReason::kUnknownIndex)},
      {"DataIndexAliasingLiveSlot", Via::kWan,
       [](B& b) {
         // Same table slot as the live keypair (low bits), another index.
         Bytes m = b.a().seal(b.to_hq());
         put32le(m, 4, b.a().keys().remote_index ^ 0x80000000u);
         return b.wg(m);
       },
       drop(DropReason::kUnknownIndex)},
      {"DataOneByteCiphertext", Via::kWan,
       [](B& b) { return b.wg(truncated(b.a().seal(b.to_hq()), 33)); },
       drop(DropReason::kAuthFailed)},
      {"DataFlippedCiphertext", Via::kWan,
       [](B& b) { Bytes m = b.a().seal(b.to_hq()); m[40] ^= 0x10; return b.wg(m); },
       drop(DropReason::kAuthFailed)},
      {"DataCounterChanged", Via::kWan,
       [](B& b) { Bytes m = b.a().seal(b.to_hq()); m[8] ^= 0x01; return b.wg(m); },
       drop(DropReason::kAuthFailed)},
      {"DataReplayed", Via::kWan, [](B& b) { return b.wg(b.accepted()); },
       drop(DropReason::kReplay)},
      {"DataCounterAtRejectAfterMessages", Via::kWan,
       [](B& b) { return b.wg(b.a().seal_with_counter(b.to_hq(), dp::kRejectAfterMessages)); },
       drop(DropReason::kKeypairExpired)},
      {"DataCounterMax", Via::kWan,
       [](B& b) {
         return b.wg(b.a().seal_with_counter(b.to_hq(), ~std::uint64_t{0}));
       },
       drop(DropReason::kKeypairExpired)},
      {"Keepalive", Via::kWan, [](B& b) { return b.wg(b.a().seal({})); },
       {DropReason::kNone, 1, std::nullopt, std::nullopt}},
      // ---- inner packet
      {"InnerVersionZero", Via::kWan,
       [](B& b) { return edit_inner(b, [](Bytes& p) { p[0] = 0x05; }); },
       inner_drop(DropReason::kBadInnerPacket)},
      {"InnerVersionFive", Via::kWan,
       [](B& b) { return edit_inner(b, [](Bytes& p) { p[0] = 0x55; }); },
       inner_drop(DropReason::kBadInnerPacket)},
      {"InnerVersionFifteen", Via::kWan,
       [](B& b) { return edit_inner(b, [](Bytes& p) { p[0] = 0xf5; }); },
       inner_drop(DropReason::kBadInnerPacket)},
      {"InnerShorterThanHeader", Via::kWan,
       [](B& b) { return b.wg(b.a().seal(truncated(b.to_hq(), 16))); },
       inner_drop(DropReason::kBadInnerPacket)},
      {"InnerIhlFour", Via::kWan,
       [](B& b) { return edit_inner(b, [](Bytes& p) { p[0] = 0x44; }, false); },
       inner_drop(DropReason::kBadInnerPacket)},
      {"InnerTotalLengthBeyondDecrypted", Via::kWan,
       [](B& b) {
         // 128 bytes sealed without padding: 129 is one beyond the plaintext.
         return edit_inner(b, [](Bytes& p) { put16be(p, 2, static_cast<std::uint16_t>(p.size() + 1)); });
       },
       inner_drop(DropReason::kBadInnerPacket)},
      {"InnerTotalLengthBelowHeader", Via::kWan,
       [](B& b) { return edit_inner(b, [](Bytes& p) { put16be(p, 2, 19); }); },
       inner_drop(DropReason::kBadInnerPacket)},
      {"InnerBadHeaderChecksum", Via::kWan,
       [](B& b) { return edit_inner(b, [](Bytes& p) { p[10] ^= 0x01; }, false); },
       inner_drop(DropReason::kBadInnerPacket)},
      {"InnerTtlOne", Via::kWan, [](B& b) { return b.wg(b.a().seal(b.to_hq(1))); },
       inner_drop(DropReason::kTtlExceeded)},
      {"InnerTtlZero", Via::kWan, [](B& b) { return b.wg(b.a().seal(b.to_hq(0))); },
       inner_drop(DropReason::kTtlExceeded)},
      {"InnerSourceOfAnotherSite", Via::kWan,
       [](B& b) { return b.wg(b.a().seal(inner_udp(ip4(10, 2, 0, 5), kHqHostIp, 9, 64))); },
       inner_drop(DropReason::kSpoofedInnerSource)},
      {"InnerSourceNobodyOwns", Via::kWan,
       [](B& b) { return b.wg(b.a().seal(inner_udp(ip4(192, 0, 2, 1), kHqHostIp, 9, 64))); },
       inner_drop(DropReason::kSpoofedInnerSource)},
      {"InnerDestinationWithoutRoute", Via::kWan,
       [](B& b) { return b.wg(b.a().seal(inner_udp(ip4(10, 1, 0, 5), ip4(192, 0, 2, 1), 9, 64))); },
       inner_drop(DropReason::kNoRoute)},
      {"InnerBackToSender", Via::kWan,
       [](B& b) { return b.wg(b.a().seal(inner_udp(ip4(10, 1, 0, 5), ip4(10, 1, 0, 6), 9, 64))); },
       inner_drop(DropReason::kNoRoute)},
      // ---- handshake messages the control thread refuses
      {"InitiationAllZeroEphemeral", Via::kWan,
       [](B& b) {
         Bytes m = b.a().create_initiation();
         std::memset(&m[8], 0, 32);  // unencrypted_ephemeral
         return b.wg(b.with_macs(m));
       },
       control_drop(HandshakeDrop::kNoise, NoiseError::kZeroDh)},
      {"InitiationBadMac1", Via::kWan,
       [](B& b) { Bytes m = b.a().create_initiation(); m[120] ^= 1; return b.wg(m); },
       drop(DropReason::kHandshakeBadMac1)},
      {"ResponseForNoHandshake", Via::kWan,
       [](B& b) { return b.wg(b.with_macs(message_of_type(2, dp::kMessageResponseSize))); },
       control_drop(HandshakeDrop::kUnknownIndex)},
      {"CookieReplyForNoHandshake", Via::kWan,
       [](B& b) { return b.wg(message_of_type(3, dp::kMessageCookieReplySize)); },
       control_drop(HandshakeDrop::kUnknownIndex)},
      // ---- LAN side
      {"LanIpv4HeaderTruncated", Via::kLan,
       [](B& b) { return truncated(b.lan(b.hq_to_site_a()), kL3 + 19); },
       drop(DropReason::kBadIpHeader)},
      {"LanIpv4BadChecksum", Via::kLan,
       [](B& b) { Bytes f = b.lan(b.hq_to_site_a()); f[kL3 + 10] ^= 0x80; return f; },
       drop(DropReason::kBadIpChecksum)},
      {"LanIpv4TotalLengthBeyondFrame", Via::kLan,
       [](B& b) {
         Bytes f = b.lan(b.hq_to_site_a());
         put16be(f, kL3 + 2, static_cast<std::uint16_t>(f.size() - kL3 + 1));
         fix_ip_checksum(f, kL3);
         return f;
       },
       drop(DropReason::kBadIpLength)},
      {"LanTtlOne", Via::kLan, [](B& b) { return b.lan(b.hq_to_site_a(1)); },
       drop(DropReason::kTtlExceeded)},
      {"LanOtherDestinationMac", Via::kLan,
       [](B& b) { Bytes f = b.lan(b.hq_to_site_a()); f[0] ^= 0x40; return f; },
       drop(DropReason::kNotOurMac)},
      {"LanOversizedFrame", Via::kLan,
       [](B& b) { return b.lan(inner_udp(kHqHostIp, ip4(10, 1, 0, 5), 9, 1600 - 14 - 28)); },
       drop(DropReason::kFrameTooLong)},
      {"LanIcmpEchoBadChecksum", Via::kLan,
       [](B& b) { return b.lan(ipv4_packet(kHqHostIp, kHubLanIp, kProtoIcmp, icmp_echo(false))); },
       drop(DropReason::kBadIcmpChecksum)},
      {"LanUdpToHub", Via::kLan,
       [](B& b) { return b.lan(udp_packet(kHqHostIp, kHubLanIp, 1000, kListenPort, Bytes(8, 0))); },
       drop(DropReason::kUdpPortClosed)},
  };
  return table;
}

class MalformedRow : public MalformedBench, public ::testing::WithParamInterface<std::size_t> {};

TEST_P(MalformedRow, DroppedUnderItsReasonWhileValidTrafficFlows) {
  check(rows().at(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Table, MalformedRow, ::testing::Range<std::size_t>(0, rows().size()),
                         [](const ::testing::TestParamInfo<std::size_t>& info) {
                           return std::string(rows().at(info.param).name);
                         });

class MalformedTable : public MalformedBench {};

TEST_F(MalformedTable, HasAtLeastFortyDistinctRows) {
  std::set<std::string> names;
  for (const Row& row : rows()) names.insert(row.name);
  EXPECT_EQ(names.size(), rows().size()) << "row names must be unique";
  EXPECT_GE(rows().size(), 40u);
}

// The same rows one after another against one hub: no row leaves state that
// breaks the next one or valid traffic.
TEST_F(MalformedTable, EveryRowAgainstOneHub) {
  for (const Row& row : rows()) check(row);
}

// IPv4 options are legal (RFC 791): a data message behind them is delivered.
TEST_F(MalformedTable, DataBehindIpv4OptionsIsDelivered) {
  Bytes f = data();
  f.insert(f.begin() + kL4, {0x01, 0x01, 0x01, 0x00});  // NOP NOP NOP EOL
  f[kL3] = 0x46;
  put16be(f, kL3 + 2, static_cast<std::uint16_t>(f.size() - kL3));
  fix_ip_checksum(f, kL3);
  const dp::LcoreStats before = h().stats();
  h().inject_wan(f);
  h().run();
  EXPECT_EQ(h().take_lan().size(), 1u);
  EXPECT_EQ(h().stats().decrypted_packets - before.decrypted_packets, 1u);
  expect_drops_moved(before, h().stats(), DropReason::kNone, 0);
}

}  // namespace
}  // namespace wghub::pipeline
