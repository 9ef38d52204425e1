#!/usr/bin/env bash
# Leader election and fencing against a real etcd (docs/ha.md): etcd on
# 127.0.0.1 inside a network namespace of its own (created and removed here),
# and wghub-election-etcd, whose two elections take over from each other on
# a clean stop, a crash and a frozen etcd, never both answering.
#
# usage: election_test.sh PATH/TO/wghub-election-etcd
# Skips (exit 77) when not root or etcd is missing, unless WGHUB_REQUIRE_INTEROP=1.
set -euo pipefail

PROBE=$(realpath "${1:?usage: $0 PATH/TO/wghub-election-etcd}")
TEST_NAME=wghub_election
# shellcheck source=tests/interop/lab_test_lib.sh
. "$(dirname "$0")/lab_test_lib.sh" # skip, require_root_and_tools, etcd_healthy
require_root_and_tools ip etcd etcdctl

ns=wghub-elect$(($$ % 10000))
tmp=$(mktemp -d)
etcd_pid=""
cleanup() {
  local rc=$?
  set +e
  if [ -n "$etcd_pid" ]; then
    kill -CONT "$etcd_pid" 2>/dev/null
    kill "$etcd_pid" 2>/dev/null
    wait "$etcd_pid" 2>/dev/null
  fi
  ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  [ "$rc" -ne 0 ] && [ -f "$tmp/etcd.log" ] && tail -n 15 "$tmp/etcd.log" >&2
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" etcd --name el --data-dir "$tmp/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster el=http://127.0.0.1:2380 >"$tmp/etcd.log" 2>&1 &
etcd_pid=$!
ectl() { ip netns exec "$ns" env ETCDCTL_API=3 etcdctl --endpoints http://127.0.0.1:2379 "$@"; }
etcd_healthy || { echo "$TEST_NAME: FAIL: etcd did not become healthy within 10 s" >&2; exit 1; }
ip netns exec "$ns" "$PROBE" http://127.0.0.1:2379 "$etcd_pid"
echo "$TEST_NAME: ok"
