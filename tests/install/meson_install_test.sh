#!/usr/bin/env bash
# `meson install` of this build directory into a scratch DESTDIR: wghub and
# wghub-host-setup in sbin, the unit (whose commands name that sbin), the
# logrotate snippet, the man pages, the example config and the documents.
# Usage: meson_install_test.sh MESON BUILD_DIR PREFIX SBINDIR SYSCONFDIR
set -uo pipefail
MESON=$1 BUILD=$2 PREFIX=$3 SBIN=$4 ETC=$5
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
fails=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

if ! "$MESON" install -C "$BUILD" --destdir "$dest" --no-rebuild --quiet; then
  echo "FAIL meson install"
  exit 1
fi
case $SBIN in /*) ;; *) SBIN=$PREFIX/$SBIN ;; esac
case $ETC in /*) ;; *) ETC=$PREFIX/$ETC ;; esac
for f in "$SBIN/wghub" "$SBIN/wghub-host-setup"; do
  [ -x "$dest$f" ] && pass "$f" || fail "$f missing or not executable"
done
unit=$(find "$dest" -name wghub.service)
[ -n "$unit" ] && pass "unit ${unit#"$dest"}" || fail "no wghub.service"
[ -n "$unit" ] && grep -qx "ExecStart=$SBIN/wghub --config /etc/wghub/wghub.yaml --audit-log /var/log/wghub/audit.log" "$unit" &&
  pass "unit runs $SBIN/wghub" || fail "unit's ExecStart does not name $SBIN/wghub"
doc=$dest$PREFIX/share/doc/wghub
for f in "$dest$ETC/logrotate.d/wghub" "$doc/examples/wghub.yaml" "$doc/deploy.md" "$doc/config.md" \
  "$doc/metrics.md" "$doc/README.md" "$doc/dashboard/wghub.json"; do
  [ -f "$f" ] && pass "${f#"$dest"}" || fail "${f#"$dest"} missing"
done
if command -v help2man >/dev/null; then
  for m in wghub wghub-host-setup; do
    # help2man writes options as \-\-check\-config
    grep -qF -e 'dry\-run' -e 'check\-config' "$dest$PREFIX/share/man/man8/$m.8" 2>/dev/null &&
      pass "man page $m.8" || fail "man page $m.8 missing or empty"
  done
fi
"$dest$SBIN/wghub" --version | grep -qx "wghub [0-9.]*" && pass "installed wghub --version" || fail "wghub --version"
[ $fails -eq 0 ] && echo "meson install: all checks passed" || echo "meson install: $fails check(s) failed"
exit $((fails > 0))
