// RemoteNodesUnit: the other nodes of the cluster. Per Node: its pods are reached through the
// tunnel (one flow owner, "node:NAME"), the host routes their podCIDR through the gateway, and
// its MAC is resolved for the tunnel before the first packet needs it. It also owns the node-wide
// flows ("node"), which depend on the cluster's pod CIDRs. Node informer events only queue the
// Node's name; reconcile() works on the names queued.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "agent/agent_state_cache.h"
#include "agent/features/pod_network.h"
#include "agent/flow_sink.h"
#include "agent/reconcile_queue.h"
#include "kube/informer.h"
#include "ofrules/pipeline.h"

namespace sluice::agent {

// What the host does for another node: real netlink and OVS control in the agent, a fake in tests.
class RemoteNodeHost {
 public:
  virtual ~RemoteNodeHost() = default;
  // The host's route to the node's podCIDR (see ensureRemotePodRoute).
  [[nodiscard]] virtual Result<void> ensurePodRoute(const Cidr& podCidr) = 0;
  // Makes the tunnel know the node's MAC before the first packet to it; forgets it when gone.
  virtual void resolveTunnelNeighbour(Ipv4 nodeIp) = 0;
  virtual void forgetTunnelNeighbour(Ipv4 nodeIp) = 0;
};

// A Node's InternalIP and podCIDR; nothing while it has not both.
std::optional<NodeIdentity> remoteNodeIdentity(const nlohmann::json& node);

class RemoteNodesUnit {
 public:
  struct Dependencies {
    TaskLoop& loop;
    const ofrules::Pipeline& pipeline;
    features::NodeNetwork& network;  // its clusterCidrs are kept here
    FlowSink& integration;
    AgentStateCache& cache;
    RemoteNodeHost& host;
  };
  explicit RemoteNodesUnit(Dependencies dependencies);

  // On the loop: the node-wide flows and the nodes of the last run's cache.
  [[nodiscard]] Result<void> installNodeFlows();
  void restoreFromCache();
  // Informer handlers queue Node names; the loop reconciles them.
  void watch(kube::Informer& nodes);
  // Reconciles every Node the informer has (after its first sync).
  void reconcileAll();

  const RemoteNodeMap& nodes() const { return nodes_; }

 private:
  void reconcile(const std::set<std::string>& names);
  void apply(const RemoteNodeMap& nodes);
  void setNodeFlows(const std::string& name, const NodeIdentity& node);

  Dependencies deps_;
  kube::Informer* informer_ = nullptr;
  ReconcileQueue queue_;
  RemoteNodeMap nodes_;
};

}  // namespace sluice::agent
