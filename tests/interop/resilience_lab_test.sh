#!/usr/bin/env bash
# Resilience of the wghub data plane against stock wireguard-go sites, in the
# namespace lab of scripts/lab (docs/lab.md); the acceptance tests of issue 4:
#
#   rekey   (slow, > 4 min): one site pings the HQ host once a second while
#           wireguard-go rekeys every REKEY_AFTER_TIME (120 s): the site's
#           `wg show latest-handshakes` changes at least twice, at most one ping
#           is lost per rekey, and the hub logs and audits every handshake.
#   restart: two sites ping the HQ host; wghub is SIGKILLed and started again
#           with the same config; both sites' pings come back within
#           REKEY_TIMEOUT + keepalive + slack (45 s) with nothing done on the
#           sites; the recovery time per site is printed.
#   flood:  wghub-initiation-flood (initiation_flood.cpp) sends valid-mac1
#           initiations from an extra namespace on the lab's internet bridge
#           fast enough to put the hub under load; meanwhile site1 pings the
#           HQ host (existing session) and site2 is made to handshake afresh
#           (its hub peer removed and re-added with wg(8)). The hub must send
#           cookie replies (within the flood address's cookie budget: the
#           rest are dropped as cookie_rate_limited), enter the under-load
#           state (log, audit, metrics), complete site2's handshake at its
#           first initiation, within 2 s (it dials from the endpoint the hub
#           knows), then again from a new listen port
#           (a source the hub never saw: the worker's cookie reply, then
#           wireguard-go's retransmit with mac2), keep site1's session
#           forwarding (loss <= 5 %), and count rate-limited initiations (the
#           generator's proven source, at an address of its own, retries
#           with the cookie's mac2 above 20/s).
#
# usage: resilience_lab_test.sh PATH/TO/wghub PATH/TO/scripts/lab \
#          PATH/TO/wghub-initiation-flood [PHASES]
#   PHASES: comma-separated rekey,restart,flood,maxflood,pingflood (default
#   restart,flood,maxflood,pingflood), or all.
# Environment: RESILIENCE_REKEY_SECONDS (ping duration of the rekey phase,
#   default 265), RESILIENCE_FLOOD_RATE (initiations/s, 0 = as fast as
#   possible; default 50000), RESILIENCE_FLOOD_SECONDS (default 20),
#   RESILIENCE_PING_FLOODERS (ping -f processes of the pingflood phase,
#   default 4).
# The flood rate: 50000/s (RESILIENCE_FLOOD_RATE). The control thread spends
# X25519 on valid-mac1 initiations until the handshake ring is past 1/8; then
# the workers answer them with cookie replies and nothing unproven reaches a
# ring. A real site that dials from its known endpoint skips the cookie
# (KnownSources) and meets only the per-source limit.
#
#   maxflood: the same at the generator's full rate (~250-300k/s here, 10 s):
#           site2's handshake must complete during the flood; the seconds it
#           took (0-1 s: its first initiation) and site1's loss are printed,
#           not checked (on a 2-core lab the generator, the hub's worker and
#           the control thread share the CPUs). The flood address's cookie
#           budget keeps the worker ahead of the generator on a quiet box:
#           past the budget a message costs mac1 and a lookup, no reply, and
#           the hub's af_packet rx ring overflows for 0.4 % of the flood
#           (wan_rx_missed is printed).
#
#   pingflood: ping -f at the hub's WAN address from the flood namespace
#           while site2 handshakes afresh and site1 pings the HQ host: the
#           local ring's budget drops the excess (local_rate_limited) and
#           site2's first initiation is answered.
# Skips (exit 77) when not root or tools are missing, unless WGHUB_REQUIRE_INTEROP=1.
# Every address lives inside the namespaces the lab creates (the flood
# namespace uses 100.64.0.200 on the lab's bridge); the trap removes them and
# stops every process this script started, whatever happens.
set -euo pipefail

WGHUB=${1:?usage: $0 PATH/TO/wghub PATH/TO/scripts/lab PATH/TO/wghub-initiation-flood [PHASES]}
LAB=${2:?usage: $0 PATH/TO/wghub PATH/TO/scripts/lab PATH/TO/wghub-initiation-flood [PHASES]}
FLOOD=${3:?usage: $0 PATH/TO/wghub PATH/TO/scripts/lab PATH/TO/wghub-initiation-flood [PHASES]}
PHASES=${4:-restart,flood,maxflood,pingflood}
[ "$PHASES" = all ] && PHASES=rekey,restart,flood,maxflood,pingflood

readonly HQ_HOST=10.0.0.10
readonly HUB_WAN=100.64.0.1
readonly HUB_PORT=51820
readonly REKEY_SECONDS=${RESILIENCE_REKEY_SECONDS:-265}
readonly RESTART_MAX_S=45 # REKEY_TIMEOUT 5 + keepalive 25 + slack
readonly FLOOD_RATE=${RESILIENCE_FLOOD_RATE:-50000}
readonly FLOOD_SECONDS=${RESILIENCE_FLOOD_SECONDS:-20}
readonly FLOOD_ADDR=100.64.0.200 # on the lab's internet bridge, like the NAT uplinks
# The generator's proven source sends from a host of its own: at the flood's
# address it would share that address's cookie budget with the flood and
# seldom get a cookie.
readonly PROVEN_ADDR=100.64.0.201
readonly FLOOD_MAX_LOSS_PCT=5

name=resilience
export TEST_NAME=$name
# shellcheck source=tests/interop/lab_test_lib.sh
. "$(dirname "$0")/lab_test_lib.sh"

has_phase() { [[ ",$PHASES," == *",$1,"* ]]; }

check_prerequisites() {
  local p
  for p in ${PHASES//,/ }; do
    case $p in rekey | restart | flood | maxflood | pingflood) ;; *)
      echo "$name: unknown phase '$p' (rekey, restart, flood, maxflood, pingflood, all)" >&2
      exit 2
      ;;
    esac
  done
  require_root_and_tools ip wg wireguard-go iptables ethtool ping pgrep curl timeout
  require_hub_and_lab
  if { has_phase flood || has_phase maxflood; } && [ ! -x "$FLOOD" ]; then
    echo "$name: no executable flood generator at $FLOOD" >&2
    exit 1
  fi
}
check_prerequisites

lab_test_init "rs$(($$ % 1000000))"
bg_pids=() # pings, samplers, the generator
flood_ns="$prefix-flood"

# ---------------------------------------------------------------- helpers

phase() { printf '\n== phase %s\n' "$*"; }

stop_test_processes() {
  local pid
  for pid in "${bg_pids[@]}"; do stop_pid "$pid"; done
  # Our extra namespace: whatever still runs in it, then the namespace.
  if ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$flood_ns"; then
    for pid in $(ip netns pids "$flood_ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$flood_ns" 2>/dev/null
  fi
}

# "cookies N" from a status dump's status line.
dump_cookies() { printf '%s\n' "$1" | grep ' status: ' | sed -nE 's/.* cookies ([0-9]+).*/\1/p' | head -n1; }

# The hub's Prometheus text (scraped inside the hub namespace).
metrics() { in_ns hub curl -fsS --max-time 3 "http://$LAB_HUB_METRICS/metrics"; }

# metric_value TEXT NAME [LABEL_REGEX]: the sample's value (0 when absent),
# summed over the series that match.
metric_value() {
  printf '%s\n' "$1" | awk -v name="$2" -v re="${3:-}" '
    $1 ~ ("^" name "(\\{|$)") && (re == "" || $1 ~ re) { s += $2; found = 1 }
    END { printf "%d\n", found ? s : 0 }'
}

# Waits up to SECONDS for the site's latest handshake to be newer than AFTER.
wait_handshake_after() { # wait_handshake_after SITE AFTER SECONDS
  local deadline=$((SECONDS + $3)) t
  while [ $SECONDS -le $deadline ]; do
    t=$(latest_handshake "$1")
    [ "${t:-0}" -gt "$2" ] && return 0
    sleep 0.2
  done
  return 1
}

# Replies in a `ping -D` output file.
ping_replies() { grep -c ' bytes from ' "$1" || true; }

# Epoch seconds (float) of the first reply at or after T in a `ping -D` output file.
first_reply_after() { # first_reply_after FILE T
  awk -v t="$2" '/ bytes from /{ ts = substr($1, 2, length($1) - 2) + 0; if (ts >= t) { printf "%.2f\n", ts; exit } }' "$1"
}

# Establishes site I's session with a few pings from its LAN host.
warm_up() { # warm_up I
  in_ns "lan$1" ping -n -q -c 3 -i 0.3 -W 2 "$HQ_HOST" >/dev/null 2>&1 || true
  wait_handshake "$1"
  local got
  got=$(in_ns "lan$1" ping -n -q -c 3 -i 0.2 -W 2 "$HQ_HOST" 2>&1 | sed -nE 's/.* ([0-9]+) received.*/\1/p')
  [ "${got:-0}" = 3 ] || fail "site$1 LAN -> HQ: ${got:-0}/3 replies after the handshake"
}

# ---------------------------------------------------------------- lab and hub

sites=2
[ "$PHASES" = rekey ] && sites=1
phase "setup: lab up (prefix $prefix, $sites sites), wghub; phases $PHASES"
lab_up --sites "$sites"
start_hub
ok "wghub running (pid $hub_pid)"
for i in $(seq "$sites"); do
  warm_up "$i"
  ok "site$i: handshake done, LAN -> HQ 3/3"
done

summary=()

# ---------------------------------------------------------------- rekey

phase_rekey() {
  phase "rekey: site1 LAN pings the HQ host 1/s for $REKEY_SECONDS s across wireguard-go's rekeys"
  local ping_out=$tmp/rekey-ping.txt samples=$tmp/rekey-handshakes.txt ping_pid t hs
  local received lost distinct rekeys hub_hs_before hub_hs_after audit_hs
  hub_hs_before=$(grep -c 'handshake completed with peer site1 ' "$hub_log" || true)
  in_ns lan1 ping -n -D -c "$REKEY_SECONDS" -i 1 -W 2 "$HQ_HOST" >"$ping_out" 2>&1 &
  ping_pid=$!
  bg_pids+=("$ping_pid")
  : >"$samples"
  while kill -0 "$ping_pid" 2>/dev/null; do
    t=$(date +%s)
    hs=$(latest_handshake 1)
    if [ "$(tail -n1 "$samples" | awk '{print $2}')" != "$hs" ]; then
      echo "$t $hs" >>"$samples"
      echo "t=$t site1 latest handshake $(date -u -d "@$hs" +%H:%M:%S)" \
        "(replies so far $(ping_replies "$ping_out"))"
    fi
    sleep 2
  done
  wait "$ping_pid" || true
  received=$(ping_replies "$ping_out")
  lost=$((REKEY_SECONDS - received))
  distinct=$(awk '$2 != 0 {print $2}' "$samples" | sort -u | wc -l)
  rekeys=$((distinct - 1))
  hub_hs_after=$(grep -c 'handshake completed with peer site1 ' "$hub_log" || true)
  audit_hs=$(grep -c '"event":"handshake_completed".*"peer":"site1"' "$hub_log" || true)
  echo "ping: $(grep 'packets transmitted' "$ping_out")"
  echo "lost icmp_seq: $(awk -v n="$REKEY_SECONDS" '/icmp_seq=/{ match($0, /icmp_seq=[0-9]+/); seen[substr($0, RSTART + 9, RLENGTH - 9)] = 1 }
    END { for (i = 1; i <= n; i++) if (!(i in seen)) printf "%d ", i; print "" }' "$ping_out")"
  echo "hub: $((hub_hs_after - hub_hs_before)) 'handshake completed with peer site1' lines during the phase;" \
    "$audit_hs handshake_completed audit lines for site1 in all"
  grep 'handshake completed with peer site1 ' "$hub_log" | tail -n 3
  [ "$rekeys" -ge 2 ] || fail "rekey: site1's latest handshake changed $rekeys times in $REKEY_SECONDS s (want >= 2)"
  [ "$lost" -le "$rekeys" ] || fail "rekey: $lost pings lost across $rekeys rekeys (at most one per rekey)"
  [ $((hub_hs_after - hub_hs_before)) -ge "$rekeys" ] ||
    fail "rekey: the hub logged $((hub_hs_after - hub_hs_before)) handshakes with site1, the site saw $rekeys"
  [ "$audit_hs" -ge $((rekeys + 1)) ] ||
    fail "rekey: only $audit_hs handshake_completed audit lines for site1 (want >= $((rekeys + 1)))"
  ok "rekey: $rekeys rekeys, $lost/$REKEY_SECONDS pings lost"
  summary+=("rekeys $rekeys, rekey pings lost $lost/$REKEY_SECONDS")
}

# ---------------------------------------------------------------- restart

phase_restart() {
  phase "restart: SIGKILL wghub during traffic, start it again; the sites come back by themselves"
  local i ping_pids=() t_kill t_launch t_start first rec lost_txt old_log recs=()
  for i in 1 2; do
    in_ns "lan$i" ping -n -D -i 0.2 -W 1 -w $((RESTART_MAX_S + 20)) "$HQ_HOST" >"$tmp/restart-ping$i.txt" 2>&1 &
    ping_pids+=($!)
    bg_pids+=($!)
  done
  sleep 3
  for i in 1 2; do
    [ "$(ping_replies "$tmp/restart-ping$i.txt")" -gt 0 ] || fail "restart: site$i had no replies before the kill"
  done
  t_kill=$(date +%s.%N)
  kill -KILL "$hub_pid"
  wait "$hub_pid" 2>/dev/null || true
  hub_pid=""
  echo "killed wghub (SIGKILL) at $(date -u -d "@$t_kill" +%H:%M:%S.%2N)"
  [ -S "/var/run/wireguard/$LAB_HUB_NAME.sock" ] && echo "its wg socket /var/run/wireguard/$LAB_HUB_NAME.sock is left behind"
  sleep 2
  old_log=$tmp/wghub-before-kill.log
  mv "$hub_log" "$old_log"
  t_launch=$(date +%s.%N)
  start_hub
  t_start=$(date +%s.%N)
  echo "wghub started again at $(date -u -d "@$t_launch" +%H:%M:%S.%2N)," \
    "running (pid $hub_pid) at $(date -u -d "@$t_start" +%H:%M:%S.%2N)"
  grep -E 'stale|uapi' "$hub_log" | head -n 3 || true
  for i in 1 2; do
    while :; do
      first=$(first_reply_after "$tmp/restart-ping$i.txt" "$t_start")
      [ -n "$first" ] && break
      kill -0 "${ping_pids[$((i - 1))]}" 2>/dev/null || break
      awk -v a="$(date +%s.%N)" -v b="$t_start" -v m="$RESTART_MAX_S" 'BEGIN { exit !(a - b > m) }' && break
      sleep 0.2
    done
    [ -n "$first" ] || fail "restart: site$i got no reply within $RESTART_MAX_S s of the restart"
    rec=$(awk -v a="$first" -v b="$t_start" 'BEGIN { printf "%.1f", a - b }')
    lost_txt=$(awk -v a="$first" -v b="$t_kill" 'BEGIN { printf "%.1f", a - b }')
    echo "site$i: first reply $rec s after wghub was running again ($lost_txt s after the kill)"
    awk -v r="$rec" -v m="$RESTART_MAX_S" 'BEGIN { exit !(r <= m) }' ||
      fail "restart: site$i recovered after $rec s (at most $RESTART_MAX_S)"
    recs+=("site$i ${rec}s")
  done
  for i in 1 2; do stop_pid "${ping_pids[$((i - 1))]}"; done
  for i in 1 2; do
    grep -m1 "handshake completed with peer site$i " "$hub_log" ||
      fail "restart: the restarted hub logged no handshake with site$i"
  done
  in_ns hub wg show "$LAB_HUB_NAME" latest-handshakes >"$tmp/hub-wg.txt" ||
    fail "restart: wg show $LAB_HUB_NAME failed against the restarted hub (uapi socket)"
  echo "hub's wg show latest-handshakes:"
  cat "$tmp/hub-wg.txt"
  [ "$(awk '$2 != 0' "$tmp/hub-wg.txt" | wc -l)" -ge 2 ] || fail "restart: the hub's wg show lacks a handshake"
  ok "restart: both sites back (${recs[*]}) with nothing done on the sites"
  summary+=("restart recovery ${recs[*]}")
}

# ---------------------------------------------------------------- flood

# The generator's namespace: a veth on the lab's internet bridge, 100.64.0.200/24.
flood_ns_up() {
  ip netns add "$flood_ns"
  ip -n "$flood_ns" link set lo up
  ip netns exec "$flood_ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip link add eth0 netns "$flood_ns" type veth peer name flood netns "$LAB_NS_INET"
  ip netns exec "$flood_ns" ethtool -K eth0 tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
  ip netns exec "$LAB_NS_INET" ethtool -K flood tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
  ip -n "$LAB_NS_INET" link set flood master br0
  ip -n "$LAB_NS_INET" link set flood up
  ip -n "$flood_ns" addr add "$FLOOD_ADDR/24" dev eth0
  ip -n "$flood_ns" addr add "$PROVEN_ADDR/24" dev eth0
  ip -n "$flood_ns" link set eth0 up
}

phase_flood() { # phase_flood [RATE SECONDS CHECK_LOSS]
  local rate=${1:-$FLOOD_RATE} flood_s=${2:-$FLOOD_SECONDS} check_loss=${3:-yes}
  phase "flood: valid-mac1 initiations from $FLOOD_ADDR for $flood_s s (rate ${rate:-0}/s, 0 = max)"
  local m0 m1 d0 d1 cookies0 cookies1 rl0 rl1 crl0 crl1 ule0 ule1 hs2_before gen_pid ping_pid
  local ping_count loss_pct received site2_ok=no site2_at="" site2_secs="" under_at_site2="?" t0
  local max_occ=0 under_seen=0 allowed wg2=$LAB_SITE2_WG_IF gen_line fresh_at="" fresh_before fresh_secs=""
  ip netns list | awk '{print $1}' | grep -qx "$flood_ns" || flood_ns_up
  ip netns exec "$flood_ns" ping -n -q -c 2 -i 0.2 -W 1 "$HUB_WAN" >/dev/null 2>&1 || true # ARP both ways
  d0=$(status_dump)
  m0=$(metrics) || fail "flood: no metrics from $LAB_HUB_METRICS"
  cookies0=$(dump_cookies "$d0")
  rl0=$(metric_value "$m0" wghub_handshake_failures_total 'reason="rate_limited"')
  crl0=$(metric_value "$m0" wghub_dropped_packets_total 'reason="cookie_rate_limited"')
  ule0=$(metric_value "$m0" wghub_under_load_entered_total)

  ping_count=$(((flood_s + 4) * 10))
  in_ns lan1 ping -n -D -c "$ping_count" -i 0.1 -W 1 "$HQ_HOST" >"$tmp/flood-ping.txt" 2>&1 &
  ping_pid=$!
  bg_pids+=("$ping_pid")
  sleep 1
  t0=$SECONDS
  ip netns exec "$flood_ns" "$FLOOD" --target "$HUB_WAN:$HUB_PORT" --hub-public-key "$LAB_HUB_PUBKEY" \
    --rate "$rate" --duration "$flood_s" --proven-from "$PROVEN_ADDR" >"$tmp/flood.txt" 2>&1 &
  gen_pid=$!
  bg_pids+=("$gen_pid")

  # Sample the hub's under-load gauge and ring depth while the flood runs; after
  # 3 s make site2 handshake afresh: remove its hub peer and add it back as the
  # lab configured it, then send through it.
  hs2_before=$(latest_handshake 2)
  allowed=$(in_ns site2 wg show "$wg2" allowed-ips | awk '{ $1 = ""; print }' | tr -s ' ' | sed 's/^ //; s/ /,/g')
  while kill -0 "$gen_pid" 2>/dev/null; do
    if m1=$(metrics 2>/dev/null); then
      local u occ
      u=$(metric_value "$m1" wghub_under_load)
      occ=$(metric_value "$m1" wghub_control_ring_occupancy)
      [ "$u" = 1 ] && under_seen=$((under_seen + 1))
      [ "$occ" -gt "$max_occ" ] && max_occ=$occ
      echo "t+$((SECONDS - t0))s under_load=$u ring=$occ cookies_sent=$(metric_value "$m1" wghub_cookie_replies_sent_total)" \
        "rate_limited=$(metric_value "$m1" wghub_handshake_failures_total 'reason="rate_limited"')"
    fi
    if [ -z "$site2_at" ] && [ $((SECONDS - t0)) -ge 3 ] && [ "$site2_ok" = no ]; then
      site2_at=$((SECONDS - t0))
      in_ns site2 wg set "$wg2" peer "$LAB_HUB_PUBKEY" remove
      in_ns site2 wg set "$wg2" peer "$LAB_HUB_PUBKEY" endpoint "$HUB_WAN:$HUB_PORT" \
        allowed-ips "$allowed" persistent-keepalive "$LAB_KEEPALIVE"
      in_ns lan2 ping -n -c $((flood_s * 2)) -i 0.5 -W 1 "$HQ_HOST" >"$tmp/flood-site2-ping.txt" 2>&1 &
      bg_pids+=($!)
      echo "t+${site2_at}s site2: hub peer removed and re-added; pinging through it"
    fi
    if [ -n "$site2_at" ] && [ "$site2_ok" = no ] && [ "$(latest_handshake 2)" -gt "${hs2_before:-0}" ]; then
      site2_ok=yes
      site2_secs=$((SECONDS - t0 - site2_at))
      under_at_site2=$(metric_value "${m1:-}" wghub_under_load)
      echo "t+$((SECONDS - t0))s site2: handshake completed during the flood (wg show), ${site2_secs} s after the re-add"
    fi
    # Then from a source the hub has never seen (a new listen port, so a new
    # NAT mapping): stock wireguard-go gets the worker's cookie reply, and
    # its retransmit carries mac2 and is answered. The peer goes first, so
    # no data packet of the old session leaves from the new port (the hub
    # would learn it as the peer's roamed endpoint and skip the cookie). The
    # handshake is counted in the hub's log: wg(8)'s latest-handshake has a
    # 1 s resolution, and the first re-add's handshake may share its second.
    if [ "$check_loss" = yes ] && [ "$site2_ok" = yes ] && [ -z "$fresh_at" ]; then
      fresh_at=$((SECONDS - t0))
      fresh_before=$(grep -c 'handshake completed with peer site2 ' "$hub_log" || true)
      in_ns site2 wg set "$wg2" peer "$LAB_HUB_PUBKEY" remove
      in_ns site2 wg set "$wg2" listen-port $((40000 + RANDOM % 20000))
      in_ns site2 wg set "$wg2" peer "$LAB_HUB_PUBKEY" endpoint "$HUB_WAN:$HUB_PORT" \
        allowed-ips "$allowed" persistent-keepalive "$LAB_KEEPALIVE"
      in_ns lan2 ping -n -c 3 -i 0.5 -W 1 "$HQ_HOST" >/dev/null 2>&1 &
      bg_pids+=($!)
      echo "t+${fresh_at}s site2: new listen port, hub peer re-added: a source the hub does not know"
    fi
    if [ -n "$fresh_at" ] && [ -z "$fresh_secs" ] &&
      [ "$(grep -c 'handshake completed with peer site2 ' "$hub_log" || true)" -gt "${fresh_before:-0}" ]; then
      fresh_secs=$((SECONDS - t0 - fresh_at))
      echo "t+$((SECONDS - t0))s site2: handshake from the new source completed, ${fresh_secs} s after the re-add"
    fi
    sleep 1
  done
  wait "$gen_pid" || { cat "$tmp/flood.txt"; fail "flood: the generator failed"; }
  cat "$tmp/flood.txt"
  gen_line=$(grep '^flood: sent' "$tmp/flood.txt") || fail "flood: no summary from the generator"
  wait "$ping_pid" || true
  received=$(ping_replies "$tmp/flood-ping.txt")
  loss_pct=$(((ping_count - received) * 100 / ping_count))
  echo "site1 LAN -> HQ during the flood: $(grep 'packets transmitted' "$tmp/flood-ping.txt")"
  echo "site2 LAN -> HQ through its fresh session: $(ping_replies "$tmp/flood-site2-ping.txt") replies so far"

  sleep 2 # the metrics are published about once a second
  d1=$(status_dump)
  m1=$(metrics) || fail "flood: no metrics after the flood"
  printf '%s\n' "$d1" | grep ' status: '
  cookies1=$(dump_cookies "$d1")
  rl1=$(metric_value "$m1" wghub_handshake_failures_total 'reason="rate_limited"')
  crl1=$(metric_value "$m1" wghub_dropped_packets_total 'reason="cookie_rate_limited"')
  ule1=$(metric_value "$m1" wghub_under_load_entered_total)
  echo "metrics: cookie_replies_sent $(metric_value "$m1" wghub_cookie_replies_sent_total)" \
    "under_load_entered $ule0 -> $ule1 rate_limited $rl0 -> $rl1" \
    "invalid_mac1 $(metric_value "$m1" wghub_handshake_failures_total 'reason="invalid_mac1"')" \
    "noise_failed $(metric_value "$m1" wghub_handshake_failures_total 'reason="noise_failed"')" \
    "ring_full $(metric_value "$m1" wghub_dropped_packets_total 'reason="handshake_ring_full"')" \
    "wan_rx_missed $(metric_value "$m1" wghub_port_rx_missed_packets_total 'port="wan"')" \
    "cookie_rate_limited $crl0 -> $crl1"
  grep -m1 'under load: ' "$hub_log" || true
  grep -m1 '"event":"under_load".*"entered"' "$hub_log" || true
  grep -m1 'no longer under load' "$hub_log" || true

  [ $((cookies1 - cookies0)) -gt 0 ] || fail "flood: the hub sent no cookie replies (status: cookies $cookies0 -> $cookies1)"
  [ $((ule1 - ule0)) -ge 1 ] || fail "flood: wghub_under_load_entered_total did not grow ($ule0 -> $ule1)"
  grep -q 'under load: ' "$hub_log" || fail "flood: no 'under load:' line in the hub log"
  grep -q '"event":"under_load".*"entered"' "$hub_log" || fail "flood: no under_load entered audit line"
  [ "$(echo "$gen_line" | sed -nE 's/.* cookie replies ([0-9]+) .*/\1/p')" -gt 0 ] ||
    fail "flood: the generator received no cookie replies"
  [ "$site2_ok" = yes ] || fail "flood: site2's wireguard-go did not complete a handshake during the flood"
  # Site2 dials from the endpoint the hub knows it by (KnownSources): its
  # first initiation is answered within 2 s. A cookie round trip or a lost
  # initiation would show as wireguard-go's retransmit, REKEY_TIMEOUT (5 s)
  # later. At the generator's full rate the seconds are printed, not
  # checked: with a CPU hog beside it the worker's share of a core can fall
  # below the generator's rate, its af_packet ring then overflows (4.6 % in
  # one of eight hog runs) and a site's initiation can be among the lost.
  if [ "$check_loss" = yes ]; then
    [ "$site2_secs" -le 2 ] ||
      fail "flood: site2's handshake took ${site2_secs} s: its first initiation was not answered within 2 s"
  fi
  [ "$(ping_replies "$tmp/flood-site2-ping.txt")" -gt 0 ] ||
    fail "flood: site2's fresh session forwarded none of its pings"
  grep -q 'handshake completed with peer site2 ' "$hub_log" || fail "flood: the hub logged no handshake with site2"
  if [ "$check_loss" = yes ]; then
    [ -n "$fresh_secs" ] ||
      fail "flood: site2 from a new source (cookie reply, then mac2) did not complete a handshake during the flood"
  fi
  [ "$check_loss" = no ] || [ "$loss_pct" -le "$FLOOD_MAX_LOSS_PCT" ] ||
    fail "flood: site1's session lost $loss_pct % of its pings (at most $FLOOD_MAX_LOSS_PCT %)"
  [ $((rl1 - rl0)) -gt 0 ] || fail "flood: no rate_limited handshake failures counted ($rl0 -> $rl1)"
  [ $((crl1 - crl0)) -gt 0 ] || fail "flood: the flood address's cookie budget never bit ($crl0 -> $crl1)"
  ok "flood: cookies +$((cookies1 - cookies0)), under load entered +$((ule1 - ule0)) (gauge 1 in $under_seen samples," \
    "ring up to $max_occ), rate_limited +$((rl1 - rl0)), cookie_rate_limited +$((crl1 - crl0))," \
    "site2 handshake done in ${site2_secs} s (under_load=$under_at_site2)," \
    "site1 loss $loss_pct %"
  summary+=("flood $(echo "$gen_line" | sed -nE 's/.* = ([0-9]+\/s).*/\1/p') ($flood_s s), cookies sent +$((cookies1 - cookies0)),"
    "rate_limited +$((rl1 - rl0)), under-load entered +$((ule1 - ule0)), site1 ping loss $loss_pct %")
}

# Removes site2's hub peer and adds it back as the lab configured it: its
# next packet starts a fresh handshake from the same endpoint.
readd_site2_peer() {
  local wg2=$LAB_SITE2_WG_IF allowed
  allowed=$(in_ns site2 wg show "$wg2" allowed-ips | awk '{ $1 = ""; print }' | tr -s ' ' | sed 's/^ //; s/ /,/g')
  in_ns site2 wg set "$wg2" peer "$LAB_HUB_PUBKEY" remove
  in_ns site2 wg set "$wg2" peer "$LAB_HUB_PUBKEY" endpoint "$HUB_WAN:$HUB_PORT" \
    allowed-ips "$allowed" persistent-keepalive "$LAB_KEEPALIVE"
}

# Packets the kernel dropped from its per-CPU input backlogs, all CPUs
# (/proc/net/softnet_stat, second column, hex): lost before any socket.
softnet_drops() {
  local total=0 d
  for d in $(awk '{ print $2 }' /proc/net/softnet_stat); do total=$((total + 16#$d)); done
  echo "$total"
}

# The icmp_seq numbers 1..COUNT that FILE (ping -n output) has no reply for.
missing_seqs() {
  local got
  got=$(grep -o 'icmp_seq=[0-9]*' "$1" | cut -d= -f2 | sort -n | uniq)
  comm -23 <(seq 1 "$2" | sort) <(sort <<<"$got") | sort -n | paste -sd' ' || true
}

phase_pingflood() {
  phase "pingflood: ping -f at $HUB_WAN from $FLOOD_ADDR while site2 handshakes afresh"
  local m0 m1 hs2_before t0 secs="" flood_pid ping_pid received limited0 limited1
  ip netns list | awk '{print $1}' | grep -qx "$flood_ns" || flood_ns_up
  m0=$(metrics) || fail "pingflood: no metrics"
  limited0=$(metric_value "$m0" wghub_dropped_packets_total 'reason="local_rate_limited"')
  # -W 3: on a busy 2-core box a reply can take over a second (wireguard-go
  # and the flooders share the CPUs); late is not lost (rtt max is printed).
  in_ns lan1 ping -n -c 100 -i 0.1 -W 3 "$HQ_HOST" >"$tmp/pingflood-site1.txt" 2>&1 &
  ping_pid=$!
  bg_pids+=("$ping_pid")
  # Several flooders with preloads: more echo requests than the budget lets
  # up (RESILIENCE_PING_FLOODERS, default 4). The kernel's backlog drops
  # between the namespaces are printed: a loss there is the lab's, not the
  # hub's.
  local i softnet0 softnet1
  softnet0=$(softnet_drops)
  for i in $(seq 1 "${RESILIENCE_PING_FLOODERS:-4}"); do
    ip netns exec "$flood_ns" ping -n -q -f -l 64 -w 12 "$HUB_WAN" >/dev/null 2>&1 &
    bg_pids+=($!)
  done
  flood_pid=$!
  sleep 2
  hs2_before=$(latest_handshake 2)
  t0=$SECONDS
  readd_site2_peer
  in_ns lan2 ping -n -c 20 -i 0.5 -W 1 "$HQ_HOST" >"$tmp/pingflood-site2.txt" 2>&1 &
  bg_pids+=($!)
  while [ $((SECONDS - t0)) -le 15 ]; do
    if [ "$(latest_handshake 2)" -gt "${hs2_before:-0}" ]; then
      secs=$((SECONDS - t0))
      break
    fi
    sleep 0.2
  done
  wait "$flood_pid" 2>/dev/null || true
  wait "$ping_pid" || true
  sleep 2 # the metrics are published about once a second
  m1=$(metrics) || fail "pingflood: no metrics after the flood"
  limited1=$(metric_value "$m1" wghub_dropped_packets_total 'reason="local_rate_limited"')
  status_dump | grep ' status: ' || true
  received=$(ping_replies "$tmp/pingflood-site1.txt")
  echo "site1 LAN -> HQ during the ping flood: $(grep 'packets transmitted' "$tmp/pingflood-site1.txt");" \
    "$(grep -m1 '^rtt' "$tmp/pingflood-site1.txt" || true)"
  softnet1=$(softnet_drops)
  echo "kernel backlog drops (softnet_stat) during the flood: $((softnet1 - softnet0))"
  # Which of site1's pings got no reply: a run of them (a stall) or scattered.
  echo "site1's pings without a reply: $(missing_seqs "$tmp/pingflood-site1.txt" 100)"
  echo "local_rate_limited $limited0 -> $limited1; wan_rx_missed" \
    "$(metric_value "$m0" wghub_port_rx_missed_packets_total 'port="wan"') ->" \
    "$(metric_value "$m1" wghub_port_rx_missed_packets_total 'port="wan"');" \
    "site2 handshake after ${secs:-never} s"
  [ -n "$secs" ] || fail "pingflood: site2 did not complete a handshake during the ping flood"
  [ "$secs" -le 2 ] || fail "pingflood: site2's handshake took $secs s: its first initiation was not answered within 2 s"
  [ $((limited1 - limited0)) -gt 0 ] || fail "pingflood: the local budget never bit (local_rate_limited $limited0 -> $limited1)"
  [ "$received" -ge 95 ] || fail "pingflood: site1's session lost $((100 - received)) of 100 pings"
  ok "pingflood: site2 handshake after $secs s, local_rate_limited +$((limited1 - limited0)), site1 $received/100 pings"
  summary+=("ping flood: site2 handshake ${secs} s, local_rate_limited +$((limited1 - limited0))")
}

has_phase rekey && phase_rekey
has_phase restart && phase_restart
has_phase flood && phase_flood
has_phase maxflood && phase_flood 0 10 no
has_phase pingflood && phase_pingflood

echo
echo "$name: OK (${summary[*]})"
