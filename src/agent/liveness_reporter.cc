// LivenessReporter: a manager thread resolves the controller's replicas and keeps one report
// thread per replica; a fencing thread applies the holding rule (peer_quorum.h). Holding is timed
// from when the acknowledged report or probe was SENT: whoever acknowledged it received it no
// earlier, so the node has let go before the controller's silence timer, or a witness's
// "not heard for nodeSilenceTimeout", counted from receipt, can say it is gone.
#include "agent/liveness_reporter.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <set>

#include <nlohmann/json.hpp>

#include "common/ipv4.h"
#include "common/log.h"
#include "kube/transport.h"

namespace sluice::agent {
namespace {

using namespace std::chrono_literals;

// A failing replica makes the manager resolve the names again, but not more often than this.
constexpr auto kMinResolveGap = 1s;
// The manager's longest sleep: how soon it acts on a leader learned from a standby.
constexpr auto kManagerTick = 250ms;

// "http://10.0.0.5:10349/v1/report" -> "10.0.0.5:10349".
std::optional<std::string> redirectAddress(const std::string& location) {
  std::string rest = location;
  const std::string scheme = "http://";
  if (rest.rfind(scheme, 0) == 0)
    rest = rest.substr(scheme.size());
  else
    return std::nullopt;
  const auto slash = rest.find('/');
  rest = rest.substr(0, slash);
  if (rest.empty() || rest.find(':') == std::string::npos) return std::nullopt;
  return rest;
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// Every IPv4 address of HOST, as "IP:PORT"; empty when it does not resolve.
std::vector<std::string> resolveAll(const std::string& hostPort) {
  const auto colon = hostPort.rfind(':');
  const auto host = hostPort.substr(0, colon);
  const auto port = hostPort.substr(colon + 1);
  if (parseIpv4(host)) return {hostPort};  // no lookup for an address
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return {};
  std::set<std::string> addresses;
  for (const auto* entry = found; entry != nullptr; entry = entry->ai_next) {
    const auto* address = reinterpret_cast<const sockaddr_in*>(entry->ai_addr);
    addresses.insert(formatIpv4(ntohl(address->sin_addr.s_addr)) + ":" + port);
  }
  ::freeaddrinfo(found);
  return {addresses.begin(), addresses.end()};
}

}  // namespace

struct LivenessReporter::Target {
  std::string address;
  std::atomic<bool> stop{false};
  std::thread thread;
};

const char* holdingRuleName(HoldingRule rule) {
  switch (rule) {
    case HoldingRule::kLeader: return "leader";
    case HoldingRule::kWitnesses: return "witnesses";
    case HoldingRule::kBoth: return "leader+witnesses";
    case HoldingRule::kNone: break;
  }
  return "none";
}

Result<std::vector<std::string>> splitControllerAddresses(const std::string& list) {
  std::vector<std::string> entries;
  std::size_t start = 0;
  while (start <= list.size()) {
    const auto comma = std::min(list.find(',', start), list.size());
    const auto entry = trim(list.substr(start, comma - start));
    start = comma + 1;
    if (entry.empty()) continue;
    const auto colon = entry.rfind(':');
    const auto port = colon == std::string::npos ? std::string() : entry.substr(colon + 1);
    const bool portOk = !port.empty() && port.size() <= 5 &&
                        std::all_of(port.begin(), port.end(),
                                    [](unsigned char c) { return std::isdigit(c) != 0; }) &&
                        std::stoi(port) >= 1 && std::stoi(port) <= 65535;
    if (colon == 0 || !portOk)
      return makeError("\"" + entry +
                       "\" is not HOST:PORT; list the controller's replicas as HOST:PORT, "
                       "comma-separated, such as sluice-controller-replicas.kube-system.svc:10349");
    if (std::find(entries.begin(), entries.end(), entry) == entries.end()) entries.push_back(entry);
  }
  return entries;
}

LivenessReporter::LivenessReporter(LivenessReporterOptions options)
    : options_(std::move(options)) {}

LivenessReporter::~LivenessReporter() { stop(); }

Result<void> LivenessReporter::start() {
  if (options_.nodeName.empty())
    return makeError("liveness reporter: the node name is empty; set NODE_NAME");
  if (options_.reportInterval.count() <= 0 || options_.fencingTimeout <= options_.reportInterval)
    return makeError(
        "liveness reporter: fencingTimeout must be longer than reportInterval, or every late "
        "report fences the node");
  auto configured = splitControllerAddresses(options_.controllerAddress);
  if (!configured)
    return makeError("liveness reporter: controllerAddress: " + configured.error().message);
  configured_ = std::move(*configured);
  if (configured_.empty() && options_.fallbackAddress.empty())
    return makeError(
        "liveness reporter: no controller address; set controllerAddress or the Service's "
        "environment");
  startedAt_ = Clock::now();
  managerThread_ = std::thread([this] { manageTargets(); });
  fenceThread_ = std::thread([this] { fenceLoop(); });
  return {};
}

void LivenessReporter::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_.exchange(true)) return;
  }
  cv_.notify_all();
  if (managerThread_.joinable()) managerThread_.join();
  if (fenceThread_.joinable()) fenceThread_.join();
}

void LivenessReporter::reevaluate() {
  {
    std::lock_guard lock(mutex_);
    dirty_ = true;
  }
  cv_.notify_all();
}

std::string LivenessReporter::currentTarget() const {
  std::lock_guard lock(mutex_);
  return leaderTarget_;
}

std::vector<std::string> LivenessReporter::targets() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> addresses;
  for (const auto& [address, target] : targets_) addresses.push_back(address);
  return addresses;
}

LivenessReporterStats LivenessReporter::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

Holding LivenessReporter::holding() const {
  HoldingInputs inputs;
  inputs.fencingTimeout = options_.fencingTimeout;
  if (options_.witnesses != nullptr) {
    auto snapshot = options_.witnesses->snapshot();
    inputs.witnessSets = std::move(snapshot.required);
    inputs.witnessAckedSentAt = std::move(snapshot.ackedSentAt);
  }
  std::lock_guard lock(mutex_);
  inputs.leaderAckedSentAt = leaderAckedSentAt_;
  return holdingOf(inputs);
}

HoldingRule LivenessReporter::holdingRule() const {
  const auto now = Clock::now();
  const auto current = holding();
  const bool leader = current.leaderUntil && now < *current.leaderUntil;
  const bool witnesses = current.witnessesUntil && now < *current.witnessesUntil;
  if (leader && witnesses) return HoldingRule::kBoth;
  if (leader) return HoldingRule::kLeader;
  if (witnesses) return HoldingRule::kWitnesses;
  return HoldingRule::kNone;
}

std::vector<std::string> LivenessReporter::resolveTargets() {
  std::set<std::string> addresses;
  bool unresolved = false;
  for (const auto& entry : configured_) {
    auto resolved = resolveAll(entry);
    std::lock_guard lock(mutex_);
    if (resolved.empty()) {
      ++stats_.resolveFailures;
      // A lookup that fails now (DNS down) must not stop reports to replicas it found before.
      const auto last = lastResolved_.find(entry);
      if (last != lastResolved_.end())
        resolved = last->second;
      else
        unresolved = true;
    } else {
      lastResolved_[entry] = resolved;
    }
    addresses.insert(resolved.begin(), resolved.end());
  }
  if ((unresolved || configured_.empty()) && !options_.fallbackAddress.empty())
    addresses.insert(options_.fallbackAddress);
  return {addresses.begin(), addresses.end()};
}

void LivenessReporter::manageTargets() {
  std::vector<std::string> resolved;
  auto nextResolve = Clock::now();
  auto lastResolve = Clock::time_point{};
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto now = Clock::now();
    if (now >= nextResolve || (resolveSoon_ && now >= lastResolve + kMinResolveGap)) {
      resolveSoon_ = false;
      lock.unlock();
      resolved = resolveTargets();
      lock.lock();
      lastResolve = now;
      nextResolve = now + options_.resolveInterval;
    }
    std::set<std::string> desired(resolved.begin(), resolved.end());
    if (!learnedLeader_.empty()) desired.insert(learnedLeader_);
    std::vector<std::unique_ptr<Target>> removed;
    for (auto it = targets_.begin(); it != targets_.end();) {
      if (desired.contains(it->first)) {
        ++it;
        continue;
      }
      it->second->stop = true;
      removed.push_back(std::move(it->second));
      it = targets_.erase(it);
    }
    for (const auto& address : desired) {
      if (targets_.contains(address)) continue;
      auto target = std::make_unique<Target>();
      target->address = address;
      auto* raw = target.get();
      target->thread = std::thread([this, raw] { reportLoop(*raw); });
      targets_.emplace(address, std::move(target));
      SLUICE_LOG(kInfo, "liveness") << "reporting to the controller replica at " << address;
    }
    if (!removed.empty()) {
      lock.unlock();
      cv_.notify_all();
      for (auto& target : removed) {
        SLUICE_LOG(kInfo, "liveness") << "no longer reporting to " << target->address;
        target->thread.join();
      }
      lock.lock();
    }
    cv_.wait_until(lock, std::min(nextResolve, Clock::now() + kManagerTick),
                   [&] { return stopping_.load(); });
  }
  for (auto& [address, target] : targets_) target->stop = true;
  lock.unlock();
  cv_.notify_all();
  for (auto& [address, target] : targets_) target->thread.join();
  lock.lock();
  targets_.clear();
}

void LivenessReporter::learnLeader(const std::string& address) {
  if (address.empty() || !splitControllerAddresses(address).ok()) return;
  std::lock_guard lock(mutex_);
  if (learnedLeader_ == address) return;
  learnedLeader_ = address;
  SLUICE_LOG(kInfo, "liveness") << "a standby names the leader " << address;
}

void LivenessReporter::leaderAcked(const std::string& address, Clock::time_point sentAt,
                                   std::uint64_t epoch, const std::vector<std::string>& declared) {
  epoch_ = epoch;
  {
    std::lock_guard lock(mutex_);
    ++stats_.leaderAcks;
    if (!leaderAckedSentAt_ || sentAt > *leaderAckedSentAt_) leaderAckedSentAt_ = sentAt;
    leaderTarget_ = address;
    dirty_ = true;
  }
  // The leader now knows the witness set this report declared: the node may count it alone.
  if (options_.witnesses != nullptr) options_.witnesses->confirm(declared);
  cv_.notify_all();
}

void LivenessReporter::reportLoop(Target& target) {
  const kube::TransportOptions transportOptions{.connectTimeout = options_.fencingTimeout,
                                                .requestTimeout = options_.fencingTimeout,
                                                .maxIdleConnections = 1,
                                                .userAgent = "sluice-agent"};
  auto made = kube::makePlainHttpTransport(target.address, options_.tokenFile, transportOptions);
  if (!made) {
    SLUICE_LOG(kWarning, "liveness") << "controller address: " << made.error().message;
    return;
  }
  auto transport = std::move(*made);
  std::uint64_t connectsCounted = 0;
  bool loggedFailure = false;
  auto fail = [&](const std::string& message) {
    if (!loggedFailure)
      SLUICE_LOG(kWarning, "liveness") << "report to " << target.address << ": " << message;
    loggedFailure = true;
  };
  // Every replica gets report N at startedAt_ + N * reportInterval: the same body, the same time.
  auto tickAfter = [&](Clock::time_point now) {
    return static_cast<std::uint64_t>((now - startedAt_) / options_.reportInterval) + 1;
  };
  std::uint64_t sequence = tickAfter(Clock::now());
  while (true) {
    {
      std::unique_lock lock(mutex_);
      cv_.wait_until(lock,
                     startedAt_ + static_cast<std::int64_t>(sequence) * options_.reportInterval,
                     [&] { return stopping_.load() || target.stop.load(); });
    }
    if (stopping_ || target.stop) break;
    const auto sentAt = Clock::now();
    WitnessSnapshot witnesses;
    if (options_.witnesses != nullptr) witnesses = options_.witnesses->snapshot();
    auto report = nlohmann::json{
        {"node", options_.nodeName}, {"seq", sequence}, {"fenced", lostQuorum_.load()}};
    // Without a prober this node neither has nor is a witness: it says nothing about either, and
    // the controller decides its death on silence alone.
    if (options_.witnesses != nullptr) {
      nlohmann::json heard = nlohmann::json::object();
      for (const auto& [node, ms] : witnesses.heardMs) heard[node] = ms;
      report["witnesses"] = witnesses.declared;
      report["heard"] = heard;
    }
    const auto body = report.dump();
    {
      std::lock_guard lock(mutex_);
      ++stats_.sent;
    }
    auto response = transport->send(kube::HttpRequest{
        .method = "POST", .target = "/v1/report", .contentType = "application/json", .body = body});
    {
      std::lock_guard lock(mutex_);
      const auto connects = transport->connectionsOpened();
      stats_.connects += connects - connectsCounted;
      connectsCounted = connects;
    }
    sequence = std::max(sequence + 1, tickAfter(Clock::now()));
    if (!response) {
      fail(response.error().message);
      {
        std::lock_guard lock(mutex_);
        resolveSoon_ = true;  // a replica gone may have been replaced (a new pod IP)
      }
      continue;
    }
    const int status = response->status;
    if (status == 307 || status == 308) {
      // An older controller's standby: the leader it names becomes a target of its own.
      {
        std::lock_guard lock(mutex_);
        ++stats_.redirects;
      }
      if (auto leader = redirectAddress(response->header("location"))) learnLeader(*leader);
      loggedFailure = false;
      continue;
    }
    if (status != 200) {
      fail("HTTP " + std::to_string(status) + ": " + response->body);
      continue;
    }
    nlohmann::json answer;
    try {
      answer = nlohmann::json::parse(response->body);
    } catch (const nlohmann::json::exception&) {
      fail("the answer is not JSON: " + response->body);
      continue;
    }
    if (!answer.is_object()) {
      fail("the answer is not a JSON object: " + response->body);
      continue;
    }
    loggedFailure = false;
    {
      std::lock_guard lock(mutex_);
      ++stats_.succeeded;
    }
    const auto silence =
        std::chrono::milliseconds(answer.value("nodeSilenceTimeoutMs", std::int64_t{0}));
    if (silence.count() > 0 && !checkedTiming_.exchange(true))
      if (auto valid = validateFencing(options_.reportInterval, options_.fencingTimeout, silence);
          !valid)
        SLUICE_LOG(kError, "liveness") << valid.error().message;
    if (answer.value("leader", true)) {
      leaderAcked(target.address, sentAt, answer.value("epoch", std::uint64_t{0}),
                  witnesses.declared);
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      ++stats_.standbyAcks;
    }
    const auto leader = answer.value("leaderAddress", std::string());
    if (leader != target.address) learnLeader(leader);
  }
}

void LivenessReporter::fenceLoop() {
  while (!stopping_) {
    const auto current = holding();
    const auto now = Clock::now();
    const bool holds = current.holds(now);
    if (holds && fenced_) {
      fenced_ = false;
      lostQuorum_ = false;
      const bool byLeader = current.leaderUntil && now < *current.leaderUntil;
      SLUICE_LOG(kInfo, "liveness") << (byLeader ? "the leader" : "a majority of the witnesses")
                                    << " acknowledged in time: unfenced (may hold egress IPs)";
      if (options_.onUnfenced) options_.onUnfenced();
    } else if (!holds && !fenced_) {
      fenced_ = true;
      // "Lost its quorum" (the controller releases its IPs at once) only when witnesses could
      // have kept it: without any, a fence says only that the leader went away, and the next
      // leader must not move every node's IPs for that.
      lostQuorum_ =
          options_.witnesses != nullptr && !options_.witnesses->snapshot().declared.empty();
      {
        std::lock_guard lock(mutex_);
        ++stats_.fences;
      }
      SLUICE_LOG(kWarning, "liveness")
          << "neither the leader nor a majority of the witnesses acknowledged within "
          << options_.fencingTimeout.count() << "ms: fenced (dropping egress IPs)";
      if (options_.onFenced) options_.onFenced();
    }
    std::unique_lock lock(mutex_);
    // Holding: until the rule runs out, unless an acknowledgement extends it first. Fenced: until
    // an acknowledgement (and now and then, for a clock's sake).
    const auto deadline = holds ? *current.until : now + options_.reportInterval;
    cv_.wait_until(lock, deadline, [&] { return stopping_.load() || dirty_; });
    dirty_ = false;
  }
}

Result<void> validateFencing(std::chrono::milliseconds reportInterval,
                             std::chrono::milliseconds fencingTimeout,
                             std::chrono::milliseconds nodeSilenceTimeout) {
  if (fencingTimeout + reportInterval >= nodeSilenceTimeout)
    return makeError(
        "liveness timing: fencingTimeout (" + std::to_string(fencingTimeout.count()) +
        "ms) + reportInterval (" + std::to_string(reportInterval.count()) +
        "ms) must be below the controller's nodeSilenceTimeout (" +
        std::to_string(nodeSilenceTimeout.count()) +
        "ms), so a node lets go of its IPs before the controller moves them; lower fencingTimeout "
        "in sluice-agent.conf or raise nodeSilenceTimeout in sluice-controller.conf");
  return {};
}

}  // namespace sluice::agent
