# Helpers shared by the lab tests in this folder (sourced). The caller sets
# TEST_NAME before sourcing, and later the globals these read at call time:
# LAB (scripts/lab), prefix (the lab prefix), hub_log and hub_pid.
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
    if [ -s "$hub_log" ]; then
      echo "--- last lines of the hub log ($hub_log)"
      tail -n 40 "$hub_log"
    fi
  } >&2
  exit 1
}

stop_pid() { # stop_pid PID: TERM, then KILL after 5 s
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do
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
