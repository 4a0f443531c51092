// The statuses sluice-controller wants on Egresses and ExternalIPPools, and the graceful moves
// between two Egress statuses. Pure: typed models in, typed models out (with JSON forms for the
// wire and for tests).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/egress.h"
#include "controller/egress_scheduler.h"

namespace sluice::controller {

struct DecodedEgress;

// A condition that keeps its lastTransitionTime from `current` while its status is unchanged.
api::Condition makeCondition(const std::string& type, bool ok, const std::string& reason,
                             const std::string& message, const std::vector<api::Condition>& current,
                             const std::string& now);

// The status sluice-controller wants on an Egress. `current` is the status now (conditions keep
// their lastTransitionTime while unchanged); `now` is an RFC 3339 time for new transitions.
api::EgressStatus desiredEgressStatus(const DecodedEgress& egress, const EgressResult* result,
                                      const api::EgressStatus& current, const std::string& now);
nlohmann::json desiredEgressStatus(const DecodedEgress& egress, const EgressResult* result,
                                   const nlohmann::json& current, const std::string& now);

// A graceful move: the IP changes node while the node it leaves is alive. Status announces it
// with `previousNode` so that agents hand over in order (docs/egress-datapath.md).
struct Handover {
  std::string ip;
  std::string node;
  std::string previousNode;
  bool operator==(const Handover&) const = default;
};

// The IPs whose node changes from one node to another between two statuses.
std::vector<Handover> findMoves(const api::EgressStatus& current, const api::EgressStatus& desired);
std::vector<Handover> findMoves(const nlohmann::json& current, const nlohmann::json& desired);
// `desired` with `previousNode` on the entries of `handovers` still assigned as they say; a
// single-IP Egress gets a status.egressIPs list while a hand-over is in flight.
api::EgressStatus withHandovers(api::EgressStatus desired, const std::vector<Handover>& handovers);
nlohmann::json withHandovers(const nlohmann::json& desired, const std::vector<Handover>& handovers);

// ExternalIPPool status: usage {total, used} and the condition Overlapping, True when
// `overlaps` (this pool's overlaps with pools whose names sort first) is not empty.
nlohmann::json desiredPoolStatus(const PoolUsage& usage, const std::vector<PoolOverlap>& overlaps,
                                 const std::vector<api::Condition>& current,
                                 const std::string& now);
nlohmann::json desiredPoolStatus(const PoolUsage& usage, const std::vector<PoolOverlap>& overlaps,
                                 const nlohmann::json& current, const std::string& now);

}  // namespace sluice::controller
