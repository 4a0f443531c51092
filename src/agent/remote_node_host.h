// NodeRemoteNodeHost: RemoteNodeHost on a real node: the podCIDR route through the gateway, and
// (userspace datapath) the tunnel's neighbour entry for the other node.
#pragma once

#include "agent/agent_config.h"
#include "agent/remote_nodes_unit.h"
#include "agent/tunnel_neighbours.h"

namespace sluice::agent {

class NodeRemoteNodeHost : public RemoteNodeHost {
 public:
  // `neighbours` null: the kernel datapath, whose tunnels use the kernel's own neighbours.
  NodeRemoteNodeHost(const AgentConfig& config, TunnelNeighbours* neighbours)
      : config_(config), neighbours_(neighbours) {}
  Result<void> ensurePodRoute(const Cidr& podCidr) override {
    return ensureRemotePodRoute(config_, podCidr);
  }
  void resolveTunnelNeighbour(Ipv4 nodeIp) override {
    if (neighbours_) neighbours_->resolve(nodeIp);
  }
  void forgetTunnelNeighbour(Ipv4 nodeIp) override {
    if (neighbours_) neighbours_->forget(nodeIp);
  }

 private:
  const AgentConfig& config_;
  TunnelNeighbours* neighbours_;
};

}  // namespace sluice::agent
