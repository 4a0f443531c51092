// Node liveness as the controller sees it, from the agents' reports. Pure: every call takes the
// current time, so tests drive it with a fake clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/egress_decoder.h"

namespace sluice::controller {

// Whether a TokenReview's username is the agents' service account: exactly
// system:serviceaccount:<agentNamespace>:sluice-agent. A "sluice-agent" account in any other
// namespace is someone's tenant, who could otherwise keep a dead node "alive" and hold its
// egress IPs hostage.
bool isAgentServiceAccount(const std::string& username, const std::string& agentNamespace);

class NodeLivenessTracker {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  explicit NodeLivenessTracker(std::chrono::milliseconds silenceTimeout)
      : silenceTimeout_(silenceTimeout) {}

  // A new term (this replica just became leader): it has heard nobody yet, so every node is
  // kUnknown until one silence period has passed, and none is declared dead before that.
  void startTerm(TimePoint now);
  // A report arrived. Returns true when the node was dead (or unknown to this term) before:
  // the caller reschedules, since a candidate appeared.
  bool report(const std::string& node, std::uint64_t sequence, TimePoint now);

  struct Death {
    std::string node;
    TimePoint lastReport;   // or the term's start when it never reported
    TimePoint declaredDue;  // lastReport + silence timeout: the moment it became dead
  };
  // Declares nodes silent for longer than the timeout dead (each once) and returns them.
  std::vector<Death> expire(TimePoint now);
  // The next moment expire() can declare a node dead, if any node is still alive or unknown.
  std::optional<TimePoint> nextDeadline() const;

  NodeLiveness liveness(const std::string& node, TimePoint now) const;

  struct NodeView {
    std::string node;
    NodeLiveness liveness = NodeLiveness::kUnknown;
    std::optional<std::chrono::milliseconds> sinceLastReport;
    std::uint64_t lastSequence = 0;
    std::uint64_t reports = 0;
  };
  std::vector<NodeView> view(TimePoint now) const;
  // Nodes that must be tracked even before their first report (the Node objects).
  void setKnownNodes(const std::vector<std::string>& nodes);
  // How long the node has been silent (for "node02 silent for 512ms").
  std::optional<std::chrono::milliseconds> silence(const std::string& node, TimePoint now) const;

 private:
  struct State {
    std::optional<TimePoint> lastReport;
    std::uint64_t lastSequence = 0;
    std::uint64_t reports = 0;
    bool dead = false;
  };
  TimePoint deadlineOf(const State& state) const;

  std::chrono::milliseconds silenceTimeout_;
  TimePoint termStart_{};
  std::map<std::string, State> nodes_;
};

}  // namespace sluice::controller
