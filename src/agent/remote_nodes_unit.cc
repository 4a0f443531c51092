// The remote nodes unit (remote_nodes_unit.h).
#include "agent/remote_nodes_unit.h"

#include "api/core.h"
#include "common/log.h"

namespace sluice::agent {
namespace {

constexpr const char* kNodeFlowsOwner = "node";

std::string ownerOf(const std::string& name) { return "node:" + name; }

}  // namespace

std::optional<NodeIdentity> remoteNodeIdentity(const nlohmann::json& node) {
  const auto decoded = api::Node::decode(node);
  const auto podCidr = decoded.podCidr();
  const auto nodeIp = decoded.internalIp();
  if (!podCidr || !nodeIp) return std::nullopt;
  return NodeIdentity{*nodeIp, *podCidr};
}

RemoteNodesUnit::RemoteNodesUnit(Dependencies dependencies)
    : deps_(dependencies),
      queue_(dependencies.loop, [this](const std::set<std::string>& names) { reconcile(names); }) {}

Result<void> RemoteNodesUnit::installNodeFlows() {
  deps_.network.clusterCidrs = {deps_.network.podCidr};
  auto flows = features::nodeFlows(deps_.pipeline, deps_.network);
  if (!flows) return flows.error();
  return deps_.integration.setFlows(kNodeFlowsOwner, *flows);
}

void RemoteNodesUnit::restoreFromCache() {
  auto cached = deps_.cache.loadRemoteNodes();
  if (!cached) return;
  apply(*cached);
  SLUICE_LOG(kInfo, "agent") << "restored " << cached->size()
                             << " remote nodes from the local cache";
}

void RemoteNodesUnit::watch(kube::Informer& nodes) {
  informer_ = &nodes;
  auto queue = [this](const kube::ObjectPtr& node) { queue_.add(kube::nameOf(*node)); };
  nodes.addHandlers(kube::EventHandlers{
      .onAdd = queue,
      .onUpdate = [queue](const kube::ObjectPtr&, const kube::ObjectPtr& node) { queue(node); },
      .onDelete = queue});
}

void RemoteNodesUnit::reconcileAll() {
  std::set<std::string> names;
  for (const auto& node : informer_->list()) names.insert(kube::nameOf(*node));
  for (const auto& [name, identity] : nodes_) names.insert(name);  // gone while we were away
  reconcile(names);
}

void RemoteNodesUnit::reconcile(const std::set<std::string>& names) {
  auto next = nodes_;
  for (const auto& name : names) {
    const auto object = informer_->get(name);
    const auto identity = object ? remoteNodeIdentity(*object) : std::nullopt;
    if (name == deps_.network.nodeName || !identity)
      next.erase(name);
    else
      next[name] = *identity;
  }
  const bool changed = next != nodes_;
  apply(next);
  if (changed) deps_.cache.saveRemoteNodes(nodes_);
  if (auto synced = deps_.integration.sync(); !synced)
    SLUICE_LOG(kWarning, "agent") << "sync: " << synced.error().message;
}

void RemoteNodesUnit::setNodeFlows(const std::string& name, const NodeIdentity& node) {
  features::RemoteNode remote{name, node.nodeIp, node.podCidr};
  auto flows = features::remoteNodeFlows(deps_.pipeline, deps_.network, remote);
  if (!flows) {
    SLUICE_LOG(kError, "agent") << "flows for node " << name << ": " << flows.error().message;
    return;
  }
  setFlowsOrLog(deps_.integration, ownerOf(name), *flows);
  deps_.host.resolveTunnelNeighbour(node.nodeIp);
  if (auto routed = deps_.host.ensurePodRoute(node.podCidr); !routed)
    SLUICE_LOG(kWarning, "agent") << "route to " << node.podCidr.toString() << ": "
                                  << routed.error().message;
}

void RemoteNodesUnit::apply(const RemoteNodeMap& nodes) {
  for (const auto& [name, node] : nodes_)
    if (!nodes.contains(name)) {
      deps_.integration.deleteOwner(ownerOf(name));
      deps_.host.forgetTunnelNeighbour(node.nodeIp);
    }
  for (const auto& [name, node] : nodes)
    if (!nodes_.contains(name) || nodes_.at(name) != node) setNodeFlows(name, node);
  nodes_ = nodes;
  std::vector<Cidr> cidrs = {deps_.network.podCidr};
  for (const auto& [name, node] : nodes) cidrs.push_back(node.podCidr);
  if (cidrs == deps_.network.clusterCidrs) return;
  deps_.network.clusterCidrs = cidrs;
  if (auto flows = features::nodeFlows(deps_.pipeline, deps_.network); flows)
    setFlowsOrLog(deps_.integration, kNodeFlowsOwner, *flows);
  else
    SLUICE_LOG(kError, "agent") << "node flows: " << flows.error().message;
}

}  // namespace sluice::agent
