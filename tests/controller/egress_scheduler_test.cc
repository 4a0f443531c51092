// Example-based tests of the egress scheduler: the thesis's scenario and each failure reason.
#include <catch2/catch.hpp>

#include "scheduler_fixtures.h"

namespace sluice::controller {
namespace {
using namespace testing;

// The thesis's Listing 2 pool: 10.10.0.2-10 plus 10.10.1.0/28 minus network and broadcast.
PoolModel thesisPool() {
  return PoolModel{"prod-external-ip-pool",
                   {range("10.10.0.2", "10.10.0.10"), range("10.10.1.1", "10.10.1.14")},
                   {"node02", "node03"}};
}

SchedulerInput thesisInput() {
  SchedulerInput input;
  input.pools = {thesisPool()};
  input.nodes = {node("node01"), node("node02"), node("node03")};
  EgressModel listing1{"egress-prod-web", 1, {}, {}};
  listing1.slots.push_back(SlotRequest{ip("10.10.0.8"), "prod-external-ip-pool"});
  input.egresses = {listing1};
  return input;
}

TEST_CASE("Listing 1: a fixed IP inside its pool lands on a pool node", "[unit]") {
  const auto output = schedule(thesisInput());
  const auto& slot = output.egresses.at("egress-prod-web").slots.at(0);
  REQUIRE(slot.allocated());
  CHECK(formatIpv4(*slot.ip) == "10.10.0.8");
  CHECK(slot.allocationReason == "Allocated");
  CHECK((slot.node == "node02" || slot.node == "node03"));
  CHECK(slot.assignmentReason == "Assigned");
  CHECK(output.pools.at("prod-external-ip-pool").total == 23);
  CHECK(output.pools.at("prod-external-ip-pool").used == 1);
}

TEST_CASE("a dead node's IP moves to the other pool node and stays there", "[unit]") {
  auto input = thesisInput();
  auto first = schedule(input);
  const auto original = first.egresses.at("egress-prod-web").slots[0].node;
  carryOver(input, first);
  for (auto& candidate : input.nodes)
    if (candidate.name == original) candidate.alive = false;
  auto second = schedule(input);
  const auto moved = second.egresses.at("egress-prod-web").slots[0].node;
  CHECK(moved != original);
  CHECK(!moved.empty());
  // The node comes back: the IP does not move back without the rebalance option.
  carryOver(input, second);
  for (auto& candidate : input.nodes) candidate.alive = true;
  CHECK(schedule(input).egresses.at("egress-prod-web").slots[0].node == moved);
}

TEST_CASE("pool allocation hands out the lowest free IP and skips fixed ones", "[unit]") {
  SchedulerInput input;
  input.pools = {PoolModel{"pool", {range("10.0.0.1", "10.0.0.3")}, {"a"}}};
  input.nodes = {node("a")};
  EgressModel fixed{"fixed", 5, {{ip("10.0.0.1"), "pool"}}, {}};
  input.egresses = {poolEgress("older", 1, "pool"), fixed, poolEgress("newer", 9, "pool")};
  const auto output = schedule(input);
  CHECK(formatIpv4(*output.egresses.at("fixed").slots[0].ip) == "10.0.0.1");
  CHECK(formatIpv4(*output.egresses.at("older").slots[0].ip) == "10.0.0.2");
  CHECK(formatIpv4(*output.egresses.at("newer").slots[0].ip) == "10.0.0.3");
}

TEST_CASE("failures carry a reason and a message that says what to do", "[unit]") {
  SchedulerInput input;
  input.pools = {PoolModel{"small", {range("10.0.0.1", "10.0.0.1")}, {"a"}}};
  input.nodes = {node("a")};
  EgressModel outside{"outside", 1, {{ip("192.168.9.9"), "small"}}, {}};
  EgressModel missing = poolEgress("missing", 2, "nope");
  input.egresses = {outside, missing, poolEgress("first", 3, "small"),
                    poolEgress("exhausted", 4, "small")};
  EgressModel conflict{"conflict", 5, {{ip("10.0.0.1"), "small"}}, {}};
  input.egresses.push_back(conflict);
  const auto output = schedule(input);
  CHECK(output.egresses.at("outside").slots[0].allocationReason == "IPNotInPool");
  CHECK_THAT(output.egresses.at("outside").slots[0].allocationMessage,
             Catch::Contains("192.168.9.9") && Catch::Contains("small"));
  CHECK(output.egresses.at("missing").slots[0].allocationReason == "PoolNotFound");
  // The fixed IP reserves before pools allocate, so the older pool Egress finds it taken.
  CHECK(output.egresses.at("conflict").slots[0].allocationReason == "Allocated");
  CHECK(output.egresses.at("first").slots[0].allocationReason == "PoolExhausted");
  CHECK(output.egresses.at("exhausted").slots[0].allocationReason == "PoolExhausted");
  CHECK(output.egresses.at("exhausted").slots[0].assignmentReason == "NotAllocated");
}

TEST_CASE("a shrunk pool keeps existing allocations and reports them", "[unit]") {
  SchedulerInput input;
  input.pools = {PoolModel{"pool", {range("10.0.0.1", "10.0.0.9")}, {"a"}}};
  input.nodes = {node("a")};
  input.egresses = {poolEgress("e", 1, "pool")};
  input.egresses[0].previous = {PreviousAssignment{ip("10.0.0.9"), "pool", "a"}};
  input.pools[0].ranges = {range("10.0.0.1", "10.0.0.4")};
  const auto output = schedule(input);
  CHECK(formatIpv4(*output.egresses.at("e").slots[0].ip) == "10.0.0.9");
  CHECK(output.egresses.at("e").slots[0].node == "a");
  REQUIRE(output.pools.at("pool").outsideRanges.size() == 1);
  CHECK(formatIpv4(output.pools.at("pool").outsideRanges[0]) == "10.0.0.9");
}

TEST_CASE("a deleted pool fails only its own Egresses", "[unit]") {
  SchedulerInput input;
  input.pools = {PoolModel{"kept", {range("10.0.1.1", "10.0.1.9")}, {"a"}}};
  input.nodes = {node("a")};
  input.egresses = {poolEgress("orphan", 1, "gone"), poolEgress("fine", 2, "kept")};
  input.egresses[0].previous = {PreviousAssignment{ip("10.0.0.5"), "gone", "a"}};
  const auto output = schedule(input);
  CHECK(output.egresses.at("orphan").slots[0].allocationReason == "PoolNotFound");
  CHECK_FALSE(output.egresses.at("orphan").slots[0].assigned());
  CHECK(output.egresses.at("fine").slots[0].assignmentReason == "Assigned");
}

TEST_CASE("a multi-IP Egress spreads over nodes before doubling up", "[unit]") {
  SchedulerInput input;
  input.pools = {PoolModel{"pool", {range("10.0.0.1", "10.0.0.9")}, {"a", "b"}}};
  input.nodes = {node("a"), node("b"), node("c")};
  input.nodes[0].capacity = 5;
  EgressModel multi{"multi", 1, {{std::nullopt, "pool"}, {std::nullopt, "pool"}}, {}};
  // An older single-IP Egress loads node a first; anti-affinity still beats load.
  input.egresses = {poolEgress("single", 0, "pool"), multi};
  const auto output = schedule(input);
  const auto& slots = output.egresses.at("multi").slots;
  CHECK(slots[0].node != slots[1].node);
  CHECK(output.nodeLoad.at("a") + output.nodeLoad.at("b") == 3);
}

TEST_CASE("capacity caps a node and says so when every node is full", "[unit]") {
  SchedulerInput input;
  input.pools = {PoolModel{"pool", {range("10.0.0.1", "10.0.0.9")}, {"a"}}};
  input.nodes = {node("a", 1)};
  input.egresses = {poolEgress("one", 1, "pool"), poolEgress("two", 2, "pool")};
  const auto output = schedule(input);
  CHECK(output.egresses.at("one").slots[0].node == "a");
  CHECK(output.egresses.at("two").slots[0].assignmentReason == "NodesAtCapacity");
  input.nodes = {};
  CHECK(schedule(input).egresses.at("one").slots[0].assignmentReason == "NoEligibleNode");
}

TEST_CASE("the rebalance option moves IPs back onto a recovered node", "[unit]") {
  SchedulerInput input;
  input.pools = {PoolModel{"pool", {range("10.0.0.1", "10.0.0.9")}, {"a", "b"}}};
  input.nodes = {node("a"), node("b", 100, false)};
  for (int i = 0; i < 4; ++i)
    input.egresses.push_back(poolEgress("e" + std::to_string(i), i, "pool"));
  auto output = schedule(input);
  CHECK(output.nodeLoad.at("a") == 4);
  carryOver(input, output);
  input.nodes[1].alive = true;
  CHECK(schedule(input).nodeLoad.at("a") == 4);  // stable by default
  input.options.rebalance = true;
  output = schedule(input);
  CHECK(output.nodeLoad.at("a") == 2);
  CHECK(output.nodeLoad.at("b") == 2);
}

TEST_CASE("overlapping pools are found pairwise", "[unit]") {
  std::vector<PoolModel> pools = {
      PoolModel{"a", {range("10.0.0.1", "10.0.0.10")}, {}},
      PoolModel{"b", {range("10.0.0.8", "10.0.0.20")}, {}},
      PoolModel{"c", {range("10.0.1.1", "10.0.1.2")}, {}},
  };
  const auto overlaps = findPoolOverlaps(pools);
  REQUIRE(overlaps.size() == 1);
  CHECK(overlaps[0].pool == "b");
  CHECK(overlaps[0].otherPool == "a");
  CHECK(overlaps[0].overlap == range("10.0.0.8", "10.0.0.10"));
}

}  // namespace
}  // namespace sluice::controller
