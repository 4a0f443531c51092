#!/usr/bin/env python3
"""A long-lived TCP connection for failover tests: connects to the external host's echo port from a
fixed local port (so a capture can pick its packets out), then sends a numbered line every
--interval seconds and waits for each echo. Prints one line of JSON: what the server first saw as
the source, lines sent and echoed, the longest stall, and the error that ended it, if any. The
exit status is 0 only if the same connection carried every line."""
import argparse
import json
import socket
import sys
import time


def run(args):
    result = {"source": "", "sent": 0, "echoed": 0, "max_stall_ms": 0, "error": None}
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("0.0.0.0", args.local_port))
        sock.settimeout(args.timeout)
        sock.connect((args.target, args.port))
        reader = sock.makefile("r")
        result["source"] = reader.readline().strip()
        if args.ready:
            open(args.ready, "w").write(result["source"] + "\n")
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            started = time.monotonic()
            sock.sendall(f"line {result['sent']}\n".encode())
            result["sent"] += 1
            echo = reader.readline()
            if not echo:
                raise ConnectionError("the server closed the connection")
            result["echoed"] += 1
            stall = (time.monotonic() - started) * 1000
            result["max_stall_ms"] = max(result["max_stall_ms"], round(stall))
            time.sleep(max(0.0, args.interval - (time.monotonic() - started)))
    except (OSError, ConnectionError) as error:
        result["error"] = f"{type(error).__name__}: {error}"
    finally:
        sock.close()
    print(json.dumps(result))
    return 0 if result["error"] is None and result["sent"] == result["echoed"] else 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", default="10.10.3.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--local-port", type=int, default=40000)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--timeout", type=float, default=15, help="per line, covers retransmits")
    parser.add_argument("--ready", help="write the first line (source seen) here once connected")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
