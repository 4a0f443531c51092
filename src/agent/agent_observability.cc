// The agent's /metrics, /healthz and /readyz listener, and the loop task that refreshes the
// gauges computed from the agent's state. Kept apart from agent.cc, which only calls in.
#include <string>

#include "agent/agent.h"
#include "common/log.h"

namespace sluice::agent {

Result<void> Agent::startObservability() {
  observabilityServer_ =
      std::make_unique<HttpServer>(HttpServerOptions{.listenAddress = config_.listenAddress});
  // The handlers touch only metrics_, which is thread-safe; never the loop's state.
  observabilityServer_->route("GET", "/metrics", metricsHandler(metrics_->registry()));
  auto probe = [](const Verdict& verdict) {
    return HttpResponse{
        verdict.ok ? 200 : 503, "text/plain; charset=utf-8", verdict.message + "\n", {}};
  };
  observabilityServer_->route(
      "GET", "/healthz", [this, probe](const HttpRequest&) { return probe(metrics_->health()); });
  observabilityServer_->route(
      "GET", "/readyz", [this, probe](const HttpRequest&) { return probe(metrics_->readiness()); });
  if (auto started = observabilityServer_->start(); !started)
    return makeError("agent config listenAddress: " + started.error().message);
  SLUICE_LOG(kInfo, "agent") << "/metrics, /healthz and /readyz on " << config_.listenAddress;
  return {};
}

void Agent::refreshObservability() {
  std::map<std::string, std::size_t> byName;
  for (const auto& [id, count] : integrationSyncer_->installedFlowCountByTable()) {
    const auto name = pipeline_.nameById(id);
    byName[name ? std::string(*name) : std::to_string(id)] = count;
  }
  for (const auto& table : pipeline_.tables()) {
    const auto name = pipeline_.nameById(table.id);
    if (name) byName.try_emplace(std::string(*name), 0);  // a declared table may be empty
  }
  metrics_->setFlowCounts(config_.integrationBridge, byName);
  if (physicalSyncer_) {
    // br-phy has no named pipeline: its tables are labelled by number.
    std::map<std::string, std::size_t> physical;
    for (const auto& [id, count] : physicalSyncer_->installedFlowCountByTable())
      physical[std::to_string(id)] = count;
    metrics_->setFlowCounts(config_.physicalBridge, physical);
  }
  metrics_->setLocalPods(podNetwork_->pods().size());
  const auto fencing = fencing_->status();
  metrics_->observeFencing(
      FencingObservation{.fenced = fencing.fenced,
                         .witnesses = fencing.witnesses.size(),
                         .witnessesReachable = fencing.witnessesReachable,
                         .controllerReplicas = fencing.controllerTargets.size(),
                         .probesSent = fencing.probes.probesSent,
                         .probeAcks = fencing.probes.acksReceived,
                         .probesAnswered = fencing.probes.probesAnswered,
                         .malformedDatagrams = fencing.probes.malformed,
                         .reportsSent = fencing.reports.sent,
                         .leaderAcks = fencing.reports.leaderAcks,
                         .standbyAcks = fencing.reports.standbyAcks});
  metrics_->heartbeat(LoopStatus{.pipelineInstalled = ready_,
                                 .informersSynced = egress_->synced() && nodeInformer_->hasSynced(),
                                 .ovsConnected = integrationSyncer_->connection().connected()});
}

}  // namespace sluice::agent
