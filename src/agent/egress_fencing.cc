// Fencing and unfencing of this node's egress IPs (egress_fencing.h).
#include "agent/egress_fencing.h"

#include "api/core.h"
#include "common/log.h"
#include "kube/resource.h"

namespace sluice::agent {

EgressFencing::EgressFencing(Dependencies dependencies, EgressFencingOptions options)
    : deps_(std::move(dependencies)), options_(std::move(options)) {}

EgressFencing::~EgressFencing() { stop(); }

void EgressFencing::stop() {
  // The prober calls into the reporter: it goes first.
  if (prober_) prober_->stop();
  if (liveness_) liveness_->stop();
  if (unfenceReader_.joinable()) unfenceReader_.join();
}

bool EgressFencing::holdsNothing() { return fenced_ || !egressCacheCaughtUp(); }

void EgressFencing::watchNodes(kube::Informer& nodes) {
  nodes_ = &nodes;
  nodeQueue_ = std::make_unique<ReconcileQueue>(
      deps_.loop, [this](const std::set<std::string>& names) { reconcileNodes(names); });
  auto queue = [this](const kube::ObjectPtr& node) { nodeQueue_->add(kube::nameOf(*node)); };
  nodes.addHandlers(kube::EventHandlers{
      .onAdd = queue,
      .onUpdate = [queue](const kube::ObjectPtr&, const kube::ObjectPtr& node) { queue(node); },
      .onDelete = queue});
}

void EgressFencing::reconcileNodes(const std::set<std::string>& names) {
  auto next = peers_;
  for (const auto& name : names) {
    if (name == options_.nodeName) continue;
    const auto node = nodes_->get(name);
    const auto ip = node ? api::Node::decode(*node).internalIp() : std::nullopt;
    if (ip)
      next[name] = PeerEndpoint{.ip = *ip, .port = options_.peerProbePort};
    else
      next.erase(name);  // gone, or no InternalIP to probe (the controller leaves it out too)
  }
  if (next == peers_) return;  // Node status updates: nothing a witness set depends on
  peers_ = std::move(next);
  if (prober_) prober_->setPeers(peers_);
}

void EgressFencing::start() {
  // Until this node may hold, it keeps what status gives it for one fencing timeout (a restart
  // must not interrupt SNAT), and then holds nothing until the leader or its witnesses answer.
  deps_.loop.postAt(TaskLoop::Clock::now() + options_.fencingTimeout, [this] {
    if (heard_) return;
    fenced_ = true;
    deps_.onChange();
  });
  // Other nodes count on this one as a witness whether or not it can ever hold an IP itself.
  prober_ = std::make_unique<PeerProber>(PeerProberOptions{.nodeName = options_.nodeName,
                                                           .port = options_.peerProbePort,
                                                           .witnesses = options_.peerWitnesses,
                                                           .probeInterval = options_.reportInterval,
                                                           .onAck = [this] {
                                                             if (auto* liveness = acksTo_.load())
                                                               liveness->reevaluate();
                                                           }});
  if (auto started = prober_->start(); !started) {
    SLUICE_LOG(kError, "agent") << started.error().message
                                << "; this node neither vouches for its peers nor counts on them";
    prober_.reset();
  } else {
    prober_->setPeers(peers_);
  }
  if (options_.controllerAddress.empty() && options_.fallbackAddress.empty()) {
    SLUICE_LOG(kWarning, "agent")
        << "no controller address (controllerAddress, or the " << options_.controllerService
        << " Service's environment): this node will never be an egress node";
    return;
  }
  auto liveness = std::make_unique<LivenessReporter>(
      LivenessReporterOptions{.nodeName = options_.nodeName,
                              .controllerAddress = options_.controllerAddress,
                              .fallbackAddress = options_.fallbackAddress,
                              .reportInterval = options_.reportInterval,
                              .fencingTimeout = options_.fencingTimeout,
                              .witnesses = prober_.get(),
                              .onFenced =
                                  [this] {
                                    fenced_ = true;
                                    deps_.loop.post([this] { deps_.onChange(); });
                                  },
                              .onUnfenced =
                                  [this] {
                                    heard_ = true;
                                    deps_.loop.post([this] { startUnfencing(); });
                                  }});
  if (auto started = liveness->start(); !started) {
    SLUICE_LOG(kWarning, "agent") << "liveness reports: " << started.error().message;
    return;
  }
  liveness_ = std::move(liveness);
  acksTo_ = liveness_.get();
}

std::string EgressFencing::controllerAddress() const {
  if (liveness_) {
    if (auto leader = liveness_->currentTarget(); !leader.empty()) return leader;
    if (auto targets = liveness_->targets(); !targets.empty()) return targets.front();
  }
  return options_.controllerAddress.empty() ? options_.fallbackAddress : options_.controllerAddress;
}

FencingStatus EgressFencing::status() const {
  FencingStatus status;
  status.fenced = fenced_;
  if (liveness_) {
    status.rule = holdingRuleName(liveness_->holdingRule());
    status.leader = liveness_->currentTarget();
    status.controllerTargets = liveness_->targets();
    status.reports = liveness_->stats();
  }
  if (prober_) {
    status.witnesses = prober_->snapshot().declared;
    status.witnessesReachable = prober_->reachable(options_.fencingTimeout);
    status.probes = prober_->stats();
  }
  return status;
}

void EgressFencing::startUnfencing() {
  if (!fenced_ || unfencing_) {
    if (!fenced_) deps_.onChange();
    return;
  }
  // Back from a partition, the Egress cache may still be from before it: an IP that moved away
  // meanwhile would be taken back (and GARPed) for as long as the watch takes to catch up. So
  // read the Egresses now, and own nothing until the cache is at least that new.
  unfencing_ = true;
  if (unfenceReader_.joinable()) unfenceReader_.join();
  unfenceReader_ = std::thread([this] {
    auto listed = deps_.client.list(kube::resources::kEgresses, "");
    std::map<std::string, std::string> barrier;
    if (listed)
      for (const auto& item : listed->value("items", nlohmann::json::array()))
        barrier[kube::keyOf(item)] = kube::resourceVersionOf(item);
    deps_.loop.post([this, ok = listed.ok(), barrier = std::move(barrier)] {
      unfencing_ = false;
      if (!ok) {  // it may hold but the API server does not answer: try again soon
        deps_.loop.postAt(TaskLoop::Clock::now() + std::chrono::milliseconds(200),
                          [this] { startUnfencing(); });
        return;
      }
      if (!heard_ || (liveness_ && liveness_->fenced())) return;  // fenced again meanwhile
      barrier_ = barrier;
      fenced_ = false;
      deps_.onChange();
    });
  });
}

bool EgressFencing::egressCacheCaughtUp() {
  std::erase_if(barrier_, [&](const auto& entry) {
    const auto cached = deps_.egresses.get(entry.first);
    // Gone from the cache: deleted since (or not seen yet, and then it gives us nothing).
    return !cached || kube::versionAtLeast(kube::resourceVersionOf(*cached), entry.second);
  });
  return barrier_.empty();
}

}  // namespace sluice::agent
