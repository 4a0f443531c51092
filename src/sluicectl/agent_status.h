// What a node's agent says about itself (its answer to the "status" query), decoded. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace sluice::sluicectl {

struct PipelineTable {
  int id = 0;
  std::string name;  // "L3Forwarding"
  std::string stage;
};

struct FlowOwner {
  std::string key;      // the owner key hashed into cookies, e.g. "egress:egress-prod-web"
  std::string display;  // e.g. "egress/egress-prod-web"
  std::uint64_t hash = 0;
};

struct PodEgress {
  std::string name;
  std::string ip;    // empty: the Egress has no placed IP yet
  std::string node;  // the egress node
};

struct LocalPod {
  std::string podNamespace;
  std::string name;
  std::string owner;
  std::string ip;
  std::string mac;
  int ofport = 0;
  std::optional<PodEgress> egress;
};

struct AgentStatus {
  std::string node;
  std::string nodeIp;
  std::string podCidr;
  std::string gatewayMac;
  int gatewayOfport = 2;
  int tunnelOfport = 1;
  std::string integrationBridge;
  std::string vswitchdControl;  // ovs-appctl -t target
  std::string controllerAddress;
  bool fenced = false;
  std::vector<std::string> heldEgressIps;
  int round = 0;
  std::vector<PipelineTable> tables;
  std::vector<LocalPod> pods;
  std::vector<FlowOwner> owners;

  std::optional<std::string> tableName(int id) const;
  const LocalPod* findPod(const std::string& podNamespace, const std::string& name) const;
};

Result<AgentStatus> decodeAgentStatus(const nlohmann::json& answer);

// A table by name (case-insensitive) or number. The error lists the valid names.
Result<int> resolveTable(const AgentStatus& status, const std::string& nameOrNumber);

}  // namespace sluice::sluicectl
