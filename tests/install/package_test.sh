#!/usr/bin/env bash
# Builds the Debian package with scripts/package and checks what it installs,
# unpacked into a scratch root (dpkg-deb -x): the files, no test or perf
# program, dependencies from shlibdeps, the unit (systemd-analyze verify
# against that root, plus its security exposure, printed), and the installed
# wghub's --version and wghub-host-setup's --help.
# Usage: package_test.sh SCRIPTS_PACKAGE OUT_DIR VERSION
set -uo pipefail
PACKAGE=$1 OUT=$2 VERSION=$3
fails=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

start=$(date +%s)
# Line tables only in the test's build (dpkg-buildflags appends -g1 after its
# -g): the same code, a third less compile time; a real build keeps full -g.
if ! DEB_CXXFLAGS_APPEND=-g1 "$PACKAGE" --out "$OUT"; then
  echo "FAIL scripts/package"
  exit 1
fi
echo "package build + lintian: $(($(date +%s) - start)) s"
deb="$OUT/wghub_${VERSION}_amd64.deb"
[ -f "$deb" ] && pass "built $(basename "$deb") ($(stat -c %s "$deb") bytes)" || { fail "no $deb"; exit 1; }

root="$OUT/root"
rm -rf "$root"
mkdir -p "$root"
dpkg-deb -x "$deb" "$root"
for f in usr/sbin/wghub usr/sbin/wghub-host-setup; do
  [ -x "$root/$f" ] && pass "/$f executable" || fail "/$f missing or not executable"
done
for f in lib/systemd/system/wghub.service etc/logrotate.d/wghub \
  usr/share/man/man8/wghub.8.gz usr/share/man/man8/wghub-host-setup.8.gz \
  usr/share/doc/wghub/examples/wghub.yaml usr/share/doc/wghub/deploy.md \
  usr/share/doc/wghub/config.md usr/share/doc/wghub/metrics.md usr/share/doc/wghub/README.md \
  usr/share/doc/wghub/dashboard/wghub.json usr/share/doc/wghub/copyright; do
  [ -f "$root/$f" ] && pass "/$f" || fail "/$f missing"
done
# Only what ships: no test suite, perf tool or fuzzer in the package.
contents=$(dpkg-deb -c "$deb")
extra=$(awk '{print $6}' <<<"$contents" | grep -E 'wgperf|bench|fuzz|_test|streamgen|streamsink' || true)
[ -z "$extra" ] && pass "no test, perf or fuzz programs" || fail "unexpected files: $extra"
depends=$(dpkg-deb -f "$deb" Depends)
echo "     Depends: $depends"
grep -q "librte-" <<<"$depends" && grep -q "libsodium" <<<"$depends" && grep -q "libyaml-cpp" <<<"$depends" &&
  pass "Depends from shlibdeps" || fail "Depends lacks shlibdeps' libraries"
grep -q -- "^-rw-r--r-- root/root .*/wghub.service$" <<<"$contents" &&
  pass "unit owned by root, 0644" || fail "unit mode/owner: $(grep wghub.service <<<"$contents")"

# The unit against the scratch root: systemd-analyze resolves its commands
# there, and its targets (multi-user, network-online) from this host's systemd,
# copied in.
mkdir -p "$root/bin"
cp -an /lib/systemd/system/. "$root/lib/systemd/system/"
cp /bin/kill "$root/bin/kill"
# Its Documentation= man pages are looked up with man(1): the package's own.
export MANPATH=$root/usr/share/man
out=$(systemd-analyze verify --root="$root" wghub.service 2>&1)
rc=$?
[ $rc -eq 0 ] && [ -z "$out" ] && pass "systemd-analyze verify --root: clean" ||
  { fail "systemd-analyze verify (rc $rc)"; echo "$out"; }
# verify must be able to fail: without the binary it does.
mv "$root/usr/sbin/wghub" "$root/usr/sbin/wghub.away"
systemd-analyze verify --root="$root" wghub.service >/dev/null 2>&1 &&
  fail "verify passed without /usr/sbin/wghub" || pass "verify fails without /usr/sbin/wghub"
mv "$root/usr/sbin/wghub.away" "$root/usr/sbin/wghub"
systemd-analyze security --offline=true --root="$root" wghub.service 2>&1 | grep "Overall exposure"
for key in "ExecStartPre=/usr/sbin/wghub --config /etc/wghub/wghub.yaml --check-config" \
  "ExecReload=/bin/kill -HUP \$MAINPID" "LimitMEMLOCK=infinity" "Restart=on-failure" \
  "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN"; do
  grep -qxF "$key" "$root/lib/systemd/system/wghub.service" && pass "unit: $key" || fail "unit lacks: $key"
done

# The logrotate snippet parses and names the unit's audit log.
out=$(logrotate -d -s "$OUT/logrotate.state" "$root/etc/logrotate.d/wghub" 2>&1)
rc=$?
[ $rc -eq 0 ] && ! grep -q "^error" <<<"$out" && grep -q "rotating pattern: /var/log/wghub/audit.log" <<<"$out" &&
  grep -q -- "--audit-log /var/log/wghub/audit.log" "$root/lib/systemd/system/wghub.service" &&
  pass "logrotate -d: /var/log/wghub/audit.log, the unit's audit log" || { fail "logrotate snippet (rc $rc)"; echo "$out"; }

got=$("$root/usr/sbin/wghub" --version)
[ "$got" == "wghub $VERSION" ] && pass "installed wghub --version: $got" || fail "wghub --version: '$got'"
"$root/usr/sbin/wghub-host-setup" --help | grep -q -- "--dry-run" && pass "installed wghub-host-setup --help" ||
  fail "wghub-host-setup --help"

rm -rf "$root"
echo "package test: $(($(date +%s) - start)) s"
[ $fails -eq 0 ] && echo "package: all checks passed" || echo "package: $fails check(s) failed"
exit $((fails > 0))
