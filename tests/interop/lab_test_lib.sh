# Helpers shared by the lab tests in this folder (sourced). The caller sets
# TEST_NAME, WGHUB (the hub executable) and LAB (scripts/lab) before sourcing,
# then calls lab_test_init PREFIX, which sets the globals these read at call
# time: prefix (the lab prefix), tmp, hub_log and hub_pid. A test with
# background processes of its own stops them in a function
# stop_test_processes, which the EXIT trap calls. flow_across_roam reads
# ROAM_PINGS and ROAM_MAX_LOSS.
# shellcheck shell=bash

skip() {
  if [ "${WGHUB_REQUIRE_INTEROP:-0}" = 1 ]; then
    echo "$TEST_NAME: FAIL (WGHUB_REQUIRE_INTEROP=1): $*" >&2
    exit 1
  fi
  echo "$TEST_NAME: skipped: $*"
  exit 77 # meson: skipped
}

lab() { "$LAB" "$1" --prefix "$prefix" "${@:2}"; }

in_ns() { ip netns exec "$prefix-$1" "${@:2}"; } # in_ns site1 CMD...

ok() { echo "ok: $*"; }

# To stderr: fail also runs inside $(...).
fail() {
  {
    echo "$TEST_NAME: FAIL: $*"
    local log
    # hub_log, and any more a test names in extra_logs (a second hub's).
    for log in "$hub_log" ${extra_logs[@]+"${extra_logs[@]}"}; do
      [ -s "$log" ] || continue
      echo "--- last lines of $log"
      tail -n 40 "$log"
    done
  } >&2
  exit 1
}

stop_pid() { # stop_pid PID: TERM, then KILL after 5 s
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# Wait up to SECONDS for an extended regex to appear in the hub log.
wait_for_log() { # wait_for_log SECONDS REGEX
  local deadline=$((SECONDS + $1))
  while [ $SECONDS -le $deadline ]; do
    grep -Eq -- "$2" "$hub_log" && return 0
    kill -0 "$hub_pid" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

# SIGUSR1 the hub, wait for its full dump, print the dump's lines (status line,
# peers, control).
status_dump() {
  local before deadline
  before=$(grep -c '  control: ' "$hub_log" || true)
  kill -USR1 "$hub_pid"
  deadline=$((SECONDS + 5))
  while [ "$(grep -c '  control: ' "$hub_log" || true)" -le "$before" ]; do
    [ $SECONDS -le $deadline ] || fail "no status dump within 5 s of SIGUSR1"
    sleep 0.1
  done
  awk '/ status: /{block=$0; next} block!="" && /  (peer [^ ]+ key|control:) /{block=block "\n" $0}
       /  control: /{last=block; block=""} END{print last}' "$hub_log"
}

# Packets received by a ping run: ping_received NS DST COUNT [ping args...]
ping_received() {
  local ns=$1 dst=$2 count=$3 out
  out=$(in_ns "$ns" ping -n -q -c "$count" -i 0.2 -W 2 "${@:4}" "$dst" 2>&1 || true)
  printf '%s\n' "$out" | sed -nE 's/.* ([0-9]+) (packets )?received.*/\1/p' | head -n1
}

# Warm up (loss allowed: ARP, handshakes), then require COUNT of COUNT.
ping_clean() { # ping_clean NS DST LABEL
  local got
  ping_received "$1" "$2" 2 >/dev/null
  got=$(ping_received "$1" "$2" 5)
  [ "${got:-0}" = 5 ] || fail "ping $3: ${got:-0}/5 replies"
  ok "ping $3: 5/5"
}

# No reply at all: ping_fails NS DST LABEL
ping_fails() {
  local got
  got=$(ping_received "$1" "$2" 3)
  [ "${got:-0}" = 0 ] || fail "ping $3: ${got} replies, expected none"
  ok "ping $3: 0/3 (cut off)"
}

# Poll until one ping gets through (a site re-handshakes by itself, retrying
# every 5 s): prints the seconds it took. wait_reachable NS DST TIMEOUT
wait_reachable() {
  local start=$SECONDS deadline=$((SECONDS + $3))
  while [ $SECONDS -le $deadline ]; do
    if in_ns "$1" ping -n -q -c 1 -W 1 "$2" >/dev/null 2>&1; then
      echo $((SECONDS - start))
      return 0
    fi
  done
  return 1
}

# Until etcd answers `ectl endpoint health` (ectl: the caller's etcdctl
# with its endpoint and credentials), 10 s at most; 1 if it never does.
etcd_healthy() {
  local _
  for _ in $(seq 100); do
    ectl endpoint health >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

step() { printf '\n== step %s\n' "$*"; }

# ---------------------------------------------------------------- setup and teardown

# Skips unless root and every TOOL is on the PATH.
require_root_and_tools() { # require_root_and_tools TOOL...
  local tool
  [ "$(id -u)" -eq 0 ] || skip "not root"
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || skip "missing $tool (scripts/setup installs it)"
  done
}

# Fails (no skip: the build made them) unless $WGHUB and $LAB are executable.
require_hub_and_lab() {
  [ -x "$WGHUB" ] || { echo "$TEST_NAME: no executable wghub at $WGHUB" >&2; exit 1; }
  [ -x "$LAB" ] || { echo "$TEST_NAME: no executable lab script at $LAB" >&2; exit 1; }
}

# The globals every lab test uses (prefix; tmp, holding the lab's state root
# and the hub log; hub_pid) and the traps that clean up whatever happens.
lab_test_init() { # lab_test_init PREFIX (unique: it names the namespaces)
  prefix=$1
  tmp=$(mktemp -d)
  export WGHUB_LAB_STATE_ROOT=$tmp/state
  hub_log=$tmp/wghub.log
  hub_pid=""
  trap lab_test_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM # meson's timeout
}

# The EXIT trap: the test's own background processes (its function
# stop_test_processes, when it has one), wghub, the lab, $tmp.
lab_test_cleanup() {
  local rc=$?
  set +e
  if declare -F stop_test_processes >/dev/null; then stop_test_processes; fi
  stop_pid "$hub_pid"
  "$LAB" down --prefix "$prefix" >/dev/null 2>&1
  rm -rf "$tmp"
  exit "$rc"
}

# `lab up` with ARGS, then its lab.env (LAB_* names, addresses, keys) sourced.
lab_up() { # lab_up [lab up options]
  lab up "$@"
  # shellcheck disable=SC1090,SC1091
  . "$WGHUB_LAB_STATE_ROOT/$prefix/lab.env"
}

# Starts wghub in the hub namespace, logging to $hub_log; waits for "wghub running".
start_hub() {
  ip netns exec "$LAB_NS_HUB" "$WGHUB" --config "$LAB_HUB_CONFIG" --status-interval 0 \
    >"$hub_log" 2>&1 &
  hub_pid=$!
  wait_for_log 30 'wghub running' || fail "wghub did not log 'wghub running' within 30 s"
}

# SIGTERM wghub: it must exit, with status 0, within 15 s.
stop_hub() {
  local rc=0
  kill -TERM "$hub_pid"
  for _ in $(seq 150); do
    kill -0 "$hub_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$hub_pid" 2>/dev/null && fail "wghub still running 15 s after SIGTERM"
  wait "$hub_pid" || rc=$?
  hub_pid=""
  [ "$rc" = 0 ] || fail "wghub exited with $rc after SIGTERM"
}

# `lab down`, then nothing of the lab may be left: namespaces, wireguard-go,
# its sockets, the state dir.
lab_down_nothing_left() {
  local left socks
  lab down
  left=$(ip netns list | awk '{print $1}' | grep -E "^$prefix-" || true)
  [ -z "$left" ] || fail "namespaces left after lab down: $left"
  pgrep -f "^wireguard-go ${prefix}s[0-9]+\$" >/dev/null && fail "wireguard-go left running"
  socks=$(find /var/run/wireguard -maxdepth 1 -name "${prefix}*.sock" 2>/dev/null || true)
  [ -z "$socks" ] || fail "sockets left: $socks"
  [ ! -e "$WGHUB_LAB_STATE_ROOT/$prefix" ] || fail "state dir left: $WGHUB_LAB_STATE_ROOT/$prefix"
}

# ---------------------------------------------------------------- checks

wait_handshake() { # wait_handshake SITE_NUMBER: the hub logs a completed handshake within 10 s
  wait_for_log 10 "handshake completed with peer site$1 " ||
    fail "no 'handshake completed with peer site$1' in the hub log"
}

latest_handshake() { # latest_handshake SITE_NUMBER -> unix time (0 = never)
  local wg_if_var="LAB_SITE$1_WG_IF"
  in_ns "site$1" wg show "${!wg_if_var}" latest-handshakes | awk '{print $2}' | head -n1
}

# A drop counter from a status line ("dropped N a=1 b=2"); 0 when absent.
drop_count() { # drop_count DUMP NAME
  local n
  n=$(printf '%s\n' "$1" | grep ' status: ' | grep -oE " $2=[0-9]+" | head -n1 | cut -d= -f2)
  echo "${n:-0}"
}

# Site1 (or the namespace SPOOF_FROM) pings DST COUNT times from SOURCE, an
# address in another site's LAN (added to its lo for the pings): no reply, the
# destination's ECHO_COUNTER (a function printing the echo requests it
# received) unchanged, the hub's drop counter SPOOF_REASON (default
# spoofed_inner_source) grown by COUNT at least. Sets spoofed_before and
# spoofed_after.
expect_spoofed_dropped() { # expect_spoofed_dropped SOURCE/LEN DST COUNT ECHO_COUNTER [ip addr add options]
  local source=$1 dst=$2 count=$3 echo_counter=$4 dump echos_before echos_after got
  local from=${SPOOF_FROM:-site1} reason=${SPOOF_REASON:-spoofed_inner_source}
  shift 4
  dump=$(status_dump)
  spoofed_before=$(drop_count "$dump" "$reason")
  echos_before=$("$echo_counter")
  in_ns "$from" ip addr add "$source" dev lo "$@"
  got=$(ping_received "$from" "$dst" "$count" -I "${source%/*}")
  in_ns "$from" ip addr del "$source" dev lo
  echos_after=$("$echo_counter")
  dump=$(status_dump)
  spoofed_after=$(drop_count "$dump" "$reason")
  printf '%s\n' "$dump" | grep ' status: '
  [ "${got:-0}" = 0 ] || fail "a spoofed ping from $from got ${got} replies"
  [ "$echos_after" = "$echos_before" ] ||
    fail "$dst received $((echos_after - echos_before)) spoofed echo requests"
  [ $((spoofed_after - spoofed_before)) -ge "$count" ] ||
    fail "$reason grew by $((spoofed_after - spoofed_before)), expected >= $count"
  ok "$reason $spoofed_before -> $spoofed_after; $dst received none of the $count"
}

# A ping flow of ROAM_PINGS from NS to DST with `lab roam SITE` 3 s into it:
# at most ROAM_MAX_LOSS lost. Sets roam_lost.
flow_across_roam() { # flow_across_roam LABEL NS DST SITE [lab roam options]
  local label=$1 ns=$2 dst=$3 site=$4 received
  shift 4
  in_ns "$ns" ping -n -c "$ROAM_PINGS" -i 0.2 -W 1 "$dst" >"$tmp/roam-ping.txt" 2>&1 &
  flow_pid=$!
  sleep 3
  lab roam "$site" "$@"
  wait "$flow_pid" || true
  flow_pid=""
  received=$(sed -nE 's/.* ([0-9]+) received.*/\1/p' "$tmp/roam-ping.txt" | head -n1)
  roam_lost=$((ROAM_PINGS - ${received:-0}))
  echo "flow during the roam: $(sed -n '/packets transmitted/p' "$tmp/roam-ping.txt")"
  [ "$roam_lost" -le "$ROAM_MAX_LOSS" ] ||
    fail "${label:+$label: }the flow lost $roam_lost of $ROAM_PINGS pings (at most $ROAM_MAX_LOSS allowed)"
}

# ---------------------------------------------------------------- iperf3

# iperf3 -s on the HQ host, listening within 5 s; sets iperf_server_pid.
start_iperf_server() {
  in_ns hq iperf3 -s >"$tmp/iperf3-server.log" 2>&1 &
  # shellcheck disable=SC2034 # the caller stops it
  iperf_server_pid=$!
  for _ in $(seq 50); do
    in_ns hq ss -ltn | grep -q ':5201 ' && return 0
    sleep 0.1
  done
  fail "iperf3 server did not listen on 5201"
}

# The error an iperf3 --json run reported, else the last lines of its output.
iperf_error() { # iperf_error FILE
  "${PYTHON:-python3}" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("error","?"))' \
    "$1" 2>/dev/null || tail -n 3 "$1"
}

# "GBIT_S BYTES RETRANSMITS" (received by the receiver; sent retransmits) of an
# iperf3 --json run; fails when the run reported an error.
iperf_figures() { # iperf_figures FILE
  "${PYTHON:-python3}" - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
if d.get("error"):
    sys.exit("iperf3 error: " + d["error"])
r = d["end"]["sum_received"]
print("%.2f %d %d" % (r["bits_per_second"] / 1e9, r["bytes"], d["end"]["sum_sent"].get("retransmits", 0)))
PY
}
