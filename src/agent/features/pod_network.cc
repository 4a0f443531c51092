// Pod-network flows. Every flow is built through ofrules::FlowBuilder, so a backward goto or a
// field misuse fails here, in the feature that wrote it.
#include "agent/features/pod_network.h"

#include "agent/features/priorities.h"
#include "agent/features/service_proxy.h"
#include "ofrules/fields.h"
#include "ofrules/flow.h"
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

// Where L3Forwarding sends a packet it switched to a pod, or handed to the host: past SNAT, to
// the conntrack commit.
FlowBuilder& deliver(FlowBuilder& builder, std::uint32_t ofport) {
  return builder.load(kTargetOfPort, ofport)
      .loadMark(kOfPortFound)
      .gotoTable(Table::kConntrackCommit);
}

// Where L3Forwarding sends a packet it routed (to another node, or from one to a pod here):
// L3DecTTL takes one off its TTL, then the conntrack commit.
FlowBuilder& route(FlowBuilder& builder, std::uint32_t ofport) {
  return builder.load(kTargetOfPort, ofport).loadMark(kOfPortFound).gotoTable(Table::kL3DecTtl);
}

}  // namespace

void declarePodNetworkTables(PipelineBuilder& builder) {
  builder.declare("podnet",
                  {Table::kClassifier, Table::kSpoofGuard, Table::kArpResponder, Table::kUnSnat,
                   Table::kConntrackZone, Table::kConntrackState, Table::kL3Forwarding,
                   Table::kL3DecTtl, Table::kSnat, Table::kConntrackCommit, Table::kOutput,
                   Table::kPhysicalClassifier, Table::kPhysicalConntrack});
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
  flows.push_back(flow(pipeline, Table::kClassifier, kPriorityClassifyFixedPort, tunnel)
                      .matchInPort(kTunnelOfPort)
                      .loadMark(kFromTunnel)
                      .gotoTable(Table::kUnSnat)
                      .build());
  flows.push_back(flow(pipeline, Table::kClassifier, kPriorityClassifyFixedPort, gateway)
                      .matchInPort(kGatewayOfPort)
                      .loadMark(kFromGateway)
                      .gotoTable(Table::kSpoofGuard)
                      .build());
  flows.push_back(flow(pipeline, Table::kClassifier, kPriorityClassifyFixedPort, fixed)
                      .matchInPort(kPatchOfPort)
                      .loadMark(kFromUplink)
                      .gotoTable(Table::kUnSnat)
                      .build());

  // SpoofGuard: the node's kernel may send from any address (it routes for the host).
  flows.push_back(flow(pipeline, Table::kSpoofGuard, kPrioritySpoofGuardGateway, gateway)
                      .matchProtocol(Protocol::kIp)
                      .matchInPort(kGatewayOfPort)
                      .gotoTable(Table::kUnSnat)
                      .build());
  flows.push_back(flow(pipeline, Table::kSpoofGuard, kPrioritySpoofGuardGateway, gateway)
                      .matchProtocol(Protocol::kArp)
                      .matchInPort(kGatewayOfPort)
                      .gotoTable(Table::kArpResponder)
                      .build());

  // ARPResponder: pods ask for their gateway; replies to the host's own requests go to it.
  // Nothing else is flooded: ARP never crosses the tunnel.
  flows.push_back(flow(pipeline, Table::kArpResponder, kPriorityArpAnswer, gateway)
                      .matchProtocol(Protocol::kArp)
                      .matchArpOp(1)
                      .matchArpTpa(ip(node.gatewayIp()))
                      .arpReply(node.gatewayMac, ip(node.gatewayIp()))
                      .build());
  flows.push_back(flow(pipeline, Table::kArpResponder, kPriorityArpToTarget, gateway)
                      .matchProtocol(Protocol::kArp)
                      .matchArpOp(2)
                      .matchArpTpa(ip(node.gatewayIp()))
                      .output(kGatewayOfPort)
                      .build());
  flows.push_back(flow(pipeline, Table::kArpResponder, kPriorityArpDropRest, fixed)
                      .matchProtocol(Protocol::kArp)
                      .drop()
                      .build());

  // UnSNAT: replies to connections OVS SNATed to the node IP come back through br-phy. Their
  // connection lives in the SNAT zone only (the default zone never saw it committed, and would
  // call an ICMP echo reply or a SYN-ACK invalid), so they go straight on to routing.
  flows.push_back(flow(pipeline, Table::kUnSnat, kPriorityUnSnat, fixed)
                      .matchProtocol(Protocol::kIp)
                      .matchMark(kFromUplink)
                      .matchIpDst(ip(node.nodeIp))
                      .ct(CtAction().zone(kSnatCtZone).nat().table(Table::kL3Forwarding))
                      .build());
  // Anything else from the uplink (flooded ARP, traffic for other hosts) is not ours.
  flows.push_back(flow(pipeline, Table::kUnSnat, kPriorityUnSnatDropUplink, fixed)
                      .matchMark(kFromUplink)
                      .drop()
                      .build());

  // A pod's replies to a hairpin connection (to kHairpinVirtualIp) are un-SNATed first, then
  // un-DNATed in the default zone like any Service reply.
  flows.push_back(flow(pipeline, Table::kUnSnat, kPriorityUnSnatHairpin, fixed)
                      .matchProtocol(Protocol::kIp)
                      .matchMark(kFromPod)
                      .matchIpDst(kHairpinVirtualIp)
                      .ct(CtAction().zone(kSnatCtZone).nat().table(Table::kConntrackZone))
                      .build());

  // Conntrack: every IP packet is tracked in the default zone, and a Service connection's NAT is
  // applied (DNAT to the endpoint, or undone on replies); invalid ones stop here.
  flows.push_back(flow(pipeline, Table::kConntrackZone, kPriorityConntrackTrack, fixed)
                      .matchProtocol(Protocol::kIp)
                      .ct(CtAction().zone(kDefaultCtZone).nat().table(Table::kConntrackState))
                      .build());
  flows.push_back(flow(pipeline, Table::kConntrackState, kPriorityConntrackDropInvalid, fixed)
                      .matchProtocol(Protocol::kIp)
                      .matchCtState(CtState().with(CtFlag::kTrk).with(CtFlag::kInv))
                      .drop()
                      .build());

  // L3Forwarding: the node's own addresses are reached through the gateway.
  for (const Ipv4 address : {node.gatewayIp(), node.nodeIp}) {
    auto builder = flow(pipeline, Table::kL3Forwarding, kPriorityForwardToGateway, gateway);
    builder.matchProtocol(Protocol::kIp).matchIpDst(ip(address)).modDlDst(node.gatewayMac);
    flows.push_back(deliver(builder, kGatewayOfPort).build());
  }
  // Pod traffic to another pod never leaves through SNAT: cluster CIDRs without a route drop.
  for (const auto& cidr : node.clusterCidrs)
    flows.push_back(flow(pipeline, Table::kL3Forwarding, kPriorityForwardDropClusterCidr, fixed)
                        .matchProtocol(Protocol::kIp)
                        .matchIpDst(cidr.toString())
                        .drop()
                        .build());

  // L3DecTTL: a packet OVS routed loses one TTL, as at any router. The host's kernel has routed
  // what comes from the gateway already.
  flows.push_back(flow(pipeline, Table::kL3DecTtl, kPriorityDecTtlSkipGateway, fixed)
                      .matchProtocol(Protocol::kIp)
                      .matchMark(kFromGateway)
                      .matchMark(kOfPortFound)
                      .gotoTable(Table::kConntrackCommit)
                      .build());
  flows.push_back(flow(pipeline, Table::kL3DecTtl, kPriorityDecTtl, fixed)
                      .matchProtocol(Protocol::kIp)
                      .matchMark(kOfPortFound)
                      .decTtl()
                      .gotoTable(Table::kConntrackCommit)
                      .build());

  // SNAT: pod traffic to the outside leaves with the node IP. OVS conntrack does the NAT; the
  // node's kernel routes the packet out of br-phy and resolves the next hop (docs/pipeline.md).
  flows.push_back(flow(pipeline, Table::kSnat, kPrioritySnatNode, fixed)
                      .matchProtocol(Protocol::kIp)
                      .matchMark(kFromPod)
                      .ct(CtAction()
                              .commit()
                              .zone(kSnatCtZone)
                              .natSrc(ip(node.nodeIp))
                              .loadMark(kCtEgressSnatMark))
                      .modDlSrc(kOvsSnatSourceMac)
                      .modDlDst(node.gatewayMac)
                      .output(kGatewayOfPort)
                      .build());
  // A hairpin (a pod reached itself through its Service) leaves with kHairpinVirtualIp as its
  // source, or the pod's kernel would drop a packet from itself. The default zone committed the
  // connection with its DNAT already (EndpointDNAT), so it goes straight to Output.
  flows.push_back(flow(pipeline, Table::kSnat, kPrioritySnatHairpin, fixed)
                      .matchProtocol(Protocol::kIp)
                      .matchMark(kHairpin)
                      .ct(CtAction().commit().zone(kSnatCtZone).natSrc(kHairpinVirtualIp))
                      .gotoTable(Table::kOutput)
                      .build());
  flows.push_back(flow(pipeline, Table::kSnat, kPrioritySnatDropRest, fixed)
                      .matchProtocol(Protocol::kIp)
                      .drop()
                      .build());

  // ConntrackCommit: new connections are committed in the default zone, except un-NATed replies
  // from the uplink, whose connection lives in the SNAT zone.
  flows.push_back(flow(pipeline, Table::kConntrackCommit, kPriorityCommitSkipUplink, fixed)
                      .matchMark(kFromUplink)
                      .gotoTable(Table::kOutput)
                      .build());
  flows.push_back(flow(pipeline, Table::kConntrackCommit, kPriorityCommitNew, fixed)
                      .matchProtocol(Protocol::kIp)
                      .matchCtState(CtState().with(CtFlag::kTrk).with(CtFlag::kNew))
                      .ct(CtAction().commit().zone(kDefaultCtZone))
                      .gotoTable(Table::kOutput)
                      .build());

  // Output: to the port L3Forwarding chose.
  flows.push_back(flow(pipeline, Table::kOutput, kPriorityOutput, fixed)
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
  flows.push_back(flow(pipeline, Table::kClassifier, kPriorityClassifyPod, cookie)
                      .matchInPort(pod.ofport)
                      .loadMark(kFromPod)
                      .gotoTable(Table::kSpoofGuard)
                      .build());
  flows.push_back(flow(pipeline, Table::kSpoofGuard, kPrioritySpoofGuardPod, cookie)
                      .matchProtocol(Protocol::kIp)
                      .matchInPort(pod.ofport)
                      .matchEthSrc(pod.mac)
                      .matchIpSrc(podIp)
                      .gotoTable(Table::kUnSnat)
                      .build());
  flows.push_back(flow(pipeline, Table::kSpoofGuard, kPrioritySpoofGuardPod, cookie)
                      .matchProtocol(Protocol::kArp)
                      .matchInPort(pod.ofport)
                      .matchArpSha(pod.mac)
                      .matchArpSpa(podIp)
                      .gotoTable(Table::kArpResponder)
                      .build());
  // ARP for the pod (from the host or a neighbour pod) goes to the pod itself.
  flows.push_back(flow(pipeline, Table::kArpResponder, kPriorityArpToTarget, cookie)
                      .matchProtocol(Protocol::kArp)
                      .matchArpTpa(podIp)
                      .output(pod.ofport)
                      .build());
  // To the pod's own MAC: a neighbour pod or the host switched it here (same subnet).
  auto switchToPod = flow(pipeline, Table::kL3Forwarding, kPriorityForwardSwitchedToPod, cookie);
  switchToPod.matchProtocol(Protocol::kIp)
      .matchEthDst(pod.mac)
      .matchIpDst(podIp)
      .modDlSrc(node.gatewayMac)
      .modDlDst(pod.mac);
  flows.push_back(deliver(switchToPod, pod.ofport).build());
  // To any other MAC: routed here, from another node through the tunnel or un-NATed from the
  // uplink.
  auto routeToPod = flow(pipeline, Table::kL3Forwarding, kPriorityForwardRoutedToPod, cookie);
  routeToPod.matchProtocol(Protocol::kIp)
      .matchIpDst(podIp)
      .modDlSrc(node.gatewayMac)
      .modDlDst(pod.mac);
  flows.push_back(route(routeToPod, pod.ofport).build());
  // Hairpin: after the Service DNAT the pod's packet is addressed to itself. It goes back to the
  // pod through SNAT (to kHairpinVirtualIp), out of the port it came in on.
  flows.push_back(flow(pipeline, Table::kL3Forwarding, kPriorityForwardHairpin, cookie)
                      .matchProtocol(Protocol::kIp)
                      .matchIpSrc(podIp)
                      .matchIpDst(podIp)
                      .modDlSrc(node.gatewayMac)
                      .modDlDst(pod.mac)
                      .load(kTargetOfPort, pod.ofport)
                      .loadMark(kOfPortFound)
                      .loadMark(kHairpin)
                      .gotoTable(Table::kSnat)
                      .build());
  // Output to the input port needs IN_PORT: the hairpin, and the pod's replies to it.
  flows.push_back(flow(pipeline, Table::kOutput, kPriorityOutputHairpin, cookie)
                      .matchInPort(pod.ofport)
                      .matchMark(kOfPortFound)
                      .matchField(kTargetOfPort, pod.ofport)
                      .outputInPort()
                      .build());
  return collectFlows(std::move(flows));
}

Result<std::vector<Flow>> remoteNodeFlows(const Pipeline& pipeline, const NodeNetwork& node,
                                          const RemoteNode& remote) {
  const Cookie cookie = ownerCookie(Category::kNodeRoute, "node:" + remote.name);
  std::vector<Result<Flow>> flows;
  // A pod must not speak the tunnel protocol to another node: SNATed to this node's IP, its
  // hand-made Geneve would pass for ours there, and a tun_id of an egress IP would make the
  // egress node SNAT the inner packet to that IP (docs/security.md).
  flows.push_back(flow(pipeline, Table::kL3Forwarding, kPriorityForwardDropTunnelProtocol, cookie)
                      .matchProtocol(Protocol::kUdp)
                      .matchMark(kFromPod)
                      .matchIpDst(ip(remote.nodeIp))
                      .matchUdpDst(node.tunnelPort)
                      .drop()
                      .build());
  auto toTunnel = flow(pipeline, Table::kL3Forwarding, kPriorityForwardToTunnel, cookie);
  toTunnel.matchProtocol(Protocol::kIp)
      .matchIpDst(remote.podCidr.toString())
      .modDlDst(kGlobalVirtualMac)
      .setTunnelDst(ip(remote.nodeIp));
  flows.push_back(route(toTunnel, kTunnelOfPort).build());
  // Another node's IP never takes an Egress: pods reach nodes with the normal SNAT to this node's
  // IP (kubelets, node-local services, host-network endpoints of Services).
  if (pipeline.contains(Table::kEgressMark))
    flows.push_back(flow(pipeline, Table::kEgressMark, kPriorityEgressNodeIp, cookie)
                        .matchProtocol(Protocol::kIp)
                        .matchIpDst(ip(remote.nodeIp))
                        .gotoTable(Table::kL3DecTtl)
                        .build());
  // The host routes the remote podCIDR via the remote gateway IP (onlink): answer its ARP.
  const auto remoteGateway = ip(remote.podCidr.first() + 1);
  flows.push_back(flow(pipeline, Table::kArpResponder, kPriorityArpAnswer, cookie)
                      .matchProtocol(Protocol::kArp)
                      .matchArpOp(1)
                      .matchArpTpa(remoteGateway)
                      .arpReply(kGlobalVirtualMac, remoteGateway)
                      .build());
  return collectFlows(std::move(flows));
}

Result<std::vector<Flow>> physicalBridgeFlows(const Pipeline& physical, const NodeNetwork& node,
                                              std::uint16_t geneveUdpPort) {
  const Cookie cookie = ownerCookie(Category::kPipeline, "br-phy");
  const auto nodeIp = ip(node.nodeIp);
  std::vector<Result<Flow>> flows;
  for (auto& miss : physical.missFlows(cookie)) flows.emplace_back(std::move(miss));
  // Tunnel packets for this node go to the node's address, where OVS terminates them.
  flows.push_back(flow(physical, Table::kPhysicalClassifier, kPriorityPhysicalTunnel, cookie)
                      .matchProtocol(Protocol::kUdp)
                      .matchInPort(kUplinkOfPort)
                      .matchIpDst(nodeIp)
                      .matchUdpDst(geneveUdpPort)
                      .outputLocal()
                      .build());
  // Other traffic to the node IP: replies of connections OVS SNATed go on to br-int.
  flows.push_back(flow(physical, Table::kPhysicalClassifier, kPriorityPhysicalNodeIp, cookie)
                      .matchProtocol(Protocol::kIp)
                      .matchInPort(kUplinkOfPort)
                      .matchIpDst(nodeIp)
                      .ct(CtAction().zone(kSnatCtZone).table(Table::kPhysicalConntrack))
                      .build());
  for (const CtFlag state : {CtFlag::kEst, CtFlag::kRel})
    flows.push_back(flow(physical, Table::kPhysicalConntrack, kPriorityPhysicalNatReply, cookie)
                        .matchProtocol(Protocol::kIp)
                        .matchCtState(CtState().with(state).with(CtFlag::kTrk))
                        .matchMark(kCtEgressSnatMark)
                        .output(kPhyPatchOfPort)
                        .build());
  return collectFlows(std::move(flows));
}

}  // namespace sluice::agent::features
