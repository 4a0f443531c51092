// The pod-network feature's flows: they build, they say what docs/pipeline.md says, and OVS's own
// parser accepts every one of them.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <set>

#include <unistd.h>

#include "agent/features/pod_network.h"
#include "ofctl_oracle.h"
#include "ofrules/flow_builder.h"

namespace sluice::agent::features {
namespace {

using namespace sluice::ofrules;

struct Fixture {
  Pipeline pipeline;
  Pipeline physical;
  NodeNetwork node;
  LocalPod pod;
  RemoteNode remote;
  Fixture() {
    PipelineBuilder builder;
    declarePodNetworkTables(builder);
    pipeline = builder.build();
    physical = builder.build(Bridge::kPhysical);
    node = NodeNetwork{"node01",
                       *parseIpv4("10.10.2.1"),
                       *parseCidr("10.244.1.0/24"),
                       "02:00:00:00:01:01",
                       {*parseCidr("10.244.0.0/16")}};
    pod = LocalPod{"pod:prod/web", *parseIpv4("10.244.1.5"), "0a:58:0a:f4:01:05", 12};
    remote = RemoteNode{"node02", *parseIpv4("10.10.2.2"), *parseCidr("10.244.2.0/24")};
  }
  std::vector<std::string> rendered() const {
    std::vector<std::string> lines;
    for (const auto& flows : {*nodeFlows(pipeline, node), *podFlows(pipeline, node, pod),
                              *remoteNodeFlows(pipeline, node, remote)})
      for (const auto& flow : flows) lines.push_back(renderFlow(flow));
    return lines;
  }
};

bool containsLine(const std::vector<std::string>& lines, const std::string& fragment) {
  for (const auto& line : lines)
    if (line.find(fragment) != std::string::npos) return true;
  return false;
}

TEST_CASE("pod-network flows build and carry the pipeline's decisions", "[unit]") {
  Fixture fixture;
  REQUIRE(nodeFlows(fixture.pipeline, fixture.node).ok());
  REQUIRE(podFlows(fixture.pipeline, fixture.node, fixture.pod).ok());
  REQUIRE(remoteNodeFlows(fixture.pipeline, fixture.node, fixture.remote).ok());
  const auto lines = fixture.rendered();
  INFO(fixture.pipeline.describe());
  CHECK(containsLine(lines, "in_port=12"));
  CHECK(containsLine(lines, "nw_src=10.244.1.5"));
  CHECK(containsLine(lines, "nat(src=10.10.2.1)"));
  // Marked for the node's kernel, which leaves it untracked (ServiceHost's sluice-snat).
  CHECK(containsLine(lines, "mod_dl_src:aa:bb:cc:dd:ee:fd,mod_dl_dst:02:00:00:00:01:01,output:2"));
  CHECK(containsLine(lines, "set_field:10.10.2.2->tun_dst"));
  CHECK(containsLine(lines, "nw_dst=10.244.2.0/24"));
  // Every flow of a table is distinct: no two owners fight over a key.
  std::set<std::tuple<int, int, std::string>> keys;
  for (const auto& flows : {*nodeFlows(fixture.pipeline, fixture.node),
                            *podFlows(fixture.pipeline, fixture.node, fixture.pod),
                            *remoteNodeFlows(fixture.pipeline, fixture.node, fixture.remote)})
    for (const auto& flow : flows)
      CHECK(keys.insert({flow.table, flow.priority, flow.match}).second);
}

TEST_CASE("pods cannot send Geneve to another node (no tunnel spoofing)", "[unit]") {
  Fixture fixture;
  const auto flows = *remoteNodeFlows(fixture.pipeline, fixture.node, fixture.remote);
  std::vector<std::string> lines;
  for (const auto& flow : flows) lines.push_back(renderFlow(flow));
  INFO(Catch::Detail::stringify(lines));
  // Above the tunnel route (200) and the node-address routes, only for traffic from pods.
  bool found = false;
  for (const auto& line : lines) {
    bool all = true;
    for (const char* part :
         {"priority=210", "udp", "reg0=0x1/0xf", "nw_dst=10.10.2.2", "tp_dst=6081", "actions=drop"})
      all = all && line.find(part) != std::string::npos;
    found = found || all;
  }
  CHECK(found);
}

TEST_CASE("pod cookies name their feature and owner", "[unit]") {
  Fixture fixture;
  const auto flows = *podFlows(fixture.pipeline, fixture.node, fixture.pod);
  for (const auto& flow : flows) {
    const auto cookie = Cookie::decode(flow.cookie);
    CHECK(cookie.category == Category::kPod);
    CHECK(cookie.ownerHash == ownerCookie(Category::kPod, "pod:prod/web").ownerHash);
  }
}

TEST_CASE("routed packets lose one TTL; switched ones and the host's do not", "[unit]") {
  Fixture fixture;
  const auto lines = fixture.rendered();
  INFO(Catch::Detail::stringify(lines));
  // Tables: Classifier 0, SpoofGuard 1, ARPResponder 2, UnSNAT 3, ConntrackZone 4,
  // ConntrackState 5, L3Forwarding 6, L3DecTTL 7, SNAT 8, ConntrackCommit 9, Output 10.
  const auto pod = ownerCookie(Category::kPod, "pod:prod/web").encode();
  const auto route = ownerCookie(Category::kNodeRoute, "node:node02").encode();
  const auto fixed = ownerCookie(Category::kPipeline, "pipeline").encode();
  auto has = [&](const std::string& line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  };
  const std::string toPod =
      "mod_dl_src:02:00:00:00:01:01,mod_dl_dst:0a:58:0a:f4:01:05,load:0xc->NXM_NX_REG1[],"
      "load:0x1->NXM_NX_REG0[8],goto_table:";
  // To the pod's own MAC: switched in its subnet, straight on to the commit.
  CHECK(has("table=6,priority=200,cookie=" + renderHex(pod) +
            ",ip,dl_dst=0a:58:0a:f4:01:05,nw_dst=10.244.1.5 actions=" + toPod + "9"));
  // Any other MAC (the tunnel's, the uplink's): routed here, through L3DecTTL.
  CHECK(has("table=6,priority=190,cookie=" + renderHex(pod) +
            ",ip,nw_dst=10.244.1.5 actions=" + toPod + "7"));
  // Into the tunnel: routed, through L3DecTTL.
  CHECK(has("table=6,priority=200,cookie=" + renderHex(route) +
            ",ip,nw_dst=10.244.2.0/24 actions=mod_dl_dst:aa:bb:cc:dd:ee:ff,"
            "set_field:10.10.2.2->tun_dst,load:0x1->NXM_NX_REG1[],load:0x1->NXM_NX_REG0[8],"
            "goto_table:7"));
  CHECK(has("table=7,priority=200,cookie=" + renderHex(fixed) +
            ",ip,reg0=0x100/0x100 actions=dec_ttl,goto_table:9"));
  // From the gateway the host's kernel has routed the packet already.
  CHECK(has("table=7,priority=210,cookie=" + renderHex(fixed) +
            ",ip,reg0=0x103/0x10f actions=goto_table:9"));
  // To the host: delivered, not routed on.
  CHECK(has("table=6,priority=200,cookie=" +
            renderHex(ownerCookie(Category::kGateway, "gateway").encode()) +
            ",ip,nw_dst=10.10.2.1 actions=mod_dl_dst:02:00:00:00:01:01,load:0x2->NXM_NX_REG1[],"
            "load:0x1->NXM_NX_REG0[8],goto_table:9"));
}

TEST_CASE("br-phy is declared through the pipeline", "[unit]") {
  Fixture fixture;
  CHECK(fixture.physical.describe() ==
        "0 PhysicalClassifier (Classifier) podnet\n1 PhysicalConntrack (ConntrackState) podnet\n");
  const auto flows = physicalBridgeFlows(fixture.physical, fixture.node, 6081);
  REQUIRE(flows);
  std::set<std::string> lines;
  for (const auto& flow : *flows) lines.insert(renderFlow(flow));
  const auto cookie = renderHex(ownerCookie(Category::kPipeline, "br-phy").encode());
  const std::set<std::string> expected = {
      "table=0,priority=0,cookie=" + cookie + " actions=NORMAL",
      "table=1,priority=0,cookie=" + cookie + " actions=LOCAL",
      "table=0,priority=210,cookie=" + cookie +
          ",udp,in_port=1,nw_dst=10.10.2.1,tp_dst=6081 actions=LOCAL",
      "table=0,priority=200,cookie=" + cookie +
          ",ip,in_port=1,nw_dst=10.10.2.1 actions=ct(zone=65521,table=1)",
      "table=1,priority=200,cookie=" + cookie +
          ",ip,ct_state=+est+trk,ct_mark=0x2/0x2 actions=output:2",
      "table=1,priority=200,cookie=" + cookie +
          ",ip,ct_state=+rel+trk,ct_mark=0x2/0x2 actions=output:2",
  };
  CHECK(lines == expected);
}

TEST_CASE("ovs-ofctl parses every pod-network flow", "[ovs]") {
  Fixture fixture;
  std::vector<Flow> flows;
  for (const auto& part : {*nodeFlows(fixture.pipeline, fixture.node),
                           *podFlows(fixture.pipeline, fixture.node, fixture.pod),
                           *remoteNodeFlows(fixture.pipeline, fixture.node, fixture.remote),
                           *physicalBridgeFlows(fixture.physical, fixture.node, 6081)})
    flows.insert(flows.end(), part.begin(), part.end());
  const auto verdict = testing::ofctlParses(flows);
  INFO(verdict.output);
  CHECK(verdict.accepted);
}

}  // namespace
}  // namespace sluice::agent::features
