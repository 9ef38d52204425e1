#!/usr/bin/env bash
# The wghub command line as an operator meets it: --help, --version, usage
# errors, and --check-config on a good file, a bad file (file:line:column
# errors, exit 1, nothing started) and a key file others can read.
#
# usage: cli_test.sh PATH/TO/wghub
set -euo pipefail

WGHUB=${1:?usage: $0 PATH/TO/wghub}
. "$(dirname "$0")/checks.sh"

key() { # a key file as `wg genkey` writes it (no wg needed: 32 random bytes)
  head -c 32 /dev/urandom | base64 >"$1"
  chmod "${2:-600}" "$1"
}
key "$tmp/hub.key"
peer_pub=$(head -c 32 /dev/urandom | base64)

write_config() { # write_config FILE KEYFILE [EXTRA_PEER_LINE]
  cat >"$1" <<YAML
interface:
  private_key_file: $2
ports:
  wan: {devargs: "net_af_packet0,iface=wan0", address: 100.64.0.1/24}
  lan: {devargs: "net_af_packet1,iface=lan0", address: 10.0.0.1/24}
peers:
  - name: plant-1
    public_key: "$peer_pub"
    allowed_ips: [10.1.0.0/24]
${3:-}
YAML
}

expect "help" 0 "usage: wghub --config FILE" -- "$WGHUB" --help
expect "version" 0 "^wghub [0-9]+\.[0-9]+" -- "$WGHUB" --version
expect "no config" 2 "--config FILE is required" -- "$WGHUB"
expect "unknown option" 2 "usage:" -- "$WGHUB" --frobnicate
expect "stray argument" 2 "unexpected argument 'extra'" -- "$WGHUB" -c x.yaml extra
expect "bad status interval" 2 "status-interval wants seconds" -- "$WGHUB" -c x --status-interval -3

write_config "$tmp/good.yaml" "$tmp/hub.key"
expect "check good config" 0 "config $tmp/good.yaml: OK" -- "$WGHUB" --config "$tmp/good.yaml" --check-config
expect "summary lists the peer" 0 "peer plant-1 +allowed_ips 10.1.0.0/24" -- "$WGHUB" --config "$tmp/good.yaml" --check-config

write_config "$tmp/typo.yaml" "$tmp/hub.key" "    alowed_ips: [10.2.0.0/24]"
expect "unknown key names file:line:col" 1 "^$tmp/typo.yaml:10:5: peers\[0\]\.alowed_ips: unknown key 'alowed_ips'; did you mean 'allowed_ips'\?" -- "$WGHUB" -c "$tmp/typo.yaml" --check-config
expect "bad config starts nothing" 1 "1 error\(s\) in $tmp/typo.yaml; nothing started" -- "$WGHUB" -c "$tmp/typo.yaml"

key "$tmp/open.key" 644
write_config "$tmp/open.yaml" "$tmp/open.key"
expect "world-readable key refused" 1 "chmod 600 $tmp/open.key" -- "$WGHUB" -c "$tmp/open.yaml" --check-config
if grep -qF "$(cat "$tmp/open.key")" <<<"$("$WGHUB" -c "$tmp/open.yaml" --check-config 2>&1 || true)"; then
  fail "the refused key's contents appear in the output"
else
  pass "key contents never printed"
fi
expect "missing file" 1 "$tmp/none.yaml" -- "$WGHUB" -c "$tmp/none.yaml" --check-config

# wghub store (docs/ha.md): usage, a file without a store: section, and an
# etcd that does not answer (127.0.0.1:1 refuses; nothing leaves the machine).
expect "store usage" 2 "usage: wghub store push" -- "$WGHUB" store
expect "store unknown verb" 2 "unknown subcommand 'pull'" -- "$WGHUB" store pull -c x
expect "store without section" 1 "has no store: section" -- "$WGHUB" store diff -c "$tmp/good.yaml"
write_config "$tmp/store.yaml" "$tmp/hub.key"
printf 'store: {endpoints: ["http://127.0.0.1:1"], cache_file: %s}\n' "$tmp/cache.json" >>"$tmp/store.yaml"
expect "check-config names the store" 0 "store: etcd http://127.0.0.1:1, prefix /wghub/peers/" -- "$WGHUB" -c "$tmp/store.yaml" --check-config
expect "store push, etcd down" 1 "http://127.0.0.1:1: Couldn't connect" -- "$WGHUB" store push -c "$tmp/store.yaml"
expect "start: etcd down, no cache" 1 "no cached store state at $tmp/cache.json .*nothing started" -- "$WGHUB" -c "$tmp/store.yaml"
printf 'store: {endpoints: ["10.0.0.5:2379"]}\n' >"$tmp/badstore.part"
write_config "$tmp/badstore.yaml" "$tmp/hub.key"
cat "$tmp/badstore.part" >>"$tmp/badstore.yaml"
expect "store endpoint without scheme" 1 "badstore.yaml:11:21: store.endpoints\[0\]: '10.0.0.5:2379' is not an etcd client URL" -- "$WGHUB" -c "$tmp/badstore.yaml" --check-config

finish cli
