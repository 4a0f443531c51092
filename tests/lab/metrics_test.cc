// Metrics end to end: the agents' and the controller's /metrics scraped with curl from inside the
// node namespaces, parsed as the exposition format, and followed through pods being added, an
// Egress applied and its egress node crashing. /healthz and /readyz answer 200.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <vector>

#include "common/exposition.h"
#include "lab_fixture.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kAgentAddress = "127.0.0.1:10350";        // per node netns (sluice-lab)
constexpr const char* kControllerAddress = "10.10.4.11:10349";  // controller replica 1 (sluice-lab)

// GET http://ADDRESS/PATH from inside NODE's network namespace: {status code, body}.
std::pair<int, std::string> get(const Lab& lab, const std::string& node, const std::string& address,
                                const std::string& path) {
  // The status code goes on a line of its own after the body.
  const auto result =
      lab.nodeExec(node, "curl -s --max-time 2 -w '\\n%{http_code}' http://" + address + path);
  const auto& text = result.output;
  const auto lastLine = text.rfind('\n');
  if (!result.ok() || lastLine == std::string::npos) return {0, text};
  return {std::atoi(text.c_str() + lastLine + 1), text.substr(0, lastLine)};
}

std::optional<exposition::Exposition> scrape(const Lab& lab, const std::string& node,
                                             const std::string& address) {
  const auto [status, body] = get(lab, node, address, "/metrics");
  if (status != 200) return std::nullopt;
  auto parsed = exposition::parseExposition(body);
  if (!parsed) {
    FAIL_CHECK(parsed.error().message);
    return std::nullopt;
  }
  return *parsed;
}

// One metric's value (0 when absent) from NODE's agent, or from the controller seen from NODE.
double agentValue(const Lab& lab, const std::string& node, const std::string& name,
                  const exposition::Labels& labels = {}) {
  const auto scraped = scrape(lab, node, kAgentAddress);
  return scraped ? scraped->sum(name, labels) : -1;
}
double controllerValue(const Lab& lab, const std::string& name) {
  const auto scraped = scrape(lab, "node01", kControllerAddress);
  return scraped ? scraped->sum(name) : -1;
}

TEST_CASE("metrics follow pods, an Egress and its failover; probes answer 200", "[lab][metrics]") {
  Lab lab({.nodes = 3});
  REQUIRE(lab.up());

  for (const std::string node : {"node01", "node02", "node03"}) {
    INFO(node);
    // An agent is ready after its first flow install and its informers' sync: poll, don't sleep.
    CHECK(waitFor(10s, [&] { return get(lab, node, kAgentAddress, "/readyz").first == 200; }));
    CHECK(get(lab, node, kAgentAddress, "/healthz").first == 200);
    CHECK(get(lab, node, kAgentAddress, "/nope").first == 404);
  }
  CHECK(get(lab, "node01", kControllerAddress, "/healthz").first == 200);
  const auto controllerReady = get(lab, "node01", kControllerAddress, "/readyz");
  CHECK(controllerReady.first == 200);
  CHECK_THAT(controllerReady.second, Catch::Contains("leader"));

  // The agent's families and their types, as Prometheus would see them.
  const auto first = scrape(lab, "node01", kAgentAddress);
  REQUIRE(first);
  CHECK(first->types.at("sluice_agent_ovs_flow_count") == "gauge");
  CHECK(first->types.at("sluice_agent_ovs_flow_ops_total") == "counter");
  CHECK(first->types.at("sluice_agent_ovs_flow_ops_latency_seconds") == "histogram");
  CHECK(first->types.at("sluice_agent_local_pod_count") == "gauge");
  CHECK(first->value("sluice_agent_ovs_connected") == 1);
  CHECK(first->value("sluice_agent_ready") == 1);
  // Every table of the pipeline is listed; the node's own flows are in some of them.
  CHECK(first->value("sluice_agent_ovs_flow_count", {{"table", "Classifier"}}).value_or(0) > 0);
  CHECK(first->sum("sluice_agent_ovs_flow_count", {{"bridge", "br-phy"}}) > 0);
  const double podsBefore = first->sum("sluice_agent_local_pod_count");
  const double flowsBefore = first->sum("sluice_agent_ovs_flow_count", {{"bridge", "br-int"}});
  const double opsBefore = first->sum("sluice_agent_ovs_flow_ops_total", {{"bridge", "br-int"}});
  CHECK(opsBefore > 0);
  CHECK(first->sum("sluice_agent_ovs_flow_ops_latency_seconds_count") > 0);

  // What a scrape costs, against a probe on the same listener as the baseline (curl's total time
  // from inside the node's netns, median of 15).
  auto medianMs = [&](const std::string& path) {
    std::vector<double> times;
    for (int i = 0; i < 15; ++i) {
      const auto out = lab.nodeExec("node01", "curl -s -o /dev/null -w '%{time_total}' http://" +
                                                  std::string(kAgentAddress) + path);
      if (out.ok()) times.push_back(std::atof(out.output.c_str()) * 1000);
    }
    std::sort(times.begin(), times.end());
    return times.empty() ? -1.0 : times[times.size() / 2];
  };
  const double scrapeMs = medianMs("/metrics");
  const double healthzMs = medianMs("/healthz");
  std::cout << "BENCH metrics.agent_scrape_ms=" << scrapeMs << "\n"
            << "BENCH metrics.agent_healthz_baseline_ms=" << healthzMs << "\n";
  CHECK(scrapeMs >= 0);

  // Pods added on node01: its local pod count, flow count and flow ops go up; node02's stay.
  REQUIRE(lab.lab("ns add prod --labels env=prod").ok());
  REQUIRE_FALSE(lab.addPod("web-1", "node01", "role=web", "prod").empty());
  REQUIRE_FALSE(lab.addPod("web-2", "node01", "role=web", "prod").empty());
  CHECK(waitFor(5s, [&] {
    return agentValue(lab, "node01", "sluice_agent_local_pod_count") == podsBefore + 2;
  }));
  // The flow-count gauges are refreshed once a second: wait for the refresh after the pods.
  CHECK(waitFor(3s, [&] {
    const auto afterPods = scrape(lab, "node01", kAgentAddress);
    return afterPods &&
           afterPods->sum("sluice_agent_ovs_flow_count", {{"bridge", "br-int"}}) > flowsBefore;
  }));
  const auto afterPods = scrape(lab, "node01", kAgentAddress);
  REQUIRE(afterPods);
  CHECK(afterPods->sum("sluice_agent_ovs_flow_ops_total", {{"bridge", "br-int"}}) > opsBefore);
  CHECK(agentValue(lab, "node02", "sluice_agent_local_pod_count") == 0);

  // Listings 1 and 2: the egress node owns the IP; the other candidate owns none.
  REQUIRE(lab.lab("node label node02 network-role=egress-gateway").ok());
  REQUIRE(lab.lab("node label node03 network-role=egress-gateway").ok());
  const double failoversBefore = controllerValue(lab, "sluice_controller_failovers_total");
  REQUIRE(failoversBefore >= 0);
  const std::string fixtures = std::string(SLUICE_SOURCE_ROOT) + "/tests/fixtures/thesis/";
  REQUIRE(lab.kubectl("apply -f " + fixtures + "listing2-pool.yml").ok());
  REQUIRE(lab.kubectl("apply -f " + fixtures + "listing1-egress.yml").ok());
  std::string egressNode;
  REQUIRE(waitFor(10s, [&] {
    egressNode =
        lab.kubectl("get egress egress-prod-web -o jsonpath='{.status.egressNode}'").output;
    return egressNode == "node02" || egressNode == "node03";
  }));
  const std::string standby = egressNode == "node02" ? "node03" : "node02";
  CHECK(waitFor(5s,
                [&] { return agentValue(lab, egressNode, "sluice_agent_egress_ips_owned") == 1; }));
  CHECK(agentValue(lab, egressNode, "sluice_agent_egress_ip_takeovers_total") >= 1);
  CHECK(agentValue(lab, egressNode, "sluice_agent_fenced") == 0);
  CHECK(agentValue(lab, standby, "sluice_agent_egress_ips_owned") == 0);
  CHECK(agentValue(lab, "node01", "sluice_agent_egress_ips_owned") == 0);
  CHECK(controllerValue(lab, "sluice_controller_egress_ip_assignments") == 1);
  CHECK(controllerValue(lab, "sluice_controller_egress_ip_allocations_total") >= 1);

  // The egress node crashes: the controller counts a failover, the standby owns the IP.
  REQUIRE(lab.lab("node stop " + egressNode).ok());
  CHECK(waitFor(10s, [&] {
    return controllerValue(lab, "sluice_controller_failovers_total") > failoversBefore;
  }));
  CHECK(
      waitFor(10s, [&] { return agentValue(lab, standby, "sluice_agent_egress_ips_owned") == 1; }));
  CHECK(agentValue(lab, standby, "sluice_agent_egress_ip_takeovers_total") >= 1);
  const auto controller = scrape(lab, "node01", kControllerAddress);
  REQUIRE(controller);
  CHECK(controller->types.at("sluice_controller_failovers_total") == "counter");
  CHECK(controller->value("sluice_controller_decision_latency_seconds_count").value_or(0) >= 1);
  CHECK(controller->value("sluice_controller_sync_duration_seconds_count").value_or(0) >= 1);
  CHECK(controller->value("sluice_controller_live_nodes") == 2);
  CHECK(controller->value("sluice_controller_workqueue_depth").has_value());
  // The stopped node answers nothing; the others stay healthy.
  CHECK(get(lab, egressNode, kAgentAddress, "/healthz").first == 0);
  CHECK(get(lab, standby, kAgentAddress, "/healthz").first == 200);

  // ovs-vswitchd crashes and comes back on node01: the agent counts the reconnect, replaces the
  // table, and is healthy and connected again with its flows counted as before.
  const exposition::Labels intBridge = {{"bridge", "br-int"}};
  const double reconnectsBefore =
      agentValue(lab, "node01", "sluice_agent_ovs_reconnects_total", intBridge);
  const double flowsBeforeRestart =
      agentValue(lab, "node01", "sluice_agent_ovs_flow_count", intBridge);
  REQUIRE(lab.lab("node ovs-restart node01").ok());
  CHECK(waitFor(10s, [&] {
    return agentValue(lab, "node01", "sluice_agent_ovs_reconnects_total", intBridge) >
           reconnectsBefore;
  }));
  CHECK(waitFor(5s, [&] {
    return get(lab, "node01", kAgentAddress, "/healthz").first == 200 &&
           agentValue(lab, "node01", "sluice_agent_ovs_connected") == 1 &&
           agentValue(lab, "node01", "sluice_agent_ovs_flow_count", intBridge) ==
               flowsBeforeRestart;
  }));
}

}  // namespace
}  // namespace sluice::testing
