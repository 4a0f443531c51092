// Egress end to end: the thesis's Listings 1 and 2 applied verbatim with kubectl, the source IP
// checked at the external host, failover, multi-IP Egresses, destination CIDRs, and no leaks.
#include <catch2/catch.hpp>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "lab_fixture.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTools = std::string(SLUICE_SOURCE_ROOT) + "/tools/lab/";

// A packet capture on the external host for a whole test. The leak check at the end reads what
// actually arrived there, independently of what the agents believe they installed. Immediate
// mode: otherwise the packets of the last buffer block are dropped when tcpdump is stopped.
class ExtCapture {
 public:
  struct Packet {
    std::string src;
    int sport = 0;
    std::string dst;
    int dport = 0;
    std::string line;
  };

  explicit ExtCapture(const Lab& lab) : file_(lab.stateDir() + "/ext/capture.pcap") {
    auto started = lab.ext("tcpdump -i eth0 -n -U --immediate-mode -w " + file_ +
                           " ip >/dev/null 2>&1 & echo $!");
    pid_ = std::atoi(started.output.c_str());
    // tcpdump writes the file header once it captures.
    REQUIRE(waitFor(5s, [&] { return shell("test -s " + file_).ok(); }));
  }
  ~ExtCapture() { stop(); }
  ExtCapture(const ExtCapture&) = delete;
  ExtCapture& operator=(const ExtCapture&) = delete;

  void stop() {
    if (pid_ <= 0) return;
    shell("kill -INT " + std::to_string(pid_));
    waitFor(5s, [&] { return !shell("test -d /proc/" + std::to_string(pid_)).ok(); });
    pid_ = 0;
  }

  std::vector<Packet> packets() {
    stop();
    std::vector<Packet> out;
    const auto text = shell("tcpdump -n -r " + file_ + " 2>/dev/null").output;
    const std::regex header(
        R"(IP (\d+\.\d+\.\d+\.\d+)(?:\.(\d+))? > (\d+\.\d+\.\d+\.\d+)(?:\.(\d+))?:)");
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      std::smatch match;
      if (!std::regex_search(line, match, header)) continue;
      out.push_back(Packet{match[1], match[2].matched ? std::stoi(match[2]) : 0, match[3],
                           match[4].matched ? std::stoi(match[4]) : 0, line});
    }
    return out;
  }

 private:
  std::string file_;
  int pid_ = 0;
};

// What a selected pod may look like at the external host: never a pod IP (10.244.0.0/16); its
// probes (UDP :9000) and its held TCP connection (local port 40000) only from `egressIps`.
std::vector<std::string> leaks(const std::vector<ExtCapture::Packet>& packets,
                               const std::set<std::string>& egressIps) {
  std::vector<std::string> found;
  for (const auto& packet : packets) {
    const bool podIp = packet.src.rfind("10.244.", 0) == 0;
    const bool probe = packet.dst == "10.10.3.1" && packet.dport == 9000;
    const bool held = packet.dst == "10.10.3.1" && packet.dport == 8080 && packet.sport == 40000;
    if (podIp || ((probe || held) && !egressIps.contains(packet.src))) found.push_back(packet.line);
  }
  return found;
}

struct ThesisLab {
  Lab lab{{.nodes = 3}};
  std::string web, other;
  ThesisLab() {
    REQUIRE(lab.up());
    REQUIRE(lab.lab("ns add prod --labels env=prod").ok());
    REQUIRE(lab.lab("node label node02 network-role=egress-gateway").ok());
    REQUIRE(lab.lab("node label node03 network-role=egress-gateway").ok());
    web = lab.addPod("web-1", "node01", "role=web", "prod");
    other = lab.addPod("other-1", "node01", "role=db", "prod");
    REQUIRE_FALSE(web.empty());
    REQUIRE_FALSE(other.empty());
    const std::string fixtures = std::string(SLUICE_SOURCE_ROOT) + "/tests/fixtures/thesis/";
    REQUIRE(lab.kubectl("apply -f " + fixtures + "listing2-pool.yml").ok());
    REQUIRE(lab.kubectl("apply -f " + fixtures + "listing1-egress.yml").ok());
  }
  std::string egressNode() const {
    auto node = lab.kubectl("get egress egress-prod-web -o jsonpath='{.status.egressNode}'").output;
    return node;
  }
  // Waits for status to name a node other than `first`, and returns it.
  std::string waitForNewEgressNode(const std::string& first) const {
    std::string second;
    REQUIRE(waitFor(
        5s,
        [&] {
          second = egressNode();
          return !second.empty() && second != first;
        },
        20ms));
    return second;
  }
};

TEST_CASE("Listings 1 and 2 verbatim: the selected pod leaves as 10.10.0.8 and fails over",
          "[lab][egress]") {
  ThesisLab thesis;
  auto& lab = thesis.lab;
  ExtCapture capture(lab);
  REQUIRE(waitFor(
      10s, [&] { return seenFrom(lab, "prod/web-1") == "10.10.0.8"; }, 50ms));
  const auto first = thesis.egressNode();
  CHECK((first == "node02" || first == "node03"));
  CHECK(seenFrom(lab, "prod/other-1") == "10.10.2.1");  // not selected: the node's IP

  // A probe stream from web-1 through a crash of the egress node.
  const ProbeStream probes(lab, "prod/web-1", "failover", 4);
  REQUIRE(probes.started());
  REQUIRE(waitFor(
      3s, [&] { return probeSources(lab, "failover")["10.10.0.8"] > 20; }, 20ms));
  REQUIRE(lab.lab("node stop " + first).ok());
  const auto second = thesis.waitForNewEgressNode(first);
  CHECK(waitFor(
      5s, [&] { return seenFrom(lab, "prod/web-1") == "10.10.0.8"; }, 50ms));
  REQUIRE(waitFor(
      6s,
      [&] {
        return analyzeProbes(lab, "failover").find("received=") != std::string::npos &&
               probeSources(lab, "failover")["10.10.0.8"] > 300;
      },
      100ms));
  const auto analysis = analyzeProbes(lab, "failover");
  INFO(analysis);
  std::smatch gap;
  REQUIRE(std::regex_search(analysis, gap, std::regex("max_gap_ms=(\\d+)")));
  CHECK(std::stoi(gap[1]) < 1000);  // Antrea: 6 to 9 s
  // No leak: every probe of the selected pod arrived from the egress IP, through the failover too.
  const auto sources = probeSources(lab, "failover");
  CHECK(sources.size() == 1);

  // Deleting the Egress brings the node IP back (once the probe stream is over: from then on the
  // node's IP is the right source).
  REQUIRE(probes.waitSent() > 0);
  REQUIRE(lab.kubectl("delete egress egress-prod-web").ok());
  CHECK(waitFor(
      5s, [&] { return seenFrom(lab, "prod/web-1") == "10.10.2.1"; }, 50ms));
  const auto packets = capture.packets();
  CHECK(packets.size() > 300);  // the capture saw the probe stream
  CHECK(leaks(packets, {"10.10.0.8"}) == std::vector<std::string>{});
}

TEST_CASE("a graceful move (the egress node leaves the pool) loses no probe", "[lab][egress]") {
  ThesisLab thesis;
  auto& lab = thesis.lab;
  ExtCapture capture(lab);
  REQUIRE(waitFor(
      10s, [&] { return seenFrom(lab, "prod/web-1") == "10.10.0.8"; }, 50ms));
  const auto first = thesis.egressNode();
  REQUIRE((first == "node02" || first == "node03"));

  const ProbeStream probes(lab, "prod/web-1", "graceful", 4);
  REQUIRE(probes.started());
  REQUIRE(waitFor(
      3s, [&] { return probeSources(lab, "graceful")["10.10.0.8"] > 20; }, 20ms));
  const auto snatEntries = [&](const std::string& node) {
    return lab
        .nodeExec(node,
                  "ovs-appctl -t $OVS_RUNDIR/ovs-vswitchd.ctl dpctl/dump-conntrack "
                  "zone=65521 | grep -c 'dst=10.10.0.8,' || true")
        .output;
  };
  REQUIRE(snatEntries(first) != "0\n");
  // A planned move: the node stays up, but no longer matches the pool's nodeSelector.
  REQUIRE(lab.lab("node label " + first + " network-role-").ok());
  const auto second = thesis.waitForNewEgressNode(first);
  const auto probed = probes.finish();
  INFO(probed.analysis << " sent=" << probed.sent);
  CHECK(probed.sent > 0);
  CHECK(probed.received == probed.sent);
  CHECK(probed.lost == 0);
  CHECK(probeSources(lab, "graceful").size() == 1);
  CHECK(seenFrom(lab, "prod/web-1") == "10.10.0.8");
  // After its drain the old node has let go of the IP's connections too.
  CHECK(waitFor(3s, [&] { return snatEntries(first) == "0\n"; }));
  CHECK(leaks(capture.packets(), {"10.10.0.8"}) == std::vector<std::string>{});
}

TEST_CASE("restarting the agent on the egress node does not interrupt SNAT", "[lab][egress]") {
  ThesisLab thesis;
  auto& lab = thesis.lab;
  REQUIRE(waitFor(
      10s, [&] { return seenFrom(lab, "prod/web-1") == "10.10.0.8"; }, 50ms));
  const auto node = thesis.egressNode();
  REQUIRE((node == "node02" || node == "node03"));
  const ProbeStream probes(lab, "prod/web-1", "restart", 3);
  REQUIRE(probes.started());
  REQUIRE(waitFor(
      3s, [&] { return probeSources(lab, "restart")["10.10.0.8"] > 20; }, 20ms));
  const auto restarted = lab.lab("node agent-restart " + node);
  INFO(restarted.output);
  REQUIRE(restarted.ok());
  const auto probed = probes.finish();
  INFO(probed.analysis << " sent=" << probed.sent);
  CHECK(probed.sent > 0);
  CHECK(probed.lost == 0);
  CHECK(probed.received == probed.sent);
  CHECK(probeSources(lab, "restart").size() == 1);
  CHECK(thesis.egressNode() == node);
}

TEST_CASE("a killed agent's datapath stops answering ARP for its IP once another node took it",
          "[lab][egress]") {
  ThesisLab thesis;
  auto& lab = thesis.lab;
  REQUIRE(waitFor(
      10s, [&] { return seenFrom(lab, "prod/web-1") == "10.10.0.8"; }, 50ms));
  const auto first = thesis.egressNode();
  REQUIRE((first == "node02" || first == "node03"));
  // The agent dies; its node's OVS keeps forwarding (and would keep answering ARP).
  REQUIRE(lab.lab("node agent-stop " + first).ok());
  const auto second = thesis.waitForNewEgressNode(first);
  // The new owner's gratuitous ARP made the old node's datapath learn a drop above its
  // responder; the responder itself stays as the syncer installed it.
  std::string learned;
  CHECK(waitFor(3s, [&] {
    learned = lab.nodeExec(first,
                           "ovs-ofctl dump-flows br-phy arp,arp_op=1,arp_tpa=10.10.0.8 | "
                           "grep priority=245")
                  .output;
    return learned.find("actions=drop") != std::string::npos;
  }));
  INFO(learned);
  const auto responder = lab.nodeExec(first,
                                      "ovs-ofctl dump-flows br-phy arp,arp_op=1,arp_tpa=10.10.0.8 "
                                      "| grep priority=240")
                             .output;
  INFO(responder);
  CHECK(responder.find("IN_PORT") != std::string::npos);
  // On the wire, one answer per request: only the new owner answers.
  const auto arping = lab.ext("arping -c 3 -w 5 -i eth0 10.10.0.8");
  INFO(arping.output);
  CHECK(arping.output.find("3 packets transmitted, 3 packets received") != std::string::npos);
  CHECK(arping.output.find("(0 extra)") != std::string::npos);
  CHECK(seenFrom(lab, "prod/web-1") == "10.10.0.8");

  // The agent comes back: it does not take the IP back, and its node stays quiet.
  REQUIRE(lab.lab("node agent-start " + first).ok());
  CHECK(seenFrom(lab, "prod/web-1") == "10.10.0.8");
  CHECK(thesis.egressNode() == second);
  CHECK(lab.ext("arping -c 2 -w 5 -i eth0 10.10.0.8").output.find("(0 extra)") !=
        std::string::npos);
}

TEST_CASE("a flow that predates the Egress takes the egress IP on the egress node itself",
          "[lab][egress]") {
  Lab lab({.nodes = 2});
  REQUIRE(lab.up());
  REQUIRE(lab.lab("ns add prod --labels env=prod").ok());
  REQUIRE(lab.lab("node label node02 network-role=egress-gateway").ok());
  REQUIRE_FALSE(lab.addPod("web-2", "node02", "role=web", "prod").empty());
  // One UDP socket for the whole stream: its conntrack entry (SNAT to the node's IP) is older
  // than the Egress.
  const ProbeStream probes(lab, "prod/web-2", "early", 5);
  REQUIRE(probes.started());
  REQUIRE(waitFor(
      3s, [&] { return probeSources(lab, "early")["10.10.2.2"] > 20; }, 20ms));
  const std::string fixtures = std::string(SLUICE_SOURCE_ROOT) + "/tests/fixtures/thesis/";
  REQUIRE(lab.kubectl("apply -f " + fixtures + "listing2-pool.yml").ok());
  REQUIRE(lab.kubectl("apply -f " + fixtures + "listing1-egress.yml").ok());
  // The same socket's probes switch to the egress IP: the agent flushed the pod's old entry.
  CHECK(waitFor(
      3s, [&] { return probeSources(lab, "early")["10.10.0.8"] > 20; }, 20ms));
}

TEST_CASE("an open TCP connection survives a failover of a node cut off the underlay",
          "[lab][egress]") {
  ThesisLab thesis;
  auto& lab = thesis.lab;
  ExtCapture capture(lab);
  REQUIRE(waitFor(
      10s, [&] { return seenFrom(lab, "prod/web-1") == "10.10.0.8"; }, 50ms));
  const auto first = thesis.egressNode();
  REQUIRE((first == "node02" || first == "node03"));

  const auto ready = lab.stateDir() + "/hold.ready";
  const auto result = lab.stateDir() + "/hold.json";
  REQUIRE(lab.exec("prod/web-1",
                   "sh -c " + quote("python3 " + kTools + "tcphold.py --seconds 6 --ready " +
                                    ready + " > " + result + " 2>&1 &"))
              .ok());
  REQUIRE(waitFor(5s, [&] { return shell("cat " + ready).output == "10.10.0.8\n"; }));
  // The node keeps running but loses the underlay: it fences itself, the controller moves the IP.
  REQUIRE(lab.lab("node cut " + first).ok());
  const auto second = thesis.waitForNewEgressNode(first);
  std::string outcome;
  REQUIRE(waitFor(20s, [&] {
    outcome = shell("cat " + result).output;
    return !outcome.empty();
  }));
  INFO(outcome);
  CHECK(outcome.find("\"error\": null") != std::string::npos);
  std::smatch sent, echoed;
  REQUIRE(std::regex_search(outcome, sent, std::regex("\"sent\": (\\d+)")));
  REQUIRE(std::regex_search(outcome, echoed, std::regex("\"echoed\": (\\d+)")));
  CHECK(std::stoi(sent[1]) > 20);
  CHECK(sent[1] == echoed[1]);

  // Healed, the old node comes back without taking the IP back: one owner at a time.
  REQUIRE(lab.lab("node heal " + first).ok());
  CHECK(waitFor(
      5s, [&] { return seenFrom(lab, "prod/web-1") == "10.10.0.8"; }, 50ms));
  CHECK(thesis.egressNode() == second);
  CHECK(leaks(capture.packets(), {"10.10.0.8"}) == std::vector<std::string>{});
}

TEST_CASE(
    "a multi-IP Egress spreads its pods over two IPs on two nodes; destination CIDRs are honoured",
    "[lab][egress]") {
  Lab lab({.nodes = 3});
  REQUIRE(lab.up());
  REQUIRE(lab.lab("node label node02 network-role=egress-gateway").ok());
  REQUIRE(lab.lab("node label node03 network-role=egress-gateway").ok());
  // The external host answers on a second address too, to tell destinations apart.
  REQUIRE(lab.ext("ip addr add 10.10.3.2/16 dev eth0").ok());
  for (int i = 0; i < 8; ++i)
    REQUIRE_FALSE(lab.addPod("app-" + std::to_string(i), "node01", "app=spread").empty());
  const std::string yaml = R"(
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
  excludedCIDRs: [10.10.3.2/32]
)";
  REQUIRE(shell("printf '%s' " + quote(yaml) + " > " + lab.stateDir() + "/spread.yml").ok());
  auto applied = lab.kubectl("apply -f " + lab.stateDir() + "/spread.yml");
  INFO(applied.output);
  REQUIRE(applied.ok());
  std::set<std::string> nodes;
  REQUIRE(waitFor(
      10s,
      [&] {
        const auto text =
            lab.kubectl("get egress spread -o jsonpath='{.status.egressIPs[*].node}'").output;
        nodes.clear();
        std::istringstream words(text);
        for (std::string word; words >> word;) nodes.insert(word);
        return nodes.size() == 2;
      },
      50ms));
  CHECK(nodes == std::set<std::string>{"node02", "node03"});

  std::set<std::string> seen;
  REQUIRE(waitFor(
      10s,
      [&] {
        seen.clear();
        for (int i = 0; i < 8; ++i) seen.insert(seenFrom(lab, "app-" + std::to_string(i)));
        return seen.size() == 2 && !seen.contains("") && !seen.contains("10.10.2.1");
      },
      100ms));
  for (const auto& ip : seen) CHECK(ip.rfind("10.10.0.2", 0) == 0);
  // From here on, a capture checks every packet for leaks.
  ExtCapture capture(lab);
  for (int i = 0; i < 8; ++i) CHECK(seen.contains(seenFrom(lab, "app-" + std::to_string(i))));
  // Outside destinationCIDRs, or inside excludedCIDRs: the node's IP.
  CHECK(seenFrom(lab, "app-0", "10.10.3.2") == "10.10.2.1");
  // No leak: to 10.10.3.1 (inside destinationCIDRs) only the pools' IPs; never a pod IP.
  int toDestination = 0;
  const auto packets = capture.packets();
  for (const auto& packet : packets) {
    INFO(packet.line);
    CHECK(packet.src.rfind("10.244.", 0) == std::string::npos);
    if (packet.dst != "10.10.3.1" || packet.dport != 8080) continue;
    ++toDestination;
    CHECK(seen.contains(packet.src));
  }
  INFO(packets.size() << " packets captured");
  CHECK(toDestination >= 8 * 3);  // a handshake per connection at least
}

}  // namespace
}  // namespace sluice::testing
