// The per-peer families (wireguard_*, wghub_peer_*) written straight into the
// text exposition format. With 100k peers they are 700k series: through
// prometheus-cpp each one was a ClientMetric with a vector of four label
// pairs (eight strings), then an ostream write that escaped every label value
// and formatted every value as a double. Here the label sets are rendered and
// escaped once per peer (MetricsPeerLabels, when the peer appears), and a
// scrape copies them and formats integers with to_chars.
#include <algorithm>
#include <charconv>
#include <string_view>

#include "control/device.hpp"
#include "control/metrics.hpp"

namespace wghub::ctl {

namespace {

// Text format 0.0.4: in a label value, backslash, double quote and line feed
// are escaped.
void append_label_value(std::string& out, std::string_view v) {
  for (const char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void append_label(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += "=\"";
  append_label_value(out, value);
  out += '"';
}

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// The help texts are constants without backslashes or line feeds: no escaping.
void append_head(std::string& out, std::string_view name, std::string_view help,
                 std::string_view type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

// a - b, or 0 when a slot's totals went below the recorded base (a snapshot
// a moment older than a slot reuse): counters must not go backwards by 2^64.
std::uint64_t since(std::uint64_t now, std::uint64_t base) {
  return now >= base ? now - base : 0;
}

// The live totals of one exported peer, since it was added.
struct PeerValues {
  std::uint64_t tx_bytes, rx_bytes, tx_packets, rx_packets;
};

}  // namespace

std::shared_ptr<MetricsPeerLabels> render_peer_labels(std::string_view interface_name,
                                                      std::string_view public_key_base64,
                                                      std::string_view allowed_ips,
                                                      std::string_view name) {
  auto l = std::make_shared<MetricsPeerLabels>();
  l->name = std::string(name);
  std::string& s = l->series;
  s += '{';
  append_label(s, "interface", interface_name);
  s += ',';
  append_label(s, "public_key", public_key_base64);
  s += ',';
  append_label(s, "allowed_ips", allowed_ips);
  s += ',';
  append_label(s, "friendly_name", name);
  s += '}';
  std::string& i = l->info_prefix;
  i += '{';
  append_label(i, "interface", interface_name);
  i += ',';
  append_label(i, "public_key", public_key_base64);
  i += ',';
  append_label(i, "friendly_name", name);
  i += ",endpoint=\"";
  return l;
}

void append_peer_series(std::span<const MetricsLcore> lcores, const MetricsSnapshot* s,
                        std::string& out) {
  const std::span<const MetricsPeer> peers =
      s != nullptr ? std::span<const MetricsPeer>(s->peers) : std::span<const MetricsPeer>();

  // Each peer's counter blocks are read once, not once per family.
  std::vector<const dp::PeerCounterBlock*> blocks;
  blocks.reserve(lcores.size());
  for (const MetricsLcore& l : lcores) blocks.push_back(l.peer_counters);
  std::vector<PeerValues> values;
  values.reserve(peers.size());
  std::size_t label_bytes = 0;
  for (const MetricsPeer& p : peers) {
    dp::PeerCounters now = dp::sum_peer_counters(blocks, p.slot);
    now += p.control;
    values.push_back({since(now.tx_bytes, p.counter_base.tx_bytes),
                      since(now.rx_bytes, p.counter_base.rx_bytes),
                      since(now.tx_packets, p.counter_base.tx_packets),
                      since(now.rx_packets, p.counter_base.rx_packets)});
    label_bytes += p.labels->series.size();
  }
  // Seven series per peer of name + labels + value: one allocation for the
  // whole text instead of ~27 doublings of a 100 MB string.
  out.reserve(out.size() + 7 * label_bytes + 7 * 60 * peers.size() + 4096);

  struct Family {
    std::string_view name, help, type;
    std::uint64_t (*value)(const PeerValues&, const MetricsPeer&);
  };
  static constexpr Family kFamilies[] = {
      {"wireguard_sent_bytes_total", "Bytes sent to the peer", "counter",
       [](const PeerValues& v, const MetricsPeer&) { return v.tx_bytes; }},
      {"wireguard_received_bytes_total", "Bytes received from the peer", "counter",
       [](const PeerValues& v, const MetricsPeer&) { return v.rx_bytes; }},
      {"wireguard_latest_handshake_seconds",
       "Unix time of the peer's latest completed handshake (0 = never)", "gauge", nullptr},
      {"wghub_peer_sent_packets_total", "Data packets (keepalives included) encrypted to the peer",
       "counter", [](const PeerValues& v, const MetricsPeer&) { return v.tx_packets; }},
      {"wghub_peer_received_packets_total",
       "Data packets (keepalives included) decrypted from the peer", "counter",
       [](const PeerValues& v, const MetricsPeer&) { return v.rx_packets; }},
      {"wghub_peer_session_up", "1 while the peer has a live session (a current keypair) else 0",
       "gauge",
       [](const PeerValues&, const MetricsPeer& p) { return std::uint64_t{p.live_session}; }},
  };
  for (const Family& f : kFamilies) {
    append_head(out, f.name, f.help, f.type);
    for (std::size_t i = 0; i < peers.size(); ++i) {
      out += f.name;
      out += peers[i].labels->series;
      out += ' ';
      if (f.value != nullptr) {
        append_uint(out, f.value(values[i], peers[i]));
      } else {
        append_int(out, peers[i].latest_handshake_unix);  // a signed time, not a counter
      }
      out += '\n';
    }
  }

  constexpr std::string_view kInfo = "wghub_peer_info";
  append_head(out, kInfo,
              "Always 1; the endpoint label is the peer's last authenticated outer address "
              "(empty if none, or unless metrics.peer_endpoints is true)",
              "gauge");
  for (const MetricsPeer& p : peers) {
    out += kInfo;
    out += p.labels->info_prefix;
    // Formatted here, on the scrape's thread, not on the control thread.
    if (!p.endpoint.empty()) append_label_value(out, format_endpoint(p.endpoint));
    out += "\"} 1\n";
  }
}

}  // namespace wghub::ctl
