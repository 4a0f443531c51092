#!/usr/bin/env python3
"""sluice-lab report: the evaluation report, a Markdown page with gnuplot PNGs.

Runs the Egress measurements (tools/lab/egress_measure.py, the code behind `tools/bench egress`)
and the CNI ADD latency loop (tools/lab/bench-podnet), each in a lab of its own, then writes
DIR/report.md, DIR/*.png and the raw samples in DIR/data.

  tools/sluice-lab report [--quick] [--out DIR]
"""
import argparse
import datetime
import os
import platform
import re
import shutil
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # importing egress_measure must not write into the source tree
sys.path.insert(0, HERE)
from egress_measure import percentile  # noqa: E402  (one definition of the statistic)


def read_numbers(path, column=0):
    try:
        with open(path) as lines:
            return [float(line.split()[column]) for line in lines if line.strip()]
    except FileNotFoundError:
        return []


def read_rows(path):
    try:
        with open(path) as lines:
            return [line.split() for line in lines if line.strip()]
    except FileNotFoundError:
        return []


def bench_values(text):
    return dict(re.findall(r"^BENCH (\S+?)=(\S+)$", text, re.M))


def run_streamed(command, log_path, env):
    """Runs command, echoing its output and keeping it in log_path; returns (rc, output)."""
    output = []
    with open(log_path, "w") as log, subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as child:
        # A SIGTERM to the report (a test's timeout) reaches the measurement, which then tears
        # its lab down, and the report stops once it has.
        def forward(signum, _frame):
            child.send_signal(signum)
        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        for line in child.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            log.write(line)
            output.append(line)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return child.returncode, "".join(output)


def machine():
    def first(path, key):
        try:
            with open(path) as lines:
                for line in lines:
                    if line.startswith(key):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "unknown"

    ovs = subprocess.run(["/usr/lib/openvswitch-switch/ovs-vswitchd", "--version"],
                         capture_output=True, text=True).stdout.split("\n")[0]
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    memory_kib = first("/proc/meminfo", "MemTotal").split()[0]
    return [
        ("CPU", first("/proc/cpuinfo", "model name")),
        ("Cores", str(os.cpu_count())),
        ("Memory", f"{int(memory_kib) / 1024 / 1024:.1f} GiB" if memory_kib.isdigit() else "?"),
        ("Kernel", f"{platform.system()} {platform.release()}"),
        ("OVS", f"{ovs} (userspace datapath, datapath_type=netdev)"),
        ("Load average at start", " ".join(f"{v:.2f}" for v in os.getloadavg())),
        ("Date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("Sluice commit", commit or "unknown"),
    ]


# --- plots ---
GNUPLOT_HEAD = """set terminal pngcairo size 900,500 enhanced font 'DejaVu Sans,11'
set output '{out}'
set grid ytics lc rgb '#dddddd'
set border 3
set tics nomirror
"""


def gnuplot(script, out_dir, name):
    path = os.path.join(out_dir, "data", f"{name}.gp")
    with open(path, "w") as file:
        file.write(GNUPLOT_HEAD.format(out=os.path.join(out_dir, f"{name}.png")) + script)
    result = subprocess.run(["gnuplot", path], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"gnuplot {path}: {result.stderr.strip()}")


def cdf_file(values, path):
    ordered = sorted(values)
    with open(path, "w") as out:
        for index, value in enumerate(ordered, 1):
            out.write(f"{value} {100.0 * index / len(ordered):.2f}\n")


def plot_throughput(out, rows):
    labels = {"remote_egress": "via remote\\negress node", "same_node_snat": "same-node\\nSNAT",
              "unselected_node_path": "unselected pod\\n(node IP path)",
              "kernel_veth": "kernel veth\\n(baseline)"}
    data = os.path.join(out, "data", "throughput.dat")
    with open(data, "w") as file:
        for index, (name, mbps) in enumerate(rows):
            file.write(f"{index} \"{labels.get(name, name)}\" {mbps}\n")
    gnuplot(f"""set title 'TCP throughput to the external host (iperf3, one stream)'
set ylabel 'Mbit/s'
set yrange [0:*]
set style fill solid 0.8 border -1
set boxwidth 0.6
set xtics ('' 0)
set bmargin 5
unset key
plot '{data}' using 1:3:xtic(2) with boxes lc rgb '#3b75af', \\
     '' using 1:3:(sprintf('%d', $3)) with labels offset 0,1 notitle
""", out, "throughput")


def plot_rtt(out):
    egress, direct = (read_numbers(os.path.join(out, "data", f"rtt-{kind}.txt"))
                      for kind in ("egress", "direct"))
    for kind, values in (("egress", egress), ("direct", direct)):
        cdf_file(values, os.path.join(out, "data", f"rtt-{kind}.cdf"))
    gnuplot(f"""set title 'Ping RTT from a pod on node01 to the external host (CDF)'
set xlabel 'round-trip time (ms, log scale: the tail matters)'
set logscale x
set ylabel '% of pings'
set yrange [0:100]
set key bottom right
plot '{out}/data/rtt-egress.cdf' using 1:2 with steps lw 2 lc rgb '#c0392b' title 'through the egress node (Geneve + OVS SNAT)', \\
     '{out}/data/rtt-direct.cdf' using 1:2 with steps lw 2 lc rgb '#3b75af' title 'direct (unselected pod, node IP)'
""", out, "rtt")


def gap_of(rows):
    """(start, end) in ms of the longest gap between good arrivals in a timeline."""
    times = [float(r[0]) for r in rows if r[2] == "1"]
    best = (0.0, 0.0)
    for a, b in zip(times, times[1:]):
        if b - a > best[1] - best[0]:
            best = (a, b)
    return best


def plot_failover(out):
    panels = []
    for kind, title in (("graceful", "graceful move (label removed, old node alive)"),
                        ("dead", "dead node (agent and OVS killed)")):
        rows = read_rows(os.path.join(out, "data", f"timeline-{kind}.txt"))
        if not rows:
            continue
        start, end = gap_of(rows)
        base = min(int(r[1]) for r in rows)
        data = os.path.join(out, "data", f"timeline-{kind}.dat")
        with open(data, "w") as file:
            for r in rows:
                file.write(f"{r[0]} {int(r[1]) - base} {r[2]}\n")
        # Probes that never arrived, drawn where they would have: between their neighbours.
        lost = os.path.join(out, "data", f"timeline-{kind}-lost.dat")
        good = [(float(r[0]), int(r[1]) - base) for r in rows if r[2] == "1"]
        with open(lost, "w") as file:
            file.write("# ms seq (interpolated)\n")
            for (t0, s0), (t1, s1) in zip(good, good[1:]):
                for seq in range(s0 + 1, s1):
                    file.write(f"{t0 + (t1 - t0) * (seq - s0) / (s1 - s0):.2f} {seq}\n")
        panels.append(f"""set title 'Worst {title}: longest gap {end - start:.0f} ms'
set object 1 rect from {start},graph 0 to {end},graph 1 fc rgb '#f5b7b1' fs solid 0.6 noborder behind
set arrow 1 from 0,graph 0 to 0,graph 1 nohead lc rgb '#555555' dt 2
plot '{data}' using 1:($3==1?$2:1/0) with points pt 7 ps 0.4 lc rgb '#3b75af' title 'probe received from the egress IP', \\
     '{data}' using 1:($3==0?$2:1/0) with points pt 7 ps 0.8 lc rgb '#c0392b' title 'probe with a wrong source IP', \\
     '{lost}' using 1:2 with points pt 2 ps 0.8 lc rgb '#e67e22' title 'probe lost (never received)'
unset object 1
unset arrow 1
""")
    gnuplot(f"""set terminal pngcairo size 900,{360 * max(1, len(panels))} enhanced font 'DejaVu Sans,11'
set output '{out}/failover.png'
set multiplot layout {max(1, len(panels))},1
set xlabel 'ms from the event (dashed line); shaded: the longest gap'
set ylabel 'probe sequence number'
set key bottom right
""" + "".join(panels) + "unset multiplot\n", out, "failover")


def plot_cdf(out, name, title, xlabel, series, ylabel="% of trials"):
    lines = []
    for file_name, label, colour in series:
        values = read_numbers(os.path.join(out, "data", file_name))
        if not values:
            continue
        cdf = os.path.join(out, "data", file_name.replace(".txt", ".cdf"))
        cdf_file(values, cdf)
        lines.append(f"'{cdf}' using 1:2 with linespoints pt 7 ps 0.6 lw 2 lc rgb '{colour}' "
                     f"title '{label}'")
    gnuplot(f"""set title '{title}'
set xlabel '{xlabel}'
set ylabel '{ylabel}'
set yrange [0:100]
set xrange [0:*]
set key bottom right
plot {', '.join(lines)}
""", out, name)


# --- the page ---
def fmt(value, digits=1):
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return "n/a"


def write_report(out, options, egress, podnet, duration):
    d = os.path.join(out, "data")
    e = lambda key: egress.get(f"egress.{key}", "n/a")  # noqa: E731
    p = lambda key: podnet.get(f"podnet.{key}", "n/a")  # noqa: E731
    apply = read_numbers(os.path.join(d, "apply.txt"))
    delete = read_numbers(os.path.join(d, "delete.txt"))
    graceful = read_rows(os.path.join(d, "failover-graceful.txt"))
    dead = read_rows(os.path.join(d, "failover-dead.txt"))
    rtt_egress = read_numbers(os.path.join(d, "rtt-egress.txt"))
    rtt_direct = read_numbers(os.path.join(d, "rtt-direct.txt"))
    cni_add = read_numbers(os.path.join(d, "cni-add.txt"))
    cni_del = read_numbers(os.path.join(d, "cni-del.txt"))
    cni_exec = read_numbers(os.path.join(d, "cni-exec.txt"))
    tput = {r[0]: float(r[1]) for r in read_rows(os.path.join(d, "throughput.txt"))}
    kernel = tput.get("kernel_veth") or float("nan")

    def trials(rows):
        return " ".join(f"{float(r[0]):.0f}" for r in rows) or "n/a"

    lines = [
        "# Sluice Egress evaluation report",
        "",
        f"Generated by `tools/sluice-lab report{' --quick' if options.quick else ''}` in "
        f"{duration:.0f} s. Every figure comes from real packets in a lab of network namespaces "
        "on this machine: three nodes, each with its own ovsdb-server, ovs-vswitchd (userspace "
        "datapath) and sluice-agent, a control-plane host with the lab API server, a host "
        "running sluice-controller, and an external host that logs every probe it receives with its "
        "source IP and a receive timestamp. The Egress is the thesis's scenario: a pod on node01 "
        "leaves the cluster through an egress node with IP 10.10.0.20 from an ExternalIPPool "
        "whose nodeSelector is `network-role=egress-gateway`.",
        "",
        "## Summary",
        "",
        "| What | Result | Target |",
        "| --- | --- | --- |",
        f"| Apply to effect, p50 / p99 ({e('apply_trials')} trials) | "
        f"{fmt(e('apply_to_effect_p50_ms'), 0)} / {fmt(e('apply_to_effect_p99_ms'), 0)} ms | "
        "p50 under 200 ms |",
        f"| Graceful move gap, p50 / max ({e('graceful_trials')} trials) | "
        f"{fmt(e('graceful_gap_p50_ms'), 0)} / {fmt(e('graceful_gap_max_ms'), 0)} ms, "
        f"lost probes max {e('graceful_lost_max')} | 0 probes lost |",
        f"| Dead node gap, p50 / max ({e('dead_trials')} trials) | "
        f"{fmt(e('dead_gap_p50_ms'), 0)} / {fmt(e('dead_gap_max_ms'), 0)} ms, lost probes "
        f"max {e('dead_lost_max')} | under 1 s (Antrea: 6 to 9 s) |",
        f"| Probes with a wrong source IP during failovers | "
        f"{e('graceful_wrong_source')} graceful, {e('dead_wrong_source')} dead node | 0 |",
        f"| TCP via a remote egress node | {e('tcp_remote_egress_mbps')} Mbit/s "
        f"({fmt(e('remote_egress_vs_kernel_ratio'), 2)} of the kernel veth) | |",
        f"| Ping RTT p50, via egress / direct | {fmt(e('rtt_egress_p50_ms'), 3)} / "
        f"{fmt(e('rtt_direct_p50_ms'), 3)} ms | |",
        f"| CNI ADD p50 / p99 ({len(cni_add)} pods) | {p('cni_add_p50_ms')} / "
        f"{p('cni_add_p99_ms')} ms | |",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {v} |" for k, v in machine_info]
    lines += [
        "",
        "The machine is shared (other builds and labs may run at the same time); the load "
        "average above says how busy it was. Each comparison below is measured in the same run.",
        "",
        "## Throughput",
        "",
        "![TCP throughput](throughput.png)",
        "",
        "One iperf3 TCP stream from a pod to the external host, "
        f"{'2' if options.quick else '4'} s each after a 1 s warm-up, all in one run.",
        "",
        "| Path | Mbit/s | vs kernel veth |",
        "| --- | --- | --- |",
    ]
    names = {"remote_egress": "pod on node01, Egress on node02 (Geneve, then OVS SNAT)",
             "same_node_snat": "pod on node02, Egress on node02 (OVS SNAT on the same node)",
             "unselected_node_path": "unselected pod on node01 (leaves with the node IP)",
             "kernel_veth": "plain kernel veth between two netns, offloads off (baseline)"}
    for name, mbps in tput.items():
        lines.append(f"| {names.get(name, name)} | {mbps:.0f} | {mbps / kernel:.2f} |")
    lines += [
        "",
        "The OVS paths run in ovs-vswitchd's userspace datapath (these machines have no openvswitch "
        "kernel module), which is CPU-bound on one core; the kernel veth has checksum offload and "
        "segmentation offloads off, as the pods' interfaces do, so it is a fair floor for the "
        "kernel path rather than its best case.",
        "",
        "## Latency",
        "",
        "![Ping RTT](rtt.png)",
        "",
        f"ICMP echo from a pod on node01 to the external host, {len(rtt_egress)} pings at 10 ms "
        "intervals per path.",
        "",
        "| Path | p50 ms | p99 ms |",
        "| --- | --- | --- |",
        f"| through the egress node (node01 to node02 over Geneve, SNAT to 10.10.0.20) | "
        f"{fmt(percentile(rtt_egress, 50), 3)} | {fmt(percentile(rtt_egress, 99), 3)} |",
        f"| direct (unselected pod, node01's own IP) | {fmt(percentile(rtt_direct, 50), 3)} | "
        f"{fmt(percentile(rtt_direct, 99), 3)} |",
        "",
        "## Failover",
        "",
        "![Failover timelines](failover.png)",
        "",
        "A pod sends a UDP probe every 10 ms to the external host. Each point is a probe the "
        "external host received, placed at its receive time relative to the event (the dashed "
        "line). The shaded band is the longest silence. The plot shows the worst trial of each kind.",
        "",
        "- **Graceful move:** the `network-role=egress-gateway` label is removed from the current "
        "egress node, which stays alive; the controller moves the IP to the other pool node. The "
        "label is put back between trials (the controller does not rebalance, so the IP stays).",
        "- **Dead node:** `sluice-lab node stop` kills the egress node's agent and OVS with SIGKILL; "
        "the controller notices the silence (nodeSilenceTimeout 500 ms) and moves the IP. The node "
        "is started again between trials.",
        "",
        "| Case | Trials | Gap p50 ms | Gap max ms | Lost p50 | Lost max | Wrong source | Gaps per trial (ms) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| Graceful move | {len(graceful)} | {fmt(e('graceful_gap_p50_ms'), 0)} | "
        f"{fmt(e('graceful_gap_max_ms'), 0)} | {e('graceful_lost_p50')} | "
        f"{e('graceful_lost_max')} | {e('graceful_wrong_source')} | {trials(graceful)} |",
        f"| Dead node | {len(dead)} | {fmt(e('dead_gap_p50_ms'), 0)} | "
        f"{fmt(e('dead_gap_max_ms'), 0)} | {e('dead_lost_p50')} | {e('dead_lost_max')} | "
        f"{e('dead_wrong_source')} | {trials(dead)} |",
        "",
        "With a 10 ms stream a gap of about 10 to 20 ms is no loss at all; the lost column counts "
        "the sequence numbers that never arrived.",
        "",
        "## Apply to effect",
        "",
        "![Apply to effect](apply.png)",
        "",
        "Time from starting `kubectl apply` of an Egress until the external host receives the "
        "first probe (5 ms stream) from the egress IP; the Egress is deleted between trials, and "
        "the time until probes leave with node01's IP again is measured too. It includes "
        "kubectl's own start-up and OpenAPI fetch (p50 of the apply command alone: "
        f"{fmt(e('apply_kubectl_p50_ms'), 0)} ms; the first SNATed probe arrived "
        f"{fmt(e('apply_after_kubectl_exit_p50_ms'), 0)} ms after kubectl exited at p50 and "
        f"{fmt(e('apply_after_kubectl_exit_p99_ms'), 0)} ms at p99, negative meaning before).",
        "",
        "| | Trials | p50 ms | p99 ms | min ms | max ms |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| apply to first SNATed probe | {len(apply)} | {fmt(percentile(apply, 50), 0)} | "
        f"{fmt(percentile(apply, 99), 0)} | {fmt(min(apply, default='n/a'), 0)} | "
        f"{fmt(max(apply, default='n/a'), 0)} |",
        f"| delete to first probe with the node IP | {len(delete)} | "
        f"{fmt(percentile(delete, 50), 0)} | {fmt(percentile(delete, 99), 0)} | "
        f"{fmt(min(delete, default='n/a'), 0)} | {fmt(max(delete, default='n/a'), 0)} |",
        "",
        "## CNI ADD latency",
        "",
        "![CNI latency](cni.png)",
        "",
        f"`sluice-cni` run the way a runtime runs it, in node01's netns, for {len(cni_add)} pods "
        "one after another (tools/lab/bench-podnet): fork and exec, the agent round trip over "
        "its unix socket, veth, OVS port and flows. VERSION is answered by the binary itself, so "
        "it is the fork-and-exec floor.",
        "",
        "| Command | p50 ms | p99 ms | max ms |",
        "| --- | --- | --- | --- |",
    ]
    for label, values in (("ADD", cni_add), ("DEL", cni_del), ("VERSION (floor)", cni_exec)):
        lines.append(f"| {label} | {fmt(percentile(values, 50), 2)} | "
                     f"{fmt(percentile(values, 99), 2)} | {fmt(max(values, default='n/a'), 2)} |")
    lines += [
        "",
        "## Raw data",
        "",
        "`data/` holds every sample (one value a line), the BENCH lines of both runs "
        "(`bench-egress.log`, `bench-podnet.log`) and the gnuplot scripts.",
        "",
    ]
    with open(os.path.join(out, "report.md"), "w") as page:
        page.write("\n".join(lines))


machine_info = []


def main():
    global machine_info
    parser = argparse.ArgumentParser(prog="sluice-lab report", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer trials and shorter runs (about 2 minutes, for CI)")
    parser.add_argument("--out", metavar="DIR",
                        default=datetime.datetime.now().strftime("sluice-report-%Y%m%d-%H%M%S"))
    options = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("sluice-lab report: run as root (the measurements build labs of network namespaces)")
    if not shutil.which("gnuplot"):
        sys.exit("sluice-lab report: gnuplot is missing (tools/install-deps installs gnuplot-nox)")
    out = os.path.abspath(options.out)
    data = os.path.join(out, "data")
    os.makedirs(data, exist_ok=True)
    machine_info = machine()  # before the load we add ourselves
    started = datetime.datetime.now()
    env = dict(os.environ)

    egress_command = [sys.executable, os.path.join(HERE, "egress_measure.py"), "--data", data]
    rc, text = run_streamed(egress_command + (["--quick"] if options.quick else []),
                            os.path.join(data, "bench-egress.log"), env)
    if rc != 0:
        sys.exit(f"sluice-lab report: the Egress measurements failed (see {data}/bench-egress.log)")
    egress = bench_values(text)

    podnet_command = [os.path.join(HERE, "bench-podnet"), "--pods", "20" if options.quick else "100",
                      "--seconds", "1", "--keep", data]
    rc, text = run_streamed(podnet_command, os.path.join(data, "bench-podnet.log"), env)
    if rc != 0:
        sys.exit(f"sluice-lab report: the CNI measurements failed (see {data}/bench-podnet.log)")
    podnet = bench_values(text)

    rows = [(r[0], float(r[1])) for r in read_rows(os.path.join(data, "throughput.txt"))]
    plot_throughput(out, rows)
    plot_rtt(out)
    plot_failover(out)
    plot_cdf(out, "apply", "Egress apply / delete to effect at the external host (CDF)",
             "ms from starting kubectl", [("apply.txt", "apply: first probe from the egress IP",
                                           "#c0392b"),
                                          ("delete.txt", "delete: first probe from the node IP",
                                           "#3b75af")])
    plot_cdf(out, "cni", "sluice-cni latency per pod (CDF)", "ms",
             [("cni-add.txt", "ADD", "#c0392b"), ("cni-del.txt", "DEL", "#3b75af"),
              ("cni-exec.txt", "VERSION (fork+exec floor)", "#7f8c8d")], ylabel="% of pods")
    write_report(out, options, egress, podnet,
                 (datetime.datetime.now() - started).total_seconds())
    print(f"report: {out}/report.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
