#!/usr/bin/env bash
# Interop without DPDK: stock wireguard-go in one network namespace, wghub's
# protocol core (wghub-proto-peer on a plain UDP socket) in another, a veth
# between them. Phase 1: wireguard-go initiates (a ping through its interface)
# and our side responds, decrypts the echo request and sends an encrypted echo
# reply. Phase 2: our side initiates and pings the site's tunnel address.
# Together they prove handshake, KDF, nonces and padding wire-compatible.
#
# usage: wireguard_go_interop.sh PATH/TO/wghub-proto-peer
# Every address lives inside the two namespaces this script creates and removes.
set -euo pipefail

PEER_BIN=${1:?usage: $0 PATH/TO/wghub-proto-peer}

missing=""
[ "$(id -u)" -eq 0 ] || missing="$missing root"
for tool in ip wg wireguard-go ping; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
  echo "interop: missing:$missing"
  [ "${WGHUB_REQUIRE_INTEROP:-0}" = 1 ] && exit 1
  exit 77 # meson: skipped
fi

id=$$
ns_site="wgi-site-$id"
ns_hub="wgi-hub-$id"
wg_if="wgi$((id % 100000))" # unique: wireguard-go's socket path is not namespaced
veth_site="wis$((id % 100000))"
veth_hub="wih$((id % 100000))"
tmp=$(mktemp -d)
site_outer=10.231.0.1
hub_outer=10.231.0.2
site_inner=10.232.0.2
hub_inner=10.232.0.1

peer_pid=""
cleanup() {
  set +e
  [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null
  pkill -f "^wireguard-go $wg_if\$" 2>/dev/null
  ip netns del "$ns_site" 2>/dev/null
  ip netns del "$ns_hub" 2>/dev/null
  rm -f "/var/run/wireguard/$wg_if.sock"
  rm -rf "$tmp"
}
trap cleanup EXIT

in_site() { ip netns exec "$ns_site" "$@"; }
in_hub() { ip netns exec "$ns_hub" "$@"; }

ip netns add "$ns_site"
ip netns add "$ns_hub"
ip link add "$veth_site" netns "$ns_site" type veth peer name "$veth_hub" netns "$ns_hub"
in_site ip addr add "$site_outer/24" dev "$veth_site"
in_hub ip addr add "$hub_outer/24" dev "$veth_hub"
for ns in "$ns_site" "$ns_hub"; do ip -n "$ns" link set lo up; done
in_site ip link set "$veth_site" up
in_hub ip link set "$veth_hub" up

umask 077
wg genkey >"$tmp/site.key"
wg genkey >"$tmp/hub.key"
wg genkey >"$tmp/psk"
site_pub=$(wg pubkey <"$tmp/site.key")
hub_pub=$(wg pubkey <"$tmp/hub.key")

in_site wireguard-go "$wg_if" >/dev/null 2>&1
in_site wg set "$wg_if" private-key "$tmp/site.key" listen-port 51820 \
  peer "$hub_pub" preshared-key "$tmp/psk" allowed-ips "$hub_inner/32" \
  endpoint "$hub_outer:51820"
in_site ip addr add "$site_inner/24" dev "$wg_if"
in_site ip link set "$wg_if" up

fail() { echo "interop: FAIL: $*"; exit 1; }

echo "== phase 1: wireguard-go initiates, wghub's protocol core responds"
in_hub "$PEER_BIN" --private-key "$tmp/hub.key" --peer-public-key "$site_pub" \
  --preshared-key "$tmp/psk" --listen "$hub_outer:51820" --address "$hub_inner" \
  --echo-replies 3 --timeout 20 &
peer_pid=$!
sleep 0.3
in_site ping -c 3 -i 0.3 -W 5 "$hub_inner" || fail "ping from the wireguard-go site to our responder"
wait "$peer_pid" || fail "wghub-proto-peer (responder) exited with $?"
peer_pid=""
in_site wg show "$wg_if"
[ "$(in_site wg show "$wg_if" latest-handshakes | awk '{print $2}')" != 0 ] ||
  fail "wireguard-go reports no handshake"

echo "== phase 2: wghub's protocol core initiates, wireguard-go responds"
in_hub "$PEER_BIN" --private-key "$tmp/hub.key" --peer-public-key "$site_pub" \
  --preshared-key "$tmp/psk" --listen "$hub_outer:51820" --address "$hub_inner" \
  --initiate "$site_outer:51820" --ping "$site_inner" --count 3 --timeout 20 ||
  fail "wghub-proto-peer (initiator) could not ping $site_inner through wireguard-go"
in_site wg show "$wg_if" transfer

echo "interop: OK (both directions)"
