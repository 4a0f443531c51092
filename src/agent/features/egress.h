// The egress feature: which of this node's pods leave through which egress IP (source side), and
// what this node does for the egress IPs it holds (SNAT, ARP, the floating MAC). Pure: decoded
// Egresses, pods and nodes in, Flow values out. docs/egress-datapath.md explains the design.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/features/pod_network.h"
#include "api/egress.h"
#include "common/ipv4.h"
#include "common/result.h"
#include "kube/label_selector.h"
#include "ofrules/flow.h"
#include "ofrules/pipeline.h"

namespace sluice::agent::features {

// One egress IP of an Egress as its status assigns it.
struct EgressAssignment {
  Ipv4 ip = 0;
  std::string node;  // empty: not placed
  // Set by the controller during a graceful move: the live node the IP is leaving.
  std::string previousNode;
};

struct EgressPolicy {
  std::string name;
  std::int64_t creationOrder = 0;  // creationTimestamp: the oldest Egress wins a pod
  std::optional<kube::LabelSelector> namespaceSelector;  // absent: every namespace
  std::optional<kube::LabelSelector> podSelector;        // absent: every pod
  std::vector<EgressAssignment> assignments;
  std::vector<Cidr> destinations;  // empty: everything outside the cluster
  std::vector<Cidr> excluded;
};

struct EgressPod {
  std::string owner;  // the pod's flow owner (podOwner())
  std::string namespaceName;
  std::string name;
  kube::Labels labels;
  Ipv4 ip = 0;
  // False while the agent has not seen the Pod object (a namespaced pod whose watch event is
  // late): an Egress may select it, so it sends nothing outside the cluster until known.
  bool labelsKnown = true;
};

struct EgressInputs {
  std::vector<EgressPolicy> policies;
  std::vector<EgressPod> pods;                          // this node's pods
  std::map<std::string, kube::Labels> namespaceLabels;  // by namespace name
  std::map<std::string, Ipv4> nodeIps;                  // every node's InternalIP, by name
  bool fenced = false;  // the controller cannot hear us: hold no egress IP
  // IPs this node SNATs for tunnelled traffic without owning them (no ARP, no floating MAC):
  // ready before the sources move here, or draining after they moved away.
  std::vector<Ipv4> passiveIps;
  // IPs assigned here that this node does not answer ARP for yet: it is making sure no other node
  // still does (ArpClaimer). Served passively meanwhile.
  std::set<Ipv4> claimingIps;
};

// A graceful move, in three steps every agent times from the moment it sees it (the controller
// writes status once): for `hold` the sources keep the old node while the new node turns
// passive; then the sources move and the new node takes the IP (GARP) while the old node drains
// passively for `drain` more, so packets already on their way still leave with the right IP.
struct HandoverTiming {
  std::chrono::milliseconds hold{150};
  std::chrono::milliseconds drain{1000};
};

// When this agent first saw each graceful move: (IP, new node, previous node) -> time.
using HandoverKey = std::tuple<Ipv4, std::string, std::string>;
using HandoverClock = std::chrono::steady_clock;
using HandoversSeen = std::map<HandoverKey, HandoverClock::time_point>;

struct ResolvedHandovers {
  std::vector<Ipv4> passiveIps;                         // for EgressInputs::passiveIps
  std::optional<HandoverClock::time_point> nextChange;  // when to resolve again
};

// Rewrites the assignments of moves still in their hold step to the previous node, and works out
// which IPs `self` serves passively. Records first sightings in `seen` and forgets moves that
// status no longer shows.
ResolvedHandovers resolveHandovers(std::vector<EgressPolicy>& policies, const std::string& self,
                                   HandoversSeen& seen, HandoverClock::time_point now,
                                   const HandoverTiming& timing);

// Decodes an Egress object (crd.antrea.io, any served version) through api::Egress. Errors name
// the Egress, the field and the fix.
Result<EgressPolicy> decodeEgressPolicy(const nlohmann::json& egress);
Result<EgressPolicy> toEgressPolicy(const api::Egress& egress);

// The Geneve VNI that carries the choice of egress IP from the source to the egress node.
std::uint32_t egressTunnelId(Ipv4 egressIp);
// The floating MAC of an egress IP: 02:5c followed by the IP's four bytes.
std::string floatingMac(Ipv4 egressIp);

// The egress IP a pod uses under `policy`: a stable hash over the policy's placed IPs.
std::optional<EgressAssignment> chooseAssignment(const EgressPolicy& policy, const EgressPod& pod);

// Something an Egress asks for that this node cannot honour. Warnings become Events on the Egress.
struct EgressProblem {
  std::string egress;
  std::string reason;  // CamelCase, e.g. "TunnelIdCollision"
  std::string message;
  bool warning = false;  // false: a transient state the controller's conditions already show
  bool operator<(const EgressProblem& other) const {
    return std::tie(egress, reason, message) < std::tie(other.egress, other.reason, other.message);
  }
};

// The Egress that applies to `pod`: the oldest of those that select it (null: none). sluicectl
// shows it; egressFlows() makes the same choice.
const EgressPolicy* egressOf(const EgressInputs& inputs, const EgressPod& pod);

// The flow owner of an egress IP this node serves: its SNAT, UnSNAT, ARP, floating-MAC and
// step-aside flows, on both bridges. Also the owner its cookies and learned drops carry.
std::string egressIpOwner(Ipv4 egressIp);
// The flow owner of the source-side flows (EgressMark) of the pods an Egress applies to here.
std::string egressOwner(const std::string& egressName);
// The flow owner of the drop that holds back a pod whose labels are not known yet.
std::string unknownPodOwner(const std::string& podOwner);

using FlowsByOwner = std::map<std::string, std::vector<ofrules::Flow>>;

struct EgressFlows {
  std::vector<ofrules::Flow> integration;  // br-int
  std::vector<ofrules::Flow> physical;     // br-phy
  // The same flows by owner (egressIpOwner, egressOwner, unknownPodOwner): each owner's flows in
  // the order of the flat vectors, which hold exactly the union of these.
  FlowsByOwner integrationByOwner;
  FlowsByOwner physicalByOwner;
  std::vector<Ipv4> heldIps;            // the egress IPs this node answers for (owns)
  std::vector<Ipv4> passiveIps;         // SNATed here without ownership
  std::vector<EgressProblem> problems;  // what could not be honoured, for logs and Events
  // Per local pod (by IP): how it leaves, e.g. "egress-prod-web 10.10.0.8@node02"; absent when no
  // Egress selects it. When this changes, the pod's connections SNATed on this node are flushed,
  // or they would keep the source they started with.
  std::map<Ipv4, std::string> podRoutes;
};

void declareEgressTables(ofrules::PipelineBuilder& builder);
// `pipeline` is br-int's, `physicalPipeline` br-phy's (PipelineBuilder::build(kPhysical)).
Result<EgressFlows> egressFlows(const ofrules::Pipeline& pipeline,
                                const ofrules::Pipeline& physicalPipeline, const NodeNetwork& node,
                                const EgressInputs& inputs);

}  // namespace sluice::agent::features
