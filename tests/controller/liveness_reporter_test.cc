// Tests of the agent's LivenessReporter against in-process HttpServers that speak the
// controller's report protocol: a leader answering 200 {"leader":true}, a standby answering 200
// {"leader":false,"leaderAddress":...}, and an older controller's standby answering 307.
#include <algorithm>
#include <atomic>
#include <iterator>
#include <mutex>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "agent/liveness_reporter.h"
#include "common/http_server.h"
#include "testing/conditions.h"

namespace sluice::agent {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using sluice::testing::holdsThroughout;
using sluice::testing::waitFor;

// A replica: the leader by default; a standby names `leaderAddress`; `failing` answers 503.
struct FakeReplica {
  HttpServer server{HttpServerOptions{.listenAddress = "127.0.0.1:0"}};
  std::atomic<int> reports{0};
  std::atomic<bool> leader{true};
  std::atomic<bool> failing{false};
  std::mutex mutex;
  std::string leaderAddress;           // guarded by mutex
  std::vector<nlohmann::json> bodies;  // guarded by mutex: written on the server's thread
  explicit FakeReplica(bool isLeader = true) : leader(isLeader) {
    server.route("POST", "/v1/report", [this](const HttpRequest& request) {
      std::string named;
      {
        std::lock_guard lock(mutex);
        bodies.push_back(nlohmann::json::parse(request.body));
        named = leaderAddress;
      }
      ++reports;
      if (failing) return HttpResponse{503, "application/json", R"({"error":"not yet"})", {}};
      if (leader)
        return HttpResponse{
            200, "application/json", R"({"leader":true,"epoch":7,"nodeSilenceTimeoutMs":500})", {}};
      return HttpResponse{
          200,
          "application/json",
          nlohmann::json{{"leader", false}, {"leaderAddress", named}, {"epoch", 0}}.dump(),
          {}};
    });
    REQUIRE(server.start());
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(server.port()); }
  nlohmann::json lastBody() {
    std::lock_guard lock(mutex);
    return bodies.empty() ? nlohmann::json() : bodies.back();
  }
  std::vector<nlohmann::json> allBodies() {
    std::lock_guard lock(mutex);
    return bodies;
  }
  void nameLeader(const std::string& address) {
    std::lock_guard lock(mutex);
    leaderAddress = address;
  }
};

// Witnesses that never answer, with a fixed declared set and heard map.
struct FakeWitnesses : WitnessSource {
  mutable std::mutex mutex;
  std::vector<std::vector<std::string>> confirmations;
  WitnessSnapshot snapshot() const override {
    return WitnessSnapshot{.required = {{"node01", "node03"}},
                           .declared = {"node01", "node03"},
                           .ackedSentAt = {},
                           .heardMs = {{"node01", 12}, {"node03", 40}}};
  }
  void confirm(const std::vector<std::string>& declared) override {
    std::lock_guard lock(mutex);
    confirmations.push_back(declared);
  }
  std::size_t confirmed() const {
    std::lock_guard lock(mutex);
    return confirmations.size();
  }
  std::vector<std::string> firstConfirmed() const {
    std::lock_guard lock(mutex);
    return confirmations.front();
  }
};

TEST_CASE("reports flow over one keep-alive connection and unfence the node", "[http]") {
  FakeReplica leader;
  std::atomic<int> fences{0};
  std::atomic<int> unfences{0};
  LivenessReporter reporter({.nodeName = "node02",
                             .controllerAddress = leader.address(),
                             .reportInterval = 20ms,
                             .fencingTimeout = 100ms,
                             .onFenced = [&] { ++fences; },
                             .onUnfenced = [&] { ++unfences; }});
  CHECK(reporter.fenced());
  REQUIRE(reporter.start());
  REQUIRE(waitFor([&] { return leader.reports >= 5; }, 2s));
  REQUIRE(waitFor([&] { return !reporter.fenced(); }, 2s));
  CHECK(unfences == 1);
  CHECK(fences == 0);
  const auto body = leader.lastBody();
  CHECK(body.value("node", "") == "node02");
  CHECK(body.value("fenced", true) == false);  // a starting agent never lost anything
  // No prober: it neither has nor is a witness, and says nothing about either.
  CHECK_FALSE(body.contains("witnesses"));
  CHECK_FALSE(body.contains("heard"));
  CHECK(reporter.leaderEpoch() == 7);
  CHECK(reporter.currentTarget() == leader.address());
  CHECK(reporter.holdingRule() == HoldingRule::kLeader);
  CHECK(reporter.stats().connects == 1);  // keep-alive: one connection for every report
  reporter.stop();
}

TEST_CASE(
    "a reporter whose controller is gone fences within fencingTimeout, and unfences on return",
    "[http]") {
  auto leader = std::make_unique<FakeReplica>();
  const std::string address = leader->address();
  std::atomic<int> fences{0};
  std::atomic<int> unfences{0};
  LivenessReporter reporter({.nodeName = "node02",
                             .controllerAddress = address,
                             .reportInterval = 100ms,
                             .fencingTimeout = 300ms,
                             .onFenced = [&] { ++fences; },
                             .onUnfenced = [&] { ++unfences; }});
  REQUIRE(reporter.start());
  REQUIRE(waitFor([&] { return !reporter.fenced(); }, 2s));
  leader->server.stop();
  const auto gone = Clock::now();
  // The callback (the agent dropping its IPs) is what must have happened in time.
  REQUIRE(waitFor([&] { return fences == 1; }, 2s));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - gone);
  // Fenced 300ms after the last successful report was sent, which was at most 100ms before the
  // stop; the slack is for a loaded machine, and still well before a 500ms nodeSilenceTimeout.
  CHECK(took < 300ms + 100ms);
  CHECK(reporter.fenced());
  reporter.stop();
}

TEST_CASE("a node that lost its quorum says so in its reports until it holds again", "[http]") {
  FakeReplica leader;
  FakeWitnesses witnesses;
  LivenessReporter reporter({.nodeName = "node02",
                             .controllerAddress = leader.address(),
                             .reportInterval = 20ms,
                             .fencingTimeout = 100ms,
                             .witnesses = &witnesses});
  REQUIRE(reporter.start());
  REQUIRE(waitFor([&] { return !reporter.fenced(); }, 2s));
  auto body = leader.lastBody();
  CHECK(body.at("witnesses") == nlohmann::json::array({"node01", "node03"}));
  CHECK(body.at("heard") == nlohmann::json({{"node01", 12}, {"node03", 40}}));
  // Each leader acknowledgement confirms the set the report declared.
  REQUIRE(waitFor([&] { return witnesses.confirmed() > 0; }, 2s));
  CHECK(witnesses.firstConfirmed() == std::vector<std::string>{"node01", "node03"});

  leader.failing = true;
  REQUIRE(waitFor([&] { return reporter.fenced(); }, 2s));
  REQUIRE(waitFor([&] { return leader.lastBody().value("fenced", false); }, 2s));
  leader.failing = false;
  REQUIRE(waitFor([&] { return !reporter.fenced(); }, 2s));
  REQUIRE(waitFor([&] { return !leader.lastBody().value("fenced", true); }, 2s));
  reporter.stop();
}

TEST_CASE("every replica gets every report; a standby's answer does not unfence", "[http]") {
  FakeReplica standby(false);
  FakeReplica leader;
  standby.nameLeader(leader.address());
  leader.failing = true;  // at first only the standby answers
  std::atomic<int> unfences{0};
  LivenessReporter reporter({.nodeName = "node02",
                             .controllerAddress = standby.address() + ", " + leader.address(),
                             .reportInterval = 20ms,
                             .fencingTimeout = 100ms,
                             .onUnfenced = [&] { ++unfences; }});
  REQUIRE(reporter.start());
  REQUIRE(waitFor([&] { return standby.reports >= 10 && leader.reports >= 10; }, 3s));
  CHECK(reporter.fenced());
  CHECK(unfences == 0);
  CHECK(reporter.stats().standbyAcks > 0);
  CHECK(reporter.targets().size() == 2);
  leader.failing = false;
  REQUIRE(waitFor([&] { return !reporter.fenced(); }, 2s));
  CHECK(reporter.currentTarget() == leader.address());
  // The same report, numbered on a shared schedule, went to both.
  std::set<std::uint64_t> toStandby, toLeader;
  for (const auto& body : standby.allBodies()) toStandby.insert(body.value("seq", 0ULL));
  for (const auto& body : leader.allBodies()) toLeader.insert(body.value("seq", 0ULL));
  std::vector<std::uint64_t> common;
  std::set_intersection(toStandby.begin(), toStandby.end(), toLeader.begin(), toLeader.end(),
                        std::back_inserter(common));
  CHECK(common.size() >= 5);
  reporter.stop();
}

TEST_CASE("a leader that a standby names becomes a target of its own", "[http]") {
  FakeReplica leader;
  FakeReplica standby(false);
  standby.nameLeader(leader.address());
  LivenessReporter reporter({.nodeName = "node03",
                             .controllerAddress = standby.address(),
                             .reportInterval = 20ms,
                             .fencingTimeout = 100ms});
  REQUIRE(reporter.start());
  REQUIRE(waitFor([&] { return leader.reports >= 3; }, 3s));
  REQUIRE(waitFor([&] { return !reporter.fenced(); }, 2s));
  CHECK(reporter.currentTarget() == leader.address());
  // The standby keeps getting reports: it tracks them in case it becomes the leader.
  const int before = standby.reports;
  CHECK(waitFor([&] { return standby.reports > before + 3; }, 2s));
  reporter.stop();
}

TEST_CASE("an older controller's 307 leads the reporter to the leader", "[http]") {
  FakeReplica leader;
  HttpServer standby(HttpServerOptions{.listenAddress = "127.0.0.1:0"});
  std::atomic<int> redirected{0};
  standby.route("POST", "/v1/report", [&](const HttpRequest&) {
    ++redirected;
    return HttpResponse{307,
                        "application/json",
                        R"({"leader":false})",
                        {{"Location", "http://" + leader.address() + "/v1/report"}}};
  });
  REQUIRE(standby.start());
  LivenessReporter reporter({.nodeName = "node03",
                             .controllerAddress = "127.0.0.1:" + std::to_string(standby.port()),
                             .reportInterval = 20ms,
                             .fencingTimeout = 100ms});
  REQUIRE(reporter.start());
  REQUIRE(waitFor([&] { return leader.reports >= 3; }, 3s));
  REQUIRE(waitFor([&] { return !reporter.fenced(); }, 2s));
  CHECK(redirected >= 1);
  CHECK(reporter.stats().redirects >= 1);
  CHECK(reporter.currentTarget() == leader.address());
  reporter.stop();
}

TEST_CASE("names resolve to every address; an unresolvable one falls back to the Service",
          "[http]") {
  FakeReplica leader;
  {
    LivenessReporter reporter(
        {.nodeName = "node02",
         .controllerAddress = "localhost:" + std::to_string(leader.server.port()),
         .reportInterval = 20ms,
         .fencingTimeout = 100ms});
    REQUIRE(reporter.start());
    REQUIRE(waitFor([&] { return !reporter.fenced(); }, 3s));
    CHECK(reporter.targets() == std::vector<std::string>{leader.address()});
    reporter.stop();
  }
  LivenessReporter reporter({.nodeName = "node02",
                             .controllerAddress = "no-such-replica.invalid:10349",
                             .fallbackAddress = leader.address(),
                             .reportInterval = 20ms,
                             .fencingTimeout = 100ms});
  REQUIRE(reporter.start());
  REQUIRE(waitFor([&] { return !reporter.fenced(); }, 3s));
  CHECK(reporter.targets() == std::vector<std::string>{leader.address()});
  CHECK(reporter.stats().resolveFailures >= 1);
  reporter.stop();
}

TEST_CASE("a standby that answers steadily keeps the node fenced", "[http]") {
  FakeReplica standby(false);
  LivenessReporter reporter({.nodeName = "node02",
                             .controllerAddress = standby.address(),
                             .reportInterval = 20ms,
                             .fencingTimeout = 100ms});
  REQUIRE(reporter.start());
  REQUIRE(waitFor([&] { return standby.reports >= 3; }, 2s));
  CHECK(holdsThroughout([&] { return reporter.fenced(); }, 300ms));
  CHECK(reporter.holdingRule() == HoldingRule::kNone);
  reporter.stop();
}

TEST_CASE("controller address lists are HOST:PORT, comma-separated", "[unit]") {
  auto entries = splitControllerAddresses(" 10.10.4.11:10349,10.10.4.12:10349 ,, a.b.svc:1");
  REQUIRE(entries);
  CHECK(*entries == std::vector<std::string>{"10.10.4.11:10349", "10.10.4.12:10349", "a.b.svc:1"});
  CHECK(splitControllerAddresses("")->empty());
  CHECK_FALSE(splitControllerAddresses("10.10.4.11"));
  CHECK_FALSE(splitControllerAddresses("a:0"));
  CHECK_FALSE(splitControllerAddresses("a:65536"));
  CHECK_FALSE(splitControllerAddresses(":80"));
  CHECK_THAT(splitControllerAddresses("a:1,b").error().message, Catch::Contains("\"b\""));
}

TEST_CASE("HttpServer routes, 404 and 405", "[http]") {
  HttpServer server(HttpServerOptions{.listenAddress = "127.0.0.1:0"});
  server.route("GET", "/healthz", [](const HttpRequest&) {
    return HttpResponse{200, "text/plain", "ok\n", {}};
  });
  REQUIRE(server.start());
  const std::string base =
      "curl -s -o /dev/null -w %{http_code} http://127.0.0.1:" + std::to_string(server.port());
  auto code = [](const std::string& command) {
    FILE* pipe = popen(command.c_str(), "r");
    char buffer[16] = {};
    if (fgets(buffer, sizeof(buffer), pipe) == nullptr) buffer[0] = 0;
    pclose(pipe);
    return std::string(buffer);
  };
  CHECK(code(base + "/healthz") == "200");
  CHECK(code(base + "/nope") == "404");
  CHECK(code("curl -s -o /dev/null -w %{http_code} -X POST http://127.0.0.1:" +
             std::to_string(server.port()) + "/healthz") == "405");
  server.stop();
}

TEST_CASE("the fencing contract is validated with a clear error", "[unit]") {
  CHECK(validateFencing(100ms, 300ms, 500ms));
  auto error = validateFencing(100ms, 450ms, 500ms);
  REQUIRE_FALSE(error);
  CHECK_THAT(error.error().message, Catch::Contains("fencingTimeout"));
}

}  // namespace
}  // namespace sluice::agent
