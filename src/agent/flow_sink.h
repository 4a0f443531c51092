// FlowSink: the flow syncer as a feature unit sees it: set an owner's flows and groups, drop an
// owner, send.
// SyncerFlowSink adapts ofrules::FlowSyncer; tests use a fake (tests/agent/fakes.h).
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "ofrules/flow.h"
#include "ofrules/flow_syncer.h"

namespace sluice::agent {

class FlowSink {
 public:
  virtual ~FlowSink() = default;
  // Replaces the owner's desired flows (see FlowSyncer::setFlows).
  [[nodiscard]] virtual Result<void> setFlows(const std::string& owner,
                                              const std::vector<ofrules::Flow>& flows) = 0;
  // Replaces the owner's desired groups, keyed by group id (see FlowSyncer::setGroups).
  [[nodiscard]] virtual Result<void> setGroups(const std::string& owner,
                                               const std::vector<ofrules::Group>& groups) = 0;
  // Drops the owner's flows and groups.
  virtual void deleteOwner(const std::string& owner) = 0;
  // Sends what changed to the switch.
  [[nodiscard]] virtual Result<void> sync() = 0;
};

class SyncerFlowSink : public FlowSink {
 public:
  explicit SyncerFlowSink(ofrules::FlowSyncer& syncer) : syncer_(syncer) {}
  Result<void> setFlows(const std::string& owner,
                        const std::vector<ofrules::Flow>& flows) override {
    return syncer_.setFlows(owner, flows);
  }
  Result<void> setGroups(const std::string& owner,
                         const std::vector<ofrules::Group>& groups) override {
    return syncer_.setGroups(owner, groups);
  }
  void deleteOwner(const std::string& owner) override { syncer_.deleteOwner(owner); }
  Result<void> sync() override { return syncer_.sync(); }

 private:
  ofrules::FlowSyncer& syncer_;
};

// Sets an owner's flows and logs what could not be set: a flow a unit computes but the syncer
// refuses is a bug to see in the log, not a reason to stop the other owners' work.
void setFlowsOrLog(FlowSink& sink, const std::string& owner,
                   const std::vector<ofrules::Flow>& flows);

}  // namespace sluice::agent
