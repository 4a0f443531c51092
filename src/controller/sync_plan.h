// One reconcile as a pure plan: from the decoded objects, node liveness and the statuses now,
// to the statuses to write, the moves and allocations to report, and the Events to record. The
// controller's status writer carries it out; nothing here does I/O.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/egress_decoder.h"
#include "controller/egress_scheduler.h"
#include "controller/egress_status.h"
#include "controller/node_liveness.h"
#include "kube/event_recorder.h"

namespace sluice::controller {

// How long status keeps a graceful move's previousNode: longer than the agents' hold and drain.
inline constexpr std::chrono::milliseconds kHandoverWindow{2000};

// The graceful moves announced with previousNode, per Egress, until their window ends. The
// worker keeps one across reconciles; the plan updates it.
class HandoverBook {
 public:
  using Clock = std::chrono::steady_clock;

  // Records the moves between `current` and `desired` whose previous node is alive, forgets
  // expired ones, and returns those still in flight for `egress`.
  std::vector<Handover> track(const std::string& egress, const api::EgressStatus& current,
                              const api::EgressStatus& desired,
                              const std::map<std::string, NodeLiveness>& liveness,
                              Clock::time_point now);
  // Forgets the hand-overs of Egresses not in `present` (deleted ones).
  void retain(const std::set<std::string>& present);
  // When the earliest tracked hand-over ends (status then drops its previousNode).
  std::optional<Clock::time_point> nextExpiry() const;

 private:
  std::map<std::string, std::vector<std::pair<Handover, Clock::time_point>>> tracked_;
};

// An Egress as the reconcile sees it: the object (for Events), its decoded form, and the status
// to compare with, which may be this term's own newer write rather than the informer's.
struct ObservedEgress {
  DecodedEgress decoded;
  nlohmann::json currentStatus = nlohmann::json::object();
  std::string resourceVersion;  // the version currentStatus came from
};

struct ObservedPool {
  DecodedPool decoded;
  nlohmann::json currentStatus = nlohmann::json::object();
};

struct SyncInputs {
  std::vector<ObservedPool> pools;
  std::vector<DecodedNode> nodes;
  std::vector<ObservedEgress> egresses;
  std::map<std::string, NodeLiveness> liveness;              // every known node
  std::map<std::string, NodeLivenessTracker::Death> deaths;  // dead nodes of this term
  BuildOptions options;
  std::chrono::steady_clock::time_point now;
  std::string nowText;  // RFC 3339, for new condition transitions
};

// An egress IP that left a node. Its Event's message needs the moment of the write.
struct PlannedMove {
  std::string ip;
  std::string previousNode;
  std::string node;                                 // empty: no node now
  std::optional<NodeLivenessTracker::Death> death;  // when the previous node died
  bool previousNodeDeleted = false;
};

struct PlannedEvent {
  std::string objectKind;  // "Egress", "ExternalIPPool" or "Node"
  std::string objectName;
  kube::EventType type = kube::EventType::kWarning;
  std::string reason;
  std::string message;
};

// One Egress status to write, and what to report once it is written.
struct EgressWrite {
  DecodedEgress egress;
  std::optional<EgressResult> result;
  std::vector<Handover> handovers;
  nlohmann::json current;
  nlohmann::json desired;
  std::string resourceVersion;
  std::vector<PlannedMove> moves;
  std::vector<std::string> allocations;  // log lines of newly allocated IPs
  std::vector<PlannedEvent> events;      // conditions that turned False
};

struct PoolWrite {
  std::string name;
  nlohmann::json desired;
};

struct PoolGauge {
  std::string name;
  std::uint64_t total = 0;
  std::uint64_t used = 0;
};

struct SyncPlan {
  std::vector<EgressWrite> egressWrites;
  std::vector<PoolWrite> poolWrites;
  std::vector<PlannedEvent> events;  // standing problems, recorded whatever is written
  std::vector<PoolGauge> poolGauges;
  int assignedIps = 0;
  int liveNodes = 0;
  // Reconcile again then: a hand-over's previousNode is due to leave status.
  std::optional<std::chrono::steady_clock::time_point> requeueAt;
};

SyncPlan planSync(const SyncInputs& inputs, HandoverBook& handovers);

// The message of a move's Event: why it moved, and for a dead node how long the decision took
// after the silence timeout (measured at `writtenAt`).
std::string moveMessage(const PlannedMove& move, std::chrono::steady_clock::time_point writtenAt,
                        std::chrono::milliseconds silenceTimeout);

}  // namespace sluice::controller
