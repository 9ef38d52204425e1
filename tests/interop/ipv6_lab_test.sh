#!/usr/bin/env bash
# Interop test of IPv6 through the wghub data plane (issue 4's IPv6
# acceptance): the real hub (DPDK, net_af_packet) against stock wireguard-go
# sites, in the namespace lab built with `scripts/lab up --ipv6-wan 2`
# (docs/lab.md): HQ LAN fd00::/64 (wghub owns fd00::1, the HQ host is
# fd00::10), site <i>'s LAN fd00:<i>::/64; site 1 reaches the hub over IPv4
# (100.64.0.1), site 2 over IPv6 ([fd00:64::1]:51820, behind NAT66).
#
#   1. lab up --ipv6-wan 2 (2 sites) under a unique prefix and state root; start wghub
#   2. both sites handshake, through a handshake thread (dataplane.handshake_threads:
#      1); site 2's endpoint at the hub is IPv6
#   3. ping -6 site LAN <-> HQ host both ways, site1 LAN <-> site2 LAN through
#      the hub, the HQ host -> the hub's own fd00::1 (NDP + ICMPv6 echo):
#      PING_COUNT each, no loss allowed
#      3b. a 1500-byte ping HQ -> site1 LAN gets "Packet too big: mtu=1420" from the
#      hub; then the HQ host fragments to 1420 itself and big pings get through
#   4. iperf3 -6 TCP 10 s site1 LAN -> HQ and back (-R), and site2 LAN -> HQ (IPv6
#      inside IPv6); figures printed, no threshold
#   5. spoofed IPv6 inner source (site1 sends from site2's fd00:2::/64): dropped and
#      counted, the HQ host receives none
#   6. IPv4 still works next to it (site1 and site2, whose tunnel runs over IPv6)
#   7. roaming over IPv6: site 2's NAT66 address changes mid-flow (`lab roam 2`);
#      the flow goes on and the hub sends to the new IPv6 endpoint
#   8. SIGTERM: wghub exits 0; lab down leaves nothing behind
#
# usage: ipv6_lab_test.sh PATH/TO/wghub PATH/TO/scripts/lab
# Skips (exit 77) when not root or tools are missing, unless WGHUB_REQUIRE_INTEROP=1.
# Every address lives inside the namespaces the lab creates (ULA fd00::/8 for
# IPv6); the trap removes them and stops wghub whatever happens.
set -euo pipefail

WGHUB=${1:?usage: $0 PATH/TO/wghub PATH/TO/scripts/lab}
LAB=${2:?usage: $0 PATH/TO/wghub PATH/TO/scripts/lab}

readonly PING_COUNT=20
readonly SPOOFED_SOURCE6=fd00:2::99 # in site2's LAN, sent by site1
readonly SPOOF_COUNT=5
readonly V6_SITE=2 # reaches the hub over IPv6
readonly ROAM_PINGS=50
readonly ROAM_MAX_LOSS=5

export TEST_NAME=wghub_ipv6_lab
# shellcheck source=tests/interop/lab_test_lib.sh
. "$(dirname "$0")/lab_test_lib.sh"

require_root_and_tools ip wg wireguard-go iptables ip6tables ethtool conntrack python3 ping pgrep \
  iperf3 ss timeout
require_hub_and_lab

lab_test_init "h6$(($$ % 1000000))"
iperf_server_pid=""
flow_pid=""

stop_test_processes() {
  stop_pid "$flow_pid"
  stop_pid "$iperf_server_pid"
}

icmp6_in_echos() { # echo requests the HQ host's kernel received over IPv6
  in_ns hq awk '$1 == "Icmp6InEchos" {print $2}' /proc/net/snmp6
}

# ping_loss NS DST LABEL: PING_COUNT pings after a warm-up (NDP, handshakes);
# prints the loss in percent, fails on any.
ping_loss() {
  local got loss
  ping_received "$1" "$2" 2 >/dev/null
  got=$(ping_received "$1" "$2" "$PING_COUNT")
  loss=$(((PING_COUNT - ${got:-0}) * 100 / PING_COUNT))
  [ "${got:-0}" = "$PING_COUNT" ] || fail "ping -6 $3: ${got:-0}/$PING_COUNT replies ($loss% loss)"
  ok "ping -6 $3: $got/$PING_COUNT, 0% loss"
}

iperf_run() { # iperf_run NS OUTFILE [extra iperf3 args]: prints Gbit/s at the receiver
  local ns=$1 out=$2 figures
  shift 2
  if ! timeout 60 ip netns exec "$prefix-$ns" iperf3 -6 -c "$LAB_HQ_HOST6" -t 10 --json "$@" \
    >"$out" 2>&1; then
    fail "iperf3 -6 $* failed: $(iperf_error "$out")"
  fi
  figures=$(iperf_figures "$out") || fail "iperf3 -6 $*: unusable result ($out)"
  echo "${figures%% *}"
}

# ---------------------------------------------------------------- 1. lab and hub

step "1: lab up --ipv6-wan $V6_SITE (prefix $prefix, 2 sites) and start wghub"
# The responder's crypto on a handshake thread (control/handshake_threads.hpp),
# for IPv4 and IPv6 outer addresses alike.
WGHUB_LAB_HANDSHAKE_THREADS=1 lab_up --sites 2 --ipv6-wan "$V6_SITE"
grep -q 'handshake_threads: 1' "$LAB_HUB_CONFIG" || fail "hub.yaml has no handshake_threads: 1"
[ "$LAB_IPV6" = 1 ] || fail "lab.env says LAB_IPV6=$LAB_IPV6"
grep -q 'address6: "fd00::1/64"' "$LAB_HUB_CONFIG" || fail "hub.yaml has no LAN address6"
grep -q 'address6: "fd00:64::1/64"' "$LAB_HUB_CONFIG" || fail "hub.yaml has no WAN address6"
start_hub
grep -m1 'port lan: ' "$hub_log"
ok "wghub running (pid $hub_pid)"

# ---------------------------------------------------------------- 2. handshakes

step "2: both sites handshake with the hub"
for i in 1 2; do
  in_ns "site$i" ping -n -q -c 3 -i 0.3 -W 2 "$LAB_HQ_HOST" >/dev/null 2>&1 || true
done
for i in 1 2; do wait_handshake "$i"; done
grep -m1 'handshake threads: 1' "$hub_log" || fail "the hub did not start its handshake thread"
# The metrics snapshot is published about once a second: ask for up to 20 s.
prepared=0
for _ in $(seq 40); do
  prepared=$(in_ns hub curl -fsS --max-time 5 "http://$LAB_HUB_METRICS/metrics" |
    awk '$1 == "wghub_handshake_threads_prepared_total" {print $2}') || prepared=0
  [ "${prepared:-0}" -ge 2 ] 2>/dev/null && break
  sleep 0.5
done
[ "${prepared:-0}" -ge 2 ] 2>/dev/null ||
  fail "wghub_handshake_threads_prepared_total is '${prepared}', not >= 2: the thread did not run the handshakes"
ok "site1 and site2 handshook (the handshake thread prepared $prepared)"
site2_wg_endpoint=$(in_ns "site$V6_SITE" wg show "$LAB_SITE2_WG_IF" endpoints | awk '{print $2}')
[ "$site2_wg_endpoint" = "[$LAB_HUB_WAN_ADDR6]:$LAB_HUB_PORT" ] ||
  fail "site$V6_SITE's wireguard-go has endpoint $site2_wg_endpoint, not [$LAB_HUB_WAN_ADDR6]:$LAB_HUB_PORT"
grep -m1 "handshake completed with peer site$V6_SITE " "$hub_log"
grep -qE "handshake completed with peer site$V6_SITE .* endpoint \[$LAB_SITE2_NAT_ADDR6\]:[0-9]+" \
  "$hub_log" || fail "the hub did not see site$V6_SITE's handshake from [$LAB_SITE2_NAT_ADDR6]"
uapi_endpoint=$(wg show "$LAB_HUB_NAME" endpoints | awk -v k="$LAB_SITE2_PUBKEY" '$1 == k {print $2}')
[[ $uapi_endpoint == "[$LAB_SITE2_NAT_ADDR6]:"* ]] ||
  fail "wg show $LAB_HUB_NAME (the hub's UAPI) has site$V6_SITE at '$uapi_endpoint'"
ok "site$V6_SITE reaches the hub over IPv6: wireguard-go endpoint $site2_wg_endpoint," \
  "hub sees $uapi_endpoint (wg show $LAB_HUB_NAME)"

# ---------------------------------------------------------------- 3. ping -6

step "3: ping -6 between the site LANs and the HQ host, site to site, and the hub itself"
ping_loss lan1 "$LAB_HQ_HOST6" "site1 LAN $LAB_SITE1_HOST6 -> HQ $LAB_HQ_HOST6"
ping_loss lan2 "$LAB_HQ_HOST6" "site2 LAN $LAB_SITE2_HOST6 -> HQ $LAB_HQ_HOST6"
ping_loss hq "$LAB_SITE1_HOST6" "HQ -> site1 LAN $LAB_SITE1_HOST6"
ping_loss hq "$LAB_SITE2_HOST6" "HQ -> site2 LAN $LAB_SITE2_HOST6"
ping_loss lan1 "$LAB_SITE2_HOST6" "site1 LAN -> site2 LAN $LAB_SITE2_HOST6 (through the hub)"
ping_loss lan2 "$LAB_SITE1_HOST6" "site2 LAN -> site1 LAN $LAB_SITE1_HOST6 (through the hub)"
ping_loss site1 "$LAB_HQ_HOST6" "site1 overlay $LAB_SITE1_OVERLAY6 -> HQ"
ping_loss hq "$LAB_HUB_LAN_ADDR6" "HQ -> the hub's own $LAB_HUB_LAN_ADDR6"
in_ns hq ip -6 neigh show "$LAB_HUB_LAN_ADDR6" dev eth0 | grep -qE 'lladdr [0-9a-f:]+' ||
  fail "the HQ host has no neighbour entry for $LAB_HUB_LAN_ADDR6"
ok "HQ host's neighbour entry: $(in_ns hq ip -6 neigh show "$LAB_HUB_LAN_ADDR6" dev eth0)"

# ---------------------------------------------------------------- 3b. path MTU

step "3b: a 1500-byte IPv6 packet into the 1420-byte tunnel: Packet Too Big, then PMTUD"
dump=$(status_dump)
too_big_before=$(drop_count "$dump" packet_too_big)
out=$(in_ns hq ping -n -c 1 -W 2 -s 1452 "$LAB_SITE1_HOST6" 2>&1 || true)
printf '%s\n' "$out" | grep -F "Packet too big: mtu=1420" ||
  fail "ping -s 1452 HQ -> site1 LAN got no 'Packet too big: mtu=1420': $out"
dump=$(status_dump)
too_big_after=$(drop_count "$dump" packet_too_big)
[ $((too_big_after - too_big_before)) -eq 1 ] ||
  fail "packet_too_big grew by $((too_big_after - too_big_before)), expected 1"
# The HQ host now fragments to 1420 itself (RFC 8201); the first replies may be
# lost while site1's LAN host learns its own path MTU from site1's router.
ping_received hq "$LAB_SITE1_HOST6" 2 -s 1452 >/dev/null
got=$(ping_received hq "$LAB_SITE1_HOST6" 3 -s 1452)
[ "${got:-0}" = 3 ] || fail "ping -s 1452 HQ -> site1 LAN after the Packet Too Big: ${got:-0}/3"
ok "Packet Too Big (mtu 1420) from the hub, packet_too_big +1; then ping -s 1452 3/3"

# ---------------------------------------------------------------- 4. iperf3 -6

step "4: iperf3 -6 TCP 10 s each way, site1 LAN host <-> HQ host"
start_iperf_server
up_gbps=$(iperf_run lan1 "$tmp/iperf-up.json")
echo "iperf3 -6 site1 -> HQ: $up_gbps Gbit/s"
down_gbps=$(iperf_run lan1 "$tmp/iperf-down.json" -R)
echo "iperf3 -6 HQ -> site1: $down_gbps Gbit/s"
v6v6_gbps=$(iperf_run lan2 "$tmp/iperf-v6v6.json")
echo "iperf3 -6 site2 -> HQ (IPv6 inside IPv6): $v6v6_gbps Gbit/s"
stop_pid "$iperf_server_pid"
iperf_server_pid=""

# ---------------------------------------------------------------- 5. spoofed source

step "5: spoofed IPv6 inner source ($SPOOFED_SOURCE6, site2's LAN, sent by site1)"
expect_spoofed_dropped "$SPOOFED_SOURCE6/128" "$LAB_HQ_HOST6" "$SPOOF_COUNT" icmp6_in_echos nodad

# ---------------------------------------------------------------- 6. IPv4 alongside

step "6: IPv4 keeps working next to IPv6"
ping_clean lan1 "$LAB_HQ_HOST" "site1 LAN 10.1.1.10 -> HQ $LAB_HQ_HOST (IPv4)"
ping_clean hq "$LAB_SITE2_HOST" "HQ -> site2 LAN $LAB_SITE2_HOST (IPv4 inside IPv6)"

# ---------------------------------------------------------------- 7. roaming over IPv6

step "7: roaming over IPv6: site$V6_SITE's NAT66 address changes mid-flow"
site2_endpoint() { # the hub's endpoint for site 2 from its status dump
  status_dump | sed -nE "s/.*  peer site$V6_SITE key [^ ]+ endpoint (\[[0-9a-f:]+\]:[0-9]+) .*/\1/p" |
    tail -n1
}
before=$(site2_endpoint)
[ "${before%]:*}" = "[$LAB_SITE2_NAT_ADDR6" ] || fail "the hub sends to site$V6_SITE at '$before'"
flow_across_roam "" lan2 "$LAB_HQ_HOST6" "$V6_SITE"
new_addr6=$(lab env | sed -n "s/^LAB_SITE${V6_SITE}_NAT_ADDR6=//p")
after=$(site2_endpoint)
[ "$new_addr6" != "$LAB_SITE2_NAT_ADDR6" ] || fail "lab roam did not change site$V6_SITE's address"
[ "${after%]:*}" = "[$new_addr6" ] || fail "after the roam the hub sends to '$after', not [$new_addr6]"
got=$(ping_received hq "$LAB_SITE2_HOST6" 3)
[ "${got:-0}" = 3 ] || fail "HQ -> site2 LAN after the roam: ${got:-0}/3 replies"
ok "hub endpoint for site$V6_SITE $before -> $after, $roam_lost/$ROAM_PINGS lost; HQ -> site2 3/3"

# ---------------------------------------------------------------- 7. stop and tear down

step "8: SIGTERM wghub, lab down, nothing left"
dump=$(status_dump)
printf '%s\n' "$dump"
stop_hub
lab_down_nothing_left
ok "wghub exited 0; no namespace, wireguard-go, socket or state dir left"

echo
echo "$TEST_NAME: OK (ping -6 0% loss on 8 paths x $PING_COUNT; iperf3 -6 site1->HQ $up_gbps Gbit/s," \
  "HQ->site1 $down_gbps Gbit/s, site2 over IPv6 -> HQ $v6v6_gbps Gbit/s;" \
  "IPv6 roam lost $roam_lost/$ROAM_PINGS; spoofed +$((spoofed_after - spoofed_before)))"
