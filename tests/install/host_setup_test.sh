#!/usr/bin/env bash
# scripts/host-setup against fake hosts (a /sys and /proc under a temp dir,
# --root): each refusal path (IOMMU off, a NIC that is the default route's,
# has an IPv4 route or a global IPv6 address, a missing NIC, a bad config),
# the plan of --dry-run changing nothing, and a run applied to the fake root
# with stand-in dpdk-devbind.py/modprobe (what it writes, what its undo says).
# Last, --dry-run on this machine: it prints a plan and changes nothing.
# Usage: host_setup_test.sh HOST_SETUP
set -uo pipefail
HS=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

cat > "$tmp/wghub.yaml" <<'Y'
ports:
  wan: {devargs: "0000:3b:00.0", address: 198.51.100.10/24}
  lan: {devargs: "3b:00.1,rxq=2", address: 10.0.0.1/16}
dataplane: {lcores: [1, 2]}
Y
sed 's/"3b:00.1,rxq=2"/"net_af_packet0,iface=eth9"/' "$tmp/wghub.yaml" > "$tmp/afpacket.yaml"

# A host with two NICs (ixgbe, eth1/eth2), the management NIC eth0 elsewhere.
make_host() {
  local r=$1
  mkdir -p "$r/sys/bus/pci/drivers/ixgbe" "$r/sys/kernel/iommu_groups/7" \
    "$r/sys/kernel/mm/hugepages/hugepages-2048kB" "$r/proc/net" "$r/etc" \
    "$r/sys/devices/system/cpu/cpu1/node0" "$r/sys/devices/system/cpu/cpu2/node0"
  local n=1
  for a in 0000:3b:00.0 0000:3b:00.1; do
    local d="$r/sys/bus/pci/devices/$a"
    mkdir -p "$d/net/eth$n"
    ln -s ../../../kernel/iommu_groups/7 "$d/iommu_group"
    ln -s ../../../bus/pci/drivers/ixgbe "$d/driver"
    echo 0 > "$d/numa_node"
    n=$((n + 1))
  done
  echo 0 > "$r/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
  printf 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n' > "$r/proc/net/route"
  printf 'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n' >> "$r/proc/net/route"
  printf 'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n' >> "$r/proc/net/route"
  echo "fe800000000000000000000000000001 03 40 20 80 eth1" > "$r/proc/net/if_inet6"
  : > "$r/proc/net/ipv6_route"
  echo "hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0" > "$r/proc/mounts"
}
snapshot() { (cd "$1" && find . -printf '%p %l\n' | sort && find . -type f -exec md5sum {} + | sort); }

# expect_refusal NAME PATTERN SETUP_COMMANDS...: a fresh host, changed by
# SETUP, must be refused with PATTERN, exit 1 and nothing changed.
expect_refusal() {
  local name=$1 pattern=$2 r="$tmp/$1"
  shift 2
  make_host "$r"
  (cd "$r" && eval "$*")
  local before after out rc
  before=$(snapshot "$r")
  out=$(WGHUB_DEVBIND=false WGHUB_MODPROBE=false "$HS" --root "$r" --config "${CONFIG:-$tmp/wghub.yaml}" 2>&1)
  rc=$?
  after=$(snapshot "$r")
  if [ $rc -eq 1 ] && grep -q -- "$pattern" <<<"$out" && grep -q "nothing was changed" <<<"$out" &&
    [ "$before" == "$after" ]; then
    pass "refused: $name"
  else
    fail "refused: $name (rc $rc, want 1 and /$pattern/):"; echo "$out" | sed 's/^/     /'
  fi
}

expect_refusal iommu-off "the IOMMU is off" 'rm -r sys/kernel/iommu_groups/7'
expect_refusal iommu-no-group "the IOMMU is off" 'rm sys/bus/pci/devices/0000:3b:00.1/iommu_group'
expect_refusal default-route-v4 "carries the management address: it is the interface of the IPv4 default route" \
  'sed -i "s/^eth0\t00000000/eth2\t00000000/" proc/net/route'
expect_refusal address-v4 "NIC 0000:3b:00.0 (eth1) carries the management address: it has IPv4 routes" \
  'printf "eth1\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n" >> proc/net/route'
expect_refusal default-route-v6 "it is the interface of the IPv6 default route" \
  'echo "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth2" > proc/net/ipv6_route'
expect_refusal global-v6 "it has a global IPv6 address" \
  'echo "20010db8000000000000000000000001 03 40 00 80 eth1" >> proc/net/if_inet6'
expect_refusal missing-nic "no PCI device 0000:3b:00.1" 'rm -r sys/bus/pci/devices/0000:3b:00.1'
CONFIG=/nonexistent.yaml expect_refusal no-config "/nonexistent.yaml: No such file" true
printf 'ports:\n  wan: {devargs: x}\n' > "$tmp/nolan.yaml"
CONFIG=$tmp/nolan.yaml expect_refusal no-lan "ports.lan.devargs: missing" true
sed 's/"3b:00.1,rxq=2"/"0000:3b:00.0"/' "$tmp/wghub.yaml" > "$tmp/same.yaml"
CONFIG=$tmp/same.yaml expect_refusal same-nic "the same NIC" true

# --dry-run: the plan names both binds, the hugepages and their undo; no change.
r="$tmp/dry"
make_host "$r"
before=$(snapshot "$r")
out=$("$HS" --root "$r" --config "$tmp/wghub.yaml" --dry-run 2>&1)
rc=$?
after=$(snapshot "$r")
if [ $rc -eq 0 ] && [ "$before" == "$after" ] &&
  grep -q "bind 0000:3b:00.0 (wan, now ixgbe) to vfio-pci" <<<"$out" &&
  grep -q "bind 0000:3b:00.1 (lan, now ixgbe) to vfio-pci" <<<"$out" &&
  grep -q "undo: dpdk-devbind.py --bind=ixgbe 0000:3b:00.1" <<<"$out" &&
  grep -q "reserve 1024 hugepages" <<<"$out" && grep -q "nothing was changed" <<<"$out"; then
  pass "dry-run prints the plan and changes nothing"
else
  fail "dry-run (rc $rc):"; echo "$out" | sed 's/^/     /'
fi
# A fake root is never changed by the real dpdk-devbind.py.
out=$("$HS" --root "$r" --config "$tmp/wghub.yaml" 2>&1)
[ $? -eq 2 ] && [ "$before" == "$(snapshot "$r")" ] && pass "fake root without stand-ins: refused" ||
  fail "fake root without stand-ins: $out"

# Applied to the fake root with stand-ins: sysctl.d, modules-load.d, the
# hugepage count, the devbind calls, and an undo script that puts ixgbe back.
cat > "$tmp/devbind" <<S
#!/bin/sh
echo "devbind \$*" >> "$tmp/calls"
S
cat > "$tmp/modprobe" <<S
#!/bin/sh
echo "modprobe \$*" >> "$tmp/calls"
S
chmod +x "$tmp/devbind" "$tmp/modprobe"
export WGHUB_DEVBIND=$tmp/devbind WGHUB_MODPROBE=$tmp/modprobe
out=$("$HS" --root "$r" --config "$tmp/wghub.yaml" --hugepages 512 2>&1)
rc=$?
undo="$r/var/lib/wghub/host-setup-undo.sh"
if [ $rc -eq 0 ] && [ "$(cat "$r/etc/sysctl.d/80-wghub-hugepages.conf")" == "vm.nr_hugepages = 512" ] &&
  [ "$(cat "$r/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages")" == 512 ] &&
  [ "$(cat "$r/etc/modules-load.d/wghub-vfio.conf")" == vfio-pci ] &&
  grep -qx "modprobe vfio-pci" "$tmp/calls" &&
  grep -qx "devbind --bind=vfio-pci 0000:3b:00.0" "$tmp/calls" &&
  grep -qx "devbind --bind=vfio-pci 0000:3b:00.1" "$tmp/calls" &&
  grep -qx "dpdk-devbind.py --bind=ixgbe 0000:3b:00.0" "$undo" &&
  grep -qx "rm /etc/sysctl.d/80-wghub-hugepages.conf" "$undo" &&
  grep -q "undo: sh /var/lib/wghub/host-setup-undo.sh" <<<"$out"; then
  pass "applied: hugepages persisted, NICs bound, undo written"
else
  fail "applied (rc $rc):"; echo "$out" | sed 's/^/     /'; cat "$tmp/calls" "$undo" 2>&1 | sed 's/^/     /'
fi
# After the binds (NICs now on vfio-pci) a second run changes nothing and
# keeps the undo's ixgbe.
for a in 0000:3b:00.0 0000:3b:00.1; do
  ln -sfn ../../../bus/pci/drivers/vfio-pci "$r/sys/bus/pci/devices/$a/driver"
done
out=$("$HS" --root "$r" --config "$tmp/wghub.yaml" --hugepages 512 2>&1)
[ $? -eq 0 ] && grep -q "nothing to change" <<<"$out" && grep -qx "dpdk-devbind.py --bind=ixgbe 0000:3b:00.1" "$undo" &&
  pass "second run: nothing to change, undo kept" || fail "second run: $out"
# --bind-only (wghub.service's ExecStartPre) skips hugepages; a kernel
# interface port needs no binding.
out=$("$HS" --root "$r" --config "$tmp/afpacket.yaml" --bind-only --dry-run 2>&1)
[ $? -eq 0 ] && grep -q "'net_af_packet0,iface=eth9' is not a PCI address" <<<"$out" &&
  ! grep -q hugepages <<<"$out" && pass "bind-only, af_packet port" || fail "bind-only: $out"
unset WGHUB_DEVBIND WGHUB_MODPROBE

# This machine: --dry-run with a kernel-interface config prints the plan
# (hugepages) and changes neither the reservation nor /etc.
printf 'ports:\n  wan: {devargs: "net_af_packet0,iface=wan0"}\n  lan: {devargs: "net_af_packet1,iface=lan0"}\n' > "$tmp/lab.yaml"
before="$(cat /proc/sys/vm/nr_hugepages) $(ls /etc/sysctl.d /etc/modules-load.d 2>/dev/null | md5sum)"
out=$("$HS" --config "$tmp/lab.yaml" --dry-run 2>&1)
rc=$?
after="$(cat /proc/sys/vm/nr_hugepages) $(ls /etc/sysctl.d /etc/modules-load.d 2>/dev/null | md5sum)"
echo "$out" | sed 's/^/     this host: /'
if [ $rc -eq 0 ] && [ "$before" == "$after" ] && grep -q "nothing was changed\|nothing to change" <<<"$out"; then
  pass "this host: --dry-run changes nothing"
else
  fail "this host: --dry-run (rc $rc)"
fi

[ $fails -eq 0 ] && echo "host-setup: all checks passed" || echo "host-setup: $fails check(s) failed"
exit $((fails > 0))
