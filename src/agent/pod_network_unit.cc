// The pod network unit (pod_network_unit.h).
#include "agent/pod_network_unit.h"

#include "common/log.h"

namespace sluice::agent {

std::string podOwner(const std::string& containerId, const std::string& ifName) {
  return "pod:" + containerId + "/" + ifName;
}

namespace {

LocalPodEntry entryOf(const PodAttachment& attachment, std::uint32_t ofport) {
  return LocalPodEntry{.pod = {podOwner(attachment.containerId, attachment.ifName), attachment.ip,
                               attachment.podMac, ofport},
                       .podNamespace = attachment.podNamespace,
                       .podName = attachment.podName};
}

}  // namespace

Result<void> PodNetworkUnit::setPodFlows(const LocalPodEntry& entry) {
  auto flows = features::podFlows(deps_.pipeline, deps_.network, entry.pod);
  if (!flows) return flows.error();
  return deps_.integration.setFlows(entry.pod.owner, *flows);
}

void PodNetworkUnit::restore() {
  // After an agent restart the pods are still there: their ports carry who they are.
  auto ports = deps_.ports.list();
  if (!ports) {
    SLUICE_LOG(kWarning, "agent") << "cannot read OVSDB to restore pods: " << ports.error().message;
    return;
  }
  for (const auto& port : *ports) {
    const auto entry = entryOf(port, static_cast<std::uint32_t>(port.ofport));
    auto flows = features::podFlows(deps_.pipeline, deps_.network, entry.pod);
    if (!flows) continue;
    setFlowsOrLog(deps_.integration, entry.pod.owner, *flows);
    pods_[entry.pod.owner] = entry;
  }
  SLUICE_LOG(kInfo, "agent") << "restored " << pods_.size() << " pods from OVSDB";
}

Result<int> PodNetworkUnit::attach(const PodAttachment& attachment) {
  auto ofport = deps_.ports.add(attachment);
  if (!ofport) return ofport.error();
  const auto entry = entryOf(attachment, *ofport);
  if (auto set = setPodFlows(entry); !set) return set.error();
  pods_[entry.pod.owner] = entry;
  deps_.onPodsChanged();
  if (auto synced = deps_.integration.sync(); !synced) return synced.error();
  return static_cast<int>(*ofport);
}

Result<void> PodNetworkUnit::detach(const PodAttachment& attachment) {
  const auto owner = podOwner(attachment.containerId, attachment.ifName);
  deps_.integration.deleteOwner(owner);
  pods_.erase(owner);
  deps_.onPodsChanged();
  if (auto synced = deps_.integration.sync(); !synced) return synced;
  return deps_.ports.remove(attachment.hostIfName);
}

}  // namespace sluice::agent
