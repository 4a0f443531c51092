// Typed decoding of Egress, ExternalIPPool and Node objects into plain structs, and the pure
// step from those structs (plus node liveness and config) to the scheduler's input. It repeats
// the CRDs' CEL checks, because kubectl's client-side dry run and older API servers skip them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/egress_scheduler.h"
#include "kube/label_selector.h"

namespace sluice::controller {

inline constexpr const char* kCapacityAnnotation = "sluice.io/egress-ip-capacity";

struct DecodedPool {
  std::string name;
  std::int64_t creationOrder = 0;
  std::vector<IpRange> ranges;                      // the valid entries of spec.ipRanges
  std::optional<kube::LabelSelector> nodeSelector;  // absent: every node
  std::vector<std::string> problems;  // invalid entries, each naming the field and the fix
};

struct DecodedNode {
  std::string name;
  kube::Labels labels;
  std::optional<int> capacity;  // from the annotation
  std::string problem;          // a bad annotation value
};

struct DecodedEgress {
  std::string name;
  std::int64_t generation = 0;
  std::int64_t creationOrder = 0;
  std::vector<SlotRequest> slots;
  std::vector<PreviousAssignment> previous;
  bool multiIp = false;  // the list forms: status carries egressIPs
  // A spec the CRD's rules reject; the Egress then gets IPAllocated=False with this message.
  std::string invalidMessage;
};

DecodedPool decodePool(const nlohmann::json& pool);
DecodedNode decodeNode(const nlohmann::json& node);
DecodedEgress decodeEgress(const nlohmann::json& egress);

// What the controller knows of a node's agent.
enum class NodeLiveness {
  kAlive,
  kDead,
  // A new leader has heard nothing yet: keep what the node holds, give it nothing new.
  kUnknown,
};

struct BuildOptions {
  int defaultCapacity = 255;
  bool rebalance = false;
};

SchedulerInput buildSchedulerInput(const std::vector<DecodedPool>& pools,
                                   const std::vector<DecodedNode>& nodes,
                                   const std::vector<DecodedEgress>& egresses,
                                   const std::function<NodeLiveness(const std::string&)>& liveness,
                                   const BuildOptions& options);

// The status sluice-controller wants on an Egress. `current` is the status now (conditions keep
// their lastTransitionTime while unchanged); `now` is an RFC 3339 time for new transitions.
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
std::vector<Handover> findMoves(const nlohmann::json& current, const nlohmann::json& desired);
// `desired` with `previousNode` on the entries of `handovers` still assigned as they say; a
// single-IP Egress gets a status.egressIPs list while a hand-over is in flight.
nlohmann::json withHandovers(nlohmann::json desired, const std::vector<Handover>& handovers);

// ExternalIPPool status: usage {total, used} and the condition Overlapping, True when
// `overlaps` (this pool's overlaps with pools whose names sort first) is not empty.
nlohmann::json desiredPoolStatus(const PoolUsage& usage, const std::vector<PoolOverlap>& overlaps,
                                 const nlohmann::json& current, const std::string& now);

}  // namespace sluice::controller
