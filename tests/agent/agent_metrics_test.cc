// Agent metrics: the pure pieces (IP diffs, counter growth, probe verdicts) and what the registry
// renders after the agent's hooks run, read back with the exposition parser.
#include <catch2/catch.hpp>

#include "agent/agent_metrics.h"
#include "common/exposition.h"
#include "common/http_server.h"

namespace sluice::agent {
namespace {

using namespace std::chrono_literals;

Ipv4 ip(const char* text) { return *parseIpv4(text); }

exposition::Exposition scrape(AgentMetrics& metrics) {
  auto parsed = exposition::parseExposition(metricsText(metrics.registry()));
  REQUIRE(parsed.ok());
  return *parsed;
}

TEST_CASE("diffEgressIps: taken over and released", "[unit]") {
  const auto changes = diffEgressIps({ip("10.10.0.8"), ip("10.10.0.9")},
                                     {ip("10.10.0.9"), ip("10.10.0.10"), ip("10.10.0.11")});
  CHECK(changes.takenOver == std::vector<Ipv4>{ip("10.10.0.10"), ip("10.10.0.11")});
  CHECK(changes.released == std::vector<Ipv4>{ip("10.10.0.8")});
  const auto none = diffEgressIps({ip("10.10.0.8")}, {ip("10.10.0.8")});
  CHECK(none.takenOver.empty());
  CHECK(none.released.empty());
}

TEST_CASE("counterGrowth: a counter that went back counts from zero", "[unit]") {
  CHECK(counterGrowth(5, 9) == 4);
  CHECK(counterGrowth(9, 9) == 0);
  CHECK(counterGrowth(9, 3) == 3);
}

TEST_CASE("probe verdicts: starting, OVS down, a stalled loop, not synced", "[unit]") {
  const LoopStatus up{.pipelineInstalled = true, .informersSynced = true, .ovsConnected = true};
  CHECK(healthVerdict({.status = {}, .sinceHeartbeat = 0ms}, 10s).ok);  // starting
  CHECK(healthVerdict({.status = up, .sinceHeartbeat = 2s}, 10s).ok);
  CHECK_FALSE(healthVerdict({.status = up, .sinceHeartbeat = 11s}, 10s).ok);
  auto down = up;
  down.ovsConnected = false;
  const auto verdict = healthVerdict({.status = down, .sinceHeartbeat = 0ms}, 10s);
  CHECK_FALSE(verdict.ok);
  CHECK_THAT(verdict.message, Catch::Contains("ovs-vswitchd"));

  CHECK(readinessVerdict({.status = up}).ok);
  CHECK_FALSE(readinessVerdict({.status = {}}).ok);
  auto unsynced = up;
  unsynced.informersSynced = false;
  CHECK_FALSE(readinessVerdict({.status = unsynced}).ok);
}

TEST_CASE("AgentMetrics: sync observations become counters and a latency histogram", "[unit]") {
  AgentMetrics metrics;
  auto observe = metrics.syncObserver("br-int");
  ofrules::SyncCounters counters;
  counters.flowModsTotal = 40;
  counters.bundlesSent = 1;
  counters.lastSyncDuration = 3ms;
  observe(counters, true);
  counters.lastSyncDuration = 1us;  // a sync with nothing to send: no latency sample
  observe(counters, true);
  counters.flowModsTotal = 45;
  counters.bundlesSent = 2;
  counters.errors = 1;
  counters.reconnects = 1;
  counters.lastSyncDuration = 20ms;
  observe(counters, true);
  counters.errors = 2;
  observe(counters, false);  // a failed sync is a latency sample too

  const auto scraped = scrape(metrics);
  const exposition::Labels intBridge = {{"bridge", "br-int"}};
  CHECK(scraped.types.at("sluice_agent_ovs_flow_ops_total") == "counter");
  CHECK(scraped.value("sluice_agent_ovs_flow_ops_total", intBridge) == 45);
  CHECK(scraped.value("sluice_agent_ovs_flow_ops_errors_total", intBridge) == 2);
  CHECK(scraped.value("sluice_agent_ovs_reconnects_total", intBridge) == 1);
  CHECK(scraped.types.at("sluice_agent_ovs_flow_ops_latency_seconds") == "histogram");
  CHECK(scraped.value("sluice_agent_ovs_flow_ops_latency_seconds_count", intBridge) == 3);
  CHECK(scraped.value("sluice_agent_ovs_flow_ops_latency_seconds_bucket",
                      {{"bridge", "br-int"}, {"le", "0.005"}}) == 1);
}

TEST_CASE("AgentMetrics: flow counts per table drop to 0 when a table empties", "[unit]") {
  AgentMetrics metrics;
  metrics.setFlowCounts("br-int", {{"Classifier", 4}, {"EgressMark", 2}});
  metrics.setFlowCounts("br-int", {{"Classifier", 5}});
  const auto scraped = scrape(metrics);
  CHECK(scraped.value("sluice_agent_ovs_flow_count", {{"table", "Classifier"}}) == 5);
  CHECK(scraped.value("sluice_agent_ovs_flow_count", {{"table", "EgressMark"}}) == 0);
  CHECK(scraped.sum("sluice_agent_ovs_flow_count", {{"bridge", "br-int"}}) == 5);
}

TEST_CASE("AgentMetrics: egress IPs owned, takeovers, releases, fencing, readiness", "[unit]") {
  AgentMetrics metrics;
  metrics.setFenced(true);
  CHECK(scrape(metrics).value("sluice_agent_fenced") == 1);
  metrics.observeHeldEgressIps({ip("10.10.0.8")});
  metrics.observeHeldEgressIps({ip("10.10.0.8"), ip("10.10.0.9")});
  metrics.observeHeldEgressIps({ip("10.10.0.9")});
  metrics.setFenced(false);
  metrics.setLocalPods(3);
  metrics.setServices(2, 5);
  metrics.heartbeat({.pipelineInstalled = true, .informersSynced = true, .ovsConnected = true});
  const auto scraped = scrape(metrics);
  CHECK(scraped.value("sluice_agent_egress_ips_owned") == 1);
  CHECK(scraped.value("sluice_agent_egress_ip_takeovers_total") == 2);
  CHECK(scraped.value("sluice_agent_egress_ip_releases_total") == 1);
  CHECK(scraped.value("sluice_agent_fenced") == 0);
  CHECK(scraped.value("sluice_agent_local_pod_count") == 3);
  CHECK(scraped.value("sluice_agent_services") == 2);
  CHECK(scraped.value("sluice_agent_service_endpoints") == 5);
  CHECK(scraped.value("sluice_agent_ready") == 1);
  CHECK(scraped.value("sluice_agent_ovs_connected") == 1);
  CHECK(metrics.health().ok);
  CHECK(metrics.readiness().ok);
  metrics.heartbeat({.pipelineInstalled = true, .informersSynced = true, .ovsConnected = false});
  CHECK_FALSE(metrics.health().ok);
}

}  // namespace
}  // namespace sluice::agent
