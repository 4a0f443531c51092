// The pod network and remote nodes units against fakes, and the agent's state cache.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <unistd.h>

#include "agent/agent_state_cache.h"
#include "agent/pod_network_unit.h"
#include "agent/reconcile_queue.h"
#include "agent/remote_nodes_unit.h"
#include "fakes.h"

namespace sluice::agent {
namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char name[] = "/tmp/sl-units-XXXXXX";
    path = ::mkdtemp(name);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

struct Fixture {
  ofrules::Pipeline pipeline;
  features::NodeNetwork network{"node01",
                                *parseIpv4("10.10.2.1"),
                                *parseCidr("10.244.1.0/24"),
                                "02:00:00:00:01:01",
                                {*parseCidr("10.244.1.0/24")}};
  testing::FakeFlowSink sink;
  Fixture() {
    ofrules::PipelineBuilder builder;
    features::declarePodNetworkTables(builder);
    features::declareEgressTables(builder);
    pipeline = builder.build();
  }
};

PodAttachment attachment(const std::string& containerId, const char* ip) {
  PodAttachment pod;
  pod.containerId = containerId;
  pod.ifName = "eth0";
  pod.podNamespace = "prod";
  pod.podName = "web-" + containerId;
  pod.hostIfName = "sl" + containerId;
  pod.podMac = "0a:58:0a:f4:01:05";
  pod.ip = *parseIpv4(ip);
  return pod;
}

TEST_CASE("the pod network unit owns one flow owner per pod and tells egress first", "[unit]") {
  Fixture fixture;
  testing::FakePodPorts ports;
  int changes = 0;
  int syncsAtChange = -1;
  PodNetworkUnit unit({.pipeline = fixture.pipeline,
                       .network = fixture.network,
                       .integration = fixture.sink,
                       .ports = ports,
                       .onPodsChanged = [&] {
                         ++changes;
                         syncsAtChange = fixture.sink.syncs;
                       }});
  auto ofport = unit.attach(attachment("c1", "10.244.1.5"));
  REQUIRE(ofport.ok());
  CHECK(*ofport == 10);
  CHECK(fixture.sink.owners.contains("pod:c1/eth0"));
  CHECK_FALSE(fixture.sink.owners.at("pod:c1/eth0").empty());
  CHECK(changes == 1);
  CHECK(syncsAtChange == 0);  // egress reconciled before the pod's flows were sent
  CHECK(fixture.sink.syncs == 1);
  REQUIRE(unit.pods().contains("pod:c1/eth0"));
  CHECK(unit.pods().at("pod:c1/eth0").podName == "web-c1");

  REQUIRE(unit.detach(attachment("c1", "10.244.1.5")).ok());
  CHECK_FALSE(fixture.sink.owners.contains("pod:c1/eth0"));
  CHECK(ports.ports.empty());
  CHECK(unit.pods().empty());
  CHECK(changes == 2);
}

TEST_CASE("the pod network unit restores the pods whose ports OVS still has", "[unit]") {
  Fixture fixture;
  testing::FakePodPorts ports;
  auto restored = attachment("c2", "10.244.1.6");
  restored.ofport = 7;
  ports.ports[restored.hostIfName] = restored;
  PodNetworkUnit unit({.pipeline = fixture.pipeline,
                       .network = fixture.network,
                       .integration = fixture.sink,
                       .ports = ports,
                       .onPodsChanged = [] {}});
  unit.restore();
  REQUIRE(unit.pods().contains("pod:c2/eth0"));
  CHECK(unit.pods().at("pod:c2/eth0").pod.ofport == 7);
  CHECK(fixture.sink.owners.contains("pod:c2/eth0"));
}

TEST_CASE("the remote nodes unit restores cached nodes: flows, routes, neighbours, CIDRs",
          "[unit]") {
  Fixture fixture;
  TempDir dir;
  AgentStateCache cache(dir.path);
  cache.saveRemoteNodes({{"node02", {*parseIpv4("10.10.2.2"), *parseCidr("10.244.2.0/24")}}});
  testing::FakeRemoteNodeHost host;
  TaskLoop loop;
  RemoteNodesUnit unit({.loop = loop,
                        .pipeline = fixture.pipeline,
                        .network = fixture.network,
                        .integration = fixture.sink,
                        .cache = cache,
                        .host = host});
  REQUIRE(unit.installNodeFlows().ok());
  const auto nodeFlowsBefore = fixture.sink.owners.at("node");
  unit.restoreFromCache();
  CHECK(fixture.sink.owners.contains("node:node02"));
  CHECK(host.routes == std::set<std::string>{"10.244.2.0/24"});
  CHECK(host.neighbours == std::set<Ipv4>{*parseIpv4("10.10.2.2")});
  CHECK(fixture.network.clusterCidrs ==
        std::vector<Cidr>{*parseCidr("10.244.1.0/24"), *parseCidr("10.244.2.0/24")});
  // The node-wide flows now know one more cluster CIDR (never SNATed).
  CHECK(fixture.sink.owners.at("node").size() == nodeFlowsBefore.size() + 1);
  CHECK(unit.nodes().size() == 1);
}

TEST_CASE("a Node's identity needs both its podCIDR and its InternalIP", "[unit]") {
  auto node = nlohmann::json::parse(R"({"metadata":{"name":"node02"},
    "spec":{"podCIDR":"10.244.2.0/24"},
    "status":{"addresses":[{"type":"Hostname","address":"node02"},
                           {"type":"InternalIP","address":"10.10.2.2"}]}})");
  auto identity = remoteNodeIdentity(node);
  REQUIRE(identity);
  CHECK(identity->nodeIp == *parseIpv4("10.10.2.2"));
  CHECK(identity->podCidr == *parseCidr("10.244.2.0/24"));
  node["status"]["addresses"] = nlohmann::json::array();
  CHECK_FALSE(remoteNodeIdentity(node));
}

TEST_CASE("the state cache keeps the node, the remote nodes and the egress flows", "[unit]") {
  TempDir dir;
  AgentStateCache cache(dir.path);
  CHECK_FALSE(cache.loadNode());
  CHECK_FALSE(cache.loadRemoteNodes());
  CHECK_FALSE(cache.loadEgress());
  const NodeIdentity self{*parseIpv4("10.10.2.1"), *parseCidr("10.244.1.0/24")};
  cache.saveNode(self);
  CHECK(cache.loadNode() == self);
  const CachedEgress egress{
      .integration = {ofrules::Flow{40, 200, "ip,nw_src=10.244.1.5", "drop", 7}},
      .physical = {ofrules::Flow{0, 300, "arp,arp_tpa=10.10.0.8", "drop", 9}},
      .served = {*parseIpv4("10.10.0.8")}};
  cache.saveEgress(egress, {*parseIpv4("10.10.0.8")});
  auto loaded = cache.loadEgress();
  REQUIRE(loaded);
  REQUIRE(loaded->integration.size() == 1);
  CHECK(loaded->integration[0].match == "ip,nw_src=10.244.1.5");
  CHECK(loaded->integration[0].cookie == 7);
  CHECK(loaded->physical.size() == 1);
  CHECK(loaded->served == egress.served);
  std::ofstream(dir.path + "/remote-nodes.json") << "{not json";
  CHECK_FALSE(cache.loadRemoteNodes());
}

TEST_CASE("a burst of keys costs one reconcile that sees them all", "[unit]") {
  TaskLoop loop;
  std::vector<std::set<std::string>> batches;
  std::promise<void> reconciled;
  ReconcileQueue queue(loop, [&](const std::set<std::string>& keys) {
    batches.push_back(keys);
    reconciled.set_value();
  });
  // Added before the loop runs, as informer events arrive while it is busy.
  for (const auto* key : {"node02", "node03", "node02"}) queue.add(key);
  std::thread thread([&] { loop.run(); });
  reconciled.get_future().wait();
  loop.call([] {});  // whatever else was posted has run
  loop.stop();
  thread.join();
  REQUIRE(batches.size() == 1);
  CHECK(batches[0] == std::set<std::string>{"node02", "node03"});
}

}  // namespace
}  // namespace sluice::agent
