// Exporter inputs built by hand: two workers' counter blocks (plain memory,
// no DPDK) and a control snapshot with three peers, with values chosen so a
// test can tell a sum from a single lcore and one peer from another. Shared
// by the gtest (test_metrics.cpp) and the program the Python check parses
// (metrics_dump.cpp); check_exposition.py repeats the expected values.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "control/device.hpp"
#include "control/metrics.hpp"
#include "crypto/base64.hpp"
#include "crypto/x25519.hpp"

namespace wghub::ctl::testing {

// The private and preshared keys the peers "use": never in an exposition.
inline std::array<std::uint8_t, 32> fixture_private_key() {
  std::array<std::uint8_t, 32> k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(0x40 + i);
  k[0] &= 248;  // clamp (RFC 7748)
  k[31] = static_cast<std::uint8_t>((k[31] & 127) | 64);
  return k;
}
inline std::array<std::uint8_t, 32> fixture_preshared_key() {
  std::array<std::uint8_t, 32> k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(0xa0 + i);
  return k;
}
inline std::string fixture_public_key_base64() {
  const auto priv = fixture_private_key();
  std::array<std::uint8_t, 32> pub{};
  crypto::x25519_public(pub, priv);
  return crypto::key_to_base64(pub.data());
}

// The data plane's form of an "ip:port" endpoint.
inline dp::Endpoint endpoint(const char* text) {
  return endpoint_of(*config::Endpoint::parse(text).value);
}

struct MetricsFixture {
  static constexpr std::uint32_t kPeerCapacity = 16;

  dp::LcoreStats stats[2];
  std::unique_ptr<dp::PeerCounterBlock> peer_blocks[2] = {
      std::make_unique<dp::PeerCounterBlock>(kPeerCapacity),
      std::make_unique<dp::PeerCounterBlock>(kPeerCapacity)};
  std::vector<MetricsLcore> lcores;
  std::shared_ptr<MetricsSnapshot> snapshot = std::make_shared<MetricsSnapshot>();

  MetricsFixture() {
    // lcore "1" and lcore "2"; lcore 2 carries twice lcore 1's traffic.
    for (unsigned i = 0; i < 2; ++i) {
      dp::LcoreStats& s = stats[i];
      const std::uint64_t f = i + 1;
      s.rx_packets[dp::kStatsPortWan] = 100 * f;
      s.rx_bytes[dp::kStatsPortWan] = 150000 * f;
      s.tx_packets[dp::kStatsPortWan] = 90 * f;
      s.tx_bytes[dp::kStatsPortWan] = 130000 * f;
      s.rx_packets[dp::kStatsPortLan] = 80 * f;
      s.rx_bytes[dp::kStatsPortLan] = 110000 * f;
      s.tx_packets[dp::kStatsPortLan] = 95 * f;
      s.tx_bytes[dp::kStatsPortLan] = 140000 * f;
      s.decrypted_packets = 95 * f;
      s.decrypted_bytes = 133000 * f;
      s.encrypted_packets = 80 * f;
      s.encrypted_bytes = 108000 * f;
      s.handshakes_to_control = 3 * f;
      s.fragments_created = 4 * f;
      s.icmp_errors_sent = 5 * f;
      s.icmp_errors_rate_limited = 6 * f;
      s.icmp_errors_suppressed = 7 * f;
      s.drop(dp::DropReason::kReplay, 2 * f);
      s.drop(dp::DropReason::kAuthFailed, 1 * f);
    }
    // Peer slot 0 ("plant-7"): rx on both lcores. Slot 3 ("kiosk 12"):
    // reused slot with a base. Slot 5 ("branch-x"): no traffic, never shook hands.
    peer_blocks[0]->add_rx(0, 1000, 10);
    peer_blocks[1]->add_rx(0, 2000, 20);
    peer_blocks[0]->add_tx(0, 500, 5);
    peer_blocks[1]->add_tx(3, 7000, 7);
    peer_blocks[1]->add_rx(3, 9000, 9);

    lcores = {{"1", &stats[0], peer_blocks[0].get()}, {"2", &stats[1], peer_blocks[1].get()}};

    MetricsSnapshot& s = *snapshot;
    s.interface_name = "wghub0";
    MetricsPeer plant;
    plant.slot = 0;
    plant.labels = render_peer_labels("wghub0", fixture_public_key_base64(),
                                      "10.7.0.0/24,fd00:7::/64", "plant-7");
    plant.endpoint = endpoint("198.51.100.7:51820");
    plant.latest_handshake_unix = 1700000000;
    plant.live_session = true;
    MetricsPeer kiosk;
    kiosk.slot = 3;
    // A quote, escaped in the exposition.
    kiosk.labels = render_peer_labels(
        "wghub0", "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", "10.12.0.2/32", "kiosk \"12\"");
    kiosk.endpoint = endpoint("[2001:db8::12]:40000");
    kiosk.latest_handshake_unix = 1700000100;
    kiosk.live_session = true;
    kiosk.counter_base = {4, 4000, 2, 2000};  // rx_packets, rx_bytes, tx_packets, tx_bytes
    MetricsPeer branch;
    branch.slot = 5;
    branch.labels = render_peer_labels(
        "wghub0", "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=", "10.99.0.0/16", "branch-x");
    s.peers = {plant, kiosk, branch};
    s.peers_configured = 3;
    s.peers_live = 2;

    s.handshakes.sessions_derived = 12;
    s.handshakes.initiations_received = 14;
    s.handshakes.responses_received = 1;
    s.handshakes.initiations_sent = 2;
    s.handshakes.responses_sent = 11;
    s.handshakes.cookie_replies_sent = 4;
    s.handshakes.drops[static_cast<std::size_t>(HandshakeDrop::kInvalidMac)] = 3;
    s.handshakes.drops[static_cast<std::size_t>(HandshakeDrop::kNoise)] = 2;
    s.under_load = true;
    s.under_load_entered = 1;
    s.log_lines_suppressed = 9;
    s.log_lines_dropped = 6;
    s.handshake_threads_prepared = 12;
    s.handshake_threads_queue_full = 2;
    s.staged_queued = 40;
    s.staged_sent = 30;
    s.staged_overflow = 2;
    s.staged_purged = 5;
    s.staged_waiting = 3;
    s.control_ring_count = 700;
    s.control_ring_capacity = 4095;
    s.control_tx_packets[dp::kStatsPortWan] = 17;
    s.control_tx_bytes[dp::kStatsPortWan] = 2000;
    s.control_tx_packets[dp::kStatsPortLan] = 3;
    s.control_tx_bytes[dp::kStatsPortLan] = 180;
    s.control_tx_failed = 1;
    s.control_held_dropped = 2;
    s.port_rx_missed[0] = 31;
    s.port_rx_missed[1] = 0;
    s.neighbour_incomplete_refused[0] = 0;
    s.neighbour_incomplete_refused[1] = 17;
    s.port_rx_nombuf[0] = 1;
    s.port_rx_errors[1] = 4;
  }
};

}  // namespace wghub::ctl::testing
