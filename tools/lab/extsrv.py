#!/usr/bin/env python3
"""The lab's external host: shows which source IP arrives.

TCP :8080 answers every connection with the peer's IP and keeps the connection open for
"hold" requests (long-lived TCP across failover). UDP :9000 receives probes "SEQ SENDER" and logs
"TIME_NS SRC_IP SEQ SENDER" per packet to the probe log, so tests and benchmarks can measure gaps
and wrong sources from what actually arrived here.
"""
import argparse
import os
import socket
import sys
import threading
import time


def serve_tcp(address, port, log):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((address, port))
    server.listen(128)
    while True:
        conn, peer = server.accept()
        threading.Thread(target=handle_tcp, args=(conn, peer, log), daemon=True).start()


def handle_tcp(conn, peer, log):
    log.write(f"{time.time_ns()} tcp {peer[0]}\n")
    log.flush()
    try:
        conn.settimeout(600)
        conn.sendall(f"{peer[0]}\n".encode())
        # "hold": echo lines back with the source seen, for connections that must survive.
        while True:
            data = conn.recv(4096)
            if not data:
                break
            conn.sendall(f"{peer[0]} {data.decode(errors='replace').strip()}\n".encode())
    except OSError:
        pass
    finally:
        conn.close()


def serve_udp(address, port, log):
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((address, port))
    while True:
        data, peer = server.recvfrom(2048)
        log.write(f"{time.time_ns()} {peer[0]} {data.decode(errors='replace').strip()}\n")
        log.flush()
        server.sendto(f"{peer[0]}\n".encode(), peer)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", default="0.0.0.0")
    parser.add_argument("--tcp-port", type=int, default=8080)
    parser.add_argument("--udp-port", type=int, default=9000)
    parser.add_argument("--log-dir", required=True)
    args = parser.parse_args()
    os.makedirs(args.log_dir, exist_ok=True)
    tcp_log = open(os.path.join(args.log_dir, "tcp.log"), "a", buffering=1)
    udp_log = open(os.path.join(args.log_dir, "probes.log"), "a", buffering=1)
    threading.Thread(target=serve_tcp, args=(args.address, args.tcp_port, tcp_log), daemon=True).start()
    serve_udp(args.address, args.udp_port, udp_log)


if __name__ == "__main__":
    sys.exit(main())
