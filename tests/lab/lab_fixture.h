// Lab: a test's own sluice-lab (unique name, brought up in the constructor, torn down in the
// destructor even when the test fails), plus helpers to run commands and wait on conditions.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace sluice::testing {

struct CommandResult {
  int exitCode = -1;
  std::string output;  // stdout and stderr
  bool ok() const { return exitCode == 0; }
};

// Runs a shell command line; output is captured.
CommandResult shell(const std::string& commandLine);
std::string quote(const std::string& text);

// Polls `condition` until it holds or `timeout` passes; returns whether it held.
bool waitFor(std::chrono::milliseconds timeout, const std::function<bool()>& condition,
             std::chrono::milliseconds interval = std::chrono::milliseconds(20));

struct LabOptions {
  int nodes = 3;
  int podPrefix = 24;
  // Cluster DNS (pod kube-system/coredns-0 on node01, see docs/lab.md). Off by default so tests
  // that count pods, ports or addresses on a node see only their own.
  bool dns = false;
  // Sluice's Service proxy in the agents; false: `up --no-proxy`, for kube-proxy's own rules
  // (`sluice-lab kube-proxy sync NODE`).
  bool proxy = true;
  // sluice-controller replicas (`up --controllers N`, 1 to 3): replica I on host LAB-ctlI,
  // controllerAddress(I); they elect a leader through the Lease kube-system/sluice-controller.
  int controllers = 1;
};

class Lab {
 public:
  explicit Lab(const LabOptions& options = {});
  ~Lab();
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  const std::string& name() const { return name_; }
  bool up() const { return up_; }
  const std::string& upOutput() const { return upOutput_; }
  std::string stateDir() const { return "/run/sluice-lab/" + name_; }

  // `sluice-lab --name NAME ARGS` (ARGS already quoted as needed).
  CommandResult lab(const std::string& arguments) const;
  // Adds a pod and returns its IP ("" on failure; the output is in lastOutput()).
  std::string addPod(const std::string& name, const std::string& node,
                     const std::string& labels = "", const std::string& ns = "default");
  CommandResult exec(const std::string& pod, const std::string& command) const;
  CommandResult ext(const std::string& command) const;
  CommandResult nodeExec(const std::string& node, const std::string& command) const;
  CommandResult kubectl(const std::string& arguments) const;
  // Whether one ping from `pod` to `ip` gets an answer within a second.
  bool ping(const std::string& pod, const std::string& ip) const;
  const std::string& lastOutput() const { return lastOutput_; }

  // Services in the lab (docs/lab.md): a test server in `pod` answering with the pod's name on
  // TCP `port` (HTTP) and, when udpPort > 0, on UDP `udpPort`; returns once it listens.
  CommandResult serve(const std::string& pod, int port = 80, int udpPort = 0) const;
  // Sets the pod's Ready condition, as kubelet does after a readiness probe.
  CommandResult setPodReady(const std::string& pod, bool ready) const;
  // Resolves `name` (as given, no search list) from `pod` with the lab's DNS client; server ""
  // means the pod's resolv.conf nameserver (10.96.0.10). Output: "NAME A IP" lines or the rcode.
  CommandResult dnsQuery(const std::string& pod, const std::string& name,
                         const std::string& server = "") const;
  // The coredns-0 pod's IP (the cluster DNS server before any Service proxy serves 10.96.0.10).
  std::string dnsPodIp() const;
  // Installs (or with clear=true removes) kube-proxy's iptables rules on `node`.
  CommandResult kubeProxy(const std::string& node, bool clear = false) const;

  // The replica holding the controllers' Lease (`sluice-lab controller leader`), 0 if none.
  int leaderReplica() const;
  // Waits until some replica holds the Lease (or `timeout` passes); that replica, or 0.
  int waitForLeader(std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;
  // HOST:PORT of controller replica `replica` (1-based).
  static std::string controllerAddress(int replica);

  static std::string tool();  // path of tools/sluice-lab

 private:
  std::string name_;
  bool up_ = false;
  std::string upOutput_;
  std::string lastOutput_;
};

// What the external host says it saw as the source of a TCP connection from `pod` to `ip`
// (tools/lab/extsrv.py on :8080); "" when the connection fails.
std::string seenFrom(const Lab& lab, const std::string& pod, const std::string& ip = "10.10.3.1");

// The probes tagged `tag` that the external host logged (tools/lab/probe.py), by source IP.
std::map<std::string, int> probeSources(const Lab& lab, const std::string& tag);

// probe.py's analysis of the probes of `tag` the external host logged:
// "received=N lost=N max_gap_ms=N sources={...}". Lost probes are the holes in the sequence
// numbers received; the gap is the longest time between two arrivals.
std::string analyzeProbes(const Lab& lab, const std::string& tag);

// The number after "KEY=" in `text`, -1 when absent.
int figure(const std::string& text, const std::string& key);

// A probe stream from a pod to the external host in the background: a UDP probe every 10 ms
// (tools/lab/probe.py) for at most `seconds`, or until stop(). The external host logs each
// arrival with its source IP, so gaps and losses are measured at the receiver.
class ProbeStream {
 public:
  ProbeStream(const Lab& lab, const std::string& pod, const std::string& tag, int seconds);
  ~ProbeStream();  // stops the sender if it still runs
  ProbeStream(const ProbeStream&) = delete;
  ProbeStream& operator=(const ProbeStream&) = delete;

  bool started() const { return pid_ > 0; }
  const std::string& tag() const { return tag_; }
  // Ends the stream now (SIGTERM: the sender still reports how many it sent).
  void stop();
  // Waits for the sender to finish; how many probes it sent (-1 if it did not finish in `timeout`).
  int waitSent(std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  struct Result {
    std::string analysis;  // analyzeProbes()
    int sent = -1;
    int received = -1;
    int lost = -1;      // sent but never received, the end of the stream included
    int maxGapMs = -1;  // the longest time without an arrival, the end of the stream included
  };
  // Waits for the sender to finish and the external host to log what arrived (or 2 s more).
  Result finish() const;

 private:
  const Lab& lab_;
  std::string tag_;
  std::string sentFile_;
  int pid_ = 0;
};

// Who answers ARP for `ip` on the underlay, watched from the external host
// (tools/lab/arpwatch.py): a request every 50 ms, each reply counted against the request it
// answers. Two replies to one request mean two nodes answer for the IP (they would both use the
// IP's floating MAC, so MACs cannot tell them apart).
class ArpWatch {
 public:
  ArpWatch(const Lab& lab, const std::string& ip);
  ~ArpWatch();  // stops the watcher if it still runs
  ArpWatch(const ArpWatch&) = delete;
  ArpWatch& operator=(const ArpWatch&) = delete;

  bool started() const { return pid_ > 0; }
  struct Summary {
    std::string text;  // the watcher's JSON
    int requests = -1;
    int answered = -1;
    int maxReplies = -1;          // the most replies one request got
    int multiReplyRequests = -1;  // requests answered more than once
    int longestSilenceMs = -1;    // the longest run of unanswered requests
  };
  // Stops the watcher and reads its summary (fields stay -1 if it wrote none).
  Summary stop();

 private:
  std::string out_;
  int pid_ = 0;
};

}  // namespace sluice::testing
