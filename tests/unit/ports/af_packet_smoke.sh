#!/usr/bin/env bash
# Smoke test of the port plumbing on real kernel interfaces: a veth pair
# between two network namespaces this script creates; af_packet_responder
# drives one end through net_af_packet and owns 10.77.0.1; the kernel on the
# other end (10.77.0.2) resolves it with ARP and pings it. Passes when every
# echo is answered, the kernel learned the responder's MAC and the responder
# learned the peer's. The port asks for 2 tx queues (a worker's and the control
# thread's), so qpairs=2 is appended to the devargs and both rx queues are
# polled. Then the responder stops polling while the peer sends a burst of
# echo requests larger than the sockets' rx rings: the frames the kernel drops
# there must be counted (socket_drops.hpp; DPDK 22.11's driver reports none),
# and with those the responder accounts for the whole burst. Addresses exist
# only inside these namespaces.
#
# usage: af_packet_smoke.sh PATH/TO/af_packet_responder
set -euo pipefail

RESPONDER=${1:?usage: $0 PATH/TO/af_packet_responder}

missing=""
[ "$(id -u)" -eq 0 ] || missing="$missing root"
for tool in ip ping; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
  echo "af_packet smoke: missing:$missing"
  [ "${WGHUB_REQUIRE_INTEROP:-0}" = 1 ] && exit 1
  exit 77 # meson: skipped
fi

id=$$
ns_hub="wgp-hub-$id"
ns_peer="wgp-peer-$id"
veth_hub="wph$((id % 100000))"
veth_peer="wpp$((id % 100000))"
tmp=$(mktemp -d)
responder_pid=""

cleanup() {
  set +e
  [ -n "$responder_pid" ] && kill "$responder_pid" 2>/dev/null && wait "$responder_pid" 2>/dev/null
  ip netns del "$ns_hub" 2>/dev/null
  ip netns del "$ns_peer" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

ip netns add "$ns_hub"
ip netns add "$ns_peer"
ip link add "$veth_hub" netns "$ns_hub" type veth peer name "$veth_peer" netns "$ns_peer"
ip -n "$ns_hub" link set "$veth_hub" up
ip -n "$ns_peer" addr add 10.77.0.2/24 dev "$veth_peer"
ip -n "$ns_peer" link set "$veth_peer" up
ip -n "$ns_peer" link set lo up

ip netns exec "$ns_hub" "$RESPONDER" "net_af_packet0,iface=$veth_hub" 10.77.0.1/24 \
  --echoes 3 --seconds 30 --tx-queues 2 --ready "$tmp/ready" --pause "$tmp/paused" >"$tmp/out" 2>&1 &
responder_pid=$!
for _ in $(seq 100); do
  [ -f "$tmp/ready" ] && break
  kill -0 "$responder_pid" 2>/dev/null || break
  sleep 0.1
done
if [ ! -f "$tmp/ready" ]; then
  echo "FAIL: the responder did not start"; cat "$tmp/out"; exit 1
fi

rc=0
ip netns exec "$ns_peer" ping -c 3 -i 0.3 -W 2 10.77.0.1 || rc=1
# The burst: 3000 echo requests at once (one flow: one socket of the fanout;
# net_af_packet's default ring holds 512 frames) while the responder is paused.
for _ in $(seq 300); do
  [ -f "$tmp/paused" ] && break
  sleep 0.1
done
readonly BURST=3000
ip netns exec "$ns_peer" ping -q -n -l "$BURST" -c "$BURST" -w 1 10.77.0.1 >/dev/null 2>&1 || true
touch "$tmp/paused.done"
wait "$responder_pid" || rc=1
responder_pid=""
cat "$tmp/out"

hub_mac=$(ip -n "$ns_hub" -o link show "$veth_hub" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
peer_mac=$(ip -n "$ns_peer" -o link show "$veth_peer" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
neigh=$(ip -n "$ns_peer" neigh show 10.77.0.1)
echo "peer's neighbour entry: $neigh (responder's veth: $hub_mac)"
if ! grep -qi "lladdr $hub_mac" <<<"$neigh"; then
  echo "FAIL: the kernel did not learn the responder's MAC from its ARP reply"; rc=1
fi
if ! grep -qi "neighbour 10.77.0.2 $peer_mac" "$tmp/out"; then
  echo "FAIL: the responder did not learn the peer ($peer_mac) from ARP"; rc=1
fi
grep -q "echo_replies=3" "$tmp/out" || { echo "FAIL: not every echo answered"; rc=1; }
grep -q "qpairs=2) .* rx_queues 2 tx_queues 2" "$tmp/out" ||
  { echo "FAIL: expected qpairs=2 appended and 2 rx queues to poll"; rc=1; }
grep -q "af_packet sockets 2" "$tmp/out" ||
  { echo "FAIL: expected the port's 2 AF_PACKET sockets to be found"; rc=1; }
read -r drops kept < <(sed -nE 's/^socket_drops=([0-9]+) rx_after_pause=([0-9]+)$/\1 \2/p' "$tmp/out")
echo "burst of $BURST: kept in the rings ${kept:-?}, dropped by the kernel ${drops:-?}"
if [ -z "${drops:-}" ] || [ "$drops" -eq 0 ]; then
  echo "FAIL: the kernel's drops on the full rings were not counted"; rc=1
elif [ $((drops + kept)) -lt "$BURST" ]; then
  echo "FAIL: kept $kept + dropped $drops < the $BURST frames sent"; rc=1
fi
[ $rc -eq 0 ] && echo "PASS: ARP and ICMP echo answered through net_af_packet, ring overflow counted"
exit $rc
