#!/usr/bin/env python3
"""Probe stream for failover measurements: sends "SEQ TAG" UDP datagrams every --interval seconds
to the external host (until --seconds pass or SIGTERM), and with --analyze reads the external
host's probe log and reports what arrived: the longest gap, lost probes, and every source IP
seen."""
import argparse
import signal
import socket
import sys
import time


def send(target, port, interval, seconds, tag, fresh_socket=False):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    deadline = time.monotonic() + seconds
    seq = 0
    next_send = time.monotonic()
    # SIGTERM ends the stream early, still printing how many probes were sent.
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    while time.monotonic() < deadline and not stopping:
        try:
            if fresh_socket:  # a new source port: each probe is a new connection to conntrack
                sock.close()
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                # Ports in sequence, not the kernel's random pick: a random port can repeat one
                # used seconds ago, and conntrack would then reuse that old entry and its NAT.
                try:
                    sock.bind(("", 20000 + seq % 40000))
                except OSError:
                    pass
            sock.sendto(f"{seq} {tag}".encode(), (target, port))
        except OSError:
            pass  # no route for a moment: the probe is lost, which is what we measure
        seq += 1
        next_send += interval
        time.sleep(max(0.0, next_send - time.monotonic()))
    print(seq)


def analyze(log, tag):
    arrivals = []
    sources = {}
    with open(log) as lines:
        for line in lines:
            parts = line.split()
            if len(parts) < 4 or parts[3] != tag:
                continue
            arrivals.append((int(parts[0]), int(parts[2])))
            sources[parts[1]] = sources.get(parts[1], 0) + 1
    arrivals.sort()
    gap_ms = 0.0
    for (t0, _), (t1, _) in zip(arrivals, arrivals[1:]):
        gap_ms = max(gap_ms, (t1 - t0) / 1e6)
    seqs = sorted(s for _, s in arrivals)
    lost = (seqs[-1] - seqs[0] + 1 - len(set(seqs))) if seqs else 0
    print(f"received={len(arrivals)} lost={lost} max_gap_ms={gap_ms:.0f} sources={sources}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", default="10.10.3.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--interval", type=float, default=0.01)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--tag", default="probe")
    parser.add_argument("--analyze", metavar="PROBE_LOG")
    parser.add_argument("--fresh-socket", action="store_true",
                        help="send each probe from a new socket (new source port), so that every "
                        "probe shows the datapath's current decision, not an old conntrack entry")
    args = parser.parse_args()
    if args.analyze:
        analyze(args.analyze, args.tag)
    else:
        send(args.target, args.port, args.interval, args.seconds, args.tag, args.fresh_socket)


if __name__ == "__main__":
    sys.exit(main())
