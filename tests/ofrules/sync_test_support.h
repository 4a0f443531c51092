// Helpers for the syncer tests: a sandbox with one bridge, generated flows, and an ovs-ofctl
// oracle.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "ofrules/flow.h"
#include "ofrules/flow_syncer.h"
#include "testing/ovs_sandbox.h"

namespace sluice::ofrules::test {

inline constexpr char kBridge[] = "br-sync";

// A sandbox in its own netns (the netdev bridge's tap device must not meet other tests') with
// kBridge added.
std::unique_ptr<testing::OvsSandbox> startSandboxWithBridge();

FlowSyncerOptions syncerOptions(const testing::OvsSandbox& sandbox);

// `count` realistic egress SNAT flows for owner `owner`, in the exact text ovs-ofctl prints.
// `variant` changes the SNAT address, so a new variant is a changed flow with the same key.
std::vector<Flow> egressFlows(int ownerIndex, int count, int variant = 0);

// (cookie, table, priority, match, actions) as ovs-ofctl dump-flows prints them.
using FlowTuple = std::tuple<std::uint64_t, int, int, std::string, std::string>;
// Runs ovs-ofctl dump-flows --no-stats on the sandbox's bridge: the independent oracle.
std::set<FlowTuple> ofctlFlows(const testing::OvsSandbox& sandbox);
// The tuples the switch should hold for these desired flows.
std::set<FlowTuple> expectedFlows(const FlowSyncer& syncer, const std::vector<Flow>& flows);
// Parses one line of `ovs-ofctl dump-flows --no-stats` output.
FlowTuple parseOfctlLine(const std::string& line);

}  // namespace sluice::ofrules::test
