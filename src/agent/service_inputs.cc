// The service proxy's inputs (service_inputs.h).
#include "agent/service_inputs.h"

#include <algorithm>

namespace sluice::agent {
namespace {

// Higher is better: the address a slice repeats keeps its best conditions.
int rank(const features::ServiceEndpoint& endpoint) {
  return (endpoint.ready ? 4 : 0) + (endpoint.serving ? 2 : 0) + (endpoint.terminating ? 0 : 1);
}

std::vector<features::ServiceEndpoint> endpointsFor(const api::ServicePortSpec& port,
                                                    const std::vector<api::EndpointSlice>& slices,
                                                    const std::string& nodeName) {
  std::map<std::pair<Ipv4, std::uint16_t>, features::ServiceEndpoint> byAddress;
  for (const auto& slice : slices) {
    if (slice.addressType != "IPv4") continue;
    const auto match = std::find_if(slice.ports.begin(), slice.ports.end(), [&](const auto& p) {
      return p.name == port.name && p.protocol == port.protocol;
    });
    if (match == slice.ports.end() || !match->port) continue;
    for (const auto& endpoint : slice.endpoints) {
      if (endpoint.addresses.empty()) continue;
      features::ServiceEndpoint out;
      out.ip = endpoint.addresses.front();  // the first address: the others are the same pod's
      out.port = *match->port;
      out.ready = endpoint.conditions.ready;
      out.serving = endpoint.conditions.serving;
      out.terminating = endpoint.conditions.terminating;
      out.local = !nodeName.empty() && endpoint.nodeName == nodeName;
      const auto key = std::make_pair(out.ip, out.port);
      const auto seen = byAddress.find(key);
      if (seen == byAddress.end() || rank(out) > rank(seen->second)) byAddress[key] = out;
    }
  }
  std::vector<features::ServiceEndpoint> endpoints;
  endpoints.reserve(byAddress.size());
  for (const auto& [key, endpoint] : byAddress) endpoints.push_back(endpoint);
  return endpoints;
}

}  // namespace

features::ServiceProtocol toFeatureProtocol(api::Protocol protocol) {
  switch (protocol) {
    case api::Protocol::kTcp:
      return features::ServiceProtocol::kTcp;
    case api::Protocol::kUdp:
      return features::ServiceProtocol::kUdp;
    case api::Protocol::kSctp:
      return features::ServiceProtocol::kSctp;
  }
  return features::ServiceProtocol::kTcp;
}

std::vector<features::ServicePort> servicePorts(const api::Service& service,
                                                const std::vector<api::EndpointSlice>& slices,
                                                const std::string& nodeName) {
  std::vector<features::ServicePort> ports;
  if (service.spec.type == "ExternalName") return ports;
  const auto clusterIp = service.clusterIp();
  for (const auto& spec : service.spec.ports) {
    features::ServicePort port;
    port.service = service.namespacedName();
    port.portName = spec.name;
    port.protocol = toFeatureProtocol(spec.protocol);
    port.clusterIp = clusterIp.value_or(0);
    port.port = spec.port;
    port.nodePort = service.hasNodePorts() ? spec.nodePort : 0;
    if (port.clusterIp == 0 && port.nodePort == 0) continue;
    port.internalLocal = service.spec.internalLocal;
    port.externalLocal = service.spec.externalLocal;
    if (service.spec.clientIpAffinity)
      port.affinityTimeoutSeconds = service.spec.affinityTimeoutSeconds;
    port.endpoints = endpointsFor(spec, slices, nodeName);
    ports.push_back(std::move(port));
  }
  return ports;
}

FrontendKey frontendKey(const features::ServicePort& port) {
  return {port.service, port.portName, port.protocol};
}

std::uint32_t ServiceGroupAllocator::take(const FrontendKey& key, Kind kind) {
  const auto entry = std::make_pair(key, kind);
  if (const auto found = ids_.find(entry); found != ids_.end()) return found->second;
  std::uint32_t id = 0;
  if (!free_.empty()) {
    id = *free_.begin();
    free_.erase(free_.begin());
  } else {
    id = next_++;
  }
  ids_[entry] = id;
  return id;
}

void ServiceGroupAllocator::release(const FrontendKey& key, Kind kind) {
  const auto found = ids_.find(std::make_pair(key, kind));
  if (found == ids_.end()) return;
  free_.insert(found->second);
  ids_.erase(found);
}

features::ServiceGroupIds ServiceGroupAllocator::assign(const features::ServicePort& port) {
  const auto key = frontendKey(port);
  features::ServiceGroupIds ids;
  ids.cluster = take(key, Kind::kCluster);
  if (port.nodePort != 0)
    ids.external = take(key, Kind::kExternal);
  else
    release(key, Kind::kExternal);
  return ids;
}

void ServiceGroupAllocator::releaseService(const std::string& service,
                                           const std::set<FrontendKey>& keep) {
  std::vector<std::pair<FrontendKey, Kind>> gone;
  for (const auto& [entry, id] : ids_)
    if (std::get<0>(entry.first) == service && !keep.contains(entry.first)) gone.push_back(entry);
  for (const auto& [key, kind] : gone) release(key, kind);
}

}  // namespace sluice::agent
