#!/usr/bin/env bash
# Interop acceptance test of the wghub data plane: the real hub (DPDK,
# net_af_packet on the lab hub's veths) against stock wireguard-go sites behind
# masquerading NAT routers, in the namespace lab of scripts/lab (docs/lab.md).
#
#   1. lab up (2 sites) under a unique prefix and state root; start wghub
#   2. both sites handshake (hub log, `wg show`)
#   3. ping site LAN <-> HQ host both ways, site1 LAN <-> site2 LAN via the hub (0% loss);
#      3b. 1500-byte pings HQ -> site1 LAN: without DF fragmented by the hub and answered,
#      with DF refused with "Frag needed and DF set (mtu = 1420)"
#   4. iperf3 TCP 10 s site1 LAN -> HQ and back (-R); figures printed, no threshold
#   5. spoofed inner source (site1 sends from site2's LAN): dropped and counted
#      5b. the HQ host sends from site2's LAN to site1's LAN host: nothing arrives,
#      spoofed_lan_source counts it (issue 13 item 1)
#      5c. `wg set HUB peer SITE1 allowed-ips <HQ LAN>` is refused, site1 keeps its
#      allowed-ips and pings to and from the HQ host still work (issue 13 item 2)
#   6. replay: one captured type-4 frame re-injected 3 times: replay counter +3
#   7. roaming: `lab roam 1` (new address), then `--port-only`, mid-flow; the flow goes
#      on and the hub's status dump shows it sending to the new endpoint
#   8. SIGTERM: wghub exits 0 and says "stopped"; lab down leaves nothing behind
#
# usage: hub_lab_test.sh PATH/TO/wghub PATH/TO/scripts/lab
# Skips (exit 77) when not root or tools are missing, unless WGHUB_REQUIRE_INTEROP=1.
# Every address lives inside the namespaces the lab creates; the trap removes them
# and stops wghub whatever happens.
set -euo pipefail

WGHUB=${1:?usage: $0 PATH/TO/wghub PATH/TO/scripts/lab}
LAB=${2:?usage: $0 PATH/TO/wghub PATH/TO/scripts/lab}
here=$(cd "$(dirname "$0")" && pwd)
REPLAY_HELPER=$here/replay_inject.py

readonly HQ_HOST=10.0.0.10
readonly HUB_WAN=100.64.0.1
readonly HUB_PORT=51820
readonly SPOOFED_SOURCE=10.2.1.99 # in site2's LAN, sent by site1
readonly SPOOF_COUNT=5
readonly REPLAY_COUNT=3
readonly ROAM_PINGS=50
readonly ROAM_MAX_LOSS=5

export TEST_NAME=wghub_lab
# shellcheck source=tests/interop/lab_test_lib.sh
. "$(dirname "$0")/lab_test_lib.sh"

require_root_and_tools ip wg wireguard-go iptables ethtool conntrack python3 ping pgrep iperf3 ss \
  timeout
require_hub_and_lab
[ -f "$REPLAY_HELPER" ] || { echo "$TEST_NAME: missing $REPLAY_HELPER" >&2; exit 1; }

lab_test_init "hl$(($$ % 1000000))"
iperf_server_pid=""
helper_pid=""
flow_pid=""

# ---------------------------------------------------------------- helpers

stop_test_processes() {
  stop_pid "$flow_pid"
  stop_pid "$helper_pid"
  stop_pid "$iperf_server_pid"
}

icmp_in_echos() { # echo requests the HQ host's kernel received
  in_echos hq
}

in_echos() { # in_echos NS: echo requests the namespace's kernel received
  in_ns "$1" cat /proc/net/snmp |
    awk '/^Icmp:/{ if (!h) { for (i = 1; i <= NF; i++) col[$i] = i; h = 1 } else print $col["InEchos"] }'
}

iperf_run() { # iperf_run OUTFILE [extra iperf3 args]: prints Gbit/s at the receiver
  local out=$1 figures
  shift
  if ! timeout 60 ip netns exec "$prefix-lan1" iperf3 -c "$HQ_HOST" -t 10 --json "$@" >"$out" 2>&1; then
    fail "iperf3 $* failed: $(iperf_error "$out")"
  fi
  figures=$(iperf_figures "$out") || fail "iperf3 $*: unusable result ($out)"
  echo "${figures%% *}"
}

# ---------------------------------------------------------------- 1. lab and hub

step "1: lab up (prefix $prefix, 2 sites) and start wghub"
lab_up --sites 2
start_hub
ok "wghub running (pid $hub_pid, log $hub_log)"

# ---------------------------------------------------------------- 2. handshakes

step "2: both sites handshake with the hub"
for i in 1 2; do
  in_ns "site$i" ping -n -q -c 3 -i 0.3 -W 2 "$HQ_HOST" >/dev/null 2>&1 || true
done
for i in 1 2; do
  wait_handshake "$i"
  grep -m1 "handshake completed with peer site$i " "$hub_log"
  [ "$(latest_handshake "$i")" != 0 ] || fail "site$i's wireguard-go reports no handshake"
  ok "site$i: wg show latest handshake $(date -u -d "@$(latest_handshake "$i")" +%H:%M:%S)"
done

# ---------------------------------------------------------------- 3. pings

step "3: ping site LAN <-> HQ host, and site1 LAN <-> site2 LAN through the hub"
ping_clean lan1 "$HQ_HOST" "site1 LAN 10.1.1.10 -> HQ $HQ_HOST"
ping_clean lan2 "$HQ_HOST" "site2 LAN 10.2.1.10 -> HQ $HQ_HOST"
ping_clean hq "$LAB_SITE1_HOST" "HQ -> site1 LAN $LAB_SITE1_HOST"
ping_clean hq "$LAB_SITE2_HOST" "HQ -> site2 LAN $LAB_SITE2_HOST"
ping_clean lan1 "$LAB_SITE2_HOST" "site1 LAN -> site2 LAN $LAB_SITE2_HOST"
ping_clean lan2 "$LAB_SITE1_HOST" "site2 LAN -> site1 LAN $LAB_SITE1_HOST"

# ---------------------------------------------------------------- 3b. path MTU

# The sum of the hub's metric samples NAME whose line contains TEXT.
hub_metric() { # hub_metric NAME TEXT
  ip netns exec "$LAB_NS_HUB" python3 - "$1" "$2" <<'EOF'
import sys, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:9586/metrics", timeout=5).read().decode()
print(int(sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
              if l.startswith(sys.argv[1] + "{") and sys.argv[2] in l)))
EOF
}

step "3b: 1500-byte packets from the HQ host into the 1420-byte tunnel"
# Without DF first, while the HQ host has no path MTU cached for the site: the
# hub fragments, the site's LAN host reassembles (its 1500-byte reply is
# fragmented by site1's kernel in front of wireguard-go's 1420).
frags_before=$(hub_metric wghub_fragments_created_total "")
got=$(ping_received hq "$LAB_SITE1_HOST" 3 -M dont -s 1472)
frags_after=$(hub_metric wghub_fragments_created_total "")
[ "${got:-0}" = 3 ] || fail "ping -M dont -s 1472 HQ -> site1 LAN: ${got:-0}/3 replies"
[ $((frags_after - frags_before)) -ge 6 ] ||
  fail "wghub_fragments_created_total grew by $((frags_after - frags_before)), expected >= 6"
ok "ping -M dont -s 1472 HQ -> site1 LAN: 3/3, fragments made $frags_before -> $frags_after"
# With DF: refused, and the HQ host hears why (RFC 1191).
dump=$(status_dump)
too_big_before=$(drop_count "$dump" packet_too_big)
sent_before=$(hub_metric wghub_icmp_errors_total 'result="sent"')
out=$(in_ns hq ping -n -c 1 -W 2 -M "do" -s 1472 "$LAB_SITE1_HOST" 2>&1 || true)
printf '%s\n' "$out" | grep -F "Frag needed and DF set (mtu = 1420)" ||
  fail "ping -M do -s 1472 got no 'Frag needed and DF set (mtu = 1420)': $out"
dump=$(status_dump)
too_big_after=$(drop_count "$dump" packet_too_big)
sent_after=$(hub_metric wghub_icmp_errors_total 'result="sent"')
[ $((too_big_after - too_big_before)) -eq 1 ] ||
  fail "packet_too_big grew by $((too_big_after - too_big_before)), expected 1"
[ $((sent_after - sent_before)) -eq 1 ] ||
  fail "wghub_icmp_errors_total{result=\"sent\"} grew by $((sent_after - sent_before)), expected 1"
ok "ping -M do -s 1472: frag needed, mtu 1420; packet_too_big +1, ICMP errors sent +1"

# ---------------------------------------------------------------- 4. iperf3

step "4: iperf3 TCP 10 s each way, site1 LAN host <-> HQ host"
start_iperf_server
up_gbps=$(iperf_run "$tmp/iperf-up.json")
echo "iperf3 site1 -> HQ: $up_gbps Gbit/s"
down_gbps=$(iperf_run "$tmp/iperf-down.json" -R)
echo "iperf3 HQ -> site1: $down_gbps Gbit/s"
stop_pid "$iperf_server_pid"
iperf_server_pid=""

# ---------------------------------------------------------------- 5. spoofed source

step "5: spoofed inner source ($SPOOFED_SOURCE, site2's LAN, sent by site1)"
expect_spoofed_dropped "$SPOOFED_SOURCE/32" "$HQ_HOST" "$SPOOF_COUNT" icmp_in_echos
inner_spoofed=$((spoofed_after - spoofed_before))

step "5b: the HQ host sends from $SPOOFED_SOURCE (site2's LAN) to site1's LAN host"
lan1_echos() { in_echos lan1; }
SPOOF_FROM=hq SPOOF_REASON=spoofed_lan_source \
  expect_spoofed_dropped "$SPOOFED_SOURCE/32" "$LAB_SITE1_HOST" "$SPOOF_COUNT" lan1_echos
lan_spoofed=$((spoofed_after - spoofed_before))

step "5c: wg set $LAB_HUB_NAME peer site1 allowed-ips $LAB_HQ_LAN (the HQ LAN) is refused"
site1_allowed() { wg show "$LAB_HUB_NAME" allowed-ips | awk -v k="$LAB_SITE1_PUBKEY" '$1 == k'; }
allowed_before=$(site1_allowed)
if wg set "$LAB_HUB_NAME" peer "$LAB_SITE1_PUBKEY" allowed-ips "$LAB_HQ_LAN" 2>"$tmp/wg-set.err"; then
  fail "wg set with the HQ LAN $LAB_HQ_LAN as site1's allowed-ips was accepted"
fi
echo "wg set: $(cat "$tmp/wg-set.err")"
grep -q "allowed-ips $LAB_HQ_LAN is the connected subnet of port lan" "$hub_log" ||
  fail "the hub log does not say why the wg set was refused"
[ "$(site1_allowed)" = "$allowed_before" ] ||
  fail "site1's allowed-ips changed: '$allowed_before' -> '$(site1_allowed)'"
ping_clean lan1 "$HQ_HOST" "site1 LAN -> HQ after the refused wg set"
ping_clean hq "$LAB_SITE1_HOST" "HQ -> site1 LAN after the refused wg set"

# ---------------------------------------------------------------- 6. replay

step "6: replay: one captured data message from site1's NAT re-injected $REPLAY_COUNT times"
dump=$(status_dump)
replay_before=$(drop_count "$dump" replay)
auth_before=$(drop_count "$dump" auth_failed)
in_ns nat1 python3 "$REPLAY_HELPER" up0 "$HUB_WAN" "$HUB_PORT" --count "$REPLAY_COUNT" \
  --timeout 10 >"$tmp/replay.out" 2>&1 &
helper_pid=$!
sleep 1 # the helper's socket is bound before the traffic starts
in_ns lan1 ping -n -q -c 3 -i 0.2 -W 2 "$HQ_HOST" >/dev/null 2>&1 || true
wait "$helper_pid" || { cat "$tmp/replay.out"; fail "replay helper failed"; }
helper_pid=""
cat "$tmp/replay.out"
ping_clean lan1 "$HQ_HOST" "site1 LAN -> HQ after the replay"
dump=$(status_dump)
replay_after=$(drop_count "$dump" replay)
auth_after=$(drop_count "$dump" auth_failed)
printf '%s\n' "$dump" | grep ' status: '
[ $((replay_after - replay_before)) -eq "$REPLAY_COUNT" ] ||
  fail "replay grew by $((replay_after - replay_before)), expected $REPLAY_COUNT"
[ "$auth_after" = "$auth_before" ] || fail "auth_failed changed: $auth_before -> $auth_after"
ok "replay $replay_before -> $replay_after; the session keeps working"

# ---------------------------------------------------------------- 7. roaming

# site1's endpoint as the hub's status dump shows it (a.b.c.d:port).
hub_endpoint_of_site1() {
  status_dump | sed -nE 's/.*  peer site1 key [^ ]+ endpoint ([0-9.]+:[0-9]+) .*/\1/p' | tail -n1
}

# roam_mid_flow LABEL [lab roam options]: a long ping from site1's LAN host to
# the HQ host, `lab roam 1` after 3 s; the flow must go on (at most
# ROAM_MAX_LOSS lost), the hub must send to a new endpoint afterwards, and the
# HQ host must reach site1's LAN through it. Sets roam_lost and roam_endpoint.
roam_mid_flow() {
  local label=$1 before got
  shift
  before=$(hub_endpoint_of_site1)
  flow_across_roam "$label" lan1 "$HQ_HOST" 1 "$@"
  roam_endpoint=$(hub_endpoint_of_site1)
  if [ -z "$roam_endpoint" ] || [ "$roam_endpoint" = "$before" ]; then
    fail "$label: the hub still sends to site1 at $before"
  fi
  # The hub logs endpoint changes it learns at a handshake; a change learned from
  # data packets (roaming) is logged too where the hub does so.
  if grep -qE "peer site1 endpoint [0-9.:]+ -> ${roam_endpoint//./\\.}\$" "$hub_log"; then
    grep -E "peer site1 endpoint [0-9.:]+ -> ${roam_endpoint//./\\.}\$" "$hub_log" | tail -n1
  else
    echo "note: the hub log has no 'peer site1 endpoint ... -> $roam_endpoint' line"
  fi
  got=$(ping_received hq "$LAB_SITE1_HOST" 3)
  [ "${got:-0}" = 3 ] || fail "$label: HQ -> site1 LAN afterwards: ${got:-0}/3 replies"
  ok "$label: hub endpoint for site1 $before -> $roam_endpoint, $roam_lost/$ROAM_PINGS lost;" \
    "HQ -> site1 LAN 3/3 afterwards"
}

step "7: roaming: site1's NAT changes address, then port, mid-flow"
old_addr=$LAB_SITE1_NAT_ADDR
roam_mid_flow "roam (new address)"
new_addr=$(lab env | sed -n 's/^LAB_SITE1_NAT_ADDR=//p')
[ "$new_addr" != "$old_addr" ] || fail "lab roam did not change site1's NAT address ($old_addr)"
[ "${roam_endpoint%:*}" = "$new_addr" ] ||
  fail "the hub sends to $roam_endpoint, not to site1's new NAT address $new_addr"
roam_addr_lost=$roam_lost
roam_mid_flow "roam (new port)" --port-only
[ "${roam_endpoint%:*}" = "$new_addr" ] ||
  fail "after --port-only the hub sends to $roam_endpoint, expected address $new_addr"
roam_port_lost=$roam_lost

# ---------------------------------------------------------------- 8. stop and tear down

step "8: SIGTERM wghub, lab down, nothing left"
dump=$(status_dump)
printf '%s\n' "$dump"
stop_hub
grep -q ' stopped$' "$hub_log" || fail "wghub did not log 'stopped'"
ok "wghub exited 0: $(grep ' stopped$' "$hub_log" | tail -n1)"
lab_down_nothing_left
ok "no namespace, wireguard-go, socket or state dir left"

echo
echo "wghub_lab: OK (iperf3 site1->HQ $up_gbps Gbit/s, HQ->site1 $down_gbps Gbit/s;" \
  "roam lost $roam_addr_lost+$roam_port_lost/$ROAM_PINGS; spoofed +$inner_spoofed;" \
  "LAN spoofed +$lan_spoofed; replay +$((replay_after - replay_before)))"
