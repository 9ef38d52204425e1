#!/usr/bin/env bash
# Onboarding, rotation and revocation of a site with `wghub site` (issue 16),
# against the real hub and stock WireGuard in the namespace lab (docs/lab.md):
#
#   1. lab up with 3 sites, site 3 bare (namespaces, NAT, router, LAN host; no
#      WireGuard, not in hub.yaml); the hub runs with a sites: section and a
#      peers_dir, --audit-log; sites 1 and 2 handshake
#   2. `wghub site add` for site 3 (refused first: an overlapping LAN, a name
#      that exists); site 3 comes up with nothing but the printed file
#      (`wg-quick up FILE`, wireguard-go); pings both ways between site 3's LAN
#      and the HQ host, and between site 3 and site 1 (overlay addresses). Sites
#      1 and 2 keep their config (`wg showconf`, the hub's allowed IPs, hub.yaml)
#      and the hub keeps its pid (no restart)
#   3. `wghub site rotate`: the old key keeps working while the site has not
#      switched; the site comes back with its new file (wg-quick down, up with
#      the new one); the hub holds the new key only; the outage is printed
#   4. `wghub site revoke`: the next packet after the command is dropped (pings
#      get no reply), the peer and its file are gone, the audit log says who and
#      when; the time to cut off is printed
#
# usage: onboarding_lab_test.sh PATH/TO/wghub PATH/TO/scripts/lab
# Skips (exit 77) when not root or tools are missing, unless WGHUB_REQUIRE_INTEROP=1.
set -euo pipefail

WGHUB=${1:?usage: $0 PATH/TO/wghub PATH/TO/scripts/lab}
LAB=${2:?usage: $0 PATH/TO/wghub PATH/TO/scripts/lab}
export TEST_NAME=wghub_onboarding
# shellcheck source=tests/interop/lab_test_lib.sh
. "$(dirname "$0")/lab_test_lib.sh"

require_root_and_tools ip wg wg-quick wireguard-go iptables ethtool ping pgrep timeout md5sum
require_hub_and_lab

lab_test_init "onb$(($$ % 1000))"
chmod 700 "$tmp"
rotate_pid=""
flow_pid=""
stop_test_processes() {
  stop_pid "$rotate_pid"
  stop_pid "$flow_pid"
}

readonly NEW=3 # the bare site onboarded here
readonly NEW_NAME=plant-3

site_var() { local v="LAB_SITE$1_$2"; echo "${!v}"; }
now_ms() { date +%s%3N; }
# `wg showconf` of a wireguard-go site, its runtime fields left out.
site_conf() { in_ns "site$1" wg showconf "$(site_var "$1" WG_IF)" | grep -v '^Endpoint'; }
hub_allowed_ips() { wg show "$LAB_HUB_NAME" allowed-ips | awk -v k="$1" '$1 == k {$1 = ""; print substr($0, 2)}'; }
site_cmd() { "$WGHUB" site "$@" -c "$config" --audit-log "$audit"; }
# wg-quick in the new site's namespace; the file's name is the interface's.
quick() { in_ns "site$NEW" wg-quick "$1" "$2" >>"$tmp/wg-quick.log" 2>&1 || fail "wg-quick $1 $2 failed: $(tail -n 5 "$tmp/wg-quick.log")"; }

# ---------------------------------------------------------------- 1. lab and hub

step "1: lab up (prefix $prefix, 3 sites, site $NEW bare), wghub with sites: and peers_dir"
lab_up --sites 3 --bare-sites "$NEW"
config=$tmp/hub.yaml
audit=$tmp/audit.log
mkdir -m 755 "$tmp/peers.d" "$tmp/add" "$tmp/rot"
{
  cat "$LAB_HUB_CONFIG"
  echo "sites:"
  echo "  overlay: 10.99.0.0/24"
  echo "  endpoint: $LAB_HUB_WAN_ADDR:$LAB_HUB_PORT"
  echo "peers_dir: $tmp/peers.d"
} >"$config"
chmod 644 "$config"
"$WGHUB" --config "$config" --check-config >/dev/null || fail "the lab config with sites: does not load"
ip netns exec "$LAB_NS_HUB" "$WGHUB" --config "$config" --status-interval 0 --audit-log "$audit" \
  >"$hub_log" 2>&1 &
hub_pid=$!
wait_for_log 30 'wghub running' || fail "wghub did not log 'wghub running' within 30 s"
for i in 1 2; do
  in_ns "lan$i" ping -n -q -c 2 -i 0.3 -W 2 "$LAB_HQ_HOST" >/dev/null 2>&1 || true
  wait_handshake "$i"
done
ok "wghub running (pid $hub_pid); sites 1 and 2 connected"
wg_if=$(site_var "$NEW" WG_IF)
site1_conf=$(site_conf 1)
site2_conf=$(site_conf 2)
hub_site1=$(hub_allowed_ips "$LAB_SITE1_PUBKEY")
hub_site2=$(hub_allowed_ips "$LAB_SITE2_PUBKEY")
config_sum=$(md5sum <"$config")

# ---------------------------------------------------------------- 2. site add

step "2: wghub site add $NEW_NAME --lan $(site_var "$NEW" LAN)"
if out=$(site_cmd add bad --lan 10.1.1.0/25 2>&1); then fail "a LAN inside site1's was accepted"; fi
grep -q "LAN 10.1.1.0/25 overlaps 10.1.1.0/24 of peer 'site1'" <<<"$out" || fail "overlap refusal: $out"
if out=$(site_cmd add site1 --lan 10.77.0.0/24 2>&1); then fail "an existing name was accepted"; fi
grep -q "a peer named 'site1' exists already" <<<"$out" || fail "name refusal: $out"
[ -z "$(ls "$tmp/peers.d")" ] || fail "a refused add left a file: $(ls "$tmp/peers.d")"
ok "refused: a LAN overlapping site1's, an existing name; nothing written"

site_file=$tmp/add/$wg_if.conf
site_cmd add "$NEW_NAME" --lan "$(site_var "$NEW" LAN)" -o "$site_file" 2>"$tmp/add.err" ||
  fail "site add failed: $(cat "$tmp/add.err")"
cat "$tmp/add.err"
[ "$(stat -c %a "$site_file")" = 600 ] || fail "the site file is mode $(stat -c %a "$site_file"), not 600"
[ "$(stat -c %a "$tmp/peers.d/$NEW_NAME.yaml")" = 644 ] || fail "the peer file is not 0644"
new_overlay=$(sed -n 's/^Address = \(.*\)\/.*/\1/p' "$site_file")
[ "$new_overlay" = 10.99.0.2 ] || fail "site got overlay '$new_overlay', expected the lowest free 10.99.0.2"
grep -q 'has the site: applied in' "$tmp/add.err" || fail "site add did not apply it to the running hub"
sed 's/^PrivateKey = .*/PrivateKey = (hidden)/' "$site_file"
quick up "$site_file"
ok "site $NEW up with nothing but the printed file (wg-quick up, interface $wg_if)"

ping_clean "lan$NEW" "$LAB_HQ_HOST" "site $NEW LAN -> HQ host"
ping_clean hq "$(site_var "$NEW" HOST)" "HQ host -> site $NEW LAN"
ping_clean "site$NEW" "$LAB_SITE1_OVERLAY" "site $NEW -> site 1 (overlay)"
ping_clean site1 "$new_overlay" "site 1 -> site $NEW (overlay)"

kill -0 "$hub_pid" || fail "wghub is gone"
[ "$(grep -c 'wghub running' "$hub_log")" = 1 ] || fail "wghub started more than once"
[ "$(site_conf 1)" = "$site1_conf" ] || fail "site 1's WireGuard config changed"
[ "$(site_conf 2)" = "$site2_conf" ] || fail "site 2's WireGuard config changed"
[ "$(hub_allowed_ips "$LAB_SITE1_PUBKEY")" = "$hub_site1" ] || fail "the hub's site1 changed"
[ "$(hub_allowed_ips "$LAB_SITE2_PUBKEY")" = "$hub_site2" ] || fail "the hub's site2 changed"
[ "$(md5sum <"$config")" = "$config_sum" ] || fail "hub.yaml changed"
ok "same hub (pid $hub_pid, started once); sites 1 and 2 and hub.yaml unchanged"
"$WGHUB" site list -c "$config"
"$WGHUB" site show "$NEW_NAME" -c "$config" | tee "$tmp/show.txt"
grep -q "last handshake:  [0-9]* s ago" "$tmp/show.txt" || fail "site show has no live handshake"

# ---------------------------------------------------------------- 3. site rotate

step "3: wghub site rotate $NEW_NAME"
old_key=$(wg show "$LAB_HUB_NAME" peers | grep -vxF -e "$LAB_SITE1_PUBKEY" -e "$LAB_SITE2_PUBKEY")
new_file=$tmp/rot/$wg_if.conf
site_cmd rotate "$NEW_NAME" -o "$new_file" --wait 120 2>"$tmp/rotate.err" &
rotate_pid=$!
for _ in $(seq 100); do [ -s "$new_file" ] && break; sleep 0.1; done
[ -s "$new_file" ] || fail "site rotate wrote no new file: $(cat "$tmp/rotate.err")"
ping_clean "lan$NEW" "$LAB_HQ_HOST" "site $NEW on its old key while the rotation waits"
[ "$(wg show "$LAB_HUB_NAME" peers | grep -c .)" = 4 ] || fail "the hub should hold the old and the new key now"
t0=$(now_ms)
quick down "$site_file"
# wireguard-go leaves with its interface; its socket must be gone before the next one starts.
for _ in $(seq 50); do [ -e "/var/run/wireguard/$wg_if.sock" ] || break; sleep 0.1; done
quick up "$new_file"
wait "$rotate_pid" || fail "site rotate failed: $(cat "$tmp/rotate.err")"
rotate_pid=""
cat "$tmp/rotate.err"
for _ in $(seq 100); do
  in_ns "lan$NEW" ping -n -q -c 1 -W 1 "$LAB_HQ_HOST" >/dev/null 2>&1 && break
done
t1=$(now_ms)
echo "measured: site $NEW back $((t1 - t0)) ms after wg-quick down of its old file (down, up with the new one, handshake, switch)"
ping_clean "lan$NEW" "$LAB_HQ_HOST" "site $NEW LAN -> HQ host on the new key"
ping_clean hq "$(site_var "$NEW" HOST)" "HQ host -> site $NEW LAN on the new key"
new_key=$(in_ns "site$NEW" wg show "$wg_if" private-key | wg pubkey)
wg show "$LAB_HUB_NAME" peers | grep -qxF "$old_key" && fail "the old key is still on the hub"
[ "$(hub_allowed_ips "$new_key")" = "10.99.0.2/32 $(site_var "$NEW" LAN)" ] ||
  fail "the new key has allowed IPs '$(hub_allowed_ips "$new_key")'"
grep -qF "$new_key" "$tmp/peers.d/$NEW_NAME.yaml" || fail "the peer file does not hold the new key"
grep -q '"event":"site_rotated"' "$audit" || fail "no site_rotated audit line"
kill -0 "$hub_pid" || fail "wghub is gone"
ok "rotated: the hub holds the new key only; same hub (pid $hub_pid)"

# ---------------------------------------------------------------- 4. site revoke

step "4: wghub site revoke $NEW_NAME"
in_ns "lan$NEW" ping -n -D -i 0.05 -W 1 -c 200 "$LAB_HQ_HOST" >"$tmp/flow.txt" 2>&1 &
flow_pid=$!
sleep 2
t0=$(now_ms)
site_cmd revoke "$NEW_NAME" 2>"$tmp/revoke.err" || fail "site revoke failed: $(cat "$tmp/revoke.err")"
t1=$(now_ms)
cat "$tmp/revoke.err"
ping_fails "lan$NEW" "$LAB_HQ_HOST" "site $NEW LAN -> HQ host right after the revoke"
ping_fails hq "$(site_var "$NEW" HOST)" "HQ host -> site $NEW LAN right after the revoke"
stop_pid "$flow_pid"
flow_pid=""
last_reply=$(awk '/bytes from/ {gsub(/[][]/, "", $1); t = $1} END {printf "%.0f", t * 1000}' "$tmp/flow.txt")
late=$(awk -v t1="$t1" '/bytes from/ {gsub(/[][]/, "", $1); if ($1 * 1000 > t1) n++} END {print n + 0}' "$tmp/flow.txt")
echo "measured: the command took $((t1 - t0)) ms; the last reply of a 50 ms ping flow came $((last_reply - t0)) ms after it started; $late replies after it returned"
[ "$last_reply" -gt 0 ] || fail "the flow got no reply before the revoke"
wg show "$LAB_HUB_NAME" peers | grep -qxF "$new_key" && fail "the revoked key is still on the hub"
[ ! -e "$tmp/peers.d/$NEW_NAME.yaml" ] || fail "the peer file is still there"
line=$(grep '"event":"site_revoked"' "$audit") || fail "no site_revoked line in $audit"
echo "audit: $line"
grep -q '"by_user":"root","by_uid":0' <<<"$line" || fail "the audit line does not say who"
grep -qE '"ts":"[0-9]{4}-[0-9]{2}-[0-9]{2}T' <<<"$line" || fail "the audit line does not say when"
grep -q '"event":"peer_removed"' "$audit" || fail "the hub logged no peer_removed"
ping_clean "lan1" "$LAB_HQ_HOST" "site 1 LAN -> HQ host after the revoke"
kill -0 "$hub_pid" || fail "wghub is gone"
[ "$(grep -c 'wghub running' "$hub_log")" = 1 ] || fail "wghub started more than once"
ok "revoked: cut off, file removed, audit line; same hub (pid $hub_pid)"

step "5: stop"
quick down "$new_file"
stop_hub
lab_down_nothing_left
echo "$TEST_NAME: PASS"
