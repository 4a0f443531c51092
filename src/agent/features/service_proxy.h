// The service-proxy feature (Sluice's proxy, what Antrea calls AntreaProxy): ClusterIP and
// NodePort load balancing in OVS with select groups and ct(nat(dst=...)), in stages placed before
// routing and before EgressMark, so Service traffic never takes an Egress. Pure: decoded Services
// and endpoints in, Flow and Group values out. docs/services.md explains the design.
//
// Contract between this feature (flows) and ServiceProxyUnit (inputs, group IDs, the node's
// nftables and routes). Both sides code against this header.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/features/pod_network.h"
#include "common/ipv4.h"
#include "common/result.h"
#include "ofrules/flow.h"
#include "ofrules/pipeline.h"

namespace sluice::agent::features {

// The default Service CIDR (kube-apiserver's --service-cluster-ip-range default in kubeadm).
inline constexpr const char* kDefaultServiceCidr = "10.96.0.0/12";
// Link-local addresses the proxy uses on the gateway side (never on the wire):
// NodePort traffic is DNATed by the node's kernel to this address and routed into OVS on the
// gateway; OVS load-balances it like a ClusterIP.
inline constexpr const char* kNodePortVirtualIp = "169.254.0.252";
// A pod that reaches itself through its Service is SNATed to this address (hairpin), as a pod's
// kernel drops packets that arrive with its own source address.
inline constexpr const char* kHairpinVirtualIp = "169.254.0.253";
// The MAC the node's kernel resolves kNodePortVirtualIp to (a static neighbour on the gateway).
inline constexpr const char* kVirtualServiceMac = "aa:bb:cc:dd:ee:fe";

enum class ServiceProtocol : std::uint8_t { kTcp, kUdp, kSctp };
std::string_view protocolName(ServiceProtocol protocol);  // "tcp", "udp", "sctp" (ovs-ofctl)

struct ServiceEndpoint {
  Ipv4 ip = 0;
  std::uint16_t port = 0;  // the target port, resolved from the EndpointSlice's port of this name
  bool ready = true;       // conditions.ready (absent means true)
  bool serving = true;     // conditions.serving (absent: same as ready)
  bool terminating = false;
  bool local = false;  // nodeName is this node
};

// One frontend: one port of one Service. A Service with three ports is three ServicePorts.
struct ServicePort {
  std::string service;  // "NAMESPACE/NAME": the flow owner is serviceOwner(service)
  std::string portName;
  ServiceProtocol protocol = ServiceProtocol::kTcp;
  Ipv4 clusterIp = 0;  // 0: headless or no ClusterIP; only the NodePort (if any) is served
  std::uint16_t port = 0;
  std::uint16_t nodePort = 0;                           // 0: none
  bool internalLocal = false;                           // internalTrafficPolicy: Local
  bool externalLocal = false;                           // externalTrafficPolicy: Local
  std::optional<std::uint32_t> affinityTimeoutSeconds;  // sessionAffinity: ClientIP
  std::vector<ServiceEndpoint> endpoints;               // every endpoint, filtering is ours
};

// The endpoints a frontend load-balances to, as kube-proxy picks them: the ready ones; if none is
// ready, the serving-and-terminating ones (so a rolling update loses no connection); `localOnly`
// keeps those on this node.
std::vector<ServiceEndpoint> usableEndpoints(const std::vector<ServiceEndpoint>& all,
                                             bool localOnly);

// Group IDs of one ServicePort, allocated by the unit (stable while the port exists).
struct ServiceGroupIds {
  std::uint32_t cluster = 0;   // ClusterIP traffic (internalTrafficPolicy applied)
  std::uint32_t external = 0;  // NodePort traffic (externalTrafficPolicy applied); 0 if no NodePort
};

struct ProxyConfig {
  bool enabled = true;  // false: kube-proxy serves Services; OVS hands the Service CIDR to the node
  Cidr serviceCidr;     // traffic to it never takes an Egress, and is never SNATed by OVS
};

// The flow owner and cookie category of a Service: "service:NAMESPACE/NAME".
std::string serviceOwner(const std::string& namespacedName);

// Declares the proxy's tables (SessionAffinity, ServiceLB, EndpointDNAT) on br-int.
void declareServiceTables(ofrules::PipelineBuilder& builder);

// Flows that exist once per node, in both modes: the Service CIDR goes to the gateway without
// SNAT (kube-proxy mode: its DNAT; proxy mode: the kernel rejects what OVS did not serve),
// hairpin un-SNAT, replies of NodePort connections to the gateway, and with the proxy off, replies
// of connections that came from the gateway go back to it.
Result<std::vector<ofrules::Flow>> proxyNodeFlows(const ofrules::Pipeline& pipeline,
                                                  const NodeNetwork& node,
                                                  const ProxyConfig& config);

struct ServiceFlows {
  std::vector<ofrules::Flow> flows;
  std::vector<ofrules::Group> groups;
};

// Flows and groups of one frontend. A frontend without usable endpoints gets no flows: its
// packets reach the node's kernel, which rejects them (TCP RST / ICMP port unreachable).
Result<ServiceFlows> serviceFlows(const ofrules::Pipeline& pipeline, const NodeNetwork& node,
                                  const ServicePort& port, const ServiceGroupIds& groups);

}  // namespace sluice::agent::features
