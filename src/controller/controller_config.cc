// Strict parsing of sluice-controller.conf: every key is known, every value checked.
#include "controller/controller_config.h"

#include <cctype>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace sluice::controller {
namespace {

using Setter = std::function<Result<void>(const YAML::Node&, ControllerConfig&)>;

std::string scalar(const YAML::Node& node) {
  return node.IsScalar() ? node.Scalar() : std::string();
}

Result<void> setBool(const YAML::Node& node, bool& target) {
  const auto text = scalar(node);
  if (text == "true")
    target = true;
  else if (text == "false")
    target = false;
  else
    return makeError("must be true or false");
  return {};
}

Result<void> setDuration(const YAML::Node& node, std::chrono::milliseconds& target,
                         std::chrono::milliseconds minimum) {
  const auto value = parseDuration(scalar(node));
  if (!value || *value < minimum)
    return makeError("must be a duration such as 500ms or 15s, at least " +
                     std::to_string(minimum.count()) + "ms");
  target = *value;
  return {};
}

Result<void> setString(const YAML::Node& node, std::string& target) {
  if (!node.IsScalar()) return makeError("must be a string");
  target = node.Scalar();
  return {};
}

Result<void> setInt(const YAML::Node& node, int& target, int minimum, int maximum) {
  const auto text = scalar(node);
  bool digits = !text.empty() && text.size() <= 9;
  for (char c : text) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  if (!digits || std::stoi(text) < minimum || std::stoi(text) > maximum)
    return makeError("must be an integer from " + std::to_string(minimum) + " to " +
                     std::to_string(maximum));
  target = std::stoi(text);
  return {};
}

Result<void> setCidr(const YAML::Node& node, Cidr& target) {
  auto cidr = parseCidrOrError(scalar(node));
  if (!cidr)
    return makeError("must be the cluster's Service CIDR, e.g. 10.96.0.0/12 (" +
                     cidr.error().message + ")");
  target = *cidr;
  return {};
}

Result<void> applyLeaderElection(const YAML::Node& node, ControllerConfig& config,
                                 const std::string& source) {
  if (node.IsNull()) return {};
  if (!node.IsMap()) return makeError(source + ": leaderElection must be a mapping");
  auto& election = config.leaderElection;
  for (const auto& entry : node) {
    const auto key = entry.first.Scalar();
    Result<void> applied;
    if (key == "enabled")
      applied = setBool(entry.second, election.enabled);
    else if (key == "leaseName")
      applied = setString(entry.second, election.leaseName);
    else if (key == "leaseDuration")
      applied = setDuration(entry.second, election.leaseDuration, std::chrono::milliseconds(1000));
    else if (key == "renewDeadline")
      applied = setDuration(entry.second, election.renewDeadline, std::chrono::milliseconds(500));
    else if (key == "retryPeriod")
      applied = setDuration(entry.second, election.retryPeriod, std::chrono::milliseconds(100));
    else
      return makeError(
          source + ": unknown key leaderElection." + key +
          "; the known keys are enabled, leaseName, leaseDuration, renewDeadline, retryPeriod");
    if (!applied)
      return makeError(source + ": leaderElection." + key + " " + applied.error().message);
  }
  if (election.leaseName.empty())
    return makeError(source + ": leaderElection.leaseName must not be empty");
  if (election.renewDeadline >= election.leaseDuration)
    return makeError(
        source +
        ": leaderElection.renewDeadline must be shorter than leaseDuration, so a leader "
        "stops before another may take over");
  if (election.retryPeriod >= election.renewDeadline)
    return makeError(source + ": leaderElection.retryPeriod must be shorter than renewDeadline");
  return {};
}

}  // namespace

std::optional<std::chrono::milliseconds> parseDuration(const std::string& text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 7) return std::nullopt;
  const long number = std::stol(text.substr(0, digits));
  const auto unit = text.substr(digits);
  if (unit == "ms") return std::chrono::milliseconds(number);
  if (unit == "s") return std::chrono::milliseconds(number * 1000);
  if (unit == "m") return std::chrono::milliseconds(number * 60'000);
  return std::nullopt;
}

Result<ControllerConfig> parseControllerConfig(const std::string& yamlText,
                                               const std::string& sourceName) {
  ControllerConfig config;
  YAML::Node root;
  try {
    root = YAML::Load(yamlText);
  } catch (const YAML::Exception& error) {
    return makeError(sourceName + ": not valid YAML: " + error.what());
  }
  if (root.IsNull()) return config;
  if (!root.IsMap())
    return makeError(sourceName + ": the top level must be a mapping of keys to values");
  try {
    for (const auto& entry : root) {
      const auto key = entry.first.Scalar();
      const auto& value = entry.second;
      Result<void> applied;
      if (key == "listenAddress")
        applied = setString(value, config.listenAddress);
      else if (key == "authenticateAgents")
        applied = setBool(value, config.authenticateAgents);
      else if (key == "leaderElection") {
        auto election = applyLeaderElection(value, config, sourceName);
        if (!election) return election.error();
      } else if (key == "nodeSilenceTimeout")
        applied = setDuration(value, config.nodeSilenceTimeout, std::chrono::milliseconds(50));
      else if (key == "peerWitnesses")
        applied = setInt(value, config.peerWitnesses, 1, 15);
      else if (key == "maxEgressIPsPerNode")
        applied = setInt(value, config.maxEgressIPsPerNode, 0, 1'000'000);
      else if (key == "rebalance")
        applied = setBool(value, config.rebalance);
      else if (key == "serviceCIDR") {
        applied = setCidr(value, config.serviceCIDR);
        config.serviceCIDRConfigured = true;
      } else if (key == "logLevel") {
        applied = setString(value, config.logLevel);
        if (applied && config.logLevel != "debug" && config.logLevel != "info" &&
            config.logLevel != "warning" && config.logLevel != "error")
          applied = makeError("must be debug, info, warning or error");
      } else
        return makeError(
            sourceName + ": unknown key " + key +
            "; the known keys are listenAddress, authenticateAgents, leaderElection, "
            "nodeSilenceTimeout, peerWitnesses, maxEgressIPsPerNode, rebalance, serviceCIDR, "
            "logLevel");
      if (!applied) return makeError(sourceName + ": " + key + " " + applied.error().message);
    }
  } catch (const YAML::Exception& error) {
    return makeError(sourceName + ": " + error.what());
  }
  if (config.listenAddress.find(':') == std::string::npos)
    return makeError(sourceName + ": listenAddress must be HOST:PORT, e.g. 0.0.0.0:10349");
  return config;
}

Result<ControllerConfig> loadControllerConfig(const std::string& path) {
  std::ifstream file(path);
  if (!file)
    return makeError("controller config " + path +
                     ": cannot be read; pass an existing file with --config");
  std::stringstream text;
  text << file.rdbuf();
  return parseControllerConfig(text.str(), "controller config " + path);
}

Result<AgentTiming> parseAgentTiming(const std::string& yamlText, const std::string& sourceName) {
  AgentTiming timing;
  try {
    const auto root = YAML::Load(yamlText);
    if (!root.IsMap()) return timing;
    for (const auto& [key, target] : {std::pair{"reportInterval", &timing.reportInterval},
                                      std::pair{"fencingTimeout", &timing.fencingTimeout}}) {
      if (!root[key]) continue;
      auto value = parseDuration(scalar(root[key]));
      if (!value) return makeError(sourceName + ": " + key + " must be a duration such as 100ms");
      *target = *value;
    }
  } catch (const YAML::Exception& error) {
    return makeError(sourceName + ": not valid YAML: " + error.what());
  }
  return timing;
}

Result<AgentTiming> readAgentTiming(const std::string& path) {
  std::ifstream file(path);
  if (!file) return makeError("agent config " + path + ": cannot be read");
  std::stringstream text;
  text << file.rdbuf();
  return parseAgentTiming(text.str(), "agent config " + path);
}

Result<void> validateTiming(const AgentTiming& agent,
                            std::chrono::milliseconds nodeSilenceTimeout) {
  if (agent.fencingTimeout + agent.reportInterval >= nodeSilenceTimeout)
    return makeError(
        "liveness timing: fencingTimeout (" + std::to_string(agent.fencingTimeout.count()) +
        "ms) + reportInterval (" + std::to_string(agent.reportInterval.count()) +
        "ms) must be below the controller's nodeSilenceTimeout (" +
        std::to_string(nodeSilenceTimeout.count()) +
        "ms), or a node could still hold an IP the controller has given to another node; "
        "lower fencingTimeout or raise nodeSilenceTimeout");
  return {};
}

Result<void> validateElectionTiming(const AgentTiming& agent,
                                    const LeaderElectionConfig& election) {
  if (!election.enabled || election.renewDeadline + agent.fencingTimeout < election.leaseDuration)
    return {};
  return makeError(
      "leader election timing: leaderElection.renewDeadline (" +
      std::to_string(election.renewDeadline.count()) + "ms) + the agents' fencingTimeout (" +
      std::to_string(agent.fencingTimeout.count()) +
      "ms) must be below leaderElection.leaseDuration (" +
      std::to_string(election.leaseDuration.count()) +
      "ms), or an agent could still hold an IP on the old leader's word when a new leader "
      "moves it; lower renewDeadline or raise leaseDuration");
}

}  // namespace sluice::controller
