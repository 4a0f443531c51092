#!/usr/bin/env python3
"""Who answers ARP for an IP, over time: asks "who has TARGET" every --interval seconds on an
interface and counts the answers each request gets, so a test can tell one responder from two.

Two nodes answering for one egress IP both answer with the IP's floating MAC (see
docs/egress-datapath.md), so distinct MACs prove nothing: what shows two responders is two
replies to one request. To tell which request a reply answers, however late it comes, request N
asks from sender address BASE+(N mod --slots) (a responder answers to the request's sender
address); the interface's MAC receives the replies. BASE (--sender-base) must be unused addresses
on the interface's network.

Runs until --seconds pass or SIGTERM/SIGINT, then writes a JSON summary to --out:
  requests, answered, unanswered, replies, max_replies (to one request),
  multi_reply_requests, macs (every sender MAC seen), and the longest run of unanswered requests
  in milliseconds (longest_silence_ms).
"""
import argparse
import fcntl
import json
import os
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ARP = 0x0806
SIOCGIFHWADDR = 0x8927


def interface_mac(sock, interface):
    packed = fcntl.ioctl(sock.fileno(), SIOCGIFHWADDR, struct.pack("256s", interface.encode()[:15]))
    return packed[18:24]


def request_frame(mac, ip, target):
    ethernet = b"\xff" * 6 + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip + b"\x00" * 6 + target
    return ethernet + arp


def parse_reply(frame, target):
    """(sender MAC, the reply's target address) of an ARP reply from TARGET, or None."""
    if len(frame) < 42 or frame[12:14] != struct.pack("!H", ETH_P_ARP):
        return None
    opcode = struct.unpack("!H", frame[20:22])[0]
    sender_mac, sender_ip, target_ip = frame[22:28], frame[28:32], frame[38:42]
    if opcode != 2 or sender_ip != target:
        return None  # requests, gratuitous ARPs and other hosts' answers
    return sender_mac.hex(":"), struct.unpack("!I", target_ip)[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--interface", default="eth0")
    parser.add_argument("--target", required=True, help="the IP to ask for")
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--sender-base", default="10.10.3.100",
                        help="first of --slots unused addresses to ask from")
    parser.add_argument("--slots", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--out", required=True, help="where the JSON summary goes")
    parser.add_argument("--ready", help="a file to create once the first request is out")
    parser.add_argument("--tag", default="", help="ignored; marks the process as the lab's")
    args = parser.parse_args()

    stopping = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.append(True))

    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    sock.bind((args.interface, ETH_P_ARP))
    mac = interface_mac(sock, args.interface)
    target = socket.inet_aton(args.target)
    base = struct.unpack("!I", socket.inet_aton(args.sender_base))[0]

    replies_per_request = []  # one entry per request sent
    sent_at = []
    macs = set()
    deadline = time.monotonic() + args.seconds
    next_send = time.monotonic()
    while not stopping and time.monotonic() < deadline:
        now = time.monotonic()
        if now >= next_send:
            slot = len(sent_at) % args.slots
            sock.send(request_frame(mac, struct.pack("!I", base + slot), target))
            sent_at.append(now)
            replies_per_request.append(0)
            next_send += args.interval
            if args.ready and len(sent_at) == 1:
                open(args.ready, "w").close()
            continue
        try:
            ready, _, _ = select.select([sock], [], [], max(0.0, next_send - now))
        except InterruptedError:
            continue
        if not ready:
            continue
        reply = parse_reply(sock.recv(2048), target)
        if reply is None or not base <= reply[1] < base + args.slots:
            continue
        # The latest request asked from that slot's address.
        slot = reply[1] - base
        latest = len(sent_at) - 1
        index = latest - (latest - slot) % args.slots
        if index >= 0:
            replies_per_request[index] += 1
            macs.add(reply[0])

    longest, run_start = 0.0, None
    for index, count in enumerate(replies_per_request):
        if count == 0 and run_start is None:
            run_start = sent_at[index]
        elif count > 0 and run_start is not None:
            longest = max(longest, sent_at[index] - run_start)
            run_start = None
    if run_start is not None and sent_at:
        longest = max(longest, sent_at[-1] - run_start + args.interval)
    summary = {
        "requests": len(replies_per_request),
        "answered": sum(1 for count in replies_per_request if count > 0),
        "unanswered": sum(1 for count in replies_per_request if count == 0),
        "replies": sum(replies_per_request),
        "max_replies": max(replies_per_request, default=0),
        "multi_reply_requests": sum(1 for count in replies_per_request if count > 1),
        "macs": sorted(macs),
        "longest_silence_ms": round(longest * 1000),
    }
    temporary = args.out + ".tmp"
    with open(temporary, "w") as out:
        json.dump(summary, out)
        out.write("\n")
    os.replace(temporary, args.out)


if __name__ == "__main__":
    sys.exit(main())
