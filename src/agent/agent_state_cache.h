// What the agent knew of the cluster last time, kept in its state directory, so that after a
// restart it can install a complete table before it can reach the API server (whose traffic may
// cross this very OVS): node.json (this node), remote-nodes.json, egress-flows.json.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/node_bootstrap.h"
#include "ofrules/flow.h"

namespace sluice::agent {

// Other nodes by name: their InternalIP and podCIDR.
using RemoteNodeMap = std::map<std::string, NodeIdentity>;

// Egress flows by owner (features::EgressFlows::integrationByOwner, physicalByOwner). A file
// written before flows were owned per object loads under the owners of then: "egress" and
// "egress-phy" (kLegacyEgressOwner, kLegacyEgressPhysicalOwner), which the first reconcile deletes.
struct CachedEgress {
  std::map<std::string, std::vector<ofrules::Flow>> integration;
  std::map<std::string, std::vector<ofrules::Flow>> physical;
  std::set<Ipv4> served;
};

inline constexpr const char* kLegacyEgressOwner = "egress";
inline constexpr const char* kLegacyEgressPhysicalOwner = "egress-phy";

class AgentStateCache {
 public:
  explicit AgentStateCache(std::string stateDir);

  std::optional<NodeIdentity> loadNode() const;
  void saveNode(const NodeIdentity& identity) const;
  std::optional<RemoteNodeMap> loadRemoteNodes() const;
  void saveRemoteNodes(const RemoteNodeMap& nodes) const;
  std::optional<CachedEgress> loadEgress() const;
  // Writes only when something changed since the last save (a reconcile runs on every event).
  void saveEgress(const CachedEgress& egress, const std::set<Ipv4>& held);

 private:
  std::string path(const std::string& name) const { return stateDir_ + "/" + name; }
  void write(const std::string& name, const std::string& text) const;

  std::string stateDir_;
  std::string savedEgress_;  // what egress-flows.json holds
};

}  // namespace sluice::agent
