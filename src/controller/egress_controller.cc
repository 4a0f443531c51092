// EgressController: thin I/O around observe -> planSync -> StatusWriter. Handlers only enqueue;
// the single worker recomputes everything, because allocation is global.
#include "controller/egress_controller.h"

#include "common/log.h"
#include "kube/resource.h"

namespace sluice::controller {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

long millis(Clock::duration duration) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(duration).count());
}

const json& statusOf(const json& object) {
  static const json kEmpty = json::object();
  auto it = object.find("status");
  return it != object.end() && it->is_object() ? *it : kEmpty;
}

// Like the agent's: after an API server outage the informers are back within a second.
constexpr kube::BackoffOptions kInformerBackoff{.initial = std::chrono::milliseconds(100),
                                                .max = std::chrono::milliseconds(1000),
                                                .factor = 2.0,
                                                .jitter = 0.2};

kube::EventHandlers enqueueHandlers(const std::function<void()>& enqueue) {
  return kube::EventHandlers{
      .onAdd = [enqueue](const kube::ObjectPtr&) { enqueue(); },
      .onUpdate = [enqueue](const kube::ObjectPtr&, const kube::ObjectPtr&) { enqueue(); },
      .onDelete = [enqueue](const kube::ObjectPtr&) { enqueue(); },
  };
}

}  // namespace

EgressController::EgressController(kube::Client& client, EgressControllerOptions options)
    : client_(client),
      options_(std::move(options)),
      events_(client, kube::EventRecorderOptions{.component = "sluice-controller",
                                                 .host = options_.identity}),
      writer_(client) {
  liveness_ = std::make_unique<LivenessService>(
      client_, metrics_,
      LivenessServiceOptions{.config = options_.config,
                             .leaseNamespace = options_.leaseNamespace,
                             .identity = options_.identity,
                             .onChange = [this] { enqueue(); },
                             .isLeader = [this] { return holdsLeadership(); },
                             .observedLease = [this]() -> std::optional<json> {
                               if (!elector_) return std::nullopt;
                               return elector_->observedLease();
                             }});
}

EgressController::~EgressController() { stop(); }

void EgressController::buildServer(const std::string& listen) {
  server_ = std::make_unique<HttpServer>(HttpServerOptions{.listenAddress = listen, .threads = 2});
  liveness_->addRoutes(*server_);
  server_->route("GET", "/healthz", [](const HttpRequest&) {
    return HttpResponse{200, "text/plain", "ok\n", {}};
  });
  // Leader and standby alike are ready once their caches are: a standby takes over with no
  // relist, and a leader-only readiness would stall every rollout.
  server_->route("GET", "/readyz", [this](const HttpRequest&) {
    const bool synced = egresses_->hasSynced() && pools_->hasSynced() && nodes_->hasSynced();
    return synced ? HttpResponse{200, "text/plain", leading_ ? "ok: leader\n" : "ok: standby\n", {}}
                  : HttpResponse{503, "text/plain", "informers not synced\n", {}};
  });
  server_->route("GET", "/metrics", metricsHandler(metrics_.registry()));
}

Result<void> EgressController::start() {
  if (options_.identity.empty())
    return makeError("sluice-controller: no identity; pass --pod-name or set POD_NAME");
  const std::string listen =
      options_.listenAddress.empty() ? options_.config.listenAddress : options_.listenAddress;
  // Built (not started) before the server, whose /readyz reads them from its own threads.
  egresses_ = std::make_unique<kube::Informer>(
      client_,
      kube::InformerOptions{.resource = kube::resources::kEgresses, .backoff = kInformerBackoff});
  pools_ = std::make_unique<kube::Informer>(
      client_, kube::InformerOptions{.resource = kube::resources::kExternalIpPools,
                                     .backoff = kInformerBackoff});
  nodes_ = std::make_unique<kube::Informer>(
      client_,
      kube::InformerOptions{.resource = kube::resources::kNodes, .backoff = kInformerBackoff});
  // Built before the server too, whose handlers ask it whether the Lease is still ours.
  if (options_.config.leaderElection.enabled) buildElector();
  buildServer(listen);
  if (auto started = server_->start(); !started) return started.error();
  if (options_.advertiseAddress.empty()) {
    auto hostPort = splitHostPort(listen);
    std::string host = hostPort ? hostPort->first : "127.0.0.1";
    if (host == "0.0.0.0") host = "127.0.0.1";
    options_.advertiseAddress = host + ":" + std::to_string(server_->port());
  } else if (options_.advertiseAddress.back() == ':') {
    options_.advertiseAddress += std::to_string(server_->port());
  }
  liveness_->setAdvertiseAddress(options_.advertiseAddress);

  for (auto* informer : {egresses_.get(), pools_.get(), nodes_.get()}) {
    informer->addHandlers(enqueueHandlers([this] { enqueue(); }));
    informer->start();
  }
  worker_ = std::thread([this] { workerLoop(); });
  liveness_->start();

  if (!options_.config.leaderElection.enabled) {
    startedLeading();
    return {};
  }
  return elector_->start();
}

void EgressController::buildElector() {
  const auto& election = options_.config.leaderElection;
  elector_ = std::make_unique<kube::LeaderElector>(
      client_, kube::LeaderElectionOptions{.leaseNamespace = options_.leaseNamespace,
                                           .leaseName = election.leaseName,
                                           .identity = options_.identity,
                                           .leaseDuration = election.leaseDuration,
                                           .renewDeadline = election.renewDeadline,
                                           .retryPeriod = election.retryPeriod,
                                           .onStartedLeading = [this] { startedLeading(); },
                                           .onStoppedLeading = [this] { stoppedLeading(); },
                                           .onNewLeader =
                                               [this](const std::string& identity) {
                                                 SLUICE_LOG(kInfo, "controller")
                                                     << "leader is " << identity;
                                                 liveness_->forgetLeader();
                                               },
                                           .releaseOnStop = true});
}

void EgressController::stop() {
  if (stopping_.exchange(true)) return;
  // Stop writing first, then release the Lease (so the standby need not wait for its expiry):
  // no write of ours can land after a successor has started.
  leading_ = false;
  queue_.shutDown();
  if (worker_.joinable()) worker_.join();
  liveness_->stop();
  if (elector_) elector_->stop();
  for (auto* informer : {egresses_.get(), pools_.get(), nodes_.get()})
    if (informer) informer->stop();
  if (server_) server_->stop();
}

void EgressController::startedLeading() {
  liveness_->startTerm();
  {
    std::lock_guard lock(termMutex_);
    written_.clear();
    reportedProblems_.clear();
  }
  leading_ = true;
  liveness_->wake();
  metrics_.isLeader().Set(1);
  SLUICE_LOG(kInfo, "controller") << options_.identity << " is the leader (epoch "
                                  << liveness_->epoch() << ", reports at "
                                  << options_.advertiseAddress << ")";
  if (elector_) publishLeaderAddress();
  enqueue();
}

void EgressController::publishLeaderAddress() {
  // GET + PUT (RBAC grants get/update on our Lease, not patch); a renewal may race: retry.
  std::string problem;
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto lease = client_.get(kube::resources::kLeases, options_.leaseNamespace,
                             options_.config.leaderElection.leaseName);
    if (!lease) {
      problem = lease.error().message;
      continue;
    }
    (*lease)["metadata"]["annotations"][kLeaderAddressAnnotation] = options_.advertiseAddress;
    auto published = client_.update(kube::resources::kLeases, *lease);
    if (published) return;
    problem = published.error().message;
  }
  SLUICE_LOG(kWarning, "controller") << "publishing the leader address on the Lease: " << problem;
}

void EgressController::stoppedLeading() {
  leading_ = false;
  metrics_.isLeader().Set(0);
  SLUICE_LOG(kWarning, "controller")
      << options_.identity << " stopped leading; writes stop, reports are still tracked (standby)";
}

void EgressController::workerLoop() {
  while (auto key = queue_.get()) {
    metrics_.workqueueDepth().Set(static_cast<double>(queue_.size()));
    if (sync())
      queue_.forget(*key);
    else
      queue_.addRateLimited(*key);
    queue_.done(*key);
    metrics_.workqueueDepth().Set(static_cast<double>(queue_.size()));
  }
}

SyncInputs EgressController::observe(Clock::time_point now, const std::string& nowText) {
  SyncInputs inputs;
  inputs.now = now;
  inputs.nowText = nowText;
  inputs.options = BuildOptions{.defaultCapacity = options_.config.maxEgressIPsPerNode,
                                .rebalance = options_.config.rebalance};
  for (const auto& object : pools_->list())
    inputs.pools.push_back({decodePool(*object), statusOf(*object)});
  std::vector<std::string> nodeNames;
  for (const auto& object : nodes_->list()) {
    inputs.nodes.push_back(decodeNode(*object));
    nodeNames.push_back(inputs.nodes.back().name);
  }
  // This term's own writes, copied in one short critical section: decoding happens outside it.
  std::map<std::string, json> written;
  {
    std::lock_guard lock(termMutex_);
    written = written_;
  }
  std::set<std::string> present;
  for (const auto& object : egresses_->list()) {
    const auto name = kube::nameOf(*object);
    present.insert(name);
    // Our own last write is newer than a cache that has not caught up with it yet (the same
    // object: a deleted and re-created Egress has a new uid).
    auto own = written.find(name);
    if (own != written.end() && own->second.value("uid", "") == kube::uidOf(*object) &&
        kube::versionAtLeast(own->second.value("resourceVersion", ""),
                             kube::resourceVersionOf(*object))) {
      json copy = *object;
      copy["status"] = own->second["status"];
      inputs.egresses.push_back(
          {decodeEgress(copy), statusOf(copy), own->second.value("resourceVersion", "")});
    } else {
      inputs.egresses.push_back(
          {decodeEgress(*object), statusOf(*object), kube::resourceVersionOf(*object)});
    }
    noteServiceCidrOverlap(inputs.egresses.back().decoded, options_.config.serviceCIDR);
  }
  {
    std::lock_guard lock(termMutex_);
    std::erase_if(written_, [&](const auto& entry) { return !present.contains(entry.first); });
  }
  auto snapshot = liveness_->snapshot(nodeNames, now);
  inputs.liveness = std::move(snapshot.liveness);
  inputs.deaths = std::move(snapshot.deaths);
  return inputs;
}

void EgressController::rememberWrite(const std::string& egress, const json& object) {
  std::lock_guard lock(termMutex_);
  written_[egress] = json{{"uid", kube::uidOf(object)},
                          {"resourceVersion", kube::resourceVersionOf(object)},
                          {"status", statusOf(object)}};
}

bool EgressController::apply(const SyncPlan& plan, const std::string& nowText,
                             std::vector<PlannedEvent>& events) {
  bool ok = true;
  for (const auto& write : plan.egressWrites) {
    // Checked before every write: a sync may outlast the Lease it started under.
    if (!holdsLeadership()) return false;
    auto patched = writer_.writeEgress(write, nowText);
    const auto writtenAt = Clock::now();
    if (!patched) {
      if (!patched.notFound()) {
        SLUICE_LOG(kWarning, "controller")
            << "writing status of Egress " << write.egress.name << ": " << patched.error().message;
        ok = false;
      }
      continue;
    }
    rememberWrite(write.egress.name, *patched);
    // Moves, with the decision latency of those caused by a dead node.
    for (const auto& move : write.moves) {
      if (move.death)
        metrics_.decisionLatency().Observe(
            std::chrono::duration<double>(writtenAt - move.death->declaredDue).count());
      const auto message = moveMessage(move, writtenAt, options_.config.nodeSilenceTimeout);
      SLUICE_LOG(kInfo, "controller") << "Egress " << write.egress.name << ": " << message;
      metrics_.failovers().Increment();
      events.push_back(
          {"Egress", write.egress.name, kube::EventType::kNormal, "EgressIPMoved", message});
    }
    for (const auto& allocation : write.allocations) {
      metrics_.allocations().Increment();
      SLUICE_LOG(kInfo, "controller") << allocation;
    }
    events.insert(events.end(), write.events.begin(), write.events.end());
  }
  for (const auto& write : plan.poolWrites) {
    auto patched = writer_.writePool(write);
    if (!patched && !patched.notFound()) {
      SLUICE_LOG(kWarning, "controller")
          << "writing status of ExternalIPPool " << write.name << ": " << patched.error().message;
      ok = false;
    }
  }
  return ok;
}

void EgressController::recordEvents(const std::vector<PlannedEvent>& events) {
  for (const auto& event : events) {
    kube::Informer* informer = event.objectKind == "Egress"           ? egresses_.get()
                               : event.objectKind == "ExternalIPPool" ? pools_.get()
                                                                      : nodes_.get();
    const auto object = informer->get(event.objectName);
    if (!object) continue;
    const std::string key = event.objectName + "|" + event.reason + "|" + event.message;
    {
      std::lock_guard lock(termMutex_);
      // Repeated moves are news every time; a standing problem is recorded once per term.
      if (event.type == kube::EventType::kWarning && !reportedProblems_.insert(key).second)
        continue;
    }
    auto recorded = events_.record(*object, event.type, event.reason, event.message);
    if (!recorded) {
      SLUICE_LOG(kWarning, "controller") << "recording an Event: " << recorded.error().message;
    }
  }
}

bool EgressController::sync() {
  if (!leading_ || stopping_) return true;
  if (!holdsLeadership()) {
    // A renewal is late: write nothing until it lands (or leadership ends, which stops this).
    queue_.addAfter("cluster", std::chrono::milliseconds(50));
    return true;
  }
  if (!egresses_->hasSynced() || !pools_->hasSynced() || !nodes_->hasSynced()) {
    queue_.addAfter("cluster", std::chrono::milliseconds(100));
    return true;
  }
  const auto started = Clock::now();
  const auto nowText = kube::formatTime(std::chrono::system_clock::now());
  const auto inputs = observe(started, nowText);
  const auto plan = planSync(inputs, handovers_);
  if (plan.requeueAt)
    // Status drops previousNode once every agent is past its hold and drain.
    queue_.addAfter("cluster", std::chrono::duration_cast<std::chrono::milliseconds>(
                                   *plan.requeueAt - started + std::chrono::milliseconds(1)));
  std::vector<PlannedEvent> events;  // the Egresses' first, then standing problems
  const bool ok = apply(plan, nowText, events);
  events.insert(events.end(), plan.events.begin(), plan.events.end());

  for (const auto& gauge : plan.poolGauges)
    metrics_.setPool(gauge.name, static_cast<double>(gauge.total), static_cast<double>(gauge.used));
  metrics_.liveNodes().Set(plan.liveNodes);
  metrics_.assignments().Set(plan.assignedIps);
  metrics_.syncDuration().Observe(secondsSince(started, Clock::now()));
  SLUICE_LOG(kDebug, "controller")
      << "sync: " << inputs.egresses.size() << " Egresses, " << inputs.pools.size() << " pools, "
      << inputs.nodes.size() << " nodes in " << millis(Clock::now() - started) << "ms";
  // Events last: they are not on the failover's critical path.
  recordEvents(events);
  return ok;
}

}  // namespace sluice::controller
