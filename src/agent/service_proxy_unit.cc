// The service proxy unit (service_proxy_unit.h).
#include "agent/service_proxy_unit.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "api/service.h"
#include "common/log.h"

namespace sluice::agent {
namespace {

constexpr const char* kProxyOwner = "proxy";
// Queue keys of slices without their Service's label: reported, never served.
constexpr std::string_view kOrphanSlicePrefix = "endpointslice:";

std::string joinProblems(const std::vector<api::Problem>& problems) {
  std::string text;
  for (const auto& problem : problems) text += (text.empty() ? "" : "; ") + problem.message;
  return text;
}

}  // namespace

std::string sliceServiceKey(const nlohmann::json& slice) {
  const auto* labels = slice.is_object() && slice.contains("metadata") &&
                               slice["metadata"].is_object() && slice["metadata"].contains("labels")
                           ? &slice["metadata"]["labels"]
                           : nullptr;
  if (labels == nullptr || !labels->is_object()) return "";
  const auto label = labels->find(api::kServiceNameLabel);
  if (label == labels->end() || !label->is_string() || label->get<std::string>().empty()) return "";
  return kube::makeKey(kube::namespaceOf(slice), label->get<std::string>());
}

std::string serviceCidrMismatch(const Cidr& serviceCidr, const std::string& source, Ipv4 clusterIp,
                                const std::string& service) {
  if (clusterIp == 0 || serviceCidr.contains(clusterIp)) return "";
  return "Service " + service + " has ClusterIP " + formatIpv4(clusterIp) +
         ", outside the Service CIDR " + serviceCidr.toString() + " (" + source +
         "); set serviceCIDR in sluice-agent.conf to kube-apiserver's "
         "--service-cluster-ip-range";
}

nlohmann::json servicesAnswer(const std::map<std::string, ServiceView>& services,
                              const features::ProxyConfig& config) {
  using nlohmann::json;
  json items = json::array();
  for (const auto& [key, view] : services)
    for (std::size_t i = 0; i < view.ports.size(); ++i) {
      const auto& port = view.ports[i];
      const auto ids = i < view.groups.size() ? view.groups[i] : features::ServiceGroupIds{};
      const auto usable = features::usableEndpoints(port.endpoints, port.internalLocal);
      json endpoints = json::array();
      for (const auto& endpoint : port.endpoints) {
        const bool isUsable = std::any_of(usable.begin(), usable.end(), [&](const auto& u) {
          return u.ip == endpoint.ip && u.port == endpoint.port;
        });
        endpoints.push_back(json{{"ip", formatIpv4(endpoint.ip)},
                                 {"port", endpoint.port},
                                 {"ready", endpoint.ready},
                                 {"serving", endpoint.serving},
                                 {"terminating", endpoint.terminating},
                                 {"local", endpoint.local},
                                 {"usable", isUsable}});
      }
      json item = {{"service", port.service},
                   {"port", port.portName},
                   {"protocol", std::string(features::protocolName(port.protocol))},
                   {"clusterIP", port.clusterIp == 0 ? "" : formatIpv4(port.clusterIp)},
                   {"servicePort", port.port},
                   {"nodePort", port.nodePort},
                   {"internalTrafficPolicy", port.internalLocal ? "Local" : "Cluster"},
                   {"externalTrafficPolicy", port.externalLocal ? "Local" : "Cluster"},
                   {"sessionAffinity", port.affinityTimeoutSeconds ? "ClientIP" : "None"},
                   {"clusterGroup", ids.cluster},
                   {"externalGroup", ids.external},
                   {"owner", features::serviceOwner(port.service)},
                   {"endpoints", endpoints}};
      if (port.affinityTimeoutSeconds)
        item["affinityTimeoutSeconds"] = *port.affinityTimeoutSeconds;
      items.push_back(item);
    }
  return json{{"proxy", config.enabled},
              {"serviceCIDR", config.serviceCidr.toString()},
              {"services", items}};
}

ServiceProxyUnit::ServiceProxyUnit(Dependencies dependencies)
    : deps_(std::move(dependencies)),
      queue_(deps_.loop, [this](const std::set<std::string>& keys) { reconcile(keys); }) {
  plan_.enabled = deps_.config.enabled;
  plan_.nodeIp = deps_.network.nodeIp;
  plan_.nodePortAddresses = deps_.nodePortAddresses;
  plan_.serviceCidr = deps_.config.serviceCidr;
  plan_.gateway = deps_.gateway;
}

Result<void> ServiceProxyUnit::installNodeFlows() {
  SLUICE_LOG(kInfo, "proxy") << (deps_.config.enabled ? "Sluice serves Services"
                                                      : "kube-proxy serves Services")
                             << "; Service CIDR " << deps_.config.serviceCidr.toString() << " ("
                             << deps_.serviceCidrSource << ")";
  auto flows = features::proxyNodeFlows(deps_.pipeline, deps_.network, deps_.config);
  if (!flows) return flows.error();
  if (auto set = deps_.integration.setFlows(kProxyOwner, *flows); !set) return set;
  applyHost();
  return {};
}

void ServiceProxyUnit::watch(kube::Informer& services, kube::Informer& slices) {
  informerStore_ = std::make_unique<InformerServiceStore>(services, slices);
  store_ = informerStore_.get();
  auto queueService = [this](const kube::ObjectPtr& service) { queue_.add(kube::keyOf(*service)); };
  services.addHandlers(kube::EventHandlers{
      .onAdd = queueService,
      .onUpdate = [queueService](const kube::ObjectPtr&,
                                 const kube::ObjectPtr& service) { queueService(service); },
      .onDelete = queueService});
  auto queueSlice = [this](const kube::ObjectPtr& slice) {
    const auto key = sliceServiceKey(*slice);
    queue_.add(key.empty() ? std::string(kOrphanSlicePrefix) + kube::keyOf(*slice) : key);
  };
  slices.addHandlers(kube::EventHandlers{
      .onAdd = queueSlice,
      .onUpdate =
          [this, queueSlice](const kube::ObjectPtr& before, const kube::ObjectPtr& after) {
            // A slice relabelled to another Service leaves the first one too.
            if (const auto key = sliceServiceKey(*before); key != sliceServiceKey(*after))
              if (!key.empty()) queue_.add(key);
            queueSlice(after);
          },
      .onDelete = queueSlice});
}

void ServiceProxyUnit::reconcileAll() {
  if (store_ == nullptr) return;
  std::set<std::string> keys;
  for (const auto& service : store_->services()) keys.insert(kube::keyOf(*service));
  for (const auto& [key, view] : services_) keys.insert(key);  // gone while we were away
  for (const auto& slice : store_->slices())
    if (sliceServiceKey(*slice).empty())
      keys.insert(std::string(kOrphanSlicePrefix) + kube::keyOf(*slice));
  reconcile(keys);
}

void ServiceProxyUnit::reconcile(const std::set<std::string>& keys) {
  if (store_ == nullptr) return;
  // The slices of the queued Services, decoded once; bad ones are reported.
  std::map<std::string, std::vector<api::EndpointSlice>> slices;
  for (const auto& object : store_->slices()) {
    const auto service = sliceServiceKey(*object);
    if (service.empty() || !keys.contains(service)) continue;
    auto slice = api::EndpointSlice::decode(*object);
    report(*object, "EndpointSlice", kube::keyOf(*object), slice.problems);
    slices[service].push_back(std::move(slice));
  }
  for (const auto& key : keys) {
    if (key.starts_with(kOrphanSlicePrefix)) {
      const auto sliceKey = key.substr(kOrphanSlicePrefix.size());
      if (const auto object = store_->slice(sliceKey))
        report(*object, "EndpointSlice", sliceKey, api::EndpointSlice::decode(*object).problems);
      else
        reported_.erase(sliceKey);
      continue;
    }
    reconcileService(key, slices);
  }
  applyHost();
  saveCache();
  if (auto synced = deps_.integration.sync(); !synced)
    SLUICE_LOG(kWarning, "proxy") << "sync: " << synced.error().message;
  if (deps_.onChanged) deps_.onChanged();
}

void ServiceProxyUnit::reconcileService(
    const std::string& key, const std::map<std::string, std::vector<api::EndpointSlice>>& slices) {
  const auto object = store_->service(key);
  if (!object) {
    removeService(key);
    reported_.erase(key);
    return;
  }
  const auto service = api::Service::decode(*object);
  report(*object, "Service", key, service.problems);
  static const std::vector<api::EndpointSlice> kNone;
  const auto found = slices.find(key);
  auto ports =
      servicePorts(service, found == slices.end() ? kNone : found->second, deps_.network.nodeName);
  if (ports.empty()) {
    removeService(key);
    return;
  }
  if (const auto clusterIp = service.clusterIp()) {
    const auto mismatch =
        serviceCidrMismatch(deps_.config.serviceCidr, deps_.serviceCidrSource, *clusterIp, key);
    if (!mismatch.empty() && cidrWarned_.insert(key).second)
      SLUICE_LOG(kWarning, "proxy") << mismatch;
  }
  ServiceView view;
  std::set<FrontendKey> keep;
  for (const auto& port : ports) {
    keep.insert(frontendKey(port));
    view.groups.push_back(groupIds_.assign(port));
  }
  groupIds_.releaseService(key, keep);
  view.ports = std::move(ports);
  setServiceFlows(key, view);
  services_[key] = std::move(view);
}

void ServiceProxyUnit::setServiceFlows(const std::string& key, ServiceView& view) {
  std::vector<ofrules::Flow> flows;
  std::vector<ofrules::Group> groups;
  for (std::size_t i = 0; i < view.ports.size(); ++i) {
    const auto& port = view.ports[i];
    auto computed = features::serviceFlows(deps_.pipeline, deps_.network, port, view.groups[i]);
    if (!computed) {
      SLUICE_LOG(kError, "proxy") << "flows for Service " << key << " port "
                                  << (port.portName.empty() ? std::to_string(port.port)
                                                            : port.portName)
                                  << ": " << computed.error().message;
      continue;
    }
    flows.insert(flows.end(), computed->flows.begin(), computed->flows.end());
    groups.insert(groups.end(), computed->groups.begin(), computed->groups.end());
  }
  const auto owner = features::serviceOwner(key);
  // Groups first: the flows that point at them are refused by OVS without them.
  if (auto set = deps_.integration.setGroups(owner, groups); !set)
    SLUICE_LOG(kError, "proxy") << "groups of " << owner << ": " << set.error().message;
  setFlowsOrLog(deps_.integration, owner, flows);
  view.flows = flows.size();
}

void ServiceProxyUnit::restoreFromCache() {
  if (deps_.cachePath.empty() || !deps_.config.enabled) return;
  std::ifstream in(deps_.cachePath);
  if (!in) return;
  nlohmann::json saved;
  try {
    saved = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception&) {
    SLUICE_LOG(kWarning, "proxy") << "ignoring an unreadable " << deps_.cachePath;
    return;
  }
  for (auto& [key, entry] : servicePortsFromJson(saved)) {
    ServiceView view{std::move(entry.first), std::move(entry.second), 0};
    for (std::size_t i = 0; i < view.ports.size(); ++i)
      if (!groupIds_.reserve(view.ports[i], view.groups[i]))
        view.groups[i] = groupIds_.assign(view.ports[i]);
    setServiceFlows(key, view);
    services_[key] = std::move(view);
  }
  applyHost();
  SLUICE_LOG(kInfo, "proxy") << "restored " << services_.size() << " Services from the local cache";
  if (deps_.onChanged) deps_.onChanged();
}

void ServiceProxyUnit::saveCache() {
  if (deps_.cachePath.empty()) return;
  std::map<std::string,
           std::pair<std::vector<features::ServicePort>, std::vector<features::ServiceGroupIds>>>
      served;
  for (const auto& [key, view] : services_) served[key] = {view.ports, view.groups};
  const auto text = servicePortsToJson(served).dump(1);
  if (text == savedCache_) return;
  // Written whole, then renamed: a crash leaves the old file or the new one, never half of one.
  const auto temporary = deps_.cachePath + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << text;
    if (!out) {
      SLUICE_LOG(kWarning, "proxy") << "cannot write " << temporary;
      return;
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, deps_.cachePath, error);
  if (error) {
    SLUICE_LOG(kWarning, "proxy") << "cannot write " << deps_.cachePath << ": " << error.message();
    return;
  }
  savedCache_ = text;
}

void ServiceProxyUnit::removeService(const std::string& key) {
  groupIds_.releaseService(key);
  cidrWarned_.erase(key);
  if (services_.erase(key) == 0) return;
  deps_.integration.deleteOwner(features::serviceOwner(key));
}

void ServiceProxyUnit::report(const nlohmann::json& object, const std::string& kind,
                              const std::string& key, const std::vector<api::Problem>& problems) {
  const auto reportKey = kind + "/" + key;
  if (problems.empty()) {
    reported_.erase(reportKey);
    return;
  }
  const auto message = joinProblems(problems);
  auto& last = reported_[reportKey];
  if (last == message) return;  // reported already; a repeat would only be noise
  last = message;
  SLUICE_LOG(kWarning, "proxy") << message;
  if (deps_.recordProblem) deps_.recordProblem(object, "Invalid" + kind, message);
}

void ServiceProxyUnit::applyHost() {
  std::vector<features::ServicePort> all;
  for (const auto& [key, view] : services_)
    all.insert(all.end(), view.ports.begin(), view.ports.end());
  plan_.nodePorts = deps_.config.enabled ? nodePortRules(all) : std::vector<NodePortRule>{};
  if (auto applied = deps_.host.apply(plan_); !applied)
    SLUICE_LOG(kError, "proxy") << "node side of the proxy: " << applied.error().message;
}

std::size_t ServiceProxyUnit::endpointCount() const {
  std::size_t count = 0;
  for (const auto& [key, view] : services_)
    for (const auto& port : view.ports) count += port.endpoints.size();
  return count;
}

}  // namespace sluice::agent
