// Which API resource a call is about (group/version/resource), and the URL paths and query
// strings of the Kubernetes REST API. Pure.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace sluice::kube {

struct ResourceRef {
  std::string group;  // "" for the core API
  std::string version;
  std::string resource;  // plural, lower case: "pods"
  bool namespaced = true;
  std::string kind;  // for error messages and created objects: "Pod"

  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
};

namespace resources {
inline const ResourceRef kPods{"", "v1", "pods", true, "Pod"};
inline const ResourceRef kNodes{"", "v1", "nodes", false, "Node"};
inline const ResourceRef kNamespaces{"", "v1", "namespaces", false, "Namespace"};
inline const ResourceRef kEvents{"", "v1", "events", true, "Event"};
inline const ResourceRef kServices{"", "v1", "services", true, "Service"};
inline const ResourceRef kEndpointSlices{"discovery.k8s.io", "v1", "endpointslices", true,
                                         "EndpointSlice"};
inline const ResourceRef kLeases{"coordination.k8s.io", "v1", "leases", true, "Lease"};
inline const ResourceRef kEgresses{"crd.antrea.io", "v1beta1", "egresses", false, "Egress"};
inline const ResourceRef kExternalIpPools{"crd.antrea.io", "v1beta1", "externalippools", false,
                                          "ExternalIPPool"};
// Cluster-scoped; GA in Kubernetes 1.33, beta in 1.31-1.32 (see kube/service_cidr.h).
inline const ResourceRef kServiceCidrs{"networking.k8s.io", "v1", "servicecidrs", false,
                                       "ServiceCIDR"};
inline const ResourceRef kServiceCidrsV1beta1{"networking.k8s.io", "v1beta1", "servicecidrs", false,
                                              "ServiceCIDR"};
}  // namespace resources

struct ListOptions {
  std::string labelSelector;  // query form, e.g. toQueryString(selector)
  std::string fieldSelector;  // e.g. "spec.nodeName=node-1"
  std::string resourceVersion;
  std::string resourceVersionMatch;  // "NotOlderThan" / "Exact"
  int64_t limit = 0;
  std::string continueToken;
  int64_t timeoutSeconds = 0;
  bool allowWatchBookmarks = false;
};

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string urlEncode(const std::string& text);

// "/api/v1/namespaces/NS/pods" or "/apis/GROUP/VERSION/RESOURCE" (ns ignored when cluster-scoped;
// an empty ns on a namespaced resource lists across all namespaces).
std::string collectionPath(const ResourceRef& resource, const std::string& ns);
std::string objectPath(const ResourceRef& resource, const std::string& ns, const std::string& name,
                       const std::string& subresource = "");
// "?labelSelector=...&watch=true" (empty when nothing is set).
std::string listQuery(const ListOptions& options, bool watch);

// metadata accessors that tolerate missing fields.
std::string nameOf(const nlohmann::json& object);
std::string namespaceOf(const nlohmann::json& object);
std::string resourceVersionOf(const nlohmann::json& object);
std::string uidOf(const nlohmann::json& object);
// Whether resourceVersion `ours` is at least as new as `other`. resourceVersions are opaque in
// general; the lab server's and etcd's are integers, and when both parse they are compared.
// Otherwise `ours` is trusted.
bool versionAtLeast(const std::string& ours, const std::string& other);
// The informer/work-queue key: "namespace/name", or "name" for cluster-scoped objects.
std::string keyOf(const nlohmann::json& object);
std::string makeKey(const std::string& ns, const std::string& name);
// Splits a key made by makeKey/keyOf into {namespace, name}.
std::pair<std::string, std::string> splitKey(const std::string& key);

// RFC 7386 merge patch that turns `from` into `to` (null deletes a key; arrays are replaced).
nlohmann::json createMergePatch(const nlohmann::json& from, const nlohmann::json& to);
// Applies an RFC 7386 merge patch.
nlohmann::json applyMergePatch(nlohmann::json target, const nlohmann::json& patch);

// "2026-11-26T06:40:00Z" and the MicroTime form "2026-11-26T06:40:00.123456Z".
std::string formatTime(std::chrono::system_clock::time_point time);
std::string formatMicroTime(std::chrono::system_clock::time_point time);
// Parses both forms (and fractional seconds of any length); std::nullopt on bad input.
std::optional<std::chrono::system_clock::time_point> parseTime(const std::string& text);

}  // namespace sluice::kube
