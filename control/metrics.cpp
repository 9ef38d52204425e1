// The fixed metric families (ports, lcores, drops, handshakes, load, peer
// counts) through prometheus-cpp, and the whole exposition of a scrape. The
// per-peer families are in metrics_peers.cpp, the HTTP server in
// metrics_server.cpp, the control thread's snapshot in metrics_snapshot.cpp.
// See metrics.hpp for who reads what, and docs/metrics.md for the names.
#include "control/metrics.hpp"

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <limits>
#include <sstream>
#include <utility>

#include "config/model.hpp"
#include "dataplane/context.hpp"

namespace wghub::ctl {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

constexpr const char* kPortNames[dp::kStatsPortCount] = {"wan", "lan"};
constexpr const char* kControlLcore = "control";

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

// Counters are exported as doubles (the text format has no integers):
// exact up to 2^53, i.e. 9 PB of bytes.
void add_counter(MetricFamily& f, Labels labels, std::uint64_t value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = static_cast<double>(value);
  f.metric.push_back(std::move(m));
}

void add_gauge(MetricFamily& f, Labels labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

// The peer counts: every configured peer, whatever metrics.per_peer exports.
void collect_peer_counts(const MetricsSnapshot* s, std::vector<MetricFamily>& out) {
  MetricFamily configured =
      family("wghub_peers_configured", "Peers in the running configuration", MetricType::Gauge);
  add_gauge(configured, {}, s != nullptr ? static_cast<double>(s->peers_configured) : 0);
  MetricFamily live = family("wghub_peers_live", "Peers with a live session", MetricType::Gauge);
  add_gauge(live, {}, s != nullptr ? static_cast<double>(s->peers_live) : 0);
  MetricFamily exported =
      family("wghub_peers_exported",
             "Peers whose per-peer series this scrape carries (config metrics.per_peer, "
             "metrics.per_peer_limit)",
             MetricType::Gauge);
  add_gauge(exported, {}, s != nullptr ? static_cast<double>(s->peers.size()) : 0);
  out.push_back(std::move(configured));
  out.push_back(std::move(live));
  out.push_back(std::move(exported));
}

void collect_lcores(std::span<const MetricsLcore> lcores, const MetricsSnapshot* s,
                    std::vector<MetricFamily>& out) {
  MetricFamily rx_packets =
      family("wghub_rx_packets_total", "Frames received on a port, by the lcore that polled them",
             MetricType::Counter);
  MetricFamily rx_bytes =
      family("wghub_rx_bytes_total", "Bytes (whole frames) received on a port, by lcore",
             MetricType::Counter);
  MetricFamily tx_packets =
      family("wghub_tx_packets_total",
             "Frames sent on a port, by lcore (lcore=\"control\": the control thread's own queue)",
             MetricType::Counter);
  MetricFamily tx_bytes = family(
      "wghub_tx_bytes_total", "Bytes (whole frames) sent on a port, by lcore", MetricType::Counter);
  MetricFamily decrypted_packets =
      family("wghub_decrypted_packets_total", "Data messages decrypted and authenticated, by lcore",
             MetricType::Counter);
  MetricFamily decrypted_bytes =
      family("wghub_decrypted_bytes_total", "Plaintext bytes of decrypted data messages, by lcore",
             MetricType::Counter);
  MetricFamily encrypted_packets = family("wghub_encrypted_packets_total",
                                          "Data messages encrypted, by lcore", MetricType::Counter);
  MetricFamily encrypted_bytes =
      family("wghub_encrypted_bytes_total", "Plaintext bytes of encrypted data messages, by lcore",
             MetricType::Counter);
  MetricFamily to_control =
      family("wghub_handshake_messages_to_control_total",
             "Handshake-class messages a worker passed to the control thread, by lcore",
             MetricType::Counter);
  MetricFamily fragments =
      family("wghub_fragments_created_total",
             "IPv4 fragments made from packets over the tunnel MTU (DF clear), by lcore",
             MetricType::Counter);
  MetricFamily icmp_errors = family(
      "wghub_icmp_errors_total",
      "ICMP fragmentation-needed / ICMPv6 Packet Too Big errors about packets over the tunnel "
      "MTU, by lcore and result (sent, rate_limited, suppressed)",
      MetricType::Counter);
  MetricFamily drops = family("wghub_dropped_packets_total",
                              "Packets discarded, by lcore and reason (dataplane/drop_reason.hpp)",
                              MetricType::Counter);

  for (const MetricsLcore& l : lcores) {
    if (l.stats == nullptr) continue;
    const dp::LcoreStats st = dp::snapshot(*l.stats);  // relaxed loads, no lock
    for (unsigned p = 0; p < dp::kStatsPortCount; ++p) {
      const Labels labels = {{"lcore", l.lcore}, {"port", kPortNames[p]}};
      add_counter(rx_packets, labels, st.rx_packets[p]);
      add_counter(rx_bytes, labels, st.rx_bytes[p]);
      add_counter(tx_packets, labels, st.tx_packets[p]);
      add_counter(tx_bytes, labels, st.tx_bytes[p]);
    }
    const Labels labels = {{"lcore", l.lcore}};
    add_counter(decrypted_packets, labels, st.decrypted_packets);
    add_counter(decrypted_bytes, labels, st.decrypted_bytes);
    add_counter(encrypted_packets, labels, st.encrypted_packets);
    add_counter(encrypted_bytes, labels, st.encrypted_bytes);
    add_counter(to_control, labels, st.handshakes_to_control);
    add_counter(fragments, labels, st.fragments_created);
    add_counter(icmp_errors, {{"lcore", l.lcore}, {"result", "sent"}}, st.icmp_errors_sent);
    add_counter(icmp_errors, {{"lcore", l.lcore}, {"result", "rate_limited"}},
                st.icmp_errors_rate_limited);
    add_counter(icmp_errors, {{"lcore", l.lcore}, {"result", "suppressed"}},
                st.icmp_errors_suppressed);
    // Index 0 is kNone: never counted, not exported.
    for (std::size_t r = 1; r < dp::kDropReasonCount; ++r)
      add_counter(drops, {{"lcore", l.lcore}, {"reason", std::string(dp::kDropReasonNames[r])}},
                  st.drops[r]);
  }

  // The control thread's own tx queue, and what it dropped itself.
  for (unsigned p = 0; p < dp::kStatsPortCount; ++p) {
    const Labels labels = {{"lcore", kControlLcore}, {"port", kPortNames[p]}};
    add_counter(tx_packets, labels, s != nullptr ? s->control_tx_packets[p] : 0);
    add_counter(tx_bytes, labels, s != nullptr ? s->control_tx_bytes[p] : 0);
  }
  add_counter(drops,
              {{"lcore", kControlLcore},
               {"reason", std::string(dp::drop_reason_name(dp::DropReason::kTxFull))}},
              s != nullptr ? s->control_tx_failed : 0);
  add_counter(drops,
              {{"lcore", kControlLcore},
               {"reason", std::string(dp::drop_reason_name(dp::DropReason::kNoNeighbour))}},
              s != nullptr ? s->control_held_dropped : 0);
  add_counter(drops,
              {{"lcore", kControlLcore},
               {"reason", std::string(dp::drop_reason_name(dp::DropReason::kBadNdp))}},
              s != nullptr ? s->control_bad_ndp : 0);

  for (MetricFamily* f :
       {&rx_packets, &rx_bytes, &tx_packets, &tx_bytes, &decrypted_packets, &decrypted_bytes,
        &encrypted_packets, &encrypted_bytes, &to_control, &fragments, &icmp_errors, &drops})
    out.push_back(std::move(*f));
}

void collect_control(const MetricsSnapshot* s, std::vector<MetricFamily>& out) {
  {
    MetricFamily missed = family("wghub_port_rx_missed_packets_total",
                                 "Frames dropped on receive because the rx ring was full (no "
                                 "worker saw them): the driver's imissed, and for net_af_packet "
                                 "the kernel's drops on its sockets",
                                 MetricType::Counter);
    MetricFamily nombuf = family("wghub_port_rx_nombuf_total",
                                 "Receive failures for want of an mbuf", MetricType::Counter);
    MetricFamily errors =
        family("wghub_port_rx_errors_total",
               "Erroneous frames the port's driver dropped on receive", MetricType::Counter);
    MetricFamily refused =
        family("wghub_neighbour_incomplete_refused_total",
               "Addresses the hub did not start resolving (ARP / NDP) because incomplete neighbour "
               "entries already fill their quarter of the table",
               MetricType::Counter);
    for (unsigned p = 0; p < dp::kStatsPortCount; ++p) {
      const Labels labels = {{"port", kPortNames[p]}};
      add_counter(missed, labels, s != nullptr ? s->port_rx_missed[p] : 0);
      add_counter(nombuf, labels, s != nullptr ? s->port_rx_nombuf[p] : 0);
      add_counter(errors, labels, s != nullptr ? s->port_rx_errors[p] : 0);
      add_counter(refused, labels, s != nullptr ? s->neighbour_incomplete_refused[p] : 0);
    }
    out.push_back(std::move(missed));
    out.push_back(std::move(nombuf));
    out.push_back(std::move(errors));
    out.push_back(std::move(refused));
  }

  static const HandshakeCounters kZero{};
  const HandshakeCounters& hs = s != nullptr ? s->handshakes : kZero;

  std::uint64_t failed = 0;
  for (std::uint64_t d : hs.drops) failed += d;

  MetricFamily handshakes =
      family("wghub_handshakes_total",
             "Handshake messages that derived a session (result=completed) or were refused "
             "(result=failed; see wghub_handshake_failures_total)",
             MetricType::Counter);
  add_counter(handshakes, {{"result", "completed"}}, hs.sessions_derived);
  add_counter(handshakes, {{"result", "failed"}}, failed);

  MetricFamily failures =
      family("wghub_handshake_failures_total", "Handshake-class messages refused, by reason",
             MetricType::Counter);
  for (std::size_t d = 0; d < static_cast<std::size_t>(HandshakeDrop::kCount); ++d)
    add_counter(failures, {{"reason", std::string(to_string(static_cast<HandshakeDrop>(d)))}},
                hs.drops[d]);

  MetricFamily received =
      family("wghub_handshake_messages_received_total",
             "Handshake-class messages the control thread processed, by type", MetricType::Counter);
  add_counter(received, {{"type", "initiation"}}, hs.initiations_received);
  add_counter(received, {{"type", "response"}}, hs.responses_received);
  add_counter(received, {{"type", "cookie_reply"}}, hs.cookie_replies_received);

  MetricFamily sent = family("wghub_handshake_messages_sent_total",
                             "Handshake-class messages sent, by type", MetricType::Counter);
  add_counter(sent, {{"type", "initiation"}}, hs.initiations_sent);
  add_counter(sent, {{"type", "response"}}, hs.responses_sent);
  add_counter(sent, {{"type", "cookie_reply"}}, hs.cookie_replies_sent);

  MetricFamily cookies =
      family("wghub_cookie_replies_sent_total",
             "Cookie replies sent (under load, to initiations without mac2)", MetricType::Counter);
  add_counter(cookies, {}, hs.cookie_replies_sent);

  MetricFamily under_load =
      family("wghub_under_load",
             "1 while the hub is under load (handshake ring past 1/8 full, held 1 s) and the "
             "workers answer handshakes without mac2 with cookies, else 0",
             MetricType::Gauge);
  add_gauge(under_load, {}, s != nullptr && s->under_load ? 1 : 0);

  MetricFamily entered = family("wghub_under_load_entered_total",
                                "Times the hub entered the under-load state", MetricType::Counter);
  add_counter(entered, {}, s != nullptr ? s->under_load_entered : 0);

  MetricFamily suppressed =
      family("wghub_log_lines_suppressed_total",
             "handshake_failed log and audit lines held back by their budget (10/s, burst 20)",
             MetricType::Counter);
  add_counter(suppressed, {}, s != nullptr ? s->log_lines_suppressed : 0);

  MetricFamily dropped =
      family("wghub_log_lines_dropped_total",
             "Log and audit lines dropped because stdout or the audit log was not read fast enough",
             MetricType::Counter);
  add_counter(dropped, {}, s != nullptr ? s->log_lines_dropped : 0);

  MetricFamily prepared =
      family("wghub_handshake_threads_prepared_total",
             "Initiations whose responder crypto ran on a handshake thread", MetricType::Counter);
  add_counter(prepared, {}, s != nullptr ? s->handshake_threads_prepared : 0);

  MetricFamily queue_full =
      family("wghub_handshake_threads_queue_full_total",
             "Handshake messages dropped: the handshake threads' queue to the control thread "
             "was full (1,024)",
             MetricType::Counter);
  add_counter(queue_full, {}, s != nullptr ? s->handshake_threads_queue_full : 0);

  MetricFamily ring =
      family("wghub_control_ring_occupancy",
             "Messages queued from the workers to the control thread", MetricType::Gauge);
  add_gauge(ring, {}, s != nullptr ? static_cast<double>(s->control_ring_count) : 0);
  MetricFamily ring_capacity = family("wghub_control_ring_capacity",
                                      "Capacity of the workers-to-control ring", MetricType::Gauge);
  add_gauge(ring_capacity, {}, s != nullptr ? static_cast<double>(s->control_ring_capacity) : 0);

  MetricFamily staged = family(
      "wghub_staged_packets_total",
      "Packets for a peer without a session that waited for the handshake: queued, then sent, "
      "or dropped (overflow: over 128 waiting for the peer; purged: the handshake gave up or "
      "the peer was removed)",
      MetricType::Counter);
  add_counter(staged, {{"result", "queued"}}, s != nullptr ? s->staged_queued : 0);
  add_counter(staged, {{"result", "sent"}}, s != nullptr ? s->staged_sent : 0);
  add_counter(staged, {{"result", "overflow"}}, s != nullptr ? s->staged_overflow : 0);
  add_counter(staged, {{"result", "purged"}}, s != nullptr ? s->staged_purged : 0);
  add_counter(staged, {{"result", "over_budget"}}, s != nullptr ? s->staged_over_budget : 0);
  MetricFamily waiting =
      family("wghub_staged_packets", "Packets waiting for a handshake now, all peers together",
             MetricType::Gauge);
  add_gauge(waiting, {}, s != nullptr ? static_cast<double>(s->staged_waiting) : 0);

  for (MetricFamily* f :
       {&handshakes, &failures, &received, &sent, &cookies, &under_load, &entered, &suppressed,
        &dropped, &prepared, &queue_full, &ring, &ring_capacity, &staged, &waiting})
    out.push_back(std::move(*f));
}

// The control thread's polls (poll_histogram.hpp): the stalls its rings and
// the wg(8) socket waited through.
void collect_control_polls(const MetricsSnapshot* s, std::vector<MetricFamily>& out) {
  const PollHistogram empty;
  const PollHistogram& h = s != nullptr ? s->control_polls : empty;
  MetricFamily polls =
      family("wghub_control_poll_seconds",
             "How long the control thread's polls took (what a handshake, ARP or wg(8) request "
             "queued for it waits through at most)",
             MetricType::Histogram);
  ClientMetric m;
  m.histogram.sample_count = h.count;
  m.histogram.sample_sum = h.sum_seconds;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= PollHistogram::kBounds.size(); ++i) {
    cumulative += h.counts[i];
    m.histogram.bucket.push_back({cumulative, i < PollHistogram::kBounds.size()
                                                  ? PollHistogram::kBounds[i]
                                                  : std::numeric_limits<double>::infinity()});
  }
  polls.metric.push_back(std::move(m));
  MetricFamily longest =
      family("wghub_control_poll_longest_seconds",
             "The control thread's longest poll since the hub started", MetricType::Gauge);
  add_gauge(longest, {}, h.longest_seconds);
  out.push_back(std::move(polls));
  out.push_back(std::move(longest));
}

// Peers from etcd (docs/ha.md): only when the config has a store.
void collect_store(const MetricsSnapshot* s, std::vector<MetricFamily>& out) {
  if (s == nullptr || !s->store_enabled) return;
  MetricFamily connected =
      family("wghub_store_connected", "1 while etcd answers (the prefix is read and watched)",
             MetricType::Gauge);
  add_gauge(connected, {}, s->store_connected ? 1 : 0);
  MetricFamily revision =
      family("wghub_store_revision",
             "etcd revision of the newest store state seen, and of the one running (applied)",
             MetricType::Gauge);
  add_gauge(revision, {{"state", "seen"}}, static_cast<double>(s->store_revision_seen));
  add_gauge(revision, {{"state", "applied"}}, static_cast<double>(s->store_revision_applied));
  MetricFamily contact = family(
      "wghub_store_last_contact_timestamp_seconds",
      "Unix time etcd last answered (a read, a watch event, or the 5 s probe of a quiet watch)",
      MetricType::Gauge);
  add_gauge(contact, {}, static_cast<double>(s->store_last_contact_unix));
  MetricFamily lag = family("wghub_store_apply_lag_seconds",
                            "The last store change: from its watch event to its last peer applied",
                            MetricType::Gauge);
  add_gauge(lag, {}, s->store_last_lag_seconds);
  MetricFamily changes =
      family("wghub_store_peer_changes_total", "Peers added, removed or changed from the store",
             MetricType::Counter);
  add_counter(changes, {}, s->store_peer_changes);
  MetricFamily refused = family(
      "wghub_store_refused_total",
      "Store states refused for errors in a peer's value (nothing applied)", MetricType::Counter);
  add_counter(refused, {}, s->store_refused);
  MetricFamily reconnects =
      family("wghub_store_reconnects_total",
             "Times etcd was lost and found again (a full resync each)", MetricType::Counter);
  add_counter(reconnects, {}, s->store_reconnects);
  for (MetricFamily* f : {&connected, &revision, &contact, &lag, &changes, &refused, &reconnects})
    out.push_back(std::move(*f));
}

// Leader election (docs/ha.md): only when the store has election: true.
void collect_ha(const MetricsSnapshot* s, std::vector<MetricFamily>& out) {
  if (s == nullptr || !s->ha_enabled) return;
  MetricFamily role = family("wghub_ha_role",
                             "1 for this hub's role now: active (holds the lease, answers) or "
                             "standby (answers nothing on either port)",
                             MetricType::Gauge);
  add_gauge(role, {{"role", "active"}}, s->ha_active ? 1 : 0);
  add_gauge(role, {{"role", "standby"}}, s->ha_active ? 0 : 1);
  MetricFamily leaders =
      family("wghub_ha_leader_changes_total",
             "Times the leader key's holder changed, as this hub saw it", MetricType::Counter);
  add_counter(leaders, {}, s->ha_leader_changes);
  MetricFamily roles =
      family("wghub_ha_role_changes_total",
             "Times this hub became active (a takeover) or standby (fenced)", MetricType::Counter);
  add_counter(roles, {{"to", "active"}}, s->ha_became_active);
  add_counter(roles, {{"to", "standby"}}, s->ha_became_standby);
  MetricFamily keepalives = family(
      "wghub_ha_keepalive_failures_total",
      "Lease keepalives that failed (each stops the WAN until one succeeds)", MetricType::Counter);
  add_counter(keepalives, {}, s->ha_keepalive_failures);
  MetricFamily fenced = family(
      "wghub_ha_fenced_frames_total",
      "Frames the control thread did not send because this hub is a standby", MetricType::Counter);
  add_counter(fenced, {}, s->ha_fenced_frames);
  MetricFamily announced =
      family("wghub_ha_announcements_total",
             "Gratuitous ARPs and unsolicited NAs sent on becoming active", MetricType::Counter);
  add_counter(announced, {}, s->ha_announcements);
  MetricFamily takeover =
      family("wghub_ha_takeover_handshakes_total",
             "Handshakes started on takeover to endpoints the previous active hub published",
             MetricType::Counter);
  add_counter(takeover, {}, s->ha_takeover_handshakes);
  MetricFamily published =
      family("wghub_ha_endpoints_published_total",
             "Peer endpoints this hub wrote to etcd while active (changes only, batched)",
             MetricType::Counter);
  add_counter(published, {}, s->ha_endpoints_published);
  for (MetricFamily* f :
       {&role, &leaders, &roles, &keepalives, &fenced, &announced, &takeover, &published})
    out.push_back(std::move(*f));
  if (!s->ha_failsafe_enabled) return;
  MetricFamily on = family("wghub_ha_failsafe_answering",
                           "1 while this hub answers with etcd unreachable, on the promises of "
                           "every other hub not to campaign (failsafe mode)",
                           MetricType::Gauge);
  add_gauge(on, {}, s->ha_failsafe_answering ? 1 : 0);
  MetricFamily rounds = family(
      "wghub_ha_failsafe_rounds_total",
      "Promise rounds this hub ran while etcd was unreachable: ok (every other hub promised) or "
      "failed (one refused or did not answer: the hub fences)",
      MetricType::Counter);
  add_counter(rounds, {{"result", "ok"}}, s->ha_failsafe.rounds_ok);
  add_counter(rounds, {{"result", "failed"}}, s->ha_failsafe.rounds_failed);
  MetricFamily promises =
      family("wghub_ha_failsafe_promises_total",
             "Promise requests from the active hub: given, or refused (this hub campaigns or "
             "holds the lease)",
             MetricType::Counter);
  add_counter(promises, {{"result", "given"}}, s->ha_failsafe.promises_given);
  add_counter(promises, {{"result", "refused"}}, s->ha_failsafe.promises_refused);
  MetricFamily bad = family("wghub_ha_failsafe_bad_datagrams_total",
                            "Datagrams on store.failsafe_listen dropped: bad format or MAC, "
                            "replayed, or a sender's clock more than 10 s off",
                            MetricType::Counter);
  add_counter(bad, {}, s->ha_failsafe.bad_datagrams);
  for (MetricFamily* f : {&on, &rounds, &promises, &bad}) out.push_back(std::move(*f));
}

}  // namespace

std::vector<MetricFamily> collect_fixed(std::span<const MetricsLcore> lcores,
                                        const MetricsSnapshot* snapshot) {
  std::vector<MetricFamily> out;
  out.reserve(32);
  collect_peer_counts(snapshot, out);
  collect_lcores(lcores, snapshot, out);
  collect_control(snapshot, out);
  collect_control_polls(snapshot, out);
  collect_store(snapshot, out);
  collect_ha(snapshot, out);
  return out;
}

std::string exposition(std::span<const MetricsLcore> lcores, const MetricsSnapshot* snapshot) {
  std::string out;
  append_peer_series(lcores, snapshot, out);
  std::ostringstream fixed;
  prometheus::TextSerializer().Serialize(fixed, collect_fixed(lcores, snapshot));
  out += fixed.view();
  return out;
}

std::vector<MetricsLcore> metrics_lcores(const dp::Dataplane& dp,
                                         std::span<const unsigned> lcore_ids) {
  std::vector<MetricsLcore> out;
  for (std::size_t i = 0; i < dp.worker_stats.size(); ++i) {
    MetricsLcore l;
    l.lcore = i < lcore_ids.size() ? std::to_string(lcore_ids[i]) : "worker" + std::to_string(i);
    l.stats = dp.worker_stats[i].get();
    l.peer_counters =
        i < dp.worker_peer_counters.size() ? dp.worker_peer_counters[i].get() : nullptr;
    out.push_back(std::move(l));
  }
  return out;
}

std::string metrics_bind_address(const config::Metrics& metrics) {
  return metrics.listen.to_string();  // "a.b.c.d:port" / "[v6]:port", as civetweb takes it
}

}  // namespace wghub::ctl
