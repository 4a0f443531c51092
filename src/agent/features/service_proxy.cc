// STUB (drop at merge): the flows engineer's real implementation replaces this file. It exists
// only so the unit side builds and links on its own branch. No logic here on purpose.
#include "agent/features/service_proxy.h"

namespace sluice::agent::features {

std::string_view protocolName(ServiceProtocol protocol) {
  switch (protocol) {
    case ServiceProtocol::kTcp: return "tcp";
    case ServiceProtocol::kUdp: return "udp";
    case ServiceProtocol::kSctp: return "sctp";
  }
  return "tcp";
}

std::vector<ServiceEndpoint> usableEndpoints(const std::vector<ServiceEndpoint>& all,
                                             bool localOnly) {
  (void)all;
  (void)localOnly;
  return {};
}

std::string serviceOwner(const std::string& namespacedName) { return "service:" + namespacedName; }

void declareServiceTables(ofrules::PipelineBuilder& builder) { (void)builder; }

Result<std::vector<ofrules::Flow>> proxyNodeFlows(const ofrules::Pipeline& pipeline,
                                                  const NodeNetwork& node,
                                                  const ProxyConfig& config) {
  (void)pipeline;
  (void)node;
  (void)config;
  return std::vector<ofrules::Flow>{};
}

Result<ServiceFlows> serviceFlows(const ofrules::Pipeline& pipeline, const NodeNetwork& node,
                                  const ServicePort& port, const ServiceGroupIds& groups) {
  (void)pipeline;
  (void)node;
  (void)port;
  (void)groups;
  return ServiceFlows{};
}

}  // namespace sluice::agent::features
