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

// UnSNAT: replies to an address OVS SNATs to, then the rest of the uplink is dropped. A pod's
// replies to a hairpin connection (to kHairpinVirtualIp) match FromPod, never the uplink's flows.
inline constexpr Priority kPriorityUnSnat = 200;
inline constexpr Priority kPriorityUnSnatHairpin = 200;
inline constexpr Priority kPriorityUnSnatDropUplink = 190;

// ConntrackZone and ConntrackState.
inline constexpr Priority kPriorityConntrackTrack = 200;
inline constexpr Priority kPriorityConntrackDropInvalid = 200;
// ConntrackState with the service proxy's tables: invalid first (above); a new connection looks up
// its session affinity (resubmit, which returns) and then ServiceLB; everything else (established
// connections, already DNATed by ConntrackZone, and all traffic with the proxy off) skips the
// proxy's tables.
inline constexpr Priority kPriorityServiceLookup = 190;
inline constexpr Priority kPrioritySkipServiceTables = 180;

// SessionAffinity: only learned flows (a client's endpoint for one frontend); the miss returns.
inline constexpr Priority kPrioritySessionAffinityLearned = 200;

// ServiceLB: a bucket of an affinity frontend chose an endpoint and resubmitted here, so the
// frontend's learn flow must win over everything (it matches the bucket's AffinityLearn bit); then
// an endpoint loaded by SessionAffinity skips the group; then the frontends themselves.
inline constexpr Priority kPriorityServiceAffinityLearn = 210;
inline constexpr Priority kPriorityServiceAffinityHit = 200;
inline constexpr Priority kPriorityServiceFrontend = 190;

// EndpointDNAT: the endpoint in reg3/reg4 of this frontend; below it, an affinity hit whose
// endpoint is gone picks a new one through the frontend's group (and re-learns).
inline constexpr Priority kPriorityEndpointDnat = 200;
inline constexpr Priority kPriorityEndpointReselect = 190;

// L3Forwarding: a pod's hand-made tunnel packets are dropped before any route; a pod's own MAC
// means switched, any other means routed; cluster CIDRs without a route drop.
// A hairpin (a pod's packet to itself after the Service DNAT) beats everything: the pod's own
// delivery flows would send it to the pod unchanged, which its kernel drops (source is itself).
// Replies of Service connections that must go back to the node's kernel (NodePort replies, and
// with the proxy off, replies of connections from the gateway) beat every route by destination,
// but not the tunnel-protocol drop. The Service CIDR goes to the gateway like the node's own
// addresses (no overlap with any route).
inline constexpr Priority kPriorityForwardHairpin = 220;
inline constexpr Priority kPriorityForwardDropTunnelProtocol = 210;
inline constexpr Priority kPriorityForwardServiceReply = 205;
inline constexpr Priority kPriorityForwardServiceCidr = 200;
inline constexpr Priority kPriorityForwardToGateway = 200;
inline constexpr Priority kPriorityForwardToTunnel = 200;
inline constexpr Priority kPriorityForwardSwitchedToPod = 200;
inline constexpr Priority kPriorityForwardRoutedToPod = 190;
inline constexpr Priority kPriorityForwardDropClusterCidr = 100;

// EgressMark: an excluded CIDR beats a destination CIDR, and a longer prefix a shorter one
// (add the prefix length); tunnelled traffic to an egress IP of this node is matched by tun_id.
// A node IP (another node's) never takes an Egress: above every Egress flow (the highest is
// kPriorityEgressExcludedBase + 32).
inline constexpr Priority kPriorityEgressNodeIp = 400;
inline constexpr Priority kPriorityEgressExcludedBase = 300;
inline constexpr Priority kPriorityEgressFromTunnel = 200;
inline constexpr Priority kPriorityEgressDestinationBase = 100;
inline constexpr Priority kPriorityEgressUnknownPod = 100;

// L3DecTTL: a packet routed here loses one TTL, except one from the host, whose kernel routed it.
inline constexpr Priority kPriorityDecTtlSkipGateway = 210;
inline constexpr Priority kPriorityDecTtl = 200;

// SNAT: a hairpin's SNAT to kHairpinVirtualIp first (it came straight from L3Forwarding and must
// never take an Egress or the node IP); an Egress's IP before the node IP; other IP traffic that
// got here has nowhere to go.
inline constexpr Priority kPrioritySnatHairpin = 220;
inline constexpr Priority kPrioritySnatEgress = 210;
inline constexpr Priority kPrioritySnatNode = 200;
inline constexpr Priority kPrioritySnatDropRest = 190;

// ConntrackCommit: un-NATed replies from the uplink skip the commit; so do Service connections,
// which EndpointDNAT committed with their NAT; with the proxy off, connections from the gateway
// are committed with CtFromGateway; then every other new connection.
inline constexpr Priority kPriorityCommitSkipUplink = 210;
inline constexpr Priority kPriorityCommitSkipService = 206;
inline constexpr Priority kPriorityCommitFromGateway = 205;
inline constexpr Priority kPriorityCommitNew = 200;

// Output: a hairpin goes back out of the port it came in on (OVS drops output to in_port
// otherwise), before the plain output to TargetOfPort.
inline constexpr Priority kPriorityOutputHairpin = 210;
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
