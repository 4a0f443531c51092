// The egress scheduler: a pure function from pools, nodes, Egresses and their previous status to
// IP allocations and node placements. The controller's reconcile shell feeds it plain data and
// writes the result back into status; nothing here does I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/ipv4.h"

namespace sluice::controller {

struct IpRange {
  Ipv4 first = 0;  // inclusive
  Ipv4 last = 0;   // inclusive
  bool contains(Ipv4 address) const { return address >= first && address <= last; }
  std::uint64_t size() const { return std::uint64_t{last} - first + 1; }
  bool operator==(const IpRange&) const = default;
};

struct PoolModel {
  std::string name;
  std::vector<IpRange> ranges;          // validated; a cidr range excludes network and broadcast
  std::set<std::string> eligibleNodes;  // nodes matching the pool's nodeSelector
  bool contains(Ipv4 address) const;
};

struct NodeModel {
  std::string name;
  bool alive = true;
  int capacity = 0;  // the most egress IPs this node may hold
};

// One IP an Egress asks for: from a pool, a fixed IP (optionally within a pool), or both.
struct SlotRequest {
  std::optional<Ipv4> staticIp;
  std::string pool;  // empty: a fixed IP with no pool, placed on any live node
};

// What status recorded last time, so decisions are stable across restarts.
struct PreviousAssignment {
  Ipv4 ip = 0;
  std::string pool;
  std::string node;  // empty if it was not placed
};

struct EgressModel {
  std::string name;
  std::int64_t creationOrder = 0;  // creationTimestamp; the oldest Egress wins conflicts
  std::vector<SlotRequest> slots;
  std::vector<PreviousAssignment> previous;
};

struct SchedulerOptions {
  // Move IPs back onto recovered or new nodes when the spread is uneven. Off by default: an IP
  // stays where it is unless its node dies, leaves the selector, or capacity forces a move.
  bool rebalance = false;
};

struct SchedulerInput {
  std::vector<PoolModel> pools;
  std::vector<NodeModel> nodes;
  std::vector<EgressModel> egresses;
  SchedulerOptions options;
};

// Reasons follow Antrea's style: a CamelCase word for machines plus a message for people.
struct SlotResult {
  std::optional<Ipv4> ip;
  std::string pool;
  std::string node;              // empty: not placed
  std::string allocationReason;  // "Allocated" or why not
  std::string allocationMessage;
  std::string assignmentReason;  // "Assigned" or why not
  std::string assignmentMessage;
  bool allocated() const { return ip.has_value(); }
  bool assigned() const { return !node.empty(); }
};

struct EgressResult {
  std::string name;
  std::vector<SlotResult> slots;  // one per SlotRequest, in request order
};

struct PoolUsage {
  std::uint64_t total = 0;
  std::uint64_t used = 0;
  std::vector<Ipv4> outsideRanges;  // kept allocations the pool no longer covers (it shrank)
};

struct PoolOverlap {
  std::string pool;
  std::string otherPool;
  IpRange overlap;
};

struct SchedulerOutput {
  std::map<std::string, EgressResult> egresses;
  std::map<std::string, PoolUsage> pools;
  std::map<std::string, int> nodeLoad;  // egress IPs per node
};

SchedulerOutput schedule(const SchedulerInput& input);

// Pairs of pools whose ranges overlap (each pair once, the later-named pool first).
std::vector<PoolOverlap> findPoolOverlaps(const std::vector<PoolModel>& pools);

}  // namespace sluice::controller
