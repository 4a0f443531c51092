#!/usr/bin/env python3
"""Attacks from inside a pod, for tests/lab/security_test.cc. Each sends probe datagrams
("SEQ TAG", the format tools/lab/extsrv.py logs) that must never reach the external host:
  --spoof-src IP        with another source IP (a raw socket; SpoofGuard must drop them)
  --geneve NODE_IP      inside hand-made Geneve to NODE_IP:6081 with --vni (an egress IP's tunnel
                        ID), as if this pod were a node asking the egress node to SNAT for it
--control sends plain probes, which must arrive: they prove the path works."""
import argparse
import socket
import struct


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_udp(src, dst, sport, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload  # checksum 0: none
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + udp


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", default="10.10.3.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--control", action="store_true")
    parser.add_argument("--spoof-src")
    parser.add_argument("--geneve")
    parser.add_argument("--vni", type=lambda text: int(text, 0), default=0)
    parser.add_argument("--inner-src")
    parser.add_argument("--geneve-port", type=int, default=6081)
    args = parser.parse_args()
    for seq in range(args.count):
        payload = f"{seq} {args.tag}".encode()
        if args.control:
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(payload, (args.target, args.port))
        elif args.spoof_src:
            raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
            raw.sendto(ipv4_udp(args.spoof_src, args.target, 40000, args.port, payload), (args.target, 0))
        elif args.geneve:
            inner = ipv4_udp(args.inner_src, args.target, 40000, args.port, payload)
            ethernet = bytes.fromhex("aabbccddeeff" "02000000aa01") + struct.pack("!H", 0x0800)
            geneve = struct.pack("!BBHI", 0, 0, 0x6558, args.vni << 8)
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(
                geneve + ethernet + inner, (args.geneve, args.geneve_port))
    print(args.count)


if __name__ == "__main__":
    main()
