// EgressController: thin I/O around decode -> schedule -> desired status. Handlers only enqueue;
// the single worker recomputes everything, because allocation is global.
#include "controller/egress_controller.h"

#include <algorithm>
#include <sstream>

#include "common/log.h"
#include "controller/egress_decoder.h"
#include "controller/egress_scheduler.h"
#include "kube/resource.h"

namespace sluice::controller {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kLivenessTick{2};

double secondsSince(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

long millis(Clock::duration duration) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(duration).count());
}

HttpResponse jsonResponse(int status, const json& body) {
  return HttpResponse{status, "application/json", body.dump() + "\n", {}};
}

std::string livenessName(NodeLiveness liveness) {
  switch (liveness) {
    case NodeLiveness::kAlive: return "Alive";
    case NodeLiveness::kDead: return "Dead";
    case NodeLiveness::kUnknown: return "Unknown";
  }
  return "Unknown";
}

const json& statusOf(const json& object) {
  static const json kEmpty = json::object();
  auto it = object.find("status");
  return it != object.end() && it->is_object() ? *it : kEmpty;
}

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
      tracker_(options_.config.nodeSilenceTimeout) {}

EgressController::~EgressController() { stop(); }

Result<void> EgressController::start() {
  if (options_.identity.empty())
    return makeError("sluice-controller: no identity; pass --pod-name or set POD_NAME");
  const std::string listen =
      options_.listenAddress.empty() ? options_.config.listenAddress : options_.listenAddress;
  // Built (not started) before the server, whose /readyz reads them from its own threads.
  egresses_ = std::make_unique<kube::Informer>(
      client_, kube::InformerOptions{.resource = kube::resources::kEgresses});
  pools_ = std::make_unique<kube::Informer>(
      client_, kube::InformerOptions{.resource = kube::resources::kExternalIpPools});
  nodes_ = std::make_unique<kube::Informer>(
      client_, kube::InformerOptions{.resource = kube::resources::kNodes});
  server_ = std::make_unique<HttpServer>(HttpServerOptions{.listenAddress = listen, .threads = 2});
  server_->route("POST", "/v1/report",
                 [this](const HttpRequest& request) { return handleReport(request); });
  server_->route("GET", "/v1/nodes",
                 [this](const HttpRequest& request) { return handleNodes(request); });
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
  if (auto started = server_->start(); !started) return started.error();
  if (options_.advertiseAddress.empty()) {
    auto hostPort = splitHostPort(listen);
    std::string host = hostPort ? hostPort->first : "127.0.0.1";
    if (host == "0.0.0.0") host = "127.0.0.1";
    options_.advertiseAddress = host + ":" + std::to_string(server_->port());
  } else if (options_.advertiseAddress.back() == ':') {
    options_.advertiseAddress += std::to_string(server_->port());
  }

  for (auto* informer : {egresses_.get(), pools_.get(), nodes_.get()}) {
    informer->addHandlers(enqueueHandlers([this] { enqueue(); }));
    informer->start();
  }
  worker_ = std::thread([this] { workerLoop(); });
  livenessThread_ = std::thread([this] { livenessLoop(); });
  started_ = true;

  if (!options_.config.leaderElection.enabled) {
    startedLeading();
    return {};
  }
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
                                                 std::lock_guard lock(mutex_);
                                                 cachedLeaderAt_ = {};
                                               },
                                           .releaseOnStop = true});
  return elector_->start();
}

void EgressController::stop() {
  if (stopping_.exchange(true)) return;
  // Stop writing first, then release the Lease (so the standby need not wait for its expiry):
  // no write of ours can land after a successor has started.
  leading_ = false;
  queue_.shutDown();
  livenessCv_.notify_all();
  if (worker_.joinable()) worker_.join();
  if (livenessThread_.joinable()) livenessThread_.join();
  if (elector_) elector_->stop();
  for (auto* informer : {egresses_.get(), pools_.get(), nodes_.get()})
    if (informer) informer->stop();
  if (server_) server_->stop();
}

void EgressController::startedLeading() {
  const auto now = Clock::now();
  {
    std::lock_guard lock(mutex_);
    tracker_.startTerm(now);
    epoch_ = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
    deaths_.clear();
    written_.clear();
    reportedProblems_.clear();
    leading_ = true;
  }
  metrics_.isLeader().Set(1);
  SLUICE_LOG(kInfo, "controller") << options_.identity << " is the leader (epoch " << epoch_
                                  << ", reports at " << options_.advertiseAddress
                                  << "); every node counts as alive for "
                                  << options_.config.nodeSilenceTimeout.count() << "ms";
  if (elector_) {
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
      if (published) {
        problem.clear();
        break;
      }
      problem = published.error().message;
    }
    if (!problem.empty()) {
      SLUICE_LOG(kWarning, "controller")
          << "publishing the leader address on the Lease: " << problem;
    }
  }
  livenessCv_.notify_all();
  enqueue();
}

void EgressController::stoppedLeading() {
  leading_ = false;
  metrics_.isLeader().Set(0);
  SLUICE_LOG(kWarning, "controller") << options_.identity << " stopped leading; writes stop";
}

std::string EgressController::leaderAddress() {
  {
    std::lock_guard lock(mutex_);
    if (Clock::now() - cachedLeaderAt_ < std::chrono::milliseconds(500))
      return cachedLeaderAddress_;
  }
  std::string address;
  auto lease = client_.get(kube::resources::kLeases, options_.leaseNamespace,
                           options_.config.leaderElection.leaseName);
  if (lease) {
    const auto record = kube::decodeLease(*lease);
    const auto annotations =
        lease->value("metadata", json::object()).value("annotations", json::object());
    if (!record.holderIdentity.empty() && record.holderIdentity != options_.identity)
      address = annotations.value(kLeaderAddressAnnotation, "");
  }
  std::lock_guard lock(mutex_);
  cachedLeaderAddress_ = address;
  cachedLeaderAt_ = Clock::now();
  return address;
}

Result<void> EgressController::authenticate(const HttpRequest& request) {
  if (!options_.config.authenticateAgents) return {};
  const auto header = request.header("authorization");
  const std::string prefix = "Bearer ";
  if (header.rfind(prefix, 0) != 0)
    return makeError("no bearer token; the agent must send its service-account token");
  const auto token = header.substr(prefix.size());
  {
    std::lock_guard lock(mutex_);
    auto cached = tokenCache_.find(token);
    if (cached != tokenCache_.end() && Clock::now() < cached->second) return {};
  }
  json review = {{"apiVersion", "authentication.k8s.io/v1"},
                 {"kind", "TokenReview"},
                 {"spec", {{"token", token}}}};
  auto reviewed = client_.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                                  "application/json", review.dump());
  if (!reviewed) return makeError("TokenReview failed: " + reviewed.error().message);
  const auto status = reviewed->value("status", json::object());
  const auto user = status.value("user", json::object()).value("username", "");
  if (!status.value("authenticated", false)) return makeError("the token is not valid");
  // The agents run in the controller's namespace (manifests/parts/40-agent.yml).
  if (!isAgentServiceAccount(user, options_.leaseNamespace))
    return makeError("user " + user + " is not the sluice-agent service account of namespace " +
                     options_.leaseNamespace);
  std::lock_guard lock(mutex_);
  if (tokenCache_.size() > 10'000) tokenCache_.clear();
  tokenCache_[token] = Clock::now() + std::chrono::minutes(1);
  return {};
}

HttpResponse EgressController::handleReport(const HttpRequest& request) {
  const auto now = Clock::now();
  std::string node;
  std::uint64_t sequence = 0;
  try {
    const auto body = json::parse(request.body);
    node = body.value("node", "");
    sequence = body.value("seq", std::uint64_t{0});
  } catch (const json::exception&) {
  }
  if (node.empty())
    return jsonResponse(400, {{"error", "the body must be {\"node\": NAME, \"seq\": N}"}});
  if (auto authenticated = authenticate(request); !authenticated)
    return jsonResponse(401, {{"error", authenticated.error().message}});
  if (!leading_) {
    const auto leader = leaderAddress();
    if (leader.empty() || leader == options_.advertiseAddress)
      return jsonResponse(503, {{"leader", false}, {"error", "no leader yet"}});
    HttpResponse redirect = jsonResponse(307, {{"leader", false}, {"leaderAddress", leader}});
    redirect.headers.emplace_back("Location", "http://" + leader + "/v1/report");
    return redirect;
  }
  bool revived = false;
  std::uint64_t epoch = 0;
  {
    std::lock_guard lock(mutex_);
    revived = tracker_.report(node, sequence, now);
    epoch = epoch_;
    if (deaths_.erase(node) > 0) {
      SLUICE_LOG(kInfo, "controller") << "node " << node << " reports again: alive";
    }
  }
  metrics_.reports().Increment();
  if (revived) {
    livenessCv_.notify_all();
    enqueue();
  }
  // nodeSilenceTimeoutMs lets the agent check the fencing contract against this controller.
  return jsonResponse(200, {{"leader", true},
                            {"epoch", epoch},
                            {"nodeSilenceTimeoutMs", options_.config.nodeSilenceTimeout.count()}});
}

HttpResponse EgressController::handleNodes(const HttpRequest&) {
  const auto now = Clock::now();
  json nodes = json::array();
  std::lock_guard lock(mutex_);
  for (const auto& view : tracker_.view(now)) {
    json entry = {{"node", view.node},
                  {"liveness", livenessName(view.liveness)},
                  {"lastSequence", view.lastSequence},
                  {"reports", view.reports}};
    if (view.sinceLastReport) entry["sinceLastReportMs"] = view.sinceLastReport->count();
    nodes.push_back(entry);
  }
  return jsonResponse(200, {{"leader", leading_.load()},
                            {"identity", options_.identity},
                            {"epoch", epoch_},
                            {"nodeSilenceTimeoutMs", options_.config.nodeSilenceTimeout.count()},
                            {"nodes", nodes}});
}

void EgressController::livenessLoop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (!leading_) {
      livenessCv_.wait_for(lock, std::chrono::seconds(1));
      continue;
    }
    const auto next = tracker_.nextDeadline();
    const auto now = Clock::now();
    if (!next || now < *next) {
      // Reports only push deadlines later, so sleeping until the earliest one is exact; a revival
      // or a new term notifies. With many nodes the earliest deadline is always close, so wake
      // at most every kLivenessTick: deaths are decided at most that late, and the scan over all
      // nodes runs at most 1/kLivenessTick times a second.
      const auto wake = next ? std::max(*next, now + kLivenessTick) : now + std::chrono::seconds(1);
      livenessCv_.wait_until(lock, wake);
      continue;
    }
    const auto deaths = tracker_.expire(now);
    for (const auto& death : deaths) {
      deaths_[death.node] = death;
      SLUICE_LOG(kInfo, "controller")
          << "node " << death.node << " declared dead: silent for "
          << millis(now - death.lastReport) << "ms (timer late by "
          << std::chrono::duration_cast<std::chrono::microseconds>(now - death.declaredDue).count()
          << "us)";
    }
    if (!deaths.empty()) enqueue();
  }
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

std::vector<Handover> EgressController::trackHandovers(
    const std::string& egress, const json& current, const json& desired,
    const std::map<std::string, NodeLiveness>& liveness, Clock::time_point now) {
  auto& tracked = handovers_[egress];
  for (auto& move : findMoves(current, desired)) {
    // Only a node that is alive can hand over; a dead one's IP moves at once.
    auto node = liveness.find(move.previousNode);
    if (node == liveness.end() || node->second != NodeLiveness::kAlive) continue;
    std::erase_if(tracked, [&](const auto& entry) { return entry.first.ip == move.ip; });
    tracked.emplace_back(move, now + kHandoverWindow);
  }
  std::erase_if(tracked, [&](const auto& entry) { return entry.second <= now; });
  std::vector<Handover> active;
  auto earliest = Clock::time_point::max();
  for (const auto& [handover, until] : tracked) {
    active.push_back(handover);
    earliest = std::min(earliest, until);
  }
  if (tracked.empty()) {
    handovers_.erase(egress);
  } else {
    // Status drops previousNode once every agent is past its hold and drain.
    queue_.addAfter("cluster", std::chrono::duration_cast<std::chrono::milliseconds>(
                                   earliest - now + std::chrono::milliseconds(1)));
  }
  return active;
}

bool EgressController::sync() {
  if (!leading_ || stopping_) return true;
  if (!egresses_->hasSynced() || !pools_->hasSynced() || !nodes_->hasSynced()) {
    queue_.addAfter("cluster", std::chrono::milliseconds(100));
    return true;
  }
  const auto started = Clock::now();
  const auto nowText = kube::formatTime(std::chrono::system_clock::now());

  std::vector<DecodedPool> pools;
  std::map<std::string, kube::ObjectPtr> poolObjects;
  for (const auto& object : pools_->list()) {
    pools.push_back(decodePool(*object));
    poolObjects[pools.back().name] = object;
  }
  std::vector<DecodedNode> nodes;
  std::vector<std::string> nodeNames;
  std::map<std::string, kube::ObjectPtr> nodeObjects;
  for (const auto& object : nodes_->list()) {
    nodes.push_back(decodeNode(*object));
    nodeNames.push_back(nodes.back().name);
    nodeObjects[nodes.back().name] = object;
  }
  std::vector<DecodedEgress> egresses;
  std::map<std::string, kube::ObjectPtr> egressObjects;
  std::map<std::string, json> currentStatus;
  std::map<std::string, std::string> currentVersion;
  std::map<std::string, NodeLiveness> liveness;
  std::map<std::string, NodeLivenessTracker::Death> deaths;
  {
    std::lock_guard lock(mutex_);
    std::set<std::string> present;
    for (const auto& object : egresses_->list()) {
      json copy = *object;
      present.insert(kube::nameOf(copy));
      // Our own last write is newer than a cache that has not caught up with it yet (the same
      // object: a deleted and re-created Egress has a new uid).
      auto written = written_.find(kube::nameOf(copy));
      std::string version = kube::resourceVersionOf(copy);
      if (written != written_.end() && written->second.value("uid", "") == kube::uidOf(copy) &&
          kube::versionAtLeast(written->second.value("resourceVersion", ""), version)) {
        copy["status"] = written->second["status"];
        version = written->second.value("resourceVersion", "");
      }
      egresses.push_back(decodeEgress(copy));
      egressObjects[egresses.back().name] = object;
      currentStatus[egresses.back().name] = statusOf(copy);
      currentVersion[egresses.back().name] = version;
    }
    std::erase_if(written_, [&](const auto& entry) { return !present.contains(entry.first); });
    tracker_.setKnownNodes(nodeNames);
    for (const auto& name : nodeNames) liveness[name] = tracker_.liveness(name, started);
    deaths = deaths_;
  }
  livenessCv_.notify_all();  // setKnownNodes may have armed a new deadline

  const auto input = buildSchedulerInput(
      pools, nodes, egresses, [&](const std::string& node) { return liveness.at(node); },
      BuildOptions{.defaultCapacity = options_.config.maxEgressIPsPerNode,
                   .rebalance = options_.config.rebalance});
  const auto output = schedule(input);

  bool ok = true;
  struct PendingEvent {
    kube::ObjectPtr object;
    kube::EventType type;
    std::string reason;
    std::string message;
  };
  std::vector<PendingEvent> pendingEvents;
  int assigned = 0;
  for (const auto& egress : egresses) {
    auto result = output.egresses.find(egress.name);
    const EgressResult* egressResult = result == output.egresses.end() ? nullptr : &result->second;
    const auto& current = currentStatus[egress.name];
    const auto handovers = trackHandovers(
        egress.name, current, desiredEgressStatus(egress, egressResult, current, nowText), liveness,
        started);
    const auto desired =
        withHandovers(desiredEgressStatus(egress, egressResult, current, nowText), handovers);
    if (egressResult)
      for (const auto& slot : egressResult->slots) assigned += slot.assigned() ? 1 : 0;
    if (desired == current) continue;

    // One request on the failover path: a merge patch guarded by the resourceVersion the current
    // status came from. Only on 409 Conflict (someone else wrote) re-read and retry.
    auto patched =
        client_.patchStatus(kube::resources::kEgresses, "", egress.name,
                            json{{"metadata", {{"resourceVersion", currentVersion[egress.name]}}},
                                 {"status", kube::createMergePatch(current, desired)}});
    if (!patched && patched.conflict()) {
      patched =
          client_.mutateStatus(kube::resources::kEgresses, "", egress.name, [&](json& object) {
            const auto fresh = withHandovers(
                desiredEgressStatus(egress, egressResult, statusOf(object), nowText), handovers);
            if (object.contains("status") && object["status"] == fresh) return false;
            object["status"] = fresh;
            return true;
          });
    }
    const auto writtenAt = Clock::now();
    if (!patched) {
      if (!patched.notFound()) {
        SLUICE_LOG(kWarning, "controller")
            << "writing status of Egress " << egress.name << ": " << patched.error().message;
        ok = false;
      }
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      written_[egress.name] = json{{"uid", kube::uidOf(*patched)},
                                   {"resourceVersion", kube::resourceVersionOf(*patched)},
                                   {"status", statusOf(*patched)}};
    }
    const auto object = egressObjects[egress.name];
    // Moves, with the decision latency of those caused by a dead node.
    if (egressResult) {
      for (const auto& slot : egressResult->slots) {
        if (!slot.ip) continue;
        bool wasNew = true;
        for (const auto& previous : egress.previous) {
          if (previous.ip != *slot.ip) continue;
          wasNew = false;
          if (previous.node.empty() || previous.node == slot.node) continue;
          std::string why;
          auto death = deaths.find(previous.node);
          if (death != deaths.end()) {
            const auto latency = writtenAt - death->second.declaredDue;
            metrics_.decisionLatency().Observe(std::chrono::duration<double>(latency).count());
            why =
                previous.node + " silent for " +
                std::to_string(millis(writtenAt - death->second.lastReport)) + "ms (decision " +
                std::to_string(
                    std::chrono::duration_cast<std::chrono::microseconds>(latency).count() / 1000.0)
                    .substr(0, 6) +
                "ms after the " + std::to_string(options_.config.nodeSilenceTimeout.count()) +
                "ms timeout)";
          } else if (liveness.count(previous.node) == 0) {
            why = "node " + previous.node + " was deleted";
          } else {
            why = "node " + previous.node +
                  " no longer matches the pool's nodeSelector or has no room";
          }
          const std::string target = slot.node.empty() ? "no node" : slot.node;
          const std::string message = "Moved " + formatIpv4(*slot.ip) + " from " + previous.node +
                                      " to " + target + ": " + why;
          SLUICE_LOG(kInfo, "controller") << "Egress " << egress.name << ": " << message;
          metrics_.failovers().Increment();
          pendingEvents.push_back({object, kube::EventType::kNormal, "EgressIPMoved", message});
        }
        if (wasNew) {
          metrics_.allocations().Increment();
          SLUICE_LOG(kInfo, "controller")
              << "Egress " << egress.name << ": " << slot.allocationMessage
              << (slot.node.empty() ? "" : " on " + slot.node);
        }
      }
    }
    // A condition that turned False (or changed its reason) gets an Event.
    for (const auto& condition : desired.value("conditions", json::array())) {
      if (condition.value("status", "") != "False") continue;
      bool same = false;
      for (const auto& old : current.value("conditions", json::array()))
        same = same || (old.value("type", "") == condition.value("type", "") &&
                        old.value("status", "") == "False" &&
                        old.value("reason", "") == condition.value("reason", "") &&
                        old.value("message", "") == condition.value("message", ""));
      if (!same)
        pendingEvents.push_back(
            {object, kube::EventType::kWarning, condition.value("reason", ""),
             condition.value("type", "") + ": " + condition.value("message", "")});
    }
  }

  const auto overlaps = findPoolOverlaps(input.pools);
  for (const auto& pool : pools) {
    auto usage = output.pools.find(pool.name);
    if (usage == output.pools.end()) continue;
    metrics_.setPool(pool.name, static_cast<double>(usage->second.total),
                     static_cast<double>(usage->second.used));
    std::vector<PoolOverlap> own;
    for (const auto& overlap : overlaps)
      if (overlap.pool == pool.name) own.push_back(overlap);
    const auto& object = poolObjects[pool.name];
    const auto desired = desiredPoolStatus(usage->second, own, statusOf(*object), nowText);
    if (!usage->second.outsideRanges.empty()) {
      std::string ips;
      for (auto ip : usage->second.outsideRanges) ips += (ips.empty() ? "" : ", ") + formatIpv4(ip);
      pendingEvents.push_back(
          {object, kube::EventType::kWarning, "AllocationsOutsidePool",
           "the pool no longer covers " + ips +
               "; they stay allocated until their Egresses are deleted or changed"});
    }
    for (const auto& problem : pool.problems)
      pendingEvents.push_back({object, kube::EventType::kWarning, "InvalidIPRange", problem});
    if (statusOf(*object) == desired) continue;
    auto patched = client_.patchStatus(kube::resources::kExternalIpPools, "", pool.name,
                                       json{{"status", desired}});
    if (!patched && !patched.notFound()) {
      SLUICE_LOG(kWarning, "controller")
          << "writing status of ExternalIPPool " << pool.name << ": " << patched.error().message;
      ok = false;
    }
  }
  for (const auto& overlap : overlaps) {
    const std::string message =
        "ExternalIPPool " + overlap.pool + " overlaps " + overlap.otherPool + " in " +
        formatIpv4(overlap.overlap.first) + "-" + formatIpv4(overlap.overlap.last) +
        "; each IP is handed out once, to the oldest Egress; remove the overlap";
    pendingEvents.push_back(
        {poolObjects[overlap.pool], kube::EventType::kWarning, "PoolOverlap", message});
  }
  for (const auto& node : nodes)
    if (!node.problem.empty())
      pendingEvents.push_back(
          {nodeObjects[node.name], kube::EventType::kWarning, "InvalidCapacity", node.problem});

  int live = 0;
  for (const auto& [name, state] : liveness) live += state == NodeLiveness::kAlive ? 1 : 0;
  metrics_.liveNodes().Set(live);
  metrics_.assignments().Set(assigned);
  metrics_.syncDuration().Observe(secondsSince(started, Clock::now()));
  SLUICE_LOG(kDebug, "controller")
      << "sync: " << egresses.size() << " Egresses, " << pools.size() << " pools, " << nodes.size()
      << " nodes in " << millis(Clock::now() - started) << "ms";

  // Events last: they are not on the failover's critical path.
  for (const auto& event : pendingEvents) {
    if (!event.object) continue;
    const std::string key = kube::nameOf(*event.object) + "|" + event.reason + "|" + event.message;
    {
      std::lock_guard lock(mutex_);
      // Repeated moves are news every time; a standing problem is recorded once per term.
      if (event.type == kube::EventType::kWarning && !reportedProblems_.insert(key).second)
        continue;
    }
    auto recorded = events_.record(*event.object, event.type, event.reason, event.message);
    if (!recorded) {
      SLUICE_LOG(kWarning, "controller") << "recording an Event: " << recorded.error().message;
    }
  }
  return ok;
}

}  // namespace sluice::controller
