// The egress feature: which of this node's pods leave through which egress IP (source side), and
// what this node does for the egress IPs it holds (SNAT, ARP, the floating MAC). Pure: decoded
// Egresses, pods and nodes in, Flow values out. docs/egress-datapath.md explains the design.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/features/pod_network.h"
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
};

struct EgressInputs {
  std::vector<EgressPolicy> policies;
  std::vector<EgressPod> pods;                          // this node's pods
  std::map<std::string, kube::Labels> namespaceLabels;  // by namespace name
  std::map<std::string, Ipv4> nodeIps;                  // every node's InternalIP, by name
  bool fenced = false;  // the controller cannot hear us: hold no egress IP
};

// Decodes an Egress object (crd.antrea.io, any served version). Errors name the field.
Result<EgressPolicy> decodeEgressPolicy(const nlohmann::json& egress);

// The Geneve VNI that carries the choice of egress IP from the source to the egress node.
std::uint32_t egressTunnelId(Ipv4 egressIp);
// The floating MAC of an egress IP: 02:5c followed by the IP's four bytes.
std::string floatingMac(Ipv4 egressIp);

// The egress IP a pod uses under `policy`: a stable hash over the policy's placed IPs.
std::optional<EgressAssignment> chooseAssignment(const EgressPolicy& policy, const EgressPod& pod);

// The Egress that applies to `pod`: the oldest of those that select it (null: none). sluicectl
// shows it; egressFlows() makes the same choice.
const EgressPolicy* egressOf(const EgressInputs& inputs, const EgressPod& pod);

struct EgressFlows {
  std::vector<ofrules::Flow> integration;  // br-int
  std::vector<ofrules::Flow> physical;     // br-phy
  std::vector<Ipv4> heldIps;               // the egress IPs this node answers for
  std::vector<std::string> problems;       // what could not be honoured, for logs and Events
};

void declareEgressTables(ofrules::PipelineBuilder& builder);
Result<EgressFlows> egressFlows(const ofrules::Pipeline& pipeline, const NodeNetwork& node,
                                const EgressInputs& inputs);

}  // namespace sluice::agent::features
