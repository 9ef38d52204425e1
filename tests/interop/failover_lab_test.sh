#!/usr/bin/env bash
# A pair of hubs (issue 14, second milestone; docs/ha.md): two real wghub
# processes (DPDK, net_af_packet) on one WAN segment and one HQ LAN, sharing
# the service addresses (scripts/lab --standby-hub), a real etcd started here,
# two stock wireguard-go sites behind NAT pinging the HQ host. Nothing mocked.
#
#   1. baseline: one hub without election, SIGKILLed and started again under
#      the pings; prints when each site's traffic resumed after the kill
#   2. the pair: peers pushed to etcd, hub-a elected active, hub-b standby
#      (its log, wghub_ha_role, its wg(8) get works and set is refused)
#   3. SIGKILL hub-a under the pings: hub-b becomes active after the kill,
#      never before, and initiates handshakes to the endpoints hub-a
#      published in etcd (takeover handshakes); prints per site "failover:
#      traffic resumed X.X s after the kill" and "lost N of M pings"
#   4. hub-a started again: it stands by (hub-b keeps the lease)
#   5. etcd stopped under the pings: hub-b answers on for 8 s on hub-a's
#      promises over the management link (failsafe mode), never fenced, and
#      hub-a never active; prints "lost N of M pings"; etcd started again:
#      both hubs reconnect, hub-b still active
#   6. site2's key deleted in etcd: gone from both hubs' wg show, site2 cut
#      off; put back: on both hubs again, site2 reaches HQ; prints how long
#      each change took to reach both hubs; wghub store push deletes the
#      endpoint key of a peer that is gone
# Correctness is asserted (traffic resumes, the standby took over, never two
# answering); timings are printed, never asserted.
#
# usage: failover_lab_test.sh PATH/TO/wghub PATH/TO/scripts/lab
# Skips (exit 77) when not root or tools are missing, unless WGHUB_REQUIRE_INTEROP=1.
set -euo pipefail

WGHUB=${1:?usage: $0 PATH/TO/wghub PATH/TO/scripts/lab}
LAB=${2:?usage: $0 PATH/TO/wghub PATH/TO/scripts/lab}
readonly RESUME_MAX_S=60 # how long a site may take to come back before the test gives up

export TEST_NAME=wghub_failover_lab
# shellcheck source=tests/interop/lab_test_lib.sh
. "$(dirname "$0")/lab_test_lib.sh"

require_root_and_tools ip wg wireguard-go iptables ping curl etcd etcdctl
require_hub_and_lab

lab_test_init "ha$(($$ % 100000))"
chmod 700 "$tmp"
etcd_pid=""
hub_b_pid=""
ping_pids=()
stop_test_processes() {
  local p
  for p in "${ping_pids[@]}"; do stop_pid "$p"; done
  stop_pid "$hub_b_pid"
  stop_pid "$etcd_pid"
}

ping_replies() { grep -c ' bytes from ' "$1" || true; }
first_reply_after() { # first_reply_after FILE T: epoch of the first reply at or after T
  awk -v t="$2" '/ bytes from /{ ts = substr($1, 2, length($1) - 2) + 0; if (ts >= t) { printf "%.2f\n", ts; exit } }' "$1"
}
wait_log() { # wait_log FILE SECONDS REGEX
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -le $deadline ]; do
    grep -Eq -- "$3" "$1" && return 0
    sleep 0.05
  done
  return 1
}
# Pings from site LAN I until one is answered: a hub that just started has
# no session, and a site only handshakes again once its data goes
# unanswered (REKEY_TIMEOUT + KEEPALIVE_TIMEOUT, 15 s).
until_reply() { # until_reply I SECONDS
  local t0=$SECONDS
  while [ $((SECONDS - t0)) -le "$2" ]; do
    in_ns "lan$1" ping -n -q -c 1 -W 1 "$LAB_HQ_HOST" >/dev/null 2>&1 && return 0
  done
  fail "site$1 got no reply from the HQ host within $2 s"
}
scrape() { ip netns exec "$1" curl -s --max-time 2 "http://$LAB_HUB_METRICS/metrics"; }
# Not `scrape | grep -q`: under pipefail, grep leaving early fails curl (SIGPIPE).
scrape_has() { # scrape_has NS REGEX
  local m
  m=$(scrape "$1") || return 1
  grep -q -- "$2" <<<"$m"
}

# Pings from both site LANs to the HQ host, 5 a second, in the background.
start_pings() { # start_pings TAG SECONDS
  local i
  ping_pids=()
  for i in 1 2; do
    # ip netns exec directly, so that $! is ping itself, and SIGINT back to
    # its default (a background job starts with it ignored): report_resume
    # stops it with SIGINT and reads its statistics.
    ip netns exec "$prefix-lan$i" env --default-signal=INT \
      ping -n -D -i 0.2 -W 1 -w "$2" "$LAB_HQ_HOST" >"$tmp/$1-ping$i.txt" 2>&1 &
    ping_pids+=($!)
  done
  sleep 3
  for i in 1 2; do
    [ "$(ping_replies "$tmp/$1-ping$i.txt")" -gt 0 ] || fail "$1: site$i had no replies before the kill"
  done
}
# After a kill at T_KILL: per site, the first reply after it; prints and
# returns the figures in `resumed`.
report_resume() { # report_resume TAG T_KILL WORD
  local i first t0
  resumed=()
  for i in 1 2; do
    first=""
    t0=$SECONDS
    while [ $((SECONDS - t0)) -le $RESUME_MAX_S ]; do
      first=$(first_reply_after "$tmp/$1-ping$i.txt" "$(awk -v t="$2" 'BEGIN { printf "%.2f", t + 0.3 }')")
      [ -n "$first" ] && break
      sleep 0.2
    done
    [ -n "$first" ] || fail "$1: site$i's traffic did not resume within $RESUME_MAX_S s"
    resumed+=("$(awk -v a="$first" -v b="$2" 'BEGIN { printf "%.1f", a - b }')")
    echo "$3: site$i traffic resumed ${resumed[-1]} s after the kill"
  done
  sleep 2
  stop_pings "$1" "$3"
}
# Stops start_pings' pings and prints per site "WORD: siteI lost N of M pings".
stop_pings() { # stop_pings TAG WORD
  local i sent got
  # SIGINT: ping prints its statistics ("N packets transmitted").
  for i in 1 2; do
    kill -INT "${ping_pids[$((i - 1))]}" 2>/dev/null || true
    wait "${ping_pids[$((i - 1))]}" 2>/dev/null || true
  done
  ping_pids=()
  for i in 1 2; do
    sent=$(sed -nE 's/^([0-9]+) packets transmitted.*/\1/p' "$tmp/$1-ping$i.txt")
    got=$(ping_replies "$tmp/$1-ping$i.txt")
    [ -n "$sent" ] || fail "$1: site$i's ping printed no statistics"
    echo "$2: site$i lost $((sent - got)) of $sent pings"
  done
}

step "lab with a standby hub namespace"
lab_up --sites 2 --standby-hub
ok "lab $prefix: hub and hub2 on one WAN bridge and one HQ LAN"

step "1. baseline: one hub (no election) killed and restarted under traffic"
start_hub
ping_clean lan1 "$LAB_HQ_HOST" "site1 -> HQ (baseline hub)"
ping_clean lan2 "$LAB_HQ_HOST" "site2 -> HQ (baseline hub)"
start_pings restart 120
t_kill=$(date +%s.%N)
kill -KILL "$hub_pid"
wait "$hub_pid" 2>/dev/null || true
hub_pid=""
mv "$hub_log" "$tmp/baseline-before-kill.log"
rm -f "/var/run/wireguard/$LAB_HUB_NAME.sock"
start_hub
report_resume restart "$t_kill" "restart baseline"
restart_figures=("${resumed[@]}")
stop_hub
ok "baseline measured"

step "2. the pair: etcd, peers pushed, hub-a active, hub-b standby"
start_etcd() { # the one member, its data kept in $tmp/etcd across restarts
  ip netns exec "$LAB_NS_HUB" etcd --name ha --data-dir "$tmp/etcd" \
    --listen-client-urls "http://$LAB_HUB_MGMT_ADDR:2379,http://127.0.0.1:2379" \
    --advertise-client-urls "http://$LAB_HUB_MGMT_ADDR:2379" \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster ha=http://127.0.0.1:2380 >>"$tmp/etcd.log" 2>&1 &
  etcd_pid=$!
  etcd_healthy || fail "etcd did not become healthy within 10 s"
}
ectl() { ip netns exec "$LAB_NS_HUB" env ETCDCTL_API=3 etcdctl --endpoints http://127.0.0.1:2379 "$@"; }
start_etcd
# Failsafe mode (docs/ha.md): each hub answers promise requests on its
# management address and asks the other's.
store_section() { # store_section NODE OWN_MGMT_ADDR OTHER_MGMT_ADDR
  cat <<YAML
store:
  endpoints: ["http://$LAB_HUB_MGMT_ADDR:2379"]
  prefix: /ha/peers/
  cache_file: $tmp/$1.store.json
  election: true
  node_name: $1
  lease_ttl: 2
  failsafe_listen: "$2:51821"
  failsafe_peers: ["$3:51821"]
YAML
}
{ cat "$LAB_HUB_CONFIG"; store_section hub-a "$LAB_HUB_MGMT_ADDR" "$LAB_HUB2_MGMT_ADDR"; } >"$tmp/hub-a.yaml"
{
  sed "s/^  name: $LAB_HUB_NAME\$/  name: $LAB_HUB2_NAME/" "$LAB_HUB_CONFIG"
  store_section hub-b "$LAB_HUB2_MGMT_ADDR" "$LAB_HUB_MGMT_ADDR"
} >"$tmp/hub-b.yaml"
grep -q "name: $LAB_HUB2_NAME" "$tmp/hub-b.yaml" || fail "hub-b.yaml: interface name not replaced"
chmod 600 "$tmp"/hub-*.yaml
ip netns exec "$LAB_NS_HUB" "$WGHUB" store push -c "$tmp/hub-a.yaml" || fail "wghub store push"

hub_log=$tmp/hub-a.log
ip netns exec "$LAB_NS_HUB" "$WGHUB" --config "$tmp/hub-a.yaml" --status-interval 0 >"$hub_log" 2>&1 &
hub_pid=$!
wait_log "$hub_log" 30 'role: active' || fail "hub-a did not become active"
hub_b_log=$tmp/hub-b.log
extra_logs=("$hub_b_log") # fail prints its tail too
ip netns exec "$LAB_NS_HUB2" "$WGHUB" --config "$tmp/hub-b.yaml" --status-interval 0 >"$hub_b_log" 2>&1 &
hub_b_pid=$!
wait_log "$hub_b_log" 30 'election: the leader is hub-a' || fail "hub-b did not see hub-a as the leader"
sleep 1
grep -q 'role: active' "$hub_b_log" && fail "hub-b became active beside a healthy hub-a"
scrape "$LAB_NS_HUB2" >"$tmp/hub-b-metrics.txt" || fail "no metrics from hub-b"
grep -q '^wghub_ha_role{role="standby"} 1' "$tmp/hub-b-metrics.txt" || fail "hub-b's wghub_ha_role is not standby"
scrape_has "$LAB_NS_HUB" '^wghub_ha_role{role="active"} 1' || fail "hub-a's wghub_ha_role is not active"
ip netns exec "$LAB_NS_HUB2" wg show "$LAB_HUB2_NAME" peers | grep -q . || fail "wg show on the standby lists no peers"
if out=$(ip netns exec "$LAB_NS_HUB2" wg set "$LAB_HUB2_NAME" peer "$LAB_SITE1_PUBKEY" persistent-keepalive 5 2>&1); then
  fail "wg set on the standby was accepted"
fi
echo "wg set on the standby: $out"
grep -q 'wg(8): set refused: this hub (hub-b) is a standby; the active hub is hub-a' "$hub_b_log" ||
  fail "hub-b did not log why it refused the set"
until_reply 1 40
until_reply 2 40
ping_clean lan1 "$LAB_HQ_HOST" "site1 -> HQ through hub-a"
ping_clean lan2 "$LAB_HQ_HOST" "site2 -> HQ through hub-a"
# Takeover handshakes: the active hub publishes the endpoints it sees.
for _ in $(seq 100); do
  n=$(ectl get --prefix --keys-only /ha/endpoints/ | grep -c . || true)
  [ "$n" -ge 2 ] && break
  sleep 0.1
done
[ "$n" -ge 2 ] || fail "hub-a did not publish both sites' endpoints under /ha/endpoints/ within 10 s"
ectl get --prefix /ha/endpoints/
ok "hub-a active, hub-b standby (metrics, wg show works, wg set refused), endpoints published"

step "3. SIGKILL the active hub under traffic"
start_pings failover 120
t_kill=$(date +%s.%N)
kill -KILL "$hub_pid"
wait "$hub_pid" 2>/dev/null || true
hub_pid=""
grep -q 'role: active' "$hub_b_log" && fail "hub-b was active before the kill: two answering"
wait_log "$hub_b_log" 15 'role: active' || fail "hub-b did not become active within 15 s of the kill"
t_active=$(date +%s.%N)
echo "hub-b active $(awk -v a="$t_active" -v b="$t_kill" 'BEGIN { printf "%.2f", a - b }') s after the kill (lease TTL 2 s)"
report_resume failover "$t_kill" failover
failover_figures=("${resumed[@]}")
for i in 1 2; do
  grep -q "handshake completed with peer site$i " "$hub_b_log" || fail "hub-b logged no handshake with site$i"
done
grep -q '"event":"role_changed".*"role":"active".*"node":"hub-b"' "$hub_b_log" ||
  fail "no role_changed audit line for hub-b"
scrape_has "$LAB_NS_HUB2" '^wghub_ha_role_changes_total{to="active"} 1' ||
  fail "hub-b's wghub_ha_role_changes_total{to=active} is not 1"
grep -q 'takeover: handshakes started to 2 of 2 published endpoint' "$hub_b_log" ||
  fail "hub-b did not start takeover handshakes to both sites"
scrape_has "$LAB_NS_HUB2" '^wghub_ha_takeover_handshakes_total 2' ||
  fail "hub-b's wghub_ha_takeover_handshakes_total is not 2"
ok "hub-b took over and dialled both sites; both sites' traffic resumed"

step "4. hub-a back: it stands by"
rm -f "/var/run/wireguard/$LAB_HUB_NAME.sock"
hub_log=$tmp/hub-a2.log
ip netns exec "$LAB_NS_HUB" "$WGHUB" --config "$tmp/hub-a.yaml" --status-interval 0 >"$hub_log" 2>&1 &
hub_pid=$!
wait_log "$hub_log" 30 'election: the leader is hub-b' || fail "the restarted hub-a did not see hub-b as the leader"
sleep 1
grep -q 'role: active' "$hub_log" && fail "the restarted hub-a became active beside hub-b"
ping_clean lan1 "$LAB_HQ_HOST" "site1 -> HQ through hub-b, hub-a standing by"
ok "hub-a stands by"

step "5. etcd stopped: hub-b answers on (failsafe mode); etcd back"
replies_between() { # replies_between FILE T0 T1: ping replies stamped in [T0, T1)
  awk -v a="$2" -v b="$3" '/ bytes from /{ ts = substr($1, 2, length($1) - 2) + 0; if (ts >= a && ts < b) n++ } END { print n + 0 }' "$1"
}
start_pings etcd-down 60
t_stop=$(date +%s.%N)
stop_pid "$etcd_pid"
etcd_pid=""
sleep 8 # four lease TTLs: without failsafe mode hub-b fences within one
t_end=$(date +%s.%N)
wait_log "$hub_b_log" 1 'answering on \(failsafe mode\)' || fail "hub-b did not enter failsafe mode"
scrape_has "$LAB_NS_HUB2" '^wghub_ha_failsafe_answering 1' || fail "hub-b's wghub_ha_failsafe_answering is not 1"
scrape_has "$LAB_NS_HUB2" '^wghub_ha_role{role="active"} 1' || fail "hub-b is not active with etcd stopped"
given=$(scrape "$LAB_NS_HUB" | sed -nE 's/^wghub_ha_failsafe_promises_total\{result="given"\} ([0-9]+)$/\1/p')
[ "${given:-0}" -gt 0 ] || fail "hub-a gave no promise"
grep -q 'role: standby' <(sed -n '/role: active/,$p' "$hub_b_log" | tail -n +2) &&
  fail "hub-b was fenced while etcd was stopped"
grep -q 'role: active' "$hub_log" && fail "hub-a became active while etcd was stopped"
for i in 1 2; do
  got=$(replies_between "$tmp/etcd-down-ping$i.txt" "$t_stop" "$t_end")
  [ "$got" -gt 0 ] || fail "site$i got no reply while etcd was stopped"
  # 5 a second for 8 s: about 40 sent.
  echo "etcd stopped 8 s: site$i got $got replies (hub-b: $given promise(s) from hub-a)"
done
stop_pings etcd-down "etcd stopped"
t0=$(date +%s%N)
start_etcd
wait_log "$hub_b_log" 20 'failsafe mode over' || fail "hub-b did not leave failsafe mode with etcd back"
echo "etcd back -> hub-b out of failsafe mode: $(awk -v d="$(($(date +%s%N) - t0))" 'BEGIN { printf "%.2f", d / 1e9 }') s"
sleep 3 # hub-a's promise runs out; it campaigns, loses, stands by
grep -q 'role: active' "$hub_log" && fail "hub-a became active after etcd came back"
scrape_has "$LAB_NS_HUB2" '^wghub_ha_role{role="active"} 1' || fail "hub-b is not active after etcd came back"
ok "etcd stopped 8 s: hub-b answered on hub-a's promises, never fenced; etcd back: hub-b still active"

step "6. a peer removed from etcd and put back: both hubs follow"
both_have() { # both_have KEY WANT: true when KEY's presence on both hubs' wg show is WANT (1/0)
  local spec have
  for spec in "$LAB_NS_HUB:$LAB_HUB_NAME" "$LAB_NS_HUB2:$LAB_HUB2_NAME"; do
    have=0
    ip netns exec "${spec%%:*}" wg show "${spec#*:}" peers | grep -qxF "$1" && have=1
    [ "$have" = "$2" ] || return 1
  done
}
until_both() { # until_both KEY WANT START_NS: prints the seconds since START_NS
  local deadline=$((SECONDS + 10))
  while [ $SECONDS -le $deadline ]; do
    if both_have "$1" "$2"; then
      awk -v d="$(($(date +%s%N) - $3))" 'BEGIN { printf "%.2f", d / 1e9 }'
      return 0
    fi
    sleep 0.02
  done
  return 1
}
site2_value=$(ectl get --print-value-only /ha/peers/site2)
[ -n "$site2_value" ] || fail "no /ha/peers/site2 in etcd"
t0=$(date +%s%N)
ectl del /ha/peers/site2 >/dev/null || fail "etcdctl del"
removed_s=$(until_both "$LAB_SITE2_PUBKEY" 0 "$t0") ||
  fail "site2 is still a peer of a hub 10 s after its key was deleted"
echo "etcd delete -> site2 gone from both hubs: $removed_s s"
ping_fails lan2 "$LAB_HQ_HOST" "site2 -> HQ after its key was deleted"
ping_clean lan1 "$LAB_HQ_HOST" "site1 -> HQ meanwhile"
t0=$(date +%s%N)
ectl put /ha/peers/site2 "$site2_value" >/dev/null || fail "etcdctl put"
added_s=$(until_both "$LAB_SITE2_PUBKEY" 1 "$t0") ||
  fail "site2 is missing on a hub 10 s after its key was put back"
echo "etcd put -> site2 on both hubs: $added_s s"
# The active hub lost site2's session with the peer: site2 handshakes again
# once its data goes unanswered (up to REKEY_TIMEOUT + KEEPALIVE_TIMEOUT).
wait_reachable lan2 "$LAB_HQ_HOST" 40 >/dev/null || fail "site2 does not reach HQ after its key is back"
ok "a peer change in etcd reached both hubs (removed in $removed_s s, added in $added_s s)"
# An endpoint key whose peer is gone: wghub store push deletes it.
ectl put /ha/endpoints/gone 100.64.0.99:51820 >/dev/null || fail "etcdctl put"
out=$(ip netns exec "$LAB_NS_HUB" "$WGHUB" store push -c "$tmp/hub-a.yaml") || fail "wghub store push: $out"
grep -qF -- '- /ha/endpoints/gone (the endpoint of a peer that is gone)' <<<"$out" ||
  fail "store push did not name the stale endpoint key: $out"
[ -z "$(ectl get --print-value-only /ha/endpoints/gone)" ] || fail "the stale endpoint key is still in etcd"
[ -n "$(ectl get --print-value-only /ha/endpoints/site1)" ] || fail "store push deleted site1's endpoint"
ok "wghub store push deleted the endpoint key of a peer that is gone, and only that"

echo
echo "etcd change -> both hubs: removed in $removed_s s, added in $added_s s"
echo "restart baseline: traffic resumed ${restart_figures[*]} s after the kill (site1 site2)"
echo "failover:         traffic resumed ${failover_figures[*]} s after the kill (site1 site2)"
echo "$TEST_NAME: ok"
