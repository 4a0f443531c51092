// Strict YAML decoding of the agent configuration.
#include "agent/agent_config.h"

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace sluice::agent {
namespace {

using Setter = std::function<Result<void>(const YAML::Node&, AgentConfig&)>;

Error fieldError(const std::string& key, const std::string& problem, const std::string& fix) {
  return makeError("agent config: " + key + ": " + problem + "; " + fix);
}

Setter stringField(std::string AgentConfig::*member) {
  return [member](const YAML::Node& node, AgentConfig& config) -> Result<void> {
    if (!node.IsScalar()) return makeError("must be a string");
    config.*member = node.as<std::string>();
    return {};
  };
}

Setter intField(int AgentConfig::*member, int low, int high) {
  return [member, low, high](const YAML::Node& node, AgentConfig& config) -> Result<void> {
    int value = 0;
    if (!node.IsScalar() || !YAML::convert<int>::decode(node, value)) return makeError("must be an integer");
    if (value < low || value > high)
      return makeError("must be between " + std::to_string(low) + " and " + std::to_string(high));
    config.*member = value;
    return {};
  };
}

const std::map<std::string, Setter>& setters() {
  static const std::map<std::string, Setter> kSetters = {
      {"ovsDatapathType",
       [](const YAML::Node& node, AgentConfig& config) -> Result<void> {
         const auto value = node.IsScalar() ? node.as<std::string>() : std::string();
         if (value == "system") config.datapathType = DatapathType::kSystem;
         else if (value == "netdev") config.datapathType = DatapathType::kNetdev;
         else return makeError("must be \"system\" (the kernel module) or \"netdev\" (userspace)");
         return {};
       }},
      {"ovsRunDir", stringField(&AgentConfig::ovsRunDir)},
      {"integrationBridge", stringField(&AgentConfig::integrationBridge)},
      {"physicalBridge", stringField(&AgentConfig::physicalBridge)},
      {"uplinkInterface", stringField(&AgentConfig::uplinkInterface)},
      {"gatewayInterface", stringField(&AgentConfig::gatewayInterface)},
      {"tunnelInterface", stringField(&AgentConfig::tunnelInterface)},
      {"tunnelType",
       [](const YAML::Node& node, AgentConfig&) -> Result<void> {
         if (!node.IsScalar() || node.as<std::string>() != "geneve")
           return makeError("only \"geneve\" is supported");
         return {};
       }},
      {"tunnelPort", intField(&AgentConfig::tunnelPort, 1, 65535)},
      {"mtu", intField(&AgentConfig::mtu, 0, 65535)},
      {"cniSocket", stringField(&AgentConfig::cniSocket)},
      {"stateDir", stringField(&AgentConfig::stateDir)},
      {"kubeconfig", stringField(&AgentConfig::kubeconfig)},
      {"controllerAddress", stringField(&AgentConfig::controllerAddress)},
      {"livenessIntervalMs", intField(&AgentConfig::livenessIntervalMs, 10, 10000)},
      {"fencingTimeoutMs", intField(&AgentConfig::fencingTimeoutMs, 50, 60000)},
      {"apiAddress", stringField(&AgentConfig::apiAddress)},
      {"logLevel",
       [](const YAML::Node& node, AgentConfig& config) -> Result<void> {
         const auto value = node.IsScalar() ? node.as<std::string>() : std::string();
         if (value != "debug" && value != "info" && value != "warning" && value != "error")
           return makeError("must be debug, info, warning or error");
         config.logLevel = value;
         return {};
       }},
  };
  return kSetters;
}

}  // namespace

Result<AgentConfig> parseAgentConfig(const std::string& yamlText, const std::string& nodeName) {
  AgentConfig config;
  if (nodeName.empty())
    return makeError("agent config: NODE_NAME is not set; set it to this node's name (the downward API's spec.nodeName)");
  config.nodeName = nodeName;
  YAML::Node root;
  try {
    root = YAML::Load(yamlText);
  } catch (const YAML::Exception& error) {
    return makeError(std::string("agent config: not valid YAML: ") + error.what());
  }
  if (root.IsNull()) return config;
  if (!root.IsMap()) return makeError("agent config: the top level must be a mapping of keys to values");
  for (const auto& entry : root) {
    const auto key = entry.first.as<std::string>();
    const auto setter = setters().find(key);
    if (setter == setters().end()) {
      std::string known;
      for (const auto& [name, unused] : setters()) known += (known.empty() ? "" : ", ") + name;
      return fieldError(key, "unknown key", "known keys are " + known);
    }
    if (auto applied = setter->second(entry.second, config); !applied)
      return fieldError(key, applied.error().message, "fix the value in sluice-agent.conf");
  }
  if (config.fencingTimeoutMs <= config.livenessIntervalMs)
    return fieldError("fencingTimeoutMs", "must be longer than livenessIntervalMs",
                      "allow at least a few heartbeats before an agent fences itself");
  return config;
}

Result<AgentConfig> loadAgentConfig(const std::string& path, const std::string& nodeName) {
  std::ifstream in(path);
  if (!in) return makeError("agent config: cannot read " + path + "; pass --config with an existing file");
  std::stringstream text;
  text << in.rdbuf();
  return parseAgentConfig(text.str(), nodeName);
}

}  // namespace sluice::agent
