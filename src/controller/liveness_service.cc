// LivenessService: reports in, deaths out. Handlers take the lock only for the tracker.
#include "controller/liveness_service.h"

#include <sstream>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "kube/leader_election.h"
#include "kube/resource.h"

namespace sluice::controller {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kLivenessTick{2};
// How often suspects (silent, not yet confirmed) are re-checked when no report arrives: their
// witnesses' reports expire with time.
constexpr std::chrono::milliseconds kSuspectTick{10};

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
      tracker_(options_.config.nodeSilenceTimeout,
               static_cast<std::size_t>(options_.config.peerWitnesses)) {}

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
  {
    std::lock_guard lock(mutex_);
    tracker_.startTracking(Clock::now());
  }
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
  SLUICE_LOG(kInfo, "controller")
      << (tracker_.termHasGrace()
              ? "liveness: this process has not tracked reports for a silence period yet; "
                "nodes not heard count as Unknown for one"
              : "liveness: reports tracked as a standby are used at once (no grace period)");
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
  std::optional<json> lease;
  if (options_.observedLease) {
    lease = options_.observedLease();
  } else if (auto read = client_.get(kube::resources::kLeases, options_.leaseNamespace,
                                     options_.config.leaderElection.leaseName)) {
    lease = *read;
  }
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

namespace {

// The body's optional fields, absent for agents that predate witnesses. Throws json::exception
// on a wrong type.
NodeReport decodeReport(const json& body, bool& witnessProtocol) {
  NodeReport report;
  report.node = body.value("node", "");
  report.sequence = body.value("seq", std::uint64_t{0});
  witnessProtocol = body.contains("fenced") || body.contains("witnesses") || body.contains("heard");
  report.fenced = body.value("fenced", false);
  if (auto witnesses = body.find("witnesses"); witnesses != body.end())
    report.witnesses = witnesses->get<std::vector<std::string>>();
  if (auto heard = body.find("heard"); heard != body.end()) {
    report.heard.emplace();
    for (const auto& [node, millis] : heard->items())
      (*report.heard)[node] = std::chrono::milliseconds(millis.get<std::int64_t>());
  }
  return report;
}

}  // namespace

HttpResponse LivenessService::handleReport(const HttpRequest& request) {
  const auto now = Clock::now();
  NodeReport report;
  bool witnessProtocol = false;
  try {
    report = decodeReport(json::parse(request.body), witnessProtocol);
  } catch (const json::exception&) {
    report.node.clear();
  }
  if (report.node.empty())
    return jsonResponse(
        400, {{"error",
               "the body must be {\"node\": NAME, \"seq\": N, \"fenced\": BOOL, \"witnesses\": "
               "[NAME...], \"heard\": {NAME: MILLISECONDS}} (the last three optional)"}});
  if (auto authenticated = authenticate(request); !authenticated)
    return jsonResponse(401, {{"error", authenticated.error().message}});
  const bool leader = leading();
  bool revived = false;
  bool act = false;
  std::uint64_t epoch = 0;
  {
    std::lock_guard lock(mutex_);
    revived = tracker_.report(report, now);
    epoch = epoch_;
    if (!report.fenced && deaths_.erase(report.node) > 0) {
      SLUICE_LOG(kInfo, "controller") << "node " << report.node << " reports again: alive";
    }
    // A report may complete a suspect's confirmation or release a node: decide now, not at the
    // next tick.
    if (tracker_.hasPending()) act = noteDeaths(tracker_.recheck(now), now);
  }
  metrics_.reports().Increment();
  if (revived) cv_.notify_all();
  if ((revived || act) && leader && options_.onChange) options_.onChange();
  const auto silence = options_.config.nodeSilenceTimeout.count();
  if (leader)
    return jsonResponse(200,
                        {{"leader", true}, {"epoch", epoch}, {"nodeSilenceTimeoutMs", silence}});
  const auto address = leaderAddress();
  if (!witnessProtocol) {
    // An agent that predates witnesses takes any 200 as the leader's acknowledgement, so it
    // still gets the redirect (or 503), as before.
    std::string advertised;
    {
      std::lock_guard lock(mutex_);
      advertised = advertiseAddress_;
    }
    if (address.empty() || address == advertised)
      return jsonResponse(503, {{"leader", false}, {"error", "no leader yet"}});
    HttpResponse redirect = jsonResponse(307, {{"leader", false}, {"leaderAddress", address}});
    redirect.headers.emplace_back("Location", "http://" + address + "/v1/report");
    return redirect;
  }
  // Recorded all the same; the agent holds nothing on this answer.
  return jsonResponse(200, {{"leader", false},
                            {"leaderAddress", address},
                            {"epoch", 0},
                            {"nodeSilenceTimeoutMs", silence}});
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
    entry["fenced"] = view.fenced;
    if (view.witnesses) entry["witnesses"] = *view.witnesses;
    if (view.previousWitnesses) entry["previousWitnesses"] = *view.previousWitnesses;
    // Of the set its death would need a majority of (its declared or the computed one).
    entry["witnessesConfirming"] = view.witnessesConfirming;
    entry["witnessSetSize"] = view.witnessSetSize;
    nodes.push_back(entry);
  }
  return jsonResponse(200, {{"leader", leading()},
                            {"identity", options_.identity},
                            {"epoch", epoch_},
                            {"nodeSilenceTimeoutMs", options_.config.nodeSilenceTimeout.count()},
                            {"nodes", nodes}});
}

bool LivenessService::noteDeaths(const std::vector<NodeLivenessTracker::Death>& deaths,
                                 Clock::time_point now) {
  const bool leader = leading();
  for (const auto& death : deaths) {
    deaths_[death.node] = death;
    std::ostringstream line;
    line << "node " << death.node << " declared dead";
    if (death.cause == NodeLivenessTracker::Cause::kReleased)
      line << ": it " << death.why;
    else
      line << ": silent for " << millis(now - death.lastReport) << "ms, " << death.why << " (due "
           << std::chrono::duration_cast<std::chrono::microseconds>(now - death.declaredDue).count()
           << "us ago)";
    if (!leader) line << "; as a standby, not acting";
    SLUICE_LOG(kInfo, "controller") << line.str();
  }
  if (tracker_.usedSilenceAlone() && !loggedSilenceAlone_) {
    loggedSilenceAlone_ = true;
    SLUICE_LOG(kWarning, "controller")
        << "some nodes' witnesses do not report what they hear (agents older than witnesses): "
           "their deaths are decided by silence alone, as before";
  }
  return !deaths.empty() && leader;
}

void LivenessService::expiryLoop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto now = Clock::now();
    auto next = tracker_.nextDeadline();
    if (tracker_.hasPending() && (!next || now + kSuspectTick < *next)) next = now + kSuspectTick;
    if (!next || now < *next) {
      // Reports only push deadlines later, so sleeping until the earliest one is exact; a revival
      // or a new term notifies. With many nodes the earliest deadline is always close, so wake
      // at most every kLivenessTick: deaths are decided at most that late, and the scan over all
      // nodes runs at most 1/kLivenessTick times a second.
      const auto wake = next ? std::max(*next, now + kLivenessTick) : now + std::chrono::seconds(1);
      cv_.wait_until(lock, wake);
      continue;
    }
    // (A new leader's first sync acts on the deaths decided while it was a standby.)
    if (noteDeaths(tracker_.expire(now), now) && options_.onChange) {
      lock.unlock();
      options_.onChange();
      lock.lock();
    }
  }
}

}  // namespace sluice::controller
