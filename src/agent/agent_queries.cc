// The agent's answers to sluicectl's queries on its socket (cni/agent_query.h): what only this
// agent knows (its pods, its egress IPs, fencing, the pipeline) and its flows.
#include "agent/agent.h"
#include "agent/ovs_control.h"
#include "common/hash.h"
#include "ofrules/flow.h"
#include "ofrules/flow_stats.h"

namespace sluice::agent {
namespace {

using nlohmann::json;

std::string hexHash(std::string_view key) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx",
                static_cast<unsigned long long>(stableHash(key) & ofrules::Cookie::kOwnerMask));
  return text;
}

json ownerEntry(const std::string& key, const std::string& display) {
  return json{{"key", key}, {"display", display}, {"hash", hexHash(key)}};
}

}  // namespace

Result<json> Agent::answerQuery(const json& query) {
  if (!query.is_object() || !query.contains("kind") || !query["kind"].is_string())
    return makeError("a query needs a \"kind\": status, flows or services");
  const auto kind = query["kind"].get<std::string>();
  if (!ready_) return makeError("the agent is still starting; ask again in a moment");
  if (kind == "status") return loop_.call([this] { return statusAnswer(); });
  if (kind == "flows") {
    const auto bridge = query.value("bridge", config_.integrationBridge);
    return loop_.call([this, &bridge]() -> Result<json> {
      ofrules::FlowSyncer* syncer = bridge == config_.integrationBridge ? integrationSyncer_.get()
                                    : bridge == config_.physicalBridge  ? physicalSyncer_.get()
                                                                        : nullptr;
      if (syncer == nullptr)
        return makeError("unknown bridge " + bridge + "; use " + config_.integrationBridge +
                         (physicalSyncer_ ? " or " + config_.physicalBridge : std::string()));
      auto flows = syncer->dumpFlows();
      if (!flows) return flows.error();
      json list = json::array();
      for (const auto& flow : *flows)
        list.push_back(json{{"table", flow.table},
                            {"priority", flow.priority},
                            {"cookie", flow.cookie},
                            {"match", flow.match},
                            {"actions", flow.actions},
                            {"packets", flow.packets},
                            {"bytes", flow.bytes}});
      return json{{"bridge", bridge}, {"flows", list}};
    });
  }
  if (kind == "services")
    return loop_.call([this] {
      return servicesAnswer(serviceProxy_->services(), {.enabled = config_.proxy.enabled,
                                                        .serviceCidr = config_.proxy.serviceCidr});
    });
  return makeError("unknown query kind \"" + kind +
                   "\"; the agent answers status, flows and services");
}

json Agent::statusAnswer() const {
  json tables = json::array();
  for (const auto& table : pipeline_.tables()) {
    const auto& spec = ofrules::tableSpec(table.table);
    tables.push_back(json{{"id", table.id},
                          {"name", std::string(spec.name)},
                          {"stage", std::string(ofrules::stageName(spec.stage))},
                          {"features", table.features}});
  }
  json owners = json::array({ownerEntry("pipeline", "pipeline"), ownerEntry("gateway", "gateway"),
                             ownerEntry("tunnel", "tunnel"), ownerEntry("br-phy", "br-phy")});
  for (const auto& [name, node] : remoteNodes_->nodes())
    owners.push_back(ownerEntry("node:" + name, "node/" + name));
  owners.push_back(ownerEntry("proxy", "proxy"));
  for (const auto& [key, view] : serviceProxy_->services())
    owners.push_back(ownerEntry(features::serviceOwner(key), "service/" + key));
  const auto& lastInputs = egress_->lastInputs();
  json pods = json::array();
  for (const auto& [owner, local] : podNetwork_->pods()) {
    const auto& ns = local.podNamespace;
    const auto& name = local.podName;
    const auto& pod = local.pod;
    owners.push_back(ownerEntry(owner, "pod/" + (ns.empty() ? name : ns + "/" + name)));
    json entry = {{"namespace", ns},          {"name", name},   {"owner", owner},
                  {"ip", formatIpv4(pod.ip)}, {"mac", pod.mac}, {"ofport", pod.ofport},
                  {"egress", nullptr}};
    for (const auto& candidate : lastInputs.pods) {
      if (candidate.owner != owner) continue;
      if (const auto* policy = features::egressOf(lastInputs, candidate)) {
        json egress = {{"name", policy->name}};
        if (auto assignment = features::chooseAssignment(*policy, candidate)) {
          egress["ip"] = formatIpv4(assignment->ip);
          egress["node"] = assignment->node;
        }
        entry["egress"] = egress;
      }
    }
    pods.push_back(entry);
  }
  for (const auto& policy : lastInputs.policies) {
    owners.push_back(ownerEntry("egress:" + policy.name, "egress/" + policy.name));
    for (const auto& assignment : policy.assignments)
      owners.push_back(ownerEntry("egress-ip:" + formatIpv4(assignment.ip),
                                  "egress/" + policy.name + " ip " + formatIpv4(assignment.ip)));
  }
  json held = json::array();
  for (const auto ip : egress_->heldIps()) held.push_back(formatIpv4(ip));
  const auto fencing = fencing_->status();
  const json fencingView = {{"rule", fencing.rule},
                            {"leader", fencing.leader},
                            {"controllerReplicas", fencing.controllerTargets},
                            {"witnesses", fencing.witnesses},
                            {"witnessesReachable", fencing.witnessesReachable},
                            {"probesSent", fencing.probes.probesSent},
                            {"probeAcks", fencing.probes.acksReceived},
                            {"probesAnswered", fencing.probes.probesAnswered}};
  return json{{"node", config_.nodeName},
              {"nodeIP", formatIpv4(bootstrap_.network.nodeIp)},
              {"podCIDR", bootstrap_.network.podCidr.toString()},
              {"gatewayMAC", bootstrap_.network.gatewayMac},
              {"gatewayOfport", features::kGatewayOfPort},
              {"tunnelOfport", features::kTunnelOfPort},
              {"integrationBridge", config_.integrationBridge},
              {"physicalBridge", physicalSyncer_ ? config_.physicalBridge : ""},
              {"integrationTarget", config_.bridgeTarget(config_.integrationBridge)},
              {"ovsRunDir", config_.ovsRunDir},
              {"vswitchdControl", vswitchdControlPath(config_.ovsRunDir)},
              {"controllerAddress", fencing_->controllerAddress()},
              {"fenced", fencing_->fenced()},
              {"fencing", fencingView},
              {"heldEgressIPs", held},
              {"round", integrationSyncer_ ? integrationSyncer_->round() : 0},
              {"tables", tables},
              {"pods", pods},
              {"owners", owners}};
}

}  // namespace sluice::agent
