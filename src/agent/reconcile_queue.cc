// ReconcileQueue (reconcile_queue.h), and setFlowsOrLog (flow_sink.h).
#include "agent/reconcile_queue.h"

#include "agent/flow_sink.h"
#include "common/log.h"

namespace sluice::agent {

void ReconcileQueue::add(const std::string& key) {
  std::lock_guard lock(mutex_);
  dirty_.insert(key);
  if (scheduled_) return;
  scheduled_ = true;
  loop_.post([this] { drain(); });
}

void ReconcileQueue::drain() {
  std::set<std::string> keys;
  {
    std::lock_guard lock(mutex_);
    keys.swap(dirty_);
    scheduled_ = false;
  }
  if (!keys.empty()) reconcile_(keys);
}

void setFlowsOrLog(FlowSink& sink, const std::string& owner,
                   const std::vector<ofrules::Flow>& flows) {
  if (auto set = sink.setFlows(owner, flows); !set)
    SLUICE_LOG(kError, "agent") << "flows of " << owner << ": " << set.error().message;
}

}  // namespace sluice::agent
