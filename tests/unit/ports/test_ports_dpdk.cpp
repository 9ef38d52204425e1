// In-process DPDK: EAL (--no-huge --no-shconf) started once for the whole
// executable by eal_start itself; mbuf builders round-trip through the
// classifier; net_ring ports carry bursts; bad devargs give clear errors.
#include <gtest/gtest.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_memory.h>
#include <sched.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "dataplane/arp.hpp"
#include "dataplane/eal.hpp"
#include "dataplane/icmp.hpp"
#include "dataplane/packet.hpp"
#include "dataplane/port.hpp"
#include "frames.hpp"
#include "tests/memory_lock.hpp"

namespace wghub::dp {
namespace {

using test::Bytes;

rte_mempool* g_pool = nullptr;

class EalEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    EalOptions o;
    cpu_set_t set;
    CPU_ZERO(&set);
    ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    for (unsigned c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) {
        o.main_lcore = c;
        break;
      }
    o.memory = MemoryMode::kNoHuge;
    o.memory_mb = 256;
    o.no_pci = true;
    o.extra = {"--vdev=net_ring0", "--log-level=lib.eal:error", "--log-level=pmd.*:error"};
    std::string error;
    ASSERT_TRUE(eal_start(o, error)) << error;
    ASSERT_TRUE(eal_started());
    ASSERT_TRUE(eal_start(o, error)) << "a second start is a no-op";
    g_pool = create_packet_pool("test_pool", 4095, SOCKET_ID_ANY);
    ASSERT_NE(g_pool, nullptr);
  }
};

const ::testing::Environment* const kEal = ::testing::AddGlobalTestEnvironment(new EalEnvironment);

const std::uint32_t kHubIp = test::ip(198, 51, 100, 1);
const std::uint32_t kPeerIp = test::ip(203, 0, 113, 7);

rte_ether_addr mac(const test::Mac& m) {
  rte_ether_addr a;
  std::copy(m.begin(), m.end(), a.addr_bytes);
  return a;
}

LocalAddress hub() {
  LocalAddress us;
  us.mac = mac(test::kHubMac);
  us.ip_be = kHubIp;
  us.udp_port_be = test::port_be(51820);
  return us;
}

UdpFlow to_hub() {
  UdpFlow f;
  f.src_mac = mac(test::kPeerMac);
  f.dst_mac = mac(test::kHubMac);
  f.src_ip_be = kPeerIp;
  f.dst_ip_be = kHubIp;
  f.src_port_be = test::port_be(40000);
  f.dst_port_be = test::port_be(51820);
  return f;
}

rte_mbuf* payload_mbuf(std::size_t len) {
  rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
  EXPECT_NE(m, nullptr);
  auto* p = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, static_cast<std::uint16_t>(len)));
  EXPECT_NE(p, nullptr);
  for (std::size_t i = 0; i < len; ++i) p[i] = static_cast<std::uint8_t>(i * 7);
  if (len >= 4) p[0] = 4, p[1] = p[2] = p[3] = 0;  // a data message's type
  return m;
}

Bytes contents(const rte_mbuf* m) {
  Bytes out(m->pkt_len);
  const void* p = rte_pktmbuf_read(m, 0, m->pkt_len, out.data());
  if (p != out.data()) std::memcpy(out.data(), p, m->pkt_len);
  return out;
}

// RFC 768 pseudo-header checksum over a whole frame, computed independently.
std::uint16_t udp_checksum_of(const Bytes& frame) {
  const std::size_t udp_len = test::get16(frame, 38);
  Bytes pseudo(frame.begin() + 26, frame.begin() + 34);  // source, destination
  pseudo.insert(pseudo.end(), {0, 17, static_cast<std::uint8_t>(udp_len >> 8),
                               static_cast<std::uint8_t>(udp_len)});
  pseudo.insert(pseudo.end(), frame.begin() + 34, frame.begin() + 34 + udp_len);
  return test::internet_checksum(pseudo.data(), pseudo.size());
}

// The hub locks pages as they are first touched (MCL_ONFAULT); EAL memory
// from --no-huge is faulted in and locked at start instead, so no worker
// takes those faults as packets first land in the pool.
TEST(Eal, LockMemoryFaultsInEverySegment) {
  if (wghub::test::kMlockIsANoop) GTEST_SKIP() << "a sanitizer makes mlock a no-op";
  std::size_t locked = 0;
  std::string error;
  if (!eal_lock_memory(locked, error) && getuid() != 0)
    GTEST_SKIP() << error << " (not root: RLIMIT_MEMLOCK)";
  ASSERT_TRUE(error.empty()) << error;
  struct Totals {
    std::size_t bytes = 0, pages = 0, resident = 0;
  } totals;
  rte_memseg_contig_walk(
      [](const rte_memseg_list*, const rte_memseg* ms, std::size_t len, void* arg) {
        auto* t = static_cast<Totals*>(arg);
        const std::size_t resident = wghub::test::resident_pages(ms->addr, len);
        if (resident == ~std::size_t{0}) return -1;
        t->bytes += len;
        t->pages += (len + wghub::test::page_size() - 1) / wghub::test::page_size();
        t->resident += resident;
        return 0;
      },
      &totals);
  EXPECT_GE(totals.bytes, std::size_t{256} << 20);  // -m 256
  EXPECT_EQ(locked, totals.bytes);
  EXPECT_EQ(totals.resident, totals.pages);
}

TEST(Builders, UdpHeadersRoundTripThroughTheClassifier) {
  rte_mbuf* m = payload_mbuf(148);
  const Bytes payload = contents(m);
  Ipv4Options o;
  o.packet_id = 0x0102;
  ASSERT_EQ(prepend_udp_headers(m, to_hub(), o), DropReason::kNone);
  EXPECT_EQ(m->pkt_len, 148u + kOuterHeadersLen);
  const Classified c = classify_wan(m, hub());
  ASSERT_EQ(c.kind, Classify::kWireGuard) << drop_reason_name(c.reason);
  EXPECT_EQ(c.payload_offset, kOuterHeadersLen);
  EXPECT_EQ(c.payload_len, 148);
  EXPECT_EQ(c.src_ip_be, kPeerIp);
  EXPECT_EQ(c.src_port_be, test::port_be(40000));
  const Bytes frame = contents(m);
  EXPECT_EQ(Bytes(frame.begin() + kOuterHeadersLen, frame.end()), payload);
  EXPECT_EQ(test::internet_checksum(&frame[14], 20), 0);
  EXPECT_EQ(test::get16(frame, 18), 0x0102);  // IP identification
  EXPECT_EQ(frame[22], 64);                   // TTL
  EXPECT_EQ(test::get16(frame, 40), 0) << "no UDP checksum unless asked";
  rte_pktmbuf_free(m);
}

TEST(Builders, OptionalUdpChecksumIsRight) {
  for (std::size_t len : {0u, 1u, 32u, 149u, 1420u}) {
    rte_mbuf* m = payload_mbuf(len);
    Ipv4Options o;
    o.udp_checksum = true;
    o.dont_fragment = true;
    ASSERT_EQ(prepend_udp_headers(m, to_hub(), o), DropReason::kNone);
    const Bytes frame = contents(m);
    EXPECT_NE(test::get16(frame, 40), 0);
    EXPECT_EQ(udp_checksum_of(frame), 0) << "payload " << len;
    EXPECT_EQ(test::get16(frame, 20), 0x4000);
    EXPECT_EQ(classify_wan(m, hub()).kind, Classify::kWireGuard);
    rte_pktmbuf_free(m);
  }
}

TEST(Builders, UdpChecksumOverSegments) {
  rte_mbuf* head = payload_mbuf(100);
  rte_mbuf* tail = payload_mbuf(77);
  ASSERT_EQ(rte_pktmbuf_chain(head, tail), 0);
  Ipv4Options o;
  o.udp_checksum = true;
  ASSERT_EQ(prepend_udp_headers(head, to_hub(), o), DropReason::kNone);
  EXPECT_EQ(head->nb_segs, 2);
  const Bytes frame = contents(head);
  ASSERT_EQ(frame.size(), kOuterHeadersLen + 177u);
  EXPECT_EQ(udp_checksum_of(frame), 0);
  const Classified c = classify_wan(head, hub());
  EXPECT_EQ(c.kind, Classify::kWireGuard);
  EXPECT_EQ(c.payload_len, 177);
  rte_pktmbuf_free(head);
}

TEST(Builders, NoHeadroomIsADropNotACrash) {
  rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
  ASSERT_NE(m, nullptr);
  m->data_off = 10;  // less headroom than 42 bytes of headers
  ASSERT_NE(rte_pktmbuf_append(m, 64), nullptr);
  EXPECT_EQ(prepend_udp_headers(m, to_hub()), DropReason::kNoHeadroom);
  EXPECT_EQ(m->pkt_len, 64u) << "left as it was";
  rte_pktmbuf_free(m);
}

TEST(Builders, EthernetInFrontOfAnInnerPacket) {
  // A decrypted inner packet, as the decrypt stage leaves it.
  const Bytes inner_frame =
      test::udp_frame(test::ip(10, 1, 0, 2), test::ip(10, 0, 0, 5), 1000, 2000, 20);
  rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
  ASSERT_NE(m, nullptr);
  auto* p = rte_pktmbuf_mtod(m, std::uint8_t*);
  ASSERT_NE(rte_pktmbuf_append(m, static_cast<std::uint16_t>(inner_frame.size() - 14)), nullptr);
  std::memcpy(p, inner_frame.data() + 14, inner_frame.size() - 14);
  ASSERT_TRUE(ipv4_decrement_ttl(p));
  ASSERT_EQ(prepend_ethernet(m, mac(test::kHubMac), mac(test::kOtherMac)), DropReason::kNone);
  LocalAddress host;
  host.mac = mac(test::kOtherMac);
  host.ip_be = test::ip(10, 0, 0, 5);
  const Classified c = classify_lan(m, host);  // the host's view: ICMP-less UDP to it
  EXPECT_EQ(c.kind, Classify::kOtherToUs);
  EXPECT_EQ(c.reason, DropReason::kUdpPortClosed) << "arrived intact, checksum valid";
  const Bytes frame = contents(m);
  EXPECT_EQ(frame[22], 63);
  rte_pktmbuf_free(m);
}

TEST(Builders, EchoReplyOnAnMbufDropsPadding) {
  Bytes request = test::icmp_frame(kPeerIp, kHubIp, 8, 4);
  request.resize(60, 0);
  rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
  ASSERT_NE(m, nullptr);
  std::memcpy(rte_pktmbuf_append(m, 60), request.data(), 60);
  const Classified c = classify_wan(m, hub());
  ASSERT_EQ(c.kind, Classify::kIcmpEchoToUs);
  icmp_echo_reply_in_place(m, c, hub().mac);
  EXPECT_EQ(m->pkt_len, 14u + 20 + 8 + 4);
  const Bytes reply = contents(m);
  EXPECT_EQ(reply[34], 0);
  EXPECT_EQ(test::internet_checksum(&reply[34], 12), 0);
  rte_pktmbuf_free(m);
}

TEST(Builders, ArpRequestMbufIsAnsweredByArp) {
  rte_mbuf* m = build_arp_request(g_pool, hub().mac, kHubIp, kPeerIp);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->pkt_len, 60u);
  LocalAddress peer;
  peer.mac = mac(test::kPeerMac);
  peer.ip_be = kPeerIp;
  EXPECT_EQ(classify_wan(m, peer).kind, Classify::kArp);
  ASSERT_TRUE(answer_arp_in_place(m, kPeerIp, peer.mac));
  ArpMessage reply;
  ASSERT_TRUE(parse_arp(rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len, reply));
  EXPECT_EQ(reply.op, 2);
  EXPECT_EQ(0, std::memcmp(reply.sender_mac.addr_bytes, test::kPeerMac.data(), 6));
  EXPECT_EQ(classify_wan(m, hub()).kind, Classify::kArp) << "unicast to the asker";
  rte_pktmbuf_free(m);
}

// net_ring0 (from --vdev) loops each tx queue back to the rx queue of the
// same number.
TEST(Ports, RingPortCarriesBursts) {
  PortOptions po;
  po.devargs = "net_ring0";
  po.role = "wan";
  po.rx_queues = 2;
  po.tx_queues = 3;
  po.rx_desc = 256;
  po.tx_desc = 256;
  std::string error;
  std::optional<Port> port = open_port(po, error);
  ASSERT_TRUE(port) << error;
  EXPECT_EQ(port->name, "net_ring0");
  EXPECT_EQ(port->role, "wan");
  EXPECT_EQ(port->rx_queues, 2);
  EXPECT_EQ(port->tx_queues, 3);
  EXPECT_TRUE(port->owns_pool);
  EXPECT_FALSE(port->detach_on_close) << "EAL created it, EAL keeps it";
  EXPECT_TRUE(rte_is_valid_assigned_ether_addr(&port->mac));
  EXPECT_GT(port->mtu, 0);

  // A second open of the same device is refused.
  std::string again;
  EXPECT_FALSE(open_port(po, again));
  EXPECT_NE(again.find("already open"), std::string::npos) << again;

  for (std::uint16_t q = 0; q < 2; ++q) {
    constexpr unsigned kBurst = 32;
    rte_mbuf* tx[kBurst];
    for (unsigned i = 0; i < kBurst; ++i) {
      tx[i] = payload_mbuf(100 + i);
      ASSERT_EQ(prepend_udp_headers(tx[i], to_hub()), DropReason::kNone);
    }
    ASSERT_EQ(rte_eth_tx_burst(port->id, q, tx, kBurst), kBurst);
    rte_mbuf* rx[kBurst];
    unsigned got = 0;
    for (int tries = 0; tries < 1000 && got < kBurst; ++tries)
      got += rte_eth_rx_burst(port->id, q, rx + got, static_cast<std::uint16_t>(kBurst - got));
    ASSERT_EQ(got, kBurst);
    for (unsigned i = 0; i < kBurst; ++i) {
      const Classified c = classify_wan(rx[i], hub());
      EXPECT_EQ(c.kind, Classify::kWireGuard);
      EXPECT_EQ(c.payload_len, 100 + i) << "order and lengths kept";
      rte_pktmbuf_free(rx[i]);
    }
  }
  close_port(*port);
  EXPECT_EQ(port->pool, nullptr);
}

TEST(Ports, ProbedVdevIsDetachedOnCloseAndCanBeReopened) {
  PortOptions po;
  po.devargs = "net_null7";  // net_ring would leave its named rings behind
  po.role = "lan";
  po.pool = g_pool;
  po.rx_desc = 128;
  po.tx_desc = 128;
  for (int round = 0; round < 2; ++round) {
    std::string error;
    std::optional<Port> port = open_port(po, error);
    ASSERT_TRUE(port) << error;
    EXPECT_TRUE(port->detach_on_close);
    EXPECT_FALSE(port->owns_pool);
    EXPECT_EQ(port->pool, g_pool);
    EXPECT_TRUE(rte_is_valid_assigned_ether_addr(&port->mac)) << "given a random MAC";
    rte_mbuf* rx[4];
    const std::uint16_t n = rte_eth_rx_burst(port->id, 0, rx, 4);  // net_null makes packets
    EXPECT_GT(n, 0);
    rte_pktmbuf_free_bulk(rx, n);
    close_port(*port);
    std::uint16_t id;
    EXPECT_NE(rte_eth_dev_get_port_by_name("net_null7", &id), 0) << "detached";
  }
}

TEST(Ports, BadDevargsSayWhatIsWrong) {
  std::string error;
  // The messages as an operator sees them, for the test log.
  struct Show {
    std::string& e;
    ~Show() { std::printf("  error: %s\n", e.c_str()); }
  };
  PortOptions po;
  po.role = "lan";
  po.devargs = "net_af_packet1,iface=nope-wghub";
  EXPECT_FALSE(open_port(po, error));
  Show{error};
  EXPECT_NE(error.find("ports.lan.devargs 'net_af_packet1,iface=nope-wghub': cannot probe"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("interface 'nope-wghub' does not exist"), std::string::npos) << error;

  po.devargs = "net_af_packet1";
  EXPECT_FALSE(open_port(po, error));
  Show{error};
  EXPECT_NE(error.find("needs iface="), std::string::npos) << error;

  po.devargs = "net_bogus0";
  EXPECT_FALSE(open_port(po, error));
  Show{error};
  EXPECT_NE(error.find("ports.lan.devargs 'net_bogus0': cannot probe"), std::string::npos) << error;

  po.devargs = "";
  EXPECT_FALSE(open_port(po, error));
  Show{error};
  EXPECT_NE(error.find("ports.lan.devargs: empty"), std::string::npos) << error;
}

TEST(Ports, TooManyQueuesIsClearAndLeavesNothingOpen) {
  PortOptions po;
  po.role = "wan";
  po.devargs = "net_null3";
  po.rx_queues = 1;
  po.tx_queues = 2000;  // net_null has 1024
  po.pool = g_pool;
  std::string error;
  EXPECT_FALSE(open_port(po, error));
  EXPECT_NE(error.find("2000 tx are needed"), std::string::npos) << error;
  std::uint16_t id;
  EXPECT_NE(rte_eth_dev_get_port_by_name("net_null3", &id), 0) << "closed and detached";
  po.tx_queues = 2;
  std::optional<Port> port = open_port(po, error);
  ASSERT_TRUE(port) << error;
  close_port(*port);
}

}  // namespace
}  // namespace wghub::dp
