// The controller's liveness service: agents' reports over HTTP (POST /v1/report, authenticated
// with TokenReview), the liveness view (GET /v1/nodes), and the decisions that declare nodes
// dead. Every replica, leader or standby, records every report and decides alike, so a standby's
// table is valid the moment it takes over; only the leader acts on a death. Its lock guards only
// its own small state, so a report is never blocked behind a reconcile.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/http_server.h"
#include "common/result.h"
#include "controller/controller_config.h"
#include "controller/controller_metrics.h"
#include "controller/node_liveness.h"
#include "kube/client.h"

namespace sluice::controller {

inline constexpr const char* kLeaderAddressAnnotation = "sluice.io/leader-address";

struct LivenessServiceOptions {
  ControllerConfig config{};
  std::string leaseNamespace = "kube-system";  // also the agents' namespace
  std::string identity{};
  // Asks for a reconcile: a node died or came back.
  std::function<void()> onChange{};
  // Whether this replica leads now and its Lease is still valid (only a leader's answer says
  // "leader": an agent may hold its IPs on it).
  std::function<bool()> isLeader{};
  // The Lease as the leader elector last saw it (never blocks on the API server); unset: the
  // service reads the Lease itself, at most every 500 ms.
  std::function<std::optional<nlohmann::json>()> observedLease{};
};

// What a reconcile needs to know of liveness, taken in one short critical section.
struct LivenessSnapshot {
  std::map<std::string, NodeLiveness> liveness;              // every known node
  std::map<std::string, NodeLivenessTracker::Death> deaths;  // dead nodes, and why
};

class LivenessService {
 public:
  using Clock = std::chrono::steady_clock;

  LivenessService(kube::Client& client, ControllerMetrics& metrics, LivenessServiceOptions options);
  ~LivenessService();
  LivenessService(const LivenessService&) = delete;
  LivenessService& operator=(const LivenessService&) = delete;

  // Adds /v1/report and /v1/nodes to `server` (before it starts).
  void addRoutes(HttpServer& server);
  void setAdvertiseAddress(const std::string& address);
  // Starts and stops the thread that declares silent nodes dead (on every replica).
  void start();
  void stop();

  // This replica became the leader: a new epoch. Its table is used at once if it has tracked
  // reports for a silence period, else after one (NodeLivenessTracker::startTerm). Call wake()
  // once isLeader() says so, so that deaths already decided are acted on at once.
  void startTerm();
  void wake() { cv_.notify_all(); }
  // Another replica may lead now: the next answer to an agent reads the Lease again.
  void forgetLeader();
  // Tracks exactly `nodes` (the Node objects) and returns their liveness now.
  LivenessSnapshot snapshot(const std::vector<std::string>& nodes, Clock::time_point now);
  std::uint64_t epoch() const;

  HttpResponse handleReport(const HttpRequest& request);
  HttpResponse handleNodes(const HttpRequest& request);

 private:
  Result<void> authenticate(const HttpRequest& request);
  std::string leaderAddress();
  void expiryLoop();
  // Records `deaths` (lock held); true when the leader must act on them.
  bool noteDeaths(const std::vector<NodeLivenessTracker::Death>& deaths, Clock::time_point now);
  bool leading() const { return options_.isLeader && options_.isLeader(); }

  kube::Client& client_;
  ControllerMetrics& metrics_;
  LivenessServiceOptions options_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable cv_;
  NodeLivenessTracker tracker_;
  std::uint64_t epoch_ = 0;
  std::map<std::string, NodeLivenessTracker::Death> deaths_;  // dead nodes, until they report
  bool loggedSilenceAlone_ = false;
  std::string advertiseAddress_;
  std::string cachedLeaderAddress_;
  Clock::time_point cachedLeaderAt_{};
  std::map<std::string, Clock::time_point> tokenCache_;  // authenticated tokens and their expiry

  std::thread thread_;
};

}  // namespace sluice::controller
