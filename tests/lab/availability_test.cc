// Availability end to end (no single failure stops egress): a 3-node lab with two controller
// replicas, the thesis's Listings 1 and 2, and a selected pod sending a probe every 10 ms to the
// external host through one fault per case: a killed controller leader, a stopped API server, a
// killed egress node, and partitions (the egress node cut off, or cut one way only; the leader's
// host cut off). Losses and gaps are measured where the probes arrive; each case prints
// "BENCH availability.CASE_gap_ms=N lost=N".
#include <catch2/catch.hpp>

#include <cstdio>
#include <set>
#include <thread>

#include "lab_fixture.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

const std::string kEgressIp = "10.10.0.8";                     // Listing 1's egressIP
const std::string kPod = "prod/web-1";                         // selected by Listing 1, on node01
const std::set<std::string> kGateways = {"node02", "node03"};  // Listing 2's nodeSelector
// How long a partition lasts: more than the Lease (2 s in the lab) and the failure detection
// (nodeSilenceTimeout 500 ms), so every takeover the fault can cause happens during it.
constexpr auto kPartition = 3s;

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// The lab of every case: Listings 1 and 2 applied with kubectl, web-1 leaving as the egress IP.
struct AvailabilityLab {
  Lab lab{{.nodes = 3, .controllers = 2}};
  std::string firstNode;  // the egress node when the case starts

  AvailabilityLab() {
    INFO(lab.upOutput());
    REQUIRE(lab.up());
    REQUIRE(lab.lab("ns add prod --labels env=prod").ok());
    for (const auto& node : kGateways)
      REQUIRE(lab.lab("node label " + node + " network-role=egress-gateway").ok());
    const auto web = lab.addPod("web-1", "node01", "role=web", "prod");
    INFO(lab.lastOutput());
    REQUIRE_FALSE(web.empty());
    const std::string fixtures = std::string(SLUICE_SOURCE_ROOT) + "/tests/fixtures/thesis/";
    REQUIRE(lab.kubectl("apply -f " + fixtures + "listing2-pool.yml").ok());
    REQUIRE(lab.kubectl("apply -f " + fixtures + "listing1-egress.yml").ok());
    REQUIRE(lab.waitForLeader() > 0);
    REQUIRE(waitFor(
        20s, [&] { return seenFrom(lab, kPod) == kEgressIp; }, 50ms));
    firstNode = egressNode();
    REQUIRE(kGateways.contains(firstNode));
    REQUIRE(waitFor(5s, [&] { return owner() == firstNode; }));
  }

  std::string egressNode() const {
    return trim(
        lab.kubectl("get egress egress-prod-web -o jsonpath='{.status.egressNode}'").output);
  }
  // The Egress's whole status, as the API server returns it.
  std::string status() const {
    return trim(lab.kubectl("get egress egress-prod-web -o jsonpath='{.status}'").output);
  }
  // The gateway node whose datapath answers ARP for the egress IP (its responder flow on br-phy,
  // docs/egress-datapath.md); "" if none, "node02,node03" if both.
  std::string owner() const {
    std::string owners;
    for (const auto& node : kGateways) {
      const auto flows =
          lab.nodeExec(node, "ovs-ofctl dump-flows br-phy arp,arp_op=1,arp_tpa=" + kEgressIp +
                                 " | grep priority=240");
      if (flows.ok()) owners += (owners.empty() ? "" : ",") + node;
    }
    return owners;
  }
  // Status and datapath agree: the status names a gateway node, and that node alone answers ARP.
  bool consistent() const {
    const auto node = egressNode();
    return kGateways.contains(node) && owner() == node;
  }
  std::string otherGateway(const std::string& node) const {
    return node == "node02" ? "node03" : "node02";
  }
  // Probes of `probes` that arrived from the egress IP so far.
  int arrived(const ProbeStream& probes) const {
    return probeSources(lab, probes.tag())[kEgressIp];
  }
  // Waits until `count` more probes arrived from the egress IP (egress flows again); whether it
  // did.
  bool flowsAgain(const ProbeStream& probes, int count, std::chrono::milliseconds timeout) const {
    const int before = arrived(probes);
    return waitFor(
        timeout, [&] { return arrived(probes) >= before + count; }, 50ms);
  }
};

// Starts the case's probe stream and waits until it arrives from the egress IP.
void startStream(const AvailabilityLab& setup, const ProbeStream& probes) {
  REQUIRE(probes.started());
  REQUIRE(waitFor(
      5s, [&] { return setup.arrived(probes) > 20; }, 20ms));
}

// Ends the stream, prints the case's BENCH line and checks what every case must hold: every
// probe that arrived came from the egress IP.
ProbeStream::Result finishStream(const AvailabilityLab& setup, ProbeStream& probes,
                                 const std::string& name) {
  probes.stop();
  auto result = probes.finish();
  std::printf("BENCH availability.%s_gap_ms=%d lost=%d\n", name.c_str(), result.maxGapMs,
              result.lost);
  std::fflush(stdout);
  INFO(result.analysis << " sent=" << result.sent);
  CHECK(result.sent > 0);
  const auto sources = probeSources(setup.lab, probes.tag());
  CHECK(sources.size() == 1);
  CHECK(sources.contains(kEgressIp));
  return result;
}

TEST_CASE("a killed controller leader: no probe lost, the standby leads, the status stays",
          "[lab][availability]") {
  AvailabilityLab setup;
  auto& lab = setup.lab;
  const int leader = lab.leaderReplica();
  REQUIRE(leader > 0);
  const auto statusBefore = setup.status();
  ProbeStream probes(lab, kPod, "leader_kill", 60);
  startStream(setup, probes);

  const auto stopped = lab.lab("controller stop --leader");
  INFO(stopped.output);
  REQUIRE(stopped.ok());
  CHECK(stopped.output.find("controller " + std::to_string(leader) + " stopped") !=
        std::string::npos);
  int newLeader = 0;
  CHECK(waitFor(
      10s,
      [&] {
        newLeader = lab.leaderReplica();
        return newLeader > 0 && newLeader != leader;
      },
      100ms));
  // A second of probes under the new leader, whose first decisions could move the IP.
  CHECK(setup.flowsAgain(probes, 100, 5s));
  CHECK(setup.status() == statusBefore);
  CHECK(setup.consistent());

  const auto result = finishStream(setup, probes, "leader_kill");
  INFO(result.analysis << " sent=" << result.sent);
  CHECK(result.lost == 0);
  CHECK(result.received == result.sent);
}

TEST_CASE("the API server down for 3 s: no probe lost, the status consistent within 2 s",
          "[lab][availability]") {
  AvailabilityLab setup;
  auto& lab = setup.lab;
  ProbeStream probes(lab, kPod, "apiserver_down", 60);
  startStream(setup, probes);

  REQUIRE(lab.lab("apiserver stop").ok());
  std::this_thread::sleep_for(3s);  // the outage itself: longer than the Lease's renewDeadline
  const auto started = lab.lab("apiserver start");  // returns once /readyz answers
  INFO(started.output);
  REQUIRE(started.ok());
  CHECK(waitFor(2s, [&] { return setup.consistent(); }));
  INFO("status " << setup.status() << ", owner " << setup.owner());
  CHECK(setup.flowsAgain(probes, 100, 5s));

  const auto result = finishStream(setup, probes, "apiserver_down");
  INFO(result.analysis << " sent=" << result.sent);
  CHECK(result.lost == 0);
  CHECK(result.received == result.sent);
}

TEST_CASE("a killed egress node: the IP moves to the other gateway within a second",
          "[lab][availability]") {
  AvailabilityLab setup;
  auto& lab = setup.lab;
  const auto first = setup.firstNode;
  const auto second = setup.otherGateway(first);
  ProbeStream probes(lab, kPod, "egress_node_kill", 60);
  startStream(setup, probes);

  REQUIRE(lab.lab("node stop " + first).ok());
  CHECK(waitFor(
      5s, [&] { return setup.egressNode() == second; }, 20ms));
  CHECK(waitFor(3s, [&] { return setup.owner() == second; }));
  CHECK(setup.flowsAgain(probes, 100, 5s));

  const auto result = finishStream(setup, probes, "egress_node_kill");
  INFO(result.analysis << " sent=" << result.sent);
  CHECK(result.maxGapMs >= 0);
  CHECK(result.maxGapMs < 1000);
}

// A partition of kPartition, then its heal: at no time may two nodes answer ARP for the egress
// IP, watched from the external host over the whole partition and heal. `whileCut` runs at the
// end of the partition, before the heal.
void partition(AvailabilityLab& setup, const std::string& name, const std::string& cut,
               const std::string& heal, const std::function<void()>& whileCut = {}) {
  auto& lab = setup.lab;
  ProbeStream probes(lab, kPod, name, 60);
  startStream(setup, probes);
  ArpWatch arp(lab, kEgressIp);
  REQUIRE(arp.started());

  const auto cutOutput = lab.lab(cut);
  INFO(cutOutput.output);
  REQUIRE(cutOutput.ok());
  std::this_thread::sleep_for(kPartition);  // the partition itself
  if (whileCut) whileCut();
  REQUIRE(lab.lab(heal).ok());
  // Back from a partition is when a node that did not let go would answer too: watch until
  // egress has flowed again for 1.5 s.
  CHECK(setup.flowsAgain(probes, 150, 10s));
  const auto arpSummary = arp.stop();

  finishStream(setup, probes, name);
  INFO("ARP " << arpSummary.text << "; status " << setup.status() << ", owner " << setup.owner());
  CHECK(arpSummary.answered > 0);  // the watcher saw the owner answer at all
  CHECK(arpSummary.maxReplies == 1);
  CHECK(arpSummary.multiReplyRequests == 0);
  CHECK(setup.consistent());
}

TEST_CASE("partitions: never two nodes answering for the egress IP", "[lab][availability]") {
  AvailabilityLab setup;
  const auto first = setup.firstNode;

  SECTION("the egress node cut off both ways") {
    partition(setup, "egress_node_cut", "node cut " + first, "node heal " + first);
  }
  SECTION("the egress node receives nothing") {
    partition(setup, "egress_node_cut_in", "node cut " + first + " --direction in",
              "node heal " + first);
  }
  SECTION("the egress node's packets are dropped") {
    partition(setup, "egress_node_cut_out", "node cut " + first + " --direction out",
              "node heal " + first);
  }
  SECTION("the controller leader's host cut off") {
    const int leader = setup.lab.leaderReplica();
    REQUIRE(leader > 0);
    partition(setup, "controller_cut", "controller cut " + std::to_string(leader),
              "controller heal " + std::to_string(leader), [&] {
                // The standby took the Lease during the cut.
                CHECK(waitFor(
                    5s,
                    [&] {
                      const int now = setup.lab.leaderReplica();
                      return now > 0 && now != leader;
                    },
                    100ms));
              });
  }
}

}  // namespace
}  // namespace sluice::testing
