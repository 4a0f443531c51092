#!/usr/bin/env python3
"""Cluster DNS records for the lab: watches Services and EndpointSlices on the lab API server
and writes a hosts file for dnsmasq (--hostsdir re-reads it on change), as CoreDNS's kubernetes
plugin would answer:
  NAME.NS.svc.cluster.local -> the ClusterIP; for a headless Service, its ready endpoints' IPs.

Usage: dns_hosts.py --kubeconfig FILE --out DIR/cluster.hosts [--tag STATE]
Watch-based: each watch event triggers a re-list and a rewrite (atomic rename), so a new Service
resolves within milliseconds. The watch is re-opened whenever it ends.
"""
import argparse
import json
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labapi import Api  # noqa: E402

kDomain = "cluster.local"


def records(services, slices):
    """The hosts-file lines: one per (IP, name)."""
    by_service = {}
    for s in slices:
        labels = s["metadata"].get("labels") or {}
        name = labels.get("kubernetes.io/service-name")
        if name:
            by_service.setdefault((s["metadata"]["namespace"], name), []).append(s)
    lines = []
    for svc in services:
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        fqdn = f"{name}.{ns}.svc.{kDomain}"
        cluster_ip = (svc.get("spec") or {}).get("clusterIP")
        if cluster_ip and cluster_ip != "None":
            lines.append(f"{cluster_ip} {fqdn}")
            continue
        for s in by_service.get((ns, name), []):
            for endpoint in s.get("endpoints") or []:
                if (endpoint.get("conditions") or {}).get("ready") is False:
                    continue
                for address in endpoint.get("addresses") or []:
                    lines.append(f"{address} {fqdn}")
    return sorted(set(lines))


def write_atomic(path, text):
    directory = os.path.dirname(path)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".hosts-")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(temp, 0o644)
    os.rename(temp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--tag", default="", help="ignored; identifies the lab that started it")
    args = parser.parse_args()
    api = Api(args.kubeconfig)
    changed = threading.Event()
    paths = {"svc": "/api/v1/services", "slices": "/apis/discovery.k8s.io/v1/endpointslices"}
    versions = {}

    def sync():
        services = api.get(paths["svc"])
        slices = api.get(paths["slices"])
        versions["svc"] = services["metadata"]["resourceVersion"]
        versions["slices"] = slices["metadata"]["resourceVersion"]
        text = "".join(line + "\n" for line in records(services["items"], slices["items"]))
        previous = open(args.out).read() if os.path.exists(args.out) else None
        if text != previous:
            write_atomic(args.out, text)

    def watcher(kind):
        while True:
            try:
                api.watch(paths[kind], versions.get(kind, "0"), changed.set)
            except Exception as err:  # the API server restarts in some tests: retry
                sys.stderr.write(f"dns_hosts: watch {kind}: {err}\n")
                time.sleep(0.5)
            changed.set()

    while True:
        try:
            sync()
            break
        except Exception as err:
            sys.stderr.write(f"dns_hosts: initial sync: {err}\n")
            time.sleep(0.5)
    for kind in paths:
        threading.Thread(target=watcher, args=(kind,), daemon=True).start()
    while True:
        changed.wait()
        changed.clear()
        try:
            sync()
        except Exception as err:
            sys.stderr.write(f"dns_hosts: sync: {err}\n")
            time.sleep(0.5)
            changed.set()


if __name__ == "__main__":
    main()
