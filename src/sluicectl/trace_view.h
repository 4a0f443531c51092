// trace: the packet ofproto/trace is given, what sluicectl reads from its text (tables passed,
// tunnel, SNAT, output), and how it is shown. Pure, so captured traces are unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sluicectl/agent_status.h"
#include "sluicectl/cli.h"

namespace sluice::sluicectl {

// The packet a local pod sends to `command.destination`, as an ofproto/trace flow.
std::string podPacketFlow(const Trace& command, const LocalPod& pod, const std::string& gatewayMac);

// The same packet as it arrives at the egress node: in through the tunnel port with the tunnel
// metadata the source node set.
struct TunnelArrival {
  int tunnelOfport = 1;
  std::string tunnelSource;       // the source node's IP
  std::string tunnelDestination;  // the egress node's IP
  std::uint64_t tunnelId = 0;
  std::string destinationMac;  // what the source node set
};
std::string tunnelPacketFlow(const Trace& command, const LocalPod& pod,
                             const TunnelArrival& arrival);

struct TraceStep {
  std::string bridge;  // "br-int"; a tunnelled packet continues into br-phy
  int table = 0;
  int priority = -1;  // -1: no flow matched
  std::string match;  // "" matches everything
  std::optional<std::uint64_t> cookie;
  std::vector<std::string> actions;  // without the ones OVS repeats from inside a ct(...)
  int pass = 0;                      // 0: the first pass, then one per recirculation
};

// A Service's load balancing as ofproto/trace shows it: the select group the packet went
// through, the bucket OVS picked, and the endpoint the bucket's DNAT sends it to.
struct LoadBalancing {
  std::uint32_t group = 0;
  std::optional<std::uint32_t> bucket;  // none: the group had no live bucket
  std::optional<std::string> endpoint;  // "10.244.1.5:8080" (or "10.244.1.5": port kept)
  std::string frontend;  // "shop/web port http", from the agent's services (sluicectl sets it)
  bool operator==(const LoadBalancing&) const = default;
};

struct ParsedTrace {
  std::vector<TraceStep> steps;
  std::vector<std::string> datapathActions;  // one per pass
  std::optional<std::string> tunnelDestination;
  std::optional<std::uint64_t> tunnelId;
  std::optional<std::string> tunnelDestinationMac;  // the last mod_dl_dst before the tunnel
  std::optional<std::string> snatIp;
  std::vector<int> outputPorts;                // every port the packet was output to, in order
  bool dropped = false;                        // the last pass's datapath actions are "drop"
  std::optional<LoadBalancing> loadBalancing;  // the packet went through a Service's group
};

// Reads `ovs-appctl ofproto/trace` text (OVS 3.x).
ParsedTrace parseTrace(const std::string& text);

// "group 65536 (shop/web port http), bucket 2: endpoint 10.244.1.5:8080" ("no live bucket"
// when none was picked).
std::string describeLoadBalancing(const LoadBalancing& balancing);

// Where the packet left the node, in words: "tunnel to 10.10.2.2 (node02), tun_id 0xa0a0008",
// "gateway (port 2)", "pod prod/web-2 (port 5)", "dropped".
std::string describeOutput(const ParsedTrace& trace, const AgentStatus& status,
                           const std::string& tunnelNodeName);

// One node's part of a trace, for printing and -o json.
struct NodeTrace {
  AgentStatus status;  // the node's agent: its name, pipeline and ports
  std::string flow;    // the packet given to ofproto/trace
  ParsedTrace parsed;
  std::string output;  // describeOutput()
};

// `note` says why the trace stops where it does (e.g. the egress node's agent is not reachable).
std::string renderTrace(const std::vector<NodeTrace>& hops, const std::string& note);
nlohmann::json traceJson(const std::vector<NodeTrace>& hops, const std::string& note);

}  // namespace sluice::sluicectl
