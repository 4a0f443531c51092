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
    case api::Protocol::kTcp: return features::ServiceProtocol::kTcp;
    case api::Protocol::kUdp: return features::ServiceProtocol::kUdp;
    case api::Protocol::kSctp: return features::ServiceProtocol::kSctp;
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

bool ServiceGroupAllocator::reserveOne(const FrontendKey& key, Kind kind, std::uint32_t id) {
  if (id < first_) return false;
  const auto entry = std::make_pair(key, kind);
  if (ids_.contains(entry)) return ids_.at(entry) == id;
  if (id >= next_) {
    for (auto gap = next_; gap < id; ++gap) free_.insert(gap);
    next_ = id + 1;
  } else if (free_.erase(id) == 0) {
    return false;  // another frontend has it
  }
  ids_[entry] = id;
  return true;
}

bool ServiceGroupAllocator::reserve(const features::ServicePort& port,
                                    const features::ServiceGroupIds& ids) {
  const auto key = frontendKey(port);
  bool reserved = reserveOne(key, Kind::kCluster, ids.cluster);
  if (port.nodePort != 0) reserved = reserveOne(key, Kind::kExternal, ids.external) && reserved;
  return reserved;
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

namespace {

std::optional<features::ServiceProtocol> protocolFromName(const std::string& name) {
  for (const auto protocol : {features::ServiceProtocol::kTcp, features::ServiceProtocol::kUdp,
                              features::ServiceProtocol::kSctp})
    if (protocolText(protocol) == name) return protocol;
  return std::nullopt;
}

}  // namespace

std::string_view protocolText(features::ServiceProtocol protocol) {
  switch (protocol) {
    case features::ServiceProtocol::kTcp: return "tcp";
    case features::ServiceProtocol::kUdp: return "udp";
    case features::ServiceProtocol::kSctp: return "sctp";
  }
  return "tcp";
}

nlohmann::json servicePortsToJson(
    const std::map<std::string, std::pair<std::vector<features::ServicePort>,
                                          std::vector<features::ServiceGroupIds>>>& services) {
  using nlohmann::json;
  json saved = json::object();
  for (const auto& [key, entry] : services) {
    json ports = json::array();
    for (std::size_t i = 0; i < entry.first.size() && i < entry.second.size(); ++i) {
      const auto& port = entry.first[i];
      json endpoints = json::array();
      for (const auto& endpoint : port.endpoints)
        endpoints.push_back(json{{"ip", formatIpv4(endpoint.ip)},
                                 {"port", endpoint.port},
                                 {"ready", endpoint.ready},
                                 {"serving", endpoint.serving},
                                 {"terminating", endpoint.terminating},
                                 {"local", endpoint.local}});
      json item = {{"portName", port.portName},
                   {"protocol", std::string(protocolText(port.protocol))},
                   {"clusterIP", formatIpv4(port.clusterIp)},
                   {"port", port.port},
                   {"nodePort", port.nodePort},
                   {"internalLocal", port.internalLocal},
                   {"externalLocal", port.externalLocal},
                   {"endpoints", endpoints},
                   {"clusterGroup", entry.second[i].cluster},
                   {"externalGroup", entry.second[i].external}};
      if (port.affinityTimeoutSeconds)
        item["affinityTimeoutSeconds"] = *port.affinityTimeoutSeconds;
      ports.push_back(item);
    }
    saved[key] = ports;
  }
  return saved;
}

std::map<std::string,
         std::pair<std::vector<features::ServicePort>, std::vector<features::ServiceGroupIds>>>
servicePortsFromJson(const nlohmann::json& saved) {
  std::map<std::string,
           std::pair<std::vector<features::ServicePort>, std::vector<features::ServiceGroupIds>>>
      services;
  if (!saved.is_object()) return services;
  for (const auto& [key, ports] : saved.items()) {
    if (!ports.is_array()) continue;
    auto& entry = services[key];
    for (const auto& item : ports) {
      try {
        features::ServicePort port;
        port.service = key;
        port.portName = item.at("portName").get<std::string>();
        const auto protocol = protocolFromName(item.at("protocol").get<std::string>());
        const auto clusterIp = parseIpv4(item.at("clusterIP").get<std::string>());
        if (!protocol || !clusterIp) continue;
        port.protocol = *protocol;
        port.clusterIp = *clusterIp;
        port.port = item.at("port").get<std::uint16_t>();
        port.nodePort = item.at("nodePort").get<std::uint16_t>();
        port.internalLocal = item.at("internalLocal").get<bool>();
        port.externalLocal = item.at("externalLocal").get<bool>();
        if (item.contains("affinityTimeoutSeconds"))
          port.affinityTimeoutSeconds = item.at("affinityTimeoutSeconds").get<std::uint32_t>();
        for (const auto& endpoint : item.at("endpoints")) {
          const auto ip = parseIpv4(endpoint.at("ip").get<std::string>());
          if (!ip) continue;
          port.endpoints.push_back(features::ServiceEndpoint{
              *ip, endpoint.at("port").get<std::uint16_t>(), endpoint.at("ready").get<bool>(),
              endpoint.at("serving").get<bool>(), endpoint.at("terminating").get<bool>(),
              endpoint.at("local").get<bool>()});
        }
        entry.first.push_back(std::move(port));
        entry.second.push_back(
            features::ServiceGroupIds{item.at("clusterGroup").get<std::uint32_t>(),
                                      item.at("externalGroup").get<std::uint32_t>()});
      } catch (const nlohmann::json::exception&) {
        continue;  // an entry of another format: served again once the informers have synced
      }
    }
    if (entry.first.empty()) services.erase(key);
  }
  return services;
}

}  // namespace sluice::agent
