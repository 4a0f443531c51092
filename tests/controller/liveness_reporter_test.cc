// Tests of the agent's LivenessReporter against in-process HttpServers that speak the
// controller's report protocol (a leader answering 200, a standby answering 307).
#include <atomic>
#include <thread>

#include <catch2/catch.hpp>

#include <mutex>
#include <nlohmann/json.hpp>

#include "agent/liveness_reporter.h"
#include "common/http_server.h"

namespace sluice::agent {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(2ms);  // polling a condition, with a deadline
  }
  return condition();
}

struct FakeLeader {
  HttpServer server{HttpServerOptions{.listenAddress = "127.0.0.1:0"}};
  std::atomic<int> reports{0};
  std::atomic<int> connections{0};
  std::mutex mutex;
  std::string lastNode_;  // guarded by mutex: written on the server's thread
  std::string lastNode() {
    std::lock_guard lock(mutex);
    return lastNode_;
  }
  FakeLeader() {
    server.route("POST", "/v1/report", [this](const HttpRequest& request) {
      const auto node = nlohmann::json::parse(request.body).value("node", "");
      {
        std::lock_guard lock(mutex);
        lastNode_ = node;
      }
      ++reports;
      return HttpResponse{200, "application/json", R"({"leader":true,"epoch":7})", {}};
    });
    REQUIRE(server.start());
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(server.port()); }
};

TEST_CASE("reports flow over one keep-alive connection and unfence the node", "[http]") {
  FakeLeader leader;
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
  CHECK_FALSE(reporter.fenced());
  CHECK(unfences == 1);
  CHECK(fences == 0);
  CHECK(leader.lastNode() == "node02");
  CHECK(reporter.leaderEpoch() == 7);
  CHECK(reporter.stats().connects == 1);  // keep-alive: one connection for every report
  reporter.stop();
}

TEST_CASE(
    "a reporter whose controller is gone fences within fencingTimeout, and unfences on return",
    "[http]") {
  auto leader = std::make_unique<FakeLeader>();
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

TEST_CASE("a standby's 307 leads the reporter to the leader", "[http]") {
  FakeLeader leader;
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
  REQUIRE(waitFor([&] { return leader.reports >= 3; }, 2s));
  CHECK(redirected == 1);  // it stays on the leader's connection
  CHECK(reporter.currentTarget() == leader.address());
  reporter.stop();
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
