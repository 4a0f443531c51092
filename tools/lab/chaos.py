#!/usr/bin/env python3
"""Fault injection in a lab of its own (tools/bench chaos, test_lab_chaos; docs/chaos.md).

While pods and Egresses/ExternalIPPools churn, it kills (SIGKILL) agents, ovs-vswitchd, the
controller's leader or standby (the lab runs 2 replicas) and the lab API server, and cuts and
heals node uplinks (both ways or one way) and the leader's host, at random from a printed seed.
It samples the lab every ~150 ms and checks, on real state and real packets:
  - dual_owner:    no egress IP has a live ARP responder (the owner's br-phy flow) on two connected nodes;
  - ipam:          no pod IP is allocated twice or leaked (each node's ipam.json against the lab's pods);
  - connectivity:  every pod reaches every pod and the external host (after settling);
  - live_node:     every Egress's IPs sit on nodes that are up and connected (after settling);
  - wrong_source:  per a tcpdump capture on the external host, no probe of a selected pod left with
                   a pod IP, a node IP or an IP not of its Egress while that Egress was assigned;
  - availability:  per fault, the longest gap in the probe streams of the stable selected pods the
                   fault counts for (not those on the faulted node itself, see counted_streams) is
                   at most 1 s, from the injection until the fault has recovered.
Per fault it also measures the time from the repair until the Egress status is consistent with the
datapath (every IP owned by exactly the node the status names). Prints each fault with a timestamp
and `BENCH chaos.*` lines. The lab is torn down at the end, also on failure, Ctrl-C or SIGTERM.
`--status-poller` is an internal mode run inside the lab's control-plane netns (the API server is
reachable only there).
"""
import argparse
import base64
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
LAB_TOOL = os.path.join(ROOT, "tools", "sluice-lab")
PROBE = os.path.join(ROOT, "tools", "lab", "probe.py")
THESIS = os.path.join(ROOT, "tests", "fixtures", "thesis")
SELF = os.path.realpath(__file__)
EXT_IP = "10.10.3.1"
NODES = ["node01", "node02", "node03", "node04"]
GATEWAYS = ["node02", "node03", "node04"]  # labelled network-role=egress-gateway
POD_NET = ipaddress.ip_network("10.244.0.0/16")
SAMPLE_INTERVAL = 0.15
PROBE_INTERVAL = 0.1
# Around an Egress's apply and delete, a selected pod may legitimately leave with its node IP.
TRANSITION_MARGIN = 1.0
# A killed agent cannot release its IPs; its node's datapath steps aside when the new owner's
# gratuitous ARP arrives, and the new owner answers ARP only once nobody else does
# (docs/egress-datapath.md, "A killed agent"). So no overlap is allowed: the bound is 0, and any
# overlap seen is measured and reported (dead_agent_overlap_max_ms) as well as counted.
STEP_ASIDE_BOUND = 0.0
# A node whose agent was dead or whose uplink was cut when an Egress changed cannot apply the
# change; it catches up this long after the outage ends (agent start, or the watch resuming).
CATCHUP_MARGIN = 3.0
FAULT_KINDS = ["agent-kill", "ovs-kill", "leader-kill", "standby-kill", "controller-cut",
               "apiserver-kill", "cut", "cut-in", "cut-out"]
FAULT_ALIASES = {"controller-kill": "leader-kill"}  # the kind's name before the lab had 2 replicas
NODE_FAULTS = {"agent-kill", "ovs-kill", "cut", "cut-in", "cut-out"}
CUT_DIRECTIONS = {"cut": "both", "cut-in": "in", "cut-out": "out"}
CONTROLLER_FAULTS = {"leader-kill", "standby-kill", "controller-cut"}
# No single fault may stop a selected pod's egress traffic for longer than this (issue 14).
AVAILABILITY_BOUND = 1.0
# The stable selected pods probe this often, so a gap is measured to 20 ms; the others every
# PROBE_INTERVAL.
SELECTED_PROBE_INTERVAL = 0.02

# The thesis's Listings 1 and 2 (applied verbatim from tests/fixtures/thesis) and a multi-IP
# Egress over two pools, as tests/lab/egress_test.cc uses.
SPREAD_YAML = """\
apiVersion: crd.antrea.io/v1beta1
kind: ExternalIPPool
metadata: {name: pool-a}
spec:
  ipRanges: [{start: 10.10.0.20, end: 10.10.0.24}]
  nodeSelector: {matchLabels: {network-role: egress-gateway}}
---
apiVersion: crd.antrea.io/v1beta1
kind: ExternalIPPool
metadata: {name: pool-b}
spec:
  ipRanges: [{start: 10.10.0.25, end: 10.10.0.29}]
  nodeSelector: {matchLabels: {network-role: egress-gateway}}
---
apiVersion: crd.antrea.io/v1beta1
kind: Egress
metadata: {name: spread}
spec:
  appliedTo: {podSelector: {matchLabels: {app: spread}}}
  externalIPPools: [pool-a, pool-b]
  destinationCIDRs: [10.10.3.0/24]
"""
# An Egress the churn never touches, so that every fault has selected pods whose Egress is
# assigned all along (the churn may leave the other two deleted for tens of seconds).
AVAIL_YAML = """\
apiVersion: crd.antrea.io/v1beta1
kind: ExternalIPPool
metadata: {name: pool-avail}
spec:
  ipRanges: [{start: 10.10.0.30, end: 10.10.0.31}]
  nodeSelector: {matchLabels: {network-role: egress-gateway}}
---
apiVersion: crd.antrea.io/v1beta1
kind: Egress
metadata: {name: avail}
spec:
  appliedTo: {podSelector: {matchLabels: {app: avail}}}
  externalIPPool: pool-avail
  destinationCIDRs: [10.10.3.0/24]
"""
THESIS_EGRESS = "egress-prod-web"
SPREAD_EGRESS = "spread"
AVAIL_EGRESS = "avail"
EGRESS_IP_COUNT = {THESIS_EGRESS: 1, SPREAD_EGRESS: 2, AVAIL_EGRESS: 1}


def live_responders(dump, own_ip):
    """The IPs a br-phy flow dump answers ARP for. The responder replies out of IN_PORT. A
    gratuitous ARP from a new owner makes the step-aside flow learn a drop for requests for the
    IP at a higher priority (the agent was dead): that responder answers nothing. The learn()
    flow itself is not a responder either."""
    responders, drops = {}, {}
    for line in dump.splitlines():
        found = re.search(r"arp_tpa=([0-9.]+)", line)
        if not found or found.group(1) == own_ip or "arp_spa=" in line:
            continue
        priority = re.search(r"priority=([0-9]+)", line)
        level = int(priority.group(1)) if priority else 32768
        ip = found.group(1)
        if "IN_PORT" in line:
            responders[ip] = max(responders.get(ip, -1), level)
        elif re.search(r"actions=drop\s*$", line):
            drops[ip] = max(drops.get(ip, -1), level)
    return {ip for ip, level in responders.items() if drops.get(ip, -1) < level}


def node_ip(node):
    return f"10.10.2.{int(node[4:])}"


class ChaosError(Exception):
    pass


class Reporter:
    """Timestamped lines on stdout (seconds since the start), safe from every thread."""

    def __init__(self):
        self.start = time.time()
        self.lock = threading.Lock()

    def say(self, text, at=None):
        with self.lock:
            print(f"[{(at or time.time()) - self.start:8.3f}s] {text}", flush=True)

    def bench(self, key, value):
        with self.lock:
            print(f"BENCH chaos.{key}={value}", flush=True)


class Lab:
    """A sluice-lab of our own, driven through tools/sluice-lab."""

    def __init__(self, name, build):
        self.name = name
        self.env = dict(os.environ, SLUICE_BUILD=build)
        self.state = f"/run/sluice-lab/{name}"
        self.children = []
        self.children_lock = threading.Lock()
        self.closing = False  # set by down(): no new children after it took the list

    def run(self, *args, timeout=90, check=True, stdin=None):
        try:
            result = subprocess.run([LAB_TOOL, "--name", self.name, *args], env=self.env,
                                    input=stdin, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            if check:
                raise ChaosError(f"sluice-lab {' '.join(args)} timed out after {timeout}s")
            return subprocess.CompletedProcess(args, 124, "", "timeout")
        if check and result.returncode != 0:
            raise ChaosError(f"sluice-lab {' '.join(args)} failed: "
                             f"{(result.stderr or result.stdout).strip()[-600:]}")
        return result

    def kubectl(self, *args, stdin=None, check=False):
        return self.run("kubectl", "--", *args, stdin=stdin, check=check, timeout=30)

    def spawn(self, command, stdout=subprocess.DEVNULL):
        with self.children_lock:
            if self.closing:
                raise ChaosError("the lab is being torn down")
            child = subprocess.Popen(command, stdout=stdout, stderr=subprocess.DEVNULL, text=True,
                                     start_new_session=True)
            self.children.append(child)
        return child

    def stop(self, child):
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        with self.children_lock:
            if child in self.children:
                self.children.remove(child)

    def down(self):
        with self.children_lock:
            self.closing = True
            children = list(self.children)
        for child in children:
            self.stop(child)
        subprocess.run([LAB_TOOL, "--name", self.name, "down"], env=self.env,
                       capture_output=True, timeout=180)

    def pods(self):
        """The lab's pods from its state dir: key "ns/name" -> {node, netns, id, ip}."""
        pods = {}
        directory = f"{self.state}/pods"
        for entry in os.listdir(directory) if os.path.isdir(directory) else []:
            try:
                with open(f"{directory}/{entry}") as state:
                    fields = dict(line.strip().split("=", 1) for line in state if "=" in line)
            except FileNotFoundError:
                continue
            namespace, name = entry.split("_", 1)
            pods[f"{namespace}/{name}"] = fields
        return pods


def wait_until(seconds, condition, interval=0.1):
    """Polls condition until it returns true or the deadline passes; returns its last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# --- the status poller (runs in the control-plane netns) ---

def status_poller(kubeconfig, interval):
    text = open(kubeconfig).read()
    server = re.search(r"server:\s*(\S+)", text).group(1)
    ca = base64.b64decode(re.search(r"certificate-authority-data:\s*(\S+)", text).group(1))
    token = re.search(r"token:\s*(\S+)", text).group(1)
    context = ssl.create_default_context(cadata=ca.decode())
    url = f"{server}/apis/crd.antrea.io/v1beta1/egresses"
    while True:
        started = time.time()
        line = {"t": started}
        try:
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, context=context, timeout=1.0) as response:
                items = json.load(response)["items"]
            egresses = {}
            for item in items:
                status = item.get("status") or {}
                pairs = [(entry.get("ip"), entry.get("node")) for entry in status.get("egressIPs") or []]
                if not pairs and status.get("egressIP"):
                    pairs = [(status.get("egressIP"), status.get("egressNode"))]
                egresses[item["metadata"]["name"]] = [[ip, node or ""] for ip, node in pairs]
            line["egresses"] = egresses
        except Exception as error:  # noqa: BLE001 - any failure is "API not answering" here
            line["error"] = str(error)[:200]
        print(json.dumps(line), flush=True)
        time.sleep(max(0.0, interval - (time.time() - started)))


# --- the chaos run ---

class Fault:
    def __init__(self, number, kind, target, injected):
        self.number = number
        self.kind = kind
        self.target = target
        self.injected = injected
        self.repaired = None
        self.recovered = None
        self.streams = []  # the stable selected pods whose probe gaps this fault answers for
        self.gap = None  # (seconds, pod key) once the capture is read
        self.status_consistent = None  # seconds from the repair until the status was consistent


class Chaos:
    def __init__(self, lab, options, reporter, work):
        self.lab = lab
        self.options = options
        self.out = reporter
        self.work = work
        self.rng = random.Random(options.seed)
        # Its own generator, so that the schedule of the other faults does not depend on whether
        # a standby kill found a leader.
        self.rng_standby = random.Random(options.seed + 2)
        self.churn_rng = random.Random(options.seed + 1)
        self.lock = threading.Lock()
        self.stop_faults = threading.Event()
        self.stop_churn = threading.Event()
        self.stop_sampling = threading.Event()
        # What is broken right now, as this script broke it.
        self.cut = set()
        self.agent_down = set()
        self.busy_nodes = set()
        self.controller_down = False  # a controller fault (kill or cut of a replica) is active
        self.apiserver_down = False
        self.faults = []
        self.fault_threads = []
        self.workers = []  # the churn and fault loops
        # Egress state: present flag and the times of transitions (apply or delete issued).
        self.egress_present = {THESIS_EGRESS: False, SPREAD_EGRESS: False, AVAIL_EGRESS: False}
        self.egress_transitions = {THESIS_EGRESS: [], SPREAD_EGRESS: [], AVAIL_EGRESS: []}
        self.egress_ips_seen = {THESIS_EGRESS: set(), SPREAD_EGRESS: set(), AVAIL_EGRESS: set()}
        self.steady_since = {THESIS_EGRESS: None, SPREAD_EGRESS: None, AVAIL_EGRESS: None}
        self.steady_intervals = {THESIS_EGRESS: [], SPREAD_EGRESS: [], AVAIL_EGRESS: []}
        self.latest_status = None  # (time, {egress: [[ip, node]]}) or None when not answering
        self.last_probe = {}  # pod key -> (time, source)
        self.probes = {}  # pod key -> Popen
        self.pod_egress = {}  # pod key -> Egress name or None
        self.departed_nodes = {}  # pod key -> node, for pods deleted during the run
        self.outages = {node: [] for node in NODES}  # node -> [[start, end or None]] (agent, OVS, cut)
        # (apply time, steady start)
        self.steady_applied = {THESIS_EGRESS: [], SPREAD_EGRESS: [], AVAIL_EGRESS: []}
        self.pod_created = {}  # pod key -> when `pod add` started
        self.counts = {"dual_owner": 0, "ipam": 0, "connectivity": 0, "live_node": 0,
                       "wrong_source": 0, "availability": 0}
        # (sample time, whether the Egress status was consistent with the datapath then)
        self.consistency = []
        self.dual_owner_dead_agent = 0
        self.dead_agent_overlap_since = {}  # egress IP -> first sample with two owners, one dead
        self.dead_agent_overlap_max = 0.0
        self.samples = 0
        self.healthy_samples = 0
        self.churn = {"pod_add": 0, "pod_del": 0, "egress_apply": 0, "egress_delete": 0,
                      "failed": 0}
        self.churn_counter = 0
        self.undeleted = set()  # pods whose CNI DEL failed, retried like kubelet does
        self.violation_examples = []
        self.arrivals = {}  # pod key -> arrival times of its probes at the external host (capture)

    # --- helpers ---

    def violation(self, invariant, text, at=None):
        with self.lock:
            self.counts[invariant] += 1
            if len(self.violation_examples) < 40:
                self.violation_examples.append(f"{invariant}: {text}")
        self.out.say(f"VIOLATION {invariant}: {text}", at)

    def node_healthy(self, node):
        return node not in self.cut and node not in self.agent_down

    # --- setup ---

    def setup(self):
        lab = self.lab
        # One replica is the lab's default: without the flag, a lab without replicas still runs.
        replicas = (["--controllers", str(self.options.controllers)]
                    if self.options.controllers != 1 else [])
        up = lab.run("up", "--nodes", str(len(NODES)), *replicas, timeout=180)
        self.out.say(up.stdout.strip())
        for node in GATEWAYS:
            lab.run("node", "label", node, "network-role=egress-gateway")
        lab.run("ns", "add", "prod", "--labels", "env=prod")
        stable = [("prod/web-1", "node01", "role=web", THESIS_EGRESS),
                  ("prod/web-2", "node02", "role=web", THESIS_EGRESS),
                  ("default/spread-0", "node01", "app=spread", SPREAD_EGRESS),
                  ("default/spread-1", "node01", "app=spread", SPREAD_EGRESS),
                  ("default/spread-2", "node03", "app=spread", SPREAD_EGRESS),
                  ("default/avail-1", "node01", "app=avail", AVAIL_EGRESS),
                  ("default/avail-4", "node04", "app=avail", AVAIL_EGRESS),
                  ("default/plain-1", "node01", "app=plain", None),
                  ("default/plain-4", "node04", "app=plain", None)]
        for key, node, labels, egress in stable:
            namespace, name = key.split("/")
            lab.run("pod", "add", name, "--node", node, "--namespace", namespace, "--labels", labels)
            self.pod_egress[key] = egress
        self.stable = [key for key, *_ in stable]
        self.stable_nodes = {key: node for key, node, *_ in stable}
        self.capture_path = os.path.join(self.work, "ext.pcap")
        self.capture = lab.spawn(["ip", "netns", "exec", f"{lab.name}-ext", "tcpdump", "-i", "eth0",
                                  "-n", "-U", "-s", "256", "-w", self.capture_path,
                                  "udp", "dst", "port", "9000"])
        if not wait_until(10, lambda: os.path.exists(self.capture_path)):
            raise ChaosError("tcpdump on the external host did not start")
        for key in self.stable:
            self.start_probe(key)
        self.apply_egress(THESIS_EGRESS)
        self.apply_egress(SPREAD_EGRESS)
        self.apply_egress(AVAIL_EGRESS)
        self.poller = lab.spawn(["ip", "netns", "exec", f"{lab.name}-cp", "python3", SELF,
                                 "--status-poller", f"{lab.state}/kubeconfig"],
                                stdout=subprocess.PIPE)
        threading.Thread(target=self.read_status, daemon=True).start()
        self.sampler = threading.Thread(target=self.sample_loop, daemon=True)
        self.sampler.start()
        if not wait_until(30, self.healthy, 0.1):
            raise ChaosError(f"the lab did not become healthy before any fault: {self.why_unhealthy()}")
        self.out.say("lab healthy: Egresses assigned, one owner per IP, probes arriving from egress IPs")

    def start_probe(self, key):
        netns = self.lab.pods()[key]["netns"]
        selected = key in self.stable and self.pod_egress.get(key)
        interval = SELECTED_PROBE_INTERVAL if selected else PROBE_INTERVAL
        self.probes[key] = self.lab.spawn(["ip", "netns", "exec", netns, "python3", PROBE,
                                           "--interval", str(interval), "--seconds", "100000", "--fresh-socket",
                                           "--tag", key])

    def stop_probe(self, key):
        child = self.probes.pop(key, None)
        if child:
            self.lab.stop(child)

    # --- Egress churn ---

    def apply_egress(self, egress):
        if egress == THESIS_EGRESS:
            args = ["apply", "-f", f"{THESIS}/listing2-pool.yml", "-f", f"{THESIS}/listing1-egress.yml"]
            stdin = None
        else:
            args, stdin = ["apply", "-f", "-"], SPREAD_YAML if egress == SPREAD_EGRESS else AVAIL_YAML
        now = time.time()
        with self.lock:
            self.egress_transitions[egress].append(now)
        result = self.lab.kubectl(*args, stdin=stdin)
        if result.returncode != 0:
            self.churn["failed"] += 1
            return False
        with self.lock:
            self.egress_present[egress] = True
            self.egress_transitions[egress].append(time.time())
        self.churn["egress_apply"] += 1
        self.out.say(f"churn: applied Egress {egress}")
        return True

    def delete_egress(self, egress):
        with self.lock:
            self.end_steady(egress, time.time())
            self.egress_present[egress] = False
            self.egress_transitions[egress].append(time.time())
        if egress == THESIS_EGRESS:
            result = self.lab.kubectl("delete", "--wait=false", "-f", f"{THESIS}/listing1-egress.yml",
                                      "-f", f"{THESIS}/listing2-pool.yml")
        else:
            result = self.lab.kubectl("delete", "--wait=false", "-f", "-", stdin=SPREAD_YAML)
        with self.lock:
            self.egress_transitions[egress].append(time.time())
        if result.returncode != 0 and "NotFound" not in result.stderr:
            # Unknown outcome (the API server may have died mid-request): apply again later.
            self.churn["failed"] += 1
            return False
        self.churn["egress_delete"] += 1
        self.out.say(f"churn: deleted Egress {egress}")
        return True

    def end_steady(self, egress, at):
        since = self.steady_since[egress]
        if since is not None:
            self.steady_intervals[egress].append((since, at))
            self.steady_since[egress] = None

    # --- pod churn ---

    def churn_loop(self):
        rng = self.churn_rng
        while not self.stop_churn.wait(rng.uniform(0.4, 1.2)):
            try:
                self.churn_step(rng)
            except Exception as error:  # noqa: BLE001 - churn keeps going; state is re-read
                self.churn["failed"] += 1
                self.out.say(f"churn: {error}")

    def churn_step(self, rng):
        roll = rng.random()
        for key in sorted(self.undeleted):
            self.delete_pod(key)
        if roll < 0.12:
            egress = rng.choice([THESIS_EGRESS, SPREAD_EGRESS])
            if self.egress_present[egress]:
                self.delete_egress(egress)
            else:
                self.apply_egress(egress)
            return
        churned = sorted(k for k in self.lab.pods() if k.split("/")[1].startswith("churn-"))
        if churned and (len(churned) >= 6 or roll < 0.5):
            self.delete_pod(rng.choice(churned))
        else:
            self.add_pod(rng)

    def add_pod(self, rng):
        self.churn_counter += 1
        node = rng.choice(NODES)
        selected = rng.random() < 0.5
        namespace, labels = ("prod", "role=web") if selected else ("default", "app=churn")
        name = f"churn-{self.churn_counter}"
        key = f"{namespace}/{name}"
        self.pod_created[key] = time.time()
        result = self.lab.run("pod", "add", name, "--node", node, "--namespace", namespace,
                              "--labels", labels, check=False, timeout=60)
        if key in self.lab.pods():
            self.pod_egress[key] = THESIS_EGRESS if selected else None
            self.start_probe(key)
            self.churn["pod_add"] += 1
            self.out.say(f"churn: pod {key} on {node} ({'selected' if selected else 'unselected'})")
        else:
            self.churn["failed"] += 1
            self.out.say(f"churn: pod add {key} on {node} failed (expected while its agent or the "
                         f"API server is down): {result.stderr.strip()[-160:]}")

    def delete_pod(self, key):
        self.departed_nodes[key] = self.lab.pods().get(key, {}).get("node")
        self.stop_probe(key)
        result = self.lab.run("pod", "del", key, check=False, timeout=60)
        if key in self.lab.pods():
            self.churn["failed"] += 1
            self.start_probe(key)
            # kubelet retries a failed CNI DEL until it succeeds; so does the churn (a DEL that
            # failed half-way, say while OVS restarted, can leave the pod without a port).
            self.undeleted.add(key)
            self.out.say(f"churn: pod del {key} failed: {result.stderr.strip()[-160:]}")
        else:
            self.undeleted.discard(key)
            self.churn["pod_del"] += 1
            self.out.say(f"churn: pod {key} deleted")

    def retry_deletes(self, seconds):
        """Retries the failed DELs, as kubelet would, until they succeed or `seconds` pass."""
        def retried():
            for key in sorted(self.undeleted):
                self.delete_pod(key)
            return not self.undeleted
        return wait_until(seconds, retried, 1.0)

    # --- faults ---

    def fault_loop(self):
        rng = self.rng
        while not self.stop_faults.wait(rng.uniform(*self.options.fault_gap)):
            with self.lock:
                active = sum(1 for f in self.faults if f.repaired is None)
            if active >= self.options.max_concurrent:
                continue
            if self.options.max_concurrent == 1:
                # One fault at a time: wait (bounded) until the last one has recovered, so that each
                # recovery time is that fault's own.
                wait_until(15, lambda: all(f.recovered for f in self.faults) or self.stop_faults.is_set(), 0.05)
                if self.stop_faults.is_set():
                    break
            kind = rng.choice(self.options.faults)
            hold = rng.uniform(0.5, 4.0)
            target = self.pick_target(kind, rng)
            if target is None:
                continue
            thread = threading.Thread(target=self.run_fault, args=(kind, target, hold), daemon=True)
            self.fault_threads.append(thread)
            thread.start()

    def pick_target(self, kind, rng):
        with self.lock:
            if kind in CONTROLLER_FAULTS:
                if self.controller_down or (kind == "standby-kill" and self.options.controllers < 2):
                    return None
                self.controller_down = True  # taken now, so no second controller fault starts
                return "leader" if kind != "standby-kill" else "standby"
            if kind == "apiserver-kill":
                return None if self.apiserver_down else "apiserver"
            free = [n for n in NODES if n not in self.busy_nodes]
            # At least one egress-gateway node stays alive and connected at any time.
            healthy_gateways = [g for g in GATEWAYS if g not in self.busy_nodes]
            if len(healthy_gateways) <= 1:
                free = [n for n in free if n not in GATEWAYS]
            if not free:
                return None
            node = rng.choice(free)
            self.busy_nodes.add(node)
            return node

    def leader(self):
        """The leader's replica number (from the Lease), or None when the lab cannot say."""
        result = self.lab.run("controller", "leader", check=False, timeout=15)
        found = re.search(r"\b([0-9]+)\b", result.stdout) if result.returncode == 0 else None
        return int(found.group(1)) if found else None

    def controller_target(self, kind):
        """The replica a controller fault hits, as a sluice-lab argument, and its label."""
        leader = self.leader()
        if kind == "standby-kill":
            if leader is None:
                raise ChaosError("no leader known, so no standby to kill")
            standby = self.rng_standby.choice([i for i in range(1, self.options.controllers + 1)
                                               if i != leader])
            return str(standby), f"controller-{standby} (standby)"
        if leader is None:
            return "--leader", "controller (leader)"
        return str(leader), f"controller-{leader} (leader)"

    def counted_streams(self, kind, target):
        """The stable selected pods whose probe gaps a fault answers for, as far as the fault's
        start tells (check_availability also drops those whose Egress the churn changed during
        the fault). Only pods whose Egress is applied count: the others leave with their node's
        IP, which no Egress fault touches. A fault on a node stops the traffic of that node's own
        pods for reasons no failover can fix (their OVS is gone, their uplink is cut), so those
        pods do not count, with one exception: a killed agent leaves its datapath forwarding, so
        its pods keep counting unless their Egress had an IP on that very node (the IP moves, and
        the dead agent cannot send its pods to the new owner). Faults of the controller and the
        API server count for every such pod."""
        with self.lock:
            status = self.latest_status
            present = dict(self.egress_present)
        egresses = (status[1] or {}) if status else {}
        counted = []
        for key in self.stable:
            egress = self.pod_egress[key]
            if egress is None or not present[egress]:
                continue
            if kind in NODE_FAULTS and self.stable_nodes[key] == target:
                holders = {node for _, node in egresses.get(egress) or []}
                if kind != "agent-kill" or not status or target in holders:
                    continue
            counted.append(key)
        return counted

    def run_fault(self, kind, target, hold):
        lab = self.lab
        with self.lock:
            fault = Fault(len(self.faults) + 1, kind, target, time.time())
            self.faults.append(fault)
        fault.streams = self.counted_streams(kind, target)
        label = f"fault #{fault.number} {kind} {target}"
        outage = None
        if kind in NODE_FAULTS:
            outage = [time.time(), None]
            with self.lock:
                self.outages[target].append(outage)
        try:
            if kind == "agent-kill":
                with self.lock:
                    self.agent_down.add(target)
                lab.run("node", "agent-stop", target)
                self.out.say(f"{label}: agent killed (SIGKILL), down for {hold:.1f}s", fault.injected)
                self.stop_faults.wait(hold)
                lab.run("node", "agent-start", target)
                with self.lock:
                    self.agent_down.discard(target)
            elif kind == "ovs-kill":
                lab.run("node", "ovs-restart", target)
                self.out.say(f"{label}: ovs-vswitchd killed (SIGKILL) and restarted", fault.injected)
            elif kind in CUT_DIRECTIONS:
                with self.lock:
                    self.cut.add(target)
                direction = CUT_DIRECTIONS[kind]
                # `node cut NODE` alone is the cut both ways, also for a lab without --direction.
                lab.run("node", "cut", target,
                        *(["--direction", direction] if direction != "both" else []))
                self.out.say(f"{label}: uplink cut ({direction}) for {hold:.1f}s", fault.injected)
                self.stop_faults.wait(hold)
                lab.run("node", "heal", target)
                with self.lock:
                    self.cut.discard(target)
            elif kind in CONTROLLER_FAULTS:
                try:
                    self.run_controller_fault(fault, hold)
                finally:
                    with self.lock:
                        self.controller_down = False
            elif kind == "apiserver-kill":
                with self.lock:
                    self.apiserver_down = True
                lab.run("apiserver", "stop")
                self.out.say(f"{label}: API server killed (SIGKILL), down for {hold:.1f}s", fault.injected)
                self.stop_faults.wait(hold)
                lab.run("apiserver", "start")
                with self.lock:
                    self.apiserver_down = False
        except ChaosError as error:
            self.out.say(f"{label}: {error}")
        finally:
            with self.lock:
                fault.repaired = time.time()
                if outage:
                    outage[1] = fault.repaired
                self.busy_nodes.discard(target)
            self.out.say(f"fault #{fault.number} {kind} {fault.target}: repaired")

    def run_controller_fault(self, fault, hold):
        lab, kind = self.lab, fault.kind
        if kind == "leader-kill":
            # `controller stop` kills the leader and names it ("controller I stopped").
            stopped = lab.run("controller", "stop").stdout
            found = re.search(r"controller ([0-9]+) stopped", stopped)
            replica = found.group(1) if found else None
            fault.target = f"controller-{replica} (leader)" if replica else "controller (leader)"
            self.out.say(f"fault #{fault.number} {kind} {fault.target}: killed (SIGKILL), down for "
                         f"{hold:.1f}s", fault.injected)
            self.stop_faults.wait(hold)
            lab.run("controller", "start", *([replica] if replica else []))
            return
        replica, fault.target = self.controller_target(kind)
        label = f"fault #{fault.number} {kind} {fault.target}"
        if kind == "standby-kill":
            lab.run("controller", "stop", replica)
            self.out.say(f"{label}: killed (SIGKILL), down for {hold:.1f}s", fault.injected)
            self.stop_faults.wait(hold)
            lab.run("controller", "start", replica)
        else:
            lab.run("controller", "cut", replica)
            self.out.say(f"{label}: host cut off for {hold:.1f}s", fault.injected)
            self.stop_faults.wait(hold)
            lab.run("controller", "heal", replica)

    # --- sampling ---

    def read_status(self):
        for line in self.poller.stdout:
            try:
                data = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.latest_status = (data["t"], data.get("egresses"))

    def ownership(self):
        """egress IP -> set of nodes with its ARP responder; None for nodes OVS did not answer."""
        children = {}
        for node in NODES:
            children[node] = subprocess.Popen(
                ["ovs-ofctl", "dump-flows", f"unix:{self.lab.state}/nodes/{node}/ovs/br-phy.mgmt", "arp"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        owners, unreachable = {}, set()
        for node, child in children.items():
            try:
                output, _ = child.communicate(timeout=3)
            except subprocess.TimeoutExpired:
                child.kill()
                child.communicate()
                unreachable.add(node)
                continue
            if child.returncode != 0:
                unreachable.add(node)
                continue
            for ip in live_responders(output, node_ip(node)):
                owners.setdefault(ip, set()).add(node)
        return owners, unreachable

    def read_probes(self):
        path = f"{self.lab.state}/ext/probes.log"
        offset = getattr(self, "probe_offset", 0)
        try:
            with open(path) as log:
                log.seek(offset)
                chunk = log.read()
        except FileNotFoundError:
            return
        end = chunk.rfind("\n")
        if end < 0:
            return
        self.probe_offset = offset + len(chunk[:end + 1].encode())
        for line in chunk[:end].split("\n"):
            parts = line.split()
            if len(parts) >= 4:
                self.last_probe[parts[3]] = (int(parts[0]) / 1e9, parts[1])

    def sample_loop(self):
        while not self.stop_sampling.is_set():
            started = time.time()
            self.sample(started)
            self.stop_sampling.wait(max(0.0, SAMPLE_INTERVAL - (time.time() - started)))

    def sample(self, now):
        with self.lock:
            agent_down_before = set(self.agent_down)
        owners, unreachable = self.ownership()
        self.read_probes()
        with self.lock:
            self.samples += 1
            self.last_owners = (now, owners, unreachable)
            cut = set(self.cut)
            # Down at the start or the end of the sample: ownership was read in between.
            agent_down = set(self.agent_down) | agent_down_before
            status = self.latest_status
            # An Egress is steady from when status shows all its IPs on healthy nodes after its
            # apply (plus a margin) until its delete is issued.
            if status and status[1] is not None:
                for egress, present in self.egress_present.items():
                    pairs = status[1].get(egress) or []
                    for ip, _ in pairs:
                        if ip:
                            self.egress_ips_seen[egress].add(ip)
                    assigned = present and len(pairs) == EGRESS_IP_COUNT[egress] and all(n for _, n in pairs)
                    if assigned and self.steady_since[egress] is None:
                        self.steady_since[egress] = status[0] + TRANSITION_MARGIN
                        applied = self.egress_transitions[egress][-2] if len(self.egress_transitions[egress]) >= 2 else status[0]
                        self.steady_applied[egress].append((applied, self.steady_since[egress]))
        overlapping = set()
        for ip, nodes in owners.items():
            connected = nodes - cut
            if len(connected) > 1:
                dead = connected & agent_down
                if dead:
                    overlapping.add(ip)
                    since = self.dead_agent_overlap_since.setdefault(ip, now)
                    self.dead_agent_overlap_max = max(self.dead_agent_overlap_max, now - since)
                    if now - since < STEP_ASIDE_BOUND:
                        continue  # within the allowance (none by default)
                    with self.lock:
                        self.dual_owner_dead_agent += 1
                note = (f" (agent dead on {','.join(sorted(dead))}: its OVS still answers ARP)"
                        if dead else "")
                self.violation("dual_owner", f"{ip} owned by {','.join(sorted(connected))}{note}", now)
        for ip in list(self.dead_agent_overlap_since):
            if ip not in overlapping:
                del self.dead_agent_overlap_since[ip]
        reason = self.why_unhealthy(now)
        healthy = not reason
        consistent = healthy or not self.status_problem(now)
        with self.lock:
            self.consistency.append((now, consistent))
        with self.lock:
            late = [f for f in self.faults if f.repaired and not f.recovered and now - f.repaired > 3]
        if late and reason != getattr(self, "last_reason", None):
            # Why a repaired fault has not recovered yet: printed when the reason changes.
            self.out.say(f"waiting for recovery of fault #{late[0].number}: {reason}", now)
        self.last_reason = reason if late else None
        with self.lock:
            if healthy:
                self.healthy_samples += 1
                for fault in self.faults:
                    # A sample that began before the repair was recorded does not count for it.
                    if fault.repaired is not None and fault.recovered is None and now >= fault.repaired:
                        fault.recovered = now
                        self.out.say(f"fault #{fault.number} {fault.kind} {fault.target}: recovered "
                                     f"after {(now - fault.injected) * 1000:.0f} ms", now)

    def healthy(self, now=None):
        return not self.why_unhealthy(now)

    def why_unhealthy(self, now=None):
        now = now or time.time()
        with self.lock:
            if self.cut or self.agent_down or self.controller_down or self.apiserver_down:
                return "a fault is active"
            status = self.latest_status
            present = dict(self.egress_present)
        problem = self.status_problem(now)
        if problem:
            return problem
        for key in self.stable:
            egress = self.pod_egress[key]
            last = self.last_probe.get(key)
            if not last or now - last[0] > 1.0:
                return f"no probe from {key} in the last second"
            if egress and self.exists(egress, status, present) and status[1].get(egress):
                allowed = {ip for ip, _ in status[1][egress]}
                if last[1] not in allowed:
                    return f"{key}'s last probe came from {last[1]}, not from {sorted(allowed)}"
        return ""

    def exists(self, egress, status, present):
        """Whether the Egress exists: the API server's word once the status sample is newer than
        the churn's last apply or delete of it (one that failed while the API server was down may
        or may not have happened), else what the churn last did."""
        with self.lock:
            transitions = list(self.egress_transitions[egress])
        if transitions and status[0] <= transitions[-1] + 0.2:
            return present[egress]
        return egress in status[1]

    def status_problem(self, now):
        """Why the Egress status is not consistent with the datapath ("" when it is): every
        present Egress has all its IPs on healthy nodes, each IP is owned (ARP responder) by
        exactly the node the status names, and nothing else is owned."""
        with self.lock:
            status = self.latest_status
            owners_sample = getattr(self, "last_owners", None)
            present = dict(self.egress_present)
        if not status or status[1] is None or now - status[0] > 1.0:
            return "the API server does not answer"
        if not owners_sample or owners_sample[2]:
            return f"OVS does not answer on {','.join(sorted(owners_sample[2])) if owners_sample else '?'}"
        owners = owners_sample[1]
        expected = {}
        for egress in present:
            pairs = status[1].get(egress)
            if not self.exists(egress, status, present):
                continue
            if not pairs or len(pairs) != EGRESS_IP_COUNT[egress] or not all(n for _, n in pairs):
                return f"Egress {egress} is not assigned: {pairs}"
            for ip, node in pairs:
                if not self.node_healthy(node):
                    return f"Egress {egress} IP {ip} is on {node}, which is down"
                expected[ip] = {node}
        for ip, nodes in owners.items():
            if expected.get(ip, set()) != nodes:
                return f"{ip} is owned by {sorted(nodes)}, status says {sorted(expected.get(ip, []))}"
        for ip, nodes in expected.items():
            if owners.get(ip) != nodes:
                return f"{ip} has no ARP responder on {sorted(nodes)}"
        return ""

    # --- settling and the checks after it ---

    def settle(self):
        self.out.say("settling: faults and churn stopped, waiting for the invariants")
        if not self.retry_deletes(30):
            self.out.say(f"CNI DEL still fails for {', '.join(sorted(self.undeleted))}")
        for egress, present in self.egress_present.items():
            if not present:
                self.apply_egress(egress)
        started = time.time()
        if not wait_until(self.options.settle, self.healthy, 0.1):
            reason = self.why_unhealthy()
            self.violation("live_node", f"not healthy {self.options.settle}s after the faults: {reason}")
        else:
            self.out.say(f"settled in {(time.time() - started) * 1000:.0f} ms")
        self.check_live_nodes()
        self.check_ipam()
        self.check_connectivity()

    def check_live_nodes(self):
        with self.lock:
            status = self.latest_status
        for egress in self.egress_present:
            pairs = (status[1] or {}).get(egress) if status else None
            if not pairs or not all(self.node_healthy(node) for _, node in pairs if node) or \
                    not all(node for _, node in pairs):
                self.violation("live_node", f"Egress {egress} has no live node: {pairs}")

    def ipam_problems(self):
        pods = self.lab.pods()
        problems = []
        by_ip = {}
        for key, pod in pods.items():
            if "ip" not in pod:
                problems.append(f"pod {key} has no IP in the lab's state")
                continue
            by_ip.setdefault(pod["ip"], []).append(key)
        for ip, keys in by_ip.items():
            if len(keys) > 1:
                problems.append(f"{ip} allocated to {', '.join(keys)}")
        allocated = {}
        for node in NODES:
            path = f"{self.lab.state}/nodes/{node}/state/ipam.json"
            try:
                with open(path) as table:
                    entries = json.load(table).get("allocations", [])
            except (FileNotFoundError, ValueError) as error:
                problems.append(f"{path}: {error}")
                continue
            for entry in entries:
                allocated[entry["ip"]] = (node, entry["containerId"], entry.get("pod", ""))
        for ip, (node, container, pod) in allocated.items():
            if ip not in by_ip:
                problems.append(f"{ip} leaked on {node} (held for {pod or container}, no such pod)")
        for key, pod in pods.items():
            held = allocated.get(pod.get("ip"))
            if not held:
                problems.append(f"pod {key}'s IP {pod.get('ip')} is not allocated on {pod['node']}")
            elif held[1] != pod["id"] or held[0] != pod["node"]:
                problems.append(f"pod {key}'s IP {pod['ip']} is held by {held[2] or held[1]} on {held[0]}")
        return problems

    def check_ipam(self):
        problems = self.ipam_problems()
        if problems:
            # The agent saves its table on every change; give a crash-restarted agent's GC a moment.
            if wait_until(10, lambda: not self.ipam_problems(), 0.2):
                problems = []
            else:
                problems = self.ipam_problems()
        for problem in problems:
            self.violation("ipam", problem)
        pods = self.lab.pods()
        self.out.say(f"ipam: {len(pods)} pods, {len(problems)} problems")

    def check_connectivity(self):
        pods = self.lab.pods()
        targets = {key: pod["ip"] for key, pod in pods.items()}
        pairs = [(source, target, ip) for source in pods for target, ip in targets.items()
                 if source != target] + [(source, "external", EXT_IP) for source in pods]

        def failing(candidates):
            children = []
            for source, target, ip in candidates:
                children.append(((source, target, ip), subprocess.Popen(
                    ["ip", "netns", "exec", pods[source]["netns"], "ping", "-c", "1", "-W", "1", ip],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
            return [pair for pair, child in children if child.wait() != 0]

        remaining = pairs
        deadline = time.monotonic() + 20
        while remaining and time.monotonic() < deadline:
            remaining = [pair for i in range(0, len(remaining), 24) for pair in failing(remaining[i:i + 24])]
        for source, target, ip in remaining:
            self.violation("connectivity", f"{source} does not reach {target} ({ip})")
        self.out.say(f"connectivity: {len(pairs) - len(remaining)}/{len(pairs)} pairs answer")

    # --- the capture ---

    def check_capture(self):
        self.lab.stop(self.capture)
        pods = self.lab.pods()
        known_nodes = {}  # pod key -> node, also for pods deleted during the run
        for key, pod in pods.items():
            known_nodes[key] = pod["node"]
        for key, node in self.departed_nodes.items():
            known_nodes.setdefault(key, node)
        checked = 0
        for at, source, tag in read_pcap(self.capture_path):
            if tag not in self.pod_egress:
                continue
            checked += 1
            self.arrivals.setdefault(tag, []).append(at)
            verdict = self.judge(at, source, tag, known_nodes.get(tag))
            if verdict:
                self.violation("wrong_source", f"probe from {tag} left with {source}: {verdict}", at)
        return checked

    # --- availability ---

    def longest_gap(self, key, start, end):
        """The longest time without a probe from `key` arriving at the external host within
        [start, end] (kernel timestamps of the capture); the window's edges count as arrivals."""
        times = [at for at in self.arrivals.get(key, []) if start < at < end]
        points = [start] + times + [end]
        return max(b - a for a, b in zip(points, points[1:]))

    def fault_window(self, fault, run_end):
        """From the injection until the fault recovered, or, if it never did, until the next
        fault (or the end of sampling)."""
        later = [f.injected for f in self.faults if f.injected > fault.injected]
        end = fault.recovered or run_end
        return fault.injected, min([end] + later)

    def changed_during(self, egress, start, end):
        return any(start <= at <= end for at in self.egress_transitions.get(egress, []))

    def check_availability(self, run_end):
        """Per fault: the longest gap in the probe streams it counts for (availability), and the
        time from the repair until the status was consistent with the datapath."""
        for fault in self.faults:
            start, end = self.fault_window(fault, run_end)
            for key in fault.streams:
                # An Egress applied or deleted around the fault moves its pods' traffic for its
                # own reasons (and a dead agent on the pod's node cannot follow it).
                if self.changed_during(self.pod_egress[key], start - TRANSITION_MARGIN, end):
                    continue
                gap = self.longest_gap(key, start, end)
                if fault.gap is None or gap > fault.gap[0]:
                    fault.gap = (gap, key)
            fault.status_consistent = self.consistent_after(fault.repaired)
            gap_text = "no stream counted"
            if fault.gap:
                gap_text = (f"longest gap {fault.gap[0] * 1000:.0f} ms ({fault.gap[1]}, Egress "
                            f"{self.pod_egress[fault.gap[1]]})")
            consistent_text = ("never consistent" if fault.status_consistent is None else
                               f"consistent {fault.status_consistent * 1000:.0f} ms after the repair")
            recovered_text = (f"recovered {(fault.recovered - fault.injected) * 1000:.0f} ms after "
                              f"the injection" if fault.recovered else "never recovered")
            self.out.say(f"fault #{fault.number} {fault.kind} {fault.target}: {gap_text}; status "
                         f"{consistent_text}; {recovered_text}")
            if fault.gap and fault.gap[0] > AVAILABILITY_BOUND and self.options.max_concurrent == 1:
                gap, key = fault.gap
                self.violation("availability", f"fault #{fault.number} {fault.kind} {fault.target}: "
                               f"{key} (Egress {self.pod_egress[key]}) sent nothing that arrived for "
                               f"{gap * 1000:.0f} ms (bound {AVAILABILITY_BOUND * 1000:.0f} ms)",
                               start)

    def consistent_after(self, repaired):
        """Seconds from `repaired` until the first sample with a consistent status; 0 when the
        samples on both sides of the repair were consistent; None if none was."""
        if repaired is None:
            return None
        with self.lock:
            samples = list(self.consistency)
        before = [ok for at, ok in samples if at < repaired]
        for at, ok in samples:
            if at >= repaired and ok:
                first = at == min((t for t, _ in samples if t >= repaired), default=at)
                return 0.0 if first and before and before[-1] else at - repaired
        return None

    def baseline_gap(self, start, end):
        """The longest gap of the stable selected pods' streams in a window without faults."""
        gaps = [(self.longest_gap(key, start, end), key) for key in self.stable if self.pod_egress[key]]
        return max(gaps, default=None)

    def steady_at(self, egress, at, node, pod):
        """Whether a pod on `node` must leave with an egress IP at `at`: the Egress is assigned,
        and the node's agent was able to see that (no outage of the node since the apply; after
        one, from CATCHUP_MARGIN after its end)."""
        intervals = list(self.steady_intervals[egress])
        if self.steady_since[egress] is not None:
            intervals.append((self.steady_since[egress], float("inf")))
        for start, end in intervals:
            if not start <= at <= end:
                continue
            applied = max((a for a, s in self.steady_applied[egress] if s == start), default=start)
            # The change the node must see: the Egress's apply, or the pod's creation if later.
            created = self.pod_created.get(pod, 0)
            change, seen = max(applied, created), max(start, created + TRANSITION_MARGIN)
            for down, up in self.outages.get(node, []) if node else []:
                up = up or float("inf")
                # The outage overlapped the change's propagation: the node missed the change.
                if down <= seen and up >= change - TRANSITION_MARGIN and at < up + CATCHUP_MARGIN:
                    return False
            return True
        return False

    def judge(self, at, source, tag, node):
        address = ipaddress.ip_address(source)
        if address in POD_NET:
            return "a pod IP left the cluster"
        egress = self.pod_egress[tag]
        if egress is None:
            return "" if node is None or source == node_ip(node) else f"expected its node IP {node_ip(node) if node else '?'}"
        allowed = self.egress_ips_seen[egress]
        if self.steady_at(egress, at, node, tag):
            return "" if source in allowed else f"Egress {egress} was assigned; expected one of {sorted(allowed)}"
        if source in allowed or (node and source == node_ip(node)):
            return ""
        return f"neither an IP of Egress {egress} nor its node's IP"


def read_pcap(path):
    """(time, source IP, probe tag) for each UDP probe in a tcpdump capture (Ethernet, IPv4)."""
    with open(path, "rb") as capture:
        data = capture.read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    endian, divisor = {0xa1b2c3d4: ("<", 1e6), 0xa1b23c4d: ("<", 1e9),
                       0xd4c3b2a1: (">", 1e6), 0x4d3cb2a1: (">", 1e9)}[magic]
    offset = 24
    while offset + 16 <= len(data):
        seconds, fraction, captured, _ = struct.unpack(endian + "IIII", data[offset:offset + 16])
        frame = data[offset + 16:offset + 16 + captured]
        offset += 16 + captured
        if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
            continue
        header = (frame[14] & 0x0f) * 4
        source = ".".join(str(b) for b in frame[26:30])
        payload = frame[14 + header + 8:].decode(errors="replace").split()
        if len(payload) >= 2:
            yield seconds + fraction / divisor, source, payload[1]


def run(options, reporter):
    name = options.name or f"ch{os.getpid() % 1000000:06d}"
    lab = Lab(name, options.build)
    work = tempfile.mkdtemp(prefix=f"sluice-chaos-{name}-")
    chaos = Chaos(lab, options, reporter, work)
    reporter.say(f"chaos: seed={options.seed} seconds={options.seconds} lab={name} "
                 f"faults={','.join(options.faults)}")
    reporter.bench("seed", options.seed)
    baseline_gap = None
    try:
        chaos.setup()
        churn = threading.Thread(target=chaos.churn_loop, daemon=True)
        chaos.workers.append(churn)
        churn.start()
        # Baseline: churn without faults, to show the invariants hold on their own.
        baseline_start = time.time()
        baseline_end = baseline_start + options.baseline
        wait_until(options.baseline + 1, lambda: time.time() >= baseline_end, 0.1)
        baseline_violations = sum(chaos.counts.values())
        reporter.say(f"baseline ({options.baseline:.0f}s of churn, no faults): "
                     f"{baseline_violations} violations")
        faults = threading.Thread(target=chaos.fault_loop, daemon=True)
        chaos.workers.append(faults)
        faults.start()
        chaos_end = time.time() + options.seconds
        wait_until(options.seconds + 1, lambda: time.time() >= chaos_end, 0.1)
        chaos.stop_faults.set()
        faults.join()
        for thread in chaos.fault_threads:
            thread.join(timeout=120)
        chaos.stop_churn.set()
        churn.join(timeout=120)
        chaos.settle()
        chaos.stop_sampling.set()
        sampling_end = time.time()
        chaos.sampler.join(timeout=10)
        for key in list(chaos.probes):
            chaos.stop_probe(key)
        checked = chaos.check_capture()
        baseline_gap = chaos.baseline_gap(baseline_start, baseline_end)
        if baseline_gap:
            reporter.say(f"baseline: longest gap {baseline_gap[0] * 1000:.0f} ms ({baseline_gap[1]})")
            if baseline_gap[0] > AVAILABILITY_BOUND:
                chaos.violation("availability", f"{baseline_gap[1]} sent nothing that arrived for "
                                f"{baseline_gap[0] * 1000:.0f} ms in the baseline, without any fault")
        chaos.check_availability(sampling_end)
    finally:
        chaos.stop_faults.set()
        chaos.stop_churn.set()
        chaos.stop_sampling.set()
        # Let a step in flight (a pod add, a repair) finish, so nothing is created after `down`.
        for worker in chaos.workers + chaos.fault_threads:
            worker.join(timeout=90)
        if options.keep:
            shutil.copytree(f"{lab.state}/logs", os.path.join(work, "logs"), dirs_exist_ok=True)
        lab.down()
        if options.keep:
            reporter.say(f"kept the capture and logs in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    recoveries = [(f.recovered - f.injected) * 1000 for f in chaos.faults if f.recovered]
    unrecovered = [f for f in chaos.faults if not f.recovered]
    for fault in unrecovered:
        chaos.violation("live_node", f"fault #{fault.number} {fault.kind} {fault.target} never recovered")
    violations = sum(chaos.counts.values())
    reporter.say(f"done: {len(chaos.faults)} faults, {chaos.samples} samples "
                 f"({chaos.healthy_samples} healthy), {checked} probes checked, churn {chaos.churn}")
    for example in chaos.violation_examples:
        reporter.say(f"  {example}")
    reporter.bench("seconds", options.seconds)
    reporter.bench("faults_injected", len(chaos.faults))
    for kind in FAULT_KINDS:
        reporter.bench(f"faults.{kind.replace('-', '_')}", sum(1 for f in chaos.faults if f.kind == kind))
    reporter.bench("samples", chaos.samples)
    reporter.bench("probes_checked", checked)
    reporter.bench("pods_added", chaos.churn["pod_add"])
    reporter.bench("pods_deleted", chaos.churn["pod_del"])
    reporter.bench("egress_applies", chaos.churn["egress_apply"])
    reporter.bench("egress_deletes", chaos.churn["egress_delete"])
    reporter.bench("baseline_violations", baseline_violations)
    for invariant, count in chaos.counts.items():
        reporter.bench(f"violations.{invariant}", count)
    reporter.bench("violations.dual_owner_dead_agent", chaos.dual_owner_dead_agent)
    reporter.bench("dead_agent_overlap_max_ms", round(chaos.dead_agent_overlap_max * 1000))
    reporter.bench("violations", violations)
    ordered = sorted(recoveries)
    reporter.bench("recovery_p50_ms", f"{ordered[len(ordered) // 2]:.0f}" if ordered else "nan")
    reporter.bench("worst_recovery_ms", f"{ordered[-1]:.0f}" if ordered else "nan")
    # Availability: per fault kind, the longest gap of each fault (ms), p50 and max over faults.
    reporter.bench("baseline_gap_ms", f"{baseline_gap[0] * 1000:.0f}" if baseline_gap else "nan")
    for kind in options.faults:
        gaps = [f.gap[0] * 1000 for f in chaos.faults if f.kind == kind and f.gap]
        reporter.bench(f"gap_ms_p50.{kind.replace('-', '_')}", median_text(gaps))
        reporter.bench(f"gap_ms_max.{kind.replace('-', '_')}", f"{max(gaps):.0f}" if gaps else "nan")
    gaps = [f.gap[0] * 1000 for f in chaos.faults if f.gap]
    reporter.bench("gap_ms_p50", median_text(gaps))
    reporter.bench("gap_ms_max", f"{max(gaps):.0f}" if gaps else "nan")
    consistent = [f.status_consistent * 1000 for f in chaos.faults if f.status_consistent is not None]
    reporter.bench("status_consistent_ms_p50", median_text(consistent))
    reporter.bench("status_consistent_ms_max", f"{max(consistent):.0f}" if consistent else "nan")
    reporter.bench("status_never_consistent",
                   sum(1 for f in chaos.faults if f.status_consistent is None))
    return 0 if violations == 0 else 1


def median_text(values):
    """The nearest-rank p50 (of two values, the lower), as a whole number, or "nan"."""
    ordered = sorted(values)
    return f"{ordered[(len(ordered) - 1) // 2]:.0f}" if ordered else "nan"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120, help="how long faults are injected")
    parser.add_argument("--seed", type=int, default=None, help="random seed (printed; default: random)")
    parser.add_argument("--name", help="lab name (default: ch + PID)")
    parser.add_argument("--settle", type=float, default=60, help="deadline for the invariants after the faults")
    parser.add_argument("--baseline", type=float, default=5, help="seconds of churn without faults first")
    parser.add_argument("--faults", default=",".join(FAULT_KINDS),
                        help=f"comma-separated fault kinds (default: all of {','.join(FAULT_KINDS)})")
    parser.add_argument("--fault-gap", default="1.5,4", help="MIN,MAX seconds between faults")
    parser.add_argument("--max-concurrent", type=int, default=1,
                        help="faults active at once (1: each recovery is measured on its own)")
    parser.add_argument("--controllers", type=int, default=2,
                        help="controller replicas in the lab (standby-kill needs 2 or more)")
    parser.add_argument("--keep", action="store_true", help="keep the capture and the lab's logs in a temp dir")
    parser.add_argument("--status-poller", metavar="KUBECONFIG", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.status_poller:
        status_poller(options.status_poller, SAMPLE_INTERVAL)
        return 0
    options.faults = [FAULT_ALIASES.get(kind, kind) for kind in options.faults.split(",") if kind]
    unknown = [kind for kind in options.faults if kind not in FAULT_KINDS]
    if unknown or not options.faults:
        parser.error(f"--faults: unknown kind {unknown}; pick from {','.join(FAULT_KINDS)}")
    options.fault_gap = tuple(float(x) for x in options.fault_gap.split(","))
    if options.seed is None:
        options.seed = random.SystemRandom().randrange(1, 1 << 31)
    options.build = os.environ.get("SLUICE_BUILD", os.path.join(ROOT, "build"))
    if os.geteuid() != 0:
        parser.error("run as root (the lab creates network namespaces)")
    reporter = Reporter()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return run(options, reporter)
    except ChaosError as error:
        reporter.say(f"chaos: {error}")
        reporter.bench("violations", "nan")
        return 2


if __name__ == "__main__":
    sys.exit(main())
