// Desired Egress and ExternalIPPool statuses, graceful moves and their announcement.
#include "controller/egress_status.h"

#include <algorithm>

#include "controller/egress_decoder.h"

namespace sluice::controller {
namespace {

using nlohmann::json;

api::EgressStatus statusFromJson(const json& status) {
  std::vector<api::Problem> ignored;  // the controller rewrites what it cannot read
  return api::decodeEgressStatus(status, "", ignored);
}

std::vector<api::Condition> conditionsFromJson(const json& status) {
  std::vector<api::Problem> ignored;
  api::FieldReader reader("ExternalIPPool", "", ignored);
  return api::decodeConditions(reader, status);
}

std::string summaryOf(const std::vector<SlotResult>& slots, bool allocation) {
  std::string text;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (!text.empty()) text += "; ";
    if (slots.size() > 1) text += "[" + std::to_string(i) + "] ";
    text += allocation ? slots[i].allocationMessage : slots[i].assignmentMessage;
  }
  return text;
}

}  // namespace

api::Condition makeCondition(const std::string& type, bool ok, const std::string& reason,
                             const std::string& message, const std::vector<api::Condition>& current,
                             const std::string& now) {
  api::Condition result{type, ok ? "True" : "False", reason, message, now};
  for (const auto& existing : current)
    if (existing.type == type && existing.status == result.status &&
        !existing.lastTransitionTime.empty())
      result.lastTransitionTime = existing.lastTransitionTime;
  return result;
}

api::EgressStatus desiredEgressStatus(const DecodedEgress& egress, const EgressResult* result,
                                      const api::EgressStatus& current, const std::string& now) {
  api::EgressStatus status;
  const auto& was = current.conditions;
  if (!egress.invalidMessage.empty() || result == nullptr || result->slots.empty()) {
    const std::string message =
        egress.invalidMessage.empty() ? "not scheduled yet" : egress.invalidMessage;
    const std::string reason = egress.invalidMessage.empty() ? "Pending" : "InvalidSpec";
    status.conditions = {makeCondition("IPAllocated", false, reason, message, was, now),
                         makeCondition("IPAssigned", false, reason, message, was, now)};
    return status;
  }
  const auto& slots = result->slots;
  const SlotResult* firstBadAllocation = nullptr;
  const SlotResult* firstBadAssignment = nullptr;
  for (const auto& slot : slots) {
    if (!slot.allocated() && firstBadAllocation == nullptr) firstBadAllocation = &slot;
    if (!slot.assigned() && firstBadAssignment == nullptr) firstBadAssignment = &slot;
  }
  if (slots[0].assigned()) {
    status.egressIP = formatIpv4(*slots[0].ip);
    status.egressNode = slots[0].node;
  }
  if (egress.multiIp) {
    status.egressIPs.emplace();
    for (const auto& slot : slots)
      if (slot.allocated())
        status.egressIPs->push_back(
            api::EgressIpStatus{formatIpv4(*slot.ip), slot.node, slot.pool, ""});
  }
  status.conditions = {
      makeCondition(
          "IPAllocated", firstBadAllocation == nullptr,
          firstBadAllocation == nullptr ? "Allocated" : firstBadAllocation->allocationReason,
          summaryOf(slots, true), was, now),
      makeCondition(
          "IPAssigned", firstBadAssignment == nullptr,
          firstBadAssignment == nullptr ? "Assigned" : firstBadAssignment->assignmentReason,
          summaryOf(slots, false), was, now)};
  if (!egress.serviceCidrOverlap.empty())
    status.conditions.push_back(makeCondition("ServiceCIDROverlap", true,
                                              "DestinationOverlapsServiceCIDR",
                                              egress.serviceCidrOverlap, was, now));
  return status;
}

json desiredEgressStatus(const DecodedEgress& egress, const EgressResult* result,
                         const json& current, const std::string& now) {
  return api::toJson(desiredEgressStatus(egress, result, statusFromJson(current), now));
}

std::vector<Handover> findMoves(const api::EgressStatus& current,
                                const api::EgressStatus& desired) {
  std::vector<Handover> moves;
  const auto before = current.assignments();
  for (const auto& assignment : desired.assignments())
    for (const auto& old : before)
      if (old.ip == assignment.ip && !old.node.empty() && !assignment.node.empty() &&
          old.node != assignment.node)
        moves.push_back(Handover{assignment.ip, assignment.node, old.node});
  return moves;
}

std::vector<Handover> findMoves(const json& current, const json& desired) {
  return findMoves(statusFromJson(current), statusFromJson(desired));
}

api::EgressStatus withHandovers(api::EgressStatus desired, const std::vector<Handover>& handovers) {
  if (handovers.empty()) return desired;
  if (!desired.egressIPs && !desired.egressIP.empty()) {
    const bool moving = std::any_of(handovers.begin(), handovers.end(), [&](const auto& handover) {
      return handover.ip == desired.egressIP && handover.node == desired.egressNode;
    });
    if (!moving) return desired;
    desired.egressIPs = {api::EgressIpStatus{desired.egressIP, desired.egressNode, "", ""}};
  }
  if (!desired.egressIPs) return desired;
  for (auto& entry : *desired.egressIPs)
    for (const auto& handover : handovers)
      if (entry.ip == handover.ip && entry.node == handover.node)
        entry.previousNode = handover.previousNode;
  return desired;
}

json withHandovers(const json& desired, const std::vector<Handover>& handovers) {
  const auto before = statusFromJson(desired);
  const auto after = withHandovers(before, handovers);
  return after == before ? desired : api::toJson(after);
}

json desiredPoolStatus(const PoolUsage& usage, const std::vector<PoolOverlap>& overlaps,
                       const std::vector<api::Condition>& current, const std::string& now) {
  std::string message = "no other pool holds any of this pool's IPs";
  if (!overlaps.empty()) {
    message.clear();
    for (const auto& overlap : overlaps)
      message += (message.empty() ? "" : "; ") + formatIpv4(overlap.overlap.first) + "-" +
                 formatIpv4(overlap.overlap.last) + " also in ExternalIPPool " + overlap.otherPool;
    message += "; each IP is handed out once, to the oldest Egress; remove the overlap";
  }
  const auto overlapping =
      makeCondition("Overlapping", !overlaps.empty(),
                    overlaps.empty() ? "NoOverlap" : "RangesOverlap", message, current, now);
  return json{{"usage", {{"total", usage.total}, {"used", usage.used}}},
              {"conditions", json::array({api::toJson(overlapping)})}};
}

json desiredPoolStatus(const PoolUsage& usage, const std::vector<PoolOverlap>& overlaps,
                       const json& current, const std::string& now) {
  return desiredPoolStatus(usage, overlaps, conditionsFromJson(current), now);
}

}  // namespace sluice::controller
