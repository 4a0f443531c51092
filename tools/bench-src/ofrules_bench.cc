// bench_ofrules (tools/bench ofrules): flow installation through FlowSyncer against a private
// ovs-vswitchd, compared with `ovs-ofctl --bundle add-flows` of the same flows. Prints BENCH lines.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

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
using Clock = std::chrono::steady_clock;

constexpr char kBridge[] = "br-bench";
constexpr int kFlowsPerOwner = 100;
constexpr int kRuns = 5;

[[noreturn]] void fail(const std::string& what) {
  std::cerr << "bench_ofrules: " << what << "\n";
  std::exit(1);
}

template <typename T>
T check(Result<T> result, const std::string& what) {
  if (!result) {
    fail(what + ": " + result.error().message);
  }
  return std::move(*result);
}

void check(const Result<void>& result, const std::string& what) {
  if (!result) {
    fail(what + ": " + result.error().message);
  }
}

// Egress SNAT flows as the agent installs them on an egress node: match a pod's source address,
// commit it in the egress zone with SNAT to the Egress's IP, continue in the next table.
std::vector<Flow> ownerFlows(int owner, int variant) {
  std::vector<Flow> flows;
  Cookie cookie{0, Category::kEgress, static_cast<std::uint64_t>(owner) + 1};
  for (int i = 0; i < kFlowsPerOwner; ++i) {
    int host = owner * kFlowsPerOwner + i;
    std::string source = "10." + std::to_string(64 + host / 65536) + "." +
                         std::to_string(host / 256 % 256) + "." + std::to_string(host % 256);
    std::string egressIp =
        "172.18." + std::to_string(owner % 256) + "." + std::to_string(10 + variant % 200);
    flows.push_back(
        Flow{.table = 40,
             .priority = 200,
             .match = "ip,reg0=0x" + std::to_string(1 + owner % 9) + "/0xf,nw_src=" + source,
             .actions = "ct(commit,table=41,zone=65520,nat(src=" + egressIp + "))",
             .cookie = cookie.encode()});
  }
  return flows;
}

std::vector<std::vector<Flow>> table(int owners) {
  std::vector<std::vector<Flow>> result;
  for (int i = 0; i < owners; ++i) {
    result.push_back(ownerFlows(i, 0));
  }
  return result;
}

double seconds(Clock::duration duration) { return std::chrono::duration<double>(duration).count(); }

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

class Bench {
 public:
  Bench() {
    sandbox_ =
        check(testing::OvsSandbox::start({.namePrefix = "sl-bench", .ownNetns = true}), "sandbox");
    check(sandbox_->addBridge(kBridge), "add bridge");
  }

  FlowSyncerOptions options() const {
    return FlowSyncerOptions{.connection = {.target = sandbox_->bridgeTarget(kBridge)}};
  }

  void clearSwitch() {
    check(ofctl({"del-flows", sandbox_->bridgeTarget(kBridge)}), "ovs-ofctl del-flows");
  }

  Result<void> ofctl(std::vector<std::string> arguments) {
    std::vector<std::string> argv{"ovs-ofctl", "-O", "OpenFlow15"};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    auto output = testing::runCommand(argv);
    if (!output) {
      return output.error();
    }
    if (output->exitCode != 0) {
      return makeError(testing::describeCommand(argv) + ": " + output->err);
    }
    return {};
  }

  std::size_t flowsOnSwitch() {
    auto output =
        check(sandbox_->run(std::string("ovs-ofctl -O OpenFlow15 dump-aggregate ") + kBridge),
              "dump-aggregate");
    auto at = output.find("flow_count=");
    return at == std::string::npos ? 0 : std::stoul(output.substr(at + 11));
  }

  // Seconds for a fresh syncer (a new agent) to set and install `owners` into an empty switch.
  double installWithSyncer(const std::vector<std::vector<Flow>>& owners, std::size_t expected) {
    clearSwitch();
    MemoryRoundStore rounds;
    auto syncer = check(FlowSyncer::create(options(), rounds), "syncer");
    check(syncer->connection().ensureConnected(), "connect");  // a running agent is connected
    auto start = Clock::now();
    for (std::size_t i = 0; i < owners.size(); ++i) {
      check(syncer->setFlows("egress/" + std::to_string(i), owners[i]), "setFlows");
    }
    check(syncer->sync(), "sync");
    double elapsed = seconds(Clock::now() - start);
    if (flowsOnSwitch() != expected) {
      fail("the switch holds " + std::to_string(flowsOnSwitch()) + " flows, expected " +
           std::to_string(expected));
    }
    return elapsed;
  }

  double installWithOfctl(const std::vector<std::vector<Flow>>& owners, std::size_t expected) {
    clearSwitch();
    std::string path = sandbox_->dir() + "/flows.txt";
    {
      std::ofstream file(path);
      for (const auto& flows : owners) {
        for (const Flow& flow : flows) {
          char cookie[32];
          std::snprintf(cookie, sizeof cookie, "0x%llx",
                        static_cast<unsigned long long>(flow.cookie));
          file << "table=" << int(flow.table) << ",priority=" << flow.priority
               << ",cookie=" << cookie << "," << flow.match << ",actions=" << flow.actions << "\n";
        }
      }
    }
    auto start = Clock::now();
    check(ofctl({"--bundle", "add-flows", sandbox_->bridgeTarget(kBridge), path}),
          "ovs-ofctl add-flows");
    double elapsed = seconds(Clock::now() - start);
    if (flowsOnSwitch() != expected) {
      fail("ovs-ofctl left " + std::to_string(flowsOnSwitch()) + " flows, expected " +
           std::to_string(expected));
    }
    return elapsed;
  }

  // Median milliseconds to change one owner's 100 flows (a new egress IP) in a 10,000-flow table.
  double delta(const std::vector<std::vector<Flow>>& owners) {
    clearSwitch();
    MemoryRoundStore rounds;
    auto syncer = check(FlowSyncer::create(options(), rounds), "syncer");
    for (std::size_t i = 0; i < owners.size(); ++i) {
      check(syncer->setFlows("egress/" + std::to_string(i), owners[i]), "setFlows");
    }
    check(syncer->sync(), "sync");
    std::vector<double> times;
    for (int variant = 1; variant <= 21; ++variant) {
      auto changed = ownerFlows(17, variant);
      auto start = Clock::now();
      check(syncer->setFlows("egress/17", changed), "setFlows");
      check(syncer->sync(), "sync");
      times.push_back(seconds(Clock::now() - start) * 1000);
      if (syncer->counters().flowModsLastSync != kFlowsPerOwner) {
        fail("delta sent " + std::to_string(syncer->counters().flowModsLastSync) +
             " flow mods, expected 100");
      }
    }
    return median(times);
  }

 private:
  std::unique_ptr<testing::OvsSandbox> sandbox_;
};

}  // namespace

int main() {
  sluice::log::setLevel(sluice::log::Level::kWarning);
  Bench bench;
  auto tenThousand = table(100);
  auto hundredThousand = table(1000);

  std::vector<double> syncer10k, ofctl10k;
  for (int run = 0; run < kRuns; ++run) {
    ofctl10k.push_back(bench.installWithOfctl(tenThousand, 10000));
    syncer10k.push_back(bench.installWithSyncer(tenThousand, 10000));
  }
  double syncer100k = bench.installWithSyncer(hundredThousand, 100000);
  double deltaMs = bench.delta(tenThousand);

  double syncerRate = 10000 / median(syncer10k);
  double ofctlRate = 10000 / median(ofctl10k);
  std::printf("BENCH ofrules.install_10k_flows_per_s=%.0f\n", syncerRate);
  std::printf("BENCH ofrules.install_100k_flows_per_s=%.0f\n", 100000 / syncer100k);
  std::printf("BENCH ofrules.ofctl_10k_flows_per_s=%.0f\n", ofctlRate);
  std::printf("BENCH ofrules.delta_ms=%.2f\n", deltaMs);
  std::printf("BENCH ofrules.speedup_vs_ofctl=%.2f\n", syncerRate / ofctlRate);
  return 0;
}
