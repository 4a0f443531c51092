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

  // Leadership lost and regained: the slate is wiped, nobody is dead for one period again.
  tracker.startTerm(t0 + 10s);
  CHECK(tracker.liveness("node02", t0 + 10s) == NodeLiveness::kUnknown);
  CHECK(tracker.nextDeadline() == t0 + 10s + 500ms);
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

}  // namespace
}  // namespace sluice::controller
