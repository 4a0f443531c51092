// The controller's reading of the typed models (src/api) of Egresses, ExternalIPPools and Nodes
// into the scheduler's terms, and the pure step from those (plus node liveness and config) to
// the scheduler's input. It repeats the CRDs' CEL checks, because kubectl's client-side dry run
// and older API servers skip them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/core.h"
#include "api/egress.h"
#include "api/external_ip_pool.h"
#include "controller/egress_scheduler.h"
#include "controller/egress_status.h"
#include "kube/label_selector.h"

namespace sluice::controller {

inline constexpr const char* kCapacityAnnotation = api::kEgressCapacityAnnotation;

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
  std::vector<Cidr> destinations;  // spec.destinationCIDRs
  // Set by noteServiceCidrOverlap: the destinationCIDRs entry that overlaps the Service CIDR.
  std::string serviceCidrOverlap;
};

// Validation of the typed models against the CRDs' rules; problems name the field and the fix.
DecodedPool decodePool(const api::ExternalIpPool& pool);
DecodedNode decodeNode(const api::Node& node);
DecodedEgress decodeEgress(const api::Egress& egress);
// The same, decoding the object first.
DecodedPool decodePool(const nlohmann::json& pool);
DecodedNode decodeNode(const nlohmann::json& node);
DecodedEgress decodeEgress(const nlohmann::json& egress);

// Service traffic never takes an Egress (agents hand it to the proxy first), so an Egress whose
// destinationCIDRs overlap the Service CIDR does not get what it asks for there: says so in
// `egress.serviceCidrOverlap` (a condition message), or clears it.
void noteServiceCidrOverlap(DecodedEgress& egress, const Cidr& serviceCidr);

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

}  // namespace sluice::controller
