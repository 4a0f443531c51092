// The liveness state machine: alive while reports arrive; dead when the node says it released its
// IPs, or when it is silent and a majority of its witnesses confirm they cannot hear it either;
// unknown while silent but unconfirmed, and at the start of a fresh process's first term.
#include "controller/node_liveness.h"

#include <algorithm>

namespace sluice::controller {
namespace {

std::string countText(std::size_t confirming, std::size_t total) {
  return std::to_string(confirming) + " of " + std::to_string(total);
}

}  // namespace

bool isAgentServiceAccount(const std::string& username, const std::string& agentNamespace) {
  return !agentNamespace.empty() &&
         username == "system:serviceaccount:" + agentNamespace + ":sluice-agent";
}

void NodeLivenessTracker::startTracking(TimePoint now) {
  if (!trackingSince_) trackingSince_ = now;
}

void NodeLivenessTracker::startTerm(TimePoint now) {
  startTracking(now);
  if (now - *trackingSince_ >= silenceTimeout_)
    graceUntil_.reset();
  else
    graceUntil_ = now + silenceTimeout_;
}

bool NodeLivenessTracker::report(const NodeReport& report, TimePoint now) {
  startTracking(now);
  auto& state = nodes_[report.node];
  const bool revived = state.dead || !state.lastReport;
  state.lastReport = now;
  state.lastSequence = report.sequence;
  ++state.reports;
  suspects_.erase(report.node);
  if (report.witnesses) {
    auto declared = *report.witnesses;
    std::sort(declared.begin(), declared.end());
    declared.erase(std::unique(declared.begin(), declared.end()), declared.end());
    if (state.witnesses && *state.witnesses != declared)
      state.previousWitnesses = std::move(state.witnesses);
    state.witnesses = std::move(declared);
  }
  state.heard = report.heard;
  state.everSentHeard = state.everSentHeard || report.heard.has_value();
  state.fenced = report.fenced;
  if (report.fenced) {
    // Released: it is not a candidate until it says it holds again.
    if (!state.dead) released_.insert(report.node);
    return false;
  }
  released_.erase(report.node);
  state.dead = false;
  return revived;
}

NodeLivenessTracker::TimePoint NodeLivenessTracker::deadlineOf(const State& state) const {
  const auto since = state.lastReport.value_or(trackingSince_.value_or(TimePoint{}));
  auto due = since + silenceTimeout_;
  if (graceUntil_ && due < *graceUntil_) due = *graceUntil_;
  return due;
}

std::vector<std::vector<std::string>> NodeLivenessTracker::candidateSets(const std::string& node,
                                                                         const State& state) const {
  std::vector<std::vector<std::string>> sets;
  if (state.witnesses) {
    sets.push_back(*state.witnesses);
    if (state.previousWitnesses) sets.push_back(*state.previousWitnesses);
    return sets;
  }
  auto cached = computedWitnesses_.find(node);
  if (cached == computedWitnesses_.end())
    cached = computedWitnesses_.emplace(node, witnessesOf(node, knownNodes_, witnessCount_)).first;
  sets.push_back(cached->second);
  return sets;
}

bool NodeLivenessTracker::confirms(const std::string& witness, const std::string& node,
                                   TimePoint now) const {
  auto it = nodes_.find(witness);
  if (it == nodes_.end()) return false;
  const auto& state = it->second;
  // The witness's word counts only while it is fresh, and as reported: it was measured when the
  // report left, so the silence it states is a lower bound now.
  if (!state.lastReport || now - *state.lastReport >= silenceTimeout_ || !state.heard) return false;
  auto heard = state.heard->find(node);
  return heard != state.heard->end() && heard->second >= silenceTimeout_;
}

NodeLivenessTracker::Confirmation NodeLivenessTracker::confirm(const std::string& node,
                                                               const State& state, TimePoint now) {
  const auto sets = candidateSets(node, state);
  std::vector<std::string> parts;
  bool silenceAlone = false;
  for (std::size_t index = 0; index < sets.size(); ++index) {
    const auto& set = sets[index];
    if (set.empty()) {
      parts.push_back("no witnesses (a one-node cluster)");
      continue;
    }
    std::size_t confirming = 0;
    bool anyHeard = false;
    bool anyReported = false;
    for (const auto& witness : set) {
      if (confirms(witness, node, now)) ++confirming;
      auto it = nodes_.find(witness);
      if (it != nodes_.end() && it->second.lastReport) {
        anyReported = true;
        anyHeard = anyHeard || it->second.everSentHeard;
      }
    }
    if (isMajority(confirming, set.size())) {
      parts.push_back(countText(confirming, set.size()) +
                      (index == 0 ? " witnesses" : " of its previous witnesses"));
      continue;
    }
    // Agents that predate witnesses never send heard, and they answer no probes either, so they
    // cannot keep the node holding: silence alone decides, as before witnesses. Witnesses that
    // never reported to this replica at all prove nothing, so at least one must have.
    if (!anyHeard && anyReported) {
      silenceAlone = true;
      continue;
    }
    return {};
  }
  std::string why;
  if (silenceAlone) {
    usedSilenceAlone_ = true;
    why = "no witness of it reports what it hears (agents without witnesses): silence alone";
  } else {
    why = "confirmed by ";
    for (std::size_t index = 0; index < parts.size(); ++index)
      why += (index == 0 ? "" : " and ") + parts[index];
  }
  return {true, why};
}

void NodeLivenessTracker::decide(const std::string& node, State& state, TimePoint now,
                                 std::vector<Death>& deaths) {
  if (state.dead) return;
  if (state.fenced && state.lastReport && now - *state.lastReport < silenceTimeout_) {
    state.dead = true;
    released_.erase(node);
    suspects_.erase(node);
    deaths.push_back(Death{node, *state.lastReport, *state.lastReport, Cause::kReleased,
                           "fenced itself (lost its quorum)"});
    return;
  }
  const auto due = deadlineOf(state);
  if (now < due) return;
  auto confirmation = confirm(node, state, now);
  if (!confirmation.confirmed) {
    suspects_.insert(node);
    return;
  }
  state.dead = true;
  suspects_.erase(node);
  released_.erase(node);
  deaths.push_back(Death{node, state.lastReport.value_or(*trackingSince_), due, Cause::kSilent,
                         std::move(confirmation.why)});
}

std::vector<NodeLivenessTracker::Death> NodeLivenessTracker::expire(TimePoint now) {
  std::vector<Death> deaths;
  if (!trackingSince_) return deaths;
  for (auto& [name, state] : nodes_) decide(name, state, now, deaths);
  return deaths;
}

std::vector<NodeLivenessTracker::Death> NodeLivenessTracker::recheck(TimePoint now) {
  std::vector<Death> deaths;
  if (!trackingSince_) return deaths;
  std::set<std::string> pending = suspects_;
  pending.insert(released_.begin(), released_.end());
  for (const auto& name : pending) {
    auto it = nodes_.find(name);
    if (it == nodes_.end()) {
      suspects_.erase(name);
      released_.erase(name);
      continue;
    }
    decide(name, it->second, now, deaths);
  }
  return deaths;
}

std::optional<NodeLivenessTracker::TimePoint> NodeLivenessTracker::nextDeadline() const {
  if (!trackingSince_) return std::nullopt;
  std::optional<TimePoint> next;
  for (const auto& [name, state] : nodes_) {
    if (state.dead || suspects_.contains(name)) continue;
    const auto due = deadlineOf(state);
    if (!next || due < *next) next = due;
  }
  return next;
}

NodeLiveness NodeLivenessTracker::liveness(const std::string& node, TimePoint now) const {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return NodeLiveness::kUnknown;
  const auto& state = it->second;
  if (state.dead) return NodeLiveness::kDead;
  // Heard within the timeout: alive. Silent but not confirmed dead (or not heard yet in a fresh
  // process's first period): it keeps what it holds and gets nothing new.
  if (state.lastReport && now - *state.lastReport < silenceTimeout_ && !state.fenced)
    return NodeLiveness::kAlive;
  return NodeLiveness::kUnknown;
}

std::vector<NodeLivenessTracker::NodeView> NodeLivenessTracker::view(TimePoint now) const {
  std::vector<NodeView> views;
  for (const auto& [name, state] : nodes_) {
    NodeView view{.node = name,
                  .liveness = liveness(name, now),
                  .sinceLastReport = std::nullopt,
                  .lastSequence = state.lastSequence,
                  .reports = state.reports,
                  .fenced = state.fenced,
                  .witnesses = state.witnesses,
                  .previousWitnesses = state.previousWitnesses,
                  .witnessesConfirming = 0,
                  .witnessSetSize = 0};
    if (state.lastReport)
      view.sinceLastReport =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - *state.lastReport);
    const auto set = candidateSets(name, state).front();
    view.witnessSetSize = set.size();
    for (const auto& witness : set)
      view.witnessesConfirming += confirms(witness, name, now) ? 1 : 0;
    views.push_back(std::move(view));
  }
  return views;
}

void NodeLivenessTracker::setKnownNodes(const std::vector<std::string>& nodes) {
  std::vector<std::string> sorted = nodes;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  if (sorted != knownNodes_) {
    knownNodes_ = sorted;
    computedWitnesses_.clear();
  }
  const std::set<std::string> known(sorted.begin(), sorted.end());
  for (const auto& node : sorted) nodes_.try_emplace(node);
  // Forget deleted nodes that never reported, so they do not keep a timer armed.
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    if (!known.contains(it->first) && !it->second.lastReport) {
      suspects_.erase(it->first);
      it = nodes_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<std::chrono::milliseconds> NodeLivenessTracker::silence(const std::string& node,
                                                                      TimePoint now) const {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(
      now - it->second.lastReport.value_or(trackingSince_.value_or(now)));
}

}  // namespace sluice::controller
