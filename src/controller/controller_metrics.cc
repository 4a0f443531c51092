// Metric definitions: names follow Prometheus conventions (_total counters, _seconds units).
#include "controller/controller_metrics.h"

namespace sluice::controller {

ControllerMetrics::ControllerMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  using namespace prometheus;
  auto& registry = *registry_;
  allocations_ = &BuildCounter()
                      .Name("sluice_controller_egress_ip_allocations_total")
                      .Help("Egress IPs newly allocated (from a pool or a fixed spec.egressIP)")
                      .Register(registry)
                      .Add({});
  assignments_ = &BuildGauge()
                      .Name("sluice_controller_egress_ip_assignments")
                      .Help("Egress IPs currently placed on a node")
                      .Register(registry)
                      .Add({});
  failovers_ = &BuildCounter()
                    .Name("sluice_controller_failovers_total")
                    .Help("Egress IPs moved off a node that died or left the pool's nodeSelector")
                    .Register(registry)
                    .Add({});
  decisionLatency_ =
      &BuildHistogram()
           .Name("sluice_controller_decision_latency_seconds")
           .Help(
               "From a node's silence exceeding nodeSilenceTimeout to its IPs' new status written")
           .Register(registry)
           .Add({}, Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                0.5, 1, 2.5});
  workqueueDepth_ = &BuildGauge()
                         .Name("sluice_controller_workqueue_depth")
                         .Help("Keys waiting in the reconcile work queue")
                         .Register(registry)
                         .Add({});
  syncDuration_ =
      &BuildHistogram()
           .Name("sluice_controller_sync_duration_seconds")
           .Help("One full reconcile: decode, schedule, write changed status")
           .Register(registry)
           .Add({}, Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                0.1, 0.25, 0.5, 1, 2.5, 5});
  liveNodes_ = &BuildGauge()
                    .Name("sluice_controller_live_nodes")
                    .Help("Nodes whose agent reports within nodeSilenceTimeout")
                    .Register(registry)
                    .Add({});
  isLeader_ = &BuildGauge()
                   .Name("sluice_controller_is_leader")
                   .Help("1 on the replica that holds the Lease")
                   .Register(registry)
                   .Add({});
  reports_ = &BuildCounter()
                  .Name("sluice_controller_liveness_reports_total")
                  .Help("Agent liveness reports accepted by this replica as leader")
                  .Register(registry)
                  .Add({});
  poolTotal_ = &BuildGauge()
                    .Name("sluice_controller_pool_ips")
                    .Help("IPs in an ExternalIPPool (its size; _total is kept for counters)")
                    .Register(registry);
  poolUsed_ = &BuildGauge()
                   .Name("sluice_controller_pool_ips_used")
                   .Help("IPs of an ExternalIPPool allocated to Egresses")
                   .Register(registry);
}

void ControllerMetrics::setPool(const std::string& pool, double total, double used) {
  poolTotal_->Add({{"pool", pool}}).Set(total);
  poolUsed_->Add({{"pool", pool}}).Set(used);
}

}  // namespace sluice::controller
