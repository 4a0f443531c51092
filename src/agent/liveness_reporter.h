// The agent side of node liveness: a small report to sluice-controller every reportInterval over
// one keep-alive HTTP/1.1 connection, following a standby's 307 to the leader, and fencing: when
// no report has succeeded for fencingTimeout the node must drop its egress IPs (onFenced), and
// may hold them again once reports succeed (onUnfenced).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/result.h"

namespace sluice::agent {

struct LivenessReporterOptions {
  std::string nodeName{};
  std::string controllerAddress{};  // HOST:PORT of the controller Service (or a replica)
  std::chrono::milliseconds reportInterval{100};
  std::chrono::milliseconds fencingTimeout{300};
  std::string tokenFile{};  // service-account token sent as a bearer token; empty: none
  // Called from the reporter's threads, never concurrently, always alternating. The reporter
  // starts fenced (it holds nothing until the controller has heard it) without a call.
  std::function<void()> onFenced{};
  std::function<void()> onUnfenced{};
};

struct LivenessReporterStats {
  std::uint64_t sent = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t redirects = 0;
  std::uint64_t connects = 0;
  std::uint64_t fences = 0;
};

class LivenessReporter {
 public:
  explicit LivenessReporter(LivenessReporterOptions options);
  ~LivenessReporter();
  LivenessReporter(const LivenessReporter&) = delete;
  LivenessReporter& operator=(const LivenessReporter&) = delete;

  [[nodiscard]] Result<void> start();
  // Stops reporting (the controller will soon see the node as silent). Idempotent. Does not
  // call onFenced: a stopping agent drops its IPs itself.
  void stop();

  bool fenced() const { return fenced_.load(); }
  // The controller that answered last (the leader after a redirect).
  std::string currentTarget() const;
  std::uint64_t leaderEpoch() const { return epoch_.load(); }
  LivenessReporterStats stats() const;

 private:
  using Clock = std::chrono::steady_clock;
  void reportLoop();
  void fenceLoop();
  void succeeded(Clock::time_point sentAt, std::uint64_t epoch);

  LivenessReporterOptions options_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> fenced_{true};
  std::atomic<std::uint64_t> epoch_{0};
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<Clock::time_point> lastSuccessSentAt_;
  std::string target_;
  LivenessReporterStats stats_;
  std::mutex transitionMutex_;  // serialises onFenced/onUnfenced
  std::thread reportThread_;
  std::thread fenceThread_;
};

// Pure: validates the timing contract (fencingTimeout + reportInterval < nodeSilenceTimeout).
[[nodiscard]] Result<void> validateFencing(std::chrono::milliseconds reportInterval,
                                           std::chrono::milliseconds fencingTimeout,
                                           std::chrono::milliseconds nodeSilenceTimeout);

}  // namespace sluice::agent
