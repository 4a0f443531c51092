// Unit tests of the liveness state machine, driven by a clock the test controls.
#include <catch2/catch.hpp>

#include "controller/node_liveness.h"

namespace sluice::controller {
namespace {

using namespace std::chrono_literals;
using TimePoint = NodeLivenessTracker::TimePoint;

// Security review (issue 8): the suffix check accepted a "sluice-agent" account in any namespace.
TEST_CASE("only the agents' own service account may report liveness", "[unit]") {
  CHECK(isAgentServiceAccount("system:serviceaccount:kube-system:sluice-agent", "kube-system"));
  CHECK_FALSE(isAgentServiceAccount("system:serviceaccount:tenant:sluice-agent", "kube-system"));
  CHECK_FALSE(
      isAgentServiceAccount("system:serviceaccount:kube-system:sluice-agent2", "kube-system"));
  CHECK_FALSE(
      isAgentServiceAccount("system:serviceaccount:kube-system:x:sluice-agent", "kube-system"));
  CHECK_FALSE(isAgentServiceAccount("sluice-agent", "kube-system"));
  CHECK_FALSE(isAgentServiceAccount("system:serviceaccount::sluice-agent", ""));
}

TEST_CASE("a node is dead exactly one silence timeout after its last report", "[unit]") {
  NodeLivenessTracker tracker(500ms);
  const TimePoint t0{std::chrono::seconds(100)};
  tracker.startTerm(t0);
  tracker.setKnownNodes({"node01", "node02"});
  CHECK(tracker.report("node01", 1, t0 + 10ms));
  CHECK(tracker.report("node02", 1, t0 + 20ms));
  CHECK_FALSE(tracker.report("node01", 2, t0 + 110ms));  // already alive: no reschedule
  CHECK(tracker.liveness("node01", t0 + 120ms) == NodeLiveness::kAlive);
  REQUIRE(tracker.nextDeadline() == t0 + 520ms);  // node02's
  CHECK(tracker.expire(t0 + 519ms).empty());
  const auto deaths = tracker.expire(t0 + 520ms);
  REQUIRE(deaths.size() == 1);
  CHECK(deaths[0].node == "node02");
  CHECK(deaths[0].declaredDue == t0 + 520ms);
  CHECK(tracker.liveness("node02", t0 + 520ms) == NodeLiveness::kDead);
  CHECK(tracker.expire(t0 + 609ms).empty());
  CHECK(tracker.expire(t0 + 610ms).size() == 1);  // node01 (last report +110ms), node02 not again
  CHECK(tracker.silence("node02", t0 + 620ms) == 600ms);
  // A report revives a dead node and tells the caller to reschedule.
  CHECK(tracker.report("node02", 7, t0 + 700ms));
  CHECK(tracker.liveness("node02", t0 + 700ms) == NodeLiveness::kAlive);
}

TEST_CASE("a new term declares nobody dead for one silence period", "[unit]") {
  NodeLivenessTracker tracker(500ms);
  const TimePoint t0{std::chrono::seconds(100)};
  tracker.startTerm(t0);
  tracker.setKnownNodes({"node01", "node02"});
  CHECK(tracker.liveness("node01", t0) == NodeLiveness::kUnknown);
  CHECK(tracker.expire(t0 + 499ms).empty());
  tracker.report("node01", 1, t0 + 100ms);
  CHECK(tracker.liveness("node01", t0 + 100ms) == NodeLiveness::kAlive);
  CHECK(tracker.liveness("node02", t0 + 499ms) == NodeLiveness::kUnknown);
  const auto deaths = tracker.expire(t0 + 500ms);
  REQUIRE(deaths.size() == 1);
  CHECK(deaths[0].node == "node02");
  CHECK(tracker.liveness("node02", t0 + 500ms) == NodeLiveness::kDead);

  // Leadership lost and regained after tracking all along: no grace, the table stands.
  tracker.startTerm(t0 + 10s);
  CHECK_FALSE(tracker.termHasGrace());
  CHECK(tracker.liveness("node02", t0 + 10s) == NodeLiveness::kDead);
}

TEST_CASE("deleted nodes that never reported stop arming the timer", "[unit]") {
  NodeLivenessTracker tracker(500ms);
  const TimePoint t0{std::chrono::seconds(100)};
  tracker.startTerm(t0);
  tracker.setKnownNodes({"node01"});
  REQUIRE(tracker.nextDeadline());
  tracker.setKnownNodes({});
  CHECK_FALSE(tracker.nextDeadline());
  CHECK(tracker.view(t0).empty());
}

// Reports in the witness protocol. Five nodes; node02 is the one that goes silent.
const std::vector<std::string> kNodes = {"node01", "node02", "node03", "node04", "node05"};

NodeReport witnessReport(const std::string& node, std::vector<std::string> witnesses,
                         std::map<std::string, std::chrono::milliseconds> heard,
                         bool fenced = false) {
  NodeReport report;
  report.node = node;
  report.sequence = 1;
  report.fenced = fenced;
  report.witnesses = std::move(witnesses);
  report.heard = std::move(heard);
  return report;
}

std::vector<NodeLivenessTracker::Death> deathsOf(const std::string& node,
                                                 std::vector<NodeLivenessTracker::Death> deaths) {
  std::erase_if(deaths, [&](const auto& death) { return death.node != node; });
  return deaths;
}

// A tracker that has tracked for a while: every node reported at t0 with node02's witnesses
// node01, node03 and node04, each hearing node02 recently.
struct WitnessFixture {
  NodeLivenessTracker tracker{500ms};
  TimePoint t0{std::chrono::seconds(100)};
  WitnessFixture() {
    tracker.startTracking(t0 - 10s);
    tracker.setKnownNodes(kNodes);
    tracker.startTerm(t0 - 5s);
    REQUIRE_FALSE(tracker.termHasGrace());
    tracker.report(witnessReport("node02", {"node01", "node03", "node04"}, {}), t0);
    for (const auto* witness : {"node01", "node03", "node04", "node05"}) hear(witness, 10ms, t0);
  }
  // `witness` reports that it last heard node02 `ago`.
  void hear(const std::string& witness, std::chrono::milliseconds ago, TimePoint at) {
    auto report = witnessReport(witness, {}, {{"node02", ago}});
    report.witnesses.reset();
    tracker.report(report, at);
  }
  bool dead(TimePoint at) {
    tracker.expire(at);
    return tracker.liveness("node02", at) == NodeLiveness::kDead;
  }
};

TEST_CASE("a silent node whose witnesses still hear it is not dead", "[unit]") {
  WitnessFixture f;
  const auto later = f.t0 + 600ms;
  for (const auto* witness : {"node01", "node03", "node04"}) f.hear(witness, 20ms, later);
  CHECK_FALSE(f.dead(later));
  // Silent but unconfirmed: it keeps what it holds and gets nothing new.
  CHECK(f.tracker.liveness("node02", later) == NodeLiveness::kUnknown);
  CHECK(f.tracker.hasPending());
}

TEST_CASE("a majority of witnesses confirming the silence makes it dead, with why", "[unit]") {
  WitnessFixture f;
  const auto later = f.t0 + 600ms;
  f.hear("node01", 590ms, later);
  f.hear("node03", 520ms, later);
  f.hear("node04", 30ms, later);  // still hears it: a minority
  const auto deaths = deathsOf("node02", f.tracker.expire(later));
  REQUIRE(deaths.size() == 1);
  CHECK(deaths[0].node == "node02");
  CHECK(deaths[0].cause == NodeLivenessTracker::Cause::kSilent);
  CHECK(deaths[0].declaredDue == f.t0 + 500ms);
  CHECK(deaths[0].why == "confirmed by 2 of 3 witnesses");
}

TEST_CASE("a minority of witnesses does not confirm; a later report completes it", "[unit]") {
  WitnessFixture f;
  auto later = f.t0 + 600ms;
  f.hear("node01", 590ms, later);
  f.hear("node03", 30ms, later);
  f.hear("node04", 30ms, later);
  CHECK_FALSE(f.dead(later));
  // The suspect is re-checked when the next report arrives, not at a deadline.
  later += 100ms;
  f.hear("node03", 600ms, later);
  const auto deaths = deathsOf("node02", f.tracker.recheck(later));
  REQUIRE(deaths.size() == 1);
  CHECK(deaths[0].why == "confirmed by 2 of 3 witnesses");
}

TEST_CASE("a witness's stale report does not confirm", "[unit]") {
  WitnessFixture f;
  // node01 and node03 said long ago they had not heard node02 (their reports are older than
  // the silence timeout by the time node02 is silent for it).
  f.hear("node01", 900ms, f.t0 + 50ms);
  f.hear("node03", 900ms, f.t0 + 50ms);
  CHECK_FALSE(f.dead(f.t0 + 600ms));
  // Fresh ones do.
  f.hear("node01", 600ms, f.t0 + 650ms);
  f.hear("node03", 600ms, f.t0 + 650ms);
  CHECK(f.dead(f.t0 + 650ms));
}

TEST_CASE("a heard value below the timeout is used as reported, not extrapolated", "[unit]") {
  WitnessFixture f;
  // 499ms when sent; by now surely more, but the controller does not guess.
  f.hear("node01", 499ms, f.t0 + 700ms);
  f.hear("node03", 499ms, f.t0 + 700ms);
  f.hear("node04", 499ms, f.t0 + 700ms);
  CHECK_FALSE(f.dead(f.t0 + 799ms));
}

TEST_CASE("a node that reports fenced is released at once", "[unit]") {
  WitnessFixture f;
  const auto at = f.t0 + 50ms;
  CHECK_FALSE(
      f.tracker.report(witnessReport("node02", {"node01", "node03", "node04"}, {}, true), at));
  CHECK(f.tracker.hasPending());
  const auto deaths = f.tracker.recheck(at);
  REQUIRE(deaths.size() == 1);
  CHECK(deaths[0].cause == NodeLivenessTracker::Cause::kReleased);
  CHECK(deaths[0].why == "fenced itself (lost its quorum)");
  CHECK(f.tracker.liveness("node02", at) == NodeLiveness::kDead);
  // Still fenced: still dead. Unfenced: a candidate again.
  CHECK_FALSE(f.tracker.report(witnessReport("node02", {"node01", "node03", "node04"}, {}, true),
                               at + 100ms));
  CHECK(f.tracker.liveness("node02", at + 100ms) == NodeLiveness::kDead);
  CHECK(f.tracker.report(witnessReport("node02", {"node01", "node03", "node04"}, {}), at + 200ms));
  CHECK(f.tracker.liveness("node02", at + 200ms) == NodeLiveness::kAlive);
}

TEST_CASE("both the declared previous and current witness sets must confirm", "[unit]") {
  WitnessFixture f;
  // node02 moved from {node01, node03, node04} to {node03, node04, node05}.
  f.tracker.report(witnessReport("node02", {"node03", "node04", "node05"}, {}), f.t0 + 10ms);
  const auto later = f.t0 + 600ms;
  f.hear("node04", 600ms, later);
  f.hear("node05", 600ms, later);  // the new set: 2 of 3
  f.hear("node01", 30ms, later);
  f.hear("node03", 30ms, later);  // the previous set: only node04, 1 of 3
  CHECK_FALSE(f.dead(later));
  f.hear("node01", 600ms, later + 10ms);
  const auto deaths = deathsOf("node02", f.tracker.recheck(later + 10ms));
  REQUIRE(deaths.size() == 1);
  CHECK(deaths[0].why == "confirmed by 2 of 3 witnesses and 2 of 3 of its previous witnesses");
}

TEST_CASE("a node that never declared witnesses is checked against the computed set", "[unit]") {
  NodeLivenessTracker tracker{500ms};
  const TimePoint t0{std::chrono::seconds(100)};
  tracker.startTracking(t0 - 10s);
  tracker.setKnownNodes(kNodes);
  tracker.startTerm(t0);
  const auto witnesses = witnessesOf("node02", kNodes, kDefaultWitnesses);
  REQUIRE(witnesses.size() == 4);
  // Three of four confirm: a majority of the computed set.
  for (std::size_t index = 0; index < 3; ++index)
    tracker.report(witnessReport(witnesses[index], {}, {{"node02", 600ms}}), t0 + 600ms);
  tracker.report(witnessReport(witnesses[3], {}, {{"node02", 10ms}}), t0 + 600ms);
  const auto deaths = deathsOf("node02", tracker.expire(t0 + 600ms));
  REQUIRE(deaths.size() == 1);
  CHECK(deaths[0].why == "confirmed by 3 of 4 witnesses");
}

TEST_CASE("with agents that send no heard maps, silence alone decides, but not unheard ones",
          "[unit]") {
  NodeLivenessTracker tracker{500ms};
  const TimePoint t0{std::chrono::seconds(100)};
  tracker.startTracking(t0 - 10s);
  tracker.setKnownNodes({"node01", "node02", "node03"});
  tracker.startTerm(t0);
  tracker.report("node02", 1, t0);
  // Nobody else has reported to this replica: nothing proves node02 cannot hold on them.
  CHECK(deathsOf("node02", tracker.expire(t0 + 600ms)).empty());
  // An old agent reports (no heard map): silence alone, as before witnesses.
  tracker.report("node01", 1, t0 + 650ms);
  const auto deaths = deathsOf("node02", tracker.recheck(t0 + 650ms));
  REQUIRE(deaths.size() == 1);
  CHECK_THAT(deaths[0].why, Catch::Contains("silence alone"));
  CHECK(tracker.usedSilenceAlone());
}

TEST_CASE("a one-node cluster's node has no witnesses: silence decides", "[unit]") {
  NodeLivenessTracker tracker{500ms};
  const TimePoint t0{std::chrono::seconds(100)};
  tracker.startTracking(t0 - 10s);
  tracker.setKnownNodes({"node01"});
  tracker.startTerm(t0);
  tracker.report(witnessReport("node01", {}, {}), t0);
  const auto deaths = tracker.expire(t0 + 500ms);
  REQUIRE(deaths.size() == 1);
  CHECK(deaths[0].why == "confirmed by no witnesses (a one-node cluster)");
}

TEST_CASE("a replica that tracked reports as a standby decides at once when it leads", "[unit]") {
  WitnessFixture f;
  NodeLivenessTracker standby{500ms};
  standby.startTracking(f.t0 - 1s);
  standby.setKnownNodes(kNodes);
  standby.report(witnessReport("node02", {"node01", "node03", "node04"}, {}), f.t0 - 1s);
  for (const auto* witness : {"node01", "node03", "node04"})
    standby.report(witnessReport(witness, {}, {{"node02", 800ms}}), f.t0);
  // Standbys decide too; the term starts with no grace and the death stands.
  standby.expire(f.t0);
  standby.startTerm(f.t0 + 1ms);
  CHECK_FALSE(standby.termHasGrace());
  CHECK(standby.liveness("node02", f.t0 + 1ms) == NodeLiveness::kDead);
  CHECK(standby.liveness("node01", f.t0 + 1ms) == NodeLiveness::kAlive);
}

TEST_CASE("a fresh process keeps the grace period", "[unit]") {
  NodeLivenessTracker fresh{500ms};
  const TimePoint t0{std::chrono::seconds(100)};
  fresh.startTracking(t0);
  fresh.setKnownNodes(kNodes);
  for (const auto* witness : {"node01", "node03", "node04", "node05"})
    fresh.report(witnessReport(witness, {}, {{"node02", 900ms}}), t0 + 100ms);
  fresh.startTerm(t0 + 200ms);
  CHECK(fresh.termHasGrace());
  CHECK(fresh.liveness("node02", t0 + 200ms) == NodeLiveness::kUnknown);
  CHECK(fresh.expire(t0 + 699ms).empty());
  CHECK(fresh.nextDeadline() == t0 + 700ms);
  for (const auto* witness : {"node01", "node03", "node04", "node05"})
    fresh.report(witnessReport(witness, {}, {{"node02", 900ms}}), t0 + 700ms);
  const auto deaths = deathsOf("node02", fresh.expire(t0 + 700ms));
  REQUIRE(deaths.size() == 1);
  CHECK(deaths[0].node == "node02");
}

}  // namespace
}  // namespace sluice::controller
