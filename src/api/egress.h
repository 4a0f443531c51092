// The Egress (crd.antrea.io, any served version) as one typed model: decoded once, with checked
// accessors, and used by the agent, the controller and sluicectl alike.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/object.h"
#include "common/ipv4.h"
#include "kube/label_selector.h"

namespace sluice::api {

struct EgressAppliedTo {
  // Whether the keys are present at all (even null): the CRD requires one of them.
  bool hasPodSelector = false;
  bool hasNamespaceSelector = false;
  std::optional<kube::LabelSelector> podSelector;        // absent or null: none
  std::optional<kube::LabelSelector> namespaceSelector;  // absent or null: none
};

struct EgressSpec {
  // Whether spec.appliedTo is an object at all.
  bool hasAppliedTo = false;
  EgressAppliedTo appliedTo;
  std::string egressIP;  // "" when absent; the text as given (validated by its users)
  std::optional<std::vector<std::string>> egressIPs;  // the list form, when given
  std::string externalIPPool;                         // "" when absent
  std::optional<std::vector<std::string>> externalIPPools;
  std::vector<Cidr> destinationCIDRs;  // empty: everything outside the cluster
  std::vector<Cidr> excludedCIDRs;

  // The list forms (egressIPs, externalIPPools): status then carries egressIPs.
  bool multiIp() const { return egressIPs.has_value() || externalIPPools.has_value(); }
};

// One egress IP as status assigns it.
struct EgressIpStatus {
  std::string ip;  // as written; users parse it
  std::string node;
  std::string pool;
  // Set by the controller during a graceful move: the live node the IP is leaving.
  std::string previousNode;
  bool operator==(const EgressIpStatus&) const = default;
};

struct EgressStatus {
  std::string egressIP;  // the first IP (single form); "" when none
  std::string egressNode;
  std::optional<std::vector<EgressIpStatus>> egressIPs;  // present in the list form
  std::vector<Condition> conditions;                     // IPAllocated, IPAssigned

  // The IPs status assigns: egressIPs when listed, else egressIP/egressNode when set.
  std::vector<EgressIpStatus> assignments() const;
  bool operator==(const EgressStatus&) const = default;
};

struct Egress {
  ObjectMeta metadata;
  EgressSpec spec;
  EgressStatus status;
  // Fields that could not be used, each naming the field and the fix. Problems under
  // spec.appliedTo, spec.destinationCIDRs and spec.excludedCIDRs are the agent's concern (it
  // cannot select pods or destinations); those under status are the controller's to rewrite.
  std::vector<Problem> problems;

  // Never throws: any JSON value decodes, with problems for what is unusable.
  static Egress decode(const nlohmann::json& object);
};

EgressStatus decodeEgressStatus(const nlohmann::json& status, const std::string& egressName,
                                std::vector<Problem>& problems);
// The wire form the controller writes: egressIP/egressNode when set, egressIPs when listed (pool
// and previousNode only when set), and conditions.
nlohmann::json toJson(const EgressStatus& status);

}  // namespace sluice::api
