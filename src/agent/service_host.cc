// The node side of the service proxy (service_host.h).
#include "agent/service_host.h"

#include <algorithm>
#include <map>
#include <sstream>

#include <nftables/libnftables.h>

#include "agent/netlink.h"
#include "common/log.h"

namespace sluice::agent {
namespace {

// nft's protocol keyword for a port match.
std::string_view nftProtocol(features::ServiceProtocol protocol) {
  return features::protocolName(protocol);  // "tcp", "udp", "sctp" are nft's keywords too
}

std::string nodeAddressMatch(const ServiceHostPlan& plan) {
  if (plan.nodePortAddresses.empty()) return "ip daddr " + formatIpv4(plan.nodeIp);
  std::string set;
  for (const auto& cidr : plan.nodePortAddresses)
    set += (set.empty() ? "" : ", ") + cidr.toString();
  // Only this node's own addresses in those ranges (what kube-proxy's nodePortAddresses means).
  return "fib daddr type local ip daddr { " + set + " }";
}

void rejectRules(std::ostringstream& out, const std::string& match) {
  out << "    " << match << " meta l4proto tcp reject with tcp reset\n";
  out << "    " << match << " reject with icmp type port-unreachable\n";
}

}  // namespace

std::vector<NodePortRule> nodePortRules(const std::vector<features::ServicePort>& ports) {
  std::map<std::pair<features::ServiceProtocol, std::uint16_t>, bool> masquerade;
  for (const auto& port : ports) {
    if (port.nodePort == 0) continue;
    auto& entry = masquerade.try_emplace({port.protocol, port.nodePort}, false).first->second;
    entry = entry || !port.externalLocal;
  }
  std::vector<NodePortRule> rules;
  rules.reserve(masquerade.size());
  for (const auto& [key, masq] : masquerade) rules.push_back({key.first, key.second, masq});
  return rules;
}

std::string renderSnatNftables(const std::string& gateway) {
  std::ostringstream out;
  out << "add table ip " << kSnatNftTable << "\n";
  out << "delete table ip " << kSnatNftTable << "\n";
  out << "table ip " << kSnatNftTable << " {\n"
      << "  chain ovs-snat-notrack {\n"
      << "    type filter hook prerouting priority raw; policy accept;\n"
      << "    iifname \"" << gateway << "\" ether saddr " << features::kOvsSnatSourceMac
      << " notrack\n"
      << "  }\n"
      << "}\n";
  return out.str();
}

std::string renderServiceNftables(const ServiceHostPlan& plan) {
  std::ostringstream out;
  // "add" first so that "delete" never fails on a node that has no table yet: one transaction.
  out << "add table ip " << kServiceNftTable << "\n";
  out << "delete table ip " << kServiceNftTable << "\n";
  if (!plan.enabled) return out.str();
  const std::string virtualIp = features::kNodePortVirtualIp;
  const std::string addresses = nodeAddressMatch(plan);
  std::ostringstream dnat;
  std::ostringstream masquerade;
  for (const auto& rule : plan.nodePorts) {
    const auto port =
        std::string(nftProtocol(rule.protocol)) + " dport " + std::to_string(rule.nodePort);
    dnat << "    " << addresses << " " << port << " dnat to " << virtualIp << "\n";
    if (rule.masquerade)
      masquerade << "    ip daddr " << virtualIp << " " << port << " masquerade\n";
  }
  const std::string service = "ip daddr " + plan.serviceCidr.toString();
  out << "table ip " << kServiceNftTable << " {\n";
  out << "  chain nodeport-prerouting {\n"
         "    type nat hook prerouting priority -100; policy accept;\n"
      << dnat.str() << "  }\n";
  out << "  chain nodeport-output {\n"
         "    type nat hook output priority -100; policy accept;\n"
      << dnat.str() << "  }\n";
  out << "  chain nodeport-postrouting {\n"
         "    type nat hook postrouting priority 100; policy accept;\n"
      << masquerade.str() << "  }\n";
  out << "  chain reject-forward {\n"
         "    type filter hook forward priority 0; policy accept;\n";
  rejectRules(out, service);
  out << "  }\n";
  // The node's own Service traffic is routed to the gateway (into OVS); anything that would
  // leave another way has no one to serve it.
  out << "  chain reject-output {\n"
         "    type filter hook output priority 0; policy accept;\n";
  rejectRules(out, service + " oifname != \"" + plan.gateway + "\"");
  out << "  }\n";
  out << "}\n";
  return out.str();
}

Result<std::unique_ptr<NodeServiceHost>> NodeServiceHost::create() {
  nft_ctx* context = nft_ctx_new(NFT_CTX_DEFAULT);
  if (context == nullptr) return makeError("cannot create an nftables context");
  nft_ctx_buffer_output(context);
  nft_ctx_buffer_error(context);
  return std::unique_ptr<NodeServiceHost>(new NodeServiceHost(context));
}

NodeServiceHost::~NodeServiceHost() { nft_ctx_free(context_); }

Result<void> NodeServiceHost::run(const std::string& script) {
  const int status = nft_run_cmd_from_buffer(context_, script.c_str());
  const std::string error = nft_ctx_get_error_buffer(context_);
  if (status != 0)
    return makeError("nftables table ip " + std::string(kServiceNftTable) + ": " +
                     (error.empty() ? "nft failed" : error));
  return {};
}

Result<void> NodeServiceHost::applyRoutes(const ServiceHostPlan& plan) {
  const auto virtualIp = *parseIpv4(features::kNodePortVirtualIp);
  const netlink::RouteInfo host{Cidr{virtualIp, 32}, std::nullopt, plan.gateway};
  const netlink::RouteInfo services{plan.serviceCidr, virtualIp, plan.gateway, true};
  if (!plan.enabled) {
    // What an earlier run with the proxy on left behind; gone links take their routes along.
    if (auto deleted = netlink::deleteRoute(services); !deleted) return deleted;
    if (auto deleted = netlink::deleteRoute(host); !deleted) return deleted;
    return netlink::deleteNeighbour(plan.gateway, virtualIp);
  }
  if (auto set = netlink::replaceNeighbour(plan.gateway, virtualIp, features::kVirtualServiceMac);
      !set)
    return set;
  if (auto routed = netlink::replaceRoute(host); !routed) return routed;
  return netlink::replaceRoute(services);
}

Result<void> NodeServiceHost::apply(const ServiceHostPlan& plan) {
  if (applied_ && *applied_ == plan) return {};
  if (!applied_ || applied_->gateway != plan.gateway)
    if (auto ran = run(renderSnatNftables(plan.gateway)); !ran) return ran;
  if (auto ran = run(renderServiceNftables(plan)); !ran) return ran;
  const bool routesChanged = !applied_ || applied_->enabled != plan.enabled ||
                             applied_->serviceCidr != plan.serviceCidr ||
                             applied_->gateway != plan.gateway;
  if (routesChanged)
    if (auto routed = applyRoutes(plan); !routed) return routed;
  applied_ = plan;
  return {};
}

}  // namespace sluice::agent
