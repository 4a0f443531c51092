// Pod-network flows. Every flow is built through ofrules::FlowBuilder, so a backward goto or a
// field misuse fails here, in the feature that wrote it.
#include "agent/features/pod_network.h"

#include "ofrules/feature.h"
#include "ofrules/fields.h"
#include "ofrules/flow_builder.h"

namespace sluice::agent::features {
namespace {

using namespace sluice::ofrules;

std::string ip(Ipv4 address) { return formatIpv4(address); }

FlowBuilder flow(const Pipeline& pipeline, Table table, std::uint16_t priority, Cookie cookie) {
  FlowBuilder builder(pipeline.table(table));
  builder.priority(priority).cookie(cookie);
  return builder;
}

// Where L3Forwarding sends a packet it has routed: past SNAT, to the conntrack commit.
FlowBuilder& deliver(FlowBuilder& builder, std::uint32_t ofport) {
  return builder.load(kTargetOfPort, ofport)
      .loadMark(kOfPortFound)
      .gotoTable(Table::kConntrackCommit);
}

}  // namespace

void declarePodNetworkTables(PipelineBuilder& builder) {
  builder.declare(
      "podnet", {Table::kClassifier, Table::kSpoofGuard, Table::kArpResponder, Table::kUnSnat,
                 Table::kConntrackZone, Table::kConntrackState, Table::kL3Forwarding, Table::kSnat,
                 Table::kConntrackCommit, Table::kOutput});
}

Cookie ownerCookie(Category category, const std::string& owner) {
  return makeOwnerCookie(category, owner);
}

Result<std::vector<Flow>> nodeFlows(const Pipeline& pipeline, const NodeNetwork& node) {
  const Cookie fixed = ownerCookie(Category::kPipeline, "pipeline");
  const Cookie gateway = ownerCookie(Category::kGateway, "gateway");
  const Cookie tunnel = ownerCookie(Category::kTunnel, "tunnel");
  std::vector<Result<Flow>> flows;
  for (auto& miss : pipeline.missFlows(fixed)) flows.emplace_back(std::move(miss));

  // Classifier: what entered where.
  flows.push_back(flow(pipeline, Table::kClassifier, 200, tunnel)
                      .matchInPort(kTunnelOfPort)
                      .loadMark(kFromTunnel)
                      .gotoTable(Table::kUnSnat)
                      .build());
  flows.push_back(flow(pipeline, Table::kClassifier, 200, gateway)
                      .matchInPort(kGatewayOfPort)
                      .loadMark(kFromGateway)
                      .gotoTable(Table::kSpoofGuard)
                      .build());
  flows.push_back(flow(pipeline, Table::kClassifier, 200, fixed)
                      .matchInPort(kPatchOfPort)
                      .loadMark(kFromUplink)
                      .gotoTable(Table::kUnSnat)
                      .build());

  // SpoofGuard: the node's kernel may send from any address (it routes for the host).
  flows.push_back(flow(pipeline, Table::kSpoofGuard, 200, gateway)
                      .matchProtocol(Protocol::kIp)
                      .matchInPort(kGatewayOfPort)
                      .gotoTable(Table::kUnSnat)
                      .build());
  flows.push_back(flow(pipeline, Table::kSpoofGuard, 200, gateway)
                      .matchProtocol(Protocol::kArp)
                      .matchInPort(kGatewayOfPort)
                      .gotoTable(Table::kArpResponder)
                      .build());

  // ARPResponder: pods ask for their gateway; replies to the host's own requests go to it.
  // Nothing else is flooded: ARP never crosses the tunnel.
  flows.push_back(flow(pipeline, Table::kArpResponder, 200, gateway)
                      .matchProtocol(Protocol::kArp)
                      .matchArpOp(1)
                      .matchArpTpa(ip(node.gatewayIp()))
                      .arpReply(node.gatewayMac, ip(node.gatewayIp()))
                      .build());
  flows.push_back(flow(pipeline, Table::kArpResponder, 190, gateway)
                      .matchProtocol(Protocol::kArp)
                      .matchArpOp(2)
                      .matchArpTpa(ip(node.gatewayIp()))
                      .output(kGatewayOfPort)
                      .build());
  flows.push_back(
      flow(pipeline, Table::kArpResponder, 1, fixed).matchProtocol(Protocol::kArp).drop().build());

  // UnSNAT: replies to connections OVS SNATed to the node IP come back through br-phy. Their
  // connection lives in the SNAT zone only (the default zone never saw it committed, and would
  // call an ICMP echo reply or a SYN-ACK invalid), so they go straight on to routing.
  flows.push_back(flow(pipeline, Table::kUnSnat, 200, fixed)
                      .matchProtocol(Protocol::kIp)
                      .matchMark(kFromUplink)
                      .matchIpDst(ip(node.nodeIp))
                      .ct(CtAction().zone(kSnatCtZone).nat().table(Table::kL3Forwarding))
                      .build());
  // Anything else from the uplink (flooded ARP, traffic for other hosts) is not ours.
  flows.push_back(flow(pipeline, Table::kUnSnat, 190, fixed).matchMark(kFromUplink).drop().build());

  // Conntrack: every IP packet is tracked in the default zone; invalid ones stop here.
  flows.push_back(flow(pipeline, Table::kConntrackZone, 200, fixed)
                      .matchProtocol(Protocol::kIp)
                      .ct(CtAction().zone(kDefaultCtZone).table(Table::kConntrackState))
                      .build());
  flows.push_back(flow(pipeline, Table::kConntrackState, 200, fixed)
                      .matchProtocol(Protocol::kIp)
                      .matchCtState(CtState().with(CtFlag::kTrk).with(CtFlag::kInv))
                      .drop()
                      .build());

  // L3Forwarding: the node's own addresses are reached through the gateway.
  for (const Ipv4 address : {node.gatewayIp(), node.nodeIp}) {
    auto builder = flow(pipeline, Table::kL3Forwarding, 200, gateway);
    builder.matchProtocol(Protocol::kIp).matchIpDst(ip(address)).modDlDst(node.gatewayMac);
    flows.push_back(deliver(builder, kGatewayOfPort).build());
  }
  // Pod traffic to another pod never leaves through SNAT: cluster CIDRs without a route drop.
  for (const auto& cidr : node.clusterCidrs)
    flows.push_back(flow(pipeline, Table::kL3Forwarding, 100, fixed)
                        .matchProtocol(Protocol::kIp)
                        .matchIpDst(cidr.toString())
                        .drop()
                        .build());

  // SNAT: pod traffic to the outside leaves with the node IP. OVS conntrack does the NAT; the
  // node's kernel routes the packet out of br-phy and resolves the next hop (docs/pipeline.md).
  flows.push_back(flow(pipeline, Table::kSnat, 200, fixed)
                      .matchProtocol(Protocol::kIp)
                      .matchMark(kFromPod)
                      .ct(CtAction()
                              .commit()
                              .zone(kSnatCtZone)
                              .natSrc(ip(node.nodeIp))
                              .loadMark(kCtEgressSnatMark))
                      .modDlDst(node.gatewayMac)
                      .output(kGatewayOfPort)
                      .build());
  flows.push_back(
      flow(pipeline, Table::kSnat, 190, fixed).matchProtocol(Protocol::kIp).drop().build());

  // ConntrackCommit: new connections are committed in the default zone, except un-NATed replies
  // from the uplink, whose connection lives in the SNAT zone.
  flows.push_back(flow(pipeline, Table::kConntrackCommit, 210, fixed)
                      .matchMark(kFromUplink)
                      .gotoTable(Table::kOutput)
                      .build());
  flows.push_back(flow(pipeline, Table::kConntrackCommit, 200, fixed)
                      .matchProtocol(Protocol::kIp)
                      .matchCtState(CtState().with(CtFlag::kTrk).with(CtFlag::kNew))
                      .ct(CtAction().commit().zone(kDefaultCtZone))
                      .gotoTable(Table::kOutput)
                      .build());

  // Output: to the port L3Forwarding chose.
  flows.push_back(flow(pipeline, Table::kOutput, 200, fixed)
                      .matchMark(kOfPortFound)
                      .outputField(kTargetOfPort)
                      .build());
  return collectFlows(std::move(flows));
}

Result<std::vector<Flow>> podFlows(const Pipeline& pipeline, const NodeNetwork& node,
                                   const LocalPod& pod) {
  const Cookie cookie = ownerCookie(Category::kPod, pod.owner);
  const auto podIp = ip(pod.ip);
  std::vector<Result<Flow>> flows;
  flows.push_back(flow(pipeline, Table::kClassifier, 190, cookie)
                      .matchInPort(pod.ofport)
                      .loadMark(kFromPod)
                      .gotoTable(Table::kSpoofGuard)
                      .build());
  flows.push_back(flow(pipeline, Table::kSpoofGuard, 200, cookie)
                      .matchProtocol(Protocol::kIp)
                      .matchInPort(pod.ofport)
                      .matchEthSrc(pod.mac)
                      .matchIpSrc(podIp)
                      .gotoTable(Table::kUnSnat)
                      .build());
  flows.push_back(flow(pipeline, Table::kSpoofGuard, 200, cookie)
                      .matchProtocol(Protocol::kArp)
                      .matchInPort(pod.ofport)
                      .matchArpSha(pod.mac)
                      .matchArpSpa(podIp)
                      .gotoTable(Table::kArpResponder)
                      .build());
  // ARP for the pod (from the host or a neighbour pod) goes to the pod itself.
  flows.push_back(flow(pipeline, Table::kArpResponder, 190, cookie)
                      .matchProtocol(Protocol::kArp)
                      .matchArpTpa(podIp)
                      .output(pod.ofport)
                      .build());
  auto deliverToPod = flow(pipeline, Table::kL3Forwarding, 200, cookie);
  deliverToPod.matchProtocol(Protocol::kIp)
      .matchIpDst(podIp)
      .modDlSrc(node.gatewayMac)
      .modDlDst(pod.mac);
  flows.push_back(deliver(deliverToPod, pod.ofport).build());
  return collectFlows(std::move(flows));
}

Result<std::vector<Flow>> remoteNodeFlows(const Pipeline& pipeline, const NodeNetwork& node,
                                          const RemoteNode& remote) {
  const Cookie cookie = ownerCookie(Category::kNodeRoute, "node:" + remote.name);
  std::vector<Result<Flow>> flows;
  // A pod must not speak the tunnel protocol to another node: SNATed to this node's IP, its
  // hand-made Geneve would pass for ours there, and a tun_id of an egress IP would make the
  // egress node SNAT the inner packet to that IP (docs/security.md).
  flows.push_back(flow(pipeline, Table::kL3Forwarding, 210, cookie)
                      .matchProtocol(Protocol::kUdp)
                      .matchMark(kFromPod)
                      .matchIpDst(ip(remote.nodeIp))
                      .matchUdpDst(node.tunnelPort)
                      .drop()
                      .build());
  auto toTunnel = flow(pipeline, Table::kL3Forwarding, 200, cookie);
  toTunnel.matchProtocol(Protocol::kIp)
      .matchIpDst(remote.podCidr.toString())
      .modDlDst(kGlobalVirtualMac)
      .setTunnelDst(ip(remote.nodeIp));
  flows.push_back(deliver(toTunnel, kTunnelOfPort).build());
  // The host routes the remote podCIDR via the remote gateway IP (onlink): answer its ARP.
  const auto remoteGateway = ip(remote.podCidr.first() + 1);
  flows.push_back(flow(pipeline, Table::kArpResponder, 200, cookie)
                      .matchProtocol(Protocol::kArp)
                      .matchArpOp(1)
                      .matchArpTpa(remoteGateway)
                      .arpReply(kGlobalVirtualMac, remoteGateway)
                      .build());
  return collectFlows(std::move(flows));
}

std::vector<Flow> physicalBridgeFlows(const NodeNetwork& node, std::uint16_t geneveUdpPort) {
  const std::uint64_t cookie = ownerCookie(Category::kPipeline, "br-phy").encode();
  const auto nodeIp = ip(node.nodeIp);
  const auto uplink = std::to_string(kUplinkOfPort);
  const auto patch = std::to_string(kPhyPatchOfPort);
  return {
      // Tunnel packets for this node go to the node's address, where OVS terminates them.
      Flow{0, 210,
           "udp,in_port=" + uplink + ",nw_dst=" + nodeIp +
               ",tp_dst=" + std::to_string(geneveUdpPort),
           "LOCAL", cookie},
      // Other traffic to the node IP: replies of connections OVS SNATed go on to br-int.
      Flow{0, 200, "ip,in_port=" + uplink + ",nw_dst=" + nodeIp,
           "ct(zone=" + std::to_string(kSnatCtZone) + ",table=1)", cookie},
      Flow{1, 200, "ct_state=+est+trk,ct_mark=0x2/0x2,ip", "output:" + patch, cookie},
      Flow{1, 200, "ct_state=+rel+trk,ct_mark=0x2/0x2,ip", "output:" + patch, cookie},
      Flow{1, 0, "", "LOCAL", cookie},
      Flow{0, 0, "", "NORMAL", cookie},
  };
}

}  // namespace sluice::agent::features
