// The reconcile shell of sluice-controller: informers on Egresses, ExternalIPPools and Nodes,
// agents' liveness reports over HTTP, leader election, and one worker that runs the pure
// scheduler over the whole cluster and writes only what changed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/http_server.h"
#include "common/result.h"
#include "controller/controller_config.h"
#include "controller/controller_metrics.h"
#include "controller/node_liveness.h"
#include "kube/client.h"
#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "kube/leader_election.h"
#include "kube/work_queue.h"

namespace sluice::controller {

// How long status keeps a graceful move's previousNode: longer than the agents' hold and drain.
inline constexpr std::chrono::milliseconds kHandoverWindow{2000};

inline constexpr const char* kLeaderAddressAnnotation = "sluice.io/leader-address";

struct EgressControllerOptions {
  ControllerConfig config{};
  std::string leaseNamespace = "kube-system";
  std::string identity{};          // unique per replica (the pod name)
  std::string advertiseAddress{};  // HOST:PORT agents reach this replica at; empty: derived
  std::string listenAddress{};     // overrides config.listenAddress when set
};

class EgressController {
 public:
  EgressController(kube::Client& client, EgressControllerOptions options);
  ~EgressController();
  EgressController(const EgressController&) = delete;
  EgressController& operator=(const EgressController&) = delete;

  [[nodiscard]] Result<void> start();
  // Stops leading (releasing the Lease), the worker, the informers and the HTTP server.
  void stop();

  int port() const { return server_ ? server_->port() : 0; }
  bool isLeader() const { return leading_.load(); }
  ControllerMetrics& metrics() { return metrics_; }

 private:
  using Clock = std::chrono::steady_clock;

  HttpResponse handleReport(const HttpRequest& request);
  HttpResponse handleNodes(const HttpRequest& request);
  Result<void> authenticate(const HttpRequest& request);
  std::string leaderAddress();

  void startedLeading();
  void stoppedLeading();
  void workerLoop();
  void livenessLoop();
  void enqueue() {
    queue_.add("cluster");
    metrics_.workqueueDepth().Set(static_cast<double>(queue_.size()));
  }
  // One full reconcile; false asks for a retry with backoff.
  bool sync();
  // The graceful moves of one Egress still in flight, after recording new ones.
  std::vector<Handover> trackHandovers(const std::string& egress, const nlohmann::json& current,
                                       const nlohmann::json& desired,
                                       const std::map<std::string, NodeLiveness>& liveness,
                                       Clock::time_point now);

  kube::Client& client_;
  EgressControllerOptions options_;
  ControllerMetrics metrics_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<kube::Informer> egresses_;
  std::unique_ptr<kube::Informer> pools_;
  std::unique_ptr<kube::Informer> nodes_;
  std::unique_ptr<kube::LeaderElector> elector_;
  kube::EventRecorder events_;
  // By Egress name: graceful moves announced with previousNode, until when (worker thread only).
  std::map<std::string, std::vector<std::pair<Handover, Clock::time_point>>> handovers_;
  kube::WorkQueue queue_;

  std::atomic<bool> leading_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> started_{false};

  std::mutex mutex_;  // guards everything below
  std::condition_variable livenessCv_;
  NodeLivenessTracker tracker_;
  std::uint64_t epoch_ = 0;
  std::map<std::string, NodeLivenessTracker::Death> deaths_;  // dead nodes of this term
  // {uid, status} this term wrote per Egress: newer than the informer's cache may be.
  std::map<std::string, nlohmann::json> written_;
  std::set<std::string> reportedProblems_;  // Events already recorded this term
  std::string cachedLeaderAddress_;
  Clock::time_point cachedLeaderAt_{};
  std::map<std::string, Clock::time_point> tokenCache_;  // authenticated tokens and their expiry

  std::thread worker_;
  std::thread livenessThread_;
};

}  // namespace sluice::controller
