// The egress feature's decisions and flows, from decoded Egresses to ovs-ofctl-parsable flows.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <set>

#include <unistd.h>

#include "agent/features/egress.h"
#include "ofctl_oracle.h"
#include "ofrules/flow_builder.h"
#include "ofrules/flow_encoder.h"
#include "ofrules/flow_syncer.h"
#include "ofrules/round_store.h"
#include "testing/ovs_sandbox.h"

namespace sluice::agent::features {
namespace {

using nlohmann::json;
using namespace sluice::ofrules;

json listing1(const std::string& node) {
  return {
      {"apiVersion", "crd.antrea.io/v1beta1"},
      {"kind", "Egress"},
      {"metadata", {{"name", "egress-prod-web"}, {"creationTimestamp", "2026-11-26T08:00:00Z"}}},
      {"spec",
       {{"appliedTo",
         {{"namespaceSelector", {{"matchLabels", {{"env", "prod"}}}}},
          {"podSelector", {{"matchLabels", {{"role", "web"}}}}}}},
        {"egressIP", "10.10.0.8"},
        {"externalIPPool", "prod-external-ip-pool"}}},
      {"status", {{"egressIP", "10.10.0.8"}, {"egressNode", node}}}};
}

struct Fixture {
  Pipeline pipeline;
  Pipeline physical;
  NodeNetwork node{"node01",
                   *parseIpv4("10.10.2.1"),
                   *parseCidr("10.244.1.0/24"),
                   "02:00:00:00:01:01",
                   {*parseCidr("10.244.0.0/16")}};
  EgressInputs inputs;
  Fixture() {
    PipelineBuilder builder;
    declarePodNetworkTables(builder);
    declareEgressTables(builder);
    pipeline = builder.build();
    physical = builder.build(Bridge::kPhysical);
    inputs.namespaceLabels = {{"prod", {{"env", "prod"}}}, {"dev", {{"env", "dev"}}}};
    inputs.nodeIps = {{"node01", *parseIpv4("10.10.2.1")}, {"node02", *parseIpv4("10.10.2.2")}};
    inputs.pods = {{"pod:web", "prod", "web-1", {{"role", "web"}}, *parseIpv4("10.244.1.5")},
                   {"pod:other", "prod", "other-1", {{"role", "db"}}, *parseIpv4("10.244.1.6")},
                   {"pod:devweb", "dev", "web-2", {{"role", "web"}}, *parseIpv4("10.244.1.7")}};
  }
  std::vector<std::string> lines(const EgressFlows& flows) const {
    std::vector<std::string> out;
    for (const auto& flow : flows.integration) out.push_back(renderFlow(flow));
    return out;
  }
};

bool has(const std::vector<std::string>& lines, const std::vector<std::string>& fragments) {
  for (const auto& line : lines) {
    bool all = true;
    for (const auto& fragment : fragments) all = all && line.find(fragment) != std::string::npos;
    if (all) return true;
  }
  return false;
}

TEST_CASE("Listing 1 selects prod web pods only and tunnels them to the egress node", "[unit]") {
  Fixture fixture;
  auto policy = decodeEgressPolicy(listing1("node02"));
  REQUIRE(policy);
  fixture.inputs.policies = {*policy};
  auto flows = egressFlows(fixture.pipeline, fixture.physical, fixture.node, fixture.inputs);
  REQUIRE(flows);
  const auto lines = fixture.lines(*flows);
  CHECK(has(lines, {"nw_src=10.244.1.5", "set_field:10.10.2.2->tun_dst", "tun_id"}));
  CHECK_FALSE(has(lines, {"nw_src=10.244.1.6"}));  // not role=web
  // How each selected pod leaves; a change of it flushes the pod's conntrack entries.
  CHECK(flows->podRoutes == std::map<Ipv4, std::string>{
                                {*parseIpv4("10.244.1.5"), "egress-prod-web 10.10.0.8@node02"}});
  CHECK_FALSE(has(lines, {"nw_src=10.244.1.7"}));  // not in an env=prod namespace
  CHECK(flows->heldIps.empty());
  CHECK(flows->physical.empty());
}

TEST_CASE("the egress node SNATs to the egress IP and answers ARP with the floating MAC",
          "[unit]") {
  Fixture fixture;
  fixture.inputs.policies = {*decodeEgressPolicy(listing1("node01"))};
  auto flows = egressFlows(fixture.pipeline, fixture.physical, fixture.node, fixture.inputs);
  REQUIRE(flows);
  const auto lines = fixture.lines(*flows);
  CHECK(has(lines, {"nw_src=10.244.1.5", "goto_table"}));
  CHECK(has(lines, {"nat(src=10.10.0.8)"}));
  CHECK(has(lines, {"nw_dst=10.10.0.8", "zone=65521", "nat"}));
  REQUIRE(flows->heldIps.size() == 1);
  CHECK(floatingMac(flows->heldIps[0]) == "02:5c:0a:0a:00:08");
  REQUIRE(flows->physical.size() == 4);
  // Another node's GARP for the IP makes br-phy learn a drop above the ARP responder, with its own
  // key and a cookie no syncer installs (round 0), so the responder stays as the syncer left it.
  const auto responder = std::find_if(flows->physical.begin(), flows->physical.end(),
                                      [](const Flow& flow) { return flow.priority == 240; });
  REQUIRE(responder != flows->physical.end());
  CHECK_THAT(responder->match, Catch::Equals("arp,in_port=1,arp_op=1,arp_tpa=10.10.0.8"));
  CHECK(std::any_of(flows->physical.begin(), flows->physical.end(), [](const Flow& flow) {
    return flow.priority == 250 && flow.match.find("arp_spa=10.10.0.8") != std::string::npos &&
           flow.actions ==
               "learn(table=0,priority=245,delete_learned,cookie=" +
                   renderHex(makeOwnerCookie(Category::kEgress, "egress-ip:10.10.0.8").encode()) +
                   ",eth_type=0x806,in_port=1,arp_op=1,arp_tpa=10.10.0.8),NORMAL";
  }));

  fixture.inputs.fenced = true;  // cannot reach the controller: hold nothing, send nothing out
  flows = egressFlows(fixture.pipeline, fixture.physical, fixture.node, fixture.inputs);
  REQUIRE(flows);
  CHECK(flows->heldIps.empty());
  CHECK(has(fixture.lines(*flows), {"nw_src=10.244.1.5", "actions=drop"}));
}

json handover(const std::string& node, const std::string& previousNode) {
  auto egress = listing1(node);
  egress["status"]["egressIPs"] = {
      {{"ip", "10.10.0.8"}, {"node", node}, {"previousNode", previousNode}}};
  return egress;
}

TEST_CASE("a graceful move: hold at the old node, then the new node owns while the old drains",
          "[unit]") {
  using namespace std::chrono_literals;
  const HandoverTiming timing{.hold = 100ms, .drain = 1000ms};
  const auto start = HandoverClock::time_point{} + 1h;
  HandoversSeen seen;
  auto at = [&](const std::string& self, HandoverClock::time_point now) {
    std::vector<EgressPolicy> policies = {*decodeEgressPolicy(handover("node02", "node01"))};
    auto resolved = resolveHandovers(policies, self, seen, now, timing);
    return std::make_pair(policies[0].assignments.at(0).node, resolved);
  };
  // Source nodes and both ends agree on the effective node from the moment each saw the move.
  auto [node, resolved] = at("node03", start);
  CHECK(node == "node01");  // hold: sources keep the old node
  CHECK(resolved.passiveIps.empty());
  REQUIRE(resolved.nextChange);
  CHECK(*resolved.nextChange == start + 100ms);
  std::tie(node, resolved) = at("node03", start + 150ms);
  CHECK(node == "node02");

  seen.clear();
  std::tie(node, resolved) = at("node02", start);  // the new node: passive during the hold
  CHECK(node == "node01");
  CHECK(resolved.passiveIps == std::vector<Ipv4>{*parseIpv4("10.10.0.8")});
  std::tie(node, resolved) = at("node02", start + 100ms);  // then it owns the IP
  CHECK(node == "node02");
  CHECK(resolved.passiveIps.empty());

  seen.clear();
  std::tie(node, resolved) = at("node01", start);  // the old node keeps owning during the hold
  CHECK(node == "node01");
  CHECK(resolved.passiveIps.empty());
  std::tie(node, resolved) = at("node01", start + 500ms);  // drains passively
  CHECK(node == "node02");
  CHECK(resolved.passiveIps == std::vector<Ipv4>{*parseIpv4("10.10.0.8")});
  CHECK(*resolved.nextChange == start + 1100ms);
  std::tie(node, resolved) = at("node01", start + 1100ms);  // and lets go
  CHECK(resolved.passiveIps.empty());
  CHECK_FALSE(resolved.nextChange);

  // Status without previousNode (a dead node's IP, or the move is over): nothing to time.
  std::vector<EgressPolicy> plain = {*decodeEgressPolicy(listing1("node02"))};
  const auto none = resolveHandovers(plain, "node01", seen, start + 2s, timing);
  CHECK(none.passiveIps.empty());
  CHECK(seen.empty());
  CHECK(plain[0].assignments[0].node == "node02");
}

TEST_CASE("a passive IP is SNATed for the tunnel without ARP or the floating MAC", "[unit]") {
  Fixture fixture;
  fixture.inputs.policies = {*decodeEgressPolicy(listing1("node02"))};
  fixture.inputs.passiveIps = {*parseIpv4("10.10.0.8")};
  auto flows = egressFlows(fixture.pipeline, fixture.physical, fixture.node, fixture.inputs);
  REQUIRE(flows);
  const auto lines = fixture.lines(*flows);
  CHECK(flows->heldIps.empty());
  CHECK(flows->passiveIps == std::vector<Ipv4>{*parseIpv4("10.10.0.8")});
  CHECK(has(lines, {"tun_id=0xa0008", "goto_table"}));
  CHECK(has(lines, {"nat(src=10.10.0.8)"}));
  REQUIRE(flows->physical.size() == 1);  // replies still reach br-int; no ARP, no MAC rewrite
  CHECK(flows->physical[0].match.find("nw_dst=10.10.0.8") != std::string::npos);

  fixture.inputs.fenced = true;
  flows = egressFlows(fixture.pipeline, fixture.physical, fixture.node, fixture.inputs);
  REQUIRE(flows);
  CHECK(flows->passiveIps.empty());
  CHECK(flows->physical.empty());
}

TEST_CASE("the oldest Egress wins a pod; destination and excluded CIDRs order by specificity",
          "[unit]") {
  Fixture fixture;
  auto older = *decodeEgressPolicy(listing1("node02"));
  auto newerJson = listing1("node01");
  newerJson["metadata"]["name"] = "newer";
  newerJson["metadata"]["creationTimestamp"] = "2026-11-26T09:00:00Z";
  auto newer = *decodeEgressPolicy(newerJson);
  fixture.inputs.policies = {newer, older};
  auto lines =
      fixture.lines(*egressFlows(fixture.pipeline, fixture.physical, fixture.node, fixture.inputs));
  CHECK(has(lines, {"nw_src=10.244.1.5", "10.10.2.2->tun_dst"}));

  auto scoped = listing1("node02");
  scoped["spec"]["destinationCIDRs"] = {"203.0.113.0/24"};
  scoped["spec"]["excludedCIDRs"] = {"203.0.113.128/25"};
  fixture.inputs.policies = {*decodeEgressPolicy(scoped)};
  const auto flows = *egressFlows(fixture.pipeline, fixture.physical, fixture.node, fixture.inputs);
  std::map<std::string, int> priorityOf;
  for (const auto& flow : flows.integration) priorityOf[flow.match] = flow.priority;
  int destination = 0, excluded = 0;
  for (const auto& [match, priority] : priorityOf) {
    if (match.find("nw_dst=203.0.113.0/24") != std::string::npos) destination = priority;
    if (match.find("nw_dst=203.0.113.128/25") != std::string::npos) excluded = priority;
  }
  CHECK(destination > 0);
  CHECK(excluded > destination);
  CHECK_FALSE(has(fixture.lines(flows), {"priority=100,"}));  // no catch-all when CIDRs are given
}

TEST_CASE("a multi-IP Egress spreads pods over its IPs; an unplaced Egress fails closed",
          "[unit]") {
  EgressPolicy policy;
  policy.name = "multi";
  policy.podSelector = *kube::parseLabelSelector(json::object(), "spec.appliedTo.podSelector");
  policy.assignments = {{*parseIpv4("10.10.0.2"), "node01", ""},
                        {*parseIpv4("10.10.0.3"), "node02", ""}};
  std::set<Ipv4> used;
  for (int i = 0; i < 40; ++i) {
    EgressPod pod{"pod:" + std::to_string(i), "prod", "web-" + std::to_string(i), {}, 0};
    auto chosen = chooseAssignment(policy, pod);
    REQUIRE(chosen);
    used.insert(chosen->ip);
    CHECK(chooseAssignment(policy, pod)->ip == chosen->ip);  // stable
  }
  CHECK(used.size() == 2);

  Fixture fixture;
  auto unplaced = listing1("");
  fixture.inputs.policies = {*decodeEgressPolicy(unplaced)};
  auto flows = *egressFlows(fixture.pipeline, fixture.physical, fixture.node, fixture.inputs);
  CHECK(has(fixture.lines(flows), {"nw_src=10.244.1.5", "actions=drop"}));
  REQUIRE_FALSE(flows.problems.empty());
  CHECK(flows.problems[0].reason == "NoEgressIP");
  CHECK_FALSE(flows.problems[0].warning);  // the controller's conditions already say it
}

TEST_CASE("no cap on egress IPs per node; two IPs sharing a tunnel ID are a warning", "[unit]") {
  Fixture fixture;
  EgressPolicy many;
  many.name = "many";
  for (int i = 0; i < 600; ++i)
    many.assignments.push_back({static_cast<Ipv4>(*parseIpv4("10.20.0.0") + i), "node01", ""});
  fixture.inputs.policies = {many};
  auto flows = egressFlows(fixture.pipeline, fixture.physical, fixture.node, fixture.inputs);
  REQUIRE(flows);
  CHECK(flows->heldIps.size() == 600);  // Antrea stops at 255 per node
  CHECK(flows->problems.empty());

  EgressPolicy clash;
  clash.name = "clash";
  clash.assignments = {{*parseIpv4("10.30.0.7"), "node01", ""},
                       {*parseIpv4("11.30.0.7"), "node01", ""}};
  fixture.inputs.policies = {clash};
  flows = egressFlows(fixture.pipeline, fixture.physical, fixture.node, fixture.inputs);
  REQUIRE(flows);
  CHECK(flows->heldIps == std::vector<Ipv4>{*parseIpv4("10.30.0.7")});
  REQUIRE(flows->problems.size() == 1);
  CHECK(flows->problems[0].egress == "clash");
  CHECK(flows->problems[0].reason == "TunnelIdCollision");
  CHECK(flows->problems[0].warning);
  CHECK_THAT(flows->problems[0].message, Catch::Contains("11.30.0.7"));
}

// Regression (fuzz_kube_objects): a field of the wrong JSON type threw out of the decoder.
std::vector<std::string> sortedLines(const std::vector<Flow>& flows) {
  std::vector<std::string> out;
  for (const auto& flow : flows) out.push_back(renderFlow(flow));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> sortedLines(const FlowsByOwner& owners) {
  std::vector<Flow> all;
  for (const auto& [owner, flows] : owners) {
    CHECK_FALSE(flows.empty());
    all.insert(all.end(), flows.begin(), flows.end());
  }
  return sortedLines(all);
}

TEST_CASE("egress flows are owned per object: an egress IP, an Egress, an unknown pod", "[unit]") {
  Fixture fixture;
  auto here = *decodeEgressPolicy(listing1("node01"));
  auto there = *decodeEgressPolicy(listing1("node02"));
  there.name = "egress-there";
  there.creationOrder -= 1;  // the oldest: it wins the pods it selects
  there.podSelector = kube::LabelSelector{{{"role", "db"}}, {}};
  there.assignments = {{*parseIpv4("10.10.0.9"), "node02", ""}};
  fixture.inputs.policies = {here, there};
  fixture.inputs.passiveIps = {*parseIpv4("10.10.0.20")};
  fixture.inputs.pods.push_back(
      {"pod:late", "prod", "late-1", {}, *parseIpv4("10.244.1.9"), /*labelsKnown=*/false});
  auto flows = egressFlows(fixture.pipeline, fixture.physical, fixture.node, fixture.inputs);
  REQUIRE(flows);

  auto keys = [](const FlowsByOwner& owners) {
    std::set<std::string> out;
    for (const auto& [owner, ownerFlows] : owners) out.insert(owner);
    return out;
  };
  CHECK(keys(flows->integrationByOwner) ==
        std::set<std::string>{"egress:egress-prod-web", "egress:egress-there",
                              "egress-ip:10.10.0.8", "egress-ip:10.10.0.20",
                              "egress-unknown:pod:late"});
  CHECK(keys(flows->physicalByOwner) ==
        std::set<std::string>{"egress-ip:10.10.0.8", "egress-ip:10.10.0.20"});
  // The flat vectors hold exactly the union of the owners' flows.
  CHECK(sortedLines(flows->integration) == sortedLines(flows->integrationByOwner));
  CHECK(sortedLines(flows->physical) == sortedLines(flows->physicalByOwner));
  // Each flow's cookie carries its owner's hash.
  for (const auto* owners : {&flows->integrationByOwner, &flows->physicalByOwner})
    for (const auto& [owner, ownerFlows] : *owners)
      for (const auto& flow : ownerFlows)
        CHECK(Cookie::decode(flow.cookie).ownerHash ==
              makeOwnerCookie(Category::kEgress, owner).ownerHash);
  CHECK(flows->physicalByOwner.at("egress-ip:10.10.0.8").size() == 4);   // owned
  CHECK(flows->physicalByOwner.at("egress-ip:10.10.0.20").size() == 1);  // passive
  std::vector<std::string> thereLines;
  for (const auto& flow : flows->integrationByOwner.at("egress:egress-there"))
    thereLines.push_back(renderFlow(flow));
  CHECK(has(thereLines, {"nw_src=10.244.1.6", "set_field:10.10.2.2->tun_dst"}));
}

TEST_CASE("fuzz regression: an Egress with wrong JSON types is an error, not a throw", "[unit]") {
  for (const auto* text : {R"(4)", R"({"metadata":5})", R"({"metadata":{"name":"e"},"spec":[]})",
                           R"({"metadata":{"name":"e"},"spec":{},"status":"up"})"}) {
    INFO(text);
    Result<EgressPolicy> policy = makeError("not run");
    CHECK_NOTHROW(policy = decodeEgressPolicy(nlohmann::json::parse(text)));
    CHECK_FALSE(policy.ok());
  }
}

TEST_CASE("a pod whose labels are not known yet sends nothing out while Egresses exist", "[unit]") {
  Fixture fixture;
  fixture.inputs.pods[1].labelsKnown = false;  // prod/other-1, not selected once known
  auto flows =
      egressFlows(fixture.pipeline, fixture.physical, fixture.node, fixture.inputs);  // no Egress
  REQUIRE(flows);
  CHECK_FALSE(has(fixture.lines(*flows), {"nw_src=10.244.1.6"}));
  fixture.inputs.policies = {*decodeEgressPolicy(listing1("node02"))};
  flows = egressFlows(fixture.pipeline, fixture.physical, fixture.node, fixture.inputs);
  REQUIRE(flows);
  CHECK(has(fixture.lines(*flows), {"nw_src=10.244.1.6", "actions=drop"}));
  CHECK_FALSE(flows->podRoutes.contains(*parseIpv4("10.244.1.6")));
}

TEST_CASE("a bad Egress names the field", "[unit]") {
  auto bad = listing1("node01");
  bad["spec"]["destinationCIDRs"] = {"10.0.0.1/8"};
  auto policy = decodeEgressPolicy(bad);
  REQUIRE_FALSE(policy);
  CHECK_THAT(policy.error().message, Catch::Contains("spec.destinationCIDRs[0]"));
}

TEST_CASE("ovs-ofctl parses every egress flow", "[ovs]") {
  Fixture fixture;
  auto scoped = listing1("node01");
  scoped["spec"]["destinationCIDRs"] = {"203.0.113.0/24"};
  scoped["spec"]["excludedCIDRs"] = {"203.0.113.128/25"};
  fixture.inputs.policies = {*decodeEgressPolicy(scoped), *decodeEgressPolicy(listing1("node02"))};
  fixture.inputs.policies[1].name = "other";
  fixture.inputs.policies[1].assignments = {{*parseIpv4("10.10.0.9"), "node02", ""}};
  const auto flows = *egressFlows(fixture.pipeline, fixture.physical, fixture.node, fixture.inputs);
  std::vector<Flow> all = flows.integration;
  all.insert(all.end(), flows.physical.begin(), flows.physical.end());
  const auto verdict = testing::ofctlParses(all);
  INFO(verdict.output);
  CHECK(verdict.accepted);
}

// br-phy as the agent runs it, in a sandbox: the uplink (ofport 1) and the patch (2) are
// internal ports, the flows go through a FlowSyncer.
struct PhysicalBridge {
  static constexpr char kName[] = "br-phy-sa";
  std::unique_ptr<sluice::testing::OvsSandbox> sandbox;
  MemoryRoundStore rounds;
  std::unique_ptr<FlowSyncer> syncer;

  PhysicalBridge() {
    auto started = sluice::testing::OvsSandbox::start({.namePrefix = "sl-stepaside"});
    INFO((started ? std::string() : started.error().message));
    REQUIRE(started);
    sandbox = std::move(*started);
    REQUIRE(sandbox->addBridge(kName));
    for (const auto& [port, ofport] : {std::pair{"sa-uplink", 1}, std::pair{"sa-patch", 2}}) {
      auto added = sandbox->run(std::string("ovs-vsctl --timeout=20 add-port ") + kName + " " +
                                port + " -- set Interface " + port +
                                " type=internal ofport_request=" + std::to_string(ofport));
      INFO((added ? std::string() : added.error().message));
      REQUIRE(added);
    }
    auto created = FlowSyncer::create(
        FlowSyncerOptions{.connection = {.target = sandbox->bridgeTarget(kName)}}, rounds);
    REQUIRE(created);
    syncer = std::move(*created);
  }
  void install(const std::vector<Flow>& flows) {
    REQUIRE(syncer->setFlows("egress-phy", flows));
    auto synced = syncer->sync();
    INFO((synced ? std::string() : synced.error().message));
    REQUIRE(synced);
  }
  // ofproto/trace of a packet from the uplink; -generate runs learn() as a real packet would.
  std::string trace(const std::string& packet, bool generate = false) const {
    auto output =
        sandbox->run("ovs-appctl -t " + sandbox->vswitchdControlPath() + " ofproto/trace " + kName +
                     " '" + packet + "'" + (generate ? " -generate" : ""));
    INFO((output ? std::string() : output.error().message));
    REQUIRE(output);
    return *output;
  }
  // Every desired flow is on the switch under its key with the cookie the syncer gave it.
  bool switchMatchesRecord(const std::vector<Flow>& desired) const {
    auto dumped = syncer->dumpFlows();
    REQUIRE(dumped);
    for (const auto& flow : desired) {
      auto match = canonicalMatch(flow.key());
      REQUIRE(match);
      const bool found = std::any_of(dumped->begin(), dumped->end(), [&](const FlowStats& stats) {
        return stats.table == flow.table && stats.priority == flow.priority &&
               stats.match == *match && stats.cookie == syncer->cookieFor(flow);
      });
      if (!found) return false;
    }
    return true;
  }
};

TEST_CASE("a foreign GARP silences the ARP responder without overwriting the syncer's flow",
          "[ovs]") {
  Fixture fixture;
  fixture.inputs.policies = {*decodeEgressPolicy(listing1("node01"))};
  const auto owned = egressFlows(fixture.pipeline, fixture.physical, fixture.node, fixture.inputs);
  REQUIRE(owned);
  PhysicalBridge bridge;
  bridge.install(owned->physical);
  const std::string request = "in_port=1,arp,arp_op=1,arp_spa=10.10.0.99,arp_tpa=10.10.0.8";
  CHECK_THAT(bridge.trace(request), Catch::Contains("02:5c:0a:0a:00:08->arp_sha"));

  // Another node announces the IP: br-phy learns a drop for requests, above the responder.
  bridge.trace("in_port=1,arp,arp_op=1,arp_spa=10.10.0.8,arp_tpa=10.10.0.8", true);
  const auto silenced = bridge.trace(request);
  INFO(silenced);
  CHECK_THAT(silenced, Catch::Contains("Datapath actions: drop"));
  // The responder is still on the switch as the syncer recorded it (key and cookie), so what it
  // believes installed is true, and a sync has nothing to send.
  CHECK(bridge.switchMatchesRecord(owned->physical));
  REQUIRE(bridge.syncer->sync());
  CHECK(bridge.syncer->counters().flowModsLastSync == 0);

  // The owner re-asserts, as a claim does: passive while it asks, then the owner again. The
  // learned drop goes with the flow that learned it, and the responder answers.
  fixture.inputs.claimingIps = {*parseIpv4("10.10.0.8")};
  const auto claiming =
      egressFlows(fixture.pipeline, fixture.physical, fixture.node, fixture.inputs);
  REQUIRE(claiming);
  bridge.install(claiming->physical);
  bridge.install(owned->physical);
  CHECK(bridge.switchMatchesRecord(owned->physical));
  const auto answered = bridge.trace(request);
  INFO(answered);
  CHECK_THAT(answered, Catch::Contains("02:5c:0a:0a:00:08->arp_sha"));
}

}  // namespace
}  // namespace sluice::agent::features
