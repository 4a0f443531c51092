// bench_ovsdb (tools/bench ovsdb): OVSDB client latency for the pod path (ensurePort, waiting
// for the ofport, no-op re-ensure) against a real sandbox, with `ovs-vsctl add-port` (one
// process per port, what a shell-based CNI would do) measured in the same run as the baseline.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ovsdb/ovsdb_client.h"
#include "testing/ovs_sandbox.h"

namespace {

using namespace sluice;
using Clock = std::chrono::steady_clock;

template <typename T>
T check(Result<T> result, const char* what) {
  if (!result) {
    std::fprintf(stderr, "bench_ovsdb: %s: %s\n", what, result.error().message.c_str());
    std::exit(1);
  }
  return std::move(result).value();
}

void check(const Result<void>& result, const char* what) {
  if (!result) {
    std::fprintf(stderr, "bench_ovsdb: %s: %s\n", what, result.error().message.c_str());
    std::exit(1);
  }
}

double millisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

ovsdb::PortOptions podPort(int index) {
  return ovsdb::PortOptions{.bridge = "br-int",
                            .name = "pod" + std::to_string(index),
                            .type = ovsdb::PortType::kInternal,
                            .externalIds = {{"sluice/pod-name", "web-" + std::to_string(index)},
                                            {"sluice/pod-namespace", "default"}}};
}

}  // namespace

int main(int argc, char** argv) {
  int ports = argc > 1 ? std::atoi(argv[1]) : 100;
  auto sandbox =
      check(testing::OvsSandbox::start({.namePrefix = "sl-bovsdb", .ownNetns = true}), "sandbox");
  auto client = check(ovsdb::OvsdbClient::connect(sandbox->dbRemote()), "connect");
  check(client->ensureBridge({.name = "br-int", .datapathType = ovsdb::DatapathType::kNetdev}),
        "ensureBridge");

  std::vector<double> create, ready, noop;
  for (int i = 0; i < ports; ++i) {
    auto start = Clock::now();
    check(client->ensurePort(podPort(i)), "ensurePort");
    create.push_back(millisecondsSince(start));
    check(client->waitForOfport(podPort(i).name, std::chrono::seconds(10)), "waitForOfport");
    ready.push_back(millisecondsSince(start));
  }
  // Let ovs-vswitchd finish applying the additions first: it rewrites Interface rows meanwhile.
  check(client->waitForVswitchd(std::chrono::seconds(30)), "waitForVswitchd");
  for (int i = 0; i < ports; ++i) {
    auto start = Clock::now();
    check(client->ensurePort(podPort(i)), "ensurePort (no-op)");
    noop.push_back(millisecondsSince(start));
  }
  std::vector<double> snapshot;
  for (int i = 0; i < 20; ++i) {
    auto start = Clock::now();
    check(client->readSnapshot(), "readSnapshot");
    snapshot.push_back(millisecondsSince(start));
  }
  std::vector<double> baseline;
  for (int i = 0; i < std::min(ports, 20); ++i) {
    auto start = Clock::now();
    std::string name = "vs" + std::to_string(i);
    std::string command = "ovs-vsctl add-port br-int " + name;
    command += " -- set Interface " + name;
    command += " type=internal";
    check(sandbox->run(command), "ovs-vsctl add-port");
    baseline.push_back(millisecondsSince(start));
  }
  std::printf("BENCH ovsdb_ports=%d\n", ports);
  std::printf("BENCH ovsdb_ensure_port_ms=%.2f\n", median(create));
  std::printf("BENCH ovsdb_ensure_port_ofport_ms=%.2f\n", median(ready));
  std::printf("BENCH ovsdb_ensure_port_noop_ms=%.2f\n", median(noop));
  std::printf("BENCH ovsdb_ensure_port_last_ms=%.2f\n", create.back());
  std::printf("BENCH ovsdb_snapshot_ms=%.2f\n", median(snapshot));
  std::printf("BENCH baseline_ovs_vsctl_add_port_ms=%.2f\n", median(baseline));
  return 0;
}
