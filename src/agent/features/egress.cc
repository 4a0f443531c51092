// Egress flows. Source side in EgressMark; the egress node's SNAT, UnSNAT and br-phy flows for
// the IPs it holds. Fail closed: a selected pod whose Egress has no usable IP sends nothing out,
// rather than leaving with the node's IP.
#include "agent/features/egress.h"

#include <algorithm>
#include <set>

#include "agent/features/priorities.h"
#include "common/hash.h"
#include "common/mac_address.h"
#include "kube/resource.h"
#include "ofrules/fields.h"
#include "ofrules/flow.h"
#include "ofrules/flow_builder.h"

namespace sluice::agent::features {
namespace {

using namespace sluice::ofrules;
using nlohmann::json;

std::string text(Ipv4 address) { return formatIpv4(address); }

// A pod is selected when every selector given matches; appliedTo with neither selects nothing.
bool selects(const EgressPolicy& policy, const EgressPod& pod,
             const std::map<std::string, kube::Labels>& namespaceLabels) {
  if (!policy.namespaceSelector && !policy.podSelector) return false;
  if (policy.namespaceSelector) {
    auto labels = namespaceLabels.find(pod.namespaceName);
    if (!kube::matches(*policy.namespaceSelector,
                       labels == namespaceLabels.end() ? kube::Labels{} : labels->second))
      return false;
  }
  return !policy.podSelector || kube::matches(*policy.podSelector, pod.labels);
}

FlowBuilder flow(const Pipeline& pipeline, Table table, std::uint16_t priority, Cookie cookie) {
  FlowBuilder builder(pipeline.table(table));
  builder.priority(priority).cookie(cookie);
  return builder;
}

constexpr std::uint16_t kArpEthType = 0x806;

enum class Ownership {
  kOwner,    // answers ARP, sends with the floating MAC
  kPassive,  // SNATs what the tunnel brings, sends with the node's own MAC
};

// The cookie of the drops an owned egress IP's step-aside learns: the IP's own owner, in round 0,
// which no syncer ever installs in. Learned flows belong to the switch, not to any syncer.
Cookie steppedAsideCookie(Ipv4 egressIp) {
  return makeOwnerCookie(Category::kEgress, egressIpOwner(egressIp));
}

// br-phy, for one egress IP this node serves.
void appendPhysicalFlows(const Pipeline& physical, Ipv4 egressIp, Ownership ownership,
                         Cookie cookie, std::vector<Result<Flow>>& flows) {
  const auto ip = text(egressIp);
  // What the uplink brings for the IP goes to br-int, to be un-SNATed there.
  flows.push_back(flow(physical, Table::kPhysicalClassifier, kPriorityPhysicalEgressIp, cookie)
                      .matchProtocol(Protocol::kIp)
                      .matchInPort(kUplinkOfPort)
                      .matchIpDst(ip)
                      .output(kPhyPatchOfPort)
                      .build());
  // Passive: br-phy's NORMAL sends with the node's MAC, so the underlay keeps learning the
  // floating MAC from the owner only.
  if (ownership == Ownership::kPassive) return;
  const auto mac = floatingMac(egressIp);
  flows.push_back(flow(physical, Table::kPhysicalClassifier, kPriorityPhysicalArpResponder, cookie)
                      .matchProtocol(Protocol::kArp)
                      .matchInPort(kUplinkOfPort)
                      .matchArpOp(1)
                      .matchArpTpa(ip)
                      .arpReply(mac, ip)
                      .build());
  // A gratuitous ARP for the IP from another node means that node has taken the IP over. An
  // agent that is alive has released it by then; one that was killed cannot, so the datapath
  // steps aside by itself: it learns a drop for ARP requests for the IP, above the responder, so
  // the IP has one owner on the wire even while this agent is dead. The drop has its own key and
  // cookie: the responder the syncer installed stays as it recorded it. delete_learned: when this
  // flow goes (the IP released or turned passive, as an owner does before it claims the IP
  // again), the drop goes with it; a restarted agent's first sync deletes it as a flow nobody
  // wants.
  flows.push_back(flow(physical, Table::kPhysicalClassifier, kPriorityPhysicalStepAside, cookie)
                      .matchProtocol(Protocol::kArp)
                      .matchInPort(kUplinkOfPort)
                      .matchArpOp(1)
                      .matchArpSpa(ip)
                      .matchArpTpa(ip)
                      .learn(LearnAction()
                                 .table(Table::kPhysicalClassifier)
                                 .priority(kPriorityPhysicalSteppedAside)
                                 .cookie(steppedAsideCookie(egressIp).encode())
                                 .deleteLearned()
                                 .matchEthType(kArpEthType)
                                 .match(kInPort, kUplinkOfPort)
                                 .match(kArpOp, 1)
                                 .match(kArpTpa, ip))
                      .normal()
                      .build());
  flows.push_back(flow(physical, Table::kPhysicalClassifier, kPriorityPhysicalEgressIp, cookie)
                      .matchProtocol(Protocol::kIp)
                      .matchInPortLocal()
                      .matchIpSrc(ip)
                      .modDlSrc(mac)
                      .output(kUplinkOfPort)
                      .build());
}

// What the egress node installs for one egress IP it serves.
void appendSnatFlows(const Pipeline& pipeline, const Pipeline& physicalPipeline,
                     const NodeNetwork& node, Ipv4 egressIp, Ownership ownership,
                     std::vector<Result<Flow>>& flows, std::vector<Result<Flow>>& physical) {
  const auto id = egressTunnelId(egressIp);
  const Cookie cookie = makeOwnerCookie(Category::kEgress, egressIpOwner(egressIp));
  const auto ip = text(egressIp);
  flows.push_back(flow(pipeline, Table::kEgressMark, kPriorityEgressFromTunnel, cookie)
                      .matchProtocol(Protocol::kIp)
                      .matchMark(kFromTunnel)
                      .matchTunnelId(id)
                      .load(kEgressId, id)
                      .loadMark(kSnatHere)
                      .gotoTable(Table::kSnat)
                      .build());
  flows.push_back(
      flow(pipeline, Table::kSnat, kPrioritySnatEgress, cookie)
          .matchProtocol(Protocol::kIp)
          .matchMark(kSnatHere)
          .matchField(kEgressId, id)
          .ct(CtAction().commit().zone(kSnatCtZone).natSrc(ip).loadMark(kCtEgressSnatMark))
          .modDlSrc(kOvsSnatSourceMac)
          .modDlDst(node.gatewayMac)
          .output(kGatewayOfPort)
          .build());
  flows.push_back(flow(pipeline, Table::kUnSnat, kPriorityUnSnat, cookie)
                      .matchProtocol(Protocol::kIp)
                      .matchMark(kFromUplink)
                      .matchIpDst(ip)
                      .ct(CtAction().zone(kSnatCtZone).nat().table(Table::kL3Forwarding))
                      .build());
  appendPhysicalFlows(physicalPipeline, egressIp, ownership, cookie, physical);
}

// Flows as they are built, with the owner of each.
struct OwnedFlows {
  std::vector<Result<Flow>> flows;
  std::vector<std::string> owners;  // owners[i] owns flows[i]

  // The flows pushed since the last call belong to `owner`.
  void claim(const std::string& owner) { owners.resize(flows.size(), owner); }

  Result<void> collect(std::vector<Flow>& flat, FlowsByOwner& byOwner) {
    claim("egress");  // a flow of no one object (none today)
    auto collected = collectFlows(std::move(flows));
    if (!collected) return collected.error();
    for (std::size_t i = 0; i < collected->size(); ++i)
      byOwner[owners[i]].push_back((*collected)[i]);
    flat = std::move(*collected);
    return {};
  }
};

}  // namespace

std::string egressIpOwner(Ipv4 egressIp) { return "egress-ip:" + text(egressIp); }
std::string egressOwner(const std::string& egressName) { return "egress:" + egressName; }
std::string unknownPodOwner(const std::string& podOwner) { return "egress-unknown:" + podOwner; }

void declareEgressTables(PipelineBuilder& builder) {
  builder.declare("egress",
                  {Table::kUnSnat, Table::kL3Forwarding, Table::kEgressMark, Table::kL3DecTtl,
                   Table::kSnat, Table::kConntrackCommit, Table::kPhysicalClassifier});
}

std::uint32_t egressTunnelId(Ipv4 egressIp) { return egressIp & 0xffffff; }

std::string floatingMac(Ipv4 egressIp) {
  return MacAddress::fromBits(0x025c00000000ULL | egressIp).toString();
}

Result<EgressPolicy> decodeEgressPolicy(const json& egress) {
  return toEgressPolicy(api::Egress::decode(egress));
}

Result<EgressPolicy> toEgressPolicy(const api::Egress& egress) {
  // Any field the model could not use (a wrong JSON type, a bad selector or CIDR) leaves the
  // Egress out, with the first problem as the reason: it names the Egress, the field and the fix.
  if (!egress.problems.empty()) return makeError(egress.problems.front().message);
  EgressPolicy policy;
  policy.name = egress.metadata.name;
  policy.creationOrder = egress.metadata.creationOrder;
  policy.namespaceSelector = egress.spec.appliedTo.namespaceSelector;
  policy.podSelector = egress.spec.appliedTo.podSelector;
  policy.destinations = egress.spec.destinationCIDRs;
  policy.excluded = egress.spec.excludedCIDRs;
  for (const auto& assignment : egress.status.assignments())
    if (auto ip = parseIpv4(assignment.ip))
      policy.assignments.push_back(EgressAssignment{*ip, assignment.node, assignment.previousNode});
  return policy;
}

std::optional<EgressAssignment> chooseAssignment(const EgressPolicy& policy, const EgressPod& pod) {
  std::vector<EgressAssignment> placed;
  for (const auto& assignment : policy.assignments)
    if (!assignment.node.empty()) placed.push_back(assignment);
  if (placed.empty()) return std::nullopt;
  // Sorted by IP, so the choice depends on the set of IPs, not on the order status lists them.
  std::sort(placed.begin(), placed.end(), [](const auto& a, const auto& b) { return a.ip < b.ip; });
  return placed[stableHash(pod.namespaceName + "/" + pod.name) % placed.size()];
}

ResolvedHandovers resolveHandovers(std::vector<EgressPolicy>& policies, const std::string& self,
                                   HandoversSeen& seen, HandoverClock::time_point now,
                                   const HandoverTiming& timing) {
  ResolvedHandovers out;
  std::set<HandoverKey> present;
  auto changeAt = [&](HandoverClock::time_point when) {
    if (when > now && (!out.nextChange || when < *out.nextChange)) out.nextChange = when;
  };
  for (auto& policy : policies) {
    for (auto& assignment : policy.assignments) {
      if (assignment.previousNode.empty() || assignment.node.empty() ||
          assignment.previousNode == assignment.node)
        continue;
      const HandoverKey key{assignment.ip, assignment.node, assignment.previousNode};
      present.insert(key);
      const auto since = seen.emplace(key, now).first->second;
      const auto switchAt = since + timing.hold;
      const auto drainedAt = switchAt + timing.drain;
      changeAt(switchAt);
      changeAt(drainedAt);
      if (now < switchAt) {
        if (assignment.node == self) out.passiveIps.push_back(assignment.ip);
        assignment.node = assignment.previousNode;
      } else if (now < drainedAt && assignment.previousNode == self) {
        out.passiveIps.push_back(assignment.ip);
      }
    }
  }
  std::erase_if(seen, [&](const auto& entry) { return !present.contains(entry.first); });
  return out;
}

const EgressPolicy* egressOf(const EgressInputs& inputs, const EgressPod& pod) {
  const EgressPolicy* chosen = nullptr;
  for (const auto& policy : inputs.policies) {
    if (!selects(policy, pod, inputs.namespaceLabels)) continue;
    if (chosen == nullptr ||
        std::tie(policy.creationOrder, policy.name) < std::tie(chosen->creationOrder, chosen->name))
      chosen = &policy;
  }
  return chosen;
}

Result<EgressFlows> egressFlows(const Pipeline& pipeline, const Pipeline& physicalPipeline,
                                const NodeNetwork& node, const EgressInputs& inputs) {
  EgressFlows out;
  OwnedFlows ownedFlows;
  OwnedFlows ownedPhysical;
  auto& flows = ownedFlows.flows;
  auto& physical = ownedPhysical.flows;

  // Source side: each selected pod of this node, by its oldest Egress.
  for (const auto& pod : inputs.pods) {
    if (!pod.labelsKnown) {
      if (inputs.policies.empty()) continue;  // no Egress could select it
      flows.push_back(flow(pipeline, Table::kEgressMark, kPriorityEgressUnknownPod,
                           makeOwnerCookie(Category::kEgress, unknownPodOwner(pod.owner)))
                          .matchProtocol(Protocol::kIp)
                          .matchIpSrc(text(pod.ip))
                          .drop()
                          .build());
      ownedFlows.claim(unknownPodOwner(pod.owner));
      out.problems.push_back({"", "PodUnknown",
                              "pod " + pod.namespaceName + "/" + pod.name +
                                  " is not in this agent's watch yet: it sends nothing outside "
                                  "the cluster until its labels are known",
                              false});
      continue;
    }
    const EgressPolicy* chosen = egressOf(inputs, pod);
    if (chosen == nullptr) continue;
    const Cookie cookie = makeOwnerCookie(Category::kEgress, egressOwner(chosen->name));
    const auto assignment = chooseAssignment(*chosen, pod);
    out.podRoutes[pod.ip] =
        chosen->name + " " +
        (assignment ? text(assignment->ip) + "@" + assignment->node : std::string("unplaced"));
    for (const auto& excluded : chosen->excluded)
      flows.push_back(flow(pipeline, Table::kEgressMark,
                           static_cast<Priority>(kPriorityEgressExcludedBase + excluded.prefix),
                           cookie)
                          .matchProtocol(Protocol::kIp)
                          .matchIpSrc(text(pod.ip))
                          .matchIpDst(excluded.toString())
                          .gotoTable(Table::kSnat)
                          .build());
    const auto destinations =
        chosen->destinations.empty() ? std::vector<Cidr>{Cidr{0, 0}} : chosen->destinations;
    for (const auto& destination : destinations) {
      auto builder =
          flow(pipeline, Table::kEgressMark,
               static_cast<Priority>(kPriorityEgressDestinationBase + destination.prefix), cookie);
      builder.matchProtocol(Protocol::kIp).matchIpSrc(text(pod.ip));
      if (destination.prefix > 0) builder.matchIpDst(destination.toString());
      if (!assignment) {
        out.problems.push_back({chosen->name, "NoEgressIP",
                                "Egress " + chosen->name + " has no egress IP on a node yet: pod " +
                                    pod.namespaceName + "/" + pod.name +
                                    " sends nothing outside the cluster until it has one",
                                false});
        flows.push_back(builder.drop().build());
      } else if (assignment->node == node.nodeName) {
        if (inputs.fenced) {
          flows.push_back(builder.drop().build());
        } else {
          flows.push_back(builder.load(kEgressId, egressTunnelId(assignment->ip))
                              .loadMark(kSnatHere)
                              .gotoTable(Table::kSnat)
                              .build());
        }
      } else if (auto remote = inputs.nodeIps.find(assignment->node);
                 remote != inputs.nodeIps.end()) {
        flows.push_back(builder.setTunnelDst(text(remote->second))
                            .setTunnelId(egressTunnelId(assignment->ip))
                            .modDlDst(kGlobalVirtualMac)
                            .load(kTargetOfPort, kTunnelOfPort)
                            .loadMark(kOfPortFound)
                            .gotoTable(Table::kL3DecTtl)
                            .build());
      } else {
        out.problems.push_back({chosen->name, "EgressNodeUnknown",
                                "Egress " + chosen->name + ": node " + assignment->node +
                                    " is unknown to node " + node.nodeName +
                                    "; its pods send nothing outside the cluster until it is",
                                true});
        flows.push_back(builder.drop().build());
      }
    }
    ownedFlows.claim(egressOwner(chosen->name));
  }

  // Egress node: the IPs this node holds, then those it serves passively; nothing when fenced.
  struct Served {
    Ipv4 ip;
    Ownership ownership;
    std::string egress;
  };
  std::vector<Served> served;
  for (const auto& policy : inputs.policies)
    for (const auto& assignment : policy.assignments)
      if (assignment.node == node.nodeName)
        served.push_back(
            {assignment.ip,
             inputs.claimingIps.contains(assignment.ip) ? Ownership::kPassive : Ownership::kOwner,
             policy.name});
  for (const auto ip : inputs.passiveIps) served.push_back({ip, Ownership::kPassive, ""});
  std::map<std::uint32_t, Ipv4> ids;
  for (const auto& [ip, ownership, egress] : served) {
    if (inputs.fenced) break;
    const auto id = egressTunnelId(ip);
    if (auto clash = ids.find(id); clash != ids.end()) {
      if (clash->second != ip)
        out.problems.push_back(
            {egress, "TunnelIdCollision",
             "egress IPs " + text(clash->second) + " and " + text(ip) + " share tunnel ID " +
                 std::to_string(id) + " on node " + node.nodeName + "; " + text(ip) +
                 " is not served there (give one of them an IP that differs in its last three "
                 "bytes, or move it to another node's pool)",
             true});
      continue;  // also an IP listed twice: owned wins, it comes first
    }
    ids[id] = ip;
    (ownership == Ownership::kOwner ? out.heldIps : out.passiveIps).push_back(ip);
    appendSnatFlows(pipeline, physicalPipeline, node, ip, ownership, flows, physical);
    ownedFlows.claim(egressIpOwner(ip));
    ownedPhysical.claim(egressIpOwner(ip));
  }
  if (auto collected = ownedFlows.collect(out.integration, out.integrationByOwner); !collected)
    return collected.error();
  if (auto collected = ownedPhysical.collect(out.physical, out.physicalByOwner); !collected)
    return collected.error();
  return out;
}

}  // namespace sluice::agent::features
