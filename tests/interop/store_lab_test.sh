#!/usr/bin/env bash
# Peers from etcd (issue 14, first milestone; docs/ha.md): the real hub
# (DPDK, net_af_packet) with a `store:` section, a real etcd started here in
# the hub's namespace (its own data dir under $tmp, loopback only), and stock
# wireguard-go sites behind NAT from scripts/lab. Nothing is mocked.
#
#   1. lab up (3 sites); `wghub store push` puts the 3 lab peers in etcd, then
#      site3's key is deleted; `wghub store diff` names it; the hub starts with
#      site1 and site2 only (the file's peers are not applied); site3 is cut off
#   2. put site3's key back: the hub shows it (`wg show` via its UAPI socket)
#      and site3's LAN reaches the HQ host. Prints how long the change took
#   2b. `wghub site add` on the config with a store (and sites:, peers_dir)
#      pushes the new site to etcd, and the hub takes it from there; `wghub
#      site revoke` removes it from etcd and the hub
#   3. delete site2's key: the hub drops it, site2 is cut off. Prints the time
#   4. stop etcd: the hub logs the loss, no peer is removed, site1 and site3
#      keep forwarding, wghub_store_connected is 0; start etcd: it reconnects
#   5. resync: the hub's client port is blocked (packets dropped: only the
#      watch's liveness probe can tell), site2's key is put
#      back through a second client port; the hub does not see it; unblocked,
#      the hub reads the whole prefix again and applies site2
#   6. SIGTERM; site1's key deleted and etcd stopped: the hub starts from the
#      cached store state (logged; site1 still on `wg show` and forwarding);
#      etcd started: the resync removes site1. Without etcd and without the
#      cache the hub refuses to start and says why
#
# usage: store_lab_test.sh PATH/TO/wghub PATH/TO/scripts/lab
# Skips (exit 77) when not root or tools are missing, unless WGHUB_REQUIRE_INTEROP=1.
set -euo pipefail

WGHUB=${1:?usage: $0 PATH/TO/wghub PATH/TO/scripts/lab}
LAB=${2:?usage: $0 PATH/TO/wghub PATH/TO/scripts/lab}

readonly SITES=3
readonly HUB_CLIENT_PORT=2379  # the hub's etcd endpoint (blocked in step 5)
readonly TEST_CLIENT_PORT=2381 # etcdctl's
readonly PEER_PORT=2380
readonly KEY_PREFIX=/lab/peers/
readonly RECONNECT_TIMEOUT=30

export TEST_NAME=wghub_store_lab
# shellcheck source=tests/interop/lab_test_lib.sh
. "$(dirname "$0")/lab_test_lib.sh"

require_root_and_tools ip wg wireguard-go iptables ping curl etcd etcdctl timeout
require_hub_and_lab

lab_test_init "st$(($$ % 1000))"
chmod 700 "$tmp"
etcd_pid=""

stop_test_processes() { stop_pid "$etcd_pid"; }

in_hub() { ip netns exec "$LAB_NS_HUB" "$@"; }
ectl() { in_hub env ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$TEST_CLIENT_PORT" "$@"; }

start_etcd() {
  # Not through in_hub: `ip netns exec` execs etcd, so $! is etcd's own pid.
  ip netns exec "$LAB_NS_HUB" etcd --name lab --data-dir "$tmp/etcd" \
    --listen-client-urls "http://127.0.0.1:$HUB_CLIENT_PORT,http://127.0.0.1:$TEST_CLIENT_PORT" \
    --advertise-client-urls "http://127.0.0.1:$HUB_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
    --initial-cluster "lab=http://127.0.0.1:$PEER_PORT" >>"$tmp/etcd.log" 2>&1 &
  etcd_pid=$!
  etcd_healthy && return 0
  tail -n 20 "$tmp/etcd.log" >&2
  fail "etcd did not become healthy within 10 s"
}

stop_etcd() {
  stop_pid "$etcd_pid"
  wait "$etcd_pid" 2>/dev/null || true
  etcd_pid=""
}

log_lines() { wc -l <"$hub_log"; }
wait_for_log_since() { # wait_for_log_since N SECONDS REGEX
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -le $deadline ]; do
    tail -n +"$(($1 + 1))" "$hub_log" | grep -Eq -- "$3" && return 0
    kill -0 "$hub_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

site_key() { local v="LAB_SITE$1_PUBKEY"; echo "${!v}"; }
hub_has_peer() { wg show "$LAB_HUB_NAME" peers | grep -qxF "$1"; }

# A monotonic clock (the wall clock may be stepped under a test): uptime in
# ns, 10 ms resolution.
now_ns() {
  local up
  read -r up _ </proc/uptime
  echo "${up/./}0000000"
}
# Polls `wg show` until the peer is there (want=1) or gone (want=0); prints
# the seconds since START_NS. wait_peer KEY WANT START_NS
wait_peer() {
  local key=$1 want=$2 start=$3 deadline=$((SECONDS + 10)) have
  while [ $SECONDS -le $deadline ]; do
    have=0
    hub_has_peer "$key" && have=1
    if [ "$have" = "$want" ]; then
      awk -v d="$(($(now_ns) - start))" 'BEGIN { printf "%.2f", d / 1e9 }'
      return 0
    fi
  done
  return 1
}


metric() { # metric NAME -> its value in the hub's scrape
  in_hub curl -sf "http://$LAB_HUB_METRICS/metrics" | awk -v n="$1" '$1 == n {print $2}'
}

# The scrape's snapshot is published about once a second: wait up to 5 s
# for NAME to reach at least MIN. wait_metric NAME MIN
wait_metric() {
  local deadline=$((SECONDS + 5)) v
  while [ $SECONDS -le $deadline ]; do
    v=$(metric "$1")
    [ -n "$v" ] && awk -v v="$v" -v m="$2" 'BEGIN { exit !(v >= m) }' && return 0
    sleep 0.2
  done
  return 1
}

# ---------------------------------------------------------------- 1
step "1: lab up (prefix $prefix), etcd, wghub store push, the hub starts with the store's peers"
lab_up --sites "$SITES"
config=$tmp/hub.yaml
{
  cat "$LAB_HUB_CONFIG"
  echo "store:"
  echo "  endpoints: [\"http://127.0.0.1:$HUB_CLIENT_PORT\"]"
  echo "  prefix: $KEY_PREFIX"
  echo "  cache_file: $tmp/cache/store.json"
} >"$config"
chmod 600 "$config"
start_etcd
ok "etcd running in $LAB_NS_HUB (pid $etcd_pid, data $tmp/etcd)"
in_hub "$WGHUB" store push -c "$config" || fail "wghub store push failed"
[ "$(ectl get --prefix --keys-only "$KEY_PREFIX" | grep -c .)" = "$SITES" ] ||
  fail "etcd does not hold $SITES keys after store push"
ectl get --print-value-only "${KEY_PREFIX}site3" >"$tmp/site3.value"
ectl get --print-value-only "${KEY_PREFIX}site2" >"$tmp/site2.value"
grep -qF "$(site_key 3)" "$tmp/site3.value" || fail "site3's value lacks its public key"
ectl del "${KEY_PREFIX}site3" >/dev/null
rc=0
diff_out=$(in_hub "$WGHUB" store diff -c "$config") || rc=$?
echo "$diff_out"
[ "$rc" = 1 ] || fail "wghub store diff exited $rc with a difference, expected 1"
grep -qxF "+ ${KEY_PREFIX}site3" <<<"$diff_out" || fail "store diff does not name site3"
ok "store push wrote $SITES keys; store diff names the deleted site3"

LAB_HUB_CONFIG=$config start_hub
wait_for_log 10 "store: connected to etcd" || fail "the hub did not connect to etcd"
grep -q "peer(s) of $config are not applied" "$hub_log" || fail "no log line about the file's peers"
hub_has_peer "$(site_key 1)" && hub_has_peer "$(site_key 2)" || fail "site1/site2 missing on the hub"
hub_has_peer "$(site_key 3)" && fail "site3 is on the hub though not in etcd"
ping_clean lan1 "$LAB_HQ_HOST" "site1 LAN -> HQ"
ping_clean lan2 "$LAB_HQ_HOST" "site2 LAN -> HQ"
ping_fails lan3 "$LAB_HQ_HOST" "site3 LAN -> HQ (not in etcd)"

# ---------------------------------------------------------------- 2
step "2: put site3's key: the hub applies it, site3 passes traffic"
n=$(log_lines)
t0=$(now_ns)
ectl put "${KEY_PREFIX}site3" <"$tmp/site3.value" >/dev/null
took=$(wait_peer "$(site_key 3)" 1 "$t0") || fail "site3 not on the hub 10 s after the put"
echo "store: site3 put in etcd -> on the hub's wg show in $took s (target < 1 s; not asserted)"
wait_for_log_since "$n" 5 "store: revision [0-9]+ applied: 1 peer\(s\) added" ||
  fail "no 'store: revision N applied: 1 peer(s) added' log line"
grep -E "store: revision [0-9]+ applied" "$hub_log" | tail -n1
wait_reachable lan3 "$LAB_HQ_HOST" "$RECONNECT_TIMEOUT" >/dev/null || fail "site3 does not reach HQ once added"
ping_clean lan3 "$LAB_HQ_HOST" "site3 LAN -> HQ (added through etcd)"

# ---------------------------------------------------------------- 2b
step "2b: wghub site add / revoke with a store: pushed to etcd, applied by the hub from there"
sites_config=$tmp/hub-sites.yaml
mkdir -m 755 "$tmp/peers.d"
{
  cat "$config"
  echo "sites:"
  echo "  overlay: 10.99.0.0/24"
  echo "  endpoint: $LAB_HUB_WAN_ADDR:$LAB_HUB_PORT"
  echo "peers_dir: $tmp/peers.d"
} >"$sites_config"
chmod 600 "$sites_config"
in_hub "$WGHUB" site add site9 --lan 10.77.0.0/24 -c "$sites_config" -o "$tmp/site9.conf" \
  2>"$tmp/add.err" || fail "site add failed: $(cat "$tmp/add.err")"
cat "$tmp/add.err"
grep -Eq 'store push: [0-9]+ key\(s\) written or deleted' "$tmp/add.err" || fail "site add did not push to etcd"
[ -n "$(ectl get --print-value-only "${KEY_PREFIX}site9")" ] || fail "no ${KEY_PREFIX}site9 in etcd after site add"
grep -q 'has the site: applied in' "$tmp/add.err" || fail "the hub did not take the new site from etcd"
site9_key=$(sed -n 's/^PrivateKey = //p' "$tmp/site9.conf" | wg pubkey)
hub_has_peer "$site9_key" || fail "site9 is not on the hub"
in_hub "$WGHUB" site revoke site9 -c "$sites_config" 2>"$tmp/revoke.err" ||
  fail "site revoke failed: $(cat "$tmp/revoke.err")"
cat "$tmp/revoke.err"
[ -z "$(ectl get --print-value-only "${KEY_PREFIX}site9")" ] || fail "${KEY_PREFIX}site9 still in etcd after site revoke"
wait_peer "$site9_key" 0 "$(now_ns)" >/dev/null || fail "site9 still on the hub after site revoke"
for i in 1 2 3; do hub_has_peer "$(site_key "$i")" || fail "site$i is gone after the add and revoke of site9"; done
ok "site add pushed site9 to etcd and the hub applied it; site revoke removed it from etcd and the hub"

# ---------------------------------------------------------------- 3
step "3: delete site2's key: the hub drops it, site2 is cut off"
t0=$(now_ns)
ectl del "${KEY_PREFIX}site2" >/dev/null
took=$(wait_peer "$(site_key 2)" 0 "$t0") || fail "site2 still on the hub 10 s after the delete"
echo "store: site2 deleted in etcd -> gone from the hub's wg show in $took s (target < 1 s; not asserted)"
ping_fails lan2 "$LAB_HQ_HOST" "site2 LAN -> HQ (deleted in etcd)"
ping_clean lan1 "$LAB_HQ_HOST" "site1 LAN -> HQ"
wait_metric wghub_store_peer_changes_total 2 ||
  fail "wghub_store_peer_changes_total is '$(metric wghub_store_peer_changes_total)', expected >= 2"
changes=$(metric wghub_store_peer_changes_total)
ok "wghub_store_peer_changes_total $changes"

# ---------------------------------------------------------------- 4
step "4: stop etcd: forwarding goes on, no peer removed; start it: the hub reconnects"
n=$(log_lines)
stop_etcd
wait_for_log_since "$n" 10 "store: etcd lost" || fail "the hub did not log the loss of etcd"
grep '"event":"store_lost"' "$hub_log" >/dev/null || fail "no store_lost audit line"
ping_clean lan1 "$LAB_HQ_HOST" "site1 LAN -> HQ (etcd down)"
ping_clean lan3 "$LAB_HQ_HOST" "site3 LAN -> HQ (etcd down)"
hub_has_peer "$(site_key 1)" && hub_has_peer "$(site_key 3)" || fail "a peer was removed while etcd was down"
[ "$(metric wghub_store_connected)" = 0 ] || fail "wghub_store_connected is not 0 with etcd down"
ok "etcd down: site1 and site3 forward, wghub_store_connected 0"
n=$(log_lines)
t0=$(now_ns)
start_etcd
wait_for_log_since "$n" 15 "store: connected to etcd" || fail "the hub did not reconnect to etcd"
awk -v d="$(($(now_ns) - t0))" 'BEGIN { printf "store: etcd started -> the hub reconnected in %.1f s (retries back off to 2 s)\n", d / 1e9 }'
wait_metric wghub_store_connected 1 || fail "wghub_store_connected is not 1 after the reconnect"
hub_has_peer "$(site_key 1)" && hub_has_peer "$(site_key 3)" || fail "a peer was removed by the reconnect"

# ---------------------------------------------------------------- 5
step "5: a change the hub cannot see (its etcd port blocked) is applied by the resync"
n=$(log_lines)
t0=$(now_ns)
in_hub iptables -I INPUT -p tcp --dport "$HUB_CLIENT_PORT" -j DROP
wait_for_log_since "$n" 15 "store: etcd lost" || {
  in_hub iptables -D INPUT -p tcp --dport "$HUB_CLIENT_PORT" -j DROP
  fail "the hub did not notice its etcd port blocked"
}
awk -v d="$(($(now_ns) - t0))" 'BEGIN { printf "store: etcd port blocked (dropped) -> the hub noticed in %.1f s (a quiet watch is probed every 5 s)\n", d / 1e9 }'
tail -n +"$((n + 1))" "$hub_log" | grep -o "store: etcd lost ([^;]*" | head -n1
ectl put "${KEY_PREFIX}site2" <"$tmp/site2.value" >/dev/null
sleep 1
if hub_has_peer "$(site_key 2)"; then fail "site2 applied though the hub's etcd port is blocked"; fi
n=$(log_lines)
t0=$(now_ns)
in_hub iptables -D INPUT -p tcp --dport "$HUB_CLIENT_PORT" -j DROP
took=$(wait_peer "$(site_key 2)" 1 "$t0") || fail "site2 not applied 10 s after the port reopened"
echo "store: port reopened -> resync applied site2 in $took s"
wait_for_log_since "$n" 5 "store: connected to etcd" || fail "no reconnect line"
wait_metric wghub_store_reconnects_total 2 || fail "wghub_store_reconnects_total < 2"
wait_reachable lan2 "$LAB_HQ_HOST" "$RECONNECT_TIMEOUT" >/dev/null || fail "site2 does not reach HQ after the resync"
ok "site2 back through the resync"

# ---------------------------------------------------------------- 6
step "6: a start without etcd runs from the cached state, then resyncs; without a cache it refuses"
stop_hub
ectl del "${KEY_PREFIX}site1" >/dev/null # the cache, written by the hub, still holds it
stop_etcd
[ -f "$tmp/cache/store.json" ] || fail "no store cache at $tmp/cache/store.json"
grep -qF "$(site_key 1)" "$tmp/cache/store.json" || fail "the cache lacks site1"
LAB_HUB_CONFIG=$config start_hub
grep -q "RUNNING FROM THE CACHED STORE STATE" "$hub_log" || fail "no log line about the cached state"
for i in 1 2 3; do hub_has_peer "$(site_key "$i")" || fail "site$i missing on a hub started from the cache"; done
# A restarted hub has no sessions: site1 re-handshakes when its own timers
# say so (the ~15 s that the rest of issue 14 is about).
wait_reachable lan1 "$LAB_HQ_HOST" "$RECONNECT_TIMEOUT" >/dev/null || fail "site1 does not reach HQ via the hub started from the cache"
ping_clean lan1 "$LAB_HQ_HOST" "site1 LAN -> HQ (hub started from the cache)"
ok "started from the cache with 3 peers, forwarding"
n=$(log_lines)
t0=$(now_ns)
start_etcd
took=$(wait_peer "$(site_key 1)" 0 "$t0") || fail "site1 still on the hub 10 s after etcd came back"
echo "store: etcd started -> the resync removed site1 (deleted while the hub was down) in $took s"
wait_for_log_since "$n" 5 "store: connected to etcd" || fail "no reconnect line"
ping_fails lan1 "$LAB_HQ_HOST" "site1 LAN -> HQ (deleted in etcd, resynced)"
# site3 has not talked to this hub yet: its own timers bring it back.
wait_reachable lan3 "$LAB_HQ_HOST" "$RECONNECT_TIMEOUT" >/dev/null || fail "site3 does not reach HQ after the resync"
ping_clean lan3 "$LAB_HQ_HOST" "site3 LAN -> HQ (kept by the resync)"
stop_hub
stop_etcd
mv "$tmp/cache/store.json" "$tmp/cache/moved.json"
rc=0
out=$(in_hub "$WGHUB" --config "$config" --status-interval 0 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "the hub exited $rc without etcd and without a cache, expected 1"
grep -q "etcd unreachable at .* and no cached store state at .*nothing started" <<<"$out" ||
  fail "no clear refusal: $out"
ok "no etcd, no cache: refused ($(grep -o 'store: etcd unreachable.*nothing started' <<<"$out" | cut -c1-90)...)"

step "done"
lab_down_nothing_left
echo "$TEST_NAME: PASS"
