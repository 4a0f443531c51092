// Strict YAML decoding of the agent configuration.
#include "agent/agent_config.h"

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "agent/liveness_reporter.h"

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
    if (!node.IsScalar() || !YAML::convert<int>::decode(node, value))
      return makeError("must be an integer");
    if (value < low || value > high)
      return makeError("must be between " + std::to_string(low) + " and " + std::to_string(high));
    config.*member = value;
    return {};
  };
}

Setter durationField(int AgentConfig::*member, int low, int high) {
  return [member, low, high](const YAML::Node& node, AgentConfig& config) -> Result<void> {
    const auto value = node.IsScalar() ? parseDurationMs(node.as<std::string>()) : std::nullopt;
    if (!value) return makeError("must be a duration such as 100ms, 4s or 1m");
    if (*value < low || *value > high)
      return makeError("must be between " + std::to_string(low) + "ms and " + std::to_string(high) +
                       "ms");
    config.*member = *value;
    return {};
  };
}

Setter boolField(bool AgentConfig::*member) {
  return [member](const YAML::Node& node, AgentConfig& config) -> Result<void> {
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value))
      return makeError("must be true or false");
    config.*member = value;
    return {};
  };
}

// The Service proxy's keys (flat, like the rest of the file).
Result<void> serviceCidrField(const YAML::Node& node, AgentConfig& config) {
  const auto text = node.IsScalar() ? node.as<std::string>() : std::string();
  auto cidr = parseCidrOrError(text);
  if (!cidr)
    return makeError(cidr.error().message +
                     "; set it to kube-apiserver's --service-cluster-ip-range, such as "
                     "10.96.0.0/12");
  config.proxy.serviceCidr = *cidr;
  config.proxy.serviceCidrConfigured = true;
  return {};
}

Result<void> nodePortAddressesField(const YAML::Node& node, AgentConfig& config) {
  if (!node.IsSequence())
    return makeError("must be a list of CIDRs such as [10.10.0.0/16] (empty: the node IP)");
  config.proxy.nodePortAddresses.clear();
  for (std::size_t i = 0; i < node.size(); ++i) {
    const auto text = node[i].IsScalar() ? node[i].as<std::string>() : std::string();
    auto cidr = parseCidrOrError(text);
    if (!cidr)
      return makeError("entry " + std::to_string(i) + ": " + cidr.error().message +
                       "; use a CIDR such as 10.10.0.0/16");
    config.proxy.nodePortAddresses.push_back(*cidr);
  }
  return {};
}

const std::map<std::string, Setter>& setters() {
  static const std::map<std::string, Setter> kSetters = {
      {"ovsDatapathType",
       [](const YAML::Node& node, AgentConfig& config) -> Result<void> {
         const auto value = node.IsScalar() ? node.as<std::string>() : std::string();
         if (value == "system")
           config.datapathType = DatapathType::kSystem;
         else if (value == "netdev")
           config.datapathType = DatapathType::kNetdev;
         else
           return makeError("must be \"system\" (the kernel module) or \"netdev\" (userspace)");
         return {};
       }},
      {"ovsRunDir", stringField(&AgentConfig::ovsRunDir)},
      {"ovsBridge", stringField(&AgentConfig::integrationBridge)},
      {"physicalBridge", stringField(&AgentConfig::physicalBridge)},
      {"transportInterface", stringField(&AgentConfig::uplinkInterface)},
      {"gatewayInterface", stringField(&AgentConfig::gatewayInterface)},
      {"tunnelInterface", stringField(&AgentConfig::tunnelInterface)},
      {"tunnelType",
       [](const YAML::Node& node, AgentConfig&) -> Result<void> {
         if (!node.IsScalar() || node.as<std::string>() != "geneve")
           return makeError("only \"geneve\" is supported");
         return {};
       }},
      {"tunnelPort", intField(&AgentConfig::tunnelPort, 1, 65535)},
      {"mtu",
       [](const YAML::Node& node, AgentConfig& config) -> Result<void> {
         if (node.IsScalar() && node.as<std::string>() == "auto") {
           config.mtu = 0;
           return {};
         }
         return intField(&AgentConfig::mtu, 576, 65535)(node, config).ok()
                    ? Result<void>()
                    : Result<void>(makeError("must be \"auto\" or an integer from 576 to 65535"));
       }},
      {"cniSocket", stringField(&AgentConfig::cniSocket)},
      {"stateDir", stringField(&AgentConfig::stateDir)},
      {"kubeconfig", stringField(&AgentConfig::kubeconfig)},
      {"controllerAddress",
       [](const YAML::Node& node, AgentConfig& config) -> Result<void> {
         if (!node.IsScalar()) return makeError("must be a string");
         const auto value = node.as<std::string>();
         if (auto entries = splitControllerAddresses(value); !entries) return entries.error();
         config.controllerAddress = value;
         return {};
       }},
      {"controllerService", stringField(&AgentConfig::controllerService)},
      {"reportInterval", durationField(&AgentConfig::reportIntervalMs, 10, 10000)},
      {"fencingTimeout", durationField(&AgentConfig::fencingTimeoutMs, 50, 60000)},
      {"peerProbePort", intField(&AgentConfig::peerProbePort, 1, 65535)},
      {"peerWitnesses", intField(&AgentConfig::peerWitnesses, 0, 15)},
      {"gratuitousArpCount", intField(&AgentConfig::gratuitousArpCount, 0, 100)},
      {"disableConntrackTcpSequenceCheck",
       boolField(&AgentConfig::disableConntrackTcpSequenceCheck)},
      {"listenAddress", stringField(&AgentConfig::listenAddress)},
      {"serviceProxy",
       [](const YAML::Node& node, AgentConfig& config) -> Result<void> {
         bool enabled = false;
         if (!node.IsScalar() || !YAML::convert<bool>::decode(node, enabled))
           return makeError("must be true (Sluice serves Services) or false (kube-proxy does)");
         config.proxy.enabled = enabled;
         return {};
       }},
      {"serviceCIDR", serviceCidrField},
      {"nodePortAddresses", nodePortAddressesField},
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

std::optional<int> parseDurationMs(const std::string& text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 7) return std::nullopt;
  const int number = std::stoi(text.substr(0, digits));
  const auto unit = text.substr(digits);
  if (unit == "ms") return number;
  if (unit == "s") return number * 1000;
  if (unit == "m" && number <= 1000) return number * 60000;
  return std::nullopt;
}

Result<AgentConfig> parseAgentConfig(const std::string& yamlText, const std::string& nodeName) {
  AgentConfig config;
  if (nodeName.empty())
    return makeError(
        "agent config: NODE_NAME is not set; set it to this node's name (the downward API's "
        "spec.nodeName)");
  config.nodeName = nodeName;
  YAML::Node root;
  try {
    root = YAML::Load(yamlText);
  } catch (const YAML::Exception& error) {
    return makeError(std::string("agent config: not valid YAML: ") + error.what());
  }
  if (root.IsNull()) return config;
  if (!root.IsMap())
    return makeError("agent config: the top level must be a mapping of keys to values");
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
  if (config.fencingTimeoutMs <= config.reportIntervalMs)
    return fieldError("fencingTimeout", "must be longer than reportInterval",
                      "allow at least a few heartbeats before an agent fences itself");
  return config;
}

Result<AgentConfig> loadAgentConfig(const std::string& path, const std::string& nodeName) {
  std::ifstream in(path);
  if (!in)
    return makeError("agent config: cannot read " + path + "; pass --config with an existing file");
  std::stringstream text;
  text << in.rdbuf();
  return parseAgentConfig(text.str(), nodeName);
}

}  // namespace sluice::agent
