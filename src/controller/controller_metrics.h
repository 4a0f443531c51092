// sluice-controller's Prometheus metrics, in one registry served at /metrics.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace sluice::controller {

class ControllerMetrics {
 public:
  ControllerMetrics();
  prometheus::Registry& registry() { return *registry_; }

  prometheus::Counter& allocations() { return *allocations_; }
  prometheus::Gauge& assignments() { return *assignments_; }
  prometheus::Counter& failovers() { return *failovers_; }
  prometheus::Histogram& decisionLatency() { return *decisionLatency_; }
  prometheus::Gauge& workqueueDepth() { return *workqueueDepth_; }
  prometheus::Histogram& syncDuration() { return *syncDuration_; }
  prometheus::Gauge& liveNodes() { return *liveNodes_; }
  prometheus::Gauge& isLeader() { return *isLeader_; }
  prometheus::Counter& reports() { return *reports_; }
  void setPool(const std::string& pool, double total, double used);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter* allocations_;
  prometheus::Gauge* assignments_;
  prometheus::Counter* failovers_;
  prometheus::Histogram* decisionLatency_;
  prometheus::Gauge* workqueueDepth_;
  prometheus::Histogram* syncDuration_;
  prometheus::Gauge* liveNodes_;
  prometheus::Gauge* isLeader_;
  prometheus::Counter* reports_;
  prometheus::Family<prometheus::Gauge>* poolTotal_;
  prometheus::Family<prometheus::Gauge>* poolUsed_;
};

}  // namespace sluice::controller
