// The core/v1 Service and the discovery.k8s.io/v1 EndpointSlice as typed models: only the fields
// Sluice's proxy uses. Decoding never throws; an unusable field is a Problem that names the
// object, the field and the fix, and only the bad part (the port, the endpoint, the object) is
// left out.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/object.h"
#include "common/ipv4.h"

namespace sluice::api {

// The label that ties an EndpointSlice to its Service.
inline constexpr const char* kServiceNameLabel = "kubernetes.io/service-name";
// spec.sessionAffinityConfig.clientIP.timeoutSeconds when absent (Kubernetes' default, 3 hours).
inline constexpr std::uint32_t kDefaultAffinityTimeoutSeconds = 10800;

enum class Protocol : std::uint8_t { kTcp, kUdp, kSctp };
// "TCP", "UDP", "SCTP" as Kubernetes writes them; nullopt for anything else.
std::optional<Protocol> parseProtocol(std::string_view text);
std::string_view protocolText(Protocol protocol);

struct ServicePortSpec {
  std::string name;  // "" for the single unnamed port
  Protocol protocol = Protocol::kTcp;
  std::uint16_t port = 0;
  // targetPort: a number, or the name of a container port (then resolved by the EndpointSlice).
  std::uint16_t targetPort = 0;
  std::string targetPortName;
  std::uint16_t nodePort = 0;  // 0: none
  bool operator==(const ServicePortSpec&) const = default;
};

struct ServiceSpec {
  std::string type = "ClusterIP";  // ClusterIP, NodePort, LoadBalancer, ExternalName
  std::string clusterIP;           // as written: "" (none yet), "None" (headless) or an address
  std::vector<std::string> clusterIPs;
  std::vector<ServicePortSpec> ports;
  std::map<std::string, std::string> selector;
  bool clientIpAffinity = false;  // sessionAffinity: ClientIP
  std::uint32_t affinityTimeoutSeconds = kDefaultAffinityTimeoutSeconds;
  bool internalLocal = false;  // internalTrafficPolicy: Local
  bool externalLocal = false;  // externalTrafficPolicy: Local
};

struct Service {
  ObjectMeta metadata;
  ServiceSpec spec;
  std::vector<Problem> problems;

  std::string namespacedName() const { return metadata.namespaceName + "/" + metadata.name; }
  // The IPv4 ClusterIP the proxy serves: none for headless ("None"), ExternalName, an address
  // not yet allocated, or an IPv6 one (clusterIPs is searched for an IPv4 entry).
  std::optional<Ipv4> clusterIp() const;
  bool hasNodePorts() const { return spec.type == "NodePort" || spec.type == "LoadBalancer"; }
  static Service decode(const nlohmann::json& object);
};

struct EndpointConditions {
  bool ready = true;    // absent: true
  bool serving = true;  // absent: same as ready
  bool terminating = false;
  bool operator==(const EndpointConditions&) const = default;
};

struct Endpoint {
  std::vector<Ipv4> addresses;
  EndpointConditions conditions;
  std::string nodeName;
  bool operator==(const Endpoint&) const = default;
};

struct EndpointPort {
  std::string name;  // "" for the unnamed port
  Protocol protocol = Protocol::kTcp;
  std::optional<std::uint16_t> port;  // absent: the Service's targetPort is unresolved
  bool operator==(const EndpointPort&) const = default;
};

struct EndpointSlice {
  ObjectMeta metadata;
  std::string serviceName;  // the kubernetes.io/service-name label; "" when missing (a problem)
  std::string addressType;  // IPv4, IPv6 or FQDN; only IPv4 slices give endpoints
  std::vector<Endpoint> endpoints;
  std::vector<EndpointPort> ports;
  std::vector<Problem> problems;

  // "NAMESPACE/SERVICE" this slice belongs to; "" when the label is missing.
  std::string serviceKey() const {
    return serviceName.empty() ? "" : metadata.namespaceName + "/" + serviceName;
  }
  static EndpointSlice decode(const nlohmann::json& object);
};

}  // namespace sluice::api
