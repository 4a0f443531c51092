// Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules: acquire when the
// lease has not been renewed for leaseDuration (timed on our clock), renew every retryPeriod,
// give up leadership when renewing fails for renewDeadline, release on stop.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "kube/client.h"

namespace sluice::kube {

struct LeaderElectionOptions {
  std::string leaseNamespace = "kube-system";
  std::string leaseName{};
  std::string identity{};  // unique per candidate, e.g. pod name
  std::chrono::milliseconds leaseDuration{15'000};
  // A leader that cannot renew for this long stops leading (must be < leaseDuration, so that it
  // stops before anyone else may take over).
  std::chrono::milliseconds renewDeadline{10'000};
  std::chrono::milliseconds retryPeriod{2'000};
  // Called on the elector's thread; onStartedLeading should start work and return.
  std::function<void()> onStartedLeading{};
  std::function<void()> onStoppedLeading{};
  std::function<void(const std::string& identity)> onNewLeader{};
  // On stop(), clear holderIdentity so that a successor need not wait for expiry.
  bool releaseOnStop = true;
};

// A Lease's spec as read from the API (pure decoding, for tests).
struct LeaseRecord {
  std::string holderIdentity;
  int64_t leaseDurationSeconds = 0;
  std::optional<std::chrono::system_clock::time_point> acquireTime;
  std::optional<std::chrono::system_clock::time_point> renewTime;
  int64_t leaseTransitions = 0;
};
LeaseRecord decodeLease(const nlohmann::json& lease);
nlohmann::json encodeLeaseSpec(const LeaseRecord& record);

class LeaderElector {
 public:
  LeaderElector(Client& client, LeaderElectionOptions options);
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  [[nodiscard]] Result<void> start();
  // Stops campaigning; if leading, calls onStoppedLeading and releases the lease.
  void stop();
  bool isLeader() const { return leading_.load(); }
  // Whether this candidate leads and its last successful renewal was sent less than
  // renewDeadline ago. isLeader() stays true while a renewal hangs; this does not, so work that
  // must never overlap a successor's (answering agents as the leader, writing) checks it: a
  // successor takes over no earlier than leaseDuration (> renewDeadline) after that renewal.
  bool holdsLease() const;
  // The holder last observed (may be us).
  std::string observedLeader() const;
  // The Lease as last read or written (renewed every retryPeriod), if any.
  std::optional<nlohmann::json> observedLease() const;

 private:
  void run();
  // One acquire-or-renew attempt; true if we hold the lease afterwards.
  bool tryAcquireOrRenew();
  void release();
  void setLeading(bool leading);
  void waitFor(std::chrono::milliseconds delay);

  Client& client_;
  LeaderElectionOptions options_;
  std::atomic<bool> leading_{false};
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::thread thread_;
  // What we last saw, and when on our monotonic clock it last changed: expiry is judged by our
  // own clock, never by comparing timestamps written by other machines.
  std::string observedResourceVersion_;
  std::string observedHolder_;
  std::chrono::steady_clock::time_point observedAt_;
  int64_t observedLeaseDurationSeconds_ = 0;
  std::optional<nlohmann::json> observedLease_;
  // steady_clock ticks until which our lease is surely ours (see holdsLease()).
  std::atomic<std::int64_t> validUntil_{0};
};

}  // namespace sluice::kube
