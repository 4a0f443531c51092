#!/usr/bin/env python3
"""A tiny DNS client for lab tests (the lab has no dig): dnsq.py [--server IP] [--tcp] [--type A] NAME

Sends one query for NAME exactly as given (no search list) to --server (default: the first
nameserver in /etc/resolv.conf, which is the pod's own inside `ip netns exec`), prints one line per
answer ("NAME TYPE VALUE") or the response code, and exits 0 for answers, 1 for NXDOMAIN,
2 for any other response code or no answer, 3 for no response within --timeout.
"""
import argparse
import random
import socket
import struct
import sys

kTypes = {"A": 1, "AAAA": 28, "PTR": 12, "SRV": 33}
kRcodes = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def resolv_conf_nameserver():
    with open("/etc/resolv.conf") as conf:
        for line in conf:
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver":
                return parts[1]
    raise SystemExit("dnsq: no nameserver in /etc/resolv.conf; pass --server")


def encode_query(name, qtype):
    ident = random.randrange(65536)
    header = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)  # recursion desired
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".") if p)
    return ident, header + labels + b"\0" + struct.pack("!HH", qtype, 1)


def read_name(data, offset):
    labels = []
    jumped, end = False, offset
    while True:
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if not jumped:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            jumped = True
            continue
        if length == 0:
            return ".".join(labels), (end if jumped else offset + 1)
        labels.append(data[offset + 1:offset + 1 + length].decode())
        offset += 1 + length


def decode_answers(data):
    _, flags, qd, an, _, _ = struct.unpack("!HHHHHH", data[:12])
    offset = 12
    for _ in range(qd):
        _, offset = read_name(data, offset)
        offset += 4
    answers = []
    for _ in range(an):
        name, offset = read_name(data, offset)
        rtype, _, _, length = struct.unpack("!HHIH", data[offset:offset + 10])
        offset += 10
        rdata = data[offset:offset + length]
        if rtype == 1:
            value = socket.inet_ntop(socket.AF_INET, rdata)
        elif rtype == 28:
            value = socket.inet_ntop(socket.AF_INET6, rdata)
        elif rtype in (5, 12):
            value = read_name(data, offset)[0]
        else:
            value = rdata.hex()
        answers.append((name, {v: k for k, v in kTypes.items()}.get(rtype, str(rtype)), value))
        offset += length
    return flags & 0xF, answers


def query(server, name, qtype, tcp, timeout):
    ident, packet = encode_query(name, qtype)
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    if tcp:
        with socket.create_connection((server, 53), timeout=timeout) as sock:
            sock.sendall(struct.pack("!H", len(packet)) + packet)
            length = struct.unpack("!H", recv_exact(sock, 2))[0]
            return recv_exact(sock, length)
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, (server, 53))
        while True:
            data, _ = sock.recvfrom(65535)
            if struct.unpack("!H", data[:2])[0] == ident:
                return data


def recv_exact(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument("--server")
    parser.add_argument("--type", default="A", choices=sorted(kTypes))
    parser.add_argument("--tcp", action="store_true")
    parser.add_argument("--timeout", type=float, default=2.0)
    args = parser.parse_args()
    server = args.server or resolv_conf_nameserver()
    try:
        data = query(server, args.name, kTypes[args.type], args.tcp, args.timeout)
    except (OSError, socket.timeout) as err:
        print(f"no response from {server}: {err}", file=sys.stderr)
        return 3
    rcode, answers = decode_answers(data)
    for name, rtype, value in answers:
        print(f"{name} {rtype} {value}")
    if rcode == 3:
        print("NXDOMAIN")
        return 1
    if rcode != 0 or not answers:
        print(kRcodes.get(rcode, str(rcode)) + ("" if answers else " (no answer)"))
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
