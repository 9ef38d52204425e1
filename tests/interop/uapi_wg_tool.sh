#!/usr/bin/env bash
# The stock wg(8) tool (wireguard-tools) against wghub's userspace API server:
# wghub-uapi-fake-hub serves /var/run/wireguard/NAME.sock with the real
# control/uapi*.cpp and an in-memory backend, and this script runs `wg show`,
# `wg show dump`, `wg showconf`, `wg set` (peer add/update/remove, allowed-ips,
# endpoint, keepalive, preshared-key, private-key, listen-port, fwmark),
# `wg syncconf` and `wg setconf` against it and checks what wg prints and
# what the backend holds. Also: no private or preshared key in any output
# (issue 7), "-CIDR" removal and malformed requests over the raw socket, a
# second server refused, a stale socket replaced, the socket removed on exit.
#
# usage: uapi_wg_tool.sh PATH/TO/wghub-uapi-fake-hub
# Needs root (/var/run/wireguard); exits 77 (skip) otherwise unless
# WGHUB_REQUIRE_INTEROP=1. The socket directory is shared by the whole
# machine, so the interface name is unique per run.
set -euo pipefail
umask 077  # key files written below stay private (and wg stops warning)

FAKE_HUB=${1:?usage: $0 wghub-uapi-fake-hub}

skip() {
  if [[ ${WGHUB_REQUIRE_INTEROP:-0} == 1 ]]; then
    echo "FAIL: $* (WGHUB_REQUIRE_INTEROP=1)"
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}
[[ $(id -u) -eq 0 ]] || skip "needs root for /var/run/wireguard"
command -v wg >/dev/null || skip "wg (wireguard-tools) is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"

NAME="uapi$(($$ % 100000))r$RANDOM"  # at most 15 characters
SOCK=/var/run/wireguard/$NAME.sock
WORK=$(mktemp -d)
HUB_PID=""

cleanup() {
  if [[ -n $HUB_PID ]] && kill -0 "$HUB_PID" 2>/dev/null; then
    kill "$HUB_PID" 2>/dev/null || true
    wait "$HUB_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  if [[ -f $WORK/hub.log ]]; then
    echo "--- fake hub log:"
    cat "$WORK/hub.log"
  fi
  exit 1
}
CHECKS=0
expect_eq() {  # description actual expected
  CHECKS=$((CHECKS + 1))
  if [[ "$2" != "$3" ]]; then
    fail "$1"$'\n--- expected:\n'"$3"$'\n--- got:\n'"$2"
  fi
  echo "ok: $1"
}
expect_contains() {  # description haystack needle
  CHECKS=$((CHECKS + 1))
  [[ "$2" == *"$3"* ]] || fail "$1: no '$3' in:"$'\n'"$2"
  echo "ok: $1"
}
expect_lacks() {  # description haystack needle
  CHECKS=$((CHECKS + 1))
  [[ "$2" != *"$3"* ]] || fail "$1: '$3' must not appear in:"$'\n'"$2"
  echo "ok: $1"
}

start_hub() {
  local readies
  readies=$(grep -c '^ready ' "$WORK/hub.log" 2>/dev/null || true)
  "$FAKE_HUB" "$NAME" --state "$WORK/state" >>"$WORK/hub.log" 2>&1 &
  HUB_PID=$!
  # Wait for the hub's own "ready" line, not for `wg show` to work: wg(8)
  # unlinks a socket that refuses connections, which would race the
  # stale-socket check below. Bounded by attempts, not by a time threshold.
  for _ in $(seq 1 500); do
    [[ $(grep -c '^ready ' "$WORK/hub.log" || true) -gt ${readies:-0} ]] && return 0
    kill -0 "$HUB_PID" 2>/dev/null || fail "fake hub exited during start-up"
    sleep 0.02
  done
  fail "the fake hub never became ready"
}
stop_hub() {
  kill "$HUB_PID"
  wait "$HUB_PID" || fail "fake hub exited with an error"
  HUB_PID=""
}
b64_to_hex() { python3 -c 'import base64,sys; print(base64.b64decode(sys.argv[1]).hex())' "$1"; }
# Sends raw protocol text (printf escapes) and prints every byte of the reply
# until the server closes the connection or a reply ends.
raw() {
  python3 - "$SOCK" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode().decode('unicode_escape').encode('latin-1'))
s.settimeout(10)
data = b''
while not data.endswith(b'\n\n'):
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
# After an error reply the server closes; after a good one it waits for more.
if data.startswith(b'errno=-'):
    assert s.recv(1) == b'', 'connection not closed after an error'
sys.stdout.write(data.decode())
EOF
}
# Peer lines of `wg show dump`, sorted (wg sorts by handshake time only).
peer_dump() { wg show "$NAME" dump | tail -n +2 | sort; }

SEED=ERERERERERERERERERERERERERERERERERERERERERE=  # the fake hub's seeded peer
T=$'\t'

# ---- serving, refusing a second server -------------------------------------
start_hub
expect_eq "socket is 0600" "$(stat -c %a "$SOCK")" "600"
out=$("$FAKE_HUB" "$NAME" 2>&1) && fail "a second server started: $out"
expect_contains "a second server is refused" "$out" "another process is serving the wg(8) socket $SOCK"
expect_contains "wg show interfaces lists it" "$(wg show interfaces)" "$NAME"

# ---- wg show / dump / showconf ------------------------------------------------
show=$(wg show "$NAME")
expect_contains "wg show: interface" "$show" "interface: $NAME"
expect_contains "wg show: listening port" "$show" "listening port: 51820"
expect_contains "wg show: peer" "$show" "peer: $SEED"
expect_contains "wg show: endpoint" "$show" "endpoint: 198.51.100.7:51821"
expect_contains "wg show: allowed ips" "$show" "allowed ips: 10.1.0.0/24, fd00:1::/64"
expect_contains "wg show: latest handshake" "$show" "latest handshake: "
expect_contains "wg show: transfer" "$show" "transfer: 1.18 MiB received, 7.30 MiB sent"
expect_contains "wg show: keepalive" "$show" "persistent keepalive: every 25 seconds"
expect_eq "wg show dump" "$(wg show "$NAME" dump)" \
  "(none)${T}(none)${T}51820${T}off
${SEED}${T}(none)${T}198.51.100.7:51821${T}10.1.0.0/24,fd00:1::/64${T}1700000000${T}1234567${T}7654321${T}25"
expect_eq "wg show latest-handshakes" "$(wg show "$NAME" latest-handshakes)" "${SEED}${T}1700000000"
expect_eq "wg show transfer" "$(wg show "$NAME" transfer)" "${SEED}${T}1234567${T}7654321"
expect_eq "wg showconf" "$(wg showconf "$NAME")" "[Interface]
ListenPort = 51820

[Peer]
PublicKey = ${SEED}
AllowedIPs = 10.1.0.0/24, fd00:1::/64
Endpoint = 198.51.100.7:51821
PersistentKeepalive = 25"

# ---- wg set: add and update a peer -------------------------------------------
K2=$(wg genkey | wg pubkey)
wg set "$NAME" peer "$K2" allowed-ips 10.9.0.0/24,fd00:9::/64 endpoint 192.0.2.9:51820 \
  persistent-keepalive 15
expect_eq "wg set adds a peer" "$(peer_dump)" "$(printf '%s\n' \
  "${K2}${T}(none)${T}192.0.2.9:51820${T}10.9.0.0/24,fd00:9::/64${T}0${T}0${T}0${T}15" \
  "${SEED}${T}(none)${T}198.51.100.7:51821${T}10.1.0.0/24,fd00:1::/64${T}1700000000${T}1234567${T}7654321${T}25" |
  sort)"
# allowed-ips replaces the list; a prefix moves from the peer that had it.
wg set "$NAME" peer "$K2" allowed-ips 10.9.0.0/24,10.1.0.0/24 persistent-keepalive off
expect_eq "wg set replaces allowed ips and takes a prefix over" "$(wg show "$NAME" allowed-ips | sort)" \
  "$(printf '%s\n' "${K2}${T}10.9.0.0/24 10.1.0.0/24" "${SEED}${T}fd00:1::/64" | sort)"
expect_eq "persistent-keepalive off" "$(wg show "$NAME" persistent-keepalive | grep "$K2")" "${K2}${T}off"

# ---- secrets: set, never shown ------------------------------------------------
wg genpsk >"$WORK/psk"
wg genkey >"$WORK/priv"
PSK=$(cat "$WORK/psk")
PRIV=$(cat "$WORK/priv")
wg set "$NAME" private-key "$WORK/priv" peer "$K2" preshared-key "$WORK/psk"
expect_contains "backend got the private key" "$(cat "$WORK/state")" "private_key=set"
expect_contains "backend got the preshared key" "$(cat "$WORK/state")" \
  "peer=$(b64_to_hex "$K2") psk=set"
everything="$(wg show "$NAME"; wg show "$NAME" dump; wg showconf "$NAME"; wg show all dump;
  wg show "$NAME" private-key; wg show "$NAME" preshared-keys; raw 'get=1\n\n'; cat "$WORK/hub.log")"
for secret in "$PSK" "$(b64_to_hex "$PSK")" "$PRIV" "$(b64_to_hex "$PRIV")"; do
  expect_lacks "no secret in any output" "$everything" "$secret"
done
expect_lacks "wg show prints no private key" "$(wg show "$NAME")" "private key"
expect_lacks "wg showconf has no PrivateKey" "$(wg showconf "$NAME")" "PrivateKey"
expect_lacks "wg showconf has no PresharedKey" "$(wg showconf "$NAME")" "PresharedKey"
wg set "$NAME" peer "$K2" preshared-key /dev/null  # all-zero key = remove
expect_contains "preshared key removed" "$(cat "$WORK/state")" "peer=$(b64_to_hex "$K2") psk=none"

# ---- listen-port, fwmark, a backend error ------------------------------------
wg set "$NAME" listen-port 51999
expect_eq "wg set listen-port" "$(wg show "$NAME" listen-port)" "51999"
wg set "$NAME" fwmark 0x1234
expect_eq "wg set fwmark" "$(wg show "$NAME" fwmark)" "0x1234"
expect_contains "showconf FwMark" "$(wg showconf "$NAME")" "FwMark = 0x1234"
wg set "$NAME" fwmark off
expect_eq "wg set fwmark off" "$(wg show "$NAME" fwmark)" "off"
out=$(wg set "$NAME" listen-port 1 2>&1) && fail "listen-port 1 should fail"
expect_eq "backend errno reaches wg as a message" "$out" \
  "Unable to modify interface: Address already in use"
expect_eq "failed set changed nothing" "$(wg show "$NAME" listen-port)" "51999"

# ---- wg set peer remove --------------------------------------------------------
wg set "$NAME" peer "$SEED" remove
expect_eq "wg set peer remove" "$(wg show "$NAME" peers)" "$K2"

# ---- wg syncconf: add, change, remove by diff ---------------------------------
K3=$(wg genkey | wg pubkey)
K4=$(wg genkey | wg pubkey)
wg set "$NAME" peer "$K4" allowed-ips 10.40.0.0/16
cat >"$WORK/sync.conf" <<EOF
[Interface]
ListenPort = 51820

[Peer]
PublicKey = $K2
AllowedIPs = 10.9.0.0/24, 10.20.0.0/16
Endpoint = 192.0.2.10:51820

[Peer]
PublicKey = $K3
AllowedIPs = 10.30.0.0/16
PersistentKeepalive = 10
EOF
wg syncconf "$NAME" "$WORK/sync.conf"
expect_eq "wg syncconf applies the diff" "$(wg show "$NAME" dump)" "$(printf '%s\n' \
  "(none)${T}(none)${T}51820${T}off" \
  "${K2}${T}(none)${T}192.0.2.10:51820${T}10.9.0.0/24,10.20.0.0/16${T}0${T}0${T}0${T}off" \
  "${K3}${T}(none)${T}(none)${T}10.30.0.0/16${T}0${T}0${T}0${T}10")"
before=$(wg show "$NAME" dump)
wg showconf "$NAME" >"$WORK/round.conf"
wg syncconf "$NAME" "$WORK/round.conf"
expect_eq "showconf | syncconf is a no-op" "$(wg show "$NAME" dump)" "$before"

# ---- wg setconf: replace_peers -------------------------------------------------
printf '[Interface]\nListenPort = 51821\n\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.4.0.0/16\n' \
  "$K4" >"$WORK/set.conf"
wg setconf "$NAME" "$WORK/set.conf"
expect_eq "wg setconf replaces all peers" "$(wg show "$NAME" allowed-ips)" "${K4}${T}10.4.0.0/16"
expect_eq "wg setconf listen port" "$(wg show "$NAME" listen-port)" "51821"

# ---- raw protocol: -CIDR removal (newer wg only; this wg cannot), errors ------
K4HEX=$(b64_to_hex "$K4")
wg set "$NAME" peer "$K4" allowed-ips 10.4.0.0/16,10.5.0.0/16
expect_eq "allowed_ip=-CIDR replies errno=0" \
  "$(raw "set=1\npublic_key=$K4HEX\nallowed_ip=-10.4.0.0/16\n\n")" "errno=0"
expect_eq "allowed_ip=-CIDR removes one prefix" "$(wg show "$NAME" allowed-ips)" "${K4}${T}10.5.0.0/16"
expect_eq "malformed set: errno=-22 and closed" "$(raw 'set=1\nlisten_port=x\n\n')" "errno=-22"
expect_eq "unknown operation: errno=-22 and closed" "$(raw 'hello=1\n\n')" "errno=-22"
expect_eq "malformed set changed nothing" "$(wg show "$NAME" listen-port)" "51821"

# ---- shutdown removes the socket; a stale one is replaced --------------------
stop_hub
[[ ! -e $SOCK ]] || fail "socket left behind after SIGTERM"
echo "ok: socket removed on exit"
CHECKS=$((CHECKS + 1))
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCK"
[[ -S $SOCK ]] || fail "could not create a stale socket"
start_hub
expect_contains "a stale socket is replaced" "$(cat "$WORK/hub.log")" "replaced the stale socket"
expect_eq "and served" "$(wg show "$NAME" peers)" "$SEED"
# xplatform: deleting the socket file makes a userspace implementation exit.
rm -f "$SOCK"
for _ in $(seq 1 1000); do
  kill -0 "$HUB_PID" 2>/dev/null || break
  sleep 0.02
done
kill -0 "$HUB_PID" 2>/dev/null && fail "fake hub kept running after its socket was deleted"
wait "$HUB_PID" || true
HUB_PID=""
echo "ok: exits when its socket file is deleted"
CHECKS=$((CHECKS + 1))

echo "PASS: $CHECKS checks"
