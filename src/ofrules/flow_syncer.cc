// FlowSyncer: desired vs installed, sent as one ordered atomic bundle per sync.
#include "ofrules/flow_syncer.h"

#include <deque>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "common/log.h"
#include "ofrules/ovs_headers.h"

namespace sluice::ofrules {
namespace {

constexpr char kComponent[] = "flow-syncer";
// A bundle the switch refuses is discarded whole; the syncer drops the refused flows from the
// desired table and tries again, a few times at most.
constexpr int kMaxBundleAttempts = 4;

std::string joinProblems(const std::vector<std::string>& problems) {
  std::string text;
  for (const auto& problem : problems) {
    text += (text.empty() ? "" : "; ") + problem;
  }
  return text;
}

std::string describeFlow(const Flow& flow) {
  return "\"" + describeFlowKey(flow.key()) + " actions=" + flow.actions + "\"";
}

}  // namespace

// The messages of one bundle in send order, each with what it does, so a refusal from the switch
// can be traced back to a flow or group.
class FlowSyncer::Bundle {
 public:
  enum class Kind {
    kFlowAdd,
    kFlowDelete,
    kGroupAdd,
    kGroupModify,
    kGroupDelete,
    kDeleteAllFlows,
    kDeleteAllGroups
  };
  struct Item {
    Kind kind;
    FlowNode* flow = nullptr;  // kFlowAdd, kFlowDelete of a known key
    std::uint32_t groupId = 0;
  };

  void add(const OfpMessage& message, Item item) {
    count(item.kind);
    messages_.push_back(&message);
    items_.push_back(item);
  }
  void addOwned(OfpMessage message, Item item) {
    owned_.push_back(std::move(message));
    add(owned_.back(), item);
  }
  bool empty() const { return messages_.empty(); }
  const std::vector<const OfpMessage*>& messages() const { return messages_; }
  const std::vector<Item>& items() const { return items_; }
  std::uint64_t flowMods() const { return flowMods_; }
  std::uint64_t groupMods() const { return groupMods_; }

 private:
  void count(Kind kind) {
    if (kind == Kind::kFlowAdd || kind == Kind::kFlowDelete || kind == Kind::kDeleteAllFlows) {
      ++flowMods_;
    } else {
      ++groupMods_;
    }
  }
  std::vector<const OfpMessage*> messages_;
  std::vector<Item> items_;
  std::deque<OfpMessage> owned_;  // deque: pointers to elements stay valid as it grows
  std::uint64_t flowMods_ = 0;
  std::uint64_t groupMods_ = 0;
};

Result<std::unique_ptr<FlowSyncer>> FlowSyncer::create(FlowSyncerOptions options,
                                                       RoundStore& rounds) {
  auto previous = rounds.load();
  if (!previous) {
    return previous.error();
  }
  // Round 0 means "never stored"; skip it on wrap-around so a stored round is never 0.
  std::uint16_t round = *previous == 0xffff ? 1 : static_cast<std::uint16_t>(*previous + 1);
  if (auto stored = rounds.store(round); !stored) {
    return stored.error();
  }
  SLUICE_LOG(kInfo, kComponent) << options.connection.target << ": restart round " << round;
  return std::unique_ptr<FlowSyncer>(new FlowSyncer(std::move(options), round));
}

FlowSyncer::FlowSyncer(FlowSyncerOptions options, std::uint16_t round)
    : connection_(std::move(options.connection)),
      round_(round),
      onSync_(std::move(options.onSync)) {}

FlowSyncer::~FlowSyncer() = default;

std::uint64_t FlowSyncer::cookieFor(const Flow& flow) const {
  return (flow.cookie & ~Cookie::kRoundMask) | (std::uint64_t{round_} << 48);
}

bool FlowSyncer::inSync() const {
  return dirtyFlows_.empty() && dirtyGroups_.empty() && connection_.connected() &&
         syncedGeneration_ == connection_.generation();
}

void FlowSyncer::markDirty(FlowNode& node) {
  if (!node.second.dirty) {
    node.second.dirty = true;
    dirtyFlows_.push_back(&node);
  }
}

void FlowSyncer::clearDesired(FlowNode& node) {
  FlowEntry& entry = node.second;
  if (!entry.desired) {
    return;
  }
  entry.desired.reset();
  entry.add = OfpMessage();
  entry.owner.clear();
  --desiredFlowCount_;
  markDirty(node);
}

Result<void> FlowSyncer::setFlows(const std::string& owner, const std::vector<Flow>& flows) {
  const std::uint64_t call = ++setCalls_;
  std::vector<std::string> problems;
  std::vector<FlowNode*> ownerFlows;
  ownerFlows.reserve(flows.size());
  for (const Flow& flow : flows) {
    auto [it, inserted] = flows_.try_emplace(flow.key());
    FlowEntry& entry = it->second;
    if (entry.setCall == call) {
      if (*entry.desired != flow) {
        problems.push_back("owner \"" + owner + "\" sets flow \"" + describeFlowKey(it->first) +
                           "\" twice with different actions or cookies; keep one");
      }
      continue;
    }
    if (entry.desired && entry.owner != owner) {
      problems.push_back("flow \"" + describeFlowKey(it->first) + "\" of owner \"" + owner +
                         "\" is already set by owner \"" + entry.owner +
                         "\"; two owners cannot install the same table, priority and match");
      ++counters_.errors;
      continue;
    }
    if (!entry.desired || *entry.desired != flow) {
      auto message = encodeFlowAdd(flow, cookieFor(flow));
      if (!message) {
        problems.push_back("owner \"" + owner + "\": " + message.error().message);
        ++counters_.errors;
        if (inserted) {
          flows_.erase(it);  // never desired, never installed, not dirty: nothing points at it
        }
        continue;  // an older version of this flow, if any, goes with the owner's other leftovers
      }
      if (!entry.desired) {
        ++desiredFlowCount_;
      }
      entry.owner = owner;
      entry.desired = std::make_shared<const Flow>(flow);
      entry.add = std::move(*message);
      markDirty(*it);
    }
    entry.setCall = call;
    ownerFlows.push_back(&*it);
  }

  auto& previous = flowsByOwner_[owner];
  for (FlowNode* node : previous) {
    if (node->second.setCall != call) {
      clearDesired(*node);
    }
  }
  previous = std::move(ownerFlows);
  if (previous.empty()) {
    flowsByOwner_.erase(owner);
  }
  if (!problems.empty()) {
    return makeError("setFlows: " + joinProblems(problems));
  }
  return {};
}

Result<void> FlowSyncer::setGroups(const std::string& owner, const std::vector<Group>& groups) {
  std::vector<std::string> problems;
  std::map<std::uint32_t, const Group*> accepted;
  for (const Group& group : groups) {
    if (auto it = accepted.find(group.id); it != accepted.end()) {
      if (*it->second != group) {
        problems.push_back("owner \"" + owner + "\" sets group " + std::to_string(group.id) +
                           " twice with different buckets; keep one");
      }
      continue;
    }
    if (auto it = desiredGroups_.find(group.id);
        it != desiredGroups_.end() && it->second.owner != owner) {
      problems.push_back("group " + std::to_string(group.id) + " of owner \"" + owner +
                         "\" is already set by owner \"" + it->second.owner +
                         "\"; use another group id");
      ++counters_.errors;
      continue;
    }
    accepted.emplace(group.id, &group);
  }
  std::vector<DesiredGroup> staged;
  for (auto it = accepted.begin(); it != accepted.end();) {
    const Group& group = *it->second;
    auto existing = desiredGroups_.find(group.id);
    if (existing != desiredGroups_.end() && existing->second.group == group) {
      ++it;
      continue;
    }
    auto add = encodeGroupMod(group, GroupCommand::kAdd);
    auto modify = encodeGroupMod(group, GroupCommand::kModify);
    if (!add || !modify) {
      problems.push_back("owner \"" + owner + "\": " + (add ? modify : add).error().message);
      ++counters_.errors;
      it = accepted.erase(it);
      continue;
    }
    staged.push_back(DesiredGroup{owner, group, std::move(*add), std::move(*modify)});
    ++it;
  }
  auto& ownerIds = groupsByOwner_[owner];
  for (std::uint32_t id : ownerIds) {
    if (!accepted.count(id)) {
      desiredGroups_.erase(id);
      dirtyGroups_.insert(id);
    }
  }
  for (auto& desired : staged) {
    std::uint32_t id = desired.group.id;
    dirtyGroups_.insert(id);
    desiredGroups_.insert_or_assign(id, std::move(desired));
  }
  ownerIds.clear();
  for (auto& [id, group] : accepted) {
    ownerIds.push_back(id);
  }
  if (ownerIds.empty()) {
    groupsByOwner_.erase(owner);
  }
  if (!problems.empty()) {
    return makeError("setGroups: " + joinProblems(problems));
  }
  return {};
}

void FlowSyncer::deleteOwner(const std::string& owner) {
  if (auto it = flowsByOwner_.find(owner); it != flowsByOwner_.end()) {
    for (FlowNode* node : it->second) {
      clearDesired(*node);
    }
    flowsByOwner_.erase(it);
  }
  if (auto it = groupsByOwner_.find(owner); it != groupsByOwner_.end()) {
    for (std::uint32_t id : it->second) {
      desiredGroups_.erase(id);
      dirtyGroups_.insert(id);
    }
    groupsByOwner_.erase(it);
  }
}

Result<void> FlowSyncer::sync() {
  auto start = std::chrono::steady_clock::now();
  auto result = syncConnected();
  counters_.lastSyncDuration = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);
  if (!result) {
    ++counters_.errors;
  }
  if (onSync_) {
    onSync_(counters_, result.ok());
  }
  return result;
}

std::map<std::uint8_t, std::size_t> FlowSyncer::installedFlowCountByTable() const {
  std::map<std::uint8_t, std::size_t> counts;
  for (const auto& [key, entry] : flows_) {
    if (entry.installed) {
      ++counts[key.table];
    }
  }
  return counts;
}

Result<void> FlowSyncer::poll() {
  connection_.poll();
  if (!connection_.connected()) {
    if (auto connected = connection_.ensureConnected(); !connected) {
      return connected;
    }
  }
  // Before the first sync() the desired table may still be filling up; reconciling then would
  // delete flows that producers have not declared yet. Only a reconnect triggers a sync here.
  if (syncedGeneration_ != 0 && syncedGeneration_ != connection_.generation()) {
    return sync();
  }
  return {};
}

Result<void> FlowSyncer::syncConnected() {
  for (int attempt = 0;; ++attempt) {
    if (auto connected = connection_.ensureConnected(); !connected) {
      return connected;
    }
    counters_.reconnects = connection_.reconnects();
    bool full = syncedGeneration_ != connection_.generation();
    auto result = sendWithRetries(full);
    // A connection that dropped since the last sync (ovs-vswitchd restarted) shows up only when
    // we write to it; reconnect once at once instead of waiting for the next poll().
    if (result || connection_.connected() || attempt > 0) {
      return result;
    }
  }
}

void FlowSyncer::addIncremental(Bundle& bundle) {
  std::vector<std::uint32_t> groupDeletes;
  for (std::uint32_t id : dirtyGroups_) {
    auto desired = desiredGroups_.find(id);
    auto installed = installedGroups_.find(id);
    if (desired != desiredGroups_.end()) {
      if (installed == installedGroups_.end()) {
        bundle.add(desired->second.add, {Bundle::Kind::kGroupAdd, {}, id});
      } else if (installed->second != desired->second.group) {
        bundle.add(desired->second.modify, {Bundle::Kind::kGroupModify, {}, id});
      }
    } else if (installed != installedGroups_.end()) {
      groupDeletes.push_back(id);
    }
  }
  std::vector<FlowNode*> flowDeletes;
  for (FlowNode* node : dirtyFlows_) {
    const FlowEntry& entry = node->second;
    if (entry.desired) {
      if (!entry.installed ||
          (entry.installed != entry.desired && *entry.installed != *entry.desired)) {
        bundle.add(entry.add, {Bundle::Kind::kFlowAdd, node});
      }
    } else if (entry.installed) {
      flowDeletes.push_back(node);
    }
  }
  for (FlowNode* node : flowDeletes) {
    auto message = encodeFlowDeleteStrict(node->first);
    if (message) {
      bundle.addOwned(std::move(*message), {Bundle::Kind::kFlowDelete, node});
    } else {
      // It parsed when it was added, so this cannot happen; keep the record honest if it does.
      SLUICE_LOG(kError, kComponent) << message.error().message;
    }
  }
  for (std::uint32_t id : groupDeletes) {
    bundle.addOwned(encodeGroupDelete(id), {Bundle::Kind::kGroupDelete, {}, id});
  }
}

void FlowSyncer::addReplaceAll(Bundle& bundle) {
  // One bundle: the switch goes from whatever it had to exactly the desired table, and no packet
  // ever sees an empty table in between.
  bundle.addOwned(encodeDeleteAllFlows(), {Bundle::Kind::kDeleteAllFlows, {}});
  bundle.addOwned(encodeDeleteAllGroups(), {Bundle::Kind::kDeleteAllGroups, {}});
  for (auto& [id, desired] : desiredGroups_) {
    bundle.add(desired.add, {Bundle::Kind::kGroupAdd, {}, id});
  }
  for (auto& node : flows_) {
    if (node.second.desired) {
      bundle.add(node.second.add, {Bundle::Kind::kFlowAdd, &node});
    }
  }
}

Result<void> FlowSyncer::addReconcile(Bundle& bundle) {
  // After an agent restart the switch still forwards with the previous round's flows. Re-adding
  // a desired flow replaces its twin atomically (new cookie); only flows nobody wants are deleted.
  auto groupIds = connection_.dumpGroupIds();
  if (!groupIds) {
    return groupIds.error();
  }
  std::set<std::uint32_t> existingGroups(groupIds->begin(), groupIds->end());
  std::set<std::tuple<std::uint8_t, std::uint16_t, std::string>> wanted;
  bool wantedBuilt = false;
  std::vector<OfpMessage> staleDeletes;
  std::string problem;
  auto dumped = connection_.dumpFlows({}, [&](const ofputil_flow_stats& stats) {
    if (!wantedBuilt) {
      // Built only when the switch has flows: comparing needs OVS's own spelling of each match.
      wantedBuilt = true;
      for (auto& [key, entry] : flows_) {
        if (!entry.desired) {
          continue;
        }
        auto canonical = canonicalMatch(key);
        if (!canonical) {
          problem = canonical.error().message;
          continue;
        }
        wanted.emplace(key.table, key.priority, std::move(*canonical));
      }
    }
    ds text = DS_EMPTY_INITIALIZER;
    match_format(&stats.match, nullptr, &text, OFP_DEFAULT_PRIORITY);
    bool isWanted = wanted.count({stats.table_id, stats.priority, std::string(ds_cstr(&text))}) > 0;
    ds_destroy(&text);
    if (!isWanted) {
      staleDeletes.push_back(encodeFlowDeleteStrict(stats.match, stats.table_id, stats.priority));
    }
  });
  if (!dumped) {
    return dumped;
  }
  if (!problem.empty()) {
    SLUICE_LOG(kError, kComponent) << problem;
  }
  for (auto& [id, desired] : desiredGroups_) {
    if (existingGroups.count(id)) {
      bundle.add(desired.modify, {Bundle::Kind::kGroupModify, {}, id});
    } else {
      bundle.add(desired.add, {Bundle::Kind::kGroupAdd, {}, id});
    }
  }
  for (auto& node : flows_) {
    if (node.second.desired) {
      bundle.add(node.second.add, {Bundle::Kind::kFlowAdd, &node});
    }
  }
  for (auto& message : staleDeletes) {
    bundle.addOwned(std::move(message), {Bundle::Kind::kFlowDelete, {}});
  }
  for (std::uint32_t id : existingGroups) {
    if (!desiredGroups_.count(id)) {
      bundle.addOwned(encodeGroupDelete(id), {Bundle::Kind::kGroupDelete, {}, id});
    }
  }
  SLUICE_LOG(kInfo, kComponent) << connection_.target() << ": round " << round_ << " reconciles "
                                << desiredFlowCount_ << " desired flows, deletes "
                                << staleDeletes.size() << " stale flows";
  return {};
}

Result<void> FlowSyncer::sendWithRetries(bool full) {
  std::vector<std::string> rejectedProblems;
  for (int attempt = 0; attempt < kMaxBundleAttempts; ++attempt) {
    Bundle bundle;
    bool reconcile = full && syncedGeneration_ == 0;
    if (reconcile) {
      if (auto built = addReconcile(bundle); !built) {
        return built;
      }
    } else if (full) {
      addReplaceAll(bundle);
    } else {
      addIncremental(bundle);
    }
    counters_.flowModsLastSync = 0;
    counters_.groupModsLastSync = 0;
    if (!bundle.empty()) {
      auto failure = connection_.sendBundle(bundle.messages());
      if (failure) {
        if (failure->connectionLost || failure->rejected.empty()) {
          return makeError("sync: " + failure->message);
        }
        // Drop what the switch refused from the desired table, then send the rest again.
        for (const RejectedMessage& rejected : failure->rejected) {
          const auto& item = bundle.items()[rejected.index];
          ++counters_.errors;
          if (item.kind == Bundle::Kind::kFlowAdd) {
            FlowEntry& entry = item.flow->second;
            if (!entry.desired) {
              continue;
            }
            rejectedProblems.push_back("the switch refused flow " + describeFlow(*entry.desired) +
                                       " of owner \"" + entry.owner + "\": " + rejected.error);
            std::erase(flowsByOwner_[entry.owner], item.flow);
            clearDesired(*item.flow);
          } else if (item.kind == Bundle::Kind::kGroupAdd ||
                     item.kind == Bundle::Kind::kGroupModify) {
            auto desired = desiredGroups_.find(item.groupId);
            if (desired == desiredGroups_.end()) {
              continue;
            }
            rejectedProblems.push_back("the switch refused group \"" +
                                       groupModText(desired->second.group) + "\" of owner \"" +
                                       desired->second.owner + "\": " + rejected.error);
            std::erase(groupsByOwner_[desired->second.owner], item.groupId);
            desiredGroups_.erase(desired);
            dirtyGroups_.insert(item.groupId);
          } else {
            return makeError("sync: " + failure->message + ": " + rejected.error);
          }
        }
        SLUICE_LOG(kWarning, kComponent)
            << failure->message << "; retrying without the refused messages";
        continue;
      }
      ++counters_.bundlesSent;
      counters_.flowModsLastSync = bundle.flowMods();
      counters_.groupModsLastSync = bundle.groupMods();
      counters_.flowModsTotal += bundle.flowMods();
      counters_.groupModsTotal += bundle.groupMods();
    }
    if (full) {
      ++counters_.fullResyncs;
      for (auto it = flows_.begin(); it != flows_.end();) {
        FlowEntry& entry = it->second;
        entry.installed = entry.desired;
        entry.dirty = false;
        it = entry.desired ? std::next(it) : flows_.erase(it);
      }
      dirtyFlows_.clear();
      installedFlowCount_ = desiredFlowCount_;
      installedGroups_.clear();
      for (auto& [id, desired] : desiredGroups_) {
        installedGroups_.emplace(id, desired.group);
      }
      syncedGeneration_ = connection_.generation();
    } else {
      // The bundle held exactly the dirty keys' changes: each now holds what is desired.
      for (FlowNode* node : dirtyFlows_) {
        FlowEntry& entry = node->second;
        if (entry.desired && !entry.installed) {
          ++installedFlowCount_;
        } else if (!entry.desired && entry.installed) {
          --installedFlowCount_;
        }
        entry.installed = entry.desired;
        entry.dirty = false;
        if (!entry.desired) {
          flows_.erase(flows_.find(node->first));
        }
      }
      dirtyFlows_.clear();
      for (const auto& item : bundle.items()) {
        switch (item.kind) {
          case Bundle::Kind::kGroupAdd:
          case Bundle::Kind::kGroupModify:
            installedGroups_.insert_or_assign(item.groupId, desiredGroups_.at(item.groupId).group);
            break;
          case Bundle::Kind::kGroupDelete: installedGroups_.erase(item.groupId); break;
          default: break;
        }
      }
    }
    dirtyGroups_.clear();
    if (!rejectedProblems.empty()) {
      return makeError("sync: " + joinProblems(rejectedProblems) +
                       "; everything else was installed");
    }
    return {};
  }
  return makeError("sync: the switch kept refusing bundles: " + joinProblems(rejectedProblems));
}

Result<std::vector<FlowStats>> FlowSyncer::dumpFlows(const FlowDumpFilter& filter) {
  return dumpFlowStats(connection_, filter);
}

}  // namespace sluice::ofrules
