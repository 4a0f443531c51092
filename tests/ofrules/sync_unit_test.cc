// [unit] tests of the sync layer that need no switch: encoding, errors, ownership, cookies.
#include <catch2/catch.hpp>

#include "ofrules/flow_encoder.h"
#include "ofrules/flow_syncer.h"
#include "ofrules/round_store.h"
#include "sync_test_support.h"

namespace sluice::ofrules {
namespace {

FlowSyncerOptions unreachable() {
  return FlowSyncerOptions{.connection = {.target = "unix:/nonexistent/sluice-test.mgmt"}};
}

TEST_CASE("encodeFlowAdd names the flow and OVS's parse error", "[unit]") {
  Flow bad{.table = 3, .priority = 100, .match = "ip,nw_srcx=10.0.0.1", .actions = "drop"};
  auto message = encodeFlowAdd(bad, 0);
  REQUIRE_FALSE(message.ok());
  CHECK_THAT(message.error().message, Catch::Contains("table=3,priority=100,ip,nw_srcx=10.0.0.1"));
  CHECK_THAT(message.error().message, Catch::Contains("nw_srcx"));

  Flow badAction{.table = 0, .priority = 1, .match = "ip", .actions = "resubmit(,300)"};
  auto second = encodeFlowAdd(badAction, 0);
  REQUIRE_FALSE(second.ok());
  CHECK_THAT(second.error().message, Catch::Contains("resubmit(,300)"));
}

TEST_CASE("encoded flow mods carry distinct transaction ids", "[unit]") {
  Flow flow{.table = 1, .priority = 5, .match = "ip", .actions = "drop"};
  auto first = encodeFlowAdd(flow, 1);
  auto second = encodeFlowAdd(flow, 1);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->xid() != second->xid());
  CHECK(encodeFlowDeleteStrict(flow.key()).ok());
  CHECK(encodeDeleteAllFlows());
  CHECK(encodeDeleteAllGroups());
}

TEST_CASE("canonicalMatch spells a match as OVS prints it", "[unit]") {
  auto match = canonicalMatch(FlowKey{0, 10, "nw_src=10.0.0.1,ip"});
  REQUIRE(match.ok());
  CHECK(*match == "ip,nw_src=10.0.0.1");
}

TEST_CASE("groups render in ovs-ofctl syntax and encode", "[unit]") {
  Group group{
      .id = 7,
      .type = GroupType::kSelect,
      .buckets = {{.weight = 10, .actions = "output:1"}, {.weight = 30, .actions = "output:2"}},
      .selectionMethod = "",
      .selectionFields = {}};
  CHECK(groupModText(group) ==
        "group_id=7,type=select,bucket=bucket_id=0,weight=10,actions=output:1,"
        "bucket=bucket_id=1,weight=30,actions=output:2");
  CHECK(encodeGroupMod(group, GroupCommand::kAdd).ok());
  CHECK(encodeGroupMod(group, GroupCommand::kModify).ok());
  Group bad{.id = 8,
            .type = GroupType::kAll,
            .buckets = {{.weight = 0, .actions = "output:nowhere"}},
            .selectionMethod = "",
            .selectionFields = {}};
  auto message = encodeGroupMod(bad, GroupCommand::kAdd);
  REQUIRE_FALSE(message.ok());
  CHECK_THAT(message.error().message, Catch::Contains("group_id=8"));
}

TEST_CASE("the syncer increments and stores the restart round and puts it in cookies", "[unit]") {
  MemoryRoundStore rounds(41);
  auto syncer = FlowSyncer::create(unreachable(), rounds);
  REQUIRE(syncer.ok());
  CHECK((*syncer)->round() == 42);
  CHECK(*rounds.load() == 42);
  Flow flow{.table = 0,
            .priority = 1,
            .match = "",
            .actions = "drop",
            .cookie = Cookie{7, Category::kPod, 0x1234}.encode()};
  Cookie cookie = Cookie::decode((*syncer)->cookieFor(flow));
  CHECK(cookie.round == 42);
  CHECK(cookie.category == Category::kPod);
  CHECK(cookie.ownerHash == 0x1234);

  MemoryRoundStore wrapped(0xffff);
  auto next = FlowSyncer::create(unreachable(), wrapped);
  REQUIRE(next.ok());
  CHECK((*next)->round() == 1);
}

TEST_CASE("two owners setting the same flow key is an error naming both", "[unit]") {
  MemoryRoundStore rounds;
  auto syncer = FlowSyncer::create(unreachable(), rounds);
  REQUIRE(syncer.ok());
  Flow flow{.table = 2, .priority = 100, .match = "ip,nw_dst=10.1.0.1", .actions = "drop"};
  REQUIRE((*syncer)->setFlows("pod/a", {flow}).ok());
  Flow other = flow;
  other.actions = "output:2";
  Flow unrelated{.table = 2, .priority = 100, .match = "ip,nw_dst=10.1.0.2", .actions = "drop"};
  auto result = (*syncer)->setFlows("egress/b", {other, unrelated});
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(result.error().message, Catch::Contains("pod/a"));
  CHECK_THAT(result.error().message, Catch::Contains("egress/b"));
  CHECK_THAT(result.error().message, Catch::Contains("nw_dst=10.1.0.1"));
  // The conflicting flow is left out; the owner's other flow is taken.
  CHECK((*syncer)->desiredFlowCount() == 2);
  // Once the first owner lets go, the second can take the key.
  (*syncer)->deleteOwner("pod/a");
  CHECK((*syncer)->setFlows("egress/b", {other, unrelated}).ok());
  CHECK((*syncer)->desiredFlowCount() == 2);
}

TEST_CASE("one owner listing a key twice with different actions is an error", "[unit]") {
  MemoryRoundStore rounds;
  auto syncer = FlowSyncer::create(unreachable(), rounds);
  REQUIRE(syncer.ok());
  Flow flow{.table = 0, .priority = 1, .match = "ip", .actions = "drop"};
  Flow twin = flow;
  twin.actions = "output:1";
  auto result = (*syncer)->setFlows("node", {flow, flow, twin});
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(result.error().message, Catch::Contains("twice"));
  CHECK((*syncer)->desiredFlowCount() == 1);
}

TEST_CASE("sync without a switch fails with the target named and keeps the desired table",
          "[unit]") {
  MemoryRoundStore rounds;
  auto syncer = FlowSyncer::create(unreachable(), rounds);
  REQUIRE(syncer.ok());
  REQUIRE(
      (*syncer)
          ->setFlows("node", {Flow{.table = 0, .priority = 1, .match = "ip", .actions = "drop"}})
          .ok());
  auto result = (*syncer)->sync();
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(result.error().message, Catch::Contains("/nonexistent/sluice-test.mgmt"));
  CHECK((*syncer)->desiredFlowCount() == 1);
  CHECK((*syncer)->counters().errors == 1);
  CHECK_FALSE((*syncer)->inSync());
}

TEST_CASE("the ovs-ofctl line parser of the tests reads every field", "[unit]") {
  auto tuple =
      test::parseOfctlLine(" cookie=0x2a, table=3, priority=200,ip,nw_src=10.0.0.1 actions=drop");
  CHECK(tuple == test::FlowTuple{0x2a, 3, 200, "ip,nw_src=10.0.0.1", "drop"});
  CHECK(test::parseOfctlLine(" actions=drop") == test::FlowTuple{0, 0, 32768, "", "drop"});
  CHECK(test::parseOfctlLine(" priority=0 actions=drop") == test::FlowTuple{0, 0, 0, "", "drop"});
}

}  // namespace
}  // namespace sluice::ofrules
