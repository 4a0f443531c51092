// Lab fixture implementation: thin wrappers over tools/sluice-lab.
#include "lab_fixture.h"

#include <sys/wait.h>
#include <unistd.h>
#include <array>
#include <atomic>
#include <cstdio>
#include <thread>

namespace sluice::testing {

CommandResult shell(const std::string& commandLine) {
  CommandResult result;
  FILE* pipe = ::popen((commandLine + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) result.output += buffer.data();
  const int status = ::pclose(pipe);
  result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

bool waitFor(std::chrono::milliseconds timeout, const std::function<bool()>& condition,
             std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);  // the poll interval of a condition with a deadline
  }
}

std::string Lab::tool() { return std::string(SLUICE_SOURCE_ROOT) + "/tools/sluice-lab"; }

Lab::Lab(const LabOptions& options) {
  static std::atomic<int> counter{0};
  // Lab names prefix netns names: short, unique per process and per lab.
  name_ = "t" + std::to_string(::getpid() % 100000) + std::to_string(counter++ % 10);
  if (name_.size() > 8) name_ = name_.substr(0, 8);
  const auto result =
      shell("SLUICE_BUILD=" + quote(SLUICE_BUILD_ROOT) + " " + tool() + " --name " + name_ +
            " up --nodes " + std::to_string(options.nodes) + " --pod-prefix " +
            std::to_string(options.podPrefix) + (options.dns ? "" : " --no-dns") +
            (options.proxy ? "" : " --no-proxy"));
  up_ = result.ok();
  upOutput_ = result.output;
}

Lab::~Lab() { shell(tool() + " --name " + name_ + " down"); }

CommandResult Lab::lab(const std::string& arguments) const {
  return shell("SLUICE_BUILD=" + quote(SLUICE_BUILD_ROOT) + " " + tool() + " --name " + name_ +
               " " + arguments);
}

std::string Lab::addPod(const std::string& name, const std::string& node, const std::string& labels,
                        const std::string& ns) {
  auto result = lab("pod add " + quote(name) + " --node " + quote(node) + " --namespace " +
                    quote(ns) + (labels.empty() ? "" : " --labels " + quote(labels)));
  lastOutput_ = result.output;
  if (!result.ok()) return "";
  auto ip = result.output;
  while (!ip.empty() && (ip.back() == '\n' || ip.back() == ' ')) ip.pop_back();
  if (auto newline = ip.rfind('\n'); newline != std::string::npos) ip = ip.substr(newline + 1);
  return ip;
}

CommandResult Lab::exec(const std::string& pod, const std::string& command) const {
  return lab("exec " + quote(pod) + " -- bash -c " + quote(command));
}

CommandResult Lab::ext(const std::string& command) const {
  return lab("ext -- sh -c " + quote(command));
}

CommandResult Lab::nodeExec(const std::string& node, const std::string& command) const {
  return lab("node-exec " + quote(node) + " -- sh -c " + quote(command));
}

CommandResult Lab::kubectl(const std::string& arguments) const {
  return lab("kubectl -- " + arguments);
}

bool Lab::ping(const std::string& pod, const std::string& ip) const {
  return exec(pod, "ping -c 1 -W 1 " + ip).ok();
}

CommandResult Lab::serve(const std::string& pod, int port, int udpPort) const {
  std::string arguments = "serve " + quote(pod) + " --port " + std::to_string(port);
  if (udpPort > 0) arguments += " --udp " + std::to_string(udpPort);
  return lab(arguments);
}

CommandResult Lab::setPodReady(const std::string& pod, bool ready) const {
  return lab("pod ready " + quote(pod) + (ready ? " true" : " false"));
}

CommandResult Lab::dnsQuery(const std::string& pod, const std::string& name,
                            const std::string& server) const {
  return lab("dns-query " + quote(pod) + " " + quote(name) +
             (server.empty() ? "" : " --server " + quote(server)));
}

std::string Lab::dnsPodIp() const {
  CommandResult result = lab("pod ip kube-system/coredns-0");
  std::string ip = result.output;
  while (!ip.empty() && (ip.back() == '\n' || ip.back() == ' ')) ip.pop_back();
  return result.ok() ? ip : "";
}

CommandResult Lab::kubeProxy(const std::string& node, bool clear) const {
  return lab(std::string("kube-proxy ") + (clear ? "clear " : "sync ") + quote(node));
}

}  // namespace sluice::testing
