#include "kube/service_cidr.h"

#include <utility>

#include "kube/client.h"

namespace sluice::kube {

std::string ServiceCidrChoice::describe() const {
  switch (source) {
    case ServiceCidrSource::kConfigured: return "configured";
    case ServiceCidrSource::kDetected:
      return std::string("from ServiceCIDR ") + kDefaultServiceCidrName;
    case ServiceCidrSource::kDefault: break;
  }
  return whyDefault.empty() ? "default" : "default; " + whyDefault;
}

ServiceCidrChoice chooseServiceCidr(const std::optional<Cidr>& configured,
                                    const DetectedServiceCidr& detected) {
  if (configured)
    return {.cidr = *configured, .source = ServiceCidrSource::kConfigured, .whyDefault = ""};
  if (detected.cidr)
    return {.cidr = *detected.cidr, .source = ServiceCidrSource::kDetected, .whyDefault = ""};
  return {.cidr = kDefaultServiceCidr,
          .source = ServiceCidrSource::kDefault,
          .whyDefault = detected.whyNot};
}

Result<Cidr> firstIpv4ServiceCidr(const nlohmann::json& serviceCidr) {
  const std::string name = "ServiceCIDR " + nameOf(serviceCidr);
  const auto spec = serviceCidr.is_object() ? serviceCidr.find("spec") : serviceCidr.end();
  if (!serviceCidr.is_object() || spec == serviceCidr.end() || !spec->is_object() ||
      !spec->contains("cidrs") || !(*spec)["cidrs"].is_array())
    return makeError(name + " has no spec.cidrs; set serviceCIDR in the config instead");
  for (const auto& entry : (*spec)["cidrs"]) {
    if (!entry.is_string()) continue;
    const auto text = entry.get<std::string>();
    if (text.find(':') != std::string::npos) continue;  // IPv6
    auto cidr = parseCidrOrError(text);
    if (!cidr)
      return makeError(name + " spec.cidrs: " + cidr.error().message +
                       "; set serviceCIDR in the config instead");
    return *cidr;
  }
  return makeError(name + " spec.cidrs has no IPv4 CIDR; set serviceCIDR in the config instead");
}

DetectedServiceCidr detectServiceCidr(Client& client) {
  auto object = client.get(resources::kServiceCidrs, "", kDefaultServiceCidrName);
  if (object.notFound())
    object = client.get(resources::kServiceCidrsV1beta1, "", kDefaultServiceCidrName);
  if (object.notFound()) return {.cidr = std::nullopt, .whyNot = "ServiceCIDR API not available"};
  if (!object)
    return {.cidr = std::nullopt,
            .whyNot = std::string("cannot get ServiceCIDR ") + kDefaultServiceCidrName + ": " +
                      object.error().message +
                      (object.code() == 403
                           ? "; grant get on servicecidrs.networking.k8s.io or set serviceCIDR"
                           : "; set serviceCIDR in the config to skip the read")};
  auto cidr = firstIpv4ServiceCidr(*object);
  if (!cidr) return {.cidr = std::nullopt, .whyNot = cidr.error().message};
  return {.cidr = *cidr, .whyNot = ""};
}

DetectedServiceCidr detectServiceCidr(const ClusterConfig& config,
                                      std::chrono::milliseconds timeout) {
  auto client = Client::connect(config, TransportOptions{.connectTimeout = timeout,
                                                         .requestTimeout = timeout,
                                                         .maxIdleConnections = 1,
                                                         .userAgent = "sluice/0.1 (service-cidr)"});
  if (!client)
    return {.cidr = std::nullopt,
            .whyNot = "cannot reach the API server: " + client.error().message};
  return detectServiceCidr(**client);
}

}  // namespace sluice::kube
