#!/usr/bin/env bash
# Interop test of wghub against the Linux kernel's WireGuard (issue 15): the
# namespace lab with two kernel sites (QEMU guests, scripts/lab --kernel-sites;
# site 1 with a preshared key) and one wireguard-go site, the real hub.
#
#   1. lab up --sites 3 --kernel-sites 1,2 --psk-sites 1; start wghub
#   2. every site handshakes (hub log; the guests' wg show)
#   3. pings both ways between each site LAN and the HQ host, and from the guest
#   4. site to site through the hub: kernel <-> kernel, kernel <-> wireguard-go
#   5. 1400-byte pings (DF set) kernel site -> HQ, HQ -> kernel site, kernel -> go site
#   6. rekey: site 1's guest drops its hub peer and re-adds it (wg(8)); its next
#      packet makes a new handshake: the hub's count for site1 grows, the PSK stays
#   7. roaming: `lab roam 1` mid-flow; the hub sends to site 1's new NAT address
#   8. wghub SIGKILLed and started again: every site comes back by itself
#   9. SIGTERM: wghub exits 0; lab down leaves no namespace and no qemu behind
#
# usage: kernel_sites_lab_test.sh PATH/TO/wghub PATH/TO/scripts/lab
# Skips (exit 77) when not root or tools are missing, unless
# WGHUB_REQUIRE_INTEROP=1. Waits are deadlines, never timing thresholds: QEMU may
# run under TCG on a busy machine. Every address lives in the lab's namespaces.
set -euo pipefail

WGHUB=${1:?usage: $0 PATH/TO/wghub PATH/TO/scripts/lab}
LAB=${2:?usage: $0 PATH/TO/wghub PATH/TO/scripts/lab}

readonly HQ_HOST=10.0.0.10
readonly ROAM_PINGS=60
readonly ROAM_MAX_LOSS=10
readonly RECOVER_S=180 # per site, after the hub restart

export TEST_NAME=wghub_kernel_sites
# shellcheck source=tests/interop/lab_test_lib.sh
. "$(dirname "$0")/lab_test_lib.sh"

require_root_and_tools ip wg wireguard-go iptables ethtool conntrack ping pgrep timeout \
  qemu-system-x86_64 cpio apt-get dpkg-deb
require_hub_and_lab

lab_test_init "ks$(($$ % 100000))"
flow_pid=""
stop_test_processes() { stop_pid "$flow_pid"; }

guest() { lab exec "site$1-guest" "${@:2}"; } # guest SITE CMD...: in kernel site SITE's guest

hub_handshakes() { # hub_handshakes SITE: completed handshakes in the hub log
  grep -c "handshake completed with peer site$1 " "$hub_log" || true
}

# Pings from the site's LAN host until the hub logs MIN handshakes with it, for
# at most SECONDS.
await_handshakes() { # await_handshakes SITE MIN SECONDS
  local deadline=$((SECONDS + $3))
  until [ "$(hub_handshakes "$1")" -ge "$2" ]; do
    [ $SECONDS -le $deadline ] || fail "site$1: fewer than $2 handshakes in the hub log after $3 s"
    in_ns "lan$1" ping -n -q -c 1 -W 2 "$HQ_HOST" >/dev/null 2>&1 || true
  done
}

big_ping() { # big_ping NS DST LABEL: 1400-byte IPv4 packets, DF set, 5 of 5
  local got
  ping_received "$1" "$2" 2 -M "do" -s 1372 >/dev/null
  got=$(ping_received "$1" "$2" 5 -M "do" -s 1372)
  [ "${got:-0}" = 5 ] || fail "1400-byte ping $3: ${got:-0}/5 replies"
  ok "1400-byte ping (DF) $3: 5/5"
}

hub_endpoint_of() { # hub_endpoint_of SITE: a.b.c.d:port from the status dump
  status_dump | sed -nE "s/.*  peer site$1 key [^ ]+ endpoint ([0-9.]+:[0-9]+) .*/\\1/p" | tail -n1
}

# ---------------------------------------------------------------- 1. up

step "1: lab up: kernel sites 1 and 2 (site 1 with a preshared key), wireguard-go site 3"
t0=$SECONDS
lab_up --sites 3 --kernel-sites 1,2 --psk-sites 1
echo "lab up (image lookup or build, two guests booted): $((SECONDS - t0)) s"
[ "$LAB_SITE1_KIND $LAB_SITE2_KIND $LAB_SITE3_KIND" = "kernel kernel go" ] ||
  fail "site kinds $LAB_SITE1_KIND $LAB_SITE2_KIND $LAB_SITE3_KIND, expected kernel kernel go"
guest 1 sh -c 'lsmod | grep -q "^wireguard "' || fail "site 1's guest has no wireguard module loaded"
[ "$(guest 1 wg show wg0 preshared-keys | awk '{print $2}')" = "$(cat "$LAB_SITE1_PSK_FILE")" ] ||
  fail "site 1's guest does not hold the lab's preshared key"
[ "$(guest 2 wg show wg0 preshared-keys | awk '{print $2}')" = "(none)" ] ||
  fail "site 2's guest has a preshared key"
grep -A3 'name: site1$' "$LAB_HUB_CONFIG" | grep -q "preshared_key_file: $LAB_SITE1_PSK_FILE" ||
  fail "hub.yaml gives site1 no preshared_key_file"
ok "guests run kernel WireGuard; site 1's PSK is in its guest and in hub.yaml"
t0=$SECONDS
start_hub
echo "wghub started in $((SECONDS - t0)) s"

# ---------------------------------------------------------------- 2. handshakes

step "2: handshakes"
for i in 1 2 3; do
  t0=$SECONDS
  await_handshakes "$i" 1 120
  ok "site$i ($(eval echo "\$LAB_SITE${i}_KIND")) handshook, $((SECONDS - t0)) s after the first ping"
done
for i in 1 2; do
  hs=$(guest "$i" wg show wg0 latest-handshakes | awk '{print $2}')
  [ "${hs:-0}" -gt 0 ] || fail "site $i's guest shows no handshake"
done
ok "both guests' wg show have a latest handshake"

# ---------------------------------------------------------------- 3. pings to HQ

step "3: pings between the site LANs and the HQ host, both ways"
for i in 1 2 3; do
  ping_clean "lan$i" "$HQ_HOST" "site$i LAN -> HQ"
  ping_clean hq "10.$i.1.10" "HQ -> site$i LAN"
done
got=$(guest 1 ping -c 5 -W 3 "$HQ_HOST" | sed -nE 's/.* ([0-9]+) packets received.*/\1/p')
[ "${got:-0}" -ge 4 ] || fail "site 1's guest -> HQ: ${got:-0}/5 replies"
ok "guest of site 1 (source 10.99.0.11) -> HQ: $got/5"

# ---------------------------------------------------------------- 4. site to site

step "4: site to site through the hub"
ping_clean lan1 10.2.1.10 "kernel site1 LAN -> kernel site2 LAN"
ping_clean lan2 10.1.1.10 "kernel site2 LAN -> kernel site1 LAN"
ping_clean lan1 10.3.1.10 "kernel site1 LAN -> wireguard-go site3 LAN"
ping_clean lan3 10.2.1.10 "wireguard-go site3 LAN -> kernel site2 LAN"

# ---------------------------------------------------------------- 5. 1400 bytes

step "5: 1400-byte packets (DF) through the 1420-byte tunnels"
big_ping lan1 "$HQ_HOST" "kernel site1 LAN -> HQ"
big_ping hq 10.2.1.10 "HQ -> kernel site2 LAN"
big_ping lan2 10.3.1.10 "kernel site2 LAN -> wireguard-go site3 LAN"

# ---------------------------------------------------------------- 6. rekey

step "6: rekey: site 1's guest re-creates its hub peer, so its next packet handshakes afresh"
before=$(hub_handshakes 1)
guest_hs_before=$(guest 1 wg show wg0 latest-handshakes | awk '{print $2}')
# shellcheck disable=SC2016 # $1 is the guest shell's
guest 1 sh -c 'wg set wg0 peer "$1" remove && wg addconf wg0 /etc/lab/wg0.conf' _ "$LAB_HUB_PUBKEY" ||
  fail "could not re-create site 1's peer in its guest"
await_handshakes 1 $((before + 1)) 120
ping_clean lan1 "$HQ_HOST" "site1 LAN -> HQ after the rekey"
guest_hs=$(guest 1 wg show wg0 latest-handshakes | awk '{print $2}')
[ "${guest_hs:-0}" -gt "$guest_hs_before" ] || fail "the guest's latest handshake did not move ($guest_hs_before)"
[ "$(guest 1 wg show wg0 preshared-keys | awk '{print $2}')" = "$(cat "$LAB_SITE1_PSK_FILE")" ] ||
  fail "site 1 lost its preshared key across the rekey"
ok "hub handshakes with site1 $before -> $(hub_handshakes 1); guest's latest handshake moved; PSK kept"

# ---------------------------------------------------------------- 7. roaming

step "7: roaming: site 1's NAT changes address mid-flow"
old_endpoint=$(hub_endpoint_of 1)
LAB_SITE1_NAT_ADDR_BEFORE=$LAB_SITE1_NAT_ADDR
[ "${old_endpoint%:*}" = "$LAB_SITE1_NAT_ADDR" ] || fail "before the roam the hub sends to '$old_endpoint'"
flow_across_roam "roam" lan1 "$HQ_HOST" 1
# shellcheck disable=SC1090,SC1091
. "$WGHUB_LAB_STATE_ROOT/$prefix/lab.env"
new_endpoint=$(hub_endpoint_of 1)
[ "${new_endpoint%:*} ${old_endpoint%:*}" = "$LAB_SITE1_NAT_ADDR $LAB_SITE1_NAT_ADDR_BEFORE" ] ||
  fail "after the roam the hub sends to '$new_endpoint' (before '$old_endpoint'), not to $LAB_SITE1_NAT_ADDR"
ping_clean hq 10.1.1.10 "HQ -> site1 LAN after the roam"
ok "hub endpoint for site1 $old_endpoint -> $new_endpoint, $roam_lost/$ROAM_PINGS lost"

# ---------------------------------------------------------------- 8. hub restart

step "8: wghub SIGKILLed and started again under the sites"
kill -KILL "$hub_pid"
wait "$hub_pid" 2>/dev/null || true
hub_pid=""
start_hub
for i in 1 2 3; do
  t0=$SECONDS
  until [ "$(ping_received "lan$i" "$HQ_HOST" 3)" -gt 0 ] 2>/dev/null; do
    [ $((SECONDS - t0)) -le $RECOVER_S ] || fail "site$i did not come back within $RECOVER_S s of the restart"
  done
  [ "$(hub_handshakes "$i")" -ge 1 ] || fail "the restarted hub logged no handshake with site$i"
  ping_clean "lan$i" "$HQ_HOST" "site$i LAN -> HQ after the restart"
  echo "site$i back $((SECONDS - t0)) s after its first ping"
done
ping_clean lan1 10.2.1.10 "kernel site1 LAN -> kernel site2 LAN after the restart"

# ---------------------------------------------------------------- 9. stop, down

step "9: SIGTERM, lab down"
stop_hub
grep -q 'stopped' "$hub_log" || fail "wghub did not log 'stopped'"
lab_down_nothing_left
! pgrep -f -- "-name $prefix-site[0-9]+-guest" >/dev/null || fail "a guest's qemu is left running"
ok "wghub exited 0; no namespace, process or qemu left"
echo "$TEST_NAME: PASS"
