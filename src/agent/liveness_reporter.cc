// LivenessReporter: one thread sends reports over a persistent connection (reconnecting and
// following 307s), another fences when the last successful report is too old. Fencing is timed
// from when the last successful report was SENT: the controller received it no earlier, so the
// node has let go before the controller's silence timer (counted from receipt) can fire.
#include "agent/liveness_reporter.h"

#include <memory>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "kube/transport.h"

namespace sluice::agent {
namespace {

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

}  // namespace

LivenessReporter::LivenessReporter(LivenessReporterOptions options)
    : options_(std::move(options)) {}

LivenessReporter::~LivenessReporter() { stop(); }

Result<void> LivenessReporter::start() {
  if (options_.nodeName.empty())
    return makeError("liveness reporter: the node name is empty; set NODE_NAME");
  if (options_.controllerAddress.empty())
    return makeError(
        "liveness reporter: no controller address; set controllerAddress or the Service's "
        "environment");
  if (options_.reportInterval.count() <= 0 || options_.fencingTimeout <= options_.reportInterval)
    return makeError(
        "liveness reporter: fencingTimeout must be longer than reportInterval, or every late "
        "report fences the node");
  target_ = options_.controllerAddress;
  reportThread_ = std::thread([this] { reportLoop(); });
  fenceThread_ = std::thread([this] { fenceLoop(); });
  return {};
}

void LivenessReporter::stop() {
  if (stopping_.exchange(true)) return;
  cv_.notify_all();
  if (reportThread_.joinable()) reportThread_.join();
  if (fenceThread_.joinable()) fenceThread_.join();
}

std::string LivenessReporter::currentTarget() const {
  std::lock_guard lock(mutex_);
  return target_;
}

LivenessReporterStats LivenessReporter::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void LivenessReporter::succeeded(Clock::time_point sentAt, std::uint64_t epoch) {
  epoch_ = epoch;
  {
    std::lock_guard lock(mutex_);
    ++stats_.succeeded;
    if (!lastSuccessSentAt_ || sentAt > *lastSuccessSentAt_) lastSuccessSentAt_ = sentAt;
  }
  cv_.notify_all();
  // A reply that took longer than the fencing timeout proves nothing about now.
  if (Clock::now() >= sentAt + options_.fencingTimeout) return;
  std::lock_guard transition(transitionMutex_);
  if (fenced_.exchange(false)) {
    SLUICE_LOG(kInfo, "liveness") << "controller reachable again: unfenced (may hold egress IPs)";
    if (options_.onUnfenced) options_.onUnfenced();
  }
}

void LivenessReporter::reportLoop() {
  // One keep-alive connection at a time (the transport pools at most one), to the Service or,
  // after a redirect, to the leader.
  std::unique_ptr<kube::Transport> transport;
  std::string transportTarget;
  std::uint64_t connectsBefore = 0;  // connections of the transports replaced so far
  const kube::TransportOptions transportOptions{.connectTimeout = options_.fencingTimeout,
                                                .requestTimeout = options_.fencingTimeout,
                                                .maxIdleConnections = 1,
                                                .userAgent = "sluice-agent"};
  std::uint64_t sequence = 0;
  std::string target = options_.controllerAddress;
  auto nextSend = Clock::now();
  bool loggedFailure = false;
  bool checkedTiming = false;
  auto fail = [&](const std::string& message) {
    if (!loggedFailure) {
      SLUICE_LOG(kWarning, "liveness") << message;
    }
    loggedFailure = true;
  };
  while (!stopping_) {
    {
      std::unique_lock lock(mutex_);
      cv_.wait_until(lock, nextSend, [&] { return stopping_.load(); });
    }
    if (stopping_) break;
    const auto sentAt = Clock::now();
    nextSend = sentAt + options_.reportInterval;
    ++sequence;
    bool ok = false;
    // At most one redirect per report: the standby names the leader.
    for (int attempt = 0; attempt < 3 && !ok && !stopping_; ++attempt) {
      if (!transport || transportTarget != target) {
        if (transport) connectsBefore += transport->connectionsOpened();
        auto made = kube::makePlainHttpTransport(target, options_.tokenFile, transportOptions);
        if (!made) {
          fail("controller address: " + made.error().message);
          break;
        }
        transport = std::move(*made);
        transportTarget = target;
      }
      {
        std::lock_guard lock(mutex_);
        ++stats_.sent;
      }
      auto response = transport->send(kube::HttpRequest{
          .method = "POST",
          .target = "/v1/report",
          .contentType = "application/json",
          .body = nlohmann::json{{"node", options_.nodeName}, {"seq", sequence}}.dump()});
      {
        std::lock_guard lock(mutex_);
        stats_.connects = connectsBefore + transport->connectionsOpened();
      }
      if (!response) {
        fail("report to " + target + ": " + response.error().message);
        // The leader we were sent to is gone: go back to the Service, which finds the new one.
        // (The transport already retried once on a fresh connection.)
        if (target == options_.controllerAddress) break;
        target = options_.controllerAddress;
        continue;
      }
      const int status = response->status;
      if (status == 307 || status == 308) {
        auto leader = redirectAddress(response->header("location"));
        {
          std::lock_guard lock(mutex_);
          ++stats_.redirects;
        }
        if (!leader) break;
        target = *leader;
        continue;
      }
      if (status != 200) {
        fail("report to " + target + ": HTTP " + std::to_string(status) + ": " + response->body);
        break;
      }
      std::uint64_t epoch = 0;
      try {
        const auto body = nlohmann::json::parse(response->body);
        epoch = body.value("epoch", std::uint64_t{0});
        const auto silence =
            std::chrono::milliseconds(body.value("nodeSilenceTimeoutMs", std::int64_t{0}));
        if (silence.count() > 0 && !checkedTiming) {
          checkedTiming = true;
          if (auto valid =
                  validateFencing(options_.reportInterval, options_.fencingTimeout, silence);
              !valid) {
            SLUICE_LOG(kError, "liveness") << valid.error().message;
          }
        }
      } catch (const nlohmann::json::exception&) {
        break;
      }
      ok = true;
      loggedFailure = false;
      {
        std::lock_guard lock(mutex_);
        target_ = target;
      }
      succeeded(sentAt, epoch);
    }
  }
}

void LivenessReporter::fenceLoop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (fenced_ || !lastSuccessSentAt_) {
      // Nothing to time until a report succeeds; wake on a success or stop.
      cv_.wait_for(lock, options_.reportInterval,
                   [&] { return stopping_.load() || (!fenced_ && lastSuccessSentAt_); });
      continue;
    }
    const auto deadline = *lastSuccessSentAt_ + options_.fencingTimeout;
    if (Clock::now() < deadline) {
      cv_.wait_until(lock, deadline, [&] { return stopping_.load(); });
      continue;
    }
    lock.unlock();
    {
      std::lock_guard transition(transitionMutex_);
      std::unique_lock check(mutex_);
      const bool expired =
          lastSuccessSentAt_ && Clock::now() >= *lastSuccessSentAt_ + options_.fencingTimeout;
      check.unlock();
      if (expired && !fenced_.exchange(true)) {
        {
          std::lock_guard stats(mutex_);
          ++stats_.fences;
        }
        SLUICE_LOG(kWarning, "liveness")
            << "no report reached the controller for " << options_.fencingTimeout.count()
            << "ms: fenced (dropping egress IPs)";
        if (options_.onFenced) options_.onFenced();
      }
    }
    lock.lock();
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
