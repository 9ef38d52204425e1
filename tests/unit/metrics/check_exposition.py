#!/usr/bin/env python3
"""Parses wghub's exposition with a real Prometheus text-format parser.

usage: check_exposition.py METRICS_DUMP DASHBOARD_JSON

METRICS_DUMP is the program built from metrics_dump.cpp (the exporter on the
inputs of fixture.hpp). The exposition is taken twice: from its stdout
(prometheus-cpp's TextSerializer) and over HTTP from the real exporter on
127.0.0.1 (`metrics_dump --serve`). Each is parsed with
prometheus_client.parser.text_string_to_metric_families (Debian
python3-prometheus-client) and checked for types, label sets and the fixture's
values; then every metric name the Grafana dashboard's queries use must be in
it.
"""

import json
import re
import subprocess
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

PEER_LABELS = {"interface", "public_key", "allowed_ips", "friendly_name"}

# family name as exported -> (type, label names). prometheus_client strips
# the _total suffix from counter family names; samples keep it.
EXPECTED = {
    "wireguard_sent_bytes_total": ("counter", PEER_LABELS),
    "wireguard_received_bytes_total": ("counter", PEER_LABELS),
    "wireguard_latest_handshake_seconds": ("gauge", PEER_LABELS),
    "wghub_peer_sent_packets_total": ("counter", PEER_LABELS),
    "wghub_peer_received_packets_total": ("counter", PEER_LABELS),
    "wghub_peer_session_up": ("gauge", PEER_LABELS),
    "wghub_peer_info": ("gauge", {"interface", "public_key", "friendly_name", "endpoint"}),
    "wghub_peers_configured": ("gauge", set()),
    "wghub_peers_live": ("gauge", set()),
    "wghub_peers_exported": ("gauge", set()),
    "wghub_rx_packets_total": ("counter", {"lcore", "port"}),
    "wghub_rx_bytes_total": ("counter", {"lcore", "port"}),
    "wghub_tx_packets_total": ("counter", {"lcore", "port"}),
    "wghub_tx_bytes_total": ("counter", {"lcore", "port"}),
    "wghub_decrypted_packets_total": ("counter", {"lcore"}),
    "wghub_decrypted_bytes_total": ("counter", {"lcore"}),
    "wghub_encrypted_packets_total": ("counter", {"lcore"}),
    "wghub_encrypted_bytes_total": ("counter", {"lcore"}),
    "wghub_handshake_messages_to_control_total": ("counter", {"lcore"}),
    "wghub_fragments_created_total": ("counter", {"lcore"}),
    "wghub_icmp_errors_total": ("counter", {"lcore", "result"}),
    "wghub_dropped_packets_total": ("counter", {"lcore", "reason"}),
    "wghub_handshakes_total": ("counter", {"result"}),
    "wghub_handshake_failures_total": ("counter", {"reason"}),
    "wghub_handshake_messages_received_total": ("counter", {"type"}),
    "wghub_handshake_messages_sent_total": ("counter", {"type"}),
    "wghub_cookie_replies_sent_total": ("counter", set()),
    "wghub_under_load": ("gauge", set()),
    "wghub_under_load_entered_total": ("counter", set()),
    "wghub_log_lines_suppressed_total": ("counter", set()),
    "wghub_log_lines_dropped_total": ("counter", set()),
    "wghub_handshake_threads_prepared_total": ("counter", set()),
    "wghub_handshake_threads_queue_full_total": ("counter", set()),
    "wghub_control_ring_occupancy": ("gauge", set()),
    "wghub_control_ring_capacity": ("gauge", set()),
    "wghub_staged_packets_total": ("counter", {"result"}),
    "wghub_staged_packets": ("gauge", set()),
    "wghub_control_poll_seconds": ("histogram", set()),
    "wghub_control_poll_longest_seconds": ("gauge", set()),
    "wghub_port_rx_missed_packets_total": ("counter", {"port"}),
    "wghub_port_rx_nombuf_total": ("counter", {"port"}),
    "wghub_port_rx_errors_total": ("counter", {"port"}),
    "wghub_neighbour_incomplete_refused_total": ("counter", {"port"}),
}

failures = []


def check(cond, message):
    if not cond:
        failures.append(message)


def parse(text, where):
    """sample name -> list of (labels, value); family checks on the way."""
    samples = {}
    seen = set()
    for fam in text_string_to_metric_families(text):
        exported = fam.name + "_total" if fam.type == "counter" else fam.name
        if where == "http" and exported.startswith("exposer_"):
            continue  # prometheus-cpp's Exposer reports on itself (docs/metrics.md)
        seen.add(exported)
        check(exported in EXPECTED, f"{where}: unexpected family {exported}")
        check(fam.documentation != "", f"{where}: {exported} has no HELP")
        if exported not in EXPECTED:
            continue
        want_type, want_labels = EXPECTED[exported]
        check(fam.type == want_type, f"{where}: {exported} is {fam.type}, want {want_type}")
        for s in fam.samples:
            if want_type == "histogram":  # NAME_bucket{le}, NAME_sum, NAME_count
                suffix = s.name[len(exported):]
                check(suffix in ("_bucket", "_sum", "_count"),
                      f"{where}: sample {s.name} in family {exported}")
                labels = set(s.labels) - ({"le"} if suffix == "_bucket" else set())
            else:
                check(s.name == exported, f"{where}: sample {s.name} in family {exported}")
                labels = set(s.labels)
            check(labels == want_labels,
                  f"{where}: {exported} labels {sorted(s.labels)}, want {sorted(want_labels)}")
            samples.setdefault(s.name, []).append((s.labels, s.value))
    for name in EXPECTED:
        check(name in seen, f"{where}: family {name} missing")
    return samples


def value(samples, name, **labels):
    hits = [v for l, v in samples.get(name, []) if all(l.get(k) == w for k, w in labels.items())]
    check(len(hits) == 1, f"{name}{labels}: {len(hits)} samples, want 1")
    return hits[0] if hits else None


def total(samples, name, **labels):
    return sum(v for l, v in samples.get(name, []) if all(l.get(k) == w for k, w in labels.items()))


def check_values(s, where):
    def eq(got, want, what):
        check(got == want, f"{where}: {what} = {got}, want {want}")

    plant = {"friendly_name": "plant-7", "interface": "wghub0"}
    eq(value(s, "wireguard_received_bytes_total", **plant), 3000, "plant rx bytes")
    eq(value(s, "wireguard_sent_bytes_total", **plant), 500, "plant tx bytes")
    eq(value(s, "wireguard_latest_handshake_seconds", **plant), 1700000000, "plant handshake")
    eq(value(s, "wireguard_sent_bytes_total", friendly_name='kiosk "12"'), 5000, "kiosk tx bytes")
    eq(value(s, "wireguard_latest_handshake_seconds", friendly_name="branch-x"), 0, "never")
    eq(value(s, "wireguard_received_bytes_total", allowed_ips="10.7.0.0/24,fd00:7::/64"), 3000,
       "plant by allowed_ips")
    eq(value(s, "wghub_peers_configured"), 3, "peers configured")
    eq(value(s, "wghub_peers_live"), 2, "peers live")
    eq(value(s, "wghub_peers_exported"), 3, "peers exported")
    eq(value(s, "wghub_peer_info", friendly_name='kiosk "12"'), 1, "kiosk info")
    check(any(l.get("endpoint") == "[2001:db8::12]:40000"
              for l, _ in s.get("wghub_peer_info", [])), f"{where}: IPv6 endpoint label")
    eq(total(s, "wghub_rx_bytes_total", port="wan"), 450000, "wan rx bytes")
    eq(total(s, "wghub_tx_packets_total", port="wan"), 287, "wan tx packets")
    eq(value(s, "wghub_rx_packets_total", lcore="2", port="lan"), 160, "lcore 2 lan rx")
    eq(total(s, "wghub_decrypted_bytes_total"), 399000, "decrypted bytes")
    eq(total(s, "wghub_dropped_packets_total", reason="replay"), 6, "replay drops")
    eq(value(s, "wghub_handshakes_total", result="completed"), 12, "handshakes completed")
    eq(value(s, "wghub_handshakes_total", result="failed"), 5, "handshakes failed")
    eq(value(s, "wghub_cookie_replies_sent_total"), 4, "cookie replies")
    eq(value(s, "wghub_under_load"), 1, "under load")
    eq(value(s, "wghub_control_ring_occupancy"), 700, "ring occupancy")


# Metric names in the dashboard's queries: our two prefixes only; and every
# query must use at least one of them (no metric from another exporter).
NAME = re.compile(r"\b((?:wghub|wireguard)_[a-zA-Z0-9_]+)\b")


def dashboard_queries(node):
    if isinstance(node, dict):
        for key, val in node.items():
            if key in ("expr", "definition") and isinstance(val, str):
                yield val
            elif key == "query" and isinstance(val, str):
                yield val
            else:
                yield from dashboard_queries(val)
    elif isinstance(node, list):
        for item in node:
            yield from dashboard_queries(item)


def check_dashboard(path, samples):
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    check(dash.get("schemaVersion", 0) >= 36, "dashboard: schemaVersion too old")
    check(any(i.get("name") == "DS_PROMETHEUS" for i in dash.get("__inputs", [])),
          "dashboard: no DS_PROMETHEUS input")
    queries = list(dashboard_queries(dash))
    check(len(queries) >= 10, f"dashboard: only {len(queries)} queries found")
    used = set()
    for q in queries:
        names = set(NAME.findall(q))
        check(names, f"dashboard: query uses no wghub/wireguard metric: {q}")
        used |= names
    exported = set(samples)
    for name in sorted(used):
        check(name in exported, f"dashboard uses {name}, which the exporter does not export")
    # What the issue asks the dashboard to show.
    for name in ("wireguard_received_bytes_total", "wireguard_sent_bytes_total",
                 "wghub_rx_bytes_total", "wghub_dropped_packets_total", "wghub_handshakes_total",
                 "wghub_peers_live", "wghub_under_load"):
        check(name in used, f"dashboard does not show {name}")
    return used


def scrape_over_http(dump):
    proc = subprocess.Popen([dump, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "port":
            failures.append(f"metrics_dump --serve said {line!r}")
            return ""
        url = f"http://127.0.0.1:{int(line[1])}/metrics"
        with urllib.request.urlopen(url, timeout=30) as r:
            check(r.status == 200, f"GET {url}: {r.status}")
            check(r.headers.get("Content-Type", "").startswith("text/plain"),
                  f"GET {url}: content type {r.headers.get('Content-Type')}")
            return r.read().decode("utf-8")
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def main():
    dump, dashboard = sys.argv[1], sys.argv[2]
    text = subprocess.run([dump], check=True, capture_output=True, text=True).stdout
    stdout_samples = parse(text, "stdout")
    check_values(stdout_samples, "stdout")
    http_text = scrape_over_http(dump)
    http_samples = parse(http_text, "http")
    check_values(http_samples, "http")
    used = check_dashboard(dashboard, http_samples)
    if failures:
        for f in failures:
            print("FAIL:", f)
        return 1
    print(f"ok: {len(stdout_samples)} metric names parsed; the dashboard's {len(used)} "
          f"are all exported")
    return 0


if __name__ == "__main__":
    sys.exit(main())
