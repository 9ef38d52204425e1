#!/usr/bin/env bash
# Interop acceptance test of the wghub data plane: the real hub (DPDK,
# net_af_packet on the lab hub's veths) against stock wireguard-go sites behind
# masquerading NAT routers, in the namespace lab of scripts/lab (docs/lab.md).
#
#   1. lab up (2 sites) under a unique prefix and state root; start wghub
#   2. both sites handshake (hub log, `wg show`)
#   3. ping site LAN <-> HQ host both ways, site1 LAN <-> site2 LAN via the hub (0% loss)
#   4. iperf3 TCP 10 s site1 LAN -> HQ and back (-R); figures printed, no threshold
#   5. spoofed inner source (site1 sends from site2's LAN): dropped and counted
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

check_prerequisites() {
  local tool
  [ "$(id -u)" -eq 0 ] || skip "not root"
  for tool in ip wg wireguard-go iptables ethtool conntrack python3 ping pgrep iperf3 ss timeout; do
    command -v "$tool" >/dev/null 2>&1 || skip "missing $tool (scripts/setup installs it)"
  done
  [ -x "$WGHUB" ] || { echo "wghub_lab: no executable wghub at $WGHUB" >&2; exit 1; }
  [ -x "$LAB" ] || { echo "wghub_lab: no executable lab script at $LAB" >&2; exit 1; }
  [ -f "$REPLAY_HELPER" ] || { echo "wghub_lab: missing $REPLAY_HELPER" >&2; exit 1; }
}
check_prerequisites

prefix="hl$(($$ % 1000000))"
tmp=$(mktemp -d)
export WGHUB_LAB_STATE_ROOT=$tmp/state
hub_log=$tmp/wghub.log
hub_pid=""
iperf_pid=""
helper_pid=""
flow_pid=""

# ---------------------------------------------------------------- helpers

step() { printf '\n== step %s\n' "$*"; }

cleanup() {
  local rc=$?
  set +e
  stop_pid "$flow_pid"
  stop_pid "$helper_pid"
  stop_pid "$iperf_pid"
  stop_pid "$hub_pid"
  "$LAB" down --prefix "$prefix" >/dev/null 2>&1
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM # meson's timeout

# A drop counter from a status line ("dropped N a=1 b=2"); 0 when absent.
drop_count() { # drop_count DUMP NAME
  local n
  n=$(printf '%s\n' "$1" | grep ' status: ' | grep -oE " $2=[0-9]+" | head -n1 | cut -d= -f2)
  echo "${n:-0}"
}

icmp_in_echos() { # echo requests the HQ host's kernel received
  in_ns hq cat /proc/net/snmp |
    awk '/^Icmp:/{ if (!h) { for (i = 1; i <= NF; i++) col[$i] = i; h = 1 } else print $col["InEchos"] }'
}

latest_handshake() { # latest_handshake SITE_NUMBER -> unix time (0 = never)
  local wg_if_var="LAB_SITE$1_WG_IF"
  in_ns "site$1" wg show "${!wg_if_var}" latest-handshakes | awk '{print $2}' | head -n1
}

iperf_run() { # iperf_run OUTFILE [extra iperf3 args]: prints Gbit/s at the receiver
  local out=$1 gbps
  shift
  if ! timeout 60 ip netns exec "$prefix-lan1" iperf3 -c "$HQ_HOST" -t 10 --json "$@" >"$out" 2>&1; then
    fail "iperf3 $* failed: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("error","?"))' "$out" 2>/dev/null || tail -n 3 "$out")"
  fi
  gbps=$(python3 - "$out" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
if d.get("error"):
    sys.exit("iperf3 error: " + d["error"])
print("%.2f" % (d["end"]["sum_received"]["bits_per_second"] / 1e9))
EOF
  ) || fail "iperf3 $*: unusable result ($out)"
  echo "$gbps"
}

# ---------------------------------------------------------------- 1. lab and hub

step "1: lab up (prefix $prefix, 2 sites) and start wghub"
lab up --sites 2
# shellcheck disable=SC1090,SC1091
. "$WGHUB_LAB_STATE_ROOT/$prefix/lab.env"
ip netns exec "$LAB_NS_HUB" "$WGHUB" --config "$LAB_HUB_CONFIG" --status-interval 0 \
  >"$hub_log" 2>&1 &
hub_pid=$!
wait_for_log 30 'wghub running' || fail "wghub did not log 'wghub running' within 30 s"
ok "wghub running (pid $hub_pid, log $hub_log)"

# ---------------------------------------------------------------- 2. handshakes

step "2: both sites handshake with the hub"
for i in 1 2; do
  in_ns "site$i" ping -n -q -c 3 -i 0.3 -W 2 "$HQ_HOST" >/dev/null 2>&1 || true
done
for i in 1 2; do
  wait_for_log 10 "handshake completed with peer site$i " ||
    fail "no 'handshake completed with peer site$i' in the hub log"
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

# ---------------------------------------------------------------- 4. iperf3

step "4: iperf3 TCP 10 s each way, site1 LAN host <-> HQ host"
in_ns hq iperf3 -s >"$tmp/iperf3-server.log" 2>&1 &
iperf_pid=$!
for _ in $(seq 50); do
  in_ns hq ss -ltn | grep -q ':5201 ' && break
  sleep 0.1
done
up_gbps=$(iperf_run "$tmp/iperf-up.json")
echo "iperf3 site1 -> HQ: $up_gbps Gbit/s"
down_gbps=$(iperf_run "$tmp/iperf-down.json" -R)
echo "iperf3 HQ -> site1: $down_gbps Gbit/s"
stop_pid "$iperf_pid"
iperf_pid=""

# ---------------------------------------------------------------- 5. spoofed source

step "5: spoofed inner source ($SPOOFED_SOURCE, site2's LAN, sent by site1)"
dump=$(status_dump)
spoofed_before=$(drop_count "$dump" spoofed_inner_source)
echos_before=$(icmp_in_echos)
in_ns site1 ip addr add "$SPOOFED_SOURCE/32" dev lo
got=$(ping_received site1 "$HQ_HOST" "$SPOOF_COUNT" -I "$SPOOFED_SOURCE")
in_ns site1 ip addr del "$SPOOFED_SOURCE/32" dev lo
echos_after=$(icmp_in_echos)
dump=$(status_dump)
spoofed_after=$(drop_count "$dump" spoofed_inner_source)
printf '%s\n' "$dump" | grep ' status: '
[ "${got:-0}" = 0 ] || fail "a spoofed ping got ${got} replies"
[ "$echos_after" = "$echos_before" ] ||
  fail "the HQ host received $((echos_after - echos_before)) spoofed echo requests"
[ $((spoofed_after - spoofed_before)) -ge "$SPOOF_COUNT" ] ||
  fail "spoofed_inner_source grew by $((spoofed_after - spoofed_before)), expected >= $SPOOF_COUNT"
ok "spoofed_inner_source $spoofed_before -> $spoofed_after; HQ host received none of the $SPOOF_COUNT"

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
  local label=$1 before received got
  shift
  before=$(hub_endpoint_of_site1)
  in_ns lan1 ping -n -c "$ROAM_PINGS" -i 0.2 -W 1 "$HQ_HOST" >"$tmp/roam-ping.txt" 2>&1 &
  flow_pid=$!
  sleep 3
  lab roam 1 "$@"
  wait "$flow_pid" || true
  flow_pid=""
  received=$(sed -nE 's/.* ([0-9]+) received.*/\1/p' "$tmp/roam-ping.txt" | head -n1)
  roam_lost=$((ROAM_PINGS - ${received:-0}))
  echo "flow during the roam: $(sed -n '/packets transmitted/p' "$tmp/roam-ping.txt")"
  [ "$roam_lost" -le "$ROAM_MAX_LOSS" ] ||
    fail "$label: the flow lost $roam_lost of $ROAM_PINGS pings (at most $ROAM_MAX_LOSS allowed)"
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
kill -TERM "$hub_pid"
for _ in $(seq 150); do
  kill -0 "$hub_pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$hub_pid" 2>/dev/null && fail "wghub still running 15 s after SIGTERM"
hub_rc=0
wait "$hub_pid" || hub_rc=$?
hub_pid=""
[ "$hub_rc" = 0 ] || fail "wghub exited with $hub_rc after SIGTERM"
grep -q ' stopped$' "$hub_log" || fail "wghub did not log 'stopped'"
ok "wghub exited 0: $(grep ' stopped$' "$hub_log" | tail -n1)"
lab down
left=$(ip netns list | awk '{print $1}' | grep -E "^$prefix-" || true)
[ -z "$left" ] || fail "namespaces left after lab down: $left"
pgrep -f "^wireguard-go ${prefix}s[0-9]+\$" >/dev/null && fail "wireguard-go left running"
socks=$(find /var/run/wireguard -maxdepth 1 -name "${prefix}*.sock" 2>/dev/null || true)
[ -z "$socks" ] || fail "sockets left: $socks"
[ ! -e "$WGHUB_LAB_STATE_ROOT/$prefix" ] || fail "state dir left: $WGHUB_LAB_STATE_ROOT/$prefix"
ok "no namespace, wireguard-go, socket or state dir left"

echo
echo "wghub_lab: OK (iperf3 site1->HQ $up_gbps Gbit/s, HQ->site1 $down_gbps Gbit/s;" \
  "roam lost $roam_addr_lost+$roam_port_lost/$ROAM_PINGS; spoofed +$((spoofed_after - spoofed_before)); replay +$((replay_after - replay_before)))"
