// Agent: sluice-agent's wiring. It connects to OVS and the API server, bootstraps the node, makes
// the feature units (pod network, remote nodes, egress, service proxy) with their dependencies,
// starts the informers that feed them, serves CNI, and runs the TaskLoop on which all OVS work
// happens.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "agent/agent_config.h"
#include "agent/agent_events.h"
#include "agent/agent_metrics.h"
#include "agent/agent_state_cache.h"
#include "agent/cni_server.h"
#include "agent/cni_service.h"
#include "agent/egress_arp.h"
#include "agent/egress_fencing.h"
#include "agent/egress_unit.h"
#include "agent/flow_sink.h"
#include "agent/ingress_guard.h"
#include "agent/node_bootstrap.h"
#include "agent/ovs_control.h"
#include "agent/pod_network_unit.h"
#include "agent/pod_ports.h"
#include "agent/remote_node_host.h"
#include "agent/remote_nodes_unit.h"
#include "agent/service_host.h"
#include "agent/service_proxy_unit.h"
#include "agent/task_loop.h"
#include "agent/tunnel_neighbours.h"
#include "common/http_server.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "ofrules/flow_syncer.h"
#include "ofrules/pipeline.h"
#include "ovsdb/ovsdb_client.h"
#include "ovsdb/ovsdb_round_store.h"

namespace sluice::agent {

// The agent's informers retry quickly: the API server is the one thing they cannot do without.
inline constexpr kube::BackoffOptions kInformerBackoff{.initial = std::chrono::milliseconds(100),
                                                       .max = std::chrono::milliseconds(1000),
                                                       .factor = 2.0,
                                                       .jitter = 0.2};

// How long CNI ADD waits for the agent's watch to bring the Pod (its labels pick its Egress).
inline constexpr std::chrono::milliseconds kPodObjectWait{2000};

class Agent : public PodDatapath {
 public:
  explicit Agent(AgentConfig config);
  ~Agent() override;

  // Connects, bootstraps the node, installs the pipeline, serves CNI; returns when stop() is
  // called (from a signal handler thread) or on a fatal error.
  Result<void> run();
  void stop();

  // PodDatapath, called by CniService from CNI connection threads.
  Result<int> attach(const PodAttachment& attachment) override;
  Result<void> detach(const PodAttachment& attachment) override;
  Result<void> ready() override;

 private:
  // sluicectl's queries (agent_queries.cc); called on CNI connection threads.
  Result<nlohmann::json> answerQuery(const nlohmann::json& query);
  nlohmann::json statusAnswer() const;  // on the loop thread
  Result<NodeIdentity> waitForNodeIdentity();
  // serviceCIDR: configured, else read from ServiceCIDR "kubernetes" (a bounded attempt), else
  // the default; logs which.
  void chooseServiceCidr(const kube::ClusterConfig& cluster);
  Result<void> connectOvs();
  Result<void> createSyncers();
  void createUnits();
  void createInformers();
  Result<void> startServingCni();
  void startEgress();
  void startServices();
  void reconcileServicesOnceSynced(std::chrono::steady_clock::time_point warnAt);
  void applyTcpSequenceCheckSetting();
  void pollOvs();
  void waitForPodObject(const PodAttachment& attachment) const;
  void clearFlowRestoreWait();
  Result<void> syncAll();
  // agent_observability.cc: the /metrics, /healthz and /readyz listener and its loop task.
  Result<void> startObservability();
  void refreshObservability();

  AgentConfig config_;
  std::string serviceCidrSource_ = "default";  // kube::ServiceCidrChoice::describe()
  TaskLoop loop_;
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<ovsdb::OvsdbClient> ovsdb_;
  std::unique_ptr<IngressGuard> guard_;
  std::unique_ptr<ovsdb::OvsdbRoundStore> roundStore_;
  std::unique_ptr<ovsdb::OvsdbRoundStore> physicalRoundStore_;
  std::unique_ptr<ofrules::FlowSyncer> integrationSyncer_;
  std::unique_ptr<ofrules::FlowSyncer> physicalSyncer_;
  std::unique_ptr<SyncerFlowSink> integrationSink_;
  std::unique_ptr<SyncerFlowSink> physicalSink_;
  ofrules::Pipeline pipeline_;
  ofrules::Pipeline physicalPipeline_;  // br-phy's
  BootstrapResult bootstrap_;
  AgentStateCache cache_;
  UnixctlOvsControl control_;
  NetlinkInterfaceOps interfaces_;
  // Before the listener (whose handlers read metrics_), which goes first on destruction.
  std::unique_ptr<AgentMetrics> metrics_ = std::make_unique<AgentMetrics>();
  std::unique_ptr<HttpServer> observabilityServer_;
  // Informers, then the units that read them; ~Agent stops the informers first.
  std::unique_ptr<kube::Informer> nodeInformer_;
  std::unique_ptr<kube::Informer> egressInformer_;
  std::unique_ptr<kube::Informer> namespaceInformer_;
  std::unique_ptr<kube::Informer> podInformer_;
  std::unique_ptr<kube::Informer> serviceInformer_;  // null with the proxy off
  std::unique_ptr<kube::Informer> sliceInformer_;
  std::unique_ptr<AgentEvents> events_;
  std::unique_ptr<PodPorts> podPorts_;
  std::unique_ptr<KernelNeighbourTable> kernelNeighbours_;
  std::unique_ptr<TunnelNeighbours> tunnelNeighbours_;  // null on the kernel datapath
  std::unique_ptr<NodeRemoteNodeHost> nodeHost_;
  std::unique_ptr<PodNetworkUnit> podNetwork_;
  std::unique_ptr<RemoteNodesUnit> remoteNodes_;
  std::unique_ptr<PhysicalBridgeArp> egressArp_;
  std::unique_ptr<EgressFencing> fencing_;
  std::unique_ptr<EgressUnit> egress_;
  std::unique_ptr<ServiceHost> serviceHost_;
  std::unique_ptr<ServiceProxyUnit> serviceProxy_;
  std::unique_ptr<CniService> cniService_;
  std::unique_ptr<CniServer> cniServer_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
  std::uint64_t reconnectsSeen_ = 0;
  bool restoreWaitPending_ = false;
};

}  // namespace sluice::agent
