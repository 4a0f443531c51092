// The pod-network feature's flows: they build, they say what docs/pipeline.md says, and OVS's own
// parser accepts every one of them.
#include <catch2/catch.hpp>

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
  NodeNetwork node;
  LocalPod pod;
  RemoteNode remote;
  Fixture() {
    PipelineBuilder builder;
    declarePodNetworkTables(builder);
    pipeline = builder.build();
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

TEST_CASE("ovs-ofctl parses every pod-network flow", "[ovs]") {
  Fixture fixture;
  std::vector<Flow> flows;
  for (const auto& part : {*nodeFlows(fixture.pipeline, fixture.node),
                           *podFlows(fixture.pipeline, fixture.node, fixture.pod),
                           *remoteNodeFlows(fixture.pipeline, fixture.node, fixture.remote),
                           physicalBridgeFlows(fixture.node, 6081)})
    flows.insert(flows.end(), part.begin(), part.end());
  const auto verdict = testing::ofctlParses(flows);
  INFO(verdict.output);
  CHECK(verdict.accepted);
}

}  // namespace
}  // namespace sluice::agent::features
