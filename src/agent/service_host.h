// ServiceHost: the node side of Sluice's proxy, in the node's network namespace (where the agent
// runs). With the proxy on:
//  - nftables (one table, `ip sluice-proxy`, replaced atomically): NodePort traffic to this node
//    is DNATed to features::kNodePortVirtualIp (the port kept) and, for externalTrafficPolicy
//    Cluster, masqueraded so replies come back through this node; what reaches the kernel for the
//    Service CIDR (OVS found no endpoint and handed it to the gateway) is rejected, TCP with a
//    reset, the rest with ICMP port unreachable, so a client gets an answer, not a black hole;
//  - a route to kNodePortVirtualIp, and the Service CIDR through it, on the gateway with a
//    permanent neighbour kNodePortVirtualIp -> kVirtualServiceMac, so the kernel hands NodePort
//    (and the node's own ClusterIP) traffic to OVS.
// With the proxy off (kube-proxy serves Services): none of it, and what an earlier run left is
// removed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/features/service_proxy.h"
#include "common/ipv4.h"
#include "common/result.h"

struct nft_ctx;

namespace sluice::agent {

inline constexpr const char* kServiceNftTable = "sluice-proxy";
// In both modes: packets OVS SNATed reach the kernel on the gateway only to be routed out, and
// their replies never pass it (features::kOvsSnatSourceMac says why); they are left untracked.
inline constexpr const char* kSnatNftTable = "sluice-snat";

struct NodePortRule {
  features::ServiceProtocol protocol = features::ServiceProtocol::kTcp;
  std::uint16_t nodePort = 0;
  bool masquerade = true;  // externalTrafficPolicy Cluster
  auto operator<=>(const NodePortRule&) const = default;
};

struct ServiceHostPlan {
  bool enabled = false;
  Ipv4 nodeIp = 0;
  std::vector<Cidr> nodePortAddresses;  // empty: the node IP only
  Cidr serviceCidr;
  std::string gateway = "sluice-gw0";
  std::vector<NodePortRule> nodePorts;  // sorted, one per protocol and port
  bool operator==(const ServiceHostPlan&) const = default;
};

// The NodePort rules of frontends: one per protocol and NodePort; masquerade unless every
// frontend on it is externalTrafficPolicy Local. Sorted.
std::vector<NodePortRule> nodePortRules(const std::vector<features::ServicePort>& ports);

// The script that replaces table ip sluice-snat: a raw-priority prerouting rule that leaves the
// packets OVS SNATed (source MAC features::kOvsSnatSourceMac, on the gateway) untracked. Pure.
std::string renderSnatNftables(const std::string& gateway);

// The nftables script (for `nft -f -`) that replaces the table in one transaction. With the
// proxy off: a script that deletes the table (if any). Pure.
std::string renderServiceNftables(const ServiceHostPlan& plan);

class ServiceHost {
 public:
  virtual ~ServiceHost() = default;
  // Makes the node match the plan. Idempotent.
  [[nodiscard]] virtual Result<void> apply(const ServiceHostPlan& plan) = 0;
};

// The real one: libnftables and rtnetlink in the agent's (the node's) network namespace.
class NodeServiceHost : public ServiceHost {
 public:
  static Result<std::unique_ptr<NodeServiceHost>> create();
  ~NodeServiceHost() override;
  NodeServiceHost(const NodeServiceHost&) = delete;
  NodeServiceHost& operator=(const NodeServiceHost&) = delete;
  Result<void> apply(const ServiceHostPlan& plan) override;

 private:
  explicit NodeServiceHost(nft_ctx* context) : context_(context) {}
  Result<void> run(const std::string& script);
  Result<void> applyRoutes(const ServiceHostPlan& plan);

  nft_ctx* context_;
  std::optional<ServiceHostPlan> applied_;
};

}  // namespace sluice::agent
