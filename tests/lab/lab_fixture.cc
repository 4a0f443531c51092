// Lab fixture implementation: thin wrappers over tools/sluice-lab.
#include "lab_fixture.h"

#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <regex>
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
  const auto result = shell(
      "SLUICE_BUILD=" + quote(SLUICE_BUILD_ROOT) + " " + tool() + " --name " + name_ +
      " up --nodes " + std::to_string(options.nodes) + " --pod-prefix " +
      std::to_string(options.podPrefix) + " --controllers " + std::to_string(options.controllers) +
      (options.dns ? "" : " --no-dns") + (options.proxy ? "" : " --no-proxy"));
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

int Lab::leaderReplica() const {
  const auto result = lab("controller leader");
  return result.ok() ? std::atoi(result.output.c_str()) : 0;
}

int Lab::waitForLeader(std::chrono::milliseconds timeout) const {
  int leader = 0;
  waitFor(
      timeout,
      [&] {
        leader = leaderReplica();
        return leader > 0;
      },
      std::chrono::milliseconds(100));
  return leader;
}

std::string Lab::controllerAddress(int replica) {
  return "10.10.4." + std::to_string(10 + replica) + ":10349";
}

namespace {

const std::string kTools = std::string(SLUICE_SOURCE_ROOT) + "/tools/lab/";

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Whether PID is alive and its command line contains `marker` (PIDs get reused).
bool runs(int pid, const std::string& marker) {
  if (pid <= 0) return false;
  return shell("tr '\\0' ' ' </proc/" + std::to_string(pid) +
               "/cmdline 2>/dev/null | grep -qF -- " + quote(marker))
      .ok();
}

void terminate(int pid, const std::string& marker) {
  if (runs(pid, marker)) shell("kill -TERM " + std::to_string(pid));
}

}  // namespace

std::string seenFrom(const Lab& lab, const std::string& pod, const std::string& ip) {
  auto result = lab.exec(pod, "timeout 2 bash -c 'exec 3<>/dev/tcp/" + ip + "/8080; head -1 <&3'");
  return result.ok() ? trimmed(result.output) : "";
}

std::map<std::string, int> probeSources(const Lab& lab, const std::string& tag) {
  std::map<std::string, int> sources;
  const auto log = shell("cat " + lab.stateDir() + "/ext/probes.log").output;
  const std::regex line("\\d+ (\\S+) \\d+ " + tag + "\\n");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator();
       ++it)
    ++sources[(*it)[1]];
  return sources;
}

std::string analyzeProbes(const Lab& lab, const std::string& tag) {
  return shell("python3 " + kTools + "probe.py --analyze " + lab.stateDir() +
               "/ext/probes.log --tag " + quote(tag))
      .output;
}

int figure(const std::string& text, const std::string& key) {
  std::smatch match;
  if (!std::regex_search(text, match, std::regex(key + "=(\\d+)"))) return -1;
  return std::stoi(match[1]);
}

ProbeStream::ProbeStream(const Lab& lab, const std::string& pod, const std::string& tag,
                         int seconds)
    : lab_(lab), tag_(tag), sentFile_(lab.stateDir() + "/" + tag + ".sent") {
  shell("rm -f " + sentFile_);
  const auto started =
      lab.exec(pod, "python3 " + kTools + "probe.py --seconds " + std::to_string(seconds) +
                        " --tag " + quote(tag) + " >" + sentFile_ + " 2>&1 & echo $!");
  if (started.ok()) pid_ = std::atoi(started.output.c_str());
}

ProbeStream::~ProbeStream() { stop(); }

void ProbeStream::stop() {
  terminate(pid_, "--tag " + tag_);
  pid_ = 0;
}

int ProbeStream::waitSent(std::chrono::milliseconds timeout) const {
  int sent = -1;
  waitFor(timeout, [&] {
    const auto text = shell("cat " + sentFile_).output;
    if (text.empty() || text.back() != '\n') return false;
    sent = std::atoi(text.c_str());
    return true;
  });
  return sent;
}

ProbeStream::Result ProbeStream::finish() const {
  Result result;
  result.sent = waitSent();
  waitFor(std::chrono::seconds(2),
          [&] { return figure(analyzeProbes(lab_, tag_), "received") >= result.sent; });
  result.analysis = analyzeProbes(lab_, tag_);
  result.received = figure(result.analysis, "received");
  result.lost = figure(result.analysis, "lost");
  result.maxGapMs = figure(result.analysis, "max_gap_ms");
  if (result.sent < 0 || result.received < 0) return result;
  // probe.py sees only holes between arrivals; probes lost at the end of the stream (an outage
  // that lasted until stop()) count too: the sequence numbers after the last arrival, 10 ms each.
  result.lost = std::max(result.lost, result.sent - result.received);
  int lastSequence = -1;
  const auto log = shell("cat " + lab_.stateDir() + "/ext/probes.log").output;
  const std::regex line("\\d+ \\S+ (\\d+) " + tag_ + "\\n");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator();
       ++it)
    lastSequence = std::max(lastSequence, std::stoi((*it)[1]));
  result.maxGapMs = std::max(result.maxGapMs, (result.sent - 1 - lastSequence) * 10);
  return result;
}

ArpWatch::ArpWatch(const Lab& lab, const std::string& ip)
    : out_(lab.stateDir() + "/arpwatch-" + ip + ".json") {
  const auto ready = out_ + ".ready";
  shell("rm -f " + out_ + " " + ready);
  // The lab's state dir on its command line: `sluice-lab down` stops it by its PID file.
  const auto started = lab.ext("python3 " + kTools + "arpwatch.py --target " + quote(ip) +
                               " --out " + out_ + " --ready " + ready + " --tag " + lab.stateDir() +
                               " >" + out_ + ".log 2>&1 & echo $! >" + lab.stateDir() +
                               "/pids/arpwatch.pid; cat " + lab.stateDir() + "/pids/arpwatch.pid");
  if (!started.ok()) return;
  pid_ = std::atoi(started.output.c_str());
  if (!waitFor(std::chrono::seconds(5), [&] { return shell("test -e " + ready).ok(); })) pid_ = 0;
}

ArpWatch::~ArpWatch() {
  if (pid_ > 0) stop();
}

ArpWatch::Summary ArpWatch::stop() {
  Summary summary;
  terminate(pid_, "arpwatch.py");
  pid_ = 0;
  waitFor(std::chrono::seconds(5), [&] { return shell("test -s " + out_).ok(); });
  summary.text = trimmed(shell("cat " + out_).output);
  const auto field = [&](const std::string& key) {
    std::smatch match;
    if (!std::regex_search(summary.text, match, std::regex("\"" + key + "\": (\\d+)"))) return -1;
    return std::stoi(match[1]);
  };
  summary.requests = field("requests");
  summary.answered = field("answered");
  summary.maxReplies = field("max_replies");
  summary.multiReplyRequests = field("multi_reply_requests");
  summary.longestSilenceMs = field("longest_silence_ms");
  return summary;
}

}  // namespace sluice::testing
