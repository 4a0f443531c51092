// Egress/ExternalIPPool/Node validation over the typed models, and scheduler-input building.
#include "controller/egress_decoder.h"

#include <algorithm>
#include <set>

#include "kube/resource.h"

namespace sluice::controller {
namespace {

using nlohmann::json;

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

// Problems the controller acts on: a field of the wrong type makes the whole object invalid,
// as a thrown type error did before the typed models. Selectors and CIDRs of appliedTo are the
// agents' concern, and status is the controller's own to rewrite.
std::vector<const api::Problem*> controllerProblems(const std::vector<api::Problem>& problems) {
  std::vector<const api::Problem*> out;
  for (const auto& problem : problems)
    if (!api::isUnder(problem.field, "spec.appliedTo") &&
        !api::isUnder(problem.field, "spec.destinationCIDRs") &&
        !api::isUnder(problem.field, "spec.excludedCIDRs") &&
        !api::isUnder(problem.field, "spec.nodeSelector") && !api::isUnder(problem.field, "status"))
      out.push_back(&problem);
  return out;
}

std::optional<IpRange> rangeOf(const api::IpRangeSpec& entry, const std::string& field,
                               std::vector<std::string>& problems) {
  const auto& [cidr, start, end] = entry;
  if (!cidr.empty() == (!start.empty() || !end.empty()) ||
      (cidr.empty() && (start.empty() || end.empty()))) {
    problems.push_back(field + ": each ipRanges entry needs either cidr, or both start and end");
    return std::nullopt;
  }
  if (!cidr.empty()) {
    auto range = cidrRange(cidr);
    if (!range)
      problems.push_back(field + ".cidr \"" + cidr + "\" is not an IPv4 CIDR such as 10.10.1.0/28");
    return range;
  }
  const auto first = parseIpv4(start);
  const auto last = parseIpv4(end);
  if (!first || !last) {
    problems.push_back(field + ": start \"" + start + "\" and end \"" + end +
                       "\" must be IPv4 addresses such as 10.10.0.2");
    return std::nullopt;
  }
  if (*first > *last) {
    problems.push_back(field + ": ipRanges start must not be greater than end (" + start + " > " +
                       end + ")");
    return std::nullopt;
  }
  return IpRange{*first, *last};
}

std::string validateEgressSpec(const api::EgressSpec& spec) {
  const bool hasIp = !spec.egressIP.empty();
  const bool hasIps = spec.egressIPs.has_value();
  const bool hasPool = !spec.externalIPPool.empty();
  const bool hasPools = spec.externalIPPools.has_value();
  if (!spec.hasAppliedTo ||
      (!spec.appliedTo.hasPodSelector && !spec.appliedTo.hasNamespaceSelector))
    return "spec.appliedTo needs a podSelector, a namespaceSelector, or both";
  if (hasIp && hasIps)
    return "set either spec.egressIP (one IP) or spec.egressIPs (several IPs), not both";
  if (hasPool && hasPools)
    return "set either spec.externalIPPool (one pool) or spec.externalIPPools (several pools), not "
           "both";
  if ((hasIp && hasPools) || (hasIps && hasPool))
    return "do not mix the single forms (egressIP, externalIPPool) with the list forms (egressIPs, "
           "externalIPPools)";
  if (!hasIp && !hasIps && !hasPool && !hasPools)
    return "set spec.externalIPPool (the controller allocates an IP from it) or spec.egressIP (a "
           "fixed IP)";
  return "";
}

// The slots an Egress asks for, or the message of the CRD rule it breaks.
std::string slotsOf(const api::EgressSpec& spec, std::vector<SlotRequest>& slots) {
  auto parseIp = [](const std::string& text, const std::string& field,
                    std::optional<Ipv4>& ip) -> std::string {
    ip = parseIpv4(text);
    return ip ? "" : field + " \"" + text + "\" is not an IPv4 address such as 10.10.0.8";
  };
  if (!spec.multiIp()) {
    SlotRequest slot;
    if (!spec.egressIP.empty())
      if (auto bad = parseIp(spec.egressIP, "spec.egressIP", slot.staticIp); !bad.empty())
        return bad;
    slot.pool = spec.externalIPPool;
    slots.push_back(slot);
    return "";
  }
  const auto ips = spec.egressIPs.value_or(std::vector<std::string>{});
  const auto pools = spec.externalIPPools.value_or(std::vector<std::string>{});
  if (spec.egressIPs && spec.externalIPPools && ips.size() != pools.size())
    return "spec.egressIPs and spec.externalIPPools are matched by index and must have the same "
           "length";
  const std::size_t count = std::max(ips.size(), pools.size());
  if (count == 0) return "spec.egressIPs or spec.externalIPPools must not be empty";
  if (std::set<std::string>(ips.begin(), ips.end()).size() != ips.size())
    return "spec.egressIPs lists an IP twice; list each IP once";
  if (std::set<std::string>(pools.begin(), pools.end()).size() != pools.size())
    return "spec.externalIPPools lists a pool twice; list each pool once";
  for (std::size_t i = 0; i < count; ++i) {
    SlotRequest slot;
    if (i < ips.size())
      if (auto bad = parseIp(ips[i], "spec.egressIPs[" + std::to_string(i) + "]", slot.staticIp);
          !bad.empty())
        return bad;
    if (i < pools.size()) slot.pool = pools[i];
    slots.push_back(slot);
  }
  return "";
}

}  // namespace

DecodedPool decodePool(const json& pool) { return decodePool(api::ExternalIpPool::decode(pool)); }
DecodedNode decodeNode(const json& node) { return decodeNode(api::Node::decode(node)); }
DecodedEgress decodeEgress(const json& egress) { return decodeEgress(api::Egress::decode(egress)); }

DecodedPool decodePool(const api::ExternalIpPool& pool) {
  DecodedPool decoded;
  decoded.name = pool.metadata.name;
  decoded.creationOrder = pool.metadata.creationOrder;
  if (const auto malformed = controllerProblems(pool.problems); !malformed.empty()) {
    decoded.problems.push_back(malformed.front()->message);
    return decoded;
  }
  if (pool.spec.ipRanges.empty())
    decoded.problems.push_back(
        "spec.ipRanges is empty; add at least one {cidr} or {start, end} entry");
  for (std::size_t i = 0; i < pool.spec.ipRanges.size(); ++i) {
    const std::string field = "spec.ipRanges[" + std::to_string(i) + "]";
    if (!pool.spec.ipRanges[i]) {
      decoded.problems.push_back(
          field + " is not an object; use {cidr: A.B.C.D/N} or {start: IP, end: IP}");
      continue;
    }
    if (auto range = rangeOf(*pool.spec.ipRanges[i], field, decoded.problems))
      decoded.ranges.push_back(*range);
  }
  if (pool.spec.nodeSelector) {
    decoded.nodeSelector = *pool.spec.nodeSelector;
  } else if (pool.spec.hasNodeSelector) {
    // A selector we cannot read must not widen the pool to every node.
    decoded.nodeSelector = kube::LabelSelector{
        {}, {{"sluice.io/invalid-selector", kube::SelectorOperator::kExists, {}}}};
    for (const auto& problem : pool.problems)
      if (api::isUnder(problem.field, "spec.nodeSelector"))
        decoded.problems.push_back(problem.detail);
  }
  return decoded;
}

DecodedNode decodeNode(const api::Node& node) {
  DecodedNode decoded;
  decoded.name = node.metadata.name;
  decoded.labels = node.metadata.labels;
  if (const auto malformed = controllerProblems(node.problems); !malformed.empty()) {
    decoded.problem = malformed.front()->message;
    return decoded;
  }
  auto annotation = node.metadata.annotations.find(kCapacityAnnotation);
  const std::string capacity =
      annotation == node.metadata.annotations.end() ? "" : annotation->second;
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

DecodedEgress decodeEgress(const api::Egress& egress) {
  DecodedEgress decoded;
  decoded.name = egress.metadata.name;
  decoded.generation = egress.metadata.generation;
  decoded.creationOrder = egress.metadata.creationOrder;
  decoded.multiIp = egress.spec.multiIp();
  decoded.destinations = egress.spec.destinationCIDRs;
  if (const auto malformed = controllerProblems(egress.problems); !malformed.empty()) {
    decoded.invalidMessage = malformed.front()->message;
    return decoded;
  }
  decoded.invalidMessage = validateEgressSpec(egress.spec);
  if (decoded.invalidMessage.empty()) decoded.invalidMessage = slotsOf(egress.spec, decoded.slots);
  if (!decoded.invalidMessage.empty()) {
    decoded.slots.clear();
    return decoded;
  }
  // Previous decisions from status, so that a restart or a new leader moves nothing.
  const auto& status = egress.status;
  if (status.egressIPs) {
    for (const auto& entry : *status.egressIPs)
      if (auto ip = parseIpv4(entry.ip))
        decoded.previous.push_back(PreviousAssignment{*ip, entry.pool, entry.node});
  } else if (!decoded.multiIp) {
    if (auto ip = parseIpv4(status.egressIP))
      decoded.previous.push_back(PreviousAssignment{*ip, decoded.slots[0].pool, status.egressNode});
  }
  return decoded;
}

void noteServiceCidrOverlap(DecodedEgress& egress, const Cidr& serviceCidr) {
  egress.serviceCidrOverlap.clear();
  for (std::size_t i = 0; i < egress.destinations.size(); ++i) {
    const auto& destination = egress.destinations[i];
    const bool overlaps =
        destination.contains(serviceCidr.first()) || serviceCidr.contains(destination.first());
    if (!overlaps) continue;
    egress.serviceCidrOverlap =
        "spec.destinationCIDRs[" + std::to_string(i) + "] " + destination.toString() +
        " overlaps the Service CIDR " + serviceCidr.toString() +
        ": traffic to Services is load-balanced inside the cluster and never takes an Egress; "
        "list only destinations outside the Service CIDR";
    return;
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

}  // namespace sluice::controller
