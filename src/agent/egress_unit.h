// EgressUnit: the egress feature on this node. Egress, Namespace and Pod events queue keys; its
// reconcile gathers the inputs (policies, this node's pods and their labels, the nodes' IPs,
// fencing, claims), computes the flows with features::egressFlows, installs them one owner per
// object (an egress IP, an Egress, a pod not known yet; see features/egress.h), plans the
// node-side transition (egress_plan.h) and carries it out.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/agent_events.h"
#include "agent/agent_metrics.h"
#include "agent/agent_state_cache.h"
#include "agent/egress_plan.h"
#include "agent/features/egress.h"
#include "agent/flow_sink.h"
#include "agent/ovs_control.h"
#include "agent/pod_network_unit.h"
#include "agent/reconcile_queue.h"
#include "agent/remote_nodes_unit.h"
#include "kube/informer.h"

namespace sluice::agent {

// The owners installed before that `desired` no longer has.
std::vector<std::string> staleOwners(const std::set<std::string>& installed,
                                     const features::FlowsByOwner& desired);

// Makes the owners `installed` names (those set here before) hold exactly `desired`: deletes the
// stale owners, sets the others, and records them in `installed`. A flow may move between owners
// (a pod whose Egress changed, a restart's cached owners): the syncer refuses a key another owner
// still holds, so stale owners go first and an owner refused that way is set again once every
// owner holds its new flows.
void setOwnedFlows(FlowSink& sink, const features::FlowsByOwner& desired,
                   std::set<std::string>& installed);

// The informers the egress unit reads.
struct EgressInformers {
  kube::Informer& egresses;
  kube::Informer& namespaces;
  kube::Informer& pods;  // this node's only
};

class EgressUnit {
 public:
  struct Dependencies {
    TaskLoop& loop;
    const ofrules::Pipeline& pipeline;
    const ofrules::Pipeline& physicalPipeline;  // br-phy's
    const features::NodeNetwork& network;
    FlowSink& integration;
    FlowSink* physical;  // null without br-phy
    AgentStateCache& cache;
    EgressArp& arp;
    OvsControl& control;
    AgentMetrics& metrics;
    const PodNetworkUnit& pods;
    const RemoteNodesUnit& nodes;
    std::function<bool()> holdsNothing;  // EgressFencing::holdsNothing
  };
  explicit EgressUnit(Dependencies dependencies);

  // On the loop, before the first sync: the flows of the last run, so SNAT on this node does not
  // stop while the informers sync.
  void restoreFromCache();
  // Informer handlers queue keys; `events` (may be null) gets the Egresses' warnings.
  void watch(EgressInformers informers, AgentEvents* events);
  // On the loop: reconciles once every informer has synced (the first time), cheap otherwise.
  void poll();
  // On the loop: recomputes everything now (also before a new pod's first packet).
  void reconcile();
  // On the loop: the ArpClaimer made sure nobody else answers for `ip`.
  void claimed(Ipv4 ip);

  bool synced() const { return synced_; }
  const std::set<Ipv4>& heldIps() const { return state_.held; }
  const features::EgressInputs& lastInputs() const { return lastInputs_; }

 private:
  bool informersSynced() const;
  features::EgressInputs gatherInputs();
  void claimOrWait(features::EgressInputs& inputs);
  void apply(const features::EgressInputs& inputs, const features::EgressFlows& flows);
  void reportProblems(const std::vector<features::EgressProblem>& problems);
  void scheduleFlushes();

  Dependencies deps_;
  std::optional<EgressInformers> informers_;
  AgentEvents* events_ = nullptr;
  ReconcileQueue queue_;
  bool synced_ = false;
  EgressNodeState state_;
  std::set<Ipv4> claimed_;  // assigned here, and nobody else answers ARP for them
  features::HandoversSeen handoversSeen_;
  features::HandoverTiming handoverTiming_;
  std::optional<features::HandoverClock::time_point> handoverWake_;
  std::set<features::EgressProblem> reportedProblems_;
  features::EgressInputs lastInputs_;  // for sluicectl
  ConntrackFlushes flushes_;
  bool flushScheduled_ = false;
  std::set<std::string> integrationOwners_;  // the owners set on br-int
  std::set<std::string> physicalOwners_;     // on br-phy
};

}  // namespace sluice::agent
