// Egress scheduling: allocation (keep, then fixed IPs, then pool IPs) and placement (keep, then
// spread with anti-affinity), each pass in Egress age order so older Egresses win.
#include "controller/egress_scheduler.h"

#include <algorithm>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace sluice::controller {
namespace {

struct Slot {
  const EgressModel* egress;
  std::size_t index;
  SlotResult* result;
  const SlotRequest& request() const { return egress->slots[index]; }
};

std::vector<const EgressModel*> byAge(const std::vector<EgressModel>& egresses) {
  std::vector<const EgressModel*> ordered;
  ordered.reserve(egresses.size());
  for (const auto& egress : egresses) ordered.push_back(&egress);
  std::sort(ordered.begin(), ordered.end(), [](const EgressModel* a, const EgressModel* b) {
    return std::tie(a->creationOrder, a->name) < std::tie(b->creationOrder, b->name);
  });
  return ordered;
}

class Allocator {
 public:
  Allocator(const std::vector<PoolModel>& pools, std::vector<Slot>& slots) : slots_(slots) {
    for (const auto& pool : pools) pools_.emplace(pool.name, &pool);
  }

  void run() {
    std::vector<bool> kept(slots_.size(), false);
    // Pass 1: what status already holds stays, so a restart or a shrunk pool moves nothing.
    std::unordered_map<const EgressModel*, std::vector<bool>> previousUsed;
    // Fixed IPs match first, so a pool slot never claims an IP its sibling asked for by name.
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].request().staticIp) kept[i] = keepPrevious(slots_[i], previousUsed);
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (!slots_[i].request().staticIp) kept[i] = keepPrevious(slots_[i], previousUsed);
    // Pass 2: fixed IPs reserve before any pool hands out addresses.
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (!kept[i] && slots_[i].request().staticIp) allocateStatic(slots_[i]);
    // Pass 3: pool allocations, lowest free address first.
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (!kept[i] && !slots_[i].request().staticIp) allocateFromPool(slots_[i]);
  }

 private:
  const PoolModel* pool(const std::string& name) const {
    auto it = pools_.find(name);
    return it == pools_.end() ? nullptr : it->second;
  }

  static void markAllocated(Slot& slot, Ipv4 ip) {
    slot.result->ip = ip;
    slot.result->allocationReason = "Allocated";
    slot.result->allocationMessage =
        "allocated " + formatIpv4(ip) +
        (slot.result->pool.empty() ? "" : " from " + slot.result->pool);
  }

  static void fail(Slot& slot, std::string reason, std::string message) {
    slot.result->allocationReason = std::move(reason);
    slot.result->allocationMessage = std::move(message);
  }

  bool poolMissing(Slot& slot) {
    const auto& request = slot.request();
    if (request.pool.empty() || pool(request.pool) != nullptr) return false;
    fail(slot, "PoolNotFound",
         "ExternalIPPool \"" + request.pool + "\" does not exist; create it or change the Egress");
    return true;
  }

  bool keepPrevious(Slot& slot, std::unordered_map<const EgressModel*, std::vector<bool>>& taken) {
    const auto& request = slot.request();
    slot.result->pool = request.pool;
    if (poolMissing(slot)) return true;
    auto& used = taken[slot.egress];
    used.resize(slot.egress->previous.size(), false);
    for (std::size_t p = 0; p < slot.egress->previous.size(); ++p) {
      const auto& previous = slot.egress->previous[p];
      if (used[p] || previous.pool != request.pool) continue;
      if (request.staticIp && *request.staticIp != previous.ip) continue;
      if (allocated_.contains(previous.ip)) continue;
      used[p] = true;
      allocated_.insert(previous.ip);
      markAllocated(slot, previous.ip);
      return true;
    }
    return false;
  }

  void allocateStatic(Slot& slot) {
    const Ipv4 ip = *slot.request().staticIp;
    const auto* owner = pool(slot.request().pool);
    if (owner != nullptr && !owner->contains(ip)) {
      fail(slot, "IPNotInPool",
           formatIpv4(ip) + " is not in ExternalIPPool \"" + owner->name +
               "\"; pick an IP inside its ipRanges or drop externalIPPool");
      return;
    }
    if (!allocated_.insert(ip).second) {
      fail(slot, "IPConflict",
           formatIpv4(ip) + " is already used by an older Egress; choose another IP");
      return;
    }
    markAllocated(slot, ip);
  }

  void allocateFromPool(Slot& slot) {
    const auto* owner = pool(slot.request().pool);
    if (owner == nullptr) return;  // reported by poolMissing
    for (const auto& range : owner->ranges) {
      for (std::uint64_t candidate = range.first; candidate <= range.last; ++candidate) {
        const auto ip = static_cast<Ipv4>(candidate);
        if (allocated_.insert(ip).second) {
          markAllocated(slot, ip);
          return;
        }
      }
    }
    fail(slot, "PoolExhausted",
         "ExternalIPPool \"" + owner->name +
             "\" has no free IP; add ipRanges to it or delete unused Egresses");
  }

  std::vector<Slot>& slots_;
  std::unordered_map<std::string, const PoolModel*> pools_;
  std::unordered_set<Ipv4> allocated_;
};

class Placer {
 public:
  Placer(const SchedulerInput& input, std::vector<Slot>& slots) : slots_(slots) {
    for (const auto& node : input.nodes) nodes_.emplace(node.name, &node);
    for (const auto& pool : input.pools) pools_.emplace(pool.name, &pool);
    rebalance_ = input.options.rebalance;
  }

  std::map<std::string, int> run() {
    if (rebalance_) computeFairShares();
    std::vector<bool> placed(slots_.size(), false);
    for (std::size_t i = 0; i < slots_.size(); ++i) placed[i] = keepPrevious(slots_[i]);
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (!placed[i]) place(slots_[i]);
    return load_;
  }

 private:
  bool eligible(const NodeModel& node, const SlotRequest& request) const {
    if (!node.alive) return false;
    if (request.pool.empty()) return true;
    auto pool = pools_.find(request.pool);
    return pool != pools_.end() && pool->second->eligibleNodes.contains(node.name);
  }

  bool hasRoom(const NodeModel& node) const {
    auto it = load_.find(node.name);
    return (it == load_.end() ? 0 : it->second) < node.capacity;
  }

  void assign(Slot& slot, const std::string& node) {
    ++load_[node];
    egressNodes_[slot.egress].insert(node);
    slot.result->node = node;
    slot.result->assignmentReason = "Assigned";
    slot.result->assignmentMessage = formatIpv4(*slot.result->ip) + " is on node " + node;
  }

  const PreviousAssignment* previousFor(const Slot& slot) const {
    for (const auto& previous : slot.egress->previous)
      if (previous.ip == *slot.result->ip && !previous.node.empty()) return &previous;
    return nullptr;
  }

  bool keepPrevious(Slot& slot) {
    if (!slot.result->allocated()) return true;  // nothing to place
    const auto* previous = previousFor(slot);
    if (previous == nullptr) return false;
    auto node = nodes_.find(previous->node);
    if (node == nodes_.end() || !eligible(*node->second, slot.request()) || !hasRoom(*node->second))
      return false;
    if (rebalance_ && load_[previous->node] >= fairShare(slot.request().pool)) return false;
    assign(slot, previous->node);
    return true;
  }

  // The live-or-not nodes of a pool (all nodes for no pool), looked up once per pool, not once
  // per slot: walking every node per IP, or a name lookup per candidate, would not scale.
  const std::vector<const NodeModel*>& candidatesFor(const std::string& poolName) {
    auto [entry, inserted] = candidates_.try_emplace(poolName);
    if (!inserted) return entry->second;
    const auto pool = pools_.find(poolName);
    if (poolName.empty()) {
      for (const auto& node : nodes_) entry->second.push_back(node.second);
    } else if (pool != pools_.end()) {
      for (const auto& name : pool->second->eligibleNodes)
        if (auto node = nodes_.find(name); node != nodes_.end())
          entry->second.push_back(node->second);
    }
    return entry->second;
  }

  void place(Slot& slot) {
    const NodeModel* best = nullptr;
    std::tuple<bool, int, const std::string*> bestRank{};
    bool anyEligible = false;
    const auto& siblings = egressNodes_[slot.egress];
    for (const NodeModel* node : candidatesFor(slot.request().pool)) {
      if (!node->alive) continue;
      anyEligible = true;
      auto loadEntry = load_.find(node->name);
      const int load = loadEntry == load_.end() ? 0 : loadEntry->second;
      if (load >= node->capacity) continue;
      // Anti-affinity first: an Egress's IPs go to different nodes while there are any; then
      // the least loaded; then the name, so ties break the same way every time.
      const std::tuple<bool, int, const std::string*> rank{siblings.contains(node->name), load,
                                                           &node->name};
      auto less = [](const auto& a, const auto& b) {
        return std::tie(std::get<0>(a), std::get<1>(a), *std::get<2>(a)) <
               std::tie(std::get<0>(b), std::get<1>(b), *std::get<2>(b));
      };
      if (best == nullptr || less(rank, bestRank)) {
        best = node;
        bestRank = rank;
      }
    }
    if (best != nullptr) {
      assign(slot, best->name);
      return;
    }
    slot.result->assignmentReason = anyEligible ? "NodesAtCapacity" : "NoEligibleNode";
    slot.result->assignmentMessage =
        anyEligible ? "every live node that matches the pool's nodeSelector already holds its "
                      "maximum of egress IPs; raise the capacity or label more nodes"
                    : "no live node matches the pool's nodeSelector; label a node or fix the "
                      "selector";
  }

  void computeFairShares() {
    std::map<std::string, int> wanted;
    for (const auto& slot : slots_)
      if (slot.result->allocated()) ++wanted[slot.request().pool];
    for (const auto& [pool, count] : wanted) {
      int candidates = 0;
      for (const auto& [name, node] : nodes_)
        if (eligible(*node, SlotRequest{std::nullopt, pool})) ++candidates;
      fairShares_[pool] = candidates == 0 ? count : (count + candidates - 1) / candidates;
    }
  }

  int fairShare(const std::string& pool) const {
    auto it = fairShares_.find(pool);
    return it == fairShares_.end() ? 0 : it->second;
  }

  std::vector<Slot>& slots_;
  std::map<std::string, const NodeModel*> nodes_;  // ordered: ties break by name
  std::unordered_map<std::string, const PoolModel*> pools_;
  std::map<std::string, int> load_;
  std::map<std::string, int> fairShares_;
  std::unordered_map<std::string, std::vector<const NodeModel*>> candidates_;
  std::unordered_map<const EgressModel*, std::set<std::string>> egressNodes_;
  bool rebalance_ = false;
};

void markUnplacedAllocations(std::vector<Slot>& slots) {
  for (auto& slot : slots) {
    if (slot.result->allocated()) continue;
    slot.result->assignmentReason = "NotAllocated";
    slot.result->assignmentMessage = "no IP is allocated: " + slot.result->allocationMessage;
  }
}

std::map<std::string, PoolUsage> poolUsage(const std::vector<PoolModel>& pools,
                                           const std::vector<Slot>& slots) {
  std::map<std::string, PoolUsage> usage;
  std::unordered_map<std::string, const PoolModel*> byName;  // not a scan of all pools per slot
  for (const auto& pool : pools) {
    auto& entry = usage[pool.name];
    byName[pool.name] = &pool;
    for (const auto& range : pool.ranges) entry.total += range.size();
  }
  for (const auto& slot : slots) {
    if (!slot.result->allocated() || slot.result->pool.empty()) continue;
    auto it = usage.find(slot.result->pool);
    if (it == usage.end()) continue;
    ++it->second.used;
    const PoolModel* pool = byName.at(slot.result->pool);
    if (!pool->contains(*slot.result->ip)) it->second.outsideRanges.push_back(*slot.result->ip);
  }
  return usage;
}

}  // namespace

bool PoolModel::contains(Ipv4 address) const {
  return std::any_of(ranges.begin(), ranges.end(),
                     [address](const IpRange& range) { return range.contains(address); });
}

SchedulerOutput schedule(const SchedulerInput& input) {
  SchedulerOutput output;
  for (const auto& egress : input.egresses) {
    auto& result = output.egresses[egress.name];
    result.name = egress.name;
    result.slots.resize(egress.slots.size());
  }
  std::vector<Slot> slots;
  for (const auto* egress : byAge(input.egresses)) {
    auto& result = output.egresses[egress->name];
    for (std::size_t i = 0; i < egress->slots.size(); ++i)
      slots.push_back(Slot{egress, i, &result.slots[i]});
  }
  Allocator(input.pools, slots).run();
  markUnplacedAllocations(slots);
  output.nodeLoad = Placer(input, slots).run();
  output.pools = poolUsage(input.pools, slots);
  return output;
}

std::vector<PoolOverlap> findPoolOverlaps(const std::vector<PoolModel>& pools) {
  std::vector<PoolOverlap> overlaps;
  for (std::size_t a = 0; a < pools.size(); ++a) {
    for (std::size_t b = a + 1; b < pools.size(); ++b) {
      for (const auto& left : pools[a].ranges) {
        for (const auto& right : pools[b].ranges) {
          const Ipv4 first = std::max(left.first, right.first);
          const Ipv4 last = std::min(left.last, right.last);
          if (first > last) continue;
          const bool aIsLater = pools[a].name > pools[b].name;
          overlaps.push_back(PoolOverlap{aIsLater ? pools[a].name : pools[b].name,
                                         aIsLater ? pools[b].name : pools[a].name,
                                         IpRange{first, last}});
        }
      }
    }
  }
  return overlaps;
}

}  // namespace sluice::controller
