// Agent: sluice-agent's wiring. It owns the node's OVS connections, the pipeline's features,
// the Kubernetes informers and the CNI socket, and runs the TaskLoop that serialises OVS work.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "agent/agent_config.h"
#include "agent/agent_events.h"
#include "agent/agent_metrics.h"
#include "agent/arp_claim.h"
#include "agent/cni_server.h"
#include "agent/cni_service.h"
#include "agent/features/egress.h"
#include "agent/features/pod_network.h"
#include "agent/ingress_guard.h"
#include "agent/liveness_reporter.h"
#include "agent/node_bootstrap.h"
#include "agent/task_loop.h"
#include "common/http_server.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "ofrules/flow_syncer.h"
#include "ofrules/pipeline.h"
#include "ovsdb/ovsdb_client.h"

namespace sluice::agent {

// Keeps the flow syncer's restart round in the integration bridge's external_ids.
class OvsdbRoundStore : public ofrules::RoundStore {
 public:
  OvsdbRoundStore(ovsdb::OvsdbClient& ovsdb, std::string bridge)
      : ovsdb_(ovsdb), bridge_(std::move(bridge)) {}
  Result<std::uint16_t> load() override;
  Result<void> store(std::uint16_t round) override;

 private:
  ovsdb::OvsdbClient& ovsdb_;
  std::string bridge_;
};

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
  // What the agent knew of the cluster last time, so that after a restart it can install a
  // complete table before it can reach the API server (whose traffic may cross this very OVS).
  void loadClusterCache();
  void saveClusterCache() const;
  void warmTunnelNeighbour(Ipv4 remoteNodeIp) const;
  void setRemoteNodeFlows(const std::map<std::string, std::pair<Ipv4, Cidr>>& remotes);
  Result<void> connectOvs();
  Result<void> installPipeline();
  void restorePods();
  void reconcileNodes();
  void applyTcpSequenceCheckSetting();
  void pollOvs();
  void startLivenessReports();
  // After a fence: unfence once the Egress cache is as new as a fresh read (egressBarrier_).
  void startUnfencing();
  bool egressCacheCaughtUp();
  void startEgressInformers();
  void reconcileEgress();
  void sendGratuitousArp(Ipv4 egressIp) const;
  void flushEgressConntrack(Ipv4 egressIp) const;
  void flushPodConntrack(Ipv4 podIp) const;
  void startArpClaimer();
  void waitForPodObject(const PodAttachment& attachment) const;
  void loadEgressCache();
  void reportEgressProblems(const std::vector<features::EgressProblem>& problems);
  void saveEgressCache(const features::EgressFlows& flows);
  // Runs `ovs-appctl -t <this node's ovs-vswitchd> ARGUMENTS`; whether it succeeded.
  bool ovsAppctl(const std::string& arguments) const;
  void clearFlowRestoreWait();
  Result<void> syncAll();
  // agent_observability.cc: the /metrics, /healthz and /readyz listener and its loop task.
  Result<void> startObservability();
  void refreshObservability();

  AgentConfig config_;
  TaskLoop loop_;
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<kube::Informer> nodeInformer_;
  std::unique_ptr<ovsdb::OvsdbClient> ovsdb_;
  std::unique_ptr<IngressGuard> guard_;
  std::unique_ptr<OvsdbRoundStore> roundStore_;
  std::unique_ptr<ofrules::MemoryRoundStore> physicalRoundStore_;
  std::unique_ptr<ofrules::FlowSyncer> integrationSyncer_;
  std::unique_ptr<ofrules::FlowSyncer> physicalSyncer_;
  ofrules::Pipeline pipeline_;
  ofrules::Pipeline physicalPipeline_;  // br-phy's
  BootstrapResult bootstrap_;
  std::map<std::string, features::LocalPod> pods_;                       // by flow owner
  std::map<std::string, std::pair<std::string, std::string>> podNames_;  // owner -> namespace, name
  std::unique_ptr<kube::Informer> egressInformer_;
  std::unique_ptr<kube::Informer> namespaceInformer_;
  std::unique_ptr<kube::Informer> podInformer_;
  std::set<Ipv4> heldEgressIps_;    // owned: ARP, floating MAC
  std::set<Ipv4> servedEgressIps_;  // owned or passive: SNAT flows installed
  features::HandoversSeen handoversSeen_;
  features::HandoverTiming handoverTiming_;
  std::optional<features::HandoverClock::time_point> handoverWake_;
  std::string savedEgressCache_;  // what egress-flows.json holds
  std::unique_ptr<AgentEvents> events_;
  std::set<features::EgressProblem> reportedProblems_;
  std::atomic<bool> fenced_{false};  // see startLivenessReports()
  std::atomic<bool> heard_{false};   // the controller has answered a report since the start
  bool unfencing_ = false;           // a fresh read of the Egresses is on its way (loop thread)
  std::map<std::string, std::string> egressBarrier_;  // key -> resourceVersion the cache must reach
  std::thread unfenceReader_;
  std::map<Ipv4, std::string> podRoutes_;    // EgressFlows::podRoutes of the last reconcile
  bool podRoutesKnown_ = false;              // not before the first one: a restart flushes nothing
  std::unique_ptr<ArpClaimer> claimer_;      // null: IPs are owned without a claim
  std::set<Ipv4> claimedEgressIps_;          // assigned here, and nobody else answers ARP for them
  features::EgressInputs lastEgressInputs_;  // what reconcileEgress() last saw, for sluicectl
  std::string controllerAddress_;
  bool egressSynced_ = false;
  std::map<std::string, std::pair<Ipv4, Cidr>> remoteNodes_;  // by node name: node IP, podCIDR
  std::vector<Cidr> clusterCidrs_;
  NetlinkInterfaceOps interfaces_;
  std::unique_ptr<CniService> cniService_;
  std::unique_ptr<CniServer> cniServer_;
  std::unique_ptr<LivenessReporter> liveness_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
  std::uint64_t reconnectsSeen_ = 0;
  bool restoreWaitPending_ = false;
  // Last, so the listener (whose handlers read metrics_) goes first on destruction.
  std::unique_ptr<AgentMetrics> metrics_ = std::make_unique<AgentMetrics>();
  std::unique_ptr<HttpServer> observabilityServer_;
};

// The flow owner of a pod attachment.
std::string podOwner(const std::string& containerId, const std::string& ifName);

}  // namespace sluice::agent
