// Node bootstrap: makes this node's OVS and host network match what the pipeline expects
// (docs/pipeline.md): br-int with the Geneve, gateway and patch ports; on the netdev datapath also
// br-phy holding the uplink, with the node IP moved onto br-phy. Every step is idempotent, so an
// agent restart walks the same path and changes nothing that is already right.
#pragma once

#include <string>

#include "agent/agent_config.h"
#include "agent/features/pod_network.h"
#include "agent/ingress_guard.h"
#include "common/result.h"
#include "ovsdb/ovsdb_client.h"

namespace sluice::agent {

struct NodeIdentity {
  Ipv4 nodeIp = 0;  // the Node's InternalIP
  Cidr podCidr;     // the Node's spec.podCIDR
  bool operator==(const NodeIdentity&) const = default;
};

struct BootstrapResult {
  features::NodeNetwork network;  // everything the features need; clusterCidrs left to the caller
  std::string uplink;             // the NIC under br-phy (netdev), or the one holding the node IP
  int podMtu = 0;
};

Result<BootstrapResult> bootstrapNode(const AgentConfig& config, const NodeIdentity& identity,
                                      ovsdb::OvsdbClient& ovsdb, IngressGuard& guard);

// Routes the host uses to reach other nodes' pods: podCIDR via that node's gateway IP, on-link
// through sluice-gw0 (OVS answers the ARP for it, see remoteNodeFlows).
Result<void> ensureRemotePodRoute(const AgentConfig& config, const Cidr& remotePodCidr);

// The pod MTU for an uplink MTU (0 in the config means "auto").
int podMtuFor(int configuredMtu, int uplinkMtu);

}  // namespace sluice::agent
