#!/usr/bin/env bash
# `wghub import` / `wghub export` as an operator meets them: a hand-written
# wg-quick hub config with three peers and comments is imported (YAML + 0600
# key files, warnings for wg-quick-only keys with file:line), loads with
# --check-config, exports back to a wg-quick file (0600) and means the same:
# both files import to identical YAML and carry identical keys. Bad input is
# refused with file:line and nothing written; keys never reach the terminal
# unless asked for.
#
# usage: wgquick_roundtrip.sh PATH/TO/wghub
set -euo pipefail

WGHUB=${1:?usage: $0 PATH/TO/wghub}
. "$(dirname "$0")/checks.sh"
key() { head -c 32 /dev/urandom | base64; } # as `wg genkey` / `wg genpsk` print it
mode() { stat -c %a "$1"; }

hub_key=$(key)
psk=$(key)
pub1=$(key)
pub2=$(key)
pub3=$(key)

mkdir -p "$tmp/etc"
cat >"$tmp/etc/wg0.conf" <<CONF
# HQ hub, written by hand
[Interface]
Address = 10.99.0.1/24
ListenPort = 51820
PrivateKey = $hub_key
DNS = 10.0.0.53
PostUp = iptables -A FORWARD -i %i -j ACCEPT

[Peer]
# friendly_name = plant-berlin
PublicKey = $pub1
PresharedKey = $psk
AllowedIPs = 10.1.0.0/24, fd00:1::/64
AllowedIPs = 10.1.1.0/24   # the second hall
PersistentKeepalive = 25

# plant-hamburg
[Peer]
PublicKey = $pub2
AllowedIPs = 10.2.0.0/24

[Peer]
# The kiosk has a fixed address.
# friendly_name = kiosk-17
PublicKey = $pub3
AllowedIPs = 10.99.0.17/32
Endpoint = 203.0.113.7:51820
CONF

ports=(--wan-devargs "net_af_packet0,iface=wan0" --wan-address 100.64.0.1/24
  --wan-gateway 100.64.0.254 --lan-devargs "net_af_packet1,iface=lan0" --lan-address 10.0.0.1/24)

# --- help and usage ---------------------------------------------------------
expect "import help" 0 "usage: wghub import WG-QUICK.CONF" -- "$WGHUB" import --help
expect "export help" 0 "usage: wghub export --config" -- "$WGHUB" export --help
expect "import without file" 2 "which wg-quick file" -- "$WGHUB" import
expect "import bad address option" 2 "--wan address" -- \
  "$WGHUB" import "$tmp/etc/wg0.conf" --wan-address 10.0.0.300/24
expect "export without config" 2 "--config FILE is required" -- "$WGHUB" export
expect "export stray argument" 2 "unexpected argument" -- "$WGHUB" export -c x.yaml extra

# --- bad input: file:line, exit 1, nothing written -------------------------
sed 's/^\[Peer\]$/[Peers]/' "$tmp/etc/wg0.conf" >"$tmp/etc/bad.conf"
expect "unknown section refused" 1 "bad.conf:9:1: error: .*unknown section \[Peers\]" -- \
  "$WGHUB" import "$tmp/etc/bad.conf" -o "$tmp/bad" "${ports[@]}"
check "nothing written for bad input" test ! -e "$tmp/bad/wghub.yaml" -a ! -e "$tmp/bad/private.key"
sed 's|^AllowedIPs = 10.2.0.0/24$|AllowedIPs = 10.2.0.1/24|' "$tmp/etc/wg0.conf" >"$tmp/etc/bad2.conf"
expect "host bits refused" 1 "bad2.conf:20:[0-9]+: error: AllowedIPs: host bits set; did you mean 10.2.0.0/24" -- \
  "$WGHUB" import "$tmp/etc/bad2.conf" -o "$tmp/bad" "${ports[@]}"
sed "s|^PrivateKey = .*|PrivateKey = ${hub_key:0:40}|" "$tmp/etc/wg0.conf" >"$tmp/etc/bad3.conf"
expect "bad private key refused" 1 "bad3.conf:5:[0-9]+: error: PrivateKey: not a valid key" -- \
  "$WGHUB" import "$tmp/etc/bad3.conf" -o "$tmp/bad" "${ports[@]}"
out=$("$WGHUB" import "$tmp/etc/bad3.conf" -o "$tmp/bad" 2>&1 || true)
check "bad private key not echoed" test "$(grep -c -F -- "${hub_key:0:40}" <<<"$out")" = 0

# --- import without ports: placeholders -------------------------------------
expect "import with placeholders" 0 "fill in the CHANGE-ME values" -- \
  "$WGHUB" import "$tmp/etc/wg0.conf" -o "$tmp/ph"
check "placeholders marked" grep -q 'devargs: "CHANGE-ME"' "$tmp/ph/wghub.yaml"
expect "placeholder config refused by the loader" 1 "ports.wan.address" -- \
  "$WGHUB" --config "$tmp/ph/wghub.yaml" --check-config

# --- import with ports ------------------------------------------------------
out=$("$WGHUB" import "$tmp/etc/wg0.conf" -o "$tmp/hub" "${ports[@]}" 2>&1) && rc=0 || rc=$?
if [ "$rc" -eq 0 ]; then pass "import"; else fail "import: exit $rc: $out"; fi
check "import warns DNS with file:line" grep -qE "wg0.conf:6:1: warning: DNS: wg-quick setting ignored" <<<"$out"
check "import warns PostUp with file:line" grep -qE "wg0.conf:7:1: warning: PostUp" <<<"$out"
check "import output holds no key" test "$(grep -c -F -e "$hub_key" -e "$psk" <<<"$out")" = 0
check "yaml holds no key" test "$(grep -c -F -e "$hub_key" -e "$psk" "$tmp/hub/wghub.yaml")" = 0
check "private.key mode 600" test "$(mode "$tmp/hub/private.key")" = 600
check "psk file mode 600" test "$(mode "$tmp/hub/psk/plant-berlin.key")" = 600
check "private.key content" test "$(cat "$tmp/hub/private.key")" = "$hub_key"
check "psk content" test "$(cat "$tmp/hub/psk/plant-berlin.key")" = "$psk"
expect "imported config loads" 0 "3 peer" -- "$WGHUB" --config "$tmp/hub/wghub.yaml" --check-config
expect "imported names" 0 "peer plant-hamburg" -- "$WGHUB" --config "$tmp/hub/wghub.yaml" --check-config
expect "second import refuses to overwrite" 1 "refusing to overwrite" -- \
  "$WGHUB" import "$tmp/etc/wg0.conf" -o "$tmp/hub" "${ports[@]}"
expect "import --force overwrites" 0 "loads" -- \
  "$WGHUB" import "$tmp/etc/wg0.conf" -o "$tmp/hub" --force "${ports[@]}"

# --- export -----------------------------------------------------------------
out=$("$WGHUB" export -c "$tmp/hub/wghub.yaml" 2>&1) && rc=0 || rc=$?
check "export to stdout" test "$rc" = 0
check "stdout export leaves keys out" test "$(grep -c -F -e "$hub_key" -e "$psk" <<<"$out")" = 0
check "stdout export says so" grep -q "# PrivateKey omitted" <<<"$out"
out=$("$WGHUB" export -c "$tmp/hub/wghub.yaml" --include-private-key 2>/dev/null)
check "--include-private-key prints the key" grep -qxF "PrivateKey = $hub_key" <<<"$out"

mkdir -p "$tmp/out"
expect "export to a file" 0 "wrote .*wg0.conf \(3 peer\(s\), mode 0600\)" -- \
  "$WGHUB" export -c "$tmp/hub/wghub.yaml" -o "$tmp/out/wg0.conf"
check "exported file mode 600" test "$(mode "$tmp/out/wg0.conf")" = 600
expect "export refuses to overwrite" 1 "refusing to overwrite" -- \
  "$WGHUB" export -c "$tmp/hub/wghub.yaml" -o "$tmp/out/wg0.conf"
expect "export --force replaces" 0 "wrote" -- \
  "$WGHUB" export -c "$tmp/hub/wghub.yaml" -o "$tmp/out/wg0.conf" --force
check "exported file still mode 600" test "$(mode "$tmp/out/wg0.conf")" = 600
check "friendly_name comments" test "$(grep -c '^# friendly_name = ' "$tmp/out/wg0.conf")" = 3
expect "bad yaml refused by export" 1 "nothing written" -- "$WGHUB" export -c "$tmp/ph/wghub.yaml"

# --- round trip: the exported file means what the original meant -------------
# Both import to the same YAML (names, public keys, allowed IPs, endpoints,
# keepalives, port, address) once comments are dropped ...
norm() { "$WGHUB" import "$1" --dry-run "${ports[@]}" 2>/dev/null | sed -e 's/ *#.*$//' -e '/^$/d'; }
if diff <(norm "$tmp/etc/wg0.conf") <(norm "$tmp/out/wg0.conf") >"$tmp/diff"; then
  pass "round trip: same YAML"
else
  fail "round trip: YAML differs: $(cat "$tmp/diff")"
fi
# ... and carry the same keys: PrivateKey, and each peer's PresharedKey.
keys() { # "section-publickey key value" lines, case and spacing normalised
  awk -F= '
    /^[ \t]*\[/ { pub = "" }
    { sub(/#.*/, "") }
    tolower($1) ~ /^[ \t]*publickey[ \t]*$/ { v = substr($0, index($0, "=") + 1); gsub(/[ \t]/, "", v); pub = v }
    tolower($1) ~ /^[ \t]*(privatekey|presharedkey)[ \t]*$/ {
      k = tolower($1); gsub(/[ \t]/, "", k); v = substr($0, index($0, "=") + 1); gsub(/[ \t]/, "", v)
      print k, pub, v
    }' "$1" | sort
}
if [ -n "$(keys "$tmp/etc/wg0.conf")" ] && diff <(keys "$tmp/etc/wg0.conf") <(keys "$tmp/out/wg0.conf") >/dev/null; then
  pass "round trip: same keys"
else
  fail "round trip: keys differ"
fi
# The exported file re-imports cleanly (no warnings: it has no wg-quick extras).
out=$("$WGHUB" import "$tmp/out/wg0.conf" --dry-run 2>&1 >/dev/null)
check "exported file imports without warnings" test -z "$out"

finish wgquick_roundtrip
