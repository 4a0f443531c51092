#!/usr/bin/env python3
"""Service proxy measurements in a lab of its own (tools/bench services), on real packets.

  - TCP throughput (iperf3) from a pod to a ClusterIP, against the same pod to the backend's pod
    IP (the baseline; target >= 0.9x);
  - new TCP connections per second through the ClusterIP, against direct (target >= 0.8x);
  - endpoint removal to effect: a backend's Ready condition turns False until the client node's
    select group no longer holds it, p50 and p99;
  - availability: the longest gap of a 10 ms connection stream to a ClusterIP while one of its two
    backends is deleted, and while the client node's agent is killed and restarted.
Prints `BENCH services.KEY=VALUE` lines. The lab is torn down at the end, also on failure.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from egress_measure import Lab, MeasureError, percentile, wait_until  # noqa: E402

CONNECT_LOOP = r"""
import socket, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
done = failed = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect((host, port))
        s.recv(16)
        done += 1
    except OSError:
        failed += 1
    finally:
        s.close()
print(done, failed)
"""

# New connections every 10 ms for `seconds`; prints the longest stretch without an answered one
# (ms) and how many failed. What a client of the Service notices during a fault.
STREAM = r"""
import socket, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
failed = 0
last_ok = start = time.monotonic()
gap = 0.0
while time.monotonic() - start < seconds:
    s = socket.socket()
    s.settimeout(0.2)
    try:
        s.connect((host, port))
        s.recv(16)
        now = time.monotonic()
        gap = max(gap, now - last_ok)
        last_ok = now
    except OSError:
        failed += 1
    finally:
        s.close()
    time.sleep(0.01)
gap = max(gap, time.monotonic() - last_ok)
print(f"{gap * 1000:.0f} {failed}")
"""

ACCEPT_LOOP = r"""
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", int(sys.argv[1])))
server.listen(512)
while True:
    conn, _ = server.accept()
    conn.sendall(b"ok\n")
    conn.close()
"""


def service_yaml(name, selector, port, target):
    return json.dumps({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": selector,
                 "ports": [{"name": "tcp", "port": port, "targetPort": target,
                            "protocol": "TCP"}]}})


class ServicesBench:
    def __init__(self, lab, quick):
        self.lab = lab
        self.quick = quick

    def cluster_ip(self, name):
        return wait_until(f"a ClusterIP for {name}", 20, lambda: self.lab.kubectl(
            "get", "svc", name, "-o", "jsonpath={.spec.clusterIP}", check=False))

    def group_holds(self, node, ip):
        """Whether node's select groups hold the endpoint (buckets load it in hex: 0xaf40302->)."""
        out = self.lab.run("node-exec", node, "--", "ovs-ofctl", "-O", "OpenFlow15",
                           "dump-groups", "br-int", check=False)
        packed = int.from_bytes(bytes(int(octet) for octet in ip.split(".")), "big")
        return f"{packed:#x}->" in out

    def iperf_mbps(self, client, server_netns, target, seconds):
        server = self.lab.spawn(["ip", "netns", "exec", server_netns, "iperf3", "-s", "-1",
                                 "-p", "5201"])
        wait_until("iperf3 server", 10, lambda: ":5201" in self.lab.in_netns(
            server_netns, "ss", "-ltn", check=False))
        out = self.lab.in_netns(client, "iperf3", "-c", target, "-p", "5201", "-t",
                                str(seconds), "-J", timeout=seconds + 30)
        self.lab.stop(server)
        return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e6

    def answers(self, client, target, port):
        out = self.lab.in_netns(client, "python3", "-c", CONNECT_LOOP, target, str(port), "0.2",
                                check=False).split()
        return len(out) == 2 and int(out[0]) > 0

    def connections_per_second(self, client, target, port, seconds):
        out = self.lab.in_netns(client, "python3", "-c", CONNECT_LOOP, target, str(port),
                                str(seconds), timeout=seconds + 30)
        done, failed = (int(x) for x in out.split())
        if failed:
            raise MeasureError(f"{failed} of {done + failed} connections to {target} failed")
        return done / seconds

    def throughput(self):
        seconds = 3 if self.quick else 8
        self.lab.run("pod", "add", "tp-client", "--node", "node01")
        server_ip = self.lab.run("pod", "add", "tp-server", "--node", "node02", "--labels",
                                 "app=tp-server")
        self.lab.run("kubectl", "--", "apply", "-f", "-",
                     stdin=service_yaml("tp", {"app": "tp-server"}, 5201, 5201))
        cluster_ip = self.cluster_ip("tp")
        wait_until("the tp Service in node01's groups", 20,
                   lambda: self.group_holds("node01", server_ip))
        client = self.lab.pod_netns("tp-client")
        server = self.lab.pod_netns("tp-server")
        direct = self.iperf_mbps(client, server, server_ip, seconds)
        via_service = self.iperf_mbps(client, server, cluster_ip, seconds)
        print(f"BENCH services.tcp_direct_mbps={direct:.0f}")
        print(f"BENCH services.tcp_clusterip_mbps={via_service:.0f}")
        print(f"BENCH services.tcp_ratio={via_service / direct:.2f} (target >= 0.9)")

        acceptor = self.lab.spawn(["ip", "netns", "exec", server, "python3", "-c", ACCEPT_LOOP,
                                   "5301"])
        self.lab.run("kubectl", "--", "apply", "-f", "-",
                     stdin=service_yaml("cps", {"app": "tp-server"}, 80, 5301))
        cps_ip = self.cluster_ip("cps")
        wait_until("the cps Service to answer", 20, lambda: self.answers(client, cps_ip, 80))
        cps_direct = self.connections_per_second(client, server_ip, 5301, seconds)
        cps_service = self.connections_per_second(client, cps_ip, 80, seconds)
        self.lab.stop(acceptor)
        print(f"BENCH services.cps_direct={cps_direct:.0f}")
        print(f"BENCH services.cps_clusterip={cps_service:.0f}")
        print(f"BENCH services.cps_ratio={cps_service / cps_direct:.2f} (target >= 0.8)")

    def set_ready(self, pod, ready):
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        status = "True" if ready else "False"
        patch = {"status": {"conditions": [
            {"type": "Ready", "status": status, "lastTransitionTime": now},
            {"type": "ContainersReady", "status": status, "lastTransitionTime": now}]}}
        self.lab.kubectl("patch", "pod", pod, "--subresource=status", "--type=strategic",
                         "-p", json.dumps(patch))

    def endpoint_removal(self):
        trials = 8 if self.quick else 30
        keep_ip = self.lab.run("pod", "add", "rm-keep", "--node", "node02", "--labels", "app=rm")
        flip_ip = self.lab.run("pod", "add", "rm-flip", "--node", "node03", "--labels", "app=rm")
        self.lab.run("kubectl", "--", "apply", "-f", "-",
                     stdin=service_yaml("rm", {"app": "rm"}, 80, 8080))
        self.cluster_ip("rm")
        wait_until("both rm endpoints in node01's group", 20,
                   lambda: self.group_holds("node01", keep_ip) and
                   self.group_holds("node01", flip_ip))
        samples = []
        for _ in range(trials):
            start = time.monotonic()
            self.set_ready("rm-flip", False)
            wait_until("the endpoint to leave the group", 10,
                       lambda: not self.group_holds("node01", flip_ip), interval=0.002)
            samples.append((time.monotonic() - start) * 1000)
            self.set_ready("rm-flip", True)
            wait_until("the endpoint to come back", 10,
                       lambda: self.group_holds("node01", flip_ip), interval=0.01)
        print(f"BENCH services.endpoint_removal_ms_p50={percentile(samples, 50):.0f}")
        print(f"BENCH services.endpoint_removal_ms_p99={percentile(samples, 99):.0f}")


    def availability(self):
        """Longest gap of a 10 ms connection stream to a ClusterIP while (a) one of its two
        backends is deleted and (b) the client node's agent is killed and restarted."""
        client = self.lab.pod_netns("tp-client")
        ips = [self.lab.run("pod", "add", f"av-{i}", "--node", node, "--labels", "app=av")
               for i, node in ((1, "node02"), (2, "node03"))]
        acceptors = [self.lab.spawn(["ip", "netns", "exec", self.lab.pod_netns(f"av-{i}"),
                                     "python3", "-c", ACCEPT_LOOP, "5401"]) for i in (1, 2)]
        self.lab.run("kubectl", "--", "apply", "-f", "-",
                     stdin=service_yaml("av", {"app": "av"}, 80, 5401))
        av_ip = self.cluster_ip("av")
        wait_until("both av endpoints in node01's group", 20,
                   lambda: all(self.group_holds("node01", ip) for ip in ips))
        for fault, action in (("backend_delete", ("pod", "del", "av-2")),
                              ("agent_restart", ("node", "agent-restart", "node01"))):
            stream = subprocess.Popen(["ip", "netns", "exec", client, "python3", "-c", STREAM,
                                       av_ip, "80", "4"], stdout=subprocess.PIPE, text=True)
            time.sleep(1)  # the fault lands a second into the 4 s stream
            self.lab.run(*action)
            out, _ = stream.communicate(timeout=30)
            gap, failed = out.split()
            print(f"BENCH services.{fault}_gap_ms={gap} failed_connections={failed}")
        for acceptor in acceptors:
            self.lab.stop(acceptor)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials, shorter runs")
    parser.add_argument("--name", default=f"bs{os.getpid() % 100000}")
    args = parser.parse_args()
    build = os.environ.get("SLUICE_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
    lab = Lab(args.name, build)
    try:
        lab.run("up", "--nodes", "3", timeout=300)
        bench = ServicesBench(lab, args.quick)
        bench.throughput()
        bench.endpoint_removal()
        bench.availability()
    except (MeasureError, subprocess.TimeoutExpired) as error:
        print(f"services_measure: {error}", file=sys.stderr)
        return 1
    finally:
        lab.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
