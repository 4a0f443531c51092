// sluice-controller's configuration: the ConfigMap's sluice-controller.conf, parsed strictly (an
// unknown key or a bad value is an error that names the key and the fix).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/ipv4.h"
#include "common/result.h"
#include "common/witnesses.h"

namespace sluice::controller {

struct LeaderElectionConfig {
  bool enabled = true;
  std::string leaseName = "sluice-controller";
  std::chrono::milliseconds leaseDuration{15'000};
  std::chrono::milliseconds renewDeadline{10'000};
  std::chrono::milliseconds retryPeriod{2'000};
};

struct ControllerConfig {
  std::string listenAddress = "0.0.0.0:10349";  // reports, /healthz, /readyz, /metrics, /v1/nodes
  bool authenticateAgents = true;               // TokenReview of each agent's bearer token
  LeaderElectionConfig leaderElection;
  std::chrono::milliseconds nodeSilenceTimeout{500};
  // How many witnesses a node has (the agents' peerWitnesses must agree): a node that never
  // declared its own is checked against witnessesOf(node, Node names, peerWitnesses).
  int peerWitnesses = static_cast<int>(kDefaultWitnesses);
  int maxEgressIPsPerNode = 255;
  bool rebalance = false;
  std::string logLevel = "info";
  // The cluster's Service CIDR (kube-apiserver --service-cluster-ip-range). Service traffic never
  // takes an Egress; an Egress whose destinationCIDRs overlap it is told so in a condition. Not
  // configured: read at start from ServiceCIDR "kubernetes", else this default (see
  // kube/service_cidr.h).
  Cidr serviceCIDR{0x0a600000, 12};    // 10.96.0.0/12
  bool serviceCIDRConfigured = false;  // whether the file set serviceCIDR
};

// "100ms", "15s", "1m" to milliseconds; std::nullopt for anything else.
std::optional<std::chrono::milliseconds> parseDuration(const std::string& text);

[[nodiscard]] Result<ControllerConfig> parseControllerConfig(const std::string& yamlText,
                                                             const std::string& sourceName);
[[nodiscard]] Result<ControllerConfig> loadControllerConfig(const std::string& path);

// The liveness timing contract shared with the agents: an agent must have fenced (dropped its
// IPs) before the controller gives them to another node.
struct AgentTiming {
  std::chrono::milliseconds reportInterval{100};
  std::chrono::milliseconds fencingTimeout{300};
};
// Reads reportInterval and fencingTimeout (defaults if absent) from the agents' config file,
// sluice-agent.conf of the same ConfigMap; other keys are the agent's business.
[[nodiscard]] Result<AgentTiming> parseAgentTiming(const std::string& yamlText,
                                                   const std::string& sourceName);
[[nodiscard]] Result<AgentTiming> readAgentTiming(const std::string& path);
[[nodiscard]] Result<void> validateTiming(const AgentTiming& agent,
                                          std::chrono::milliseconds nodeSilenceTimeout);
// An old leader answers agents as the leader until renewDeadline after its last renewal; an
// agent holds on such an answer for fencingTimeout; a successor starts no earlier than
// leaseDuration after that renewal and may decide at once. So renewDeadline + fencingTimeout
// must stay below leaseDuration.
[[nodiscard]] Result<void> validateElectionTiming(const AgentTiming& agent,
                                                  const LeaderElectionConfig& election);

}  // namespace sluice::controller
