// The pod network and remote nodes units against fakes, the egress unit's owner diff, and the
// agent's state cache.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <unistd.h>

#include "agent/agent_state_cache.h"
#include "agent/egress_unit.h"
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
      .integration = {{"egress:egress-prod-web",
                       {ofrules::Flow{40, 200, "ip,nw_src=10.244.1.5", "drop", 7}}}},
      .physical = {{"egress-ip:10.10.0.8",
                    {ofrules::Flow{0, 300, "arp,arp_tpa=10.10.0.8", "drop", 9}}}},
      .served = {*parseIpv4("10.10.0.8")}};
  cache.saveEgress(egress, {*parseIpv4("10.10.0.8")});
  auto loaded = cache.loadEgress();
  REQUIRE(loaded);
  REQUIRE(loaded->integration.size() == 1);
  const auto& integration = loaded->integration.at("egress:egress-prod-web");
  REQUIRE(integration.size() == 1);
  CHECK(integration[0].match == "ip,nw_src=10.244.1.5");
  CHECK(integration[0].cookie == 7);
  CHECK(loaded->physical.at("egress-ip:10.10.0.8").size() == 1);
  CHECK(loaded->served == egress.served);
  std::ofstream(dir.path + "/remote-nodes.json") << "{not json";
  CHECK_FALSE(cache.loadRemoteNodes());
}

TEST_CASE("an egress cache of before per-object owners loads under the old single owners",
          "[unit]") {
  TempDir dir;
  std::ofstream(dir.path + "/egress-flows.json")
      << R"({"integration":[[40,200,"ip,nw_src=10.244.1.5","drop",7]],"physical":[],)"
      << R"("held":["10.10.0.8"],"served":["10.10.0.8"]})";
  AgentStateCache cache(dir.path);
  auto loaded = cache.loadEgress();
  REQUIRE(loaded);
  REQUIRE(loaded->integration.size() == 1);
  CHECK(loaded->integration.at(kLegacyEgressOwner).size() == 1);
  CHECK(loaded->physical.empty());
  CHECK(loaded->served == std::set<Ipv4>{*parseIpv4("10.10.0.8")});
}

// A sink that, like FlowSyncer, refuses a flow whose key another owner holds.
class KeyedFlowSink : public FlowSink {
 public:
  Result<void> setFlows(const std::string& owner,
                        const std::vector<ofrules::Flow>& flows) override {
    drop(owner);
    std::string refused;
    for (const auto& flow : flows) {
      const auto key = std::to_string(flow.table) + "/" + flow.match;
      if (auto holder = keys.find(key); holder != keys.end() && holder->second != owner) {
        refused += key + " ";
        continue;
      }
      keys[key] = owner;
      owners[owner].push_back(flow);
    }
    ++sets;
    if (!refused.empty()) return makeError("held by another owner: " + refused);
    return {};
  }
  Result<void> setGroups(const std::string&, const std::vector<ofrules::Group>&) override {
    return {};
  }
  void deleteOwner(const std::string& owner) override {
    drop(owner);
    deleted.push_back(owner);
  }
  Result<void> sync() override { return {}; }
  void drop(const std::string& owner) {
    owners.erase(owner);
    std::erase_if(keys, [&](const auto& entry) { return entry.second == owner; });
  }
  std::map<std::string, std::vector<ofrules::Flow>> owners;
  std::map<std::string, std::string> keys;
  std::vector<std::string> deleted;
  int sets = 0;
};

TEST_CASE("the egress unit deletes the owners that are gone and sets the others", "[unit]") {
  const ofrules::Flow web{40, 200, "ip,nw_src=10.244.1.5", "drop", 1};
  const ofrules::Flow db{40, 200, "ip,nw_src=10.244.1.6", "drop", 2};
  const ofrules::Flow snat{60, 200, "ip,reg7=0xa0008", "drop", 3};
  CHECK(staleOwners({"egress", "egress:a", "egress-ip:10.10.0.8"},
                    {{"egress:a", {web}}, {"egress:b", {db}}}) ==
        std::vector<std::string>{"egress", "egress-ip:10.10.0.8"});
  CHECK(staleOwners({}, {{"egress:a", {web}}}).empty());

  KeyedFlowSink sink;
  std::set<std::string> installed;
  // A restart restores the old single owner.
  setOwnedFlows(sink, {{"egress", {web, db, snat}}}, installed);
  CHECK(installed == std::set<std::string>{"egress"});
  // The first reconcile moves every flow to its object's owner: the old owner goes first.
  setOwnedFlows(sink, {{"egress:a", {web}}, {"egress:b", {db}}, {"egress-ip:10.10.0.8", {snat}}},
                installed);
  CHECK(sink.deleted == std::vector<std::string>{"egress"});
  CHECK(installed == std::set<std::string>{"egress:a", "egress:b", "egress-ip:10.10.0.8"});
  CHECK(sink.owners.size() == 3);
  CHECK(sink.keys.size() == 3);
  // Pods swap Egresses while both stay: a key still held by the other owner is set again once
  // that owner holds its new flows.
  sink.deleted.clear();
  setOwnedFlows(sink, {{"egress:a", {db}}, {"egress:b", {web}}}, installed);
  CHECK(sink.deleted == std::vector<std::string>{"egress-ip:10.10.0.8"});
  CHECK(sink.owners.at("egress:a").size() == 1);
  CHECK(sink.owners.at("egress:a")[0].match == db.match);
  CHECK(sink.owners.at("egress:b").size() == 1);
  CHECK(sink.owners.at("egress:b")[0].match == web.match);
  CHECK(installed == std::set<std::string>{"egress:a", "egress:b"});
  // Nothing wanted: every owner goes.
  setOwnedFlows(sink, {}, installed);
  CHECK(sink.owners.empty());
  CHECK(installed.empty());
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
