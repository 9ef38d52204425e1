#!/usr/bin/env bash
# wghub confined the way wghub.service confines it, in the namespace lab
# (scripts/lab, one wireguard-go site): the unit's CapabilityBoundingSet= only,
# no new privileges, a read-only system but the unit's RuntimeDirectory=
# (ProtectSystem=strict), memlock unlimited (LimitMEMLOCK=infinity). The
# capability list and the directories are read from the built unit, so a
# change to the hub that needs more fails here. Checks: the hub's capability
# sets and NoNewPrivs, a handshake and pings both ways, wg(8) on the UAPI
# socket, a metrics scrape, a SIGHUP reload, a clean SIGTERM exit.
# (Not emulated: DevicePolicy=, SystemCallFilter=, which need systemd.)
#
# usage: unit_sandbox_lab_test.sh PATH/TO/wghub PATH/TO/scripts/lab PATH/TO/wghub.service
set -euo pipefail
WGHUB_BIN=${1:?usage: $0 WGHUB LAB UNIT}
LAB=${2:?usage: $0 WGHUB LAB UNIT}
UNIT=${3:?usage: $0 WGHUB LAB UNIT}

export TEST_NAME=wghub_unit_sandbox
# shellcheck source=tests/interop/lab_test_lib.sh
. "$(dirname "$0")/../interop/lab_test_lib.sh"
require_root_and_tools ip wg wireguard-go iptables python3 ping setpriv prlimit unshare capsh
lab_test_init "us$(($$ % 1000))"

# ---------------------------------------------------------------- the unit's confinement

caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr ' ' '\n' | sed '/^$/d')
[ -n "$caps" ] || fail "no CapabilityBoundingSet= in $UNIT"
runtime_dirs=$(sed -n 's/^RuntimeDirectory=//p' "$UNIT" | tr ' ' '\n' | sed '/^$/d; s|^|/run/|' | tr '\n' ' ')
grep -qx 'ProtectSystem=strict' "$UNIT" || fail "$UNIT: not ProtectSystem=strict"
grep -qx 'LimitMEMLOCK=infinity' "$UNIT" || fail "$UNIT: not LimitMEMLOCK=infinity"
bounding=-all
for c in $caps; do bounding="$bounding,+$(tr 'A-Z' 'a-z' <<<"${c#CAP_}")"; done
memlock=(--memlock=unlimited:unlimited)
expected_caps=$caps
if ! prlimit --memlock=unlimited:unlimited true 2>/dev/null; then
  # A container without CAP_SYS_RESOURCE cannot raise its memlock limit:
  # CAP_IPC_LOCK gives mlockall() what LimitMEMLOCK=infinity gives it.
  echo "note: memlock limit cannot be raised here; CAP_IPC_LOCK stands in for LimitMEMLOCK=infinity"
  memlock=()
  bounding="$bounding,+ipc_lock"
  expected_caps="$caps CAP_IPC_LOCK"
fi
created_dirs=""
for d in $runtime_dirs; do [ -d "$d" ] || { mkdir -p "$d"; created_dirs="$created_dirs $d"; }; done
WGHUB=$tmp/wghub-confined
cat >"$WGHUB" <<EOS
#!/bin/sh
exec unshare -m sh -c '
  set -e
  mount --make-rslave /
  for d in /usr /etc /var /run /tmp /boot /opt /srv /root /home; do
    [ -d "\$d" ] || continue
    mount --bind "\$d" "\$d"; mount -o remount,bind,ro "\$d"
  done
  for d in $runtime_dirs; do mount --bind "\$d" "\$d"; mount -o remount,bind,rw "\$d"; done
  if touch /etc/.wghub-sandbox-probe 2>/dev/null; then rm -f /etc/.wghub-sandbox-probe; echo "sandbox: /etc writable" >&2; exit 99; fi
  exec prlimit ${memlock[*]} --core=0 -- setpriv --bounding-set=$bounding --inh-caps=-all \
    --no-new-privs -- "$WGHUB_BIN" "\$@"
' wghub "\$@"
EOS
chmod +x "$WGHUB"
ok "confinement from $(basename "$UNIT"): capabilities $(echo $caps), writable $(echo $runtime_dirs)"

# ---------------------------------------------------------------- the hub in the lab

step "1: lab up (prefix $prefix, 1 site), wghub confined"
lab_up --sites 1
start_hub
status=$(cat "/proc/$hub_pid/status")
bnd=$(awk '/^CapBnd:/{print $2}' <<<"$status")
eff=$(awk '/^CapEff:/{print $2}' <<<"$status")
nnp=$(awk '/^NoNewPrivs:/{print $2}' <<<"$status")
decoded=$(capsh --decode="$bnd" | sed 's/.*=//')
for c in $expected_caps; do
  grep -qw "$(tr 'A-Z' 'a-z' <<<"$c")" <<<"$decoded" || fail "CapBnd $decoded lacks $c"
done
[ "$(tr ',' '\n' <<<"$decoded" | wc -l)" = "$(wc -w <<<"$expected_caps")" ] ||
  fail "CapBnd has more than the unit's: $decoded"
[ "$bnd" = "$eff" ] || fail "CapEff $eff differs from CapBnd $bnd"
[ "$nnp" = 1 ] || fail "NoNewPrivs is $nnp"
ok "wghub pid $hub_pid: capabilities $decoded, NoNewPrivs 1"
if grep -q "could not lock memory" "$hub_log"; then fail "the hub could not lock its memory"; fi
ok "memory locked (no 'could not lock memory' warning)"

step "2: handshake and pings"
in_ns lan1 ping -n -q -c 3 -i 0.3 -W 2 "$LAB_HQ_HOST" >/dev/null 2>&1 || true
wait_handshake 1
ping_clean lan1 "$LAB_HQ_HOST" "site1 LAN -> HQ"
ping_clean hq "$LAB_SITE1_HOST" "HQ -> site1 LAN"

step "3: wg(8), metrics, reload"
dump=$(ip netns exec "$LAB_NS_HUB" wg show "$LAB_HUB_NAME" dump) || fail "wg show $LAB_HUB_NAME failed"
grep -q "$LAB_SITE1_PUBKEY" <<<"$dump" || fail "wg show lacks site1: $dump"
ok "wg show $LAB_HUB_NAME: site1 listed (socket in /run/wireguard)"
live=$(ip netns exec "$LAB_NS_HUB" python3 -c '
import sys, urllib.request
t = urllib.request.urlopen("http://" + sys.argv[1] + "/metrics", timeout=5).read().decode()
print([l.split()[1] for l in t.splitlines() if l.startswith("wghub_peers_live")][0])' "$LAB_HUB_METRICS") ||
  fail "metrics scrape failed"
[ "$live" = 1 ] || fail "wghub_peers_live is $live, want 1"
ok "metrics on $LAB_HUB_METRICS: wghub_peers_live 1"
kill -HUP "$hub_pid"
wait_for_log 10 "reload of .* applied" || fail "no 'reload ... applied' after SIGHUP"
ok "SIGHUP: $(grep -m1 -o 'reload of .* applied' "$hub_log")"

step "4: SIGTERM, lab down"
stop_hub
ok "wghub exited 0 on SIGTERM"
lab_down_nothing_left
for d in $created_dirs; do rmdir "$d" 2>/dev/null || true; done # only if this test made them
echo "$TEST_NAME: OK"
