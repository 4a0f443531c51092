// The egress unit (egress_unit.h).
#include "agent/egress_unit.h"

#include "api/core.h"
#include "common/log.h"
#include "kube/label_selector.h"
#include "kube/resource.h"

namespace sluice::agent {

std::vector<std::string> staleOwners(const std::set<std::string>& installed,
                                     const features::FlowsByOwner& desired) {
  std::vector<std::string> stale;
  for (const auto& owner : installed)
    if (!desired.contains(owner)) stale.push_back(owner);
  return stale;
}

void setOwnedFlows(FlowSink& sink, const features::FlowsByOwner& desired,
                   std::set<std::string>& installed) {
  for (const auto& owner : staleOwners(installed, desired)) sink.deleteOwner(owner);
  std::vector<std::string> refused;
  for (const auto& [owner, flows] : desired)
    if (!sink.setFlows(owner, flows)) refused.push_back(owner);
  for (const auto& owner : refused) setFlowsOrLog(sink, owner, desired.at(owner));
  installed.clear();
  for (const auto& [owner, flows] : desired) installed.insert(owner);
}

EgressUnit::EgressUnit(Dependencies dependencies)
    : deps_(std::move(dependencies)),
      queue_(deps_.loop, [this](const std::set<std::string>&) { reconcile(); }) {}

void EgressUnit::restoreFromCache() {
  // A restarted agent re-installs the egress flows it had; the first reconcile replaces them.
  auto cached = deps_.cache.loadEgress();
  if (!cached) return;
  setOwnedFlows(deps_.integration, cached->integration, integrationOwners_);
  // Without the ARP flows: the cache may be older than a move of the IP to another node (this
  // agent was dead long enough), and answering ARP is owning. Until the informers have synced
  // this node SNATs what still comes to it and answers no ARP; a few hundred ms without
  // answers cost nothing, as neighbours keep the floating MAC.
  for (auto& [owner, flows] : cached->physical)
    std::erase_if(flows, [](const ofrules::Flow& flow) { return flow.match.rfind("arp", 0) == 0; });
  if (deps_.physical) setOwnedFlows(*deps_.physical, cached->physical, physicalOwners_);
  state_.served = cached->served;
  std::size_t restored = 0;
  for (const auto& [owner, flows] : cached->integration) restored += flows.size();
  SLUICE_LOG(kInfo, "agent") << "restored " << restored << " egress flows of "
                             << cached->integration.size() << " owners for " << state_.served.size()
                             << " egress IPs from the local cache (no ARP until synced)";
}

void EgressUnit::watch(EgressInformers informers, AgentEvents* events) {
  informers_.emplace(informers);
  events_ = events;
  // Every Egress, Namespace or local Pod change may change what this node does: one reconcile
  // for a burst of them.
  for (auto* informer : {&informers.egresses, &informers.namespaces, &informers.pods}) {
    const std::string kind = informer == &informers.egresses     ? "egress/"
                             : informer == &informers.namespaces ? "namespace/"
                                                                 : "pod/";
    auto queue = [this, kind](const kube::ObjectPtr& object) {
      queue_.add(kind + kube::keyOf(*object));
    };
    informer->addHandlers(kube::EventHandlers{
        .onAdd = queue,
        .onUpdate = [queue](const kube::ObjectPtr&, const kube::ObjectPtr& now) { queue(now); },
        .onDelete = queue});
  }
}

bool EgressUnit::informersSynced() const {
  return informers_ && informers_->egresses.hasSynced() && informers_->namespaces.hasSynced() &&
         informers_->pods.hasSynced();
}

void EgressUnit::poll() {
  // The informers' initial adds arrive before they report synced; reconcile once they all have.
  if (synced_ || !informersSynced()) return;
  synced_ = true;
  reconcile();
}

void EgressUnit::claimed(Ipv4 ip) {
  claimed_.insert(ip);
  reconcile();
}

features::EgressInputs EgressUnit::gatherInputs() {
  features::EgressInputs inputs;
  inputs.fenced = deps_.holdsNothing();
  for (const auto& object : informers_->egresses.list()) {
    auto policy = features::decodeEgressPolicy(*object);
    if (!policy) {
      SLUICE_LOG(kWarning, "egress") << policy.error().message;
      continue;
    }
    inputs.policies.push_back(std::move(*policy));
  }
  for (const auto& object : informers_->namespaces.list()) {
    auto ns = api::Namespace::decode(*object);
    inputs.namespaceLabels[ns.metadata.name] = std::move(ns.metadata.labels);
  }
  for (const auto& [owner, entry] : deps_.pods.pods()) {
    const auto& ns = entry.podNamespace;
    const auto object = informers_->pods.get(ns.empty() ? entry.podName : ns + "/" + entry.podName);
    inputs.pods.push_back(
        features::EgressPod{owner, ns, entry.podName,
                            object ? api::Pod::decode(*object).metadata.labels : kube::Labels{},
                            entry.pod.ip, object != nullptr || ns.empty()});
  }
  inputs.nodeIps[deps_.network.nodeName] = deps_.network.nodeIp;
  for (const auto& [name, node] : deps_.nodes.nodes()) inputs.nodeIps[name] = node.nodeIp;
  return inputs;
}

void EgressUnit::claimOrWait(features::EgressInputs& inputs) {
  const auto now = features::HandoverClock::now();
  const auto handovers = features::resolveHandovers(inputs.policies, deps_.network.nodeName,
                                                    handoversSeen_, now, handoverTiming_);
  inputs.passiveIps = handovers.passiveIps;
  // Own an IP only once no other node answers for it (ArpClaimer); until then, serve it passively.
  std::set<Ipv4> assignedHere;
  if (!inputs.fenced)
    for (const auto& policy : inputs.policies)
      for (const auto& assignment : policy.assignments)
        if (assignment.node == deps_.network.nodeName) assignedHere.insert(assignment.ip);
  std::erase_if(claimed_, [&](Ipv4 ip) { return !assignedHere.contains(ip); });
  if (deps_.arp.claims())
    for (const auto ip : assignedHere)
      if (!claimed_.contains(ip)) inputs.claimingIps.insert(ip);
  if (handovers.nextChange && (!handoverWake_ || *handoverWake_ != *handovers.nextChange)) {
    handoverWake_ = handovers.nextChange;
    deps_.loop.postAt(*handovers.nextChange, [this] { reconcile(); });
  }
}

void EgressUnit::reconcile() {
  if (!informersSynced()) return;
  auto inputs = gatherInputs();
  claimOrWait(inputs);
  auto flows = features::egressFlows(deps_.pipeline, deps_.physicalPipeline, deps_.network, inputs);
  lastInputs_ = inputs;
  if (!flows) {
    SLUICE_LOG(kError, "egress") << flows.error().message;
    return;
  }
  reportProblems(flows->problems);
  SLUICE_LOG(kDebug, "egress") << inputs.policies.size() << " Egresses, " << inputs.pods.size()
                               << " local pods, " << flows->integration.size() << " flows, "
                               << flows->heldIps.size() << " IPs held, " << flows->passiveIps.size()
                               << " passive" << (inputs.fenced ? " (fenced)" : "");
  apply(inputs, *flows);
}

void EgressUnit::apply(const features::EgressInputs& inputs, const features::EgressFlows& flows) {
  setOwnedFlows(deps_.integration, flows.integrationByOwner, integrationOwners_);
  if (deps_.physical) setOwnedFlows(*deps_.physical, flows.physicalByOwner, physicalOwners_);
  auto integration = deps_.integration.sync();
  auto physical = deps_.physical ? deps_.physical->sync() : Result<void>();
  for (const auto* synced : {&integration, &physical})
    if (!*synced) SLUICE_LOG(kWarning, "egress") << "sync: " << synced->error().message;
  // Only now that the bundle is sent: a GARP must not point neighbours here before the flows are.
  const auto plan = planEgressTransition(state_, flows, inputs.claimingIps);
  executeEgressTransition(plan, deps_.arp, flushes_);
  scheduleFlushes();
  state_ = plan.next;
  deps_.cache.saveEgress(CachedEgress{.integration = flows.integrationByOwner,
                                      .physical = flows.physicalByOwner,
                                      .served = state_.served},
                         state_.held);
  deps_.metrics.observeHeldEgressIps(state_.held);
}

void EgressUnit::scheduleFlushes() {
  // After the work that asked for them (a CNI ADD waits for that work, not for these).
  if (flushes_.empty() || flushScheduled_) return;
  flushScheduled_ = true;
  deps_.loop.post([this] {
    flushScheduled_ = false;
    flushes_.run(deps_.control);
  });
}

void EgressUnit::reportProblems(const std::vector<features::EgressProblem>& problems) {
  // Each warning once while it lasts: a reconcile runs on every pod or Egress change.
  std::set<features::EgressProblem> now;
  for (const auto& problem : problems) {
    if (!problem.warning) {
      SLUICE_LOG(kDebug, "egress") << problem.message;
      continue;
    }
    now.insert(problem);
    if (reportedProblems_.contains(problem)) continue;
    SLUICE_LOG(kWarning, "egress") << problem.message;
    if (!events_) continue;
    if (auto egress = informers_->egresses.get(problem.egress))
      events_->record(*egress, kube::EventType::kWarning, problem.reason, problem.message);
  }
  reportedProblems_ = std::move(now);
}

}  // namespace sluice::agent
