#!/usr/bin/env python3
"""End-to-end check of the lab's Service support in a lab of its own (run as root):
  tools/lab/services_check.py [--name NAME] [--keep]

Brings up a 2-node lab and checks, each with a deadline: default routes on every host; the
EndpointSlice controller (pods join, readiness, deletion); cluster DNS from a pod (against the
coredns-0 pod IP, since nothing serves 10.96.0.10 without a Service proxy); the pod test servers
(HTTP and UDP); kube-proxy's rules (structure, idempotence, --clear); cleanup by `down`.
Exits 1 at the first failed check, naming it.
"""
import argparse
import json
import os
import random
import socket
import subprocess
import sys
import time

kTool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sluice-lab")


class Failed(Exception):
    pass


class Lab:
    def __init__(self, name):
        self.name = name

    def run(self, *args, check=True, stdin=None):
        result = subprocess.run([kTool, "--name", self.name, *args], input=stdin, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise Failed(f"sluice-lab {' '.join(args)} failed ({result.returncode}): {result.stderr}{result.stdout}")
        return result

    def kubectl_json(self, *args):
        return json.loads(self.run("kubectl", "--", *args, "-o", "json").stdout)


def wait_for(what, condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(0.02)
    raise Failed(f"timed out after {seconds}s waiting for {what} (last: {last!r})")


def check(label, ok, detail=""):
    if not ok:
        raise Failed(f"{label}: {detail}")
    print(f"ok  {label}")


def slice_endpoints(lab, service):
    items = lab.kubectl_json("get", "endpointslices", "-l", f"kubernetes.io/service-name={service}")["items"]
    return {e["targetRef"]["name"]: e["conditions"] for s in items for e in (s.get("endpoints") or [])}


def run_checks(lab):
    lab.run("up", "--nodes", "2")
    for host in ("cp", "ext", "node01", "node02"):
        routes = subprocess.run(["ip", "-n", f"{lab.name}-{host}", "route", "show", "default"], capture_output=True, text=True).stdout
        check(f"default route on {host}", "via 10.10.255.254" in routes, routes)
    forward = subprocess.run(["ip", "netns", "exec", f"{lab.name}-ul", "sysctl", "-n", "net.ipv4.ip_forward"], capture_output=True, text=True).stdout.strip()
    check("the underlay gateway does not forward", forward == "0", forward)

    ips = {pod: lab.run("pod", "add", pod, "--node", node, *(["--labels", "app=web"] if pod != "client" else [])).stdout.strip()
           for pod, node in (("web-1", "node01"), ("web-2", "node02"), ("client", "node02"))}
    for pod in ("web-1", "web-2"):
        lab.run("serve", pod, "--udp", "9000")
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}, {"name": "echo", "port": 9000, "protocol": "UDP"}]}}
    lab.run("kubectl", "--", "apply", "-f", "-", stdin=json.dumps(service))
    cluster_ip = lab.kubectl_json("get", "svc", "web")["spec"]["clusterIP"]
    wait_for("web-1 and web-2 ready in the EndpointSlice",
             lambda: all(slice_endpoints(lab, "web").get(p, {}).get("ready") for p in ("web-1", "web-2")))
    print("ok  EndpointSlice lists web-1 and web-2")

    resolv = lab.run("exec", "client", "--", "cat", "/etc/resolv.conf").stdout
    check("kubelet's resolv.conf in the pod", resolv == "search default.svc.cluster.local svc.cluster.local cluster.local\n"
          "nameserver 10.96.0.10\noptions ndots:5\n", resolv)
    dns = lab.run("pod", "ip", "kube-system/coredns-0").stdout.strip()
    answer = wait_for("web.default.svc.cluster.local in DNS", lambda: lab.run(
        "dns-query", "client", "web.default.svc.cluster.local", "--server", dns, check=False).stdout)
    check("DNS answers the ClusterIP", f"A {cluster_ip}" in answer, answer)
    tcp = lab.run("dns-query", "client", "kube-dns.kube-system.svc.cluster.local", "--server", dns, "--tcp").stdout
    check("DNS over TCP", "A 10.96.0.10" in tcp, tcp)
    check("unknown cluster name: NXDOMAIN", lab.run("dns-query", "client", "nope.default.svc.cluster.local", "--server", dns, check=False).returncode == 1)
    check("other names: REFUSED (no upstream)", "REFUSED" in lab.run("dns-query", "client", "example.com", "--server", dns, check=False).stdout)

    body = lab.run("exec", "client", "--", "curl", "-s", "--max-time", "5", f"http://{ips['web-1']}/").stdout
    check("HTTP test server answers with the pod name", body == "web-1\n", body)
    udp = lab.run("exec", "client", "--", "python3", "-c",
                  "import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(3); "
                  f"s.sendto(b'x',('{ips['web-2']}',9000)); print(s.recvfrom(100)[0].decode(),end='')").stdout
    check("UDP echo answers with the pod name", udp == "web-2\n", udp)

    started = time.monotonic()
    lab.run("pod", "ready", "web-2", "false")
    # Each poll is a kubectl run (~0.2 s here); the controller's own latency (ms) is asserted in
    # tools/apiserver/test/services.test.js.
    wait_for("web-2 not ready in the slice", lambda: slice_endpoints(lab, "web").get("web-2", {}).get("ready") is False, 3.0)
    print(f"ok  readiness reached the slice in {time.monotonic() - started:.2f}s (including kubectl)")

    lab.run("kube-proxy", "sync", "node01")
    first = lab.run("node-exec", "node01", "--", "iptables-save").stdout
    check("kube-proxy: kubernetes Service chain", "KUBE-SVC-NPX46M4PTMTKRN6Y" in first)
    check("kube-proxy: DNAT to the ready endpoint only", f"--to-destination {ips['web-1']}:80" in first and f"--to-destination {ips['web-2']}:80" not in first)
    check("kube-proxy: masquerade", "-j MASQUERADE --random-fully" in first and "--set-xmark 0x4000/0x4000" in first)
    # Real packets through the rules: the node's own (host-network) traffic passes its iptables;
    # pod traffic does not (it stays in OVS) until the agent has a proxy-off mode.
    body = lab.run("node-exec", "node01", "--", "curl", "-s", "--max-time", "5", f"http://{cluster_ip}/", check=False).stdout
    check("kube-proxy rules: node01 reaches the ClusterIP's ready endpoint", body == "web-1\n", body)
    dns_answer = lab.run("node-exec", "node01", "--", "python3", os.path.join(os.path.dirname(os.path.abspath(__file__)), "dnsq.py"),
                         "--server", "10.96.0.10", "web.default.svc.cluster.local", check=False).stdout
    check("kube-proxy rules: node01 resolves through kube-dns's ClusterIP 10.96.0.10", f"A {cluster_ip}" in dns_answer, dns_answer)
    lab.run("kube-proxy", "sync", "node01")
    again = lab.run("node-exec", "node01", "--", "iptables-save").stdout
    strip = lambda text: [l for l in text.splitlines() if not l.startswith("#")]  # noqa: E731
    check("kube-proxy: a re-sync changes nothing", strip(first) == strip(again))
    lab.run("kube-proxy", "clear", "node01")
    check("kube-proxy: --clear removes every KUBE chain", "KUBE-" not in lab.run("node-exec", "node01", "--", "iptables-save").stdout)

    lab.run("pod", "del", "web-1")
    wait_for("web-1 gone from the slice", lambda: "web-1" not in slice_endpoints(lab, "web"), 3.0)
    pids = os.listdir(f"/run/sluice-lab/{lab.name}/pids")
    check("pod del stops the pod's test server", not any(p.startswith("pod.default.web-1.") for p in pids), pids)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default=f"svc{random.randrange(10000):04d}")
    parser.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    args = parser.parse_args()
    lab = Lab(args.name)
    try:
        run_checks(lab)
    except Failed as err:
        print(f"FAIL {err}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            lab.run("down", check=False)
            leftovers = [d for d in os.listdir("/etc/netns") if d.startswith(f"{args.name}-")] if os.path.isdir("/etc/netns") else []
            if leftovers:
                print(f"FAIL down left /etc/netns entries: {leftovers}", file=sys.stderr)
                return 1
    print("all service checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
