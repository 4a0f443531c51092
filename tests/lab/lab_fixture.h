// Lab: a test's own sluice-lab (unique name, brought up in the constructor, torn down in the
// destructor even when the test fails), plus helpers to run commands and wait on conditions.
#pragma once

#include <chrono>
#include <functional>
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

  static std::string tool();  // path of tools/sluice-lab

 private:
  std::string name_;
  bool up_ = false;
  std::string upOutput_;
  std::string lastOutput_;
};

}  // namespace sluice::testing
