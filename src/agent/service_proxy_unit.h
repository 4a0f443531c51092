// ServiceProxyUnit: Sluice's Service proxy in the agent. Inputs: Services (core/v1) and
// EndpointSlices (discovery.k8s.io/v1), whose informer handlers only queue the Service's key;
// reconcile() turns each queued Service into its frontends (service_inputs.h), allocates their
// group IDs and sets the flows and groups of owner "service:NS/NAME" (features/service_proxy.h);
// a Service that is gone loses its owner and its IDs. The node-wide flows (owner "proxy") are set
// once. The node side (NodePort DNAT, the Service CIDR's reject, routes) goes to a ServiceHost.
// Bad input (an unknown protocol, a malformed address, a slice without its Service's label) is a
// Kubernetes Event on the object and a log line; the rest keeps working.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/features/pod_network.h"
#include "agent/features/service_proxy.h"
#include "agent/flow_sink.h"
#include "agent/reconcile_queue.h"
#include "agent/service_host.h"
#include "agent/service_inputs.h"
#include "kube/informer.h"
#include "ofrules/pipeline.h"

namespace sluice::agent {

// What the unit reads: the informers' stores in the agent, maps in tests.
class ServiceStore {
 public:
  virtual ~ServiceStore() = default;
  virtual kube::ObjectPtr service(const std::string& key) const = 0;  // null: none
  virtual std::vector<kube::ObjectPtr> services() const = 0;
  virtual kube::ObjectPtr slice(const std::string& key) const = 0;
  virtual std::vector<kube::ObjectPtr> slices() const = 0;
};

class InformerServiceStore : public ServiceStore {
 public:
  InformerServiceStore(kube::Informer& services, kube::Informer& slices)
      : services_(services), slices_(slices) {}
  kube::ObjectPtr service(const std::string& key) const override { return services_.get(key); }
  std::vector<kube::ObjectPtr> services() const override { return services_.list(); }
  kube::ObjectPtr slice(const std::string& key) const override { return slices_.get(key); }
  std::vector<kube::ObjectPtr> slices() const override { return slices_.list(); }

 private:
  kube::Informer& services_;
  kube::Informer& slices_;
};

// The "NAMESPACE/SERVICE" an EndpointSlice object belongs to (its kubernetes.io/service-name
// label); "" when it has none. Cheap: reads the label only.
std::string sliceServiceKey(const nlohmann::json& slice);

// Why a ClusterIP does not fit the Service CIDR ("" when it does): the configuration is then
// wrong, and the message names the field and the fix. `source` says where the CIDR came from
// ("configured", "from ServiceCIDR kubernetes", "default; ...").
std::string serviceCidrMismatch(const Cidr& serviceCidr, const std::string& source, Ipv4 clusterIp,
                                const std::string& service);

// This node's view of one Service, for sluicectl and metrics.
struct ServiceView {
  std::vector<features::ServicePort> ports;
  std::vector<features::ServiceGroupIds> groups;  // one per port
  std::size_t flows = 0;
};

// The agent's answer to sluicectl's "services" query: one item per frontend (ServicePort), with
// its endpoints (usable ones and local ones marked) and its group IDs. Pure.
nlohmann::json servicesAnswer(const std::map<std::string, ServiceView>& services,
                              const features::ProxyConfig& config);

// Records a Warning Event on an object (AgentEvents in the agent).
using ProblemRecorder = std::function<void(const nlohmann::json& object, const std::string& reason,
                                           const std::string& message)>;

class ServiceProxyUnit {
 public:
  struct Dependencies {
    TaskLoop& loop;
    const ofrules::Pipeline& pipeline;
    const features::NodeNetwork& network;
    FlowSink& integration;
    ServiceHost& host;
    features::ProxyConfig config;
    std::vector<Cidr> nodePortAddresses;        // empty: the node IP
    std::string serviceCidrSource = "default";  // where serviceCidr came from, for messages
    std::string gateway = "sluice-gw0";
    ProblemRecorder recordProblem = nullptr;    // null: log only
    std::function<void()> onChanged = nullptr;  // after each reconcile (metrics)
    // services-cache.json: what was served, restored before the first sync; "": no cache.
    std::string cachePath;
  };
  explicit ServiceProxyUnit(Dependencies dependencies);

  // On the loop, before the first sync: the node-wide flows ("proxy") and the node side with no
  // NodePort yet (with the proxy off: only the flows that hand Service traffic to the node).
  [[nodiscard]] Result<void> installNodeFlows();
  // On the loop, before the first sync: the Services served before a restart, with their group
  // IDs, from the cache (the informers' first full pass corrects them).
  void restoreFromCache();
  // Informer handlers queue Service keys; the loop reconciles them. Not with the proxy off.
  void watch(kube::Informer& services, kube::Informer& slices);
  // Every Service the store has, and every one the unit served (after the informers synced).
  void reconcileAll();
  // The Services queued (public for tests; the queue calls it on the loop).
  void reconcile(const std::set<std::string>& keys);
  void setStore(const ServiceStore& store) { store_ = &store; }

  const std::map<std::string, ServiceView>& services() const { return services_; }
  std::size_t endpointCount() const;
  const ServiceHostPlan& hostPlan() const { return plan_; }

 private:
  void reconcileService(const std::string& key,
                        const std::map<std::string, std::vector<api::EndpointSlice>>& slices);
  void removeService(const std::string& key);
  void report(const nlohmann::json& object, const std::string& kind, const std::string& key,
              const std::vector<api::Problem>& problems);
  void applyHost();
  void setServiceFlows(const std::string& key, ServiceView& view);
  void saveCache();

  Dependencies deps_;
  const ServiceStore* store_ = nullptr;
  std::unique_ptr<InformerServiceStore> informerStore_;
  ReconcileQueue queue_;
  ServiceGroupAllocator groupIds_;
  std::map<std::string, ServiceView> services_;
  std::map<std::string, std::string> reported_;  // object key -> the problems last reported
  std::set<std::string> cidrWarned_;
  ServiceHostPlan plan_;
  std::string savedCache_;  // what the cache file holds
};

}  // namespace sluice::agent
