// bench_services (part of tools/bench services): the service proxy's flows and groups installed
// through FlowSyncer into a private ovs-vswitchd: 1,000 Services x 10 endpoints from scratch, then
// one endpoint change. The baseline, measured in the same run, is `ovs-ofctl --bundle` of the same
// groups and flows. Prints BENCH lines.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/features/egress.h"
#include "agent/features/pod_network.h"
#include "agent/features/service_proxy.h"
#include "common/log.h"
#include "ofrules/flow.h"
#include "ofrules/flow_encoder.h"
#include "ofrules/flow_syncer.h"
#include "ofrules/round_store.h"
#include "testing/ovs_sandbox.h"
#include "testing/subprocess.h"

namespace {

using namespace sluice;
using namespace sluice::ofrules;
using agent::features::ServiceEndpoint;
using agent::features::ServiceGroupIds;
using agent::features::ServicePort;
using Clock = std::chrono::steady_clock;

constexpr char kBridge[] = "br-bench";
constexpr int kServices = 1000;
constexpr int kEndpoints = 10;

// Thrown, not exit(): the sandbox's destructor stops its daemons and removes its netns.
[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

template <typename T>
T check(Result<T> result, const std::string& what) {
  if (!result) fail(what + ": " + result.error().message);
  return std::move(*result);
}

void check(const Result<void>& result, const std::string& what) {
  if (!result) fail(what + ": " + result.error().message);
}

double milliseconds(Clock::duration duration) {
  return std::chrono::duration<double, std::milli>(duration).count();
}

double percentile(std::vector<double> values, double fraction) {
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1));
  return values[index];
}

Pipeline pipeline() {
  PipelineBuilder builder;
  agent::features::declarePodNetworkTables(builder);
  agent::features::declareEgressTables(builder);
  agent::features::declareServiceTables(builder);
  return builder.build(Bridge::kIntegration);
}

agent::features::NodeNetwork node() {
  agent::features::NodeNetwork node;
  node.nodeName = "node01";
  node.nodeIp = *parseIpv4("10.10.2.1");
  node.podCidr = *parseCidr("10.244.1.0/24");
  node.gatewayMac = "02:00:00:00:01:01";
  node.clusterCidrs = {*parseCidr("10.244.0.0/16")};
  return node;
}

// Service `index` (ClusterIP 10.96.x.y:80) with endpoints spread over a /16 of pods; `variant`
// changes the last endpoint's address (one endpoint replaced).
ServicePort service(int index, int variant = 0) {
  ServicePort port;
  port.service = "bench/svc-" + std::to_string(index);
  port.portName = "http";
  port.clusterIp = *parseIpv4("10.96.0.0") + 10 + static_cast<Ipv4>(index);
  port.port = 80;
  for (int e = 0; e < kEndpoints; ++e) {
    ServiceEndpoint endpoint;
    const int host = index * kEndpoints + e + (e == kEndpoints - 1 ? variant * 7919 : 0);
    endpoint.ip = *parseIpv4("10.245.0.0") + static_cast<Ipv4>(host % 65000) + 1;
    endpoint.port = 8080;
    port.endpoints.push_back(endpoint);
  }
  return port;
}

ServiceGroupIds groupsOf(int index) {
  return ServiceGroupIds{static_cast<std::uint32_t>(index) + 1, 0};
}

struct Frontends {
  std::vector<std::vector<Flow>> flows;
  std::vector<std::vector<Group>> groups;
  std::size_t flowCount = 0;
  std::size_t groupCount = 0;
};

Frontends frontends(const Pipeline& pipeline, const agent::features::NodeNetwork& node) {
  Frontends result;
  for (int i = 0; i < kServices; ++i) {
    auto computed = check(agent::features::serviceFlows(pipeline, node, service(i), groupsOf(i)),
                          "serviceFlows");
    result.flowCount += computed.flows.size();
    result.groupCount += computed.groups.size();
    result.flows.push_back(std::move(computed.flows));
    result.groups.push_back(std::move(computed.groups));
  }
  return result;
}

class Bench {
 public:
  Bench() {
    sandbox_ =
        check(testing::OvsSandbox::start({.namePrefix = "sl-bsvc", .ownNetns = true}), "sandbox");
    check(sandbox_->addBridge(kBridge), "add bridge");
  }

  FlowSyncerOptions options() const {
    return FlowSyncerOptions{.connection = {.target = sandbox_->bridgeTarget(kBridge)}};
  }

  void clearSwitch() {
    check(sandbox_->run(std::string("ovs-ofctl -O OpenFlow15 del-flows ") + kBridge), "del-flows");
    check(sandbox_->run(std::string("ovs-ofctl -O OpenFlow15 del-groups ") + kBridge),
          "del-groups");
  }

  std::size_t groupsOnSwitch() {
    const auto output =
        check(sandbox_->run(std::string("ovs-ofctl -O OpenFlow15 dump-groups ") + kBridge),
              "dump-groups");
    std::size_t count = 0;
    for (auto at = output.find("group_id="); at != std::string::npos;
         at = output.find("group_id=", at + 1))
      ++count;
    return count;
  }

  void expectInstalled(const Frontends& all) {
    const auto groups = groupsOnSwitch();
    if (groups != all.groupCount)
      fail("the switch holds " + std::to_string(groups) + " groups, expected " +
           std::to_string(all.groupCount));
  }

  // A fresh syncer (a restarted agent) sets every Service's flows and groups and syncs once.
  double installWithSyncer(const Frontends& all) {
    clearSwitch();
    MemoryRoundStore rounds;
    auto syncer = check(FlowSyncer::create(options(), rounds), "syncer");
    check(syncer->connection().ensureConnected(), "connect");
    const auto start = Clock::now();
    for (std::size_t i = 0; i < all.flows.size(); ++i) {
      const auto owner = "service:bench/svc-" + std::to_string(i);
      check(syncer->setGroups(owner, all.groups[i]), "setGroups");
      check(syncer->setFlows(owner, all.flows[i]), "setFlows");
    }
    check(syncer->sync(), "sync");
    const double elapsed = milliseconds(Clock::now() - start);
    expectInstalled(all);
    return elapsed;
  }

  double installWithOfctl(const Frontends& all) {
    clearSwitch();
    const auto groupsPath = sandbox_->dir() + "/groups.txt";
    const auto flowsPath = sandbox_->dir() + "/flows.txt";
    {
      std::ofstream groups(groupsPath);
      std::ofstream flows(flowsPath);
      for (std::size_t i = 0; i < all.flows.size(); ++i) {
        for (const auto& group : all.groups[i]) groups << groupModText(group) << "\n";
        for (const auto& flow : all.flows[i])
          flows << "table=" << int(flow.table) << ",priority=" << flow.priority << ","
                << (flow.match.empty() ? "" : flow.match + ",") << "actions=" << flow.actions
                << "\n";
      }
    }
    const auto start = Clock::now();
    check(sandbox_->run(std::string("ovs-ofctl -O OpenFlow15 --bundle add-groups ") + kBridge +
                        " " + groupsPath),
          "ovs-ofctl add-groups");
    check(sandbox_->run(std::string("ovs-ofctl -O OpenFlow15 --bundle add-flows ") + kBridge + " " +
                        flowsPath),
          "ovs-ofctl add-flows");
    const double elapsed = milliseconds(Clock::now() - start);
    expectInstalled(all);
    return elapsed;
  }

  // One endpoint of one Service replaced, 51 times: milliseconds from setGroups to the switch.
  std::vector<double> endpointChanges(const Pipeline& pipeline,
                                      const agent::features::NodeNetwork& node,
                                      const Frontends& all) {
    clearSwitch();
    MemoryRoundStore rounds;
    auto syncer = check(FlowSyncer::create(options(), rounds), "syncer");
    for (std::size_t i = 0; i < all.flows.size(); ++i) {
      const auto owner = "service:bench/svc-" + std::to_string(i);
      check(syncer->setGroups(owner, all.groups[i]), "setGroups");
      check(syncer->setFlows(owner, all.flows[i]), "setFlows");
    }
    check(syncer->sync(), "sync");
    std::vector<double> times;
    for (int variant = 1; variant <= 51; ++variant) {
      const int index = 417;
      const auto start = Clock::now();
      auto changed = check(
          agent::features::serviceFlows(pipeline, node, service(index, variant), groupsOf(index)),
          "serviceFlows");
      const auto owner = "service:bench/svc-" + std::to_string(index);
      check(syncer->setGroups(owner, changed.groups), "setGroups");
      check(syncer->setFlows(owner, changed.flows), "setFlows");
      check(syncer->sync(), "sync");
      times.push_back(milliseconds(Clock::now() - start));
      if (syncer->counters().groupModsLastSync == 0) fail("an endpoint change sent no group mod");
    }
    return times;
  }

 private:
  std::unique_ptr<testing::OvsSandbox> sandbox_;
};

int run() {
  const auto table = pipeline();
  const auto here = node();
  const auto computeStart = Clock::now();
  const auto all = frontends(table, here);
  const double computeMs = milliseconds(Clock::now() - computeStart);

  Bench bench;
  std::vector<double> syncer, ofctl;
  for (int run = 0; run < 3; ++run) {
    ofctl.push_back(bench.installWithOfctl(all));
    syncer.push_back(bench.installWithSyncer(all));
  }
  const auto changes = bench.endpointChanges(table, here, all);

  const double syncerMs = percentile(syncer, 0.5);
  const double ofctlMs = percentile(ofctl, 0.5);
  std::printf("BENCH services.frontends=%d endpoints_each=%d flows=%zu groups=%zu\n", kServices,
              kEndpoints, all.flowCount, all.groupCount);
  std::printf("BENCH services.compute_1000x10_ms=%.1f\n", computeMs);
  std::printf("BENCH services.install_1000x10_ms=%.1f (target < 1000)\n", syncerMs + computeMs);
  std::printf("BENCH services.ofctl_install_1000x10_ms=%.1f\n", ofctlMs);
  std::printf("BENCH services.install_speedup_vs_ofctl=%.2f\n", ofctlMs / syncerMs);
  std::printf("BENCH services.endpoint_change_ms_p50=%.2f p99=%.2f (target < 10)\n",
              percentile(changes, 0.5), percentile(changes, 0.99));
  return 0;
}

}  // namespace

int main() {
  sluice::log::setLevel(sluice::log::Level::kWarning);
  try {
    return run();
  } catch (const std::exception& error) {
    std::cerr << "bench_services: " << error.what() << "\n";
    return 1;
  }
}
