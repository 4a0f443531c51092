// Node liveness as the controller sees it, from the agents' reports. Pure: every call takes the
// current time, so tests drive it with a fake clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/witnesses.h"
#include "controller/egress_decoder.h"

namespace sluice::controller {

// Whether a TokenReview's username is the agents' service account: exactly
// system:serviceaccount:<agentNamespace>:sluice-agent. A "sluice-agent" account in any other
// namespace is someone's tenant, who could otherwise keep a dead node "alive" and hold its
// egress IPs hostage.
bool isAgentServiceAccount(const std::string& username, const std::string& agentNamespace);

// One agent's report as received. The optional fields are absent in reports from agents that
// predate witnesses: absent means "no information", never "false" or "empty".
struct NodeReport {
  std::string node;
  std::uint64_t sequence = 0;
  bool fenced = false;  // it dropped its IPs after losing its quorum and has not unfenced since
  std::optional<std::vector<std::string>> witnesses;  // the set it counts for holding
  // Per node it witnesses: how long since it last heard a probe from that node, as the agent
  // measured when it sent the report.
  std::optional<std::map<std::string, std::chrono::milliseconds>> heard;
};

class NodeLivenessTracker {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  explicit NodeLivenessTracker(std::chrono::milliseconds silenceTimeout,
                               std::size_t witnessCount = kDefaultWitnesses)
      : silenceTimeout_(silenceTimeout), witnessCount_(witnessCount) {}

  // Reports can arrive from now on (the server listens). The first of startTracking, report and
  // startTerm starts the tracking.
  void startTracking(TimePoint now);
  // This replica starts leading. If it has tracked reports for a whole silence period, its table
  // is as good as any leader's and is used at once. Otherwise (a fresh process) it has not heard
  // everybody yet: a node that has not reported is kUnknown, and none is declared dead from
  // silence, until one silence period has passed.
  void startTerm(TimePoint now);
  // Whether the current term started with a grace period.
  bool termHasGrace() const { return graceUntil_.has_value(); }

  // A report arrived. Returns true when the node was dead (or never heard) before: the caller
  // reschedules, since a candidate appeared.
  bool report(const NodeReport& report, TimePoint now);
  bool report(const std::string& node, std::uint64_t sequence, TimePoint now) {
    NodeReport old;
    old.node = node;
    old.sequence = sequence;
    return report(old, now);
  }

  enum class Cause { kSilent, kReleased };
  struct Death {
    std::string node;
    TimePoint lastReport;   // or when tracking started, when it never reported
    TimePoint declaredDue;  // when it became due: lastReport + silence timeout, or the release
    Cause cause = Cause::kSilent;
    // Why, for logs and Events: "confirmed by 2 of 2 witnesses", "lost its quorum".
    std::string why;
  };
  // Declares dead (each once) the nodes that released their IPs and the silent nodes whose
  // witnesses confirm the silence, and returns them. Silent nodes not confirmed yet stay
  // suspects, re-checked by recheck() and every expire().
  std::vector<Death> expire(TimePoint now);
  // The same decisions for the suspects and released nodes only: cheap, for every report.
  std::vector<Death> recheck(TimePoint now);
  // Whether recheck() has anything to look at.
  bool hasPending() const { return !suspects_.empty() || !released_.empty(); }
  // The next moment expire() can declare a silent node a suspect, if any.
  std::optional<TimePoint> nextDeadline() const;

  NodeLiveness liveness(const std::string& node, TimePoint now) const;

  struct NodeView {
    std::string node;
    NodeLiveness liveness = NodeLiveness::kUnknown;
    std::optional<std::chrono::milliseconds> sinceLastReport;
    std::uint64_t lastSequence = 0;
    std::uint64_t reports = 0;
    bool fenced = false;
    std::optional<std::vector<std::string>> witnesses;          // declared, current
    std::optional<std::vector<std::string>> previousWitnesses;  // declared before those
    std::size_t witnessesConfirming = 0;  // members of the current set confirming its silence now
    std::size_t witnessSetSize = 0;       // members of the current (or computed) set
  };
  std::vector<NodeView> view(TimePoint now) const;
  // Nodes that must be tracked even before their first report (the Node objects); also the
  // names a silent node's witnesses are computed from when it never declared its own.
  void setKnownNodes(const std::vector<std::string>& nodes);
  // How long the node has been silent (for "node02 silent for 512ms").
  std::optional<std::chrono::milliseconds> silence(const std::string& node, TimePoint now) const;
  // Whether a death was decided by silence alone because no witness ever sent a heard map
  // (agents that predate witnesses), so that the caller can log it once.
  bool usedSilenceAlone() const { return usedSilenceAlone_; }

 private:
  struct State {
    std::optional<TimePoint> lastReport;
    std::uint64_t lastSequence = 0;
    std::uint64_t reports = 0;
    bool fenced = false;
    bool dead = false;
    std::optional<std::vector<std::string>> witnesses;
    std::optional<std::vector<std::string>> previousWitnesses;
    std::optional<std::map<std::string, std::chrono::milliseconds>> heard;  // latest report's
    bool everSentHeard = false;
  };
  struct Confirmation {
    bool confirmed = false;
    std::string why;
  };

  TimePoint deadlineOf(const State& state) const;
  // The sets whose majorities must confirm: the declared current and previous sets, or the
  // computed one when the node never declared any.
  std::vector<std::vector<std::string>> candidateSets(const std::string& node,
                                                      const State& state) const;
  bool confirms(const std::string& witness, const std::string& node, TimePoint now) const;
  Confirmation confirm(const std::string& node, const State& state, TimePoint now);
  // One node's decision; fills `deaths`.
  void decide(const std::string& node, State& state, TimePoint now, std::vector<Death>& deaths);

  std::chrono::milliseconds silenceTimeout_;
  std::size_t witnessCount_;
  std::optional<TimePoint> trackingSince_;
  std::optional<TimePoint> graceUntil_;
  std::map<std::string, State> nodes_;
  std::vector<std::string> knownNodes_;
  mutable std::map<std::string, std::vector<std::string>> computedWitnesses_;  // cache
  std::set<std::string> suspects_;  // silent for the timeout, not confirmed yet
  std::set<std::string> released_;  // reported fenced:true, not dead yet
  bool usedSilenceAlone_ = false;
};

}  // namespace sluice::controller
