#!/usr/bin/env bash
# The etcd client's TLS and authentication against a real etcd (docs/ha.md):
# etcd on 127.0.0.1 inside a network namespace of its own (created and removed
# here), serving https with a CA made here, requiring client certificates,
# with authentication on and a user limited to the hub's prefix. `wghub store
# push` and `diff` use store.ca_file, cert_file, key_file, user and
# password_file; a wrong password, a wrong CA, a missing client certificate
# and one with a Common Name each fail with a message that says so. Then the
# hub itself (net_null ports: no traffic) watches through TLS with its token:
# a key put in etcd is applied.
#
# usage: store_tls_auth_test.sh PATH/TO/wghub
# Skips (exit 77) when not root or a tool is missing, unless WGHUB_REQUIRE_INTEROP=1.
set -euo pipefail

WGHUB=$(realpath "${1:?usage: $0 PATH/TO/wghub}")
TEST_NAME=wghub_store_tls_auth
# shellcheck source=tests/interop/lab_test_lib.sh
. "$(dirname "$0")/lab_test_lib.sh" # skip, require_root_and_tools, etcd_healthy
# Its own fail and ok: no lab, no hub log; etcd's log instead.
fail() {
  echo "$TEST_NAME: FAIL: $*" >&2
  [ -f "$tmp/etcd.log" ] && tail -n 15 "$tmp/etcd.log" >&2
  exit 1
}

require_root_and_tools ip etcd etcdctl openssl

ns=wghub-etls$(($$ % 10000))
tmp=$(mktemp -d)
chmod 700 "$tmp"
etcd_pid=""
hub_pid=""
cleanup() {
  local rc=$?
  set +e
  if [ -n "$hub_pid" ]; then
    kill "$hub_pid" 2>/dev/null
    wait "$hub_pid" 2>/dev/null
  fi
  if [ -n "$etcd_pid" ]; then
    kill "$etcd_pid" 2>/dev/null
    wait "$etcd_pid" 2>/dev/null
  fi
  # Whatever still runs in the namespace (nothing, when the kills worked).
  ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

in_ns() { ip netns exec "$ns" "$@"; }
ip netns add "$ns"
in_ns ip link set lo up

# A CA, etcd's server certificate for 127.0.0.1, and the hub's client certificate.
cd "$tmp"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=wghub test CA" \
  -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=etcd" -keyout server.key -out server.csr 2>/dev/null
# clientAuth too: etcd's JSON gateway dials etcd's own gRPC with this
# certificate, and --client-cert-auth checks it.
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
  -extfile server.ext -out server.pem 2>/dev/null
# No Common Name: etcd >= 3.4.10 refuses gateway requests whose client
# certificate has one (CVE-2020-15136); the user authenticates instead.
printf 'extendedKeyUsage=clientAuth\n' >client.ext
client_cert() { # client_cert NAME SUBJECT
  openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
    -extfile client.ext -out "$1.pem" 2>/dev/null
}
client_cert client "/O=wghub"
client_cert cn-client "/CN=wghub"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=another CA" \
  -keyout other-ca.key -out other-ca.pem 2>/dev/null
chmod 600 ./*.key

ip netns exec "$ns" etcd --name tls --data-dir "$tmp/etcd" \
  --listen-client-urls https://127.0.0.1:2379 --advertise-client-urls https://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster tls=http://127.0.0.1:2380 \
  --cert-file server.pem --key-file server.key --trusted-ca-file ca.pem --client-cert-auth \
  >"$tmp/etcd.log" 2>&1 &
etcd_pid=$!
ectl() {
  in_ns env ETCDCTL_API=3 etcdctl --endpoints https://127.0.0.1:2379 --cacert ca.pem \
    --cert client.pem --key client.key "$@"
}
etcd_healthy || fail "etcd (TLS) did not become healthy"

# Authentication: root, and a user `hub` with read/write on the prefix only.
ectl user add root:rootpw >/dev/null
ectl user grant-role root root >/dev/null 2>&1 || true
ectl user add hub:hub-secret >/dev/null
ectl role add wghub >/dev/null
ectl role grant-permission wghub --prefix=true readwrite /tls/peers/ >/dev/null
ectl user grant-role hub wghub >/dev/null
ectl auth enable >/dev/null 2>&1 || fail "etcdctl auth enable failed"
ok "etcd with TLS, client certificates and authentication (namespace $ns)"

head -c 32 /dev/urandom | base64 >hub.key
chmod 600 hub.key
echo hub-secret >password
echo wrong >wrong-password
chmod 600 password wrong-password
write_config() { # write_config FILE CA CERT PASSWORD_FILE [ENDPOINTS]
  cat >"$1" <<YAML
interface: {name: wgtls$(($$ % 10000)), private_key_file: hub.key}
ports:
  wan: {devargs: net_null0, address: 198.51.100.10/24}
  lan: {devargs: net_null1, address: 10.0.0.1/16}
store:
  endpoints: [${5:-"https://127.0.0.1:2379"}]
  prefix: /tls/peers/
  ca_file: $2
  ${3:+cert_file: $3}
  ${3:+key_file: ${3%.pem}.key}
  user: hub
  password_file: $4
  cache_file: $tmp/cache.json
peers:
  - {name: a, public_key: "$(head -c 32 /dev/urandom | base64)", allowed_ips: [10.1.0.0/24]}
  - {name: b, public_key: "$(head -c 32 /dev/urandom | base64)", allowed_ips: [10.2.0.0/24]}
YAML
  chmod 600 "$1"
}
write_config good.yaml ca.pem client.pem password
in_ns "$WGHUB" store push -c good.yaml || fail "store push over TLS with a user failed"
out=$(in_ns "$WGHUB" store diff -c good.yaml) || fail "store diff differs after push: $out"
grep -q "0 key(s) differ, 2 the same" <<<"$out" || fail "unexpected diff: $out"
[ "$(ectl --user root:rootpw get --prefix --keys-only /tls/peers/ | grep -c .)" = 2 ] ||
  fail "etcd does not hold the 2 keys"
ok "push and diff over TLS with a client certificate and a user: $out"

expect_fail() { # expect_fail LABEL REGEX CONFIG
  local rc=0 out
  out=$(in_ns "$WGHUB" store diff -c "$3" 2>&1) || rc=$?
  [ "$rc" = 1 ] || fail "$1: exit $rc, expected 1 ($out)"
  grep -Eq -- "$2" <<<"$out" || fail "$1: no /$2/ in: $out"
  ok "$1: $(head -n1 <<<"$out" | cut -c1-110)"
}
# A dead member first: the client moves on to the live one.
write_config two.yaml ca.pem client.pem password '"https://127.0.0.1:1", "https://127.0.0.1:2379"'
rc=0
out=$(in_ns "$WGHUB" store diff -c two.yaml 2>&1) || rc=$?
# (its peers have other keys than good.yaml's: a difference, exit 1, is expected)
[ "$rc" -le 1 ] && grep -q "^diff: .*etcd revision" <<<"$out" ||
  fail "store diff with a dead endpoint first: exit $rc: $out"
ok "a dead endpoint first, then the live one: $(tail -n1 <<<"$out")"
write_config badpw.yaml ca.pem client.pem wrong-password
expect_fail "wrong password" "authentication as 'hub' failed: .*(invalid|password)" badpw.yaml
write_config badca.yaml other-ca.pem client.pem password
expect_fail "wrong CA" "https://127.0.0.1:2379: .*(certificate|SSL)" badca.yaml
write_config nocert.yaml ca.pem "" password
expect_fail "no client certificate" "https://127.0.0.1:2379: " nocert.yaml
write_config cn.yaml ca.pem cn-client.pem password
expect_fail "client certificate with a CN" "refuses client certificates with a Common Name" cn.yaml
# Not through in_ns: $! must be the hub itself (ip netns exec execs it), not
# a subshell whose kill would leave the hub running.
ip netns exec "$ns" "$WGHUB" -c good.yaml --status-interval 0 >hub.log 2>&1 &
hub_pid=$!
for _ in $(seq 300); do
  grep -q "store: revision .* applied" hub.log && break
  kill -0 "$hub_pid" 2>/dev/null || fail "wghub exited: $(tail -n 5 hub.log)"
  sleep 0.1
done
grep -q "store: connected to etcd at https://127.0.0.1:2379" hub.log || fail "the hub did not connect"
printf 'public_key: "%s"\nallowed_ips: [10.3.0.0/24]\n' "$(head -c 32 /dev/urandom | base64)" |
  ectl --user root:rootpw put /tls/peers/c >/dev/null
for _ in $(seq 100); do
  grep -q "applied: 1 peer(s) added" hub.log && break
  sleep 0.1
done
grep -q "applied: 1 peer(s) added" hub.log || fail "the hub did not apply a put over TLS: $(tail -n 5 hub.log)"
ok "the hub watches over TLS with a token: $(grep -o 'store: revision [0-9]* applied: 1 peer(s) added' hub.log)"
echo "$TEST_NAME: PASS"
