// Flow priorities of the agent's features, per table, in one place: within a table, the order of
// these numbers is the order in which flows win, and that order is the design.
#pragma once

#include <cstdint>

namespace sluice::agent::features {

using Priority = std::uint16_t;

// --- br-int ---------------------------------------------------------------------------------

// Classifier: the fixed ports (tunnel, gateway, patch) before pods.
inline constexpr Priority kPriorityClassifyFixedPort = 200;
inline constexpr Priority kPriorityClassifyPod = 190;

// SpoofGuard: the gateway may send from any address; a pod only from its own.
inline constexpr Priority kPrioritySpoofGuardGateway = 200;
inline constexpr Priority kPrioritySpoofGuardPod = 200;

// ARPResponder: answers first, then ARP passed to its target, then nothing else.
inline constexpr Priority kPriorityArpAnswer = 200;
inline constexpr Priority kPriorityArpToTarget = 190;
inline constexpr Priority kPriorityArpDropRest = 1;

// UnSNAT: replies to an address OVS SNATs to, then the rest of the uplink is dropped.
inline constexpr Priority kPriorityUnSnat = 200;
inline constexpr Priority kPriorityUnSnatDropUplink = 190;

// ConntrackZone and ConntrackState.
inline constexpr Priority kPriorityConntrackTrack = 200;
inline constexpr Priority kPriorityConntrackDropInvalid = 200;

// L3Forwarding: a pod's hand-made tunnel packets are dropped before any route; a pod's own MAC
// means switched, any other means routed; cluster CIDRs without a route drop.
inline constexpr Priority kPriorityForwardDropTunnelProtocol = 210;
inline constexpr Priority kPriorityForwardToGateway = 200;
inline constexpr Priority kPriorityForwardToTunnel = 200;
inline constexpr Priority kPriorityForwardSwitchedToPod = 200;
inline constexpr Priority kPriorityForwardRoutedToPod = 190;
inline constexpr Priority kPriorityForwardDropClusterCidr = 100;

// EgressMark: an excluded CIDR beats a destination CIDR, and a longer prefix a shorter one
// (add the prefix length); tunnelled traffic to an egress IP of this node is matched by tun_id.
inline constexpr Priority kPriorityEgressExcludedBase = 300;
inline constexpr Priority kPriorityEgressFromTunnel = 200;
inline constexpr Priority kPriorityEgressDestinationBase = 100;
inline constexpr Priority kPriorityEgressUnknownPod = 100;

// L3DecTTL: a packet routed here loses one TTL, except one from the host, whose kernel routed it.
inline constexpr Priority kPriorityDecTtlSkipGateway = 210;
inline constexpr Priority kPriorityDecTtl = 200;

// SNAT: an Egress's IP before the node IP; other IP traffic that got here has nowhere to go.
inline constexpr Priority kPrioritySnatEgress = 210;
inline constexpr Priority kPrioritySnatNode = 200;
inline constexpr Priority kPrioritySnatDropRest = 190;

// ConntrackCommit: un-NATed replies from the uplink skip the commit.
inline constexpr Priority kPriorityCommitSkipUplink = 210;
inline constexpr Priority kPriorityCommitNew = 200;

// Output.
inline constexpr Priority kPriorityOutput = 200;

// --- br-phy ---------------------------------------------------------------------------------

// PhysicalClassifier: an owned egress IP's step-aside trigger, the drop it learns, then its ARP
// responder; an egress IP's traffic; then the node's own tunnel and NATed traffic.
inline constexpr Priority kPriorityPhysicalStepAside = 250;
inline constexpr Priority kPriorityPhysicalSteppedAside = 245;  // learned, never the syncer's
inline constexpr Priority kPriorityPhysicalArpResponder = 240;
inline constexpr Priority kPriorityPhysicalEgressIp = 220;
inline constexpr Priority kPriorityPhysicalTunnel = 210;
inline constexpr Priority kPriorityPhysicalNodeIp = 200;

// PhysicalConntrack: replies of connections OVS NATed go to br-int.
inline constexpr Priority kPriorityPhysicalNatReply = 200;

}  // namespace sluice::agent::features
