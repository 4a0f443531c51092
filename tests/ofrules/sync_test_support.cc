// Helpers for the syncer tests (see sync_test_support.h).
#include "sync_test_support.h"

#include <catch2/catch.hpp>
#include <sstream>

namespace sluice::ofrules::test {

std::unique_ptr<testing::OvsSandbox> startSandboxWithBridge() {
  auto sandbox = testing::OvsSandbox::start({.namePrefix = "sl-sync", .ownNetns = true});
  INFO((sandbox ? std::string() : sandbox.error().message));
  REQUIRE(sandbox.ok());
  auto added = (*sandbox)->addBridge(kBridge);
  INFO((added ? std::string() : added.error().message));
  REQUIRE(added.ok());
  return std::move(*sandbox);
}

FlowSyncerOptions syncerOptions(const testing::OvsSandbox& sandbox) {
  return FlowSyncerOptions{.connection = {.target = sandbox.bridgeTarget(kBridge)}};
}

std::vector<Flow> egressFlows(int ownerIndex, int count, int variant) {
  std::vector<Flow> flows;
  flows.reserve(static_cast<std::size_t>(count));
  Cookie cookie{0, Category::kEgress, static_cast<std::uint64_t>(ownerIndex) + 1};
  for (int i = 0; i < count; ++i) {
    int host = ownerIndex * count + i;
    std::string source = "10." + std::to_string(100 + host / 65536) + "." +
                         std::to_string(host / 256 % 256) + "." + std::to_string(host % 256);
    std::string snat =
        "192.168." + std::to_string(ownerIndex % 256) + "." + std::to_string(1 + variant % 250);
    flows.push_back(Flow{.table = static_cast<std::uint8_t>(10 + i % 3),
                         .priority = static_cast<std::uint16_t>(200 + i % 7),
                         .match = "ip,nw_src=" + source,
                         .actions = "ct(commit,zone=65520,nat(src=" + snat + "))",
                         .cookie = cookie.encode()});
  }
  return flows;
}

FlowTuple parseOfctlLine(const std::string& rawLine) {
  std::string line = rawLine;
  while (!line.empty() && line.front() == ' ') {
    line.erase(0, 1);
  }
  std::uint64_t cookie = 0;
  int table = 0;
  int priority = 32768;
  auto takePrefix = [&line](const std::string& prefix, std::string& value) {
    if (line.rfind(prefix, 0) != 0) {
      return false;
    }
    auto end = line.find(", ");
    value = line.substr(prefix.size(), end - prefix.size());
    line.erase(0, end + 2);
    return true;
  };
  std::string value;
  if (takePrefix("cookie=", value)) {
    cookie = std::stoull(value, nullptr, 16);
  }
  if (takePrefix("table=", value)) {
    table = std::stoi(value);
  }
  std::string match;
  std::string actions;
  auto actionsAt = line.find("actions=");
  REQUIRE(actionsAt != std::string::npos);
  actions = line.substr(actionsAt + 8);
  match = actionsAt > 0 ? line.substr(0, actionsAt - 1) : "";
  if (match.rfind("priority=", 0) == 0) {
    auto comma = match.find(',');
    priority = std::stoi(match.substr(9, comma - 9));
    match = comma == std::string::npos ? "" : match.substr(comma + 1);
  }
  return {cookie, table, priority, match, actions};
}

std::set<FlowTuple> ofctlFlows(const testing::OvsSandbox& sandbox) {
  auto output =
      sandbox.run(std::string("ovs-ofctl -O OpenFlow15 dump-flows --no-stats ") + kBridge);
  INFO((output ? std::string() : output.error().message));
  REQUIRE(output.ok());
  std::set<FlowTuple> flows;
  std::istringstream lines(*output);
  std::string line;
  std::size_t count = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line.find("actions=") == std::string::npos) {
      continue;  // the reply header
    }
    flows.insert(parseOfctlLine(line));
    ++count;
  }
  REQUIRE(flows.size() == count);
  return flows;
}

std::set<FlowTuple> expectedFlows(const FlowSyncer& syncer, const std::vector<Flow>& flows) {
  std::set<FlowTuple> expected;
  for (const Flow& flow : flows) {
    expected.emplace(syncer.cookieFor(flow), flow.table, flow.priority, flow.match, flow.actions);
  }
  return expected;
}

}  // namespace sluice::ofrules::test
