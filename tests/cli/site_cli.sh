#!/usr/bin/env bash
# `wghub site` without a running hub (the lab test, tests/interop/
# onboarding_lab_test.sh, runs it against one): add allocates the lowest free
# overlay address and writes the peer file (0644) and the site's file (-o,
# 0600; --qr; --public-key leaves no private key anywhere), list and show say
# "hub not running", the refusals (overlapping LAN, existing name, full pool,
# no sites: section, bad options) change nothing, rotate gives the file a new
# key, revoke removes it and appends an audit line with who and when, and the
# address of a revoked site is given out again.
#
# usage: site_cli.sh PATH/TO/wghub
set -euo pipefail

WGHUB=${1:?usage: $0 PATH/TO/wghub}
. "$(dirname "$0")/checks.sh"
mode() { stat -c %a "$1"; }

umask 022
mkdir -p "$tmp/etc/peers.d" "$tmp/run"
(umask 077 && head -c 32 /dev/urandom | base64 >"$tmp/etc/hub.key")
base=$(
  cat <<'YAML'
interface:
  name: sitecli0
  private_key_file: hub.key
  address: 10.99.0.1/24
ports:
  wan: {devargs: "net_null0", address: 100.64.0.1/24}
  lan: {devargs: "net_null1", address: 10.0.0.1/24}
peers_dir: peers.d
peers:
  - name: site1
    public_key: "SzJm6upaSd4F2N7ZZkXqVdZxAymCw6bnp+6tmGE8X0c="
    allowed_ips: [10.99.0.2/32, 10.1.1.0/24]
YAML
)
cfg=$tmp/etc/wghub.yaml
printf '%s\nsites:\n  overlay: 10.99.0.0/29\n  endpoint: vpn.example.com:51820\n' "$base" >"$cfg"
printf '%s\n' "$base" >"$tmp/etc/nosites.yaml"
audit=$tmp/audit.log
site() { "$WGHUB" site "$@" -c "$cfg" --socket-dir "$tmp/run" --audit-log "$audit"; }

expect "usage: no verb" 2 "usage: wghub site add" -- "$WGHUB" site
expect "usage: unknown verb" 2 "unknown command 'frob'" -- site frob x
expect "usage: add without --lan" 2 "--lan CIDR" -- site add s3
expect "usage: add without name" 2 "give one site NAME" -- site add --lan 10.3.0.0/24
expect "no sites: section" 1 "has no 'sites:' section" -- \
  "$WGHUB" site list -c "$tmp/etc/nosites.yaml"

printf '%s\nsites:\n  overlay: 10.99.0.0/29\n  endpoint: vpn.example.com:51820\nstore:\n  endpoints: ["http://127.0.0.1:1"]\n' \
  "$base" >"$tmp/etc/store.yaml"
# With a store the site goes to etcd too (wghub store push); etcd down here.
expect "a store: config with etcd unreachable" 1 "etcd not updated" -- \
  "$WGHUB" site add s9 --lan 10.9.0.0/24 -c "$tmp/etc/store.yaml" --socket-dir "$tmp/run"
check "nothing left written for the store config" [ ! -e "$tmp/etc/peers.d/s9.yaml" ]

expect "add s3" 0 "site s3: overlay 10.99.0.3, LAN 10.3.0.0/24" -- \
  site add s3 --lan 10.3.0.0/24 -o "$tmp/s3.conf"
check "peer file is 0644" [ "$(mode "$tmp/etc/peers.d/s3.yaml")" = 644 ]
check "site file is 0600" [ "$(mode "$tmp/s3.conf")" = 600 ]
check "site file: Address" grep -qx 'Address = 10.99.0.3/29' "$tmp/s3.conf"
check "site file: AllowedIPs" grep -qx 'AllowedIPs = 10.99.0.0/29, 10.0.0.0/24' "$tmp/s3.conf"
check "site file: Endpoint" grep -qx 'Endpoint = vpn.example.com:51820' "$tmp/s3.conf"
check "site file: PersistentKeepalive" grep -qx 'PersistentKeepalive = 25' "$tmp/s3.conf"
check "site file: MTU" grep -qx 'MTU = 1420' "$tmp/s3.conf"
site_priv=$(sed -n 's/^PrivateKey = //p' "$tmp/s3.conf")
check "no private key in the peer file" bash -c "! grep -qF -- '$site_priv' '$tmp/etc/peers.d/s3.yaml'"
check "no private key in the audit log" bash -c "! grep -qF -- '$site_priv' '$audit'"
check "audit: site_added with who" grep -q '"event":"site_added".*"by_user":"[^"]*","by_uid":[0-9]*' "$audit"
expect "config loads with the site" 0 "peer s3 +allowed_ips 10.99.0.3/32 10.3.0.0/24" -- \
  "$WGHUB" --config "$cfg" --check-config

expect "refused: overlapping LAN" 1 "LAN 10.1.0.0/16 overlaps 10.1.1.0/24 of peer 'site1'" -- \
  site add s4 --lan 10.1.0.0/16
expect "refused: HQ network" 1 "overlaps the HQ network 10.0.0.0/24" -- site add s4 --lan 10.0.0.128/25
expect "refused: the pool" 1 "overlaps the overlay pool 10.99.0.0/29" -- site add s4 --lan 10.99.0.0/30
expect "refused: existing name" 1 "a peer named 's3' exists already" -- site add s3 --lan 10.9.0.0/24
expect "refused: bad key" 1 "not a WireGuard public key" -- site add s4 --lan 10.4.0.0/24 --public-key nope

own=$(head -c 32 /dev/urandom | base64)
expect "add with the site's own key" 0 "overlay 10.99.0.4" -- \
  site add s4 --lan 10.4.0.0/24 --public-key "$own" -o "$tmp/s4.conf"
check "own key: no PrivateKey line" bash -c "! grep -q '^PrivateKey' '$tmp/s4.conf'"
check "own key: a line to fill in" grep -q "^# PrivateKey = (the site's own private key" "$tmp/s4.conf"
expect "add with --qr" 0 "█" -- site add s5 --lan 10.5.0.0/24 --qr
expect "add s6: the last address" 0 "overlay 10.99.0.6" -- site add s6 --lan 10.6.0.0/24 -o "$tmp/s6.conf"
expect "refused: full pool" 1 "the overlay pool 10.99.0.0/29 \(sites.overlay\) is full" -- \
  site add s7 --lan 10.7.0.0/24
check "refusals wrote nothing" [ "$(cd "$tmp/etc/peers.d" && echo *)" = "s3.yaml s4.yaml s5.yaml s6.yaml" ]
s6_before=$(cat "$tmp/etc/peers.d/s6.yaml")
expect "-o refuses an existing file" 1 "exists; -f replaces it. Nothing changed" -- \
  site rotate s6 -o "$tmp/s6.conf"
check "... and the site keeps its key" [ "$(cat "$tmp/etc/peers.d/s6.yaml")" = "$s6_before" ]

expect "list" 0 "s3 +10.99.0.3 +10.3.0.0/24 +-" -- site list
expect "list says hub not running" 0 "# hub not running" -- site list
expect "show" 0 "hub: +hub not running" -- site show s3

old=$(grep public_key "$tmp/etc/peers.d/s3.yaml")
expect "rotate without a hub" 0 "no hub is running" -- site rotate s3 -o "$tmp/s3-new.conf"
check "rotate: the peer file has a new key" bash -c "[ \"\$(grep public_key '$tmp/etc/peers.d/s3.yaml')\" != '$old' ]"
check "rotate: the new site file has a new private key" \
  bash -c "[ \"\$(sed -n 's/^PrivateKey = //p' '$tmp/s3-new.conf')\" != '$site_priv' ]"
check "rotate: same overlay address" grep -qx 'Address = 10.99.0.3/29' "$tmp/s3-new.conf"
expect "rotate: not a peers_dir site" 1 "not in a file of peers_dir" -- site rotate site1
expect "revoke" 0 "removed .*/peers.d/s4.yaml" -- site revoke s4
check "revoke: file gone" [ ! -e "$tmp/etc/peers.d/s4.yaml" ]
check "audit: site_revoked with who and when" \
  grep -qE '"ts":"[0-9-]+T[0-9:.]+Z","event":"site_revoked","site":"s4".*"by_user":"[^"]+","by_uid":[0-9]+' "$audit"
expect "a revoked site's address is given out again" 0 "site s7: overlay 10.99.0.4" -- \
  site add s7 --lan 10.7.0.0/24 -o "$tmp/s7.conf"
expect "revoke: unknown site" 1 "no site named 'nope'" -- site revoke nope

# Four adds at once (the config file's lock): four sites, four addresses.
mkdir -p "$tmp/par/peers.d"
cp "$tmp/etc/hub.key" "$tmp/par/"
printf '%s\nsites:\n  overlay: 10.99.0.0/24\n  endpoint: 192.0.2.1:51820\n' "$base" >"$tmp/par/wghub.yaml"
pids=()
for i in 1 2 3 4; do
  "$WGHUB" site add "p$i" --lan "10.5$i.0.0/24" -c "$tmp/par/wghub.yaml" --socket-dir "$tmp/run" \
    -o "$tmp/par/p$i.conf" 2>/dev/null &
  pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
check "parallel adds all succeed" [ "$rc" = 0 ]
check "parallel adds get four addresses" \
  [ "$(sed -n 's/^Address = //p' "$tmp"/par/p*.conf | sort -u | wc -l)" = 4 ]

finish site_cli
