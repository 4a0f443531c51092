// The agent's state-directory caches (agent_state_cache.h). Each file is replaced whole (write
// to .tmp, rename), so a crash leaves the old one or the new one.
#include "agent/agent_state_cache.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/log.h"

namespace sluice::agent {
namespace {

using nlohmann::json;

json flowsToJson(const std::vector<ofrules::Flow>& flows) {
  auto out = json::array();
  for (const auto& flow : flows)
    out.push_back({flow.table, flow.priority, flow.match, flow.actions, flow.cookie});
  return out;
}

std::vector<ofrules::Flow> flowsFromJson(const json& entries) {
  std::vector<ofrules::Flow> flows;
  for (const auto& entry : entries)
    flows.push_back(ofrules::Flow{entry.at(0).get<std::uint8_t>(), entry.at(1).get<std::uint16_t>(),
                                  entry.at(2).get<std::string>(), entry.at(3).get<std::string>(),
                                  entry.at(4).get<std::uint64_t>()});
  return flows;
}

json ownedFlowsToJson(const std::map<std::string, std::vector<ofrules::Flow>>& owners) {
  auto out = json::object();
  for (const auto& [owner, flows] : owners) out[owner] = flowsToJson(flows);
  return out;
}

// An array is a file of before flows were owned per object: all of it under `legacyOwner`.
std::map<std::string, std::vector<ofrules::Flow>> ownedFlowsFromJson(
    const json& entries, const std::string& legacyOwner) {
  std::map<std::string, std::vector<ofrules::Flow>> owners;
  if (entries.is_array()) {
    if (!entries.empty()) owners[legacyOwner] = flowsFromJson(entries);
    return owners;
  }
  for (const auto& [owner, flows] : entries.items()) owners[owner] = flowsFromJson(flows);
  return owners;
}

json ipsToJson(const std::set<Ipv4>& ips) {
  auto out = json::array();
  for (const auto ip : ips) out.push_back(formatIpv4(ip));
  return out;
}

std::optional<NodeIdentity> identityFromJson(const json& entry) {
  const auto nodeIp = parseIpv4(entry.at("nodeIP").get<std::string>());
  const auto podCidr = parseCidr(entry.at("podCIDR").get<std::string>());
  if (!nodeIp || !podCidr) return std::nullopt;
  return NodeIdentity{*nodeIp, *podCidr};
}

json identityToJson(const NodeIdentity& identity) {
  return json{{"nodeIP", formatIpv4(identity.nodeIp)}, {"podCIDR", identity.podCidr.toString()}};
}

}  // namespace

AgentStateCache::AgentStateCache(std::string stateDir) : stateDir_(std::move(stateDir)) {}

void AgentStateCache::write(const std::string& name, const std::string& text) const {
  std::error_code error;
  std::filesystem::create_directories(stateDir_, error);
  const auto file = path(name);
  std::ofstream(file + ".tmp") << text << "\n";
  std::filesystem::rename(file + ".tmp", file, error);
  if (error) SLUICE_LOG(kWarning, "agent") << "cannot write " << file << ": " << error.message();
}

std::optional<NodeIdentity> AgentStateCache::loadNode() const {
  std::ifstream in(path("node.json"));
  if (!in) return std::nullopt;
  try {
    return identityFromJson(json::parse(in));
  } catch (const json::exception&) {
    SLUICE_LOG(kWarning, "agent") << path("node.json") << " is unreadable; asking the API server";
    return std::nullopt;
  }
}

void AgentStateCache::saveNode(const NodeIdentity& identity) const {
  write("node.json", identityToJson(identity).dump());
}

std::optional<RemoteNodeMap> AgentStateCache::loadRemoteNodes() const {
  std::ifstream in(path("remote-nodes.json"));
  if (!in) return std::nullopt;
  RemoteNodeMap nodes;
  try {
    const auto saved = json::parse(in);  // named: items() must not outlive it
    for (const auto& [name, entry] : saved.items())
      if (auto identity = identityFromJson(entry)) nodes[name] = *identity;
  } catch (const json::exception&) {
    SLUICE_LOG(kWarning, "agent") << "ignoring an unreadable " << path("remote-nodes.json");
    return std::nullopt;
  }
  return nodes;
}

void AgentStateCache::saveRemoteNodes(const RemoteNodeMap& nodes) const {
  json saved = json::object();
  for (const auto& [name, identity] : nodes) saved[name] = identityToJson(identity);
  write("remote-nodes.json", saved.dump(1));
}

std::optional<CachedEgress> AgentStateCache::loadEgress() const {
  std::ifstream in(path("egress-flows.json"));
  if (!in) return std::nullopt;
  try {
    const auto saved = json::parse(in);
    CachedEgress egress{
        .integration = ownedFlowsFromJson(saved.at("integration"), kLegacyEgressOwner),
        .physical = ownedFlowsFromJson(saved.at("physical"), kLegacyEgressPhysicalOwner),
        .served = {}};
    for (const auto& ip : saved.at("served"))
      if (auto parsed = parseIpv4(ip.get<std::string>())) egress.served.insert(*parsed);
    return egress;
  } catch (const json::exception& error) {
    SLUICE_LOG(kWarning, "agent") << "ignoring an unreadable " << path("egress-flows.json") << ": "
                                  << error.what();
    return std::nullopt;
  }
}

void AgentStateCache::saveEgress(const CachedEgress& egress, const std::set<Ipv4>& held) {
  const auto text = json{{"integration", ownedFlowsToJson(egress.integration)},
                         {"physical", ownedFlowsToJson(egress.physical)},
                         {"held", ipsToJson(held)},
                         {"served", ipsToJson(egress.served)}}
                        .dump();
  if (text == savedEgress_) return;
  write("egress-flows.json", text);
  savedEgress_ = text;
}

}  // namespace sluice::agent
