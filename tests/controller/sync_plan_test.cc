// Unit tests of the controller's pure reconcile plan: what is written, what is announced as a
// hand-over, what moves and which Events follow, from decoded objects and liveness alone.
#include <catch2/catch.hpp>

#include "controller/sync_plan.h"

namespace sluice::controller {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

ObservedPool pool() {
  return {decodePool(json::parse(R"({"metadata":{"name":"pool-a"},
    "spec":{"ipRanges":[{"start":"10.10.0.2","end":"10.10.0.3"}]}})")),
          json::object()};
}

ObservedEgress egress(const json& status) {
  auto object =
      json::parse(R"({"metadata":{"name":"web","creationTimestamp":"2026-11-26T07:00:00Z"},
    "spec":{"appliedTo":{"podSelector":{}},"externalIPPool":"pool-a"}})");
  object["status"] = status;
  return {decodeEgress(object), status, "5"};
}

SyncInputs inputs(const json& status, NodeLiveness node01, NodeLiveness node02) {
  SyncInputs in;
  in.pools = {pool()};
  in.nodes = {decodeNode(json{{"metadata", {{"name", "node01"}}}}),
              decodeNode(json{{"metadata", {{"name", "node02"}}}})};
  in.egresses = {egress(status)};
  in.liveness = {{"node01", node01}, {"node02", node02}};
  in.now = Clock::time_point{} + std::chrono::hours(1);
  in.nowText = "2026-11-26T08:00:00Z";
  return in;
}

const json kOnNode01 = {{"egressIP", "10.10.0.2"}, {"egressNode", "node01"}};

TEST_CASE("a first allocation is written, logged, and touches no hand-over", "[unit]") {
  HandoverBook book;
  const auto plan =
      planSync(inputs(json::object(), NodeLiveness::kAlive, NodeLiveness::kAlive), book);
  REQUIRE(plan.egressWrites.size() == 1);
  const auto& write = plan.egressWrites[0];
  CHECK(write.resourceVersion == "5");
  CHECK(write.desired["egressIP"] == "10.10.0.2");
  CHECK(write.desired["conditions"][1]["reason"] == "Assigned");
  CHECK(write.moves.empty());
  REQUIRE(write.allocations.size() == 1);
  CHECK_THAT(write.allocations[0], Catch::StartsWith("Egress web: "));
  CHECK(write.handovers.empty());
  CHECK_FALSE(plan.requeueAt);
  CHECK(plan.assignedIps == 1);
  CHECK(plan.liveNodes == 2);
  REQUIRE(plan.poolWrites.size() == 1);
  CHECK(plan.poolWrites[0].desired["usage"] == json{{"total", 2}, {"used", 1}});
  REQUIRE(plan.poolGauges.size() == 1);
}

TEST_CASE("a status that is already as desired is not written again", "[unit]") {
  HandoverBook book;
  auto first = planSync(inputs(json::object(), NodeLiveness::kAlive, NodeLiveness::kAlive), book);
  auto again = inputs(first.egressWrites[0].desired, NodeLiveness::kAlive, NodeLiveness::kAlive);
  again.pools[0].currentStatus = first.poolWrites[0].desired;
  const auto plan = planSync(again, book);
  CHECK(plan.egressWrites.empty());
  CHECK(plan.poolWrites.empty());
  CHECK(plan.assignedIps == 1);
}

TEST_CASE("a dead node's IP moves at once, with the death for the Event", "[unit]") {
  HandoverBook book;
  auto in = inputs(kOnNode01, NodeLiveness::kDead, NodeLiveness::kAlive);
  const auto died = in.now - std::chrono::milliseconds(100);
  in.deaths["node01"] = {"node01", died - std::chrono::milliseconds(500), died,
                         NodeLivenessTracker::Cause::kSilent, "confirmed by 2 of 3 witnesses"};
  const auto plan = planSync(in, book);
  REQUIRE(plan.egressWrites.size() == 1);
  const auto& write = plan.egressWrites[0];
  CHECK(write.desired["egressNode"] == "node02");
  CHECK_FALSE(write.desired.contains("egressIPs"));  // no hand-over from a dead node
  REQUIRE(write.moves.size() == 1);
  CHECK(write.moves[0].previousNode == "node01");
  CHECK(write.moves[0].node == "node02");
  REQUIRE(write.moves[0].death);
  CHECK(write.allocations.empty());
  const auto message = moveMessage(write.moves[0], in.now + std::chrono::milliseconds(1),
                                   std::chrono::milliseconds(500));
  CHECK_THAT(message,
             Catch::StartsWith("Moved 10.10.0.2 from node01 to node02: node01 silent for 601ms, "
                               "confirmed by 2 of 3 witnesses (decision "));
  CHECK_THAT(message, Catch::EndsWith("ms after the 500ms timeout)"));
}

TEST_CASE("a live node's IP is handed over with previousNode until the window ends", "[unit]") {
  HandoverBook book;
  // node01 is alive but not eligible any more: the pool now selects node02 only.
  auto in = inputs(kOnNode01, NodeLiveness::kAlive, NodeLiveness::kAlive);
  in.pools[0].decoded.nodeSelector = kube::LabelSelector{{{"egress", "yes"}}, {}};
  in.nodes[1].labels = {{"egress", "yes"}};
  auto plan = planSync(in, book);
  REQUIRE(plan.egressWrites.size() == 1);
  auto write = plan.egressWrites[0];
  CHECK(write.desired["egressIPs"] ==
        json::parse(R"([{"ip":"10.10.0.2","node":"node02","previousNode":"node01"}])"));
  REQUIRE(write.handovers.size() == 1);
  REQUIRE(plan.requeueAt);
  CHECK(*plan.requeueAt == in.now + kHandoverWindow);
  REQUIRE(write.moves.size() == 1);
  CHECK_FALSE(write.moves[0].death);
  CHECK_FALSE(write.moves[0].previousNodeDeleted);
  CHECK_THAT(
      moveMessage(write.moves[0], in.now, std::chrono::milliseconds(500)),
      Catch::EndsWith("node node01 no longer matches the pool's nodeSelector or has no room"));

  // Within the window the announcement stays; after it, status drops previousNode.
  in.egresses[0] = egress(write.desired);
  in.now += kHandoverWindow / 2;
  plan = planSync(in, book);
  CHECK(plan.egressWrites.empty());
  CHECK(plan.requeueAt);
  in.now += kHandoverWindow;
  plan = planSync(in, book);
  REQUIRE(plan.egressWrites.size() == 1);
  CHECK_FALSE(plan.egressWrites[0].desired.contains("egressIPs"));
  CHECK(plan.egressWrites[0].desired["egressNode"] == "node02");
  CHECK_FALSE(plan.requeueAt);
}

TEST_CASE("a deleted Egress leaves no hand-over behind to requeue for", "[unit]") {
  HandoverBook book;
  auto in = inputs(kOnNode01, NodeLiveness::kAlive, NodeLiveness::kAlive);
  in.pools[0].decoded.nodeSelector = kube::LabelSelector{{{"egress", "yes"}}, {}};
  in.nodes[1].labels = {{"egress", "yes"}};
  REQUIRE(planSync(in, book).requeueAt);
  in.egresses.clear();
  CHECK_FALSE(planSync(in, book).requeueAt);
}

TEST_CASE("a deleted node's move says so; invalid objects become Events", "[unit]") {
  HandoverBook book;
  auto in = inputs(kOnNode01, NodeLiveness::kAlive, NodeLiveness::kAlive);
  in.nodes.erase(in.nodes.begin());
  in.liveness.erase("node01");
  in.nodes.push_back(decodeNode(json::parse(
      R"({"metadata":{"name":"node03","annotations":{"sluice.io/egress-ip-capacity":"many"}}})")));
  in.liveness["node03"] = NodeLiveness::kAlive;
  const auto plan = planSync(in, book);
  REQUIRE(plan.egressWrites.size() == 1);
  REQUIRE(plan.egressWrites[0].moves.size() == 1);
  CHECK(plan.egressWrites[0].moves[0].previousNodeDeleted);
  REQUIRE(plan.events.size() == 1);
  CHECK(plan.events[0].objectKind == "Node");
  CHECK(plan.events[0].objectName == "node03");
  CHECK(plan.events[0].reason == "InvalidCapacity");
}

TEST_CASE("a condition that turns False is an Event once it is written", "[unit]") {
  HandoverBook book;
  auto in = inputs(json::object(), NodeLiveness::kAlive, NodeLiveness::kAlive);
  in.egresses[0] = {
      decodeEgress(json::parse(R"({"metadata":{"name":"web"},"spec":{"egressIP":"10.10.0.9"}})")),
      json::object(), "5"};
  const auto plan = planSync(in, book);
  REQUIRE(plan.egressWrites.size() == 1);
  const auto& events = plan.egressWrites[0].events;
  REQUIRE(events.size() == 2);
  CHECK(events[0].objectKind == "Egress");
  CHECK(events[0].reason == "InvalidSpec");
  CHECK_THAT(events[0].message, Catch::StartsWith("IPAllocated: spec.appliedTo needs"));
  // Written once, the same False conditions are no news.
  in.egresses[0].currentStatus = plan.egressWrites[0].desired;
  CHECK(planSync(in, book).egressWrites.empty());
}

}  // namespace
}  // namespace sluice::controller
