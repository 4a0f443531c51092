// Egress/ExternalIPPool/Node decoding and scheduler-input building; pure functions over JSON.
#include "controller/egress_decoder.h"

#include <algorithm>
#include <set>

#include "kube/resource.h"

namespace sluice::controller {
namespace {

using nlohmann::json;

std::string stringAt(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t creationOrderOf(const json& object) {
  const auto meta = object.value("metadata", json::object());
  const auto time = kube::parseTime(stringAt(meta, "creationTimestamp"));
  if (!time) return 0;
  return std::chrono::duration_cast<std::chrono::seconds>(time->time_since_epoch()).count();
}

std::vector<std::string> stringList(const json& spec, const char* key) {
  std::vector<std::string> values;
  auto it = spec.find(key);
  if (it == spec.end() || !it->is_array()) return values;
  for (const auto& value : *it)
    values.push_back(value.is_string() ? value.get<std::string>() : value.dump());
  return values;
}

// A cidr with host bits set is read as its network, as Antrea does.
std::optional<IpRange> cidrRange(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  const auto base = parseIpv4(std::string_view(text).substr(0, slash));
  const auto prefixText = text.substr(slash + 1);
  if (!base || prefixText.empty() || prefixText.size() > 2 ||
      !std::all_of(prefixText.begin(), prefixText.end(),
                   [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  const int prefix = std::stoi(prefixText);
  if (prefix > 32) return std::nullopt;
  Cidr cidr{0, prefix};
  cidr.base = *base & cidr.mask();
  // /31 and /32 have no network or broadcast address to skip.
  if (prefix >= 31) return IpRange{cidr.first(), cidr.last()};
  return IpRange{cidr.first() + 1, cidr.last() - 1};
}

json condition(const std::string& type, bool ok, const std::string& reason,
               const std::string& message, const json& current, const std::string& now) {
  json result = {
      {"type", type}, {"status", ok ? "True" : "False"}, {"reason", reason}, {"message", message}};
  std::string since = now;
  if (current.is_object() && current.contains("conditions") && current["conditions"].is_array()) {
    for (const auto& existing : current["conditions"])
      if (existing.value("type", "") == type && existing.value("status", "") == result["status"] &&
          existing.contains("lastTransitionTime"))
        since = existing["lastTransitionTime"].get<std::string>();
  }
  result["lastTransitionTime"] = since;
  return result;
}

}  // namespace

namespace {

DecodedPool decodePoolFields(const json& pool) {
  DecodedPool decoded;
  decoded.name = kube::nameOf(pool);
  decoded.creationOrder = creationOrderOf(pool);
  const auto spec = pool.value("spec", json::object());
  const auto ranges = spec.value("ipRanges", json::array());
  if (!ranges.is_array() || ranges.empty())
    decoded.problems.push_back(
        "spec.ipRanges is empty; add at least one {cidr} or {start, end} entry");
  for (std::size_t i = 0; ranges.is_array() && i < ranges.size(); ++i) {
    const auto& entry = ranges[i];
    const std::string field = "spec.ipRanges[" + std::to_string(i) + "]";
    if (!entry.is_object()) {
      decoded.problems.push_back(
          field + " is not an object; use {cidr: A.B.C.D/N} or {start: IP, end: IP}");
      continue;
    }
    const auto cidr = stringAt(entry, "cidr");
    const auto start = stringAt(entry, "start");
    const auto end = stringAt(entry, "end");
    if (!cidr.empty() == (!start.empty() || !end.empty()) ||
        (cidr.empty() && (start.empty() || end.empty()))) {
      decoded.problems.push_back(field +
                                 ": each ipRanges entry needs either cidr, or both start and end");
      continue;
    }
    if (!cidr.empty()) {
      auto range = cidrRange(cidr);
      if (!range) {
        decoded.problems.push_back(field + ".cidr \"" + cidr +
                                   "\" is not an IPv4 CIDR such as 10.10.1.0/28");
        continue;
      }
      decoded.ranges.push_back(*range);
      continue;
    }
    const auto first = parseIpv4(start);
    const auto last = parseIpv4(end);
    if (!first || !last) {
      decoded.problems.push_back(field + ": start \"" + start + "\" and end \"" + end +
                                 "\" must be IPv4 addresses such as 10.10.0.2");
      continue;
    }
    if (*first > *last) {
      decoded.problems.push_back(field + ": ipRanges start must not be greater than end (" + start +
                                 " > " + end + ")");
      continue;
    }
    decoded.ranges.push_back(IpRange{*first, *last});
  }
  if (spec.contains("nodeSelector") && !spec["nodeSelector"].is_null()) {
    auto selector = kube::parseLabelSelector(spec["nodeSelector"], "spec.nodeSelector");
    if (selector) {
      decoded.nodeSelector = *selector;
    } else {
      // A selector we cannot read must not widen the pool to every node.
      decoded.nodeSelector = kube::LabelSelector{
          {}, {{"sluice.io/invalid-selector", kube::SelectorOperator::kExists, {}}}};
      decoded.problems.push_back(selector.error().message);
    }
  }
  return decoded;
}

DecodedNode decodeNodeFields(const json& node) {
  DecodedNode decoded;
  decoded.name = kube::nameOf(node);
  decoded.labels = kube::labelsOf(node);
  const auto annotations =
      node.value("metadata", json::object()).value("annotations", json::object());
  const auto capacity = stringAt(annotations, kCapacityAnnotation);
  if (!capacity.empty()) {
    const bool digits =
        capacity.size() <= 7 &&
        std::all_of(capacity.begin(), capacity.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits)
      decoded.capacity = std::stoi(capacity);
    else
      decoded.problem =
          "Node " + decoded.name + ": annotation " + kCapacityAnnotation + " \"" + capacity +
          "\" is not a non-negative integer; the configured maxEgressIPsPerNode applies";
  }
  return decoded;
}

DecodedEgress decodeEgressFields(const json& egress) {
  DecodedEgress decoded;
  decoded.name = kube::nameOf(egress);
  decoded.generation =
      egress.value("metadata", json::object()).value("generation", std::int64_t{0});
  decoded.creationOrder = creationOrderOf(egress);
  const auto spec = egress.value("spec", json::object());
  const bool hasIp =
      spec.contains("egressIP") && !spec["egressIP"].is_null() && stringAt(spec, "egressIP") != "";
  const bool hasIps = spec.contains("egressIPs") && spec["egressIPs"].is_array();
  const bool hasPool = !stringAt(spec, "externalIPPool").empty();
  const bool hasPools = spec.contains("externalIPPools") && spec["externalIPPools"].is_array();
  decoded.multiIp = hasIps || hasPools;

  auto invalid = [&](std::string message) {
    decoded.invalidMessage = std::move(message);
    decoded.slots.clear();
    return decoded;
  };
  const auto appliedTo = spec.value("appliedTo", json::object());
  if (!appliedTo.is_object() ||
      (!appliedTo.contains("podSelector") && !appliedTo.contains("namespaceSelector")))
    return invalid("spec.appliedTo needs a podSelector, a namespaceSelector, or both");
  if (hasIp && hasIps)
    return invalid("set either spec.egressIP (one IP) or spec.egressIPs (several IPs), not both");
  if (hasPool && hasPools)
    return invalid(
        "set either spec.externalIPPool (one pool) or spec.externalIPPools (several pools), not "
        "both");
  if ((hasIp && hasPools) || (hasIps && hasPool))
    return invalid(
        "do not mix the single forms (egressIP, externalIPPool) with the list forms (egressIPs, "
        "externalIPPools)");
  if (!hasIp && !hasIps && !hasPool && !hasPools)
    return invalid(
        "set spec.externalIPPool (the controller allocates an IP from it) or spec.egressIP (a "
        "fixed IP)");

  auto parseIp = [&](const std::string& text, const std::string& field) -> std::optional<Ipv4> {
    auto ip = parseIpv4(text);
    if (!ip)
      decoded.invalidMessage = field + " \"" + text + "\" is not an IPv4 address such as 10.10.0.8";
    return ip;
  };
  if (decoded.multiIp) {
    const auto ips = stringList(spec, "egressIPs");
    const auto pools = stringList(spec, "externalIPPools");
    if (hasIps && hasPools && ips.size() != pools.size())
      return invalid(
          "spec.egressIPs and spec.externalIPPools are matched by index and must have the same "
          "length");
    const std::size_t count = std::max(ips.size(), pools.size());
    if (count == 0) return invalid("spec.egressIPs or spec.externalIPPools must not be empty");
    std::set<std::string> seenIps(ips.begin(), ips.end());
    std::set<std::string> seenPools(pools.begin(), pools.end());
    if (seenIps.size() != ips.size())
      return invalid("spec.egressIPs lists an IP twice; list each IP once");
    if (seenPools.size() != pools.size())
      return invalid("spec.externalIPPools lists a pool twice; list each pool once");
    for (std::size_t i = 0; i < count; ++i) {
      SlotRequest slot;
      if (i < ips.size()) {
        slot.staticIp = parseIp(ips[i], "spec.egressIPs[" + std::to_string(i) + "]");
        if (!slot.staticIp) return invalid(decoded.invalidMessage);
      }
      if (i < pools.size()) slot.pool = pools[i];
      decoded.slots.push_back(slot);
    }
  } else {
    SlotRequest slot;
    if (hasIp) {
      slot.staticIp = parseIp(stringAt(spec, "egressIP"), "spec.egressIP");
      if (!slot.staticIp) return invalid(decoded.invalidMessage);
    }
    slot.pool = stringAt(spec, "externalIPPool");
    decoded.slots.push_back(slot);
  }

  // Previous decisions from status, so that a restart or a new leader moves nothing.
  const auto status = egress.value("status", json::object());
  if (status.contains("egressIPs") && status["egressIPs"].is_array()) {
    for (const auto& entry : status["egressIPs"]) {
      if (!entry.is_object()) continue;
      auto ip = parseIpv4(stringAt(entry, "ip"));
      if (ip)
        decoded.previous.push_back(
            PreviousAssignment{*ip, stringAt(entry, "pool"), stringAt(entry, "node")});
    }
  } else if (!decoded.multiIp) {
    auto ip = parseIpv4(stringAt(status, "egressIP"));
    if (ip)
      decoded.previous.push_back(
          PreviousAssignment{*ip, decoded.slots[0].pool, stringAt(status, "egressNode")});
  }
  return decoded;
}

// Informers deliver whatever the API server stored; a field of the wrong JSON type (a number
// where an object belongs) made nlohmann throw out of the worker and end the controller. Found
// by fuzz_kube_objects. The object is then reported invalid, with the type error as the reason.
std::string malformed(const char* kind, const json& object, const json::exception& error) {
  return kind + std::string(" ") + kube::nameOf(object) + " has a field of the wrong type (" +
         error.what() + "); fix the object to match the CRD schema";
}

}  // namespace

DecodedPool decodePool(const json& pool) {
  try {
    return decodePoolFields(pool);
  } catch (const json::exception& error) {
    DecodedPool decoded;
    decoded.name = kube::nameOf(pool);
    decoded.problems.push_back(malformed("ExternalIPPool", pool, error));
    return decoded;
  }
}

DecodedNode decodeNode(const json& node) {
  try {
    return decodeNodeFields(node);
  } catch (const json::exception& error) {
    DecodedNode decoded;
    decoded.name = kube::nameOf(node);
    decoded.problem = malformed("Node", node, error);
    return decoded;
  }
}

DecodedEgress decodeEgress(const json& egress) {
  try {
    return decodeEgressFields(egress);
  } catch (const json::exception& error) {
    DecodedEgress decoded;
    decoded.name = kube::nameOf(egress);
    decoded.invalidMessage = malformed("Egress", egress, error);
    return decoded;
  }
}

SchedulerInput buildSchedulerInput(const std::vector<DecodedPool>& pools,
                                   const std::vector<DecodedNode>& nodes,
                                   const std::vector<DecodedEgress>& egresses,
                                   const std::function<NodeLiveness(const std::string&)>& liveness,
                                   const BuildOptions& options) {
  SchedulerInput input;
  input.options.rebalance = options.rebalance;
  std::map<std::string, int> heldBefore;
  for (const auto& egress : egresses)
    for (const auto& previous : egress.previous)
      if (!previous.node.empty()) ++heldBefore[previous.node];
  for (const auto& node : nodes) {
    NodeModel model{node.name, true, node.capacity.value_or(options.defaultCapacity)};
    switch (liveness(node.name)) {
      case NodeLiveness::kAlive: break;
      case NodeLiveness::kDead: model.alive = false; break;
      case NodeLiveness::kUnknown: {
        auto held = heldBefore.find(node.name);
        model.capacity = std::min(model.capacity, held == heldBefore.end() ? 0 : held->second);
        break;
      }
    }
    input.nodes.push_back(model);
  }
  for (const auto& pool : pools) {
    PoolModel model{pool.name, pool.ranges, {}};
    for (const auto& node : nodes)
      if (!pool.nodeSelector || kube::matches(*pool.nodeSelector, node.labels))
        model.eligibleNodes.insert(node.name);
    input.pools.push_back(std::move(model));
  }
  for (const auto& egress : egresses) {
    if (!egress.invalidMessage.empty()) continue;
    input.egresses.push_back(
        EgressModel{egress.name, egress.creationOrder, egress.slots, egress.previous});
  }
  return input;
}

json desiredEgressStatus(const DecodedEgress& egress, const EgressResult* result,
                         const json& current, const std::string& now) {
  json status = json::object();
  if (!egress.invalidMessage.empty() || result == nullptr || result->slots.empty()) {
    const std::string message =
        egress.invalidMessage.empty() ? "not scheduled yet" : egress.invalidMessage;
    const std::string reason = egress.invalidMessage.empty() ? "Pending" : "InvalidSpec";
    status["conditions"] =
        json::array({condition("IPAllocated", false, reason, message, current, now),
                     condition("IPAssigned", false, reason, message, current, now)});
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
    status["egressIP"] = formatIpv4(*slots[0].ip);
    status["egressNode"] = slots[0].node;
  }
  if (egress.multiIp) {
    json list = json::array();
    for (const auto& slot : slots) {
      if (!slot.allocated()) continue;
      json entry = {{"ip", formatIpv4(*slot.ip)}, {"node", slot.node}};
      if (!slot.pool.empty()) entry["pool"] = slot.pool;
      list.push_back(entry);
    }
    status["egressIPs"] = list;
  }
  auto summary = [&](bool allocation) {
    std::string text;
    for (std::size_t i = 0; i < slots.size(); ++i) {
      if (!text.empty()) text += "; ";
      if (slots.size() > 1) text += "[" + std::to_string(i) + "] ";
      text += allocation ? slots[i].allocationMessage : slots[i].assignmentMessage;
    }
    return text;
  };
  status["conditions"] = json::array(
      {condition("IPAllocated", firstBadAllocation == nullptr,
                 firstBadAllocation == nullptr ? "Allocated" : firstBadAllocation->allocationReason,
                 summary(true), current, now),
       condition("IPAssigned", firstBadAssignment == nullptr,
                 firstBadAssignment == nullptr ? "Assigned" : firstBadAssignment->assignmentReason,
                 summary(false), current, now)});
  return status;
}

json desiredPoolStatus(const PoolUsage& usage, const std::vector<PoolOverlap>& overlaps,
                       const json& current, const std::string& now) {
  std::string message = "no other pool holds any of this pool's IPs";
  if (!overlaps.empty()) {
    message.clear();
    for (const auto& overlap : overlaps)
      message += (message.empty() ? "" : "; ") + formatIpv4(overlap.overlap.first) + "-" +
                 formatIpv4(overlap.overlap.last) + " also in ExternalIPPool " + overlap.otherPool;
    message += "; each IP is handed out once, to the oldest Egress; remove the overlap";
  }
  return json{
      {"usage", {{"total", usage.total}, {"used", usage.used}}},
      {"conditions", json::array({condition("Overlapping", !overlaps.empty(),
                                            overlaps.empty() ? "NoOverlap" : "RangesOverlap",
                                            message, current, now)})}};
}

namespace {

// (ip, node) pairs a status assigns: egressIPs when listed, else egressIP/egressNode.
std::vector<std::pair<std::string, std::string>> statusAssignments(const json& status) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!status.is_object()) return out;
  if (auto list = status.find("egressIPs"); list != status.end() && list->is_array()) {
    for (const auto& entry : *list)
      if (entry.is_object()) out.emplace_back(entry.value("ip", ""), entry.value("node", ""));
    return out;
  }
  if (status.contains("egressIP") && status["egressIP"].is_string())
    out.emplace_back(status["egressIP"].get<std::string>(), status.value("egressNode", ""));
  return out;
}

}  // namespace

std::vector<Handover> findMoves(const json& current, const json& desired) {
  std::vector<Handover> moves;
  const auto before = statusAssignments(current);
  for (const auto& [ip, node] : statusAssignments(desired)) {
    for (const auto& [oldIp, oldNode] : before)
      if (oldIp == ip && !oldNode.empty() && !node.empty() && oldNode != node)
        moves.push_back(Handover{ip, node, oldNode});
  }
  return moves;
}

json withHandovers(json desired, const std::vector<Handover>& handovers) {
  if (handovers.empty() || !desired.is_object()) return desired;
  if (!desired.contains("egressIPs") && desired.contains("egressIP")) {
    const Handover single{desired.value("egressIP", ""), desired.value("egressNode", ""), ""};
    const bool moving = std::any_of(handovers.begin(), handovers.end(), [&](const auto& handover) {
      return handover.ip == single.ip && handover.node == single.node;
    });
    if (!moving) return desired;
    desired["egressIPs"] = json::array({{{"ip", single.ip}, {"node", single.node}}});
  }
  if (!desired.contains("egressIPs") || !desired["egressIPs"].is_array()) return desired;
  for (auto& entry : desired["egressIPs"]) {
    for (const auto& handover : handovers)
      if (entry.value("ip", "") == handover.ip && entry.value("node", "") == handover.node)
        entry["previousNode"] = handover.previousNode;
  }
  return desired;
}

}  // namespace sluice::controller
