// Property tests: random pools, nodes, Egresses and node failures, checked against the
// scheduler's invariants. Seeds are fixed so a failure reproduces; the seed is printed on failure.
#include <catch2/catch.hpp>

#include <random>
#include <set>

#include "scheduler_fixtures.h"

namespace sluice::controller {
namespace {
using namespace testing;

SchedulerInput randomInput(std::mt19937& random) {
  auto pick = [&](int low, int high) {
    return std::uniform_int_distribution<int>(low, high)(random);
  };
  SchedulerInput input;
  const int nodeCount = pick(1, 8);
  for (int n = 0; n < nodeCount; ++n)
    input.nodes.push_back(node("node" + std::to_string(n), pick(1, 6), pick(0, 9) > 0));
  const int poolCount = pick(1, 4);
  for (int p = 0; p < poolCount; ++p) {
    PoolModel pool{"pool" + std::to_string(p), {}, {}};
    // Pools may overlap on purpose: uniqueness must hold across pools too.
    const Ipv4 base = ip("10.10.0.0") + static_cast<Ipv4>(pick(0, 3) * 8);
    pool.ranges.push_back(IpRange{base, base + static_cast<Ipv4>(pick(0, 12))});
    for (const auto& candidate : input.nodes)
      if (pick(0, 2) > 0) pool.eligibleNodes.insert(candidate.name);
    input.pools.push_back(pool);
  }
  const int egressCount = pick(0, 30);
  for (int e = 0; e < egressCount; ++e) {
    EgressModel egress{"egress" + std::to_string(e), pick(0, 1000), {}, {}};
    const int slotCount = pick(1, 3);
    for (int s = 0; s < slotCount; ++s) {
      SlotRequest request{std::nullopt,
                          "pool" + std::to_string(pick(0, poolCount))};  // may be missing
      if (pick(0, 4) == 0) request.staticIp = ip("10.10.0.0") + static_cast<Ipv4>(pick(0, 40));
      egress.slots.push_back(request);
    }
    input.egresses.push_back(egress);
  }
  return input;
}

void checkInvariants(const SchedulerInput& input, const SchedulerOutput& output) {
  std::set<Ipv4> seen;
  std::map<std::string, int> load;
  for (const auto& [name, egress] : output.egresses) {
    for (const auto& slot : egress.slots) {
      if (!slot.ip) continue;
      INFO("egress " << name << " ip " << formatIpv4(*slot.ip));
      CHECK(seen.insert(*slot.ip).second);  // no IP allocated twice, so never on two nodes
      if (slot.assigned()) ++load[slot.node];
    }
  }
  for (const auto& candidate : input.nodes) {
    INFO("node " << candidate.name);
    CHECK(load[candidate.name] <= candidate.capacity);
    if (!candidate.alive) CHECK(load[candidate.name] == 0);
  }
  // Every allocated IP that is not placed has no eligible live node with room.
  for (const auto& egress : input.egresses) {
    const auto& result = output.egresses.at(egress.name);
    for (std::size_t i = 0; i < egress.slots.size(); ++i) {
      const auto& slot = result.slots[i];
      if (!slot.ip || slot.assigned()) continue;
      for (const auto& candidate : input.nodes) {
        bool eligible = candidate.alive;
        for (const auto& pool : input.pools)
          if (pool.name == egress.slots[i].pool && !pool.eligibleNodes.contains(candidate.name))
            eligible = false;
        INFO("unplaced " << egress.name << " while node " << candidate.name << " has room");
        if (eligible) CHECK(load[candidate.name] >= candidate.capacity);
      }
    }
  }
}

TEST_CASE("scheduler invariants hold on random inputs and node failures", "[unit][property]") {
  for (unsigned seed = 1; seed <= 400; ++seed) {
    INFO("seed " << seed);
    std::mt19937 random(seed);
    auto input = randomInput(random);
    const auto first = schedule(input);
    checkInvariants(input, first);

    // Deciding again from our own status changes nothing (a controller restart moves nothing).
    carryOver(input, first);
    const auto again = schedule(input);
    for (const auto& [name, egress] : first.egresses)
      for (std::size_t i = 0; i < egress.slots.size(); ++i) {
        CHECK(again.egresses.at(name).slots[i].ip == egress.slots[i].ip);
        CHECK(again.egresses.at(name).slots[i].node == egress.slots[i].node);
      }

    // Kill one live node: only the IPs it held move; everything else stays put.
    std::vector<std::string> live;
    for (const auto& candidate : input.nodes)
      if (candidate.alive) live.push_back(candidate.name);
    if (live.empty()) continue;
    const auto victim =
        live[std::uniform_int_distribution<std::size_t>(0, live.size() - 1)(random)];
    for (auto& candidate : input.nodes)
      if (candidate.name == victim) candidate.alive = false;
    const auto after = schedule(input);
    checkInvariants(input, after);
    for (const auto& [name, egress] : first.egresses) {
      for (std::size_t i = 0; i < egress.slots.size(); ++i) {
        const auto& before = egress.slots[i];
        const auto& now = after.egresses.at(name).slots[i];
        CHECK(now.ip == before.ip);  // allocations never change on a node loss
        if (before.assigned() && before.node != victim) CHECK(now.node == before.node);
      }
    }
  }
}

}  // namespace
}  // namespace sluice::controller
