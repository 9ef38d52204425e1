#!/usr/bin/env python3
"""Writes a wghub config with N generated peers, for scripts/bench-scale.

Each peer gets 32 random bytes as its public key (any 32 bytes encode a valid
Curve25519 public key for the config and the hub; nobody dials in with it)
and one /32 from 172.16.0.0/12 (2^20 addresses: enough for the kernel's
peer limit). Peers go inline (`peers:`) or as one file each in peers_dir.

  gen-peers.py --peers 10000 --out DIR [--peers-dir] [--wan DEVARGS] [--lan DEVARGS]
  gen-peers.py --peers 100000 --out DIR --base hub.yaml   # the generated peers after
                                          # those of an existing config (the lab's)
  gen-peers.py --out DIR --change-percent 1   # rewrite DIR's config: 1 % move to a /32 in 198.18.0.0/15

With --base the config is FILE's text with the generated peers appended to its
`peers:` list (which must be its last section, as scripts/lab writes it); its
own peers stay first and are never among the changed ones. The config file is
written next to its final name and renamed, so a hub reloading it never reads
half of it.
"""
import argparse
import base64
import ipaddress
import os
import sys

BASE = int(ipaddress.IPv4Address("172.16.0.0"))
MOVED = int(ipaddress.IPv4Address("198.18.0.0"))
MOVED_MAX = 1 << 17


def peer_ip(i, shift=0):
    return str(ipaddress.IPv4Address(BASE + ((i + shift) % (1 << 20))))


def write_key(path, raw):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(raw).decode() + "\n")
    os.chmod(path, 0o600)


def peer_lines(name, key, ip, indent):
    return (f"{indent}name: {name}\n{indent}public_key: \"{key}\"\n"
            f"{indent}allowed_ips: [\"{ip}/32\"]\n")


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def split_base(text):
    """A config whose last section is `peers:` -> (the text before it, its peer lines)."""
    lines = text.splitlines(keepends=True)
    at = [i for i, l in enumerate(lines) if l.rstrip() == "peers:"]
    if not at:
        return text, ""
    rest = lines[at[-1] + 1:]
    if any(l.strip() and not l.startswith((" ", "#")) for l in rest):
        sys.exit("--base: `peers:` must be the file's last section")
    return "".join(lines[:at[-1]]), "".join(rest)


def write_peers(out, keys, changed, peers_dir, base_peers=""):
    """keys: list of base64 keys; changed: set of peer numbers whose /32 moves."""
    n = len(keys)
    # A changed peer moves to an address of its own in 198.18.0.0/15 (RFC
    # 2544's benchmarking range): outside 172.16.0.0/12, which 2^20 peers
    # fill (an address "past the others" would wrap onto the peer's own).
    moved = {i: str(ipaddress.IPv4Address(MOVED + k)) for k, i in enumerate(sorted(changed))}
    if len(moved) > MOVED_MAX:
        sys.exit(f"--change-percent: at most {MOVED_MAX} changed peers")
    def ip_of(i):
        return moved[i] if i in moved else peer_ip(i)
    if peers_dir:
        d = os.path.join(out, "peers")
        os.makedirs(d, exist_ok=True)
        for i, k in enumerate(keys):
            with open(os.path.join(d, f"p{i:07d}.yaml"), "w") as f:
                f.write(f"public_key: \"{k}\"\nallowed_ips: [\"{ip_of(i)}/32\"]\n")
        return ""
    parts = ["peers:\n", base_peers]
    for i, k in enumerate(keys):
        parts.append(f"  - name: p{i:07d}\n    public_key: \"{k}\"\n"
                     f"    allowed_ips: [\"{ip_of(i)}/32\"]\n")
    return "".join(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", type=int)
    ap.add_argument("--out", required=True)
    ap.add_argument("--peers-dir", action="store_true")
    ap.add_argument("--wan", default="net_af_packet0,iface=wan0")
    ap.add_argument("--lan", default="net_af_packet1,iface=lan0")
    ap.add_argument("--lcores", default="1")
    ap.add_argument("--interface", default="wgbench0")
    ap.add_argument("--base", help="a config to add the generated peers to (see above)")
    ap.add_argument("--change-percent", type=float,
                    help="rewrite the existing config in --out with this share of peers changed")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    keys_file = os.path.join(a.out, "keys.txt")
    if a.change_percent is not None:
        with open(keys_file) as f:
            keys = f.read().split()
        header = open(os.path.join(a.out, "header.yaml")).read()
        base_file = os.path.join(a.out, "base-peers.yaml")
        base_peers = open(base_file).read() if os.path.exists(base_file) else ""
        peers_dir = os.path.isdir(os.path.join(a.out, "peers"))
        step = max(1, int(round(100 / a.change_percent))) if a.change_percent > 0 else 0
        changed = set(range(0, len(keys), step)) if step else set()
    else:
        if a.peers is None or a.peers < 0 or a.peers > (1 << 20):
            sys.exit("--peers 0..1048576")
        raw = os.urandom(32 * a.peers)
        keys = [base64.b64encode(raw[32 * i:32 * i + 32]).decode() for i in range(a.peers)]
        with open(keys_file, "w") as f:
            f.write("\n".join(keys) + "\n")
        base_peers = ""
        if a.base:
            header, base_peers = split_base(open(a.base).read())
            with open(os.path.join(a.out, "base-peers.yaml"), "w") as f:
                f.write(base_peers)
        else:
            write_key(os.path.join(a.out, "hub.key"), os.urandom(32))
            header = (f"interface:\n  name: {a.interface}\n  private_key_file: hub.key\n"
                      f"  listen_port: 51820\n"
                      f"ports:\n  wan:\n    devargs: \"{a.wan}\"\n    address: 100.64.0.1/24\n"
                      f"  lan:\n    devargs: \"{a.lan}\"\n    address: 10.0.0.1/24\n"
                      f"dataplane:\n  lcores: [{a.lcores}]\n"
                      f"metrics:\n  enabled: true\n  listen: \"127.0.0.1:9586\"\n")
        with open(os.path.join(a.out, "header.yaml"), "w") as f:
            f.write(header)
        peers_dir = a.peers_dir
        changed = set()
    body = write_peers(a.out, keys, changed, peers_dir, base_peers)
    write_atomic(os.path.join(a.out, "wghub.yaml"),
                 header + ("peers_dir: peers\n" if peers_dir else "") + body)
    print(f"{a.out}/wghub.yaml: {len(keys)} peers, {len(changed)} changed")


if __name__ == "__main__":
    main()
