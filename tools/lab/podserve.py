#!/usr/bin/env python3
"""A test server for a lab pod: HTTP on --port answering every GET with the pod's name, and
optionally a UDP echo on --udp PORT answering every datagram with the pod's name.

Started by `sluice-lab serve` inside the pod's network namespace, so the reply says which
endpoint a Service sent the request to. --tag carries the lab's state path so the lab can
recognise its own process before stopping it by PID.
"""
import argparse
import http.server
import socket
import socketserver
import sys
import threading


def http_handler(body):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            payload = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, fmt, *args):  # one line per request on stderr (the serve log)
            sys.stderr.write("%s %s\n" % (self.client_address[0], fmt % args))

    return Handler


class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve_udp(port, body):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))
    while True:
        _, peer = sock.recvfrom(65535)
        sock.sendto(body.encode(), peer)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True, help="the pod's name, sent as the reply")
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--udp", type=int, default=0, help="also echo the name on this UDP port")
    parser.add_argument("--tag", default="", help="ignored; identifies the lab that started it")
    args = parser.parse_args()
    body = f"{args.name}\n"
    if args.udp:
        threading.Thread(target=serve_udp, args=(args.udp, body), daemon=True).start()
    server = ThreadingServer(("0.0.0.0", args.port), http_handler(body))
    sys.stderr.write(f"podserve: {args.name} on tcp/{args.port}" + (f" udp/{args.udp}" if args.udp else "") + "\n")
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
