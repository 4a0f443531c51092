// The liveness state machine: alive while reports arrive, dead after a silence, unknown at the
// start of a leader's term.
#include "controller/node_liveness.h"

#include <set>

namespace sluice::controller {

bool isAgentServiceAccount(const std::string& username, const std::string& agentNamespace) {
  return !agentNamespace.empty() &&
         username == "system:serviceaccount:" + agentNamespace + ":sluice-agent";
}

void NodeLivenessTracker::startTerm(TimePoint now) {
  termStart_ = now;
  for (auto& [name, state] : nodes_) state = State{};
}

bool NodeLivenessTracker::report(const std::string& node, std::uint64_t sequence, TimePoint now) {
  auto& state = nodes_[node];
  const bool revived = state.dead || !state.lastReport;
  state.lastReport = now;
  state.lastSequence = sequence;
  ++state.reports;
  state.dead = false;
  return revived;
}

NodeLivenessTracker::TimePoint NodeLivenessTracker::deadlineOf(const State& state) const {
  return state.lastReport.value_or(termStart_) + silenceTimeout_;
}

std::vector<NodeLivenessTracker::Death> NodeLivenessTracker::expire(TimePoint now) {
  std::vector<Death> deaths;
  for (auto& [name, state] : nodes_) {
    if (state.dead) continue;
    const auto due = deadlineOf(state);
    if (now < due) continue;
    state.dead = true;
    deaths.push_back(Death{name, state.lastReport.value_or(termStart_), due});
  }
  return deaths;
}

std::optional<NodeLivenessTracker::TimePoint> NodeLivenessTracker::nextDeadline() const {
  std::optional<TimePoint> next;
  for (const auto& [name, state] : nodes_) {
    if (state.dead) continue;
    const auto due = deadlineOf(state);
    if (!next || due < *next) next = due;
  }
  return next;
}

NodeLiveness NodeLivenessTracker::liveness(const std::string& node, TimePoint now) const {
  auto it = nodes_.find(node);
  if (it == nodes_.end() || !it->second.lastReport) {
    if (it != nodes_.end() && it->second.dead) return NodeLiveness::kDead;
    return now < termStart_ + silenceTimeout_ ? NodeLiveness::kUnknown : NodeLiveness::kDead;
  }
  if (it->second.dead) return NodeLiveness::kDead;
  // Not yet expired by expire(): still alive until the timer says otherwise, so the scheduler
  // and the failover log agree on when a node died.
  return NodeLiveness::kAlive;
}

std::vector<NodeLivenessTracker::NodeView> NodeLivenessTracker::view(TimePoint now) const {
  std::vector<NodeView> views;
  for (const auto& [name, state] : nodes_) {
    NodeView view{name, liveness(name, now), std::nullopt, state.lastSequence, state.reports};
    if (state.lastReport)
      view.sinceLastReport =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - *state.lastReport);
    views.push_back(view);
  }
  return views;
}

void NodeLivenessTracker::setKnownNodes(const std::vector<std::string>& nodes) {
  const std::set<std::string> known(nodes.begin(), nodes.end());
  for (const auto& node : nodes) nodes_.try_emplace(node);
  // Forget deleted nodes that never reported, so they do not keep a timer armed.
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    if (!known.contains(it->first) && !it->second.lastReport)
      it = nodes_.erase(it);
    else
      ++it;
  }
}

std::optional<std::chrono::milliseconds> NodeLivenessTracker::silence(const std::string& node,
                                                                      TimePoint now) const {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(
      now - it->second.lastReport.value_or(termStart_));
}

}  // namespace sluice::controller
