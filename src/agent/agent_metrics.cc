// Agent metric definitions (Antrea's names where the concept is the same, with the sluice_agent_
// prefix and Prometheus units) and the pure pieces behind the counters and the probes.
#include "agent/agent_metrics.h"

#include <algorithm>

namespace sluice::agent {
namespace {

const prometheus::Histogram::BucketBoundaries kSyncBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

}  // namespace

EgressIpChanges diffEgressIps(const std::set<Ipv4>& before, const std::set<Ipv4>& after) {
  EgressIpChanges changes;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(changes.takenOver));
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                      std::back_inserter(changes.released));
  return changes;
}

std::uint64_t counterGrowth(std::uint64_t previous, std::uint64_t current) {
  return current >= previous ? current - previous : current;
}

Verdict healthVerdict(const HealthInputs& inputs, std::chrono::milliseconds maxLoopStall) {
  if (!inputs.status.pipelineInstalled) return {true, "ok: starting"};
  if (!inputs.status.ovsConnected)
    return {false,
            "the OpenFlow connection to the integration bridge is down; is ovs-vswitchd up?"};
  if (inputs.sinceHeartbeat > maxLoopStall)
    return {false, "the agent's OVS loop has not run for " +
                       std::to_string(inputs.sinceHeartbeat.count()) + " ms"};
  return {true, "ok"};
}

Verdict readinessVerdict(const HealthInputs& inputs) {
  if (!inputs.status.pipelineInstalled) return {false, "the first flow install is not done yet"};
  if (!inputs.status.informersSynced) return {false, "the informers have not synced yet"};
  return {true, "ok"};
}

AgentMetrics::AgentMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  using namespace prometheus;
  auto& registry = *registry_;
  flowCount_ = &BuildGauge()
                    .Name("sluice_agent_ovs_flow_count")
                    .Help("Flows installed in each OVS table, by bridge and table name")
                    .Register(registry);
  flowOps_ = &BuildCounter()
                  .Name("sluice_agent_ovs_flow_ops_total")
                  .Help("Flow adds and deletes sent to OVS in committed bundles, by bridge")
                  .Register(registry);
  flowOpErrors_ = &BuildCounter()
                       .Name("sluice_agent_ovs_flow_ops_errors_total")
                       .Help("Failed flow syncs and flows or groups OVS refused, by bridge")
                       .Register(registry);
  flowOpLatency_ = &BuildHistogram()
                        .Name("sluice_agent_ovs_flow_ops_latency_seconds")
                        .Help(
                            "One flow sync that sent or failed to send a bundle, by bridge: "
                            "encode, send, OVS commit and barrier")
                        .Register(registry);
  reconnects_ = &BuildCounter()
                     .Name("sluice_agent_ovs_reconnects_total")
                     .Help("OpenFlow reconnections to a bridge (ovs-vswitchd restarted)")
                     .Register(registry);
  ovsConnectedGauge_ = &BuildGauge()
                            .Name("sluice_agent_ovs_connected")
                            .Help("1 while the OpenFlow connection to the integration bridge is up")
                            .Register(registry)
                            .Add({});
  localPods_ = &BuildGauge()
                    .Name("sluice_agent_local_pod_count")
                    .Help("Pods attached to OVS on this node")
                    .Register(registry)
                    .Add({});
  services_ = &BuildGauge()
                   .Name("sluice_agent_services")
                   .Help("Services this node's proxy serves (0 when kube-proxy serves them)")
                   .Register(registry)
                   .Add({});
  serviceEndpoints_ = &BuildGauge()
                           .Name("sluice_agent_service_endpoints")
                           .Help(
                               "Endpoints of the Service ports this node's proxy serves, each "
                               "endpoint of each port once")
                           .Register(registry)
                           .Add({});
  egressIpsOwned_ = &BuildGauge()
                         .Name("sluice_agent_egress_ips_owned")
                         .Help("Egress IPs this node holds now (SNAT and ARP)")
                         .Register(registry)
                         .Add({});
  takeovers_ = &BuildCounter()
                    .Name("sluice_agent_egress_ip_takeovers_total")
                    .Help("Egress IPs this node took over (each followed by gratuitous ARP)")
                    .Register(registry)
                    .Add({});
  releases_ = &BuildCounter()
                   .Name("sluice_agent_egress_ip_releases_total")
                   .Help("Egress IPs this node let go (moved, deleted, or fenced)")
                   .Register(registry)
                   .Add({});
  fenced_ = &BuildGauge()
                 .Name("sluice_agent_fenced")
                 .Help(
                     "1 while the node holds no egress IP because neither the controller's leader "
                     "nor a majority of its peer witnesses acknowledged it within fencingTimeout "
                     "(or it has not caught up since)")
                 .Register(registry)
                 .Add({});
  witnesses_ = &BuildGauge()
                    .Name("sluice_agent_peer_witnesses")
                    .Help("Peer witnesses this node counts on (its declared set; 0: one node)")
                    .Register(registry)
                    .Add({});
  witnessesReachable_ =
      &BuildGauge()
           .Name("sluice_agent_peer_witnesses_reachable")
           .Help("Peer witnesses that acknowledged a probe sent within fencingTimeout")
           .Register(registry)
           .Add({});
  controllerReplicas_ = &BuildGauge()
                             .Name("sluice_agent_controller_replicas")
                             .Help("Controller replicas this agent sends liveness reports to")
                             .Register(registry)
                             .Add({});
  probesSent_ = &BuildCounter()
                     .Name("sluice_agent_peer_probes_sent_total")
                     .Help("UDP probes sent to peer witnesses")
                     .Register(registry)
                     .Add({});
  probeAcks_ = &BuildCounter()
                    .Name("sluice_agent_peer_probe_acks_total")
                    .Help("Acknowledgements of this node's probes received from its witnesses")
                    .Register(registry)
                    .Add({});
  probesAnswered_ = &BuildCounter()
                         .Name("sluice_agent_peer_probes_answered_total")
                         .Help("Probes from other nodes this node acknowledged (as a witness)")
                         .Register(registry)
                         .Add({});
  malformedDatagrams_ = &BuildCounter()
                             .Name("sluice_agent_peer_malformed_total")
                             .Help("Datagrams on the probe port that were no valid probe or ack")
                             .Register(registry)
                             .Add({});
  reports_ = &BuildCounter()
                  .Name("sluice_agent_liveness_reports_total")
                  .Help(
                      "Liveness reports sent to controller replicas, by answer: leader, standby, "
                      "or other (failed, redirected)")
                  .Register(registry);
  ready_ = &BuildGauge()
                .Name("sluice_agent_ready")
                .Help("1 when /readyz answers 200: flows installed and informers synced")
                .Register(registry)
                .Add({});
}

std::function<void(const ofrules::SyncCounters&, bool)> AgentMetrics::syncObserver(
    const std::string& bridge) {
  auto& ops = flowOps_->Add({{"bridge", bridge}});
  auto& errors = flowOpErrors_->Add({{"bridge", bridge}});
  auto& latency = flowOpLatency_->Add({{"bridge", bridge}}, kSyncBuckets);
  auto& reconnects = reconnects_->Add({{"bridge", bridge}});
  return [this, bridge, &ops, &errors, &latency, &reconnects](const ofrules::SyncCounters& counters,
                                                              bool ok) {
    std::lock_guard lock(mutex_);
    auto& last = lastCounters_[bridge];
    ops.Increment(static_cast<double>(counterGrowth(last.flowModsTotal, counters.flowModsTotal)));
    errors.Increment(static_cast<double>(counterGrowth(last.errors, counters.errors)));
    reconnects.Increment(static_cast<double>(counterGrowth(last.reconnects, counters.reconnects)));
    // A sync with nothing to send costs nothing; counting it would hide the real latency.
    if (!ok || counters.bundlesSent != last.bundlesSent)
      latency.Observe(std::chrono::duration<double>(counters.lastSyncDuration).count());
    last = counters;
  };
}

void AgentMetrics::setFlowCounts(const std::string& bridge,
                                 const std::map<std::string, std::size_t>& byTable) {
  std::lock_guard lock(mutex_);
  auto& known = flowCountTables_[bridge];
  for (const auto& table : known)
    if (!byTable.contains(table)) flowCount_->Add({{"bridge", bridge}, {"table", table}}).Set(0);
  for (const auto& [table, count] : byTable) {
    flowCount_->Add({{"bridge", bridge}, {"table", table}}).Set(static_cast<double>(count));
    known.insert(table);
  }
}

void AgentMetrics::observeHeldEgressIps(const std::set<Ipv4>& held) {
  std::lock_guard lock(mutex_);
  const auto changes = diffEgressIps(heldEgressIps_, held);
  takeovers_->Increment(static_cast<double>(changes.takenOver.size()));
  releases_->Increment(static_cast<double>(changes.released.size()));
  egressIpsOwned_->Set(static_cast<double>(held.size()));
  heldEgressIps_ = held;
}

void AgentMetrics::observeFencing(const FencingObservation& observation) {
  std::lock_guard lock(mutex_);
  auto& last = lastFencing_;
  auto grow = [](prometheus::Counter& counter, std::uint64_t previous, std::uint64_t current) {
    counter.Increment(static_cast<double>(counterGrowth(previous, current)));
  };
  fenced_->Set(observation.fenced ? 1 : 0);
  witnesses_->Set(static_cast<double>(observation.witnesses));
  witnessesReachable_->Set(static_cast<double>(observation.witnessesReachable));
  controllerReplicas_->Set(static_cast<double>(observation.controllerReplicas));
  grow(*probesSent_, last.probesSent, observation.probesSent);
  grow(*probeAcks_, last.probeAcks, observation.probeAcks);
  grow(*probesAnswered_, last.probesAnswered, observation.probesAnswered);
  grow(*malformedDatagrams_, last.malformedDatagrams, observation.malformedDatagrams);
  const auto answered = [](const FencingObservation& o) { return o.leaderAcks + o.standbyAcks; };
  const auto other = [&](const FencingObservation& o) {
    return o.reportsSent >= answered(o) ? o.reportsSent - answered(o) : 0;
  };
  grow(reports_->Add({{"answer", "leader"}}), last.leaderAcks, observation.leaderAcks);
  grow(reports_->Add({{"answer", "standby"}}), last.standbyAcks, observation.standbyAcks);
  grow(reports_->Add({{"answer", "other"}}), other(last), other(observation));
  last = observation;
}

void AgentMetrics::heartbeat(const LoopStatus& status) {
  pipelineInstalled_ = status.pipelineInstalled;
  informersSynced_ = status.informersSynced;
  ovsConnected_ = status.ovsConnected;
  lastHeartbeat_ = Clock::now().time_since_epoch().count();
  ovsConnectedGauge_->Set(status.ovsConnected ? 1 : 0);
  ready_->Set(readinessVerdict(healthInputs()).ok ? 1 : 0);
}

HealthInputs AgentMetrics::healthInputs() const {
  const auto last = lastHeartbeat_.load();
  const auto since =
      last == 0 ? Clock::duration(0) : Clock::now() - Clock::time_point(Clock::duration(last));
  return HealthInputs{
      .status = {.pipelineInstalled = pipelineInstalled_,
                 .informersSynced = informersSynced_,
                 .ovsConnected = ovsConnected_},
      .sinceHeartbeat = std::chrono::duration_cast<std::chrono::milliseconds>(since)};
}

Verdict AgentMetrics::health() const { return healthVerdict(healthInputs(), kMaxLoopStall); }
Verdict AgentMetrics::readiness() const { return readinessVerdict(healthInputs()); }

}  // namespace sluice::agent
