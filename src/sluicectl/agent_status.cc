// Decoding the agent's status answer.
#include "sluicectl/agent_status.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace sluice::sluicectl {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

std::optional<std::string> AgentStatus::tableName(int id) const {
  for (const auto& table : tables)
    if (table.id == id) return table.name;
  return std::nullopt;
}

const LocalPod* AgentStatus::findPod(const std::string& podNamespace,
                                     const std::string& name) const {
  for (const auto& pod : pods)
    if (pod.podNamespace == podNamespace && pod.name == name) return &pod;
  return nullptr;
}

Result<AgentStatus> decodeAgentStatus(const nlohmann::json& answer) {
  try {
    AgentStatus status;
    status.node = answer.at("node").get<std::string>();
    status.nodeIp = answer.value("nodeIP", "");
    status.podCidr = answer.value("podCIDR", "");
    status.gatewayMac = answer.value("gatewayMAC", "");
    status.gatewayOfport = answer.value("gatewayOfport", 2);
    status.tunnelOfport = answer.value("tunnelOfport", 1);
    status.integrationBridge = answer.value("integrationBridge", "br-int");
    status.vswitchdControl = answer.value("vswitchdControl", "");
    status.controllerAddress = answer.value("controllerAddress", "");
    status.fenced = answer.value("fenced", false);
    status.round = answer.value("round", 0);
    for (const auto& ip : answer.value("heldEgressIPs", nlohmann::json::array()))
      status.heldEgressIps.push_back(ip.get<std::string>());
    for (const auto& table : answer.value("tables", nlohmann::json::array()))
      status.tables.push_back(PipelineTable{table.at("id").get<int>(),
                                            table.at("name").get<std::string>(),
                                            table.value("stage", "")});
    for (const auto& owner : answer.value("owners", nlohmann::json::array()))
      status.owners.push_back(
          FlowOwner{owner.at("key").get<std::string>(), owner.value("display", ""),
                    std::strtoull(owner.at("hash").get<std::string>().c_str(), nullptr, 16)});
    for (const auto& pod : answer.value("pods", nlohmann::json::array())) {
      LocalPod local{pod.value("namespace", ""),
                     pod.value("name", ""),
                     pod.value("owner", ""),
                     pod.value("ip", ""),
                     pod.value("mac", ""),
                     pod.value("ofport", 0),
                     std::nullopt};
      if (pod.contains("egress") && pod["egress"].is_object())
        local.egress = PodEgress{pod["egress"].value("name", ""), pod["egress"].value("ip", ""),
                                 pod["egress"].value("node", "")};
      status.pods.push_back(std::move(local));
    }
    return status;
  } catch (const nlohmann::json::exception& error) {
    return makeError(std::string("malformed status answer from sluice-agent: ") + error.what());
  }
}

Result<int> resolveTable(const AgentStatus& status, const std::string& nameOrNumber) {
  if (!nameOrNumber.empty() && std::all_of(nameOrNumber.begin(), nameOrNumber.end(),
                                           [](unsigned char c) { return std::isdigit(c); })) {
    const int id = std::atoi(nameOrNumber.c_str());
    if (status.tables.empty() || status.tableName(id)) return id;
  }
  for (const auto& table : status.tables)
    if (lower(table.name) == lower(nameOrNumber)) return table.id;
  std::string valid;
  for (const auto& table : status.tables) valid += (valid.empty() ? "" : ", ") + table.name;
  if (valid.empty()) valid = "none by name on this bridge; give a table number";
  return makeError("-T " + nameOrNumber +
                   ": no such table in this node's pipeline; valid tables: " + valid);
}

}  // namespace sluice::sluicectl
