// The agent side of node liveness and fencing. Every reportInterval it reports to EVERY replica of
// sluice-controller (the configured HOST:PORT list, each name resolved to all its addresses, plus
// the leader a standby names), one keep-alive HTTP/1.1 connection and one thread each. It may hold
// egress IPs while the LEADER acknowledged a report it sent less than fencingTimeout ago, or while
// a strict majority of its peer witnesses acknowledged a probe sent that recently (WitnessSource,
// the PeerProber); otherwise it is fenced and must drop its egress IPs (onFenced), until either
// holds again (onUnfenced). docs/peer-witnesses.md.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/peer_quorum.h"
#include "common/result.h"

namespace sluice::agent {

struct LivenessReporterOptions {
  std::string nodeName{};
  // Comma-separated HOST:PORT of the controller's replicas; a name (a headless Service) is
  // resolved to all its addresses, again every resolveInterval.
  std::string controllerAddress{};
  // HOST:PORT used instead of a name that does not resolve (the ClusterIP Service from the
  // environment: cluster DNS needs a working CNI). Empty: none.
  std::string fallbackAddress{};
  std::chrono::milliseconds reportInterval{100};
  std::chrono::milliseconds fencingTimeout{300};
  std::chrono::milliseconds resolveInterval{5000};
  std::string tokenFile{};  // service-account token sent as a bearer token; empty: none
  // The peer witnesses (rule b). Null: only the leader can make the node hold.
  WitnessSource* witnesses = nullptr;
  // Called from the reporter's fencing thread, never concurrently, always alternating. The
  // reporter starts fenced (it holds nothing until the leader or its witnesses answered) without
  // a call.
  std::function<void()> onFenced{};
  std::function<void()> onUnfenced{};
};

struct LivenessReporterStats {
  std::uint64_t sent = 0;
  std::uint64_t succeeded = 0;    // any 200
  std::uint64_t leaderAcks = 0;   // 200 with "leader": true
  std::uint64_t standbyAcks = 0;  // 200 with "leader": false (recorded, no holding)
  std::uint64_t redirects = 0;    // 307/308 from an older controller (its leader becomes a target)
  std::uint64_t connects = 0;
  std::uint64_t fences = 0;
  std::uint64_t resolveFailures = 0;
};

// Which rule lets the node hold now (for status and logs).
enum class HoldingRule { kNone, kLeader, kWitnesses, kBoth };
const char* holdingRuleName(HoldingRule rule);

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
  // Something changed that may let the node hold (a witness acknowledged): decide again now.
  // Any thread.
  void reevaluate();

  bool fenced() const { return fenced_.load(); }
  // The replica that last answered as the leader; "" before any did.
  std::string currentTarget() const;
  // Every replica reports go to now ("IP:PORT").
  std::vector<std::string> targets() const;
  HoldingRule holdingRule() const;
  std::uint64_t leaderEpoch() const { return epoch_.load(); }
  LivenessReporterStats stats() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Target;
  void manageTargets();
  void reportLoop(Target& target);
  void fenceLoop();
  std::vector<std::string> resolveTargets();
  void leaderAcked(const std::string& address, Clock::time_point sentAt, std::uint64_t epoch,
                   const std::vector<std::string>& declared);
  void learnLeader(const std::string& address);
  Holding holding() const;

  LivenessReporterOptions options_;
  std::vector<std::string> configured_;  // the list's HOST:PORT entries
  Clock::time_point startedAt_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> fenced_{true};
  std::atomic<bool> lostQuorum_{false};  // fenced after having held: reports say "fenced": true
  std::atomic<std::uint64_t> epoch_{0};
  std::atomic<bool> checkedTiming_{false};
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool dirty_ = false;        // reevaluate() was called
  bool resolveSoon_ = false;  // a target failed: resolve again (at most once a second)
  std::optional<Clock::time_point> leaderAckedSentAt_;
  std::string leaderTarget_;
  std::string learnedLeader_;                                     // named by a standby (or a 307)
  std::map<std::string, std::vector<std::string>> lastResolved_;  // per configured entry
  std::map<std::string, std::unique_ptr<Target>> targets_;        // by "IP:PORT"
  LivenessReporterStats stats_;
  std::thread managerThread_;
  std::thread fenceThread_;
};

// "a:1, b:2" -> {"a:1", "b:2"}; an error names the bad entry.
[[nodiscard]] Result<std::vector<std::string>> splitControllerAddresses(const std::string& list);

// Pure: validates the timing contract (fencingTimeout + reportInterval < nodeSilenceTimeout).
[[nodiscard]] Result<void> validateFencing(std::chrono::milliseconds reportInterval,
                                           std::chrono::milliseconds fencingTimeout,
                                           std::chrono::milliseconds nodeSilenceTimeout);

}  // namespace sluice::agent
