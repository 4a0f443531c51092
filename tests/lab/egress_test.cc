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

// What the external host says it saw as the source of a TCP connection from `pod` to `ip`.
std::string seenFrom(const Lab& lab, const std::string& pod, const std::string& ip = "10.10.3.1") {
  auto result = lab.exec(pod, "timeout 2 bash -c 'exec 3<>/dev/tcp/" + ip + "/8080; head -1 <&3'");
  auto text = result.output;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return result.ok() ? text : "";
}

// Probes the external host received with `tag`, by source IP.
std::map<std::string, int> probeSources(const Lab& lab, const std::string& tag) {
  std::map<std::string, int> sources;
  const auto log = shell("cat " + lab.stateDir() + "/ext/probes.log").output;
  std::regex line("\\d+ (\\S+) \\d+ " + tag + "\\n");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator();
       ++it)
    ++sources[(*it)[1]];
  return sources;
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
};

TEST_CASE("Listings 1 and 2 verbatim: the selected pod leaves as 10.10.0.8 and fails over",
          "[lab][egress]") {
  ThesisLab thesis;
  auto& lab = thesis.lab;
  REQUIRE(waitFor(
      10s, [&] { return seenFrom(lab, "prod/web-1") == "10.10.0.8"; }, 50ms));
  const auto first = thesis.egressNode();
  CHECK((first == "node02" || first == "node03"));
  CHECK(seenFrom(lab, "prod/other-1") == "10.10.2.1");  // not selected: the node's IP

  // A probe stream from web-1 through a crash of the egress node.
  REQUIRE(lab.exec("prod/web-1",
                   "(python3 " + std::string(SLUICE_SOURCE_ROOT) +
                       "/tools/lab/probe.py --seconds 4 --tag failover >/dev/null 2>&1 &)")
              .ok());
  REQUIRE(waitFor(
      3s, [&] { return probeSources(lab, "failover")["10.10.0.8"] > 20; }, 20ms));
  REQUIRE(lab.lab("node stop " + first).ok());
  std::string second;
  REQUIRE(waitFor(
      5s,
      [&] {
        second = thesis.egressNode();
        return !second.empty() && second != first;
      },
      20ms));
  CHECK(waitFor(
      5s, [&] { return seenFrom(lab, "prod/web-1") == "10.10.0.8"; }, 50ms));
  REQUIRE(waitFor(
      6s,
      [&] {
        return shell("python3 " + std::string(SLUICE_SOURCE_ROOT) +
                     "/tools/lab/probe.py --analyze " + lab.stateDir() +
                     "/ext/probes.log --tag failover")
                       .output.find("received=") != std::string::npos &&
               probeSources(lab, "failover")["10.10.0.8"] > 300;
      },
      100ms));
  const auto analysis =
      shell("python3 " + std::string(SLUICE_SOURCE_ROOT) + "/tools/lab/probe.py --analyze " +
            lab.stateDir() + "/ext/probes.log --tag failover")
          .output;
  INFO(analysis);
  std::smatch gap;
  REQUIRE(std::regex_search(analysis, gap, std::regex("max_gap_ms=(\\d+)")));
  CHECK(std::stoi(gap[1]) < 1000);  // Antrea: 6 to 9 s
  // No leak: every probe of the selected pod arrived from the egress IP, through the failover too.
  const auto sources = probeSources(lab, "failover");
  CHECK(sources.size() == 1);

  // Deleting the Egress brings the node IP back.
  REQUIRE(lab.kubectl("delete egress egress-prod-web").ok());
  CHECK(waitFor(
      5s, [&] { return seenFrom(lab, "prod/web-1") == "10.10.2.1"; }, 50ms));
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
  // Outside destinationCIDRs, or inside excludedCIDRs: the node's IP.
  CHECK(seenFrom(lab, "app-0", "10.10.3.2") == "10.10.2.1");
}

}  // namespace
}  // namespace sluice::testing
