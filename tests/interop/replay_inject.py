#!/usr/bin/env python3
"""Capture one WireGuard transport-data message and re-inject it (replay test).

Runs inside a lab namespace (e.g. the site's NAT router, on its uplink). It
opens an AF_PACKET socket on IFACE, waits for the first *outgoing* Ethernet
frame that carries UDP to DST_IP:DST_PORT with a WireGuard type-4 message
(transport data, whitepaper 5.4.6: type u8, 3 reserved bytes, receiver index
u32 LE, counter u64 LE, encrypted payload + 16-byte tag), then sends that exact
frame COUNT more times out of IFACE. The receiver must count each copy as a
replay (RFC 6479 window) and otherwise ignore it.

Prints one line: the receiver index, the counter and the size of the frame.
Exit status: 0 = captured and re-injected, 1 = nothing captured in time,
2 = usage. Needs root (CAP_NET_RAW).

usage: replay_inject.py IFACE DST_IP DST_PORT [--count N] [--timeout S]
"""

import argparse
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
PACKET_OUTGOING = 4
WG_TRANSPORT_DATA = 4
WG_DATA_HEADER = 16  # type + reserved + receiver index + counter
POLY1305_TAG = 16


def transport_message(frame, dst_ip, dst_port):
    """Return (receiver, counter) if FRAME is IPv4/UDP to dst with a type-4 message."""
    if len(frame) < 14 + 20 + 8 or struct.unpack_from("!H", frame, 12)[0] != ETH_P_IP:
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[0] >> 4 != 4 or ihl < 20 or ip[9] != socket.IPPROTO_UDP:
        return None
    if ip[16:20] != dst_ip:
        return None
    udp = ip[ihl:]
    if len(udp) < 8 or struct.unpack_from("!H", udp, 2)[0] != dst_port:
        return None
    wg = udp[8:]
    if len(wg) < WG_DATA_HEADER + POLY1305_TAG or wg[0] != WG_TRANSPORT_DATA:
        return None
    receiver, counter = struct.unpack_from("<IQ", wg, 4)
    return receiver, counter


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("iface")
    ap.add_argument("dst_ip")
    ap.add_argument("dst_port", type=int)
    ap.add_argument("--count", type=int, default=3, help="copies to send (default 3)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds to wait (default 10)")
    args = ap.parse_args()
    dst_ip = socket.inet_aton(args.dst_ip)

    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((args.iface, ETH_P_ALL))
    deadline = time.monotonic() + args.timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            print(f"replay_inject: no type-4 message to {args.dst_ip}:{args.dst_port} "
                  f"left {args.iface} within {args.timeout:g} s", file=sys.stderr)
            return 1
        sock.settimeout(left)
        try:
            frame, addr = sock.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] != PACKET_OUTGOING:
            continue
        msg = transport_message(frame, dst_ip, args.dst_port)
        if msg is not None:
            break

    for _ in range(args.count):
        sock.send(frame)
    receiver, counter = msg
    print(f"replay_inject: captured a type-4 message on {args.iface} (receiver index "
          f"0x{receiver:08x}, counter {counter}, {len(frame)} B frame); "
          f"re-injected it {args.count} times")
    return 0


if __name__ == "__main__":
    sys.exit(main())
