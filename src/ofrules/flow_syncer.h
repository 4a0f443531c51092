// FlowSyncer: the desired flow table (by owner) against a record of what is installed; sync()
// sends only the difference, as one ordered atomic bundle over one persistent connection.
// Single-threaded: every call on one thread (docs/threading.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/result.h"
#include "ofrules/flow.h"
#include "ofrules/flow_encoder.h"
#include "ofrules/flow_stats.h"
#include "ofrules/ofconn.h"
#include "ofrules/round_store.h"

namespace sluice::ofrules {

struct FlowKeyHash {
  std::size_t operator()(const FlowKey& key) const {
    return std::hash<std::string>()(key.match) ^ (std::size_t{key.table} << 16) ^ key.priority;
  }
};

struct SyncCounters;

struct FlowSyncerOptions {
  OfConnectionOptions connection;  // target: "unix:DIR/BRIDGE.mgmt"
  // Called at the end of every sync() (also those poll() starts after a reconnect), on the
  // syncer's thread, with the counters after it; for metrics, which must see every sync.
  std::function<void(const SyncCounters& counters, bool ok)> onSync{};
};

// What metrics export. "Flow mods" count OFPFC_ADD and OFPFC_DELETE_STRICT messages; the two
// delete-all messages of a full replace count as flow/group mods too.
struct SyncCounters {
  std::uint64_t flowModsLastSync = 0;
  std::uint64_t groupModsLastSync = 0;
  std::uint64_t flowModsTotal = 0;
  std::uint64_t groupModsTotal = 0;
  std::uint64_t bundlesSent = 0;  // committed bundles
  std::uint64_t errors = 0;       // failed syncs, rejected flows and groups
  std::uint64_t fullResyncs = 0;  // restart reconciliations and reconnect replacements
  std::uint64_t reconnects = 0;
  std::chrono::microseconds lastSyncDuration{0};
};

class FlowSyncer {
 public:
  // Loads the restart round from `rounds`, stores round+1 and uses it in every cookie it installs.
  // Does not connect yet: the first sync() or poll() does.
  static Result<std::unique_ptr<FlowSyncer>> create(FlowSyncerOptions options, RoundStore& rounds);
  ~FlowSyncer();
  FlowSyncer(const FlowSyncer&) = delete;
  FlowSyncer& operator=(const FlowSyncer&) = delete;

  // Replaces the owner's desired flows. Flows that do not parse, or whose key another owner
  // already holds, are left out and named in the returned error; the owner's other flows are set.
  Result<void> setFlows(const std::string& owner, const std::vector<Flow>& flows);
  // Same for groups, keyed by group id.
  Result<void> setGroups(const std::string& owner, const std::vector<Group>& groups);
  // Removes every flow and group of the owner from the desired table.
  void deleteOwner(const std::string& owner);

  // Sends the difference between desired and installed in one bundle (connecting first if
  // needed). The first sync on a new connection sends a whole table instead: after an agent
  // restart it reconciles with what the switch holds (add all desired, delete only the stale);
  // after a reconnect it replaces the switch's table (delete-all + desired, one bundle).
  // Call the first sync only once every producer has set its flows: it deletes whatever flows
  // on the switch nobody has declared yet.
  Result<void> sync();
  // Cheap; call it often (every ~50 ms) on the syncer's thread. Answers echo requests, notices a
  // lost connection, reconnects with backoff and, once reconnected, replaces the switch's table.
  // It never makes the first sync: that is the owner's call (see sync()).
  Result<void> poll();

  // The flows on the switch, with counters, over the syncer's own connection.
  Result<std::vector<FlowStats>> dumpFlows(const FlowDumpFilter& filter = {});

  std::uint16_t round() const { return round_; }
  // The cookie a desired flow is installed with: its category/owner bits plus this round.
  std::uint64_t cookieFor(const Flow& flow) const;
  const SyncCounters& counters() const { return counters_; }
  std::size_t desiredFlowCount() const { return desiredFlowCount_; }
  std::size_t installedFlowCount() const { return installedFlowCount_; }
  // Installed flows per table ID; walks the whole record, so call it seldom (metrics, ~1/s).
  std::map<std::uint8_t, std::size_t> installedFlowCountByTable() const;
  // True when nothing is pending and the installed record refers to the current connection.
  bool inSync() const;
  OfConnection& connection() { return connection_; }

 private:
  // One flow key: what is desired for it and what the switch holds for it. Keeping both in one
  // node means a sync copies pointers, not flows.
  struct FlowEntry {
    std::string owner;                      // meaningful while `desired` is set
    std::shared_ptr<const Flow> desired;    // null: nobody wants this key (any more)
    OfpMessage add;                         // OFPFC_ADD of `desired`, encoded once by setFlows
    std::shared_ptr<const Flow> installed;  // null: not on the switch
    bool dirty = false;                     // listed in dirtyFlows_
    std::uint64_t setCall = 0;              // the setFlows call that last accepted it
  };
  using FlowTable = std::unordered_map<FlowKey, FlowEntry, FlowKeyHash>;
  // Nodes of an unordered_map keep their address until erased: safe to point at.
  using FlowNode = FlowTable::value_type;
  struct DesiredGroup {
    std::string owner;
    Group group;
    OfpMessage add;
    OfpMessage modify;
  };
  class Bundle;

  FlowSyncer(FlowSyncerOptions options, std::uint16_t round);
  Result<void> syncConnected();
  void markDirty(FlowNode& node);
  void clearDesired(FlowNode& node);
  void addIncremental(Bundle& bundle);
  void addReplaceAll(Bundle& bundle);
  Result<void> addReconcile(Bundle& bundle);
  Result<void> sendWithRetries(bool full);

  OfConnection connection_;
  std::uint16_t round_;
  FlowTable flows_;
  std::unordered_map<std::string, std::vector<FlowNode*>> flowsByOwner_;
  std::vector<FlowNode*> dirtyFlows_;
  std::size_t desiredFlowCount_ = 0;
  std::size_t installedFlowCount_ = 0;
  std::uint64_t setCalls_ = 0;
  std::unordered_map<std::uint32_t, DesiredGroup> desiredGroups_;
  std::unordered_map<std::string, std::vector<std::uint32_t>> groupsByOwner_;
  std::unordered_map<std::uint32_t, Group> installedGroups_;
  std::unordered_set<std::uint32_t> dirtyGroups_;
  // The connection generation the installed record describes; 0 before the first sync.
  std::uint64_t syncedGeneration_ = 0;
  SyncCounters counters_;
  std::function<void(const SyncCounters&, bool)> onSync_;
};

}  // namespace sluice::ofrules
