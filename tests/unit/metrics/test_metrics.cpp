// The exporter's exposition() on hand-built inputs, read back with a strict
// text-format parser (values summed across lcores, exact label sets in order,
// family types and help, slot-reuse bases, no secret key in the exposition),
// a scrape racing a counter writer, and the real MetricsExporter served on
// 127.0.0.1 and scraped over HTTP, plain and gzipped.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/metrics/exposition.hpp"
#include "tests/unit/metrics/fixture.hpp"
#include "tests/unit/metrics/http_get.hpp"

namespace wghub::ctl {
namespace {

using testing::Family;
using testing::MetricsFixture;
using testing::Sample;
using LabelMap = std::map<std::string, std::string>;

// What a scrape returns for these inputs, read back by the strict parser.
std::vector<Family> scrape(const MetricsFixture& fx, const MetricsSnapshot* s) {
  std::string error;
  const std::vector<Family> fs = testing::parse_exposition(exposition(fx.lcores, s), error);
  EXPECT_EQ(error, "");
  return fs;
}
std::vector<Family> scrape(const MetricsFixture& fx) {
  return scrape(fx, fx.snapshot.get());
}

const Family* find_family(const std::vector<Family>& fs, const std::string& name) {
  for (const Family& f : fs)
    if (f.name == name) return &f;
  return nullptr;
}

LabelMap labels_of(const Sample& m) {
  LabelMap out;
  for (const auto& [k, v] : m.labels) out[k] = v;
  return out;
}

// The value of the one sample of `name` whose labels include `want`; fails
// the test unless exactly one matches.
double sample(const std::vector<Family>& fs, const std::string& name, const LabelMap& want) {
  const Family* f = find_family(fs, name);
  EXPECT_NE(f, nullptr) << name;
  if (f == nullptr) return -1;
  std::vector<double> hits;
  for (const Sample& m : f->samples) {
    const LabelMap have = labels_of(m);
    if (std::all_of(want.begin(), want.end(), [&](const auto& kv) {
          auto it = have.find(kv.first);
          return it != have.end() && it->second == kv.second;
        }))
      hits.push_back(m.value);
  }
  EXPECT_EQ(hits.size(), 1u) << name;
  return hits.empty() ? -1 : hits.front();
}

// Sum over every sample of `name` whose labels include `want`.
double sum(const std::vector<Family>& fs, const std::string& name, const LabelMap& want) {
  const Family* f = find_family(fs, name);
  EXPECT_NE(f, nullptr) << name;
  if (f == nullptr) return -1;
  double total = 0;
  for (const Sample& m : f->samples) {
    const LabelMap have = labels_of(m);
    bool ok = true;
    for (const auto& [k, v] : want) ok = ok && have.count(k) && have.at(k) == v;
    if (ok) total += m.value;
  }
  return total;
}

TEST(MetricsCollect, FamiliesHaveHelpTypeAndConventionalNames) {
  MetricsFixture fx;
  const auto fs = scrape(fx);
  EXPECT_EQ(fs.size(), 43u);
  std::set<std::string> names;
  for (const Family& f : fs) {
    EXPECT_TRUE(names.insert(f.name).second) << "duplicate family " << f.name;
    EXPECT_FALSE(f.help.empty()) << f.name;
    const bool total = f.name.ends_with("_total");
    if (f.type == "counter") {
      EXPECT_TRUE(total) << f.name;
    } else if (f.type == "histogram") {
      EXPECT_FALSE(total) << f.name;
      for (const Sample& m : f.samples)  // buckets carry `le`; _sum and _count no label
        EXPECT_EQ(labels_of(m).contains("le"), m.name == f.name + "_bucket") << m.name;
      continue;
    } else {
      EXPECT_EQ(f.type, "gauge") << f.name;
      EXPECT_FALSE(total) << f.name;
    }
    EXPECT_TRUE(f.name.starts_with("wghub_") || f.name.starts_with("wireguard_")) << f.name;
    for (const Sample& m : f.samples) {
      // Every sample of a family carries the same label names.
      std::set<std::string> ln;
      for (const auto& l : m.labels) ln.insert(l.first);
      std::set<std::string> first;
      for (const auto& l : f.samples.front().labels) first.insert(l.first);
      EXPECT_EQ(ln, first) << f.name;
    }
  }
}

TEST(MetricsCollect, StoreFamiliesOnlyWithAStore) {
  MetricsFixture fx;
  EXPECT_EQ(find_family(scrape(fx), "wghub_store_connected"), nullptr);
  MetricsSnapshot& s = *fx.snapshot;
  s.store_enabled = true;
  s.store_connected = true;
  s.store_revision_seen = 12;
  s.store_revision_applied = 11;
  s.store_peer_changes = 5;
  s.store_reconnects = 2;
  s.store_last_lag_seconds = 0.25;
  const auto fs = scrape(fx);
  EXPECT_EQ(fs.size(), 50u);
  EXPECT_EQ(sample(fs, "wghub_store_connected", {}), 1);
  EXPECT_EQ(sample(fs, "wghub_store_revision", {{"state", "seen"}}), 12);
  EXPECT_EQ(sample(fs, "wghub_store_revision", {{"state", "applied"}}), 11);
  EXPECT_EQ(sample(fs, "wghub_store_peer_changes_total", {}), 5);
  EXPECT_EQ(sample(fs, "wghub_store_reconnects_total", {}), 2);
  EXPECT_EQ(sample(fs, "wghub_store_refused_total", {}), 0);
  EXPECT_EQ(sample(fs, "wghub_store_apply_lag_seconds", {}), 0.25);
}

TEST(MetricsCollect, PeerFamiliesMatchPrometheusWireguardExporter) {
  MetricsFixture fx;
  const auto fs = scrape(fx);
  const Family* sent = find_family(fs, "wireguard_sent_bytes_total");
  const Family* received = find_family(fs, "wireguard_received_bytes_total");
  const Family* handshake = find_family(fs, "wireguard_latest_handshake_seconds");
  ASSERT_NE(sent, nullptr);
  ASSERT_NE(received, nullptr);
  ASSERT_NE(handshake, nullptr);
  EXPECT_EQ(sent->type, "counter");
  EXPECT_EQ(received->type, "counter");
  EXPECT_EQ(handshake->type, "gauge");
  ASSERT_EQ(sent->samples.size(), 3u);

  // Exact labels, in the reference exporter's order.
  const std::vector<std::pair<std::string, std::string>> want = {
      {"interface", "wghub0"},
      {"public_key", testing::fixture_public_key_base64()},
      {"allowed_ips", "10.7.0.0/24,fd00:7::/64"},
      {"friendly_name", "plant-7"}};
  EXPECT_EQ(sent->samples[0].labels, want);
  EXPECT_EQ(received->samples[0].labels, want);
  EXPECT_EQ(handshake->samples[0].labels, want);

  // Slot 0: summed over both lcores' blocks.
  const LabelMap plant = {{"friendly_name", "plant-7"}};
  EXPECT_EQ(sample(fs, "wireguard_received_bytes_total", plant), 3000);
  EXPECT_EQ(sample(fs, "wireguard_sent_bytes_total", plant), 500);
  EXPECT_EQ(sample(fs, "wghub_peer_received_packets_total", plant), 30);
  EXPECT_EQ(sample(fs, "wghub_peer_sent_packets_total", plant), 5);
  EXPECT_EQ(sample(fs, "wireguard_latest_handshake_seconds", plant), 1700000000);
  EXPECT_EQ(sample(fs, "wghub_peer_session_up", plant), 1);
  // Slot 3 was reused: its base is subtracted.
  const LabelMap kiosk = {{"friendly_name", "kiosk \"12\""}};
  EXPECT_EQ(sample(fs, "wireguard_received_bytes_total", kiosk), 5000);
  EXPECT_EQ(sample(fs, "wireguard_sent_bytes_total", kiosk), 5000);
  EXPECT_EQ(sample(fs, "wghub_peer_received_packets_total", kiosk), 5);
  EXPECT_EQ(sample(fs, "wghub_peer_sent_packets_total", kiosk), 5);
  // Slot 5: nothing yet.
  const LabelMap branch = {{"friendly_name", "branch-x"}};
  EXPECT_EQ(sample(fs, "wireguard_received_bytes_total", branch), 0);
  EXPECT_EQ(sample(fs, "wireguard_latest_handshake_seconds", branch), 0);
  EXPECT_EQ(sample(fs, "wghub_peer_session_up", branch), 0);
  EXPECT_EQ(sample(fs, "wghub_peer_info", {{"friendly_name", "branch-x"}, {"endpoint", ""}}), 1);
  EXPECT_EQ(sample(fs, "wghub_peer_info", {{"endpoint", "198.51.100.7:51820"}}), 1);

  EXPECT_EQ(sample(fs, "wghub_peers_configured", {}), 3);
  EXPECT_EQ(sample(fs, "wghub_peers_live", {}), 2);
}

TEST(MetricsCollect, ABaseAboveTheLiveTotalReadsZeroNotAWrap) {
  MetricsFixture fx;
  fx.snapshot->peers[2].counter_base = {100, 100000, 100, 100000};
  const auto fs = scrape(fx);
  EXPECT_EQ(sample(fs, "wireguard_received_bytes_total", {{"friendly_name", "branch-x"}}), 0);
  EXPECT_EQ(sample(fs, "wireguard_sent_bytes_total", {{"friendly_name", "branch-x"}}), 0);
}

TEST(MetricsCollect, PortAndLcoreCountersAreExactAndSum) {
  MetricsFixture fx;
  const auto fs = scrape(fx);
  EXPECT_EQ(sample(fs, "wghub_rx_packets_total", {{"lcore", "1"}, {"port", "wan"}}), 100);
  EXPECT_EQ(sample(fs, "wghub_rx_packets_total", {{"lcore", "2"}, {"port", "wan"}}), 200);
  EXPECT_EQ(sum(fs, "wghub_rx_bytes_total", {{"port", "wan"}}), 450000);
  EXPECT_EQ(sum(fs, "wghub_rx_bytes_total", {{"port", "lan"}}), 330000);
  // Port tx = the workers' queues plus the control thread's own.
  EXPECT_EQ(sample(fs, "wghub_tx_packets_total", {{"lcore", "control"}, {"port", "wan"}}), 17);
  EXPECT_EQ(sum(fs, "wghub_tx_packets_total", {{"port", "wan"}}), 270 + 17);
  EXPECT_EQ(sum(fs, "wghub_tx_bytes_total", {{"port", "lan"}}), 420000 + 180);
  EXPECT_EQ(sum(fs, "wghub_decrypted_packets_total", {}), 285);
  EXPECT_EQ(sum(fs, "wghub_decrypted_bytes_total", {}), 399000);
  EXPECT_EQ(sum(fs, "wghub_encrypted_packets_total", {}), 240);
  EXPECT_EQ(sample(fs, "wghub_encrypted_bytes_total", {{"lcore", "2"}}), 216000);
  EXPECT_EQ(sum(fs, "wghub_handshake_messages_to_control_total", {}), 9);
  // The rx family has one sample per (worker lcore, port); control never receives.
  EXPECT_EQ(find_family(fs, "wghub_rx_packets_total")->samples.size(), 4u);
  EXPECT_EQ(find_family(fs, "wghub_tx_packets_total")->samples.size(), 6u);
}

TEST(MetricsCollect, FragmentsAndIcmpErrorsPerLcore) {
  MetricsFixture fx;
  const auto fs = scrape(fx);
  // Workers only: the control thread neither fragments nor sends these errors.
  EXPECT_EQ(find_family(fs, "wghub_fragments_created_total")->samples.size(), 2u);
  EXPECT_EQ(find_family(fs, "wghub_icmp_errors_total")->samples.size(), 6u);
  EXPECT_EQ(sample(fs, "wghub_fragments_created_total", {{"lcore", "1"}}), 4);
  EXPECT_EQ(sum(fs, "wghub_fragments_created_total", {}), 4 * 3);
  EXPECT_EQ(sample(fs, "wghub_icmp_errors_total", {{"lcore", "2"}, {"result", "sent"}}), 10);
  EXPECT_EQ(sum(fs, "wghub_icmp_errors_total", {{"result", "rate_limited"}}), 6 * 3);
  EXPECT_EQ(sum(fs, "wghub_icmp_errors_total", {{"result", "suppressed"}}), 7 * 3);
}

TEST(MetricsCollect, DropsByReasonPerLcore) {
  MetricsFixture fx;
  const auto fs = scrape(fx);
  const Family* drops = find_family(fs, "wghub_dropped_packets_total");
  ASSERT_NE(drops, nullptr);
  // Every reason but "none" for each worker, plus the control thread's three.
  EXPECT_EQ(drops->samples.size(), 2 * (dp::kDropReasonCount - 1) + 3);
  for (const Sample& m : drops->samples) EXPECT_NE(labels_of(m).at("reason"), "none");
  EXPECT_EQ(sample(fs, "wghub_dropped_packets_total", {{"lcore", "1"}, {"reason", "replay"}}), 2);
  EXPECT_EQ(sum(fs, "wghub_dropped_packets_total", {{"reason", "replay"}}), 6);
  EXPECT_EQ(sum(fs, "wghub_dropped_packets_total", {{"reason", "auth_failed"}}), 3);
  EXPECT_EQ(
      sample(fs, "wghub_dropped_packets_total", {{"lcore", "control"}, {"reason", "tx_full"}}), 1);
  EXPECT_EQ(
      sample(fs, "wghub_dropped_packets_total", {{"lcore", "control"}, {"reason", "no_neighbour"}}),
      2);
  EXPECT_EQ(sum(fs, "wghub_dropped_packets_total", {{"reason", "no_route"}}), 0);
}

TEST(MetricsCollect, ControlPollHistogram) {
  MetricsFixture fx;
  PollHistogram& h = fx.snapshot->control_polls;
  using std::chrono::microseconds;
  for (int i = 0; i < 5; ++i) h.observe(microseconds(300));
  h.observe(microseconds(3000));
  h.observe(microseconds(3000));
  h.observe(microseconds(15'000));
  h.observe(microseconds(2'000'000));
  EXPECT_EQ(h.above(0.01), 2u);
  EXPECT_EQ(h.above(0.001), 4u);
  const auto fs = scrape(fx);
  const Family* f = find_family(fs, "wghub_control_poll_seconds");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->type, "histogram");
  std::map<double, double> cumulative;  // le -> count
  double count = -1, sum = -1;
  for (const Sample& m : f->samples) {
    if (m.name == f->name + "_bucket")
      cumulative[std::strtod(labels_of(m).at("le").c_str(), nullptr)] = m.value;
    if (m.name == f->name + "_count") count = m.value;
    if (m.name == f->name + "_sum") sum = m.value;
  }
  const std::map<double, double> want = {{0.0005, 5},
                                         {0.001, 5},
                                         {0.002, 5},
                                         {0.005, 7},
                                         {0.01, 7},
                                         {0.02, 8},
                                         {0.05, 8},
                                         {0.1, 8},
                                         {0.5, 8},
                                         {1.0, 8},
                                         {std::numeric_limits<double>::infinity(), 9}};
  EXPECT_EQ(cumulative, want);
  EXPECT_EQ(count, 9);
  EXPECT_NEAR(sum, 5 * 0.0003 + 2 * 0.003 + 0.015 + 2.0, 1e-9);
  EXPECT_EQ(sample(fs, "wghub_control_poll_longest_seconds", {}), 2.0);
}

TEST(MetricsCollect, ControlThreadState) {
  MetricsFixture fx;
  const auto fs = scrape(fx);
  EXPECT_EQ(sample(fs, "wghub_handshakes_total", {{"result", "completed"}}), 12);
  EXPECT_EQ(sample(fs, "wghub_handshakes_total", {{"result", "failed"}}), 5);
  EXPECT_EQ(find_family(fs, "wghub_handshakes_total")->samples.size(), 2u);
  EXPECT_EQ(sample(fs, "wghub_handshake_failures_total", {{"reason", "invalid_mac1"}}), 3);
  EXPECT_EQ(sample(fs, "wghub_handshake_failures_total", {{"reason", "noise_failed"}}), 2);
  EXPECT_EQ(find_family(fs, "wghub_handshake_failures_total")->samples.size(),
            static_cast<std::size_t>(HandshakeDrop::kCount));
  EXPECT_EQ(sample(fs, "wghub_handshake_messages_received_total", {{"type", "initiation"}}), 14);
  EXPECT_EQ(sample(fs, "wghub_handshake_messages_sent_total", {{"type", "response"}}), 11);
  EXPECT_EQ(sample(fs, "wghub_cookie_replies_sent_total", {}), 4);
  EXPECT_EQ(sample(fs, "wghub_under_load", {}), 1);
  EXPECT_EQ(sample(fs, "wghub_under_load_entered_total", {}), 1);
  EXPECT_EQ(sample(fs, "wghub_log_lines_suppressed_total", {}), 9);
  EXPECT_EQ(sample(fs, "wghub_log_lines_dropped_total", {}), 6);
  EXPECT_EQ(sample(fs, "wghub_handshake_threads_prepared_total", {}), 12);
  EXPECT_EQ(sample(fs, "wghub_handshake_threads_queue_full_total", {}), 2);
  EXPECT_EQ(sample(fs, "wghub_control_ring_occupancy", {}), 700);
  EXPECT_EQ(sample(fs, "wghub_control_ring_capacity", {}), 4095);
  EXPECT_EQ(sample(fs, "wghub_staged_packets_total", {{"result", "queued"}}), 40);
  EXPECT_EQ(sample(fs, "wghub_staged_packets_total", {{"result", "sent"}}), 30);
  EXPECT_EQ(sample(fs, "wghub_staged_packets_total", {{"result", "overflow"}}), 2);
  EXPECT_EQ(sample(fs, "wghub_staged_packets_total", {{"result", "purged"}}), 5);
  EXPECT_EQ(sample(fs, "wghub_staged_packets", {}), 3);
}

TEST(MetricsCollect, BeforeTheFirstSnapshotEveryFamilyIsStillThere) {
  MetricsFixture fx;
  const auto fs = scrape(fx, nullptr);
  EXPECT_EQ(fs.size(), scrape(fx).size());
  EXPECT_TRUE(find_family(fs, "wireguard_sent_bytes_total")->samples.empty());
  EXPECT_EQ(sample(fs, "wghub_peers_configured", {}), 0);
  EXPECT_EQ(sample(fs, "wghub_under_load", {}), 0);
  EXPECT_EQ(sum(fs, "wghub_rx_packets_total", {{"port", "wan"}}), 300);
  // And with no workers at all.
  std::string error;
  EXPECT_EQ(testing::parse_exposition(exposition({}, nullptr), error).size(), fs.size());
  EXPECT_EQ(error, "");
}

std::string hex(const std::array<std::uint8_t, 32>& k) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::uint8_t b : k) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

TEST(MetricsCollect, NoPrivateOrPresharedKeyInTheExposition) {
  MetricsFixture fx;
  const std::string text = exposition(fx.lcores, fx.snapshot.get());
  // The public key derived from the private key is there...
  EXPECT_NE(text.find(testing::fixture_public_key_base64()), std::string::npos);
  // ...the private and preshared keys are not, in any encoding wg(8) uses.
  const auto priv = testing::fixture_private_key();
  const auto psk = testing::fixture_preshared_key();
  for (const std::string& secret : {crypto::key_to_base64(priv.data()), hex(priv),
                                    crypto::key_to_base64(psk.data()), hex(psk)}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << "a secret key leaked into the exposition";
  }
}

TEST(MetricsCollect, TextFormatEscapesLabelValues) {
  MetricsFixture fx;
  const std::string text = exposition(fx.lcores, fx.snapshot.get());
  EXPECT_NE(text.find("friendly_name=\"kiosk \\\"12\\\"\""), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE wireguard_sent_bytes_total counter"), std::string::npos);
  EXPECT_NE(text.find("# TYPE wireguard_latest_handshake_seconds gauge"), std::string::npos);
}

// A worker keeps counting while scrapes run: every scrape sees a value no
// smaller than the one before (relaxed loads of a single writer's stores),
// and the last one sees everything.
TEST(MetricsCollect, ScrapesRacingAWriterSeeMonotonicCounters) {
  MetricsFixture fx;
  constexpr std::uint64_t kAdds = 200000;
  std::atomic<bool> done{false};
  const std::uint64_t start = fx.stats[0].decrypted_packets;
  std::thread worker([&] {
    for (std::uint64_t i = 0; i < kAdds; ++i) {
      dp::counter_add(fx.stats[0].decrypted_packets);
      fx.peer_blocks[0]->add_rx(0, 100);
    }
    done.store(true, std::memory_order_release);
  });
  double last = 0;
  double last_peer = 0;
  bool finished = false;
  while (!finished) {
    finished = done.load(std::memory_order_acquire);
    const auto fs = scrape(fx);
    const double v = sample(fs, "wghub_decrypted_packets_total", {{"lcore", "1"}});
    const double p = sample(fs, "wireguard_received_bytes_total", {{"friendly_name", "plant-7"}});
    EXPECT_GE(v, last);
    EXPECT_GE(p, last_peer);
    last = v;
    last_peer = p;
  }
  worker.join();
  EXPECT_EQ(last, static_cast<double>(start + kAdds));
  EXPECT_EQ(last_peer, 3000.0 + 100.0 * kAdds);
}

// --- the real exporter on loopback ---

TEST(MetricsExporter, ServesTheExpositionOverHttpOnLoopback) {
  MetricsFixture fx;
  std::string error;
  auto exporter = MetricsExporter::start("127.0.0.1:0", fx.lcores, {}, error);
  ASSERT_NE(exporter, nullptr) << error;
  ASSERT_NE(exporter->port(), 0);

  // Before the control thread publishes: the live counters, no peers.
  std::string r = http_get(exporter->port(), "/metrics");
  ASSERT_TRUE(r.starts_with("HTTP/1.1 200")) << r.substr(0, 200);
  EXPECT_NE(r.find("wghub_peers_configured 0"), std::string::npos);
  EXPECT_EQ(r.find("wireguard_sent_bytes_total{"), std::string::npos);

  exporter->publish(fx.snapshot);
  r = http_get(exporter->port(), "/metrics");
  ASSERT_TRUE(r.starts_with("HTTP/1.1 200")) << r.substr(0, 200);
  EXPECT_NE(r.find("wghub_peers_configured 3"), std::string::npos);
  EXPECT_NE(r.find("wireguard_sent_bytes_total{interface=\"wghub0\",public_key=\"" +
                   testing::fixture_public_key_base64() +
                   "\",allowed_ips=\"10.7.0.0/24,fd00:7::/64\",friendly_name=\"plant-7\"} 500"),
            std::string::npos)
      << r;
  // The body is what exposition() writes (counters do not move here).
  const std::size_t body = r.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  EXPECT_NE(r.find(exporter->scrape_text()), std::string::npos);

  // Counters read live: a worker's increment shows in the next scrape.
  dp::counter_add(fx.stats[1].rx_packets[dp::kStatsPortLan], 5);
  r = http_get(exporter->port(), "/metrics");
  EXPECT_NE(r.find("wghub_rx_packets_total{lcore=\"2\",port=\"lan\"} 165"), std::string::npos);

  EXPECT_TRUE(http_get(exporter->port(), "/other").starts_with("HTTP/1.1 404"));
}

TEST(MetricsExporter, AnAddressInUseIsAnErrorNotACrash) {
  MetricsFixture fx;
  std::string error;
  auto first = MetricsExporter::start("127.0.0.1:0", fx.lcores, {}, error);
  ASSERT_NE(first, nullptr) << error;
  const std::string taken = "127.0.0.1:" + std::to_string(first->port());
  auto second = MetricsExporter::start(taken, fx.lcores, {}, error);
  EXPECT_EQ(second, nullptr);
  EXPECT_NE(error.find(taken), std::string::npos) << error;
}

}  // namespace
}  // namespace wghub::ctl

namespace wghub::ctl {
namespace {

// Frames the drivers dropped before any worker saw them are visible per port.
TEST(MetricsCollect, PortReceiveLossesPerPort) {
  MetricsFixture fx;
  const auto fs = scrape(fx);
  EXPECT_EQ(sum(fs, "wghub_port_rx_missed_packets_total", {{"port", "wan"}}), 31);
  EXPECT_EQ(sum(fs, "wghub_port_rx_missed_packets_total", {{"port", "lan"}}), 0);
  EXPECT_EQ(sum(fs, "wghub_neighbour_incomplete_refused_total", {{"port", "lan"}}), 17);
  EXPECT_EQ(sum(fs, "wghub_port_rx_nombuf_total", {{"port", "wan"}}), 1);
  EXPECT_EQ(sum(fs, "wghub_port_rx_errors_total", {{"port", "lan"}}), 4);
}

}  // namespace
}  // namespace wghub::ctl
