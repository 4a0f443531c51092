// sluice-agent's Prometheus metrics (served at /metrics) and the verdicts of /healthz and /readyz.
// The agent's loop thread writes; HTTP threads only read (prometheus-cpp is thread-safe and the
// health inputs are atomics). Metric names and meanings: docs/metrics.md.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "common/ipv4.h"
#include "ofrules/flow_syncer.h"

namespace sluice::agent {

// Which egress IPs this node took over and which it let go, from one reconcile to the next.
struct EgressIpChanges {
  std::vector<Ipv4> takenOver;
  std::vector<Ipv4> released;
};
EgressIpChanges diffEgressIps(const std::set<Ipv4>& before, const std::set<Ipv4>& after);

// How much a cumulative counter grew; a counter that went back (a new syncer) grew by its value.
std::uint64_t counterGrowth(std::uint64_t previous, std::uint64_t current);

// Fencing, peer probes and liveness reports, as the agent sees them now. Counts are cumulative
// (since the start).
struct FencingObservation {
  bool fenced = true;
  std::size_t witnesses = 0;           // the set the node declares
  std::size_t witnessesReachable = 0;  // acknowledged a probe sent within fencingTimeout
  std::size_t controllerReplicas = 0;  // the replicas it reports to
  std::uint64_t probesSent = 0;
  std::uint64_t probeAcks = 0;
  std::uint64_t probesAnswered = 0;
  std::uint64_t malformedDatagrams = 0;
  std::uint64_t reportsSent = 0;
  std::uint64_t leaderAcks = 0;
  std::uint64_t standbyAcks = 0;
};

// What the agent's loop thread reports on each heartbeat.
struct LoopStatus {
  bool pipelineInstalled = false;  // the first full flow install is done
  bool informersSynced = false;    // Nodes, Egresses, Namespaces and this node's Pods
  bool ovsConnected = false;       // the integration bridge's OpenFlow connection is up
};

struct HealthInputs {
  LoopStatus status;
  // Since the agent's loop thread last reported; a stuck loop serves no CNI request.
  std::chrono::milliseconds sinceHeartbeat{0};
};

struct Verdict {
  bool ok = false;
  std::string message;  // one line, for the probe's response body
};

// /healthz: is the process worth keeping? Starting up is healthy (the agent waits for its Node
// and OVS with deadlines of its own); afterwards the OVS connection must be up and the loop alive.
Verdict healthVerdict(const HealthInputs& inputs, std::chrono::milliseconds maxLoopStall);
// /readyz: may the node take pods? The first full flow install is done and the informers synced.
Verdict readinessVerdict(const HealthInputs& inputs);

class AgentMetrics {
 public:
  static constexpr std::chrono::milliseconds kMaxLoopStall{10'000};

  AgentMetrics();
  prometheus::Registry& registry() { return *registry_; }

  // A FlowSyncerOptions::onSync for the syncer of `bridge`: flow ops, errors, latency, reconnects.
  std::function<void(const ofrules::SyncCounters&, bool)> syncObserver(const std::string& bridge);
  // Installed flows by table name; tables absent from `byTable` drop to 0.
  void setFlowCounts(const std::string& bridge, const std::map<std::string, std::size_t>& byTable);
  void setLocalPods(std::size_t count) { localPods_->Set(static_cast<double>(count)); }
  // After every service reconcile: the Services this node's proxy serves, and their endpoints
  // (each endpoint of each Service port once).
  void setServices(std::size_t services, std::size_t endpoints) {
    services_->Set(static_cast<double>(services));
    serviceEndpoints_->Set(static_cast<double>(endpoints));
  }
  void setFenced(bool fenced) { fenced_->Set(fenced ? 1 : 0); }
  // Now and then (counters grow by what changed since the last call).
  void observeFencing(const FencingObservation& observation);
  // After every egress reconcile, with the IPs this node now holds.
  void observeHeldEgressIps(const std::set<Ipv4>& held);

  // From the loop thread, at least every few seconds.
  void heartbeat(const LoopStatus& status);
  Verdict health() const;
  Verdict readiness() const;

 private:
  using Clock = std::chrono::steady_clock;
  HealthInputs healthInputs() const;

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>* flowCount_;
  prometheus::Family<prometheus::Counter>* flowOps_;
  prometheus::Family<prometheus::Counter>* flowOpErrors_;
  prometheus::Family<prometheus::Histogram>* flowOpLatency_;
  prometheus::Family<prometheus::Counter>* reconnects_;
  prometheus::Gauge* ovsConnectedGauge_;
  prometheus::Gauge* localPods_;
  prometheus::Gauge* services_;
  prometheus::Gauge* serviceEndpoints_;
  prometheus::Gauge* egressIpsOwned_;
  prometheus::Counter* takeovers_;
  prometheus::Counter* releases_;
  prometheus::Gauge* fenced_;
  prometheus::Gauge* witnesses_;
  prometheus::Gauge* witnessesReachable_;
  prometheus::Gauge* controllerReplicas_;
  prometheus::Counter* probesSent_;
  prometheus::Counter* probeAcks_;
  prometheus::Counter* probesAnswered_;
  prometheus::Counter* malformedDatagrams_;
  prometheus::Family<prometheus::Counter>* reports_;
  prometheus::Gauge* ready_;

  std::mutex mutex_;  // guards the three below (today one thread writes them; cheap insurance)
  std::map<std::string, ofrules::SyncCounters> lastCounters_;     // by bridge
  std::map<std::string, std::set<std::string>> flowCountTables_;  // by bridge
  std::set<Ipv4> heldEgressIps_;
  FencingObservation lastFencing_;

  std::atomic<bool> pipelineInstalled_{false};
  std::atomic<bool> informersSynced_{false};
  std::atomic<bool> ovsConnected_{false};
  std::atomic<Clock::rep> lastHeartbeat_{0};
};

}  // namespace sluice::agent
