#!/usr/bin/env python3
"""Egress datapath measurements in a lab of its own (tools/bench egress, sluice-lab report).

Measures, on real packets received by the lab's external host:
  - apply-to-effect: `kubectl apply` of an Egress until the first probe arrives from the egress IP
    (a 5 ms probe stream runs all along; the Egress is deleted and re-applied between trials);
  - the failover gap under a 10 ms probe stream, for a graceful move (the egress node loses its
    network-role=egress-gateway label and stays alive) and for a dead node (sluice-lab node stop);
  - availability under a 10 ms probe stream while the control plane fails: a SIGKILL of the
    controller's leader (the lab runs 2 replicas) and a 3 s API server outage, each against a
    window of the same length without a fault, measured in the same run (the baseline);
  - TCP throughput (iperf3) via a remote egress node, via same-node SNAT, for an unselected pod
    (the node's own path) and for a plain kernel veth pair, the baseline;
  - ICMP round-trip time through the egress node against the unselected (direct) path.
Prints `BENCH egress.KEY=VALUE` lines. With --data DIR it also keeps the raw samples there, which
tools/lab/report.py turns into plots (the report measures with this code, it does not repeat it).
The lab (and everything named after it) is torn down at the end, also on failure or Ctrl-C.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
LAB_TOOL = os.path.join(ROOT, "tools", "sluice-lab")
PROBE = os.path.join(ROOT, "tools", "lab", "probe.py")
EXT_IP = "10.10.3.1"
CP_IP = "10.10.4.1"
NODE01_IP = "10.10.2.1"
GATEWAY_LABEL = "network-role=egress-gateway"
APPLY_IP = "10.10.0.20"  # fixed, so the receiver knows which source means "in effect"
OUTAGE_S = 3.0  # how long the API server is stopped
WINDOW_S = 5.0  # a control-plane trial's window from the fault on (longer if recovery is slow)


class MeasureError(Exception):
    pass


def percentile(values, p):
    """Nearest-rank percentile, as bench-podnet computes it."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, int((p * len(ordered) + 99) // 100))
    return ordered[min(rank, len(ordered)) - 1]


def now_ns():
    return time.time_ns()  # the ext host logs with the same clock (one kernel, many netns)


class Lab:
    """A sluice-lab of our own, driven through tools/sluice-lab."""

    def __init__(self, name, build):
        self.name = name
        self.env = dict(os.environ, SLUICE_BUILD=build)
        self.state = f"/run/sluice-lab/{name}"
        self.children = []  # Popen objects we started, stopped by PID

    def run(self, *args, timeout=120, check=True, stdin=None):
        result = subprocess.run([LAB_TOOL, "--name", self.name, *args], env=self.env, input=stdin,
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise MeasureError(f"sluice-lab {' '.join(args)} failed: "
                               f"{(result.stderr or result.stdout).strip()[-600:]}")
        return result.stdout.strip()

    def kubectl(self, *args, check=True):
        return self.run("kubectl", "--", *args, check=check)

    def in_netns(self, netns, *command, timeout=120, check=True):
        result = subprocess.run(["ip", "netns", "exec", netns, *command], capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise MeasureError(f"{' '.join(command)} in {netns} failed: "
                               f"{(result.stderr or result.stdout).strip()[-600:]}")
        return result.stdout

    def pod_netns(self, pod, namespace="default"):
        with open(f"{self.state}/pods/{namespace}_{pod}") as state:
            for line in state:
                if line.startswith("netns="):
                    return line.strip().split("=", 1)[1]
        raise MeasureError(f"pod {namespace}/{pod} has no netns in {self.state}/pods")

    def spawn(self, command):
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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
        if child in self.children:
            self.children.remove(child)

    def down(self):
        for child in list(self.children):
            self.stop(child)
        subprocess.run([LAB_TOOL, "--name", self.name, "down"], env=self.env,
                       capture_output=True, timeout=120)

    def egress_node(self, egress):
        return self.kubectl("get", "egress", egress, "-o", "jsonpath={.status.egressNode}",
                            check=False)

    def controller_address(self):
        """The leader's address: replica I listens on 10.10.4.(10+I); a lab whose controller
        has no replicas runs it on the control-plane host."""
        result = subprocess.run([LAB_TOOL, "--name", self.name, "controller", "leader"],
                                env=self.env, capture_output=True, text=True, timeout=30)
        found = re.search(r"\b([0-9]+)\b", result.stdout) if result.returncode == 0 else None
        return f"10.10.4.{10 + int(found.group(1))}" if found else CP_IP

    def controller_liveness(self, address=None):
        # The underlay joins every host, so the control-plane host reaches every replica.
        out = self.in_netns(f"{self.name}-cp", "curl", "-s", "-m", "2",
                            f"http://{address or self.controller_address()}:10349/v1/nodes",
                            check=False)
        try:
            return {n["node"]: n["liveness"] for n in json.loads(out)["nodes"]}
        except (ValueError, KeyError, TypeError):
            return {}


class ProbeLog:
    """The external host's probe log ("TIME_NS SRC SEQ TAG" per received probe), read as it grows."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.arrivals = {}  # tag -> [(time_ns, src, seq)]

    def poll(self):
        try:
            with open(self.path) as log:
                log.seek(self.offset)
                chunk = log.read()
        except FileNotFoundError:
            return
        end = chunk.rfind("\n")
        if end < 0:
            return
        self.offset += len(chunk[:end + 1].encode())
        for line in chunk[:end].split("\n"):
            parts = line.split()
            if len(parts) >= 4 and parts[2].isdigit():
                self.arrivals.setdefault(parts[3], []).append((int(parts[0]), parts[1],
                                                               int(parts[2])))

    def of(self, tag):
        self.poll()
        return self.arrivals.get(tag, [])


def wait_until(what, seconds, condition, interval=0.01):
    """Polls condition() until it returns something truthy, or raises after the deadline."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise MeasureError(f"timed out after {seconds}s waiting for {what}")
        time.sleep(interval)  # poll interval of a condition with a deadline


def first_arrival(probes, tag, src, after_ns):
    """The earliest arrival from src after after_ns (the log is in time order: scan from the end)."""
    found = None
    for t, source, _ in reversed(probes.of(tag)):
        if t <= after_ns:
            break
        if source == src:
            found = t
    return found


POOL_YAML = """apiVersion: crd.antrea.io/v1beta1
kind: ExternalIPPool
metadata: {name: bench-pool}
spec:
  ipRanges: [{start: 10.10.0.20, end: 10.10.0.29}]
  nodeSelector: {matchLabels: {network-role: egress-gateway}}
"""


def egress_yaml(name, ip, selector):
    return f"""apiVersion: crd.antrea.io/v1beta1
kind: Egress
metadata: {{name: {name}}}
spec:
  appliedTo: {{podSelector: {{matchLabels: {{{selector}}}}}}}
  egressIP: {ip}
  externalIPPool: bench-pool
"""


class Bench:
    def __init__(self, lab, options, work):
        self.lab = lab
        self.options = options
        self.work = work
        self.data = options.data
        self.probes = ProbeLog(f"{lab.state}/ext/probes.log")
        self.results = []  # (key, value) in print order

    def emit(self, key, value):
        text = str(round(value, 3)) if isinstance(value, float) else str(value)
        self.results.append((key, text))
        print(f"BENCH egress.{key}={text}", flush=True)

    def keep(self, name, lines):
        if self.data:
            with open(os.path.join(self.data, name), "w") as out:
                out.write("".join(f"{line}\n" for line in lines))

    def start_probes(self, pod, tag, interval):
        return self.lab.spawn(["ip", "netns", "exec", self.lab.pod_netns(pod), sys.executable,
                               PROBE, "--interval", str(interval), "--seconds", "900",
                               "--tag", tag])

    # --- set-up ---
    def setup(self, controllers):
        started = time.monotonic()
        # Without the flag a lab runs one replica (also a lab that has no replicas yet).
        replicas = ["--controllers", str(controllers)] if controllers != 1 else []
        self.lab.run("up", "--nodes", "3", *replicas, timeout=180)
        self.emit("lab_up_ms", round((time.monotonic() - started) * 1000))
        self.lab.run("node", "label", "node02", GATEWAY_LABEL)
        # node03 joins the pool only for the failover phases, so that until then the egress node is
        # known (node02) and the same-node SNAT path exists for the pod on node02.
        self.lab.run("pod", "add", "probe", "--node", "node01", "--labels", "bench=on")
        self.lab.run("pod", "add", "tp-remote", "--node", "node01", "--labels", "bench=on")
        self.lab.run("pod", "add", "tp-local", "--node", "node02", "--labels", "bench=on")
        self.lab.run("pod", "add", "tp-direct", "--node", "node01")
        pool_file = os.path.join(self.work, "pool.yml")
        with open(pool_file, "w") as out:
            out.write(POOL_YAML)
        self.lab.kubectl("apply", "-f", pool_file)
        self.egress_file = os.path.join(self.work, "egress.yml")
        with open(self.egress_file, "w") as out:
            out.write(egress_yaml("bench", APPLY_IP, "bench: \"on\""))

    # --- apply to effect ---
    def apply_to_effect(self, trials):
        stream = self.start_probes("probe", "apply", 0.005)
        wait_until("probes from node01's IP before any Egress", 10,
                   lambda: first_arrival(self.probes, "apply", NODE01_IP, 0))
        effect, removal, kubectl_ms, after_return = [], [], [], []
        for _ in range(trials):
            start = now_ns()
            self.lab.kubectl("apply", "-f", self.egress_file)
            returned = now_ns()
            kubectl_ms.append((returned - start) / 1e6)
            seen = wait_until("the first probe from the egress IP", 15,
                              lambda: first_arrival(self.probes, "apply", APPLY_IP, start))
            effect.append((seen - start) / 1e6)
            # Negative when the datapath changed before kubectl had even exited.
            after_return.append((seen - returned) / 1e6)
            start = now_ns()
            self.lab.kubectl("delete", "egress", "bench")
            seen = wait_until("probes from node01's IP after deleting the Egress", 15,
                              lambda: first_arrival(self.probes, "apply", NODE01_IP, start))
            removal.append((seen - start) / 1e6)
        self.lab.stop(stream)
        self.keep("apply.txt", [f"{v:.2f}" for v in effect])
        self.keep("delete.txt", [f"{v:.2f}" for v in removal])
        self.emit("apply_trials", trials)
        self.emit("apply_to_effect_p50_ms", percentile(effect, 50))
        self.emit("apply_to_effect_p99_ms", percentile(effect, 99))
        self.emit("apply_kubectl_p50_ms", percentile(kubectl_ms, 50))
        self.emit("apply_after_kubectl_exit_p50_ms", percentile(after_return, 50))
        self.emit("apply_after_kubectl_exit_p99_ms", percentile(after_return, 99))
        self.emit("delete_to_effect_p50_ms", percentile(removal, 50))
        self.emit("delete_to_effect_p99_ms", percentile(removal, 99))
        # Leave the Egress applied for the phases that follow.
        self.lab.kubectl("apply", "-f", self.egress_file)
        wait_until("the Egress in effect", 15,
                   lambda: first_arrival(self.probes, "apply", APPLY_IP, 0))

    # --- latency and throughput ---
    def ping_rtts(self, pod, count):
        out = self.lab.in_netns(self.lab.pod_netns(pod), "ping", "-n", "-c", str(count), "-i",
                                "0.01", "-W", "1", EXT_IP, check=False, timeout=60)
        rtts = [float(m) for m in re.findall(r"time=([0-9.]+) ms", out)]
        if len(rtts) < count // 2:
            raise MeasureError(f"ping from {pod} to {EXT_IP}: {len(rtts)} of {count} answered")
        return rtts

    def iperf_mbps(self, client_netns, server_netns, server_ip, seconds):
        port = "5201"
        server = self.lab.spawn(["ip", "netns", "exec", server_netns, "iperf3", "-s", "-1", "-B",
                                 server_ip, "-p", port])
        wait_until(f"iperf3 server in {server_netns}", 10, lambda: port in self.lab.in_netns(
            server_netns, "ss", "-Hltn", f"sport = :{port}", check=False))
        out = self.lab.in_netns(client_netns, "iperf3", "-c", server_ip, "-p", port, "-t",
                                str(seconds), "-O", "1", "-J", timeout=seconds + 30)
        self.lab.stop(server)
        return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e6

    def kernel_veth(self):
        """Two netns of our own joined by a veth, offloads off like the pods' path: the baseline."""
        left, right = f"{self.lab.name}-kv1", f"{self.lab.name}-kv2"
        for netns in (left, right):
            subprocess.run(["ip", "netns", "add", netns], check=True)
        subprocess.run(["ip", "-n", left, "link", "add", "eth0", "type", "veth", "peer", "name",
                        "eth0", "netns", right], check=True)
        for index, netns in ((1, left), (2, right)):
            subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
            subprocess.run(["ip", "-n", netns, "addr", "add", f"192.168.254.{index}/24", "dev",
                            "eth0"], check=True)
            subprocess.run(["ip", "-n", netns, "link", "set", "eth0", "up"], check=True)
            subprocess.run(["ip", "netns", "exec", netns, "ethtool", "-K", "eth0", "tx", "off",
                            "tso", "off", "gso", "off", "gro", "off"], capture_output=True)
        return left, right

    def paths(self, seconds, pings):
        node = self.lab.egress_node("bench")
        if node != "node02":
            raise MeasureError(f"the bench Egress is on '{node}', expected node02")
        # Every path must carry traffic before it is timed (ARP, first flows).
        for pod in ("tp-remote", "tp-local", "tp-direct"):
            self.ping_rtts(pod, 3)
        egress_rtt = self.ping_rtts("tp-remote", pings)
        direct_rtt = self.ping_rtts("tp-direct", pings)
        self.keep("rtt-egress.txt", [f"{v:.3f}" for v in egress_rtt])
        self.keep("rtt-direct.txt", [f"{v:.3f}" for v in direct_rtt])
        self.emit("rtt_egress_p50_ms", round(percentile(egress_rtt, 50), 3))
        self.emit("rtt_egress_p99_ms", round(percentile(egress_rtt, 99), 3))
        self.emit("rtt_direct_p50_ms", round(percentile(direct_rtt, 50), 3))
        self.emit("rtt_direct_p99_ms", round(percentile(direct_rtt, 99), 3))

        ext = f"{self.lab.name}-ext"
        remote = self.iperf_mbps(self.lab.pod_netns("tp-remote"), ext, EXT_IP, seconds)
        local = self.iperf_mbps(self.lab.pod_netns("tp-local"), ext, EXT_IP, seconds)
        direct = self.iperf_mbps(self.lab.pod_netns("tp-direct"), ext, EXT_IP, seconds)
        left, right = self.kernel_veth()
        kernel = self.iperf_mbps(left, right, "192.168.254.2", seconds)
        rows = [("remote_egress", remote), ("same_node_snat", local), ("unselected_node_path", direct),
                ("kernel_veth", kernel)]
        self.keep("throughput.txt", [f"{name} {mbps:.0f}" for name, mbps in rows])
        for name, mbps in rows:
            self.emit(f"tcp_{name}_mbps", round(mbps))
        for name, mbps in rows[:3]:
            self.emit(f"{name}_vs_kernel_ratio", round(mbps / kernel, 3))
        self.emit("remote_egress_vs_unselected_ratio", round(remote / direct, 3))
        # The same-node pod must not stay on node02: the dead-node trials crash node02.
        self.lab.run("pod", "del", "tp-local")

    # --- failover ---
    def wait_alive(self, node):
        address = self.lab.controller_address()
        wait_until(f"the controller ({address}) to see {node} alive", 20,
                   lambda: self.lab.controller_liveness(address).get(node) == "Alive",
                   interval=0.05)

    def failover(self, kind, trials):
        self.lab.run("node", "label", "node03", GATEWAY_LABEL)
        tag = f"fo-{kind}"
        stream = self.start_probes("probe", tag, 0.01)
        wait_until("the failover probe stream to arrive", 10,
                   lambda: first_arrival(self.probes, tag, APPLY_IP, 0))
        windows = []
        for _ in range(trials):
            current = self.lab.egress_node("bench")
            if current not in ("node02", "node03"):
                raise MeasureError(f"the bench Egress is on '{current}', expected node02 or node03")
            target = "node03" if current == "node02" else "node02"
            self.wait_alive(target)
            # A steady stream before the event, so the window starts with arrivals.
            settle = now_ns()
            wait_until("a steady probe stream", 5, lambda: first_arrival(
                self.probes, tag, APPLY_IP, settle + 200_000_000))
            event = now_ns()
            if kind == "graceful":
                self.lab.run("node", "label", current, "network-role-")
            else:
                self.lab.run("node", "stop", current)
            wait_until(f"the Egress to move from {current} to {target}", 20,
                       lambda: self.lab.egress_node("bench") == target, interval=0.05)
            moved = now_ns()
            # Arrivals for a while after the move: the gap, if any, is inside the window.
            wait_until("probes to flow again after the move", 20, lambda: first_arrival(
                self.probes, tag, APPLY_IP, moved + 500_000_000))
            windows.append((event - 200_000_000, now_ns(), event))
            if kind == "graceful":
                self.lab.run("node", "label", current, GATEWAY_LABEL)  # no rebalance: IP stays
            else:
                self.lab.run("node", "start", current, timeout=120)
        self.lab.stop(stream)
        gaps, losts, leaks, worst = self.windows_seen(tag, windows)
        self.keep(f"failover-{kind}.txt", [f"{g:.1f} {lost} {leak}"
                                           for g, lost, leak in zip(gaps, losts, leaks)])
        if worst:
            # The worst trial's arrivals around the event, for the plot: ms from the event, seq.
            _, event, inside = worst
            self.keep(f"timeline-{kind}.txt", [f"{(t - event) / 1e6:.2f} {seq} "
                                               f"{1 if src == APPLY_IP else 0}"
                                               for t, src, seq in sorted(inside)])
        self.emit(f"{kind}_trials", trials)
        self.emit(f"{kind}_gap_p50_ms", round(percentile(gaps, 50), 1))
        self.emit(f"{kind}_gap_max_ms", round(max(gaps), 1))
        self.emit(f"{kind}_lost_p50", percentile(losts, 50))
        self.emit(f"{kind}_lost_max", max(losts))
        self.emit(f"{kind}_wrong_source", sum(leaks))

    def windows_seen(self, tag, windows):
        """Per window (start_ns, end_ns, event_ns) of the tag's stream: the longest gap between
        probes from the egress IP (ms; the window's edges count as arrivals), the probes lost
        (holes in their sequence numbers) and the probes from another source; and the worst
        window as (gap, event, arrivals)."""
        gaps, losts, leaks = [], [], []
        worst = None
        arrivals = self.probes.of(tag)
        for start, end, event in windows:
            inside = [a for a in arrivals if start <= a[0] <= end]
            good = [a for a in inside if a[1] == APPLY_IP]
            leaks.append(len(inside) - len(good))
            times = [start] + sorted(t for t, _, _ in good) + [end]
            gap = max(b - a for a, b in zip(times, times[1:])) / 1e6
            seqs = sorted({s for _, _, s in good})
            lost = (seqs[-1] - seqs[0] + 1 - len(seqs)) if seqs else 0
            gaps.append(gap)
            losts.append(lost)
            if worst is None or gap > worst[0]:
                worst = (gap, event, inside)
        return gaps, losts, leaks, worst

    # --- availability while the control plane fails ---
    def steady_stream(self, tag):
        """Waits until the stream has arrived from the egress IP for 200 ms in a row."""
        since = now_ns()
        wait_until("a steady probe stream from the egress IP", 20, lambda: first_arrival(
            self.probes, tag, APPLY_IP, since + 200_000_000) and self.unbroken(tag, since))

    def unbroken(self, tag, since):
        times = [t for t, src, _ in self.probes.of(tag) if t >= since and src == APPLY_IP]
        return bool(times) and all(b - a < 100_000_000 for a, b in zip(times, times[1:]))

    def control_plane(self, kind, trials):
        """The gap of a 10 ms stream from a selected pod while the leader is SIGKILLed
        (leader-kill; started again after WINDOW_S) or the API server is stopped for OUTAGE_S
        (apiserver), in a window from the fault until at least WINDOW_S later and until the stream
        flows again; after each trial a window of the same length without a fault, the
        baseline."""
        tag = f"cp-{kind}"
        name = {"leader-kill": "leader_kill", "apiserver": "apiserver_outage"}[kind]
        stream = self.start_probes("probe", tag, 0.01)
        wait_until("the probe stream to arrive", 10,
                   lambda: first_arrival(self.probes, tag, APPLY_IP, 0))
        faulted, baseline = [], []
        for _ in range(trials):
            self.wait_alive(self.lab.egress_node("bench"))
            self.steady_stream(tag)
            event = now_ns()
            if kind == "leader-kill":
                stopped = self.lab.run("controller", "stop", "--leader")
                replica = re.findall(r"controller ([0-9]+) stopped", stopped)
                time.sleep(WINDOW_S)  # the window's length: a measurement, not a wait for a state
                self.lab.run("controller", "start", *replica)
            else:
                self.lab.run("apiserver", "stop")
                time.sleep(OUTAGE_S)  # the outage itself
                self.lab.run("apiserver", "start", timeout=60)
                time.sleep(max(0.0, (event + int(WINDOW_S * 1e9) - now_ns()) / 1e9))
            # The window ends once the stream flows again, so a gap that outlasts the fault is
            # measured whole and its lost probes are holes between arrivals.
            self.steady_stream(tag)
            end = now_ns()
            faulted.append((event - 200_000_000, end, event))
            # The baseline: the same length without a fault, once everything is back.
            self.wait_alive(self.lab.egress_node("bench"))
            self.steady_stream(tag)
            quiet = now_ns()
            time.sleep((end - event) / 1e9)  # the baseline window, as long as the fault's
            baseline.append((quiet - 200_000_000, now_ns(), quiet))
        self.lab.stop(stream)
        gaps, losts, leaks, worst = self.windows_seen(tag, faulted)
        quiet_gaps, quiet_losts, _, _ = self.windows_seen(tag, baseline)
        self.keep(f"availability-{kind}.txt", [f"{g:.1f} {lost} {leak}"
                                              for g, lost, leak in zip(gaps, losts, leaks)])
        if worst:
            _, event, inside = worst
            self.keep(f"timeline-{kind}.txt", [f"{(t - event) / 1e6:.2f} {seq} "
                                               f"{1 if src == APPLY_IP else 0}"
                                               for t, src, seq in sorted(inside)])
        self.emit(f"{name}_trials", trials)
        self.emit(f"{name}_gap_p50_ms", round(percentile(gaps, 50), 1))
        self.emit(f"{name}_gap_max_ms", round(max(gaps), 1))
        self.emit(f"{name}_lost_p50", percentile(losts, 50))
        self.emit(f"{name}_lost_max", max(losts))
        self.emit(f"{name}_wrong_source", sum(leaks))
        self.emit(f"{name}_baseline_gap_p50_ms", round(percentile(quiet_gaps, 50), 1))
        self.emit(f"{name}_baseline_gap_max_ms", round(max(quiet_gaps), 1))
        self.emit(f"{name}_baseline_lost_max", max(quiet_losts))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials, shorter iperf3 runs")
    parser.add_argument("--data", metavar="DIR", help="keep the raw samples in DIR")
    parser.add_argument("--only", choices=["apply", "paths", "graceful", "dead", "leader-kill",
                                           "apiserver"], action="append",
                        help="run only these phases (repeatable); default: all")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench-egress: run as root (it builds a lab of network namespaces)")
    build = os.environ.get("SLUICE_BUILD", os.path.join(ROOT, "build"))
    for binary in ("src/agent/sluice-agent", "src/cni/sluice-cni",
                   "src/controller/sluice-controller"):
        if not os.access(os.path.join(build, binary), os.X_OK):
            sys.exit(f"bench-egress: build {binary} first (ninja -C {build} {binary})")
    if args.data:
        os.makedirs(args.data, exist_ok=True)
    apply_trials, failover_trials, seconds, pings = (5, 3, 2, 50) if args.quick else (20, 10, 4, 200)
    control_trials = 2 if args.quick else 5
    phases = args.only or ["apply", "paths", "graceful", "dead", "leader-kill", "apiserver"]

    lab = Lab(f"be{os.getpid() % 100000}", build)
    # SIGTERM (e.g. from a test's timeout) must tear the lab down too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sluice-bench-egress-") as work:
        bench = Bench(lab, args, work)
        try:
            # A leader kill needs a standby to take over.
            bench.setup(2 if "leader-kill" in phases else 1)
            # The apply phase leaves the Egress applied; the others need it.
            bench.apply_to_effect(apply_trials if "apply" in phases else 1)
            if "paths" in phases:
                bench.paths(seconds, pings)
            else:
                lab.run("pod", "del", "tp-local")
            for kind in ("graceful", "dead"):
                if kind in phases:
                    bench.failover(kind, failover_trials)
            for kind in ("leader-kill", "apiserver"):
                if kind in phases:
                    bench.control_plane(kind, control_trials)
            bench.emit("total_s", round(time.monotonic() - started))
        except (MeasureError, subprocess.TimeoutExpired) as error:
            print(f"bench-egress: {error} (lab logs were in {lab.state}/logs)", file=sys.stderr)
            if args.data:
                subprocess.run(["cp", "-r", f"{lab.state}/logs", os.path.join(args.data, "logs")])
            return 1
        finally:
            lab.down()
            if args.data:
                bench.keep("bench.txt", [f"BENCH egress.{k}={v}" for k, v in bench.results])
    return 0


if __name__ == "__main__":
    sys.exit(main())
