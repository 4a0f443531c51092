// get egress / pools / nodes: Kubernetes objects, the local agent's view and the controller's
// liveness view joined into rows and JSON items. Pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sluicectl/agent_status.h"
#include "sluicectl/render.h"

namespace sluice::sluicectl {

struct EgressIpPlacement {
  std::string ip;
  std::string node;  // empty: not placed
};

// status.egressIPs, or the single egressIP/egressNode.
std::vector<EgressIpPlacement> placementsOf(const nlohmann::json& egress);

// One item per Egress: name, egressIPs, nodes, pools, localPods (from `local`, may be null),
// state (from the IPAssigned condition), heldHere, message.
nlohmann::json egressItems(const std::vector<nlohmann::json>& egresses, const AgentStatus* local);
TextTable egressTable(const nlohmann::json& items, bool wide);

// One item per ExternalIPPool: name, total, used, available, nodeSelector, ranges, egresses.
nlohmann::json poolItems(const std::vector<nlohmann::json>& pools,
                         const std::vector<nlohmann::json>& egresses);
TextTable poolTable(const nlohmann::json& items, bool wide);

// One item per node: the controller's liveness joined with the Node objects (internal IP, egress
// IPs placed on it).
nlohmann::json nodeItems(const nlohmann::json& controllerView,
                         const std::vector<nlohmann::json>& nodes,
                         const std::vector<nlohmann::json>& egresses);
TextTable nodeTable(const nlohmann::json& items, bool wide);

// "env=prod,role=web" for a LabelSelector's matchLabels (and matchExpressions, roughly).
std::string selectorText(const nlohmann::json& selector);

}  // namespace sluice::sluicectl
