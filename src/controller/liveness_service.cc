// LivenessService: reports in, deaths out. Handlers take the lock only for the tracker.
#include "controller/liveness_service.h"

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "kube/leader_election.h"
#include "kube/resource.h"

namespace sluice::controller {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kLivenessTick{2};

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

}  // namespace

LivenessService::LivenessService(kube::Client& client, ControllerMetrics& metrics,
                                 LivenessServiceOptions options)
    : client_(client),
      metrics_(metrics),
      options_(std::move(options)),
      tracker_(options_.config.nodeSilenceTimeout) {}

LivenessService::~LivenessService() { stop(); }

void LivenessService::addRoutes(HttpServer& server) {
  server.route("POST", "/v1/report",
               [this](const HttpRequest& request) { return handleReport(request); });
  server.route("GET", "/v1/nodes",
               [this](const HttpRequest& request) { return handleNodes(request); });
}

void LivenessService::setAdvertiseAddress(const std::string& address) {
  std::lock_guard lock(mutex_);
  advertiseAddress_ = address;
}

void LivenessService::start() {
  thread_ = std::thread([this] { expiryLoop(); });
}

void LivenessService::stop() {
  stopping_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LivenessService::startTerm() {
  std::lock_guard lock(mutex_);
  tracker_.startTerm(Clock::now());
  epoch_ = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  deaths_.clear();
}

void LivenessService::forgetLeader() {
  std::lock_guard lock(mutex_);
  cachedLeaderAt_ = {};
}

std::uint64_t LivenessService::epoch() const {
  std::lock_guard lock(mutex_);
  return epoch_;
}

LivenessSnapshot LivenessService::snapshot(const std::vector<std::string>& nodes,
                                           Clock::time_point now) {
  LivenessSnapshot out;
  {
    std::lock_guard lock(mutex_);
    tracker_.setKnownNodes(nodes);
    for (const auto& name : nodes) out.liveness[name] = tracker_.liveness(name, now);
    out.deaths = deaths_;
  }
  cv_.notify_all();  // setKnownNodes may have armed a new deadline
  return out;
}

std::string LivenessService::leaderAddress() {
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
    const auto metadata = lease->value("metadata", json::object());
    const auto annotations =
        metadata.is_object() ? metadata.value("annotations", json::object()) : json::object();
    if (!record.holderIdentity.empty() && record.holderIdentity != options_.identity &&
        annotations.is_object())
      address = annotations.value(kLeaderAddressAnnotation, "");
  }
  std::lock_guard lock(mutex_);
  cachedLeaderAddress_ = address;
  cachedLeaderAt_ = Clock::now();
  return address;
}

Result<void> LivenessService::authenticate(const HttpRequest& request) {
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

HttpResponse LivenessService::handleReport(const HttpRequest& request) {
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
  if (!leading()) {
    const auto leader = leaderAddress();
    std::string advertised;
    {
      std::lock_guard lock(mutex_);
      advertised = advertiseAddress_;
    }
    if (leader.empty() || leader == advertised)
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
    cv_.notify_all();
    if (options_.onChange) options_.onChange();
  }
  // nodeSilenceTimeoutMs lets the agent check the fencing contract against this controller.
  return jsonResponse(200, {{"leader", true},
                            {"epoch", epoch},
                            {"nodeSilenceTimeoutMs", options_.config.nodeSilenceTimeout.count()}});
}

HttpResponse LivenessService::handleNodes(const HttpRequest&) {
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
  return jsonResponse(200, {{"leader", leading()},
                            {"identity", options_.identity},
                            {"epoch", epoch_},
                            {"nodeSilenceTimeoutMs", options_.config.nodeSilenceTimeout.count()},
                            {"nodes", nodes}});
}

void LivenessService::expiryLoop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (!leading()) {
      cv_.wait_for(lock, std::chrono::seconds(1));
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
      cv_.wait_until(lock, wake);
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
    if (!deaths.empty() && options_.onChange) options_.onChange();
  }
}

}  // namespace sluice::controller
