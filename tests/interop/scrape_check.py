#!/usr/bin/python3
"""Scrape and check helper of operate_lab_test.sh (step 6: a scrape during traffic).

usage:
  scrape_check.py fetch URL
      GET URL (run it inside the hub's namespace), check status 200 and a
      text/plain content type, print the body.
  scrape_check.py check --dashboard JSON --iperf JSON --interface NAME
                        --public-key KEY --friendly-name NAME
                        [--secret-file F]... [--scan F]...
                        BEFORE DURING1 DURING2 AFTER
      BEFORE is scraped just before an iperf3 run from the peer's LAN to the
      HQ host, DURING1/DURING2 while it runs, AFTER once it is over.
      - every scrape parses with prometheus_client's text parser, with the
        families, types and labels of tests/unit/metrics/check_exposition.py
        (its parse() is reused), and every metric the Grafana dashboard uses is
        exported (its check_dashboard());
      - the peer's wireguard_received_bytes_total never goes down, grows while
        iperf3 runs, and over BEFORE..AFTER grew by at least the bytes iperf3's
        receiver got and by at most the bound explained in rx_upper_bound();
      - no private or preshared key (base64 as in the key files, or hex as the
        UAPI writes keys) occurs in any scrape or in the --scan files.
      Prints one "figures:" line (key=value) the shell test picks up.

Must run under /usr/bin/python3 (Debian's python3-prometheus-client).
"""

import argparse
import base64
import importlib.util
import json
import os
import sys
import urllib.request

# Import check_exposition without leaving a __pycache__ in the source tree.
sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK_EXPOSITION = os.path.join(HERE, "..", "unit", "metrics", "check_exposition.py")


def load_check_exposition():
    spec = importlib.util.spec_from_file_location("check_exposition", CHECK_EXPOSITION)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        if r.status != 200:
            sys.exit(f"GET {url}: HTTP {r.status}")
        ctype = r.headers.get("Content-Type", "")
        if not ctype.startswith("text/plain"):
            sys.exit(f"GET {url}: content type {ctype!r}")
        sys.stdout.write(r.read().decode("utf-8"))
    return 0


# iperf3 runs TCP from the site's LAN host over the site's wireguard-go (MTU
# 1420) through the hub. The hub counts, per data message received from the
# peer, the WireGuard message without outer UDP/IP/Ethernet headers
# (docs/metrics.md): 16 B header + plaintext padded to a multiple of 16 + 16 B
# tag. A TCP segment carrying p bytes of iperf3 payload is an inner IPv4 packet
# of p + 20 (IP) + 20 (TCP) + 12 (timestamp option) bytes, so it is counted as
# at most p + 52 + 15 (padding) + 32 = p + 99 bytes. A full segment carries
# 1420 - 52 = 1368 bytes: +99 B is +7.3%; 10% leaves room for a share of short
# segments (the end of each write, PMTU discovery's first segments). Segments
# the sender retransmits cross the hub again: iperf3's sender reports how many,
# each at most one full segment. The slack covers what else the peer sends in
# the window: iperf3's control connection (a few KiB of JSON), the LAN host's
# pure ACKs for it, keepalives (32 B), an occasional handshake (148 B).
OVERHEAD_FACTOR = 1.10
FULL_SEGMENT_PAYLOAD = 1368
SLACK_BYTES = 256 * 1024


def rx_upper_bound(sent_bytes, retransmits):
    return OVERHEAD_FACTOR * (sent_bytes + retransmits * FULL_SEGMENT_PAYLOAD) + SLACK_BYTES


def key_forms(path):
    """The ways a key from a wg key file may be written: base64 (with and without
    the trailing '='), hex lower and upper case."""
    with open(path, encoding="ascii") as f:
        b64 = f.read().strip()
    raw = base64.b64decode(b64)
    if len(raw) != 32:
        raise SystemExit(f"{path}: not a 32-byte key")
    return {b64, b64.rstrip("="), raw.hex(), raw.hex().upper()}


def check(args):
    ce = load_check_exposition()
    texts = []
    for path in args.scrapes:
        with open(path, encoding="utf-8") as f:
            texts.append(f.read())
    names = ["before", "during1", "during2", "after"]
    samples = [ce.parse(t, "http") for t in texts]
    used = ce.check_dashboard(args.dashboard, samples[1])
    for name, s in zip(names, samples):
        for metric in sorted(used):
            ce.check(metric in s, f"{name}: the dashboard's {metric} is not in the scrape")

    peer = {"interface": args.interface, "public_key": args.public_key,
            "friendly_name": args.friendly_name}
    rx = [ce.value(s, "wireguard_received_bytes_total", **peer) for s in samples]
    tx = [ce.value(s, "wireguard_sent_bytes_total", **peer) for s in samples]
    rxp = [ce.value(s, "wghub_peer_received_packets_total", **peer) for s in samples]
    hs = ce.value(samples[3], "wireguard_latest_handshake_seconds", **peer)
    up = ce.value(samples[3], "wghub_peer_session_up", **peer)
    if ce.failures:
        return report(ce, None)

    ce.check(all(a <= b for a, b in zip(rx, rx[1:])), f"received bytes went down: {rx}")
    ce.check(all(a <= b for a, b in zip(tx, tx[1:])), f"sent bytes went down: {tx}")
    ce.check(rx[2] > rx[1], f"received bytes did not grow between the two scrapes during "
             f"iperf3: {rx[1]:.0f} -> {rx[2]:.0f}")
    ce.check(hs > 0, "wireguard_latest_handshake_seconds is 0 for the peer")
    ce.check(up == 1, f"wghub_peer_session_up is {up}")

    with open(args.iperf, encoding="utf-8") as f:
        iperf = json.load(f)["end"]
    sent = iperf["sum_sent"]["bytes"]
    received = iperf["sum_received"]["bytes"]
    retransmits = iperf["sum_sent"].get("retransmits", 0)
    grew = rx[3] - rx[0]
    packets = rxp[3] - rxp[0]
    upper = rx_upper_bound(sent, retransmits)
    ce.check(grew >= received, f"received bytes grew by {grew:.0f}, less than the "
             f"{received} bytes iperf3's receiver got")
    ce.check(grew <= upper, f"received bytes grew by {grew:.0f}, more than {upper:.0f} "
             f"(iperf3 sent {sent} B, {retransmits} retransmits)")

    # Keys never appear: in the scrapes, nor in the files to scan (the hub log).
    corpus = [(name, t) for name, t in zip(names, texts)]
    for path in args.scan:
        with open(path, encoding="utf-8", errors="replace") as f:
            corpus.append((path, f.read()))
    for secret in args.secret_file:
        for form in key_forms(secret):
            for where, text in corpus:
                ce.check(form not in text, f"the key of {secret} appears in {where}")

    figures = {
        "rx_bytes_grew": int(grew), "rx_packets_grew": int(packets),
        "iperf_sent": sent, "iperf_received": received, "retransmits": retransmits,
        "upper_bound": int(upper),
        "overhead_pct": round(100.0 * (grew - received) / received, 2) if received else 0,
        "tx_bytes_grew": int(tx[3] - tx[0]),
        "dashboard_metrics": len(used), "families": len(samples[3]),
        "secrets_checked": len(args.secret_file),
    }
    return report(ce, figures)


def report(ce, figures):
    if ce.failures:
        for f in ce.failures:
            print("FAIL:", f)
        return 1
    print("figures: " + " ".join(f"{k}={v}" for k, v in figures.items()))
    return 0


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "fetch":
        if len(sys.argv) != 3:
            sys.exit("usage: scrape_check.py fetch URL")
        return fetch(sys.argv[2])
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["check"])
    p.add_argument("--dashboard", required=True)
    p.add_argument("--iperf", required=True)
    p.add_argument("--interface", required=True)
    p.add_argument("--public-key", required=True)
    p.add_argument("--friendly-name", required=True)
    p.add_argument("--secret-file", action="append", default=[])
    p.add_argument("--scan", action="append", default=[])
    p.add_argument("scrapes", nargs=4)
    return check(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
