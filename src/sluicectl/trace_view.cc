// Building ofproto/trace flows and reading its output.
#include "sluicectl/trace_view.h"

#include <regex>
#include <sstream>

#include "sluicectl/flow_view.h"

namespace sluice::sluicectl {
namespace {

std::string hex(std::uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

std::string protocolFields(const Trace& command) {
  switch (command.protocol) {
    case Protocol::kIcmp: return "icmp";
    case Protocol::kUdp: return "udp";
    case Protocol::kTcp: return "tcp";
  }
  return "ip";
}

std::string transportFields(const Trace& command) {
  switch (command.protocol) {
    case Protocol::kIcmp: return ",icmp_type=8,icmp_code=0";
    case Protocol::kUdp: return ",tp_src=40000,tp_dst=" + std::to_string(command.destinationPort);
    case Protocol::kTcp:
      return ",tp_src=40000,tp_dst=" + std::to_string(command.destinationPort) + ",tcp_flags=syn";
  }
  return "";
}

std::string tableLabel(const AgentStatus& status, const TraceStep& step) {
  if (!step.bridge.empty() && step.bridge != status.integrationBridge)
    return step.bridge + " table " + std::to_string(step.table);
  const auto name = status.tableName(step.table);
  return name ? *name : "table " + std::to_string(step.table);
}

std::string actionText(const AgentStatus& status, const TraceStep& step) {
  std::string actions;
  for (const auto& action : step.actions) actions += (actions.empty() ? "" : ",") + action;
  if (!step.bridge.empty() && step.bridge != status.integrationBridge) return actions;
  return nameTables(actions, status);
}

int indentOf(const std::string& line) {
  const auto first = line.find_first_not_of(' ');
  return first == std::string::npos ? 0 : static_cast<int>(first);
}

}  // namespace

std::string podPacketFlow(const Trace& command, const LocalPod& pod,
                          const std::string& gatewayMac) {
  return protocolFields(command) + ",in_port=" + std::to_string(pod.ofport) + ",dl_src=" + pod.mac +
         ",dl_dst=" + gatewayMac + ",nw_src=" + pod.ip + ",nw_dst=" + command.destination +
         ",nw_ttl=64" + transportFields(command);
}

std::string tunnelPacketFlow(const Trace& command, const LocalPod& pod,
                             const TunnelArrival& arrival) {
  return protocolFields(command) + ",in_port=" + std::to_string(arrival.tunnelOfport) +
         ",tun_id=" + hex(arrival.tunnelId) + ",tun_src=" + arrival.tunnelSource +
         ",tun_dst=" + arrival.tunnelDestination + ",dl_src=" + pod.mac +
         ",dl_dst=" + arrival.destinationMac + ",nw_src=" + pod.ip +
         ",nw_dst=" + command.destination + ",nw_ttl=63" + transportFields(command);
}

ParsedTrace parseTrace(const std::string& text) {
  // " 3. ip,nw_src=10.244.1.2, priority 200, cookie 0x6000abcdef" or "12. No match."
  static const std::regex kStep(
      R"(^\s*(\d+)\. (.*?)(?:, )?priority (\d+)(?:, cookie (0x[0-9a-f]+))?\s*$)");
  static const std::regex kNoMatch(R"(^\s*(\d+)\. No match\.?\s*$)");
  static const std::regex kTunnelDestination(R"(set_field:([0-9.]+)->tun_dst)");
  static const std::regex kTunnelId(R"(set_field:(0x[0-9a-f]+|\d+)->tun_id)");
  static const std::regex kTunnelIdLoad(R"(load:(0x[0-9a-f]+)->NXM_NX_TUN_ID\[\])");
  static const std::regex kDestinationMac(
      R"((?:mod_dl_dst:|set_field:)([0-9a-f:]{17})(?:->eth_dst)?)");
  static const std::regex kSnat(R"(nat\(src=([0-9.]+))");
  static const std::regex kOutput(R"(^output:(\d+)$)");
  static const std::regex kOutputPort(R"(->\s*output port is (\d+))");
  static const std::regex kGroup(R"(^group:(\d+)$)");
  static const std::regex kUsingBucket(R"(->\s*using bucket (\d+))");
  static const std::regex kEndpointNat(R"(nat\(dst=([0-9.]+(?::\d+)?))");
  ParsedTrace parsed;
  std::istringstream lines(text);
  std::string line;
  int pass = 0;
  int stepIndent = -1;
  bool sawBridge = false;
  std::string bridge;
  std::string lastCt;  // OVS lists a ct's nat() and exec() actions again after it
  while (std::getline(lines, line)) {
    if (line.rfind("Datapath actions:", 0) == 0) {
      auto actions = line.substr(std::string("Datapath actions:").size());
      actions.erase(0, actions.find_first_not_of(' '));
      parsed.datapathActions.push_back(actions);
      continue;
    }
    if (line.rfind("=====", 0) == 0) {
      if (sawBridge) ++pass;
      sawBridge = false;
      stepIndent = -1;
      continue;
    }
    if (line.rfind("bridge(\"", 0) == 0) {
      sawBridge = true;
      bridge = line.substr(8, line.find('"', 8) - 8);
      stepIndent = -1;
      continue;
    }
    std::smatch found;
    if (std::regex_match(line, found, kNoMatch)) {
      parsed.steps.push_back(
          TraceStep{bridge, std::stoi(found[1]), -1, "", std::nullopt, {}, pass});
      stepIndent = indentOf(line);
      continue;
    }
    if (std::regex_match(line, found, kStep)) {
      TraceStep step;
      step.bridge = bridge;
      step.table = std::stoi(found[1]);
      step.match = found[2];
      step.priority = std::stoi(found[3]);
      if (found[4].matched) step.cookie = std::stoull(found[4].str(), nullptr, 16);
      step.pass = pass;
      parsed.steps.push_back(std::move(step));
      stepIndent = indentOf(line);
      continue;
    }
    if (parsed.steps.empty() || stepIndent < 0 || indentOf(line) <= stepIndent) continue;
    auto action = line.substr(static_cast<std::size_t>(indentOf(line)));
    if (action.empty()) continue;
    if (std::regex_search(action, found, kOutputPort)) {
      parsed.outputPorts.push_back(std::stoi(found[1]));
      continue;
    }
    if (parsed.loadBalancing && !parsed.loadBalancing->bucket &&
        std::regex_search(action, found, kUsingBucket))
      parsed.loadBalancing->bucket = static_cast<std::uint32_t>(std::stoul(found[1]));
    if (action.rfind("->", 0) == 0) continue;  // OVS's commentary on the previous action
    if (!lastCt.empty() && lastCt.find(action) != std::string::npos) continue;
    // After ct(), ofproto/trace writes "drop" for the pre-recirculation copy of the packet: not a
    // drop of the packet being traced, which goes on (in the next pass, or at the next action).
    if (!lastCt.empty() && action == "drop") continue;
    lastCt = action.rfind("ct(", 0) == 0 ? action : "";
    parsed.steps.back().actions.push_back(action);
    if (std::regex_search(action, found, kTunnelDestination)) parsed.tunnelDestination = found[1];
    if (std::regex_search(action, found, kTunnelId) ||
        std::regex_search(action, found, kTunnelIdLoad))
      parsed.tunnelId = std::stoull(found[1].str(), nullptr, 0);
    if (std::regex_search(action, found, kDestinationMac)) parsed.tunnelDestinationMac = found[1];
    if (std::regex_search(action, found, kSnat)) parsed.snatIp = found[1];
    if (!parsed.loadBalancing && std::regex_match(action, found, kGroup))
      parsed.loadBalancing = LoadBalancing{static_cast<std::uint32_t>(std::stoul(found[1])),
                                           std::nullopt, std::nullopt, ""};
    // The first DNAT after the group is the endpoint its bucket picked.
    if (parsed.loadBalancing && parsed.loadBalancing->bucket && !parsed.loadBalancing->endpoint &&
        std::regex_search(action, found, kEndpointNat))
      parsed.loadBalancing->endpoint = found[1];
    if (std::regex_match(action, found, kOutput)) parsed.outputPorts.push_back(std::stoi(found[1]));
  }
  parsed.dropped = !parsed.datapathActions.empty() && parsed.datapathActions.back() == "drop" &&
                   parsed.outputPorts.empty();
  return parsed;
}

std::string describeLoadBalancing(const LoadBalancing& balancing) {
  std::string text = "group " + std::to_string(balancing.group);
  if (!balancing.frontend.empty()) text += " (" + balancing.frontend + ")";
  if (!balancing.bucket) return text + ": no live bucket (no usable endpoint)";
  text += ", bucket " + std::to_string(*balancing.bucket);
  if (balancing.endpoint) text += ": endpoint " + *balancing.endpoint;
  return text;
}

std::string describeOutput(const ParsedTrace& trace, const AgentStatus& status,
                           const std::string& tunnelNodeName) {
  if (trace.outputPorts.empty()) return "dropped";
  const int port = trace.outputPorts.back();
  if (port == status.tunnelOfport) {
    std::string text = "tunnel";
    if (trace.tunnelDestination) {
      text += " to " + *trace.tunnelDestination;
      if (!tunnelNodeName.empty()) text += " (" + tunnelNodeName + ")";
    }
    if (trace.tunnelId) text += ", tun_id " + hex(*trace.tunnelId);
    return text;
  }
  if (port == status.gatewayOfport)
    return "gateway (port " + std::to_string(port) + "), on to the node's network";
  for (const auto& pod : status.pods)
    if (pod.ofport == port)
      return "pod " + pod.podNamespace + "/" + pod.name + " (port " + std::to_string(port) + ")";
  return "port " + std::to_string(port);
}

std::string renderTrace(const std::vector<NodeTrace>& hops, const std::string& note) {
  std::ostringstream out;
  for (std::size_t i = 0; i < hops.size(); ++i) {
    const auto& hop = hops[i];
    out << (i == 0 ? "" : "\n") << "node " << hop.status.node << ": " << hop.flow << "\n";
    std::string previousActions;
    for (const auto& step : hop.parsed.steps) {
      const auto table = tableLabel(hop.status, step);
      out << "  " << table;
      if (step.priority < 0) {
        out << ": no match\n";
        continue;
      }
      out << " [" << step.priority << "]" << (step.match.empty() ? "" : " " + step.match);
      auto actions = actionText(hop.status, step);
      // A table reached by resubmit whose miss drops (SessionAffinity without a learned entry)
      // drops nothing: processing returns to the flow that resubmitted.
      if (step.priority == 0 && actions == "drop" &&
          previousActions.find("resubmit(," + table + ")") != std::string::npos)
        actions = "(no entry: back to the resubmitting flow)";
      out << "\n      -> " << (actions.empty() ? "(no actions)" : actions) << "\n";
      previousActions = actions;
    }
    if (hop.parsed.loadBalancing)
      out << "  load balancing: " << describeLoadBalancing(*hop.parsed.loadBalancing) << "\n";
    out << "  output: " << hop.output << "\n";
    if (hop.parsed.snatIp) out << "  SNAT: source " << *hop.parsed.snatIp << "\n";
  }
  if (!note.empty()) out << "\n" << note << "\n";
  return out.str();
}

nlohmann::json traceJson(const std::vector<NodeTrace>& hops, const std::string& note) {
  auto list = nlohmann::json::array();
  for (const auto& hop : hops) {
    auto steps = nlohmann::json::array();
    for (const auto& step : hop.parsed.steps) {
      nlohmann::json entry = {{"bridge", step.bridge},
                              {"table", tableLabel(hop.status, step)},
                              {"tableId", step.table},
                              {"matched", step.priority >= 0},
                              {"actions", actionText(hop.status, step)}};
      if (step.priority >= 0) {
        entry["priority"] = step.priority;
        entry["match"] = step.match;
      }
      if (step.cookie) entry["cookie"] = hex(*step.cookie);
      steps.push_back(entry);
    }
    nlohmann::json entry = {{"node", hop.status.node},
                            {"flow", hop.flow},
                            {"tables", steps},
                            {"output", hop.output},
                            {"datapathActions", hop.parsed.datapathActions}};
    if (hop.parsed.tunnelDestination) entry["tunnelDestination"] = *hop.parsed.tunnelDestination;
    if (hop.parsed.tunnelId) entry["tunnelId"] = hex(*hop.parsed.tunnelId);
    if (hop.parsed.snatIp) entry["snat"] = *hop.parsed.snatIp;
    if (const auto& balancing = hop.parsed.loadBalancing) {
      nlohmann::json lb = {{"group", balancing->group}};
      lb["bucket"] = balancing->bucket ? nlohmann::json(*balancing->bucket) : nlohmann::json();
      lb["endpoint"] =
          balancing->endpoint ? nlohmann::json(*balancing->endpoint) : nlohmann::json();
      if (!balancing->frontend.empty()) lb["service"] = balancing->frontend;
      entry["loadBalancing"] = lb;
    }
    list.push_back(entry);
  }
  nlohmann::json result = {{"hops", list}};
  std::string snat;
  for (const auto& hop : hops)
    if (hop.parsed.snatIp) snat = *hop.parsed.snatIp;
  result["snat"] = snat.empty() ? nlohmann::json(nullptr) : nlohmann::json(snat);
  if (!note.empty()) result["note"] = note;
  return result;
}

}  // namespace sluice::sluicectl
