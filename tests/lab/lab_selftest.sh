#!/usr/bin/env bash
# Self-test of scripts/lab: builds a two-site lab under a unique prefix and
# checks the topology it promises (namespaces, wireguard-go sites, the inet
# bridge, masquerading NATs, roaming, the generated hub.yaml), then that
# `lab down` leaves nothing behind and is idempotent.
#
# usage: lab_selftest.sh [PATH/TO/scripts/lab [PATH/TO/wghub]]
#   The lab script defaults to ../../scripts/lab from this file. With a wghub
#   binary (argument or $WGHUB_BIN), hub.yaml is also checked with --check-config.
# Skips (exit 77) when not root or tools are missing, unless WGHUB_REQUIRE_INTEROP=1.
# Every address lives inside the namespaces the lab creates; the test removes them.
# `[ cond ] && pass ... || fail ...` is intended: pass never fails.
# shellcheck disable=SC2015
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
LAB=${1:-$here/../../scripts/lab}
WGHUB=${2:-${WGHUB_BIN:-}}

skip() {
  if [ "${WGHUB_REQUIRE_INTEROP:-0}" = 1 ]; then
    echo "lab_selftest: FAIL (WGHUB_REQUIRE_INTEROP=1): $*" >&2
    exit 1
  fi
  echo "lab_selftest: skipped: $*"
  exit 77 # meson: skipped
}
[ "$(id -u)" -eq 0 ] || skip "not root"
for tool in ip wg wireguard-go iptables ethtool conntrack python3 ping pgrep; do
  command -v "$tool" >/dev/null 2>&1 || skip "missing $tool (scripts/setup installs it)"
done
[ -x "$LAB" ] || { echo "lab_selftest: no executable lab script at $LAB" >&2; exit 1; }

prefix="lt$(($$ % 1000000))"
state_root=$(mktemp -d)
export WGHUB_LAB_STATE_ROOT=$state_root
failures=0
listener=""

lab() { "$LAB" "$1" --prefix "$prefix" "${@:2}"; }
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
pass() { echo "ok: $*"; }
check() { # check DESCRIPTION CMD...
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}
cleanup() {
  set +e
  [ -n "$listener" ] && kill "$listener" 2>/dev/null
  "$LAB" down --prefix "$prefix" >/dev/null 2>&1
  rm -rf "$state_root"
}
trap cleanup EXIT

echo "lab_selftest: prefix $prefix, state in $state_root"
"$LAB" up --sites 2 --prefix "$prefix"
# shellcheck disable=SC1090
. "$state_root/$prefix/lab.env"

# --- namespaces and processes
for n in hub inet hq nat1 nat2 site1 site2 lan1 lan2; do
  check "namespace $prefix-$n exists" ip netns exec "$prefix-$n" true
done
for i in 1 2; do
  wg_if_var="LAB_SITE${i}_WG_IF"
  wg_if=${!wg_if_var}
  check "wireguard-go $wg_if is running" pgrep -f "^wireguard-go $wg_if\$"
  check "socket of $wg_if exists" test -S "/var/run/wireguard/$wg_if.sock"
  check "site$i's wg peer is the hub" sh -c \
    "ip netns exec $prefix-site$i wg show $wg_if peers | grep -qxF '$LAB_HUB_PUBKEY'"
done

# --- hub ports: up, no kernel IPv4/IPv6 address, checksum offload off
for dev in wan0 lan0; do
  check "hub $dev is up" sh -c "ip -n $LAB_NS_HUB -o link show $dev | grep -q ',UP'"
  check "hub $dev has no kernel address" sh -c "[ -z \"\$(ip -n $LAB_NS_HUB -o addr show dev $dev)\" ]"
  check "hub $dev tx checksum offload off" sh -c \
    "ip netns exec $LAB_NS_HUB ethtool -k $dev | grep -qx 'tx-checksumming: off'"
done

# --- reachability inside the lab
check "site1 reaches its NAT (192.168.1.1)" lab exec site1 ping -c1 -W2 192.168.1.1
check "lan1 host reaches the site1 router (10.1.1.1)" lab exec lan1 ping -c1 -W2 10.1.1.1
check "nat1 reaches nat2's uplink over the inet bridge" lab exec nat1 ping -c1 -W2 "$LAB_SITE2_NAT_ADDR"
check "the hub's wan0 peer is a port of the inet bridge" sh -c \
  "ip -n $LAB_NS_INET -o link show hub | grep -q 'master br0'"

# --- what the hub side sees: a temporary address on wan0 and lan0 for the test
ip -n "$LAB_NS_HUB" addr add "$LAB_HUB_WAN_ADDR/24" dev wan0
ip -n "$LAB_NS_HUB" addr add "$LAB_HUB_LAN_ADDR/24" dev lan0
check "HQ host reaches lan0 (temporary 10.0.0.1)" lab exec hq ping -c1 -W2 "$LAB_HUB_LAN_ADDR"
seen=$state_root/seen
: >"$seen"
ip netns exec "$LAB_NS_HUB" python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 5555))
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        data, (ip, port) = s.recvfrom(64)
        f.write("%s %d\n" % (ip, port))
' "$LAB_HUB_WAN_ADDR" "$seen" &
listener=$!
sleep 0.5

# send_probe: one datagram from site1, source port 40001, to the hub's WAN:5555;
# prints the source address and port the hub saw.
send_probe() {
  local before
  before=$(wc -l <"$seen")
  lab exec site1 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 40001))
s.sendto(b"probe", (sys.argv[1], 5555))
' "$LAB_HUB_WAN_ADDR"
  for _ in $(seq 30); do
    [ "$(wc -l <"$seen")" -gt "$before" ] && break
    sleep 0.1
  done
  tail -n1 "$seen"
}

first=$(send_probe)
[ "${first%% *}" = "$LAB_SITE1_NAT_ADDR" ] && pass "site1 is masqueraded to $LAB_SITE1_NAT_ADDR ($first)" ||
  fail "site1 seen as '$first', expected $LAB_SITE1_NAT_ADDR"
again=$(send_probe)
[ -n "$first" ] && [ "$again" = "$first" ] && pass "the NAT mapping is stable ($again)" || fail "mapping changed without roam: $again"

lab roam 1
roamed=$(send_probe)
[ "${roamed%% *}" = "100.64.0.101" ] && pass "after roam site1 is seen from 100.64.0.101 ($roamed)" ||
  fail "after roam site1 seen as '$roamed', expected 100.64.0.101"
check "lab.env follows the roam" grep -qx "LAB_SITE1_NAT_ADDR=100.64.0.101" "$state_root/$prefix/lab.env"

lab roam 1 --port-only
ported=$(send_probe)
[ "${ported%% *}" = "100.64.0.101" ] && [ "${ported##* }" != "${roamed##* }" ] &&
  pass "after roam --port-only the source port changed (${roamed##* } -> ${ported##* })" ||
  fail "after roam --port-only site1 seen as '$ported' (before: '$roamed')"

lab roam 1
back=$(send_probe)
[ -n "$back" ] && [ "${back%% *}" = "$LAB_SITE1_NAT_ADDR" ] && pass "roam again returns to ${back%% *}" ||
  fail "second roam: seen as '$back'"

kill "$listener" 2>/dev/null || true
wait "$listener" 2>/dev/null || true
listener=""
ip -n "$LAB_NS_HUB" addr del "$LAB_HUB_WAN_ADDR/24" dev wan0
ip -n "$LAB_NS_HUB" addr del "$LAB_HUB_LAN_ADDR/24" dev lan0

# --- hub.yaml
yaml=$state_root/$prefix/hub.yaml
check "hub.yaml exists" test -s "$yaml"
n_peers=$(grep -c '^  - name: site' "$yaml" || true)
[ "$n_peers" = 2 ] && pass "hub.yaml lists 2 peers" || fail "hub.yaml lists $n_peers peers"
for i in 1 2; do
  pub_var="LAB_SITE${i}_PUBKEY"
  check "hub.yaml holds site$i's public key" grep -qF "${!pub_var}" "$yaml"
done
check "hub key file is 0600" sh -c "[ \"\$(stat -c %a '$state_root/$prefix/hub.key')\" = 600 ]"
if [ -n "$WGHUB" ]; then
  check "wghub --check-config accepts hub.yaml" "$WGHUB" --config "$yaml" --check-config
fi
check "lab status works" lab status
check "lab env works" lab env

# --- down leaves nothing; down again succeeds
lab down
left_ns=$(ip netns list | awk '{print $1}' | grep -E "^$prefix-" || true)
[ -z "$left_ns" ] && pass "no namespace left" || fail "namespaces left: $left_ns"
left_proc=$(pgrep -f "^wireguard-go ${prefix}s[0-9]+\$" || true)
[ -z "$left_proc" ] && pass "no wireguard-go left" || fail "wireguard-go left: $left_proc"
left_sock=$(find /var/run/wireguard/ -maxdepth 1 -regextype egrep \
  -regex ".*/(${prefix}s[0-9]+|${prefix}hub)\.sock" 2>/dev/null || true)
[ -z "$left_sock" ] && pass "no socket left" || fail "sockets left: $left_sock"
[ ! -e "$state_root/$prefix" ] && pass "state dir removed" || fail "state dir left"
check "lab down again succeeds" lab down

if [ "$failures" -gt 0 ]; then
  echo "lab_selftest: $failures check(s) failed"
  exit 1
fi
echo "lab_selftest: all checks passed"
