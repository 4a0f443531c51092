// Core API objects (Node, Pod, Namespace) as typed models: only the fields Sluice uses.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/object.h"
#include "common/ipv4.h"

namespace sluice::api {

// The annotation that caps how many egress IPs the controller places on a node.
inline constexpr const char* kEgressCapacityAnnotation = "sluice.io/egress-ip-capacity";

struct Node {
  ObjectMeta metadata;
  std::string podCIDR;     // spec.podCIDR as written; "" when not allocated yet
  std::string internalIP;  // status.addresses[type=InternalIP].address; "" when not reported
  std::vector<Problem> problems;

  std::optional<Cidr> podCidr() const { return parseCidr(podCIDR); }
  std::optional<Ipv4> internalIp() const { return parseIpv4(internalIP); }
  // Never throws: any JSON value decodes, with problems for what is unusable.
  static Node decode(const nlohmann::json& object);
};

struct Pod {
  ObjectMeta metadata;   // namespaceName, name and labels select it
  std::string nodeName;  // spec.nodeName; "" while unscheduled
  std::string podIP;     // status.podIP; "" until the CNI has run
  std::vector<Problem> problems;

  std::optional<Ipv4> ip() const { return parseIpv4(podIP); }
  static Pod decode(const nlohmann::json& object);
};

struct Namespace {
  ObjectMeta metadata;  // name and labels (Egress namespaceSelectors match them)
  std::vector<Problem> problems;

  static Namespace decode(const nlohmann::json& object);
};

}  // namespace sluice::api
