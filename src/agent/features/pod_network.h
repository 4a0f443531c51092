// The pod-network feature: the flows that connect pods on this node to each other, to the node's
// kernel (the gateway), to pods on other nodes (Geneve), and to the outside (SNAT to the node IP).
// Pure: plain data in, Flow values out. docs/pipeline.md walks a packet through these tables.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/ipv4.h"
#include "common/result.h"
#include "ofrules/flow.h"
#include "ofrules/pipeline.h"

namespace sluice::agent::features {

// Fixed OpenFlow ports on br-int (requested through ofport_request).
inline constexpr std::uint32_t kTunnelOfPort = 1;
inline constexpr std::uint32_t kGatewayOfPort = 2;
inline constexpr std::uint32_t kPatchOfPort = 3;  // to br-phy
// Fixed OpenFlow ports on br-phy.
inline constexpr std::uint32_t kUplinkOfPort = 1;
inline constexpr std::uint32_t kPhyPatchOfPort = 2;  // to br-int
// The destination MAC of routed packets sent through the tunnel: the receiver rewrites it.
inline constexpr const char* kGlobalVirtualMac = "aa:bb:cc:dd:ee:ff";
// The source MAC of packets OVS SNATed (to the node IP or an egress IP) and hands to the node's
// kernel on the gateway, only to be routed out. Their replies come back into OVS from the uplink
// and never pass the kernel, whose conntrack would see half a connection and call its next packets
// INVALID (kube-proxy drops those); the node's nftables leave packets with this MAC untracked
// (ServiceHost, table ip sluice-snat).
inline constexpr const char* kOvsSnatSourceMac = "aa:bb:cc:dd:ee:fd";

struct NodeNetwork {
  std::string nodeName;
  Ipv4 nodeIp = 0;
  Cidr podCidr;
  std::string gatewayMac;  // sluice-gw0's MAC
  // Every pod CIDR of the cluster (this node's and the others'): traffic to them is never SNATed.
  std::vector<Cidr> clusterCidrs;
  // The tunnel's UDP port on every node (agent config tunnelPort): pods may not send to it.
  std::uint16_t tunnelPort = 6081;

  Ipv4 gatewayIp() const { return podCidr.first() + 1; }
};

struct RemoteNode {
  std::string name;
  Ipv4 nodeIp = 0;
  Cidr podCidr;
};

struct LocalPod {
  std::string owner;  // "pod:NAMESPACE/NAME" or "container:ID" when the runtime gives no pod
  Ipv4 ip = 0;
  std::string mac;
  std::uint32_t ofport = 0;
};

// Declares the tables this feature uses, on br-int and br-phy.
void declarePodNetworkTables(ofrules::PipelineBuilder& builder);

// A cookie for a flow of `category` owned by `owner` (round 0: the syncer adds its round).
ofrules::Cookie ownerCookie(ofrules::Category category, const std::string& owner);

// Flows that exist once per node: table misses, classification of the tunnel, gateway and patch
// ports, the gateway's ARP responder, conntrack, SNAT to the node IP, and output.
Result<std::vector<ofrules::Flow>> nodeFlows(const ofrules::Pipeline& pipeline,
                                             const NodeNetwork& node);
// Flows for one local pod: classification, spoof guard, ARP, and delivery.
Result<std::vector<ofrules::Flow>> podFlows(const ofrules::Pipeline& pipeline,
                                            const NodeNetwork& node, const LocalPod& pod);
// Flows for one other node: its pods are reached through the tunnel; the host's ARP for its
// gateway.
Result<std::vector<ofrules::Flow>> remoteNodeFlows(const ofrules::Pipeline& pipeline,
                                                   const NodeNetwork& node,
                                                   const RemoteNode& remote);

// br-phy is a plain switch for the node, except that replies of connections OVS NATed go to br-int
// to be un-NATed there. `physical` is the br-phy pipeline (PipelineBuilder::build(kPhysical)).
Result<std::vector<ofrules::Flow>> physicalBridgeFlows(const ofrules::Pipeline& physical,
                                                       const NodeNetwork& node,
                                                       std::uint16_t geneveUdpPort);

}  // namespace sluice::agent::features
