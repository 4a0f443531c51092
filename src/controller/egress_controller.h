// The reconcile shell of sluice-controller: informers on Egresses, ExternalIPPools and Nodes,
// leader election, the liveness service, and one worker that decodes the cluster, plans with
// the pure scheduler (planSync) and writes only what changed (StatusWriter).
#pragma once

#include <atomic>
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
#include "controller/liveness_service.h"
#include "controller/status_writer.h"
#include "controller/sync_plan.h"
#include "kube/client.h"
#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "kube/leader_election.h"
#include "kube/work_queue.h"

namespace sluice::controller {

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
  // Leads, and its Lease is surely still its own (kube::LeaderElector::holdsLease): only then
  // does it answer agents as the leader or write.
  bool holdsLeadership() const { return leading_.load() && (!elector_ || elector_->holdsLease()); }
  ControllerMetrics& metrics() { return metrics_; }

 private:
  using Clock = std::chrono::steady_clock;

  void buildServer(const std::string& listen);
  void buildElector();
  void startedLeading();
  void stoppedLeading();
  void publishLeaderAddress();
  void workerLoop();
  void enqueue() {
    queue_.add("cluster");
    metrics_.workqueueDepth().Set(static_cast<double>(queue_.size()));
  }
  // One full reconcile; false asks for a retry with backoff.
  bool sync();
  SyncInputs observe(Clock::time_point now, const std::string& nowText);
  // Writes the plan's statuses and adds the Events of those written to `events`; false when a
  // write failed (retry).
  bool apply(const SyncPlan& plan, const std::string& nowText, std::vector<PlannedEvent>& events);
  void recordEvents(const std::vector<PlannedEvent>& events);
  void rememberWrite(const std::string& egress, const nlohmann::json& object);

  kube::Client& client_;
  EgressControllerOptions options_;
  ControllerMetrics metrics_;
  std::unique_ptr<LivenessService> liveness_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<kube::Informer> egresses_;
  std::unique_ptr<kube::Informer> pools_;
  std::unique_ptr<kube::Informer> nodes_;
  std::unique_ptr<kube::LeaderElector> elector_;
  kube::EventRecorder events_;
  StatusWriter writer_;
  HandoverBook handovers_;  // worker thread only
  // Failed syncs retry quickly whatever happened before: after an API server outage the first
  // write that can land should land within a second.
  kube::WorkQueue queue_{kube::WorkQueueOptions{.backoff = {.initial = std::chrono::milliseconds(5),
                                                            .max = std::chrono::milliseconds(1000),
                                                            .factor = 2.0,
                                                            .jitter = 0.0}}};

  std::atomic<bool> leading_{false};
  std::atomic<bool> stopping_{false};

  // Guards the two small records below (the worker uses them; a new term clears them). Nothing
  // is decoded under it.
  std::mutex termMutex_;
  // {uid, resourceVersion, status} this term wrote per Egress: newer than the informer's cache
  // may be.
  std::map<std::string, nlohmann::json> written_;
  std::set<std::string> reportedProblems_;  // Events already recorded this term

  std::thread worker_;
};

}  // namespace sluice::controller
