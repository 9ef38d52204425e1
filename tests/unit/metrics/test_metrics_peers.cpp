// The per-peer series at scale and under the config switch: the snapshot's
// per-peer step with metrics.per_peer / per_peer_limit, the label cache
// (rendered once, rendered again when the peer changes), a thousand peers
// read back exactly, and a gzipped scrape over HTTP.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <map>
#include <string>
#include <vector>

#include "control/metrics_snapshot.hpp"
#include "tests/unit/metrics/exposition.hpp"
#include "tests/unit/metrics/fixture.hpp"
#include "tests/unit/metrics/http_get.hpp"

namespace wghub::ctl {
namespace {

using testing::Family;

Device::Peer make_peer(std::uint32_t slot) {
  Device::Peer p;
  p.slot = slot;
  p.name = "site-" + std::to_string(slot);
  p.public_key.fill(static_cast<std::uint8_t>(slot));
  p.public_key[1] = static_cast<std::uint8_t>(slot >> 8);
  p.allowed_ips.push_back(*config::Prefix::parse("10.1." + std::to_string(slot % 256) + "." +
                                                 std::to_string(slot / 256) + "/32")
                               .value);
  p.last_handshake = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000 + slot));
  return p;
}

// A snapshot of `peers` as the control thread builds it (every other peer
// with a live session).
std::shared_ptr<MetricsSnapshot> snapshot_of(const std::map<std::uint32_t, Device::Peer>& peers,
                                             MetricsPeerCache& cache,
                                             const MetricsOptions& options) {
  auto s = std::make_shared<MetricsSnapshot>();
  s->interface_name = "wghub0";
  for (const auto& [slot, p] : peers)
    add_snapshot_peer(*s, cache, options, p, testing::endpoint("192.0.2.1:51820"), slot % 2 == 0);
  return s;
}

std::vector<Family> parse(const std::string& text) {
  std::string error;
  std::vector<Family> fs = testing::parse_exposition(text, error);
  EXPECT_EQ(error, "");
  return fs;
}

const Family& family(const std::vector<Family>& fs, const std::string& name) {
  for (const Family& f : fs)
    if (f.name == name) return f;
  ADD_FAILURE() << name << " missing";
  static const Family kNone;
  return kNone;
}

double single(const std::vector<Family>& fs, const std::string& name) {
  const Family& f = family(fs, name);
  EXPECT_EQ(f.samples.size(), 1u) << name;
  return f.samples.empty() ? -1 : f.samples.front().value;
}

constexpr const char* kPeerFamilies[] = {"wireguard_sent_bytes_total",
                                         "wireguard_received_bytes_total",
                                         "wireguard_latest_handshake_seconds",
                                         "wghub_peer_sent_packets_total",
                                         "wghub_peer_received_packets_total",
                                         "wghub_peer_session_up",
                                         "wghub_peer_info"};

std::map<std::uint32_t, Device::Peer> peers_0_to(std::uint32_t n) {
  std::map<std::uint32_t, Device::Peer> peers;
  for (std::uint32_t i = 0; i < n; ++i) peers.emplace(i, make_peer(i));
  return peers;
}

TEST(MetricsPerPeer, AThousandPeersEachWithTheirOwnLabelsAndValues) {
  constexpr std::uint32_t kPeers = 1000;
  const auto peers = peers_0_to(kPeers);
  dp::LcoreStats stats[2];
  dp::PeerCounterBlock b0(kPeers), b1(kPeers);
  for (std::uint32_t i = 0; i < kPeers; ++i) {
    b0.add_rx(i, 1000 + i, 1);
    b1.add_rx(i, 1, 1);
    b1.add_tx(i, 7 * i, 3);
  }
  const std::vector<MetricsLcore> lcores = {{"1", &stats[0], &b0}, {"2", &stats[1], &b1}};
  MetricsPeerCache cache;
  MetricsOptions options;
  options.peer_endpoints = true;
  const auto s = snapshot_of(peers, cache, options);
  const auto fs = parse(exposition(lcores, s.get()));

  for (const char* name : kPeerFamilies) EXPECT_EQ(family(fs, name).samples.size(), kPeers);
  const Family& rx = family(fs, "wireguard_received_bytes_total");
  for (std::uint32_t i = 0; i < kPeers; ++i) {
    const auto& sample = rx.samples[i];
    ASSERT_EQ(sample.labels.size(), 4u);
    EXPECT_EQ(sample.labels[0], (std::pair<std::string, std::string>{"interface", "wghub0"}));
    EXPECT_EQ(sample.labels[1].first, "public_key");
    EXPECT_EQ(sample.labels[1].second, crypto::key_to_base64(peers.at(i).public_key.data()));
    EXPECT_EQ(sample.labels[2].second, peers.at(i).allowed_ips[0].to_string());
    EXPECT_EQ(sample.labels[3],
              (std::pair<std::string, std::string>{"friendly_name", "site-" + std::to_string(i)}));
    EXPECT_EQ(sample.value, 1000.0 + i + 1) << i;
  }
  const Family& tx = family(fs, "wireguard_sent_bytes_total");
  EXPECT_EQ(tx.samples[999].value, 7.0 * 999);
  EXPECT_EQ(family(fs, "wghub_peer_sent_packets_total").samples[5].value, 3);
  EXPECT_EQ(family(fs, "wireguard_latest_handshake_seconds").samples[42].value, 1700000042);
  EXPECT_EQ(family(fs, "wghub_peer_session_up").samples[42].value, 1);
  EXPECT_EQ(family(fs, "wghub_peer_session_up").samples[43].value, 0);
  const auto& info = family(fs, "wghub_peer_info").samples[7];
  EXPECT_EQ(info.labels.back(),
            (std::pair<std::string, std::string>{"endpoint", "192.0.2.1:51820"}));
  EXPECT_EQ(single(fs, "wghub_peers_configured"), kPeers);
  EXPECT_EQ(single(fs, "wghub_peers_live"), kPeers / 2);
  EXPECT_EQ(single(fs, "wghub_peers_exported"), kPeers);
}

TEST(MetricsPerPeer, EndpointLabelsAreOptIn) {
  // A site's public IP:port is exported only with metrics.peer_endpoints.
  const auto peers = peers_0_to(3);
  MetricsPeerCache cache;
  testing::MetricsFixture fx;
  const auto fs = parse(exposition(fx.lcores, snapshot_of(peers, cache, {}).get()));
  const Family& info = family(fs, "wghub_peer_info");
  ASSERT_EQ(info.samples.size(), 3u);
  for (const auto& sample : info.samples)
    EXPECT_EQ(sample.labels.back(), (std::pair<std::string, std::string>{"endpoint", ""}));
  config::Metrics m;
  EXPECT_FALSE(metrics_options(m).peer_endpoints);
  m.peer_endpoints = true;
  EXPECT_TRUE(metrics_options(m).peer_endpoints);
}

TEST(MetricsPerPeer, NoneExportsNoPeerSeriesButStillCountsThePeers) {
  const auto peers = peers_0_to(10);
  MetricsPeerCache cache;
  MetricsOptions options;
  options.per_peer = false;
  const auto s = snapshot_of(peers, cache, options);
  EXPECT_TRUE(s->peers.empty());
  EXPECT_EQ(cache.size(), 0u);  // nothing rendered either
  testing::MetricsFixture fx;
  const auto fs = parse(exposition(fx.lcores, s.get()));
  // Every family is still declared (HELP, TYPE), with no sample.
  for (const char* name : kPeerFamilies) {
    EXPECT_EQ(family(fs, name).samples.size(), 0u) << name;
    EXPECT_FALSE(family(fs, name).help.empty()) << name;
  }
  EXPECT_EQ(single(fs, "wghub_peers_configured"), 10);
  EXPECT_EQ(single(fs, "wghub_peers_live"), 5);
  EXPECT_EQ(single(fs, "wghub_peers_exported"), 0);
}

TEST(MetricsPerPeer, ALimitExportsTheLowestSlotsAndCountsAll) {
  std::map<std::uint32_t, Device::Peer> peers;
  for (std::uint32_t slot : {9u, 2u, 40u, 5u, 17u}) peers.emplace(slot, make_peer(slot));
  MetricsPeerCache cache;
  MetricsOptions options;
  options.per_peer_limit = 3;
  const auto s = snapshot_of(peers, cache, options);
  ASSERT_EQ(s->peers.size(), 3u);
  EXPECT_EQ(s->peers[0].slot, 2u);
  EXPECT_EQ(s->peers[1].slot, 5u);
  EXPECT_EQ(s->peers[2].slot, 9u);
  testing::MetricsFixture fx;
  const auto fs = parse(exposition(fx.lcores, s.get()));
  for (const char* name : kPeerFamilies) EXPECT_EQ(family(fs, name).samples.size(), 3u) << name;
  EXPECT_EQ(single(fs, "wghub_peers_configured"), 5);
  EXPECT_EQ(single(fs, "wghub_peers_exported"), 3);

  // A limit above the peer count exports them all.
  options.per_peer_limit = 100;
  EXPECT_EQ(snapshot_of(peers, cache, options)->peers.size(), 5u);
}

TEST(MetricsPerPeer, OptionsComeFromTheConfig) {
  config::Metrics m;
  EXPECT_TRUE(metrics_options(m).per_peer);
  EXPECT_EQ(metrics_options(m).per_peer_limit, 0u);
  m.per_peer = config::PerPeerMetrics::kNone;
  EXPECT_FALSE(metrics_options(m).per_peer);
  m.per_peer = config::PerPeerMetrics::kAll;
  m.per_peer_limit = 250;
  EXPECT_EQ(metrics_options(m).per_peer_limit, 250u);
}

TEST(MetricsPeerCache, LabelsAreRenderedOnceAndAgainWhenThePeerChanges) {
  auto peers = peers_0_to(3);
  MetricsPeerCache cache;
  const auto first = snapshot_of(peers, cache, {});
  const auto second = snapshot_of(peers, cache, {});
  EXPECT_EQ(cache.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(first->peers[i].labels, second->peers[i].labels);

  // wg set ... allowed-ips: new label text for that peer only.
  peers.at(1).allowed_ips.push_back(*config::Prefix::parse("fd00:1::/64").value);
  // A removed peer's slot reused by another key and name.
  peers.at(2).public_key.fill(0xee);
  peers.at(2).name = "kiosk";
  const auto third = snapshot_of(peers, cache, {});
  EXPECT_EQ(third->peers[0].labels, first->peers[0].labels);
  EXPECT_NE(third->peers[1].labels, first->peers[1].labels);
  EXPECT_NE(third->peers[1].labels->series.find("allowed_ips=\"10.1.1.0/32,fd00:1::/64\""),
            std::string::npos)
      << third->peers[1].labels->series;
  EXPECT_NE(third->peers[2].labels->series.find("friendly_name=\"kiosk\""), std::string::npos);
  EXPECT_NE(
      third->peers[2].labels->series.find(crypto::key_to_base64(peers.at(2).public_key.data())),
      std::string::npos);
  // The snapshot already published keeps the labels it was built with.
  EXPECT_NE(first->peers[2].labels->series.find("friendly_name=\"site-2\""), std::string::npos);
}

TEST(MetricsPeerLabels, EscapedOnceInTheTextFormat) {
  const auto l = render_peer_labels("wg\\0", "k=", "10.0.0.0/8", "a \"b\"\nc");
  EXPECT_EQ(l->series,
            "{interface=\"wg\\\\0\",public_key=\"k=\",allowed_ips=\"10.0.0.0/8\","
            "friendly_name=\"a \\\"b\\\"\\nc\"}");
  EXPECT_EQ(
      l->info_prefix,
      "{interface=\"wg\\\\0\",public_key=\"k=\",friendly_name=\"a \\\"b\\\"\\nc\",endpoint=\"");
}

// --- gzip over HTTP, as Prometheus asks for it ---

std::string gunzip(const std::string& in) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[65536];
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
  } while (rc == Z_OK);
  EXPECT_EQ(rc, Z_STREAM_END);
  inflateEnd(&zs);
  return out;
}

TEST(MetricsExporter, GzipWhenAskedAndTheSameText) {
  testing::MetricsFixture fx;
  std::string error;
  auto exporter = MetricsExporter::start("127.0.0.1:0", fx.lcores, {}, error);
  ASSERT_NE(exporter, nullptr) << error;
  exporter->publish(fx.snapshot);

  const std::string plain = http_get(exporter->port(), "/metrics");
  const std::string zipped = http_get(exporter->port(), "/metrics", "Accept-Encoding: gzip\r\n");
  ASSERT_TRUE(zipped.starts_with("HTTP/1.1 200")) << zipped.substr(0, 200);
  const std::size_t head_end = zipped.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  const std::string head = zipped.substr(0, head_end);
  EXPECT_NE(head.find("Content-Encoding: gzip"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << head;
  EXPECT_EQ(plain.find("Content-Encoding"), std::string::npos);

  const std::string text = gunzip(zipped.substr(head_end + 4));
  // Both carry what exposition() writes, then the server's own families.
  EXPECT_TRUE(text.starts_with(exporter->scrape_text()));
  EXPECT_NE(plain.find(exporter->scrape_text()), std::string::npos);
  const auto fs = parse(text);
  EXPECT_EQ(single(fs, "wghub_peers_configured"), 3);
  EXPECT_EQ(single(fs, "exposer_scrapes_total"), 1);  // the plain scrape before this one
  EXPECT_EQ(family(fs, "exposer_request_latencies").type, "summary");
}

}  // namespace
}  // namespace wghub::ctl
