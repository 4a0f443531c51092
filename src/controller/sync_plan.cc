// planSync: schedule, desired statuses, hand-overs, moves and Events, as plain data.
#include "controller/sync_plan.h"

#include <algorithm>

namespace sluice::controller {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

long millis(Clock::duration duration) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(duration).count());
}

api::EgressStatus statusFromJson(const json& status) {
  std::vector<api::Problem> ignored;  // the controller rewrites what it cannot read
  return api::decodeEgressStatus(status, "", ignored);
}

// Conditions that turned False (or changed reason or message) get a Warning Event.
std::vector<PlannedEvent> conditionEvents(const std::string& egress,
                                          const api::EgressStatus& current,
                                          const api::EgressStatus& desired) {
  std::vector<PlannedEvent> events;
  for (const auto& condition : desired.conditions) {
    if (condition.status != "False") continue;
    const bool same = std::any_of(
        current.conditions.begin(), current.conditions.end(), [&](const api::Condition& old) {
          return old.type == condition.type && old.status == "False" &&
                 old.reason == condition.reason && old.message == condition.message;
        });
    if (!same)
      events.push_back({"Egress", egress, kube::EventType::kWarning, condition.reason,
                        condition.type + ": " + condition.message});
  }
  return events;
}

// The IPs that left a node, and those newly allocated.
void findSlotChanges(const DecodedEgress& egress, const EgressResult& result,
                     const SyncInputs& inputs, EgressWrite& write) {
  for (const auto& slot : result.slots) {
    if (!slot.ip) continue;
    bool wasNew = true;
    for (const auto& previous : egress.previous) {
      if (previous.ip != *slot.ip) continue;
      wasNew = false;
      if (previous.node.empty() || previous.node == slot.node) continue;
      PlannedMove move{formatIpv4(*slot.ip), previous.node, slot.node, std::nullopt, false};
      if (auto death = inputs.deaths.find(previous.node); death != inputs.deaths.end())
        move.death = death->second;
      else
        move.previousNodeDeleted = inputs.liveness.count(previous.node) == 0;
      write.moves.push_back(move);
    }
    if (wasNew)
      write.allocations.push_back("Egress " + egress.name + ": " + slot.allocationMessage +
                                  (slot.node.empty() ? "" : " on " + slot.node));
  }
}

void planEgresses(const SyncInputs& inputs, const SchedulerOutput& output, HandoverBook& handovers,
                  SyncPlan& plan) {
  for (const auto& observed : inputs.egresses) {
    const auto& egress = observed.decoded;
    auto found = output.egresses.find(egress.name);
    const EgressResult* result = found == output.egresses.end() ? nullptr : &found->second;
    const auto current = statusFromJson(observed.currentStatus);
    const auto computed = desiredEgressStatus(egress, result, current, inputs.nowText);
    const auto inFlight =
        handovers.track(egress.name, current, computed, inputs.liveness, inputs.now);
    const auto desired = withHandovers(computed, inFlight);
    if (result)
      for (const auto& slot : result->slots) plan.assignedIps += slot.assigned() ? 1 : 0;
    const auto desiredJson = api::toJson(desired);
    if (desiredJson == observed.currentStatus) continue;
    EgressWrite write{egress,
                      result ? std::optional<EgressResult>(*result) : std::nullopt,
                      inFlight,
                      observed.currentStatus,
                      desiredJson,
                      observed.resourceVersion,
                      {},
                      {},
                      conditionEvents(egress.name, current, desired)};
    if (result) findSlotChanges(egress, *result, inputs, write);
    plan.egressWrites.push_back(std::move(write));
  }
}

void planPools(const SyncInputs& inputs, const SchedulerInput& input, const SchedulerOutput& output,
               SyncPlan& plan) {
  const auto overlaps = findPoolOverlaps(input.pools);
  for (const auto& observed : inputs.pools) {
    const auto& pool = observed.decoded;
    auto usage = output.pools.find(pool.name);
    if (usage == output.pools.end()) continue;
    plan.poolGauges.push_back({pool.name, usage->second.total, usage->second.used});
    std::vector<PoolOverlap> own;
    for (const auto& overlap : overlaps)
      if (overlap.pool == pool.name) own.push_back(overlap);
    const auto desired =
        desiredPoolStatus(usage->second, own, observed.currentStatus, inputs.nowText);
    if (!usage->second.outsideRanges.empty()) {
      std::string ips;
      for (auto ip : usage->second.outsideRanges) ips += (ips.empty() ? "" : ", ") + formatIpv4(ip);
      plan.events.push_back(
          {"ExternalIPPool", pool.name, kube::EventType::kWarning, "AllocationsOutsidePool",
           "the pool no longer covers " + ips +
               "; they stay allocated until their Egresses are deleted or changed"});
    }
    for (const auto& problem : pool.problems)
      plan.events.push_back(
          {"ExternalIPPool", pool.name, kube::EventType::kWarning, "InvalidIPRange", problem});
    if (observed.currentStatus != desired) plan.poolWrites.push_back({pool.name, desired});
  }
  for (const auto& overlap : overlaps)
    plan.events.push_back(
        {"ExternalIPPool", overlap.pool, kube::EventType::kWarning, "PoolOverlap",
         "ExternalIPPool " + overlap.pool + " overlaps " + overlap.otherPool + " in " +
             formatIpv4(overlap.overlap.first) + "-" + formatIpv4(overlap.overlap.last) +
             "; each IP is handed out once, to the oldest Egress; remove the overlap"});
}

}  // namespace

std::vector<Handover> HandoverBook::track(const std::string& egress,
                                          const api::EgressStatus& current,
                                          const api::EgressStatus& desired,
                                          const std::map<std::string, NodeLiveness>& liveness,
                                          Clock::time_point now) {
  auto& tracked = tracked_[egress];
  for (auto& move : findMoves(current, desired)) {
    // Only a node that is alive can hand over; a dead one's IP moves at once.
    auto node = liveness.find(move.previousNode);
    if (node == liveness.end() || node->second != NodeLiveness::kAlive) continue;
    std::erase_if(tracked, [&](const auto& entry) { return entry.first.ip == move.ip; });
    tracked.emplace_back(move, now + kHandoverWindow);
  }
  std::erase_if(tracked, [&](const auto& entry) { return entry.second <= now; });
  std::vector<Handover> active;
  for (const auto& [handover, until] : tracked) active.push_back(handover);
  if (tracked.empty()) tracked_.erase(egress);
  return active;
}

void HandoverBook::retain(const std::set<std::string>& present) {
  std::erase_if(tracked_, [&](const auto& entry) { return !present.contains(entry.first); });
}

std::optional<HandoverBook::Clock::time_point> HandoverBook::nextExpiry() const {
  std::optional<Clock::time_point> earliest;
  for (const auto& [egress, tracked] : tracked_)
    for (const auto& [handover, until] : tracked)
      if (!earliest || until < *earliest) earliest = until;
  return earliest;
}

SyncPlan planSync(const SyncInputs& inputs, HandoverBook& handovers) {
  SyncPlan plan;
  std::vector<DecodedPool> pools;
  for (const auto& pool : inputs.pools) pools.push_back(pool.decoded);
  std::vector<DecodedEgress> egresses;
  for (const auto& egress : inputs.egresses) egresses.push_back(egress.decoded);
  const auto input = buildSchedulerInput(
      pools, inputs.nodes, egresses,
      [&](const std::string& node) {
        auto found = inputs.liveness.find(node);
        return found == inputs.liveness.end() ? NodeLiveness::kUnknown : found->second;
      },
      inputs.options);
  const auto output = schedule(input);
  std::set<std::string> present;
  for (const auto& egress : egresses) present.insert(egress.name);
  handovers.retain(present);
  planEgresses(inputs, output, handovers, plan);
  planPools(inputs, input, output, plan);
  for (const auto& node : inputs.nodes)
    if (!node.problem.empty())
      plan.events.push_back(
          {"Node", node.name, kube::EventType::kWarning, "InvalidCapacity", node.problem});
  for (const auto& [name, state] : inputs.liveness)
    plan.liveNodes += state == NodeLiveness::kAlive ? 1 : 0;
  if (auto expiry = handovers.nextExpiry()) plan.requeueAt = *expiry;
  return plan;
}

std::string moveMessage(const PlannedMove& move, Clock::time_point writtenAt,
                        std::chrono::milliseconds silenceTimeout) {
  std::string why;
  if (move.death && move.death->cause == NodeLivenessTracker::Cause::kReleased) {
    why = move.previousNode + " " + move.death->why;
  } else if (move.death) {
    const auto latency = writtenAt - move.death->declaredDue;
    why = move.previousNode + " silent for " +
          std::to_string(millis(writtenAt - move.death->lastReport)) + "ms" +
          (move.death->why.empty() ? "" : ", " + move.death->why) + " (decision " +
          std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(latency).count() /
                         1000.0)
              .substr(0, 6) +
          "ms after the " + std::to_string(silenceTimeout.count()) + "ms timeout)";
  } else if (move.previousNodeDeleted) {
    why = "node " + move.previousNode + " was deleted";
  } else {
    why = "node " + move.previousNode + " no longer matches the pool's nodeSelector or has no room";
  }
  const std::string target = move.node.empty() ? "no node" : move.node;
  return "Moved " + move.ip + " from " + move.previousNode + " to " + target + ": " + why;
}

}  // namespace sluice::controller
