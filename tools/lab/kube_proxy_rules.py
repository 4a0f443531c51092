#!/usr/bin/env python3
"""kube-proxy's iptables rules for one lab node, as kube-proxy (iptables mode, v1.32) writes them.

Run inside the node's netns (`sluice-lab kube-proxy sync|clear NODE`):
  kube_proxy_rules.py --kubeconfig FILE --node NODE [--cluster-cidr 10.244.0.0/16] [--clear] [--dry-run]

One sync reads every Service and EndpointSlice and replaces the KUBE-* chains with
`iptables-restore --noflush` (declaring a chain flushes it; chains no longer needed are deleted),
so it is idempotent. The structure is kube-proxy's:
  nat:    PREROUTING/OUTPUT -> KUBE-SERVICES -> KUBE-SVC-<hash> (! -s CLUSTER_CIDR -> KUBE-MARK-MASQ;
          -m statistic --mode random --probability 1/n per endpoint) -> KUBE-SEP-<hash>
          (-s EP -> KUBE-MARK-MASQ hairpin; DNAT --to-destination EP:PORT); NodePorts via
          KUBE-NODEPORTS -> KUBE-EXT-<hash>; POSTROUTING -> KUBE-POSTROUTING (MASQUERADE
          --random-fully what KUBE-MARK-MASQ marked 0x4000).
  filter: services without endpoints REJECT in KUBE-SERVICES / KUBE-EXTERNAL-SERVICES; KUBE-FORWARD.
Chain hashes are kube-proxy's: base32(sha256(servicePortName + protocol [+ endpoint]))[:16].
"""
import argparse
import base64
import hashlib
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labapi import Api  # noqa: E402

kMasqMark = "0x4000"
# The jumps from the built-in chains, in kube-proxy's iptablesJumpChains order; each is inserted
# at the top (-I), so the last one listed ends up first, as on a real node.
kJumps = {
    "nat": [("OUTPUT", "kubernetes service portals", "KUBE-SERVICES", False),
            ("PREROUTING", "kubernetes service portals", "KUBE-SERVICES", False),
            ("POSTROUTING", "kubernetes postrouting rules", "KUBE-POSTROUTING", False)],
    "filter": [("INPUT", "kubernetes externally-visible service portals", "KUBE-EXTERNAL-SERVICES", True),
               ("FORWARD", "kubernetes externally visible service portals", "KUBE-EXTERNAL-SERVICES", True),
               ("INPUT", "kubernetes health check service ports", "KUBE-NODEPORTS", False),
               ("FORWARD", "kubernetes service portals", "KUBE-SERVICES", True),
               ("OUTPUT", "kubernetes service portals", "KUBE-SERVICES", True),
               ("FORWARD", "kubernetes forwarding rules", "KUBE-FORWARD", False),
               ("INPUT", "kubernetes load balancer firewall", "KUBE-PROXY-FIREWALL", True),
               ("OUTPUT", "kubernetes load balancer firewall", "KUBE-PROXY-FIREWALL", True),
               ("FORWARD", "kubernetes load balancer firewall", "KUBE-PROXY-FIREWALL", True)],
}
kFixedNat = ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]
kFixedFilter = ["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL"]


def port_proto_hash(*parts):
    digest = hashlib.sha256("".join(parts).encode()).digest()
    return base64.b32encode(digest).decode()[:16]


def comment(text):
    return f'-m comment --comment "{text}"'


class ServicePort:
    """One (Service, port) as kube-proxy sees it, with its ready endpoints "IP:PORT"."""

    def __init__(self, svc, port, endpoints):
        meta, spec = svc["metadata"], svc["spec"]
        self.name = f"{meta['namespace']}/{meta['name']}" + (f":{port['name']}" if port.get("name") else "")
        self.protocol = port.get("protocol", "TCP").lower()
        self.cluster_ip = spec.get("clusterIP")
        self.port = port["port"]
        self.node_port = port.get("nodePort") if spec.get("type") in ("NodePort", "LoadBalancer") else None
        self.affinity = spec.get("sessionAffinity") == "ClientIP"
        self.affinity_seconds = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds", 10800)
        self.endpoints = sorted(endpoints)
        hashed = port_proto_hash(self.name, self.protocol)
        self.svc_chain = f"KUBE-SVC-{hashed}"
        self.ext_chain = f"KUBE-EXT-{hashed}"

    def sep_chain(self, endpoint):
        return "KUBE-SEP-" + port_proto_hash(self.name, self.protocol, endpoint)

    def match(self, dport):
        return f"-p {self.protocol} -m {self.protocol} --dport {dport}"


def endpoints_for(svc, port, slices):
    """Ready endpoints of one Service port (kube-proxy falls back to serving+terminating ones)."""
    name = svc["metadata"]["name"]
    ready, serving = [], []
    for s in slices:
        labels = s["metadata"].get("labels") or {}
        if s["metadata"]["namespace"] != svc["metadata"]["namespace"] or labels.get("kubernetes.io/service-name") != name:
            continue
        if s.get("addressType") != "IPv4":
            continue
        slice_port = next((p for p in s.get("ports") or [] if (p.get("name") or "") == (port.get("name") or "")
                           and p.get("protocol", "TCP") == port.get("protocol", "TCP")), None)
        if not slice_port or not slice_port.get("port"):
            continue
        for endpoint in s.get("endpoints") or []:
            conditions = endpoint.get("conditions") or {}
            target = f"{endpoint['addresses'][0]}:{slice_port['port']}"
            if conditions.get("ready") is not False:
                ready.append(target)
            elif conditions.get("serving") and conditions.get("terminating"):
                serving.append(target)
    return sorted(set(ready)) or sorted(set(serving))


def service_ports(services, slices):
    out = []
    for svc in services:
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName" or spec.get("clusterIP") in (None, "", "None"):
            continue
        for port in spec.get("ports") or []:
            out.append(ServicePort(svc, port, endpoints_for(svc, port, slices)))
    return out


def nat_rules(ports, cluster_cidr):
    chains, rules = list(kFixedNat), []
    rules += [
        f"-A KUBE-POSTROUTING -m mark ! --mark {kMasqMark}/{kMasqMark} -j RETURN",
        f"-A KUBE-POSTROUTING -j MARK --xor-mark {kMasqMark}",
        f"-A KUBE-POSTROUTING {comment('kubernetes service traffic requiring SNAT')} -j MASQUERADE --random-fully",
        f"-A KUBE-MARK-MASQ -j MARK --or-mark {kMasqMark}",
    ]
    for sp in ports:
        if not sp.endpoints:
            continue
        chains.append(sp.svc_chain)
        rules.append(f"-A KUBE-SERVICES -d {sp.cluster_ip}/32 {comment(sp.name + ' cluster IP')} {sp.match(sp.port)} -j {sp.svc_chain}")
        rules.append(f"-A {sp.svc_chain} ! -s {cluster_cidr} -d {sp.cluster_ip}/32 {comment(sp.name + ' cluster IP')} {sp.match(sp.port)} -j KUBE-MARK-MASQ")
        if sp.node_port:
            chains.append(sp.ext_chain)
            rules.append(f"-A KUBE-NODEPORTS {comment(sp.name)} {sp.match(sp.node_port)} -j {sp.ext_chain}")
            rules.append(f"-A {sp.ext_chain} {comment('masquerade traffic for ' + sp.name + ' external destinations')} -j KUBE-MARK-MASQ")
            rules.append(f"-A {sp.ext_chain} -j {sp.svc_chain}")
        if sp.affinity:
            for endpoint in sp.endpoints:
                sep = sp.sep_chain(endpoint)
                rules.append(f"-A {sp.svc_chain} {comment(sp.name + ' -> ' + endpoint)} -m recent --name {sep} --mask 255.255.255.255 --rsource --rcheck --seconds {sp.affinity_seconds} --reap -j {sep}")
        count = len(sp.endpoints)
        for i, endpoint in enumerate(sp.endpoints):
            sep = sp.sep_chain(endpoint)
            chains.append(sep)
            probability = "" if i == count - 1 else f" -m statistic --mode random --probability {1.0 / (count - i):0.10f}"
            rules.append(f"-A {sp.svc_chain} {comment(sp.name + ' -> ' + endpoint)}{probability} -j {sep}")
            ip = endpoint.rsplit(":", 1)[0]
            rules.append(f"-A {sep} -s {ip}/32 {comment(sp.name)} -j KUBE-MARK-MASQ")
            recent = f" -m recent --set --name {sep} --mask 255.255.255.255 --rsource" if sp.affinity else ""
            rules.append(f"-A {sep} -p {sp.protocol} {comment(sp.name)}{recent} -m {sp.protocol} -j DNAT --to-destination {endpoint}")
    rules.append(f"-A KUBE-SERVICES {comment('kubernetes service nodeports; NOTE: this must be the last rule in this chain')} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")
    return chains, rules


def filter_rules(ports):
    rules = [
        "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
        f"-A KUBE-FORWARD {comment('kubernetes forwarding rules')} -m mark --mark {kMasqMark}/{kMasqMark} -j ACCEPT",
        f"-A KUBE-FORWARD {comment('kubernetes forwarding conntrack rule')} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    ]
    for sp in ports:
        if sp.endpoints:
            continue
        reject = "-j REJECT --reject-with icmp-port-unreachable"
        rules.append(f"-A KUBE-SERVICES -d {sp.cluster_ip}/32 {comment(sp.name + ' has no endpoints')} {sp.match(sp.port)} {reject}")
        if sp.node_port:
            rules.append(f"-A KUBE-EXTERNAL-SERVICES {comment(sp.name + ' has no endpoints')} -m addrtype --dst-type LOCAL {sp.match(sp.node_port)} {reject}")
    return list(kFixedFilter), rules


def existing_kube_chains(table):
    out = subprocess.run(["iptables-save", "-t", table], check=True, capture_output=True, text=True).stdout
    return {line[1:].split()[0] for line in out.splitlines() if line.startswith(":KUBE-")}


def restore_text(table, chains, rules, stale):
    """The iptables-restore input: declared chains are flushed; stale ones flushed and deleted."""
    lines = [f"*{table}"] + [f":{c} - [0:0]" for c in dict.fromkeys(chains)] + [f":{c} - [0:0]" for c in sorted(stale)]
    lines += rules + [f"-X {c}" for c in sorted(stale)] + ["COMMIT", ""]
    return "\n".join(lines)


def jump_args(text, target, new_only):
    return (["-m", "conntrack", "--ctstate", "NEW"] if new_only else []) + ["-m", "comment", "--comment", text, "-j", target]


def ensure_jumps(table):
    """The jumps from the built-in chains, inserted at the top once (kube-proxy's EnsureRule)."""
    for chain, text, target, new_only in kJumps[table]:
        args = jump_args(text, target, new_only)
        if subprocess.run(["iptables", "-w", "-t", table, "-C", chain] + args, capture_output=True).returncode != 0:
            subprocess.run(["iptables", "-w", "-t", table, "-I", chain] + args, check=True)


def remove_jumps(table):
    for chain, text, target, new_only in kJumps[table]:
        args = jump_args(text, target, new_only)
        while subprocess.run(["iptables", "-w", "-t", table, "-D", chain] + args, capture_output=True).returncode == 0:
            pass


def restore(text):
    subprocess.run(["iptables-restore", "-w", "--noflush"], input=text, text=True, check=True)


def clear():
    for table in ("nat", "filter"):
        remove_jumps(table)
        chains = existing_kube_chains(table)
        if chains:
            restore(restore_text(table, [], [], chains))


def sync(api, cluster_cidr, dry_run):
    services = api.get("/api/v1/services")["items"]
    slices = api.get("/apis/discovery.k8s.io/v1/endpointslices")["items"]
    ports = service_ports(services, slices)
    texts = {}
    for table, (chains, rules) in (("nat", nat_rules(ports, cluster_cidr)), ("filter", filter_rules(ports))):
        stale = set() if dry_run else existing_kube_chains(table) - set(chains)
        texts[table] = restore_text(table, chains, rules, stale)
    if dry_run:
        sys.stdout.write("".join(texts.values()))
        return
    for table, text in texts.items():
        # Chains first (restore), then the jumps into them: a jump to a missing chain would fail.
        restore(text)
        ensure_jumps(table)
    print(f"kube-proxy rules: {sum(1 for p in ports if p.endpoints)} service ports with endpoints, "
          f"{sum(1 for p in ports if not p.endpoints)} without")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--node", required=True, help="the node the rules are for (for messages)")
    parser.add_argument("--cluster-cidr", default="10.244.0.0/16")
    parser.add_argument("--clear", action="store_true", help="remove every KUBE-* chain and jump")
    parser.add_argument("--dry-run", action="store_true", help="print the iptables-restore input only")
    args = parser.parse_args()
    try:
        if args.clear:
            clear()
            print(f"kube-proxy rules cleared on {args.node}")
        else:
            sync(Api(args.kubeconfig), args.cluster_cidr, args.dry_run)
    except subprocess.CalledProcessError as err:
        sys.exit(f"kube_proxy_rules: {' '.join(err.cmd)} failed on {args.node} (exit {err.returncode}); "
                 "is iptables-nft installed and are you in the node's netns?")


if __name__ == "__main__":
    main()
