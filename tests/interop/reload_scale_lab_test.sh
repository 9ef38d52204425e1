#!/usr/bin/env bash
# Issue 12's acceptance test of the reload at scale: "a reload of 100k peers
# while a site's handshake and pings go on, with nothing lost", on the real
# wghub binary (DPDK, net_af_packet) in the namespace lab of scripts/lab
# against stock wireguard-go sites. tests/pipeline/test_reload.cpp does the
# same in process at 20k simulated peers; this is the whole hub at 10^5.
#
#   1. lab up (2 sites); the lab's hub.yaml plus RELOAD_PEERS generated peers
#      (scripts/gen-peers.py --base: random keys, one /32 each from
#      172.16.0.0/12, after the sites' own peers); start wghub; both sites
#      handshake
#   2. site1's LAN host pings the HQ host every 50 ms from here to the end
#   3. reload with the file unchanged: right after SIGHUP site2 is made to
#      handshake afresh (wg(8) on the site removes its hub peer and adds it back
#      as the lab configured it; then its LAN host pings the HQ host again)
#   4. reload with 1 % of the generated peers changed (a new /32 each, in
#      198.18.0.0/15; the sites' peers untouched), site2 again handshaking
#      afresh during it
#   5. checks, per reload: the hub logged "reload of ... applied" with the
#      expected counts; site2's handshake completed after SIGHUP and before
#      that line (during the reload); `wg show` on the hub's UAPI socket lists
#      every peer and the changed peers' new /32s (and an unchanged one's old);
#      and no ping was lost, site1's across both reloads and site2's after
#      each forced handshake
#   6. figures: start time, each reload's time from SIGHUP to "applied", the
#      hub's own parse+diff time, slices, longest slice and longest control
#      poll; SIGTERM: wghub exits 0
#
# How pings are counted: each pinger runs `ping -c 20 -i 0.05 -W 2` in a loop
# until told to stop, so every request it sends is waited for (up to 2 s) and
# counted by ping itself: transmitted and received summed over the runs (a
# run that lost anything is kept whole, timestamped, for the failure
# message). 0 lost is the right expectation: the reload does not touch
# either site's peer (the diff names only the generated peers), the workers
# forward throughout (the reload is parsed on a thread and applied in slices
# between control polls), and a WireGuard handshake never drops a session in
# use: the initiator keeps its previous keypair for what the responder still
# sends under it until the new session is confirmed. The forced handshake
# takes that away from site2: wireguard-go forgets its keypairs with the
# removed peer, so the hub's replies under the old session in that moment
# would be dropped by the site itself (the forcing method's loss, not the
# hub's). So site2's pinger stops before its peer is removed and resumes 1 s
# after the hub logged the new handshake; its pings before and after count
# like site1's. site1's pinger runs throughout, across both reloads.
#
# No time is asserted (the box is shared: 2 cores, other jobs); every wait
# polls with a generous deadline (RELOAD_TIMEOUT, START_TIMEOUT).
#
# usage: reload_scale_lab_test.sh PATH/TO/wghub PATH/TO/scripts/lab
# Environment: RELOAD_PEERS (default 100000).
# Skips (exit 77) when not root or tools are missing, unless WGHUB_REQUIRE_INTEROP=1.
# Every address lives inside the namespaces the lab creates; the trap removes
# them and stops wghub and every pinger whatever happens.
set -euo pipefail

WGHUB=${1:?usage: $0 PATH/TO/wghub PATH/TO/scripts/lab}
LAB=${2:?usage: $0 PATH/TO/wghub PATH/TO/scripts/lab}
here=$(cd "$(dirname "$0")" && pwd)
GEN_PEERS=$here/../../scripts/gen-peers.py

readonly PEERS=${RELOAD_PEERS:-100000}
readonly START_TIMEOUT=300  # 10^5 peers start in ~5 s here when quiet
readonly RELOAD_TIMEOUT=300 # an unchanged reload of 10^5: seconds
readonly HANDSHAKE_TIMEOUT=60
readonly PING_CHUNK=20 # requests per ping run (1 s at 50 ms)

export TEST_NAME=wghub_reload_scale
# shellcheck source=tests/interop/lab_test_lib.sh
. "$here/lab_test_lib.sh"

require_root_and_tools ip wg wireguard-go iptables ethtool ping pgrep python3 timeout
require_hub_and_lab
[ -f "$GEN_PEERS" ] || { echo "$TEST_NAME: missing $GEN_PEERS" >&2; exit 1; }

lab_test_init "rs$(($$ % 1000))"
chmod 700 "$tmp"
pinger_pids=()

stop_test_processes() {
  local pid
  touch "$tmp/stop-site1" "$tmp/stop-site2"
  for pid in "${pinger_pids[@]}"; do stop_pid "$pid"; done
}

log_lines() { wc -l <"$hub_log"; }
# The first line number after line N matching an extended regex (empty: none).
line_of() { awk -v n="$1" -v re="$2" 'NR > n && $0 ~ re { print NR; exit }' "$hub_log"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# Wait up to SECONDS for REGEX in the hub log after line N (the hub alive).
wait_for_log_since() { # wait_for_log_since N SECONDS REGEX
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -le $deadline ]; do
    [ -n "$(line_of "$1" "$3")" ] && return 0
    kill -0 "$hub_pid" 2>/dev/null || fail "wghub exited (waiting for '$3')"
    sleep 0.2
  done
  return 1
}

# A pinger: NAME's LAN host pings the HQ host in runs of PING_CHUNK until
# $tmp/stop-NAME exists; every run's summary line goes to $tmp/ping-NAME.txt,
# and the whole output (timestamped) of a run that lost anything to
# $tmp/ping-NAME-losses.txt.
start_pinger() { # start_pinger NAME LAN_NS
  local name=$1 ns=$2
  rm -f "$tmp/stop-$name"
  (
    while [ ! -e "$tmp/stop-$name" ]; do
      in_ns "$ns" ping -n -D -c "$PING_CHUNK" -i 0.05 -W 2 "$LAB_HQ_HOST" >"$tmp/run-$name.txt" 2>&1 || true
      summary=$(grep 'packets transmitted' "$tmp/run-$name.txt" ||
        echo "0 packets transmitted, 0 received (ping failed)")
      echo "$summary" >>"$tmp/ping-$name.txt"
      read -r sent _ _ got _ <<<"$summary"
      [ "$sent" = "$got" ] || { echo "--- $(date -u +%T.%N)"; cat "$tmp/run-$name.txt"; } >>"$tmp/ping-$name-losses.txt"
    done
  ) &
  pinger_pids+=($!)
  eval "pinger_$name=\$!"
}

# The runs of NAME's pinger that lost a reply (for a failure message).
ping_losses() { [ ! -s "$tmp/ping-$1-losses.txt" ] || { echo; echo "--- runs of $1's pinger with losses:"; cat "$tmp/ping-$1-losses.txt"; }; }

# Stops NAME's pinger after its current run (which it completes) and sets
# ping_sent and ping_got: requests and replies summed over all its runs so far.
# Not in $(...): only this shell can wait for the pinger.
stop_pinger() { # stop_pinger NAME
  local name=$1 pid_var="pinger_$1"
  touch "$tmp/stop-$name"
  wait "${!pid_var}" 2>/dev/null || true
  read -r ping_sent ping_got < <(awk '{ t += $1; r += $4 } END { print t + 0, r + 0 }' "$tmp/ping-$name.txt")
}

site2_allowed() {
  in_ns site2 wg show "$LAB_SITE2_WG_IF" allowed-ips | awk '{ $1 = ""; print }' |
    tr -s ' ' | sed 's/^ //; s/ /,/g'
}

# Makes site2 handshake afresh: its hub peer is removed (before SIGHUP) and
# added back (right after it) as the lab configured it (endpoint, allowed
# ips, keepalive); one uncounted ping from the site router starts the
# handshake at once (the keepalive would too).
remove_site2_hub_peer() {
  in_ns site2 wg set "$LAB_SITE2_WG_IF" peer "$LAB_HUB_PUBKEY" remove
}
readd_site2_hub_peer() {
  local ka=()
  [ "${LAB_KEEPALIVE:-0}" -gt 0 ] && ka=(persistent-keepalive "$LAB_KEEPALIVE")
  in_ns site2 wg set "$LAB_SITE2_WG_IF" peer "$LAB_HUB_PUBKEY" \
    endpoint "$LAB_HUB_WAN_ADDR:$LAB_HUB_PORT" allowed-ips "$site2_allowed_ips" "${ka[@]}"
  in_ns site2 ping -n -q -c 1 -W 1 "$LAB_HQ_HOST" >/dev/null 2>&1 &
}

hub_allowed_ips() { # hub_allowed_ips KEY
  wg show "$LAB_HUB_NAME" allowed-ips | awk -v k="$1" '$1 == k { $1 = ""; print substr($0, 2) }'
}

# One reload under traffic: site1 keeps pinging; SIGHUP; site2 re-handshakes;
# waits for "applied" and the handshake; checks their order and the counts.
# Sets reload_s and reload_line.
reload_under_traffic() { # reload_under_traffic LABEL EXPECTED_COUNTS
  local label=$1 expected=$2 n t hs_line applied_line
  # site2 quiet while its peer is replaced (see the header); its pings so far
  # must all have been answered.
  stop_pinger site2
  [ "$ping_sent" -gt 0 ] && [ "$ping_got" = "$ping_sent" ] ||
    fail "$label: site2 got $ping_got of $ping_sent replies before the reload$(ping_losses site2)"
  remove_site2_hub_peer
  n=$(log_lines)
  t=$(now)
  kill -HUP "$hub_pid"
  readd_site2_hub_peer
  wait_for_log_since "$n" "$HANDSHAKE_TIMEOUT" "handshake completed with peer site2 " ||
    fail "$label: site2's handshake did not complete within $HANDSHAKE_TIMEOUT s of SIGHUP"
  # site2's pings resume once its new session is confirmed (see the header).
  sleep 1
  start_pinger site2 lan2
  wait_for_log_since "$n" "$RELOAD_TIMEOUT" "reload of .* applied:" ||
    fail "$label: no 'reload of ... applied' within $RELOAD_TIMEOUT s of SIGHUP"
  reload_s=$(since "$t")
  hs_line=$(line_of "$n" "handshake completed with peer site2 ")
  applied_line=$(line_of "$n" "reload of .* applied:")
  reload_line=$(sed -n "${applied_line}p" "$hub_log")
  echo "$reload_line"
  sed -n "${hs_line}p" "$hub_log"
  [[ $reload_line == *"applied: $expected"* ]] || fail "$label: expected 'applied: $expected'"
  [ "$hs_line" -lt "$applied_line" ] ||
    fail "$label: site2's handshake (log line $hs_line) completed after the reload was applied (line $applied_line)"
  ok "$label: applied $reload_s s after SIGHUP; site2's handshake completed during it (log line $hs_line < $applied_line)"
}

figures() { # figures RELOAD_LINE: the hub's own figures of a reload
  local reload_line=$1
  echo "  parsed and diffed: $(grep -oE 'parsed and diffed in [0-9.]+ ms' <<<"$reload_line" | awk '{ print $5 }') ms" \
    "| $(grep -oE 'applied in [0-9]+ slices' <<<"$reload_line")" \
    "| longest slice $(grep -oE 'longest slice [0-9.]+ ms' <<<"$reload_line" | awk '{ print $3 }') ms" \
    "| longest control poll $(grep -oE 'meanwhile [0-9.]+ ms' <<<"$reload_line" | awk '{ print $2 }') ms"
}

# ---------------------------------------------------------------- 1. lab, peers, hub

step "1: lab up (prefix $prefix, 2 sites), the lab's hub.yaml + $PEERS generated peers, start wghub"
lab_up --sites 2
gen=$tmp/gen
python3 "$GEN_PEERS" --peers "$PEERS" --out "$gen" --base "$LAB_HUB_CONFIG"
config=$gen/wghub.yaml
mapfile -t keys <"$gen/keys.txt"
t=$(now)
ip netns exec "$LAB_NS_HUB" "$WGHUB" --config "$config" --status-interval 0 >"$hub_log" 2>&1 &
hub_pid=$!
wait_for_log_since 0 "$START_TIMEOUT" 'wghub running' ||
  fail "wghub did not log 'wghub running' within $START_TIMEOUT s"
start_s=$(since "$t")
ok "wghub running with $((PEERS + 2)) peers after $start_s s (pid $hub_pid)"

for i in 1 2; do in_ns "lan$i" ping -n -q -c 3 -i 0.3 -W 2 "$LAB_HQ_HOST" >/dev/null 2>&1 || true; done
for i in 1 2; do
  wait_for_log_since 0 "$HANDSHAKE_TIMEOUT" "handshake completed with peer site$i " ||
    fail "no 'handshake completed with peer site$i' within $HANDSHAKE_TIMEOUT s"
  ping_clean "lan$i" "$LAB_HQ_HOST" "site$i LAN -> HQ"
done
site2_allowed_ips=$(site2_allowed)
[ -n "$site2_allowed_ips" ] || fail "site2's wireguard-go lists no allowed ips"

# ---------------------------------------------------------------- 2. pings

step "2: site1 and site2 ping the HQ host every 50 ms"
start_pinger site1 lan1
start_pinger site2 lan2
sleep 2

# ---------------------------------------------------------------- 3. unchanged

step "3: SIGHUP with the file unchanged; site2 handshakes afresh during the reload"
reload_under_traffic "unchanged reload" "0 peer(s) added, 0 removed, 0 changed, 0 failed; $((PEERS + 2)) peer(s)"
unchanged_s=$reload_s
unchanged_line=$reload_line
sleep 2

# ---------------------------------------------------------------- 4. 1 % changed

step "4: 1 % of the generated peers get a new /32; SIGHUP; site2 handshakes afresh during the reload"
python3 "$GEN_PEERS" --out "$gen" --change-percent 1
changed=$(((PEERS + 99) / 100))
reload_under_traffic "1 % reload" "0 peer(s) added, 0 removed, $changed changed, 0 failed; $((PEERS + 2)) peer(s)"
changed_s=$reload_s
changed_line=$reload_line
sleep 2

# ---------------------------------------------------------------- 5. checks

step "5: nothing lost; \`wg show\` on the hub's socket shows the reload"
stop_pinger site1
sent1=$ping_sent got1=$ping_got
stop_pinger site2
sent2=$ping_sent got2=$ping_got
echo "site1: $got1 of $sent1 pings answered across both reloads; site2: $got2 of $sent2 (its runs before, between and after its forced handshakes)"
[ "$sent1" -gt 0 ] && [ "$got1" = "$sent1" ] || fail "site1 lost $((sent1 - got1)) of $sent1 pings across the reloads$(ping_losses site1)"
[ "$sent2" -gt 0 ] && [ "$got2" = "$sent2" ] || fail "site2 lost $((sent2 - got2)) of $sent2 pings$(ping_losses site2)"
ok "no ping lost: site1 $got1/$sent1, site2 $got2/$sent2"

listed=$(wg show "$LAB_HUB_NAME" peers | grep -c . || true)
[ "$listed" = $((PEERS + 2)) ] || fail "wg show lists $listed peers, expected $((PEERS + 2))"
# gen-peers.py changes every 100th generated peer: p0000000, p0000100, ...; the
# k-th changed peer (i = 100 k) moves to the /32 k past 198.18.0.0.
ip_of() { python3 -c "import ipaddress, sys; print(ipaddress.IPv4Address('172.16.0.0') + int(sys.argv[1]))" "$1"; }
moved_ip_of() { python3 -c "import ipaddress, sys; print(ipaddress.IPv4Address('198.18.0.0') + int(sys.argv[1]))" "$1"; }
for i in 0 $(((PEERS / 200) * 100)) $((((PEERS - 1) / 100) * 100)); do
  want="$(moved_ip_of $((i / 100)))/32"
  got=$(hub_allowed_ips "${keys[$i]}")
  [ "$got" = "$want" ] || fail "changed peer p$(printf %07d "$i"): wg show allowed-ips '$got', expected $want"
done
got=$(hub_allowed_ips "${keys[1]}")
[ "$got" = "$(ip_of 1)/32" ] || fail "unchanged peer p0000001: wg show allowed-ips '$got'"
for i in 1 2; do
  key_var="LAB_SITE${i}_PUBKEY" overlay_var="LAB_SITE${i}_OVERLAY" lan_var="LAB_SITE${i}_LAN"
  got=$(hub_allowed_ips "${!key_var}")
  [ "$got" = "${!overlay_var}/32 ${!lan_var}" ] || fail "site$i's allowed ips on the hub: '$got'"
done
ok "wg show: $listed peers; the changed peers have their new /32, the unchanged and the sites their old"

# ---------------------------------------------------------------- 6. figures, stop

step "6: figures ($PEERS generated peers; wall times from SIGHUP until the hub logged 'applied')"
echo "start: $start_s s"
echo "unchanged reload: $unchanged_s s"
figures "$unchanged_line"
echo "1 % reload ($changed peers changed): $changed_s s"
figures "$changed_line"
stop_hub
ok "wghub exited 0 after SIGTERM"
lab down >/dev/null
echo "$TEST_NAME: PASS"
