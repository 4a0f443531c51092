// The cluster's Service CIDR (kube-apiserver's --service-cluster-ip-range): configured, read
// from the ServiceCIDR API (networking.k8s.io/v1 since Kubernetes 1.33, v1beta1 in 1.31-1.32;
// kube-apiserver keeps its range in the ServiceCIDR named "kubernetes"), or kubeadm's default.
// The choice is pure; detectServiceCidr does the one bounded read.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/ipv4.h"
#include "common/result.h"
#include "kube/config.h"

namespace sluice::kube {

class Client;

inline constexpr Cidr kDefaultServiceCidr{0x0a600000, 12};  // 10.96.0.0/12, kubeadm's
inline constexpr const char* kDefaultServiceCidrName = "kubernetes";

enum class ServiceCidrSource { kConfigured, kDetected, kDefault };

struct ServiceCidrChoice {
  Cidr cidr;
  ServiceCidrSource source = ServiceCidrSource::kDefault;
  std::string whyDefault;  // kDefault only: why nothing was detected
  // "configured", "from ServiceCIDR kubernetes", "default; ServiceCIDR API not available".
  std::string describe() const;
};

// What a detection found: a CIDR, or why there is none.
struct DetectedServiceCidr {
  std::optional<Cidr> cidr;
  std::string whyNot;  // when cidr is empty: "ServiceCIDR API not available", ...
};

// The configured value wins, then the detected one, then the default. Pure.
ServiceCidrChoice chooseServiceCidr(const std::optional<Cidr>& configured,
                                    const DetectedServiceCidr& detected);

// The first IPv4 entry of a ServiceCIDR object's spec.cidrs; an error naming the object and the
// field when there is none or it does not parse. Pure.
Result<Cidr> firstIpv4ServiceCidr(const nlohmann::json& serviceCidr);

// GETs ServiceCIDR "kubernetes" (v1, then v1beta1 when v1 is 404). 404 on both: the API is not
// available. Transport errors and other statuses are reported in whyNot.
DetectedServiceCidr detectServiceCidr(Client& client);
// The same through a client of its own whose connect and request timeouts are `timeout`, so a
// slow or unreachable API server delays the caller by about `timeout`, not the usual minute.
DetectedServiceCidr detectServiceCidr(const ClusterConfig& config,
                                      std::chrono::milliseconds timeout);

}  // namespace sluice::kube
