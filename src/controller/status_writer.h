// The thin shell that carries out a SyncPlan's writes: one merge PATCH of /status per Egress or
// ExternalIPPool that changed, guarded by the resourceVersion the plan compared against.
#pragma once

#include <nlohmann/json.hpp>

#include "controller/sync_plan.h"
#include "kube/client.h"

namespace sluice::controller {

class StatusWriter {
 public:
  explicit StatusWriter(kube::Client& client) : client_(client) {}

  // One request on the failover path: a merge patch guarded by the resourceVersion the current
  // status came from. Only on 409 Conflict (someone else wrote) re-reads and recomputes from the
  // fresh status. Returns the object as written; NotFound (the Egress is gone) is an ApiResult.
  kube::ApiResult<nlohmann::json> writeEgress(const EgressWrite& write, const std::string& nowText);
  kube::ApiResult<nlohmann::json> writePool(const PoolWrite& write);

 private:
  kube::Client& client_;
};

}  // namespace sluice::controller
