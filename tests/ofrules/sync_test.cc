// [ovs] tests of FlowSyncer against a real ovs-vswitchd (OvsSandbox), with ovs-ofctl as oracle.
#include <catch2/catch.hpp>

#include <unistd.h>
#include <chrono>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

#include "ofrules/flow_syncer.h"
#include "ofrules/round_store.h"
#include "ovsdb/ovsdb_round_store.h"
#include "ovsdb/transport.h"
#include "sync_test_support.h"
#include "testing/subprocess.h"

namespace sluice::ofrules {
namespace {

using test::egressFlows;
using test::expectedFlows;
using test::ofctlFlows;
using Clock = std::chrono::steady_clock;

std::vector<Flow> concat(const std::vector<std::vector<Flow>>& parts) {
  std::vector<Flow> all;
  for (const auto& part : parts) {
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

std::string owner(int index) { return "egress/e" + std::to_string(index); }

// 100 owners with 100 flows each.
std::vector<std::vector<Flow>> tenThousandFlows() {
  std::vector<std::vector<Flow>> owners;
  for (int i = 0; i < 100; ++i) {
    owners.push_back(egressFlows(i, 100));
  }
  return owners;
}

void setAll(FlowSyncer& syncer, const std::vector<std::vector<Flow>>& owners) {
  for (std::size_t i = 0; i < owners.size(); ++i) {
    auto result = syncer.setFlows(owner(static_cast<int>(i)), owners[i]);
    INFO((result ? std::string() : result.error().message));
    REQUIRE(result.ok());
  }
}

void requireOk(const Result<void>& result) {
  INFO((result ? std::string() : result.error().message));
  REQUIRE(result.ok());
}

TEST_CASE("sync installs 10,000 flows exactly as desired", "[ovs]") {
  auto sandbox = test::startSandboxWithBridge();
  MemoryRoundStore rounds;
  auto syncer = FlowSyncer::create(test::syncerOptions(*sandbox), rounds);
  REQUIRE(syncer.ok());
  auto owners = tenThousandFlows();
  setAll(**syncer, owners);
  requireOk((*syncer)->sync());

  auto all = concat(owners);
  REQUIRE(all.size() == 10000);
  CHECK(ofctlFlows(*sandbox) == expectedFlows(**syncer, all));
  CHECK((*syncer)->counters().bundlesSent == 1);
  CHECK((*syncer)->inSync());

  // Our own stats dump sees the same flows.
  auto dumped = (*syncer)->dumpFlows();
  REQUIRE(dumped.ok());
  std::set<test::FlowTuple> ours;
  for (const auto& flow : *dumped) {
    ours.insert(test::parseOfctlLine(flow.text()));
    CHECK(flow.packets == 0);
  }
  CHECK(ours == expectedFlows(**syncer, all));

  // A filtered dump: one table, one owner's cookie.
  auto table10 = (*syncer)->dumpFlows({.table = 10});
  REQUIRE(table10.ok());
  CHECK(table10->size() == 3400);  // i % 3 == 0 for 34 of every 100 flows
  Cookie ownerCookie{0, Category::kEgress, 5};
  auto byOwner = (*syncer)->dumpFlows(
      {.table = std::nullopt, .cookie = ownerCookie.encode(), .cookieMask = Cookie::kOwnerMask});
  REQUIRE(byOwner.ok());
  CHECK(byOwner->size() == 100);
}

TEST_CASE("changing one owner's flows sends only that delta", "[ovs]") {
  auto sandbox = test::startSandboxWithBridge();
  MemoryRoundStore rounds;
  auto syncer = FlowSyncer::create(test::syncerOptions(*sandbox), rounds);
  REQUIRE(syncer.ok());
  auto owners = tenThousandFlows();
  setAll(**syncer, owners);
  requireOk((*syncer)->sync());
  std::uint64_t totalBefore = (*syncer)->counters().flowModsTotal;

  // Nothing changed: nothing is sent.
  requireOk((*syncer)->sync());
  CHECK((*syncer)->counters().flowModsLastSync == 0);
  CHECK((*syncer)->counters().bundlesSent == 1);

  // Owner 7: change 10 flows, drop 5, add 5 (keys of a new variant range).
  auto changed = owners[7];
  for (int i = 0; i < 10; ++i) {
    changed[static_cast<std::size_t>(i)] = egressFlows(7, 100, 3)[static_cast<std::size_t>(i)];
  }
  changed.erase(changed.end() - 5, changed.end());
  auto extra = egressFlows(200, 100);
  extra.resize(5);
  for (auto& flow : extra) {
    flow.cookie = owners[7][0].cookie;
  }
  changed.insert(changed.end(), extra.begin(), extra.end());
  requireOk((*syncer)->setFlows(owner(7), changed));
  requireOk((*syncer)->sync());
  CHECK((*syncer)->counters().flowModsLastSync == 20);
  CHECK((*syncer)->counters().flowModsTotal == totalBefore + 20);
  CHECK((*syncer)->counters().bundlesSent == 2);

  owners[7] = changed;
  CHECK(ofctlFlows(*sandbox) == expectedFlows(**syncer, concat(owners)));

  // Deleting an owner deletes exactly its flows.
  (*syncer)->deleteOwner(owner(3));
  requireOk((*syncer)->sync());
  CHECK((*syncer)->counters().flowModsLastSync == 100);
  owners[3].clear();
  CHECK(ofctlFlows(*sandbox) == expectedFlows(**syncer, concat(owners)));
}

TEST_CASE("after ovs-vswitchd restarts, every desired flow is back within 1 s, same syncer",
          "[ovs]") {
  auto sandbox = test::startSandboxWithBridge();
  MemoryRoundStore rounds;
  auto syncer = FlowSyncer::create(test::syncerOptions(*sandbox), rounds);
  REQUIRE(syncer.ok());
  FlowSyncer* original = syncer->get();
  auto owners = tenThousandFlows();
  setAll(**syncer, owners);
  requireOk((*syncer)->sync());
  auto expected = expectedFlows(**syncer, concat(owners));
  REQUIRE(ofctlFlows(*sandbox) == expected);

  requireOk(sandbox->killVswitchd());
  // While the switch is gone, poll() fails softly and the desired table is kept.
  auto whileDown = Clock::now() + std::chrono::milliseconds(300);
  while (Clock::now() < whileDown) {
    CHECK_FALSE((*syncer)->poll().ok());
  }
  // A change made while disconnected is part of the table sent on reconnect.
  owners[1] = egressFlows(1, 100, 9);
  requireOk((*syncer)->setFlows(owner(1), owners[1]));
  expected = expectedFlows(**syncer, concat(owners));

  requireOk(sandbox->startVswitchd());
  auto switchUp = Clock::now();
  auto deadline = switchUp + std::chrono::seconds(1);
  // Until the syncer has noticed the restart, reconnected and replaced the table.
  auto restoredYet = [&] { return (*syncer)->counters().reconnects == 1 && (*syncer)->inSync(); };
  while (!restoredYet() && Clock::now() < deadline) {
    (void)(*syncer)->poll();
  }
  auto restored = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - switchUp);
  INFO("restored after " << restored.count() << " ms");
  std::cerr << "flows restored " << restored.count() << " ms after ovs-vswitchd was up\n";
  REQUIRE(restoredYet());
  CHECK(restored < std::chrono::seconds(1));
  CHECK(syncer->get() == original);
  CHECK((*syncer)->counters().reconnects == 1);
  CHECK((*syncer)->counters().fullResyncs == 2);
  CHECK(ofctlFlows(*sandbox) == expected);
}

TEST_CASE("sync() after an unnoticed ovs-vswitchd restart reconnects and replaces the table",
          "[ovs]") {
  auto sandbox = test::startSandboxWithBridge();
  MemoryRoundStore rounds;
  auto syncer = FlowSyncer::create(test::syncerOptions(*sandbox), rounds);
  REQUIRE(syncer.ok());
  std::vector<std::vector<Flow>> owners{egressFlows(0, 100), egressFlows(1, 100)};
  setAll(**syncer, owners);
  requireOk((*syncer)->sync());

  // No poll() in between: the syncer learns of the restart only when sync() writes.
  requireOk(sandbox->killVswitchd());
  requireOk(sandbox->startVswitchd());
  owners[1] = egressFlows(1, 100, 4);
  requireOk((*syncer)->setFlows(owner(1), owners[1]));
  auto deadline = Clock::now() + std::chrono::seconds(2);
  Result<void> synced = makeError("not tried");
  while (!(synced = (*syncer)->sync()).ok() && Clock::now() < deadline) {
  }
  requireOk(synced);
  CHECK((*syncer)->counters().reconnects == 1);
  CHECK(ofctlFlows(*sandbox) == expectedFlows(**syncer, concat(owners)));
}

TEST_CASE("the first sync reconciles with flows it never installed; poll() waits for it", "[ovs]") {
  auto sandbox = test::startSandboxWithBridge();
  // A previous agent left two flows: one still wanted (spelled differently), one stale.
  auto wanted = egressFlows(0, 1)[0];
  requireOk([&]() -> Result<void> {
    auto added = sandbox->run(std::string("ovs-ofctl -O OpenFlow15 add-flow ") + test::kBridge +
                              " 'table=10,priority=200,nw_src=10.100.0.0,ip,actions=drop'");
    if (!added) {
      return added.error();
    }
    auto stale = sandbox->run(std::string("ovs-ofctl -O OpenFlow15 add-flow ") + test::kBridge +
                              " 'table=3,priority=7,tcp,tp_dst=80,actions=drop'");
    return stale ? Result<void>() : stale.error();
  }());
  MemoryRoundStore rounds;
  auto syncer = FlowSyncer::create(test::syncerOptions(*sandbox), rounds);
  REQUIRE(syncer.ok());
  // poll() connects but does not reconcile an empty desired table: nothing is deleted yet.
  auto deadline = Clock::now() + std::chrono::seconds(2);
  while (!(*syncer)->connection().connected() && Clock::now() < deadline) {
    (void)(*syncer)->poll();
  }
  requireOk((*syncer)->poll());
  CHECK(ofctlFlows(*sandbox).size() == 2);

  requireOk((*syncer)->setFlows("egress/e0", {wanted}));
  requireOk((*syncer)->sync());
  CHECK((*syncer)->counters().flowModsLastSync == 2);  // one add (replacing its twin), one delete
  CHECK(ofctlFlows(*sandbox) == expectedFlows(**syncer, {wanted}));
}

// Two namespaces joined through the sandbox's bridge by veths, ports 1 and 2.
class TwoHosts {
 public:
  explicit TwoHosts(const testing::OvsSandbox& sandbox) : sandbox_(sandbox) {
    std::string suffix = std::to_string(getpid() % 100000);
    hostA_ = "slsync-a-" + suffix;
    hostB_ = "slsync-b-" + suffix;
    portA_ = "slsa" + suffix;
    portB_ = "slsb" + suffix;
    add(hostA_, portA_, "10.77.0.1/24", 1);
    add(hostB_, portB_, "10.77.0.2/24", 2);
  }
  ~TwoHosts() {
    // The veth pairs go with the namespaces.
    (void)testing::runCommand({"ip", "netns", "del", hostA_});
    (void)testing::runCommand({"ip", "netns", "del", hostB_});
  }
  const std::string& hostA() const { return hostA_; }

 private:
  void run(const std::vector<std::string>& argv) {
    auto output = testing::runCommand(argv);
    INFO(testing::describeCommand(argv) << ": " << (output ? output->err : output.error().message));
    REQUIRE(output.ok());
    REQUIRE(output->exitCode == 0);
  }
  void add(const std::string& host, const std::string& port, const std::string& address,
           int ofport) {
    const std::string& switchNs = sandbox_.netns();
    run({"ip", "netns", "add", host});
    run({"ip", "-n", switchNs, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns",
         host});
    run({"ip", "-n", host, "addr", "add", address, "dev", "eth0"});
    run({"ip", "-n", host, "link", "set", "eth0", "up"});
    run({"ip", "-n", host, "link", "set", "lo", "up"});
    run({"ip", "-n", switchNs, "link", "set", port, "up"});
    // The switch namespace's kernel must not handle frames of a port OVS reads
    // (docs/userspace-datapath.md).
    run({"ip", "netns", "exec", switchNs, "nft",
         "add table netdev slsync; add chain netdev slsync " + port +
             " { type filter hook ingress device \"" + port + "\" priority 0; policy drop; }"});
    auto added =
        sandbox_.run("ovs-vsctl add-port " + std::string(test::kBridge) + " " + port +
                     " -- set Interface " + port + " ofport_request=" + std::to_string(ofport));
    INFO((added ? std::string() : added.error().message));
    REQUIRE(added.ok());
  }

  const testing::OvsSandbox& sandbox_;
  std::string hostA_, hostB_, portA_, portB_;
};

std::vector<Flow> forwardingFlows() {
  std::uint64_t cookie = Cookie{0, Category::kPipeline, 1}.encode();
  return {Flow{.table = 0,
               .priority = 100,
               .match = "in_port=1",
               .actions = "output:2",
               .cookie = cookie},
          Flow{.table = 0,
               .priority = 100,
               .match = "in_port=2",
               .actions = "output:1",
               .cookie = cookie}};
}

TEST_CASE("a restarted syncer deletes only stale flows and loses no packet", "[ovs]") {
  auto sandbox = test::startSandboxWithBridge();
  TwoHosts hosts(*sandbox);
  auto transport = ovsdb::UnixSocketTransport::open(sandbox->dbRemote());
  REQUIRE(transport.ok());
  ovsdb::OvsdbClient ovsdb(std::move(*transport));
  ovsdb::OvsdbRoundStore rounds(ovsdb, test::kBridge);
  auto stale = egressFlows(50, 200);

  auto first = FlowSyncer::create(test::syncerOptions(*sandbox), rounds);
  REQUIRE(first.ok());
  REQUIRE((*first)->round() == 1);
  requireOk((*first)->setFlows("node", forwardingFlows()));
  requireOk((*first)->setFlows("egress/old", stale));
  requireOk((*first)->sync());
  REQUIRE(ofctlFlows(*sandbox).size() == 202);

  std::string pingLog = sandbox->dir() + "/ping.out";
  auto ping = testing::spawnDaemon({"ip", "netns", "exec", hosts.hostA(), "ping", "-n", "-i",
                                    "0.002", "-c", "1500", "10.77.0.2"},
                                   {.environment = {}, .outputPath = pingLog});
  REQUIRE(ping.ok());
  // Wait until the stream really flows through the flow that stays desired.
  auto countThroughForward = [&](FlowSyncer& syncer) -> std::uint64_t {
    auto flows = syncer.dumpFlows({.table = 0});
    REQUIRE(flows.ok());
    std::uint64_t packets = 0;
    for (const auto& flow : *flows) {
      packets += flow.packets;
    }
    return packets;
  };
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (countThroughForward(**first) < 200 && Clock::now() < deadline) {
  }
  REQUIRE(countThroughForward(**first) >= 200);

  // The agent restarts: a new syncer, a new round, only the forwarding flows still desired.
  first->reset();
  auto second = FlowSyncer::create(test::syncerOptions(*sandbox), rounds);
  REQUIRE(second.ok());
  CHECK((*second)->round() == 2);
  requireOk((*second)->setFlows("node", forwardingFlows()));
  requireOk((*second)->sync());
  REQUIRE(testing::processRunning(*ping));  // the round changed while packets were flowing
  CHECK((*second)->counters().flowModsLastSync == 202);  // 2 re-adds + 200 stale deletes

  auto onSwitch = ofctlFlows(*sandbox);
  CHECK(onSwitch == expectedFlows(**second, forwardingFlows()));
  for (const auto& flow : onSwitch) {
    CHECK(Cookie::decode(std::get<0>(flow)).round == 2);
  }
  auto stored = sandbox->run(std::string("ovs-vsctl get Bridge ") + test::kBridge +
                             " external_ids:sluice-round");
  REQUIRE(stored.ok());
  CHECK_THAT(*stored, Catch::Contains("\"2\""));

  deadline = Clock::now() + std::chrono::seconds(15);
  while (testing::processRunning(*ping) && Clock::now() < deadline) {
    (void)(*second)->poll();
  }
  REQUIRE_FALSE(testing::processRunning(*ping));
  std::ifstream log(pingLog);
  std::stringstream text;
  text << log.rdbuf();
  std::smatch counts;
  std::string summary = text.str();
  INFO(summary);
  REQUIRE(std::regex_search(summary, counts,
                            std::regex(R"((\d+) packets transmitted, (\d+) received)")));
  CHECK(counts[1] == "1500");
  CHECK(counts[2] == "1500");
}

TEST_CASE("a malformed flow is rejected by name and the rest of the table still syncs", "[ovs]") {
  auto sandbox = test::startSandboxWithBridge();
  MemoryRoundStore rounds;
  auto syncer = FlowSyncer::create(test::syncerOptions(*sandbox), rounds);
  REQUIRE(syncer.ok());
  auto good = egressFlows(1, 50);
  requireOk((*syncer)->setFlows("egress/good", good));

  auto mixed = egressFlows(2, 3);
  Flow malformed{.table = 10, .priority = 300, .match = "ip,nw_srcc=10.9.9.9", .actions = "drop"};
  auto result = (*syncer)->setFlows("egress/mixed", {mixed[0], malformed, mixed[1], mixed[2]});
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(result.error().message, Catch::Contains("egress/mixed"));
  CHECK_THAT(result.error().message, Catch::Contains("table=10,priority=300,ip,nw_srcc=10.9.9.9"));
  CHECK_THAT(result.error().message, Catch::Contains("nw_srcc"));  // OVS: unknown keyword
  requireOk((*syncer)->sync());
  auto expected = expectedFlows(**syncer, concat({good, mixed}));
  CHECK(ofctlFlows(*sandbox) == expected);

  SECTION("a flow the switch refuses is named, the rest is still installed") {
    // Parses fine, but group 99 does not exist: ovs-vswitchd refuses the flow mod.
    Flow refused{.table = 0, .priority = 10, .match = "ip,nw_dst=10.8.0.1", .actions = "group:99"};
    auto more = egressFlows(3, 10);
    requireOk((*syncer)->setFlows("egress/refused", {refused}));
    requireOk((*syncer)->setFlows("egress/more", more));
    auto synced = (*syncer)->sync();
    REQUIRE_FALSE(synced.ok());
    CHECK_THAT(synced.error().message, Catch::Contains("nw_dst=10.8.0.1"));
    CHECK_THAT(synced.error().message, Catch::Contains("egress/refused"));
    CHECK_THAT(synced.error().message, Catch::Contains("OFPBAC_BAD_OUT_GROUP"));
    CHECK(ofctlFlows(*sandbox) == expectedFlows(**syncer, concat({good, mixed, more})));
    CHECK((*syncer)->inSync());
  }
}

TEST_CASE("a select group with weighted buckets is installed, changed and removed with its flows",
          "[ovs]") {
  auto sandbox = test::startSandboxWithBridge();
  MemoryRoundStore rounds;
  auto syncer = FlowSyncer::create(test::syncerOptions(*sandbox), rounds);
  REQUIRE(syncer.ok());
  auto dumpGroups = [&] {
    auto output = sandbox->run(std::string("ovs-ofctl -O OpenFlow15 dump-groups ") + test::kBridge);
    REQUIRE(output.ok());
    return *output;
  };
  Group group{
      .id = 5,
      .type = GroupType::kSelect,
      .buckets = {{.weight = 10, .actions = "output:1"}, {.weight = 30, .actions = "output:2"}},
      .selectionMethod = "",
      .selectionFields = {}};
  Flow user{.table = 0, .priority = 100, .match = "ip,nw_dst=10.96.0.10", .actions = "group:5"};

  // Flow and group arrive in the same sync: the group must be added before the flow.
  requireOk((*syncer)->setFlows("service/dns", {user}));
  requireOk((*syncer)->setGroups("service/dns", {group}));
  requireOk((*syncer)->sync());
  CHECK((*syncer)->counters().groupModsLastSync == 1);
  CHECK((*syncer)->counters().flowModsLastSync == 1);
  std::string groups = dumpGroups();
  CHECK_THAT(groups, Catch::Contains("group_id=5,type=select"));
  CHECK_THAT(groups, Catch::Contains("weight:10,actions=output:1"));
  CHECK_THAT(groups, Catch::Contains("weight:30,actions=output:2"));
  CHECK(ofctlFlows(*sandbox) == expectedFlows(**syncer, {user}));

  // Changed weights: a modify, the flow is untouched.
  group.buckets[1].weight = 70;
  group.buckets.push_back({.weight = 20, .actions = "output:3"});
  requireOk((*syncer)->setGroups("service/dns", {group}));
  requireOk((*syncer)->sync());
  CHECK((*syncer)->counters().groupModsLastSync == 1);
  CHECK((*syncer)->counters().flowModsLastSync == 0);
  groups = dumpGroups();
  CHECK_THAT(groups, Catch::Contains("weight:70,actions=output:2"));
  CHECK_THAT(groups, Catch::Contains("weight:20,actions=output:3"));

  // Removing the owner removes flow and group: flow first, group last.
  (*syncer)->deleteOwner("service/dns");
  requireOk((*syncer)->sync());
  CHECK((*syncer)->counters().groupModsLastSync == 1);
  CHECK((*syncer)->counters().flowModsLastSync == 1);
  CHECK(ofctlFlows(*sandbox).empty());
  CHECK_THAT(dumpGroups(), !Catch::Contains("group_id=5"));

  SECTION("groups survive a restart round and a switch restart") {
    requireOk((*syncer)->setGroups("service/dns", {group}));
    requireOk((*syncer)->setFlows("service/dns", {user}));
    requireOk((*syncer)->setGroups("service/stale",
                                   {Group{.id = 6,
                                          .type = GroupType::kAll,
                                          .buckets = {{.weight = 0, .actions = "output:4"}},
                                          .selectionMethod = "",
                                          .selectionFields = {}}}));
    requireOk((*syncer)->sync());
    syncer->reset();
    auto next = FlowSyncer::create(test::syncerOptions(*sandbox), rounds);
    REQUIRE(next.ok());
    requireOk((*next)->setGroups("service/dns", {group}));
    requireOk((*next)->setFlows("service/dns", {user}));
    requireOk((*next)->sync());
    groups = dumpGroups();
    CHECK_THAT(groups, Catch::Contains("group_id=5"));
    CHECK_THAT(groups, !Catch::Contains("group_id=6"));
    CHECK(ofctlFlows(*sandbox) == expectedFlows(**next, {user}));

    requireOk(sandbox->killVswitchd());
    requireOk(sandbox->startVswitchd());
    auto deadline = Clock::now() + std::chrono::seconds(2);
    auto restoredYet = [&] { return (*next)->counters().reconnects == 1 && (*next)->inSync(); };
    while (!restoredYet() && Clock::now() < deadline) {
      (void)(*next)->poll();
    }
    REQUIRE(restoredYet());
    INFO("reconnects " << (*next)->counters().reconnects << " full "
                       << (*next)->counters().fullResyncs);
    CHECK_THAT(dumpGroups(), Catch::Contains("weight:70,actions=output:2"));
    CHECK(ofctlFlows(*sandbox) == expectedFlows(**next, {user}));
  }
}

}  // namespace
}  // namespace sluice::ofrules
