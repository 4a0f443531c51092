// Pod ports in OVSDB (pod_ports.h). The port's external_ids carry who the pod is, so a restarted
// agent finds its pods again (list()).
#include "agent/pod_ports.h"

#include "common/log.h"

namespace sluice::agent {
namespace {

std::string idOr(const ovsdb::StringMap& ids, const std::string& key, const std::string& fallback) {
  const auto found = ids.find(key);
  return found == ids.end() ? fallback : found->second;
}

}  // namespace

void OvsdbPodPorts::removeQuietly(const std::string& hostIfName) {
  if (auto deleted = ovsdb_.deletePort(options_.bridge, hostIfName); !deleted)
    SLUICE_LOG(kWarning, "cni") << "cannot remove port " << hostIfName
                                << " after a failed attach: " << deleted.error().message;
}

Result<std::uint32_t> OvsdbPodPorts::add(const PodAttachment& attachment) {
  // Assigned field by field: GCC 12 misreads designated initializers of PortOptions' optional
  // members as maybe-uninitialized.
  ovsdb::PortOptions port;
  port.bridge = options_.bridge;
  port.name = attachment.hostIfName;
  port.type = ovsdb::PortType::kSystem;
  port.externalIds = {
      {"sluice-container-id", attachment.containerId},   {"sluice-if-name", attachment.ifName},
      {"sluice-pod-namespace", attachment.podNamespace}, {"sluice-pod-name", attachment.podName},
      {"sluice-pod-ip", formatIpv4(attachment.ip)},      {"sluice-pod-mac", attachment.podMac}};
  if (auto ensured = ovsdb_.ensurePort(port); !ensured) return ensured.error();
  auto ofport = ovsdb_.waitForOfport(attachment.hostIfName, options_.ofportWait);
  if (!ofport) {
    removeQuietly(attachment.hostIfName);
    return ofport.error();
  }
  if (options_.guard != nullptr) {
    if (auto guarded = options_.guard->guard(attachment.hostIfName); !guarded) {
      removeQuietly(attachment.hostIfName);
      return guarded.error();
    }
  }
  return static_cast<std::uint32_t>(*ofport);
}

Result<void> OvsdbPodPorts::remove(const std::string& hostIfName) {
  if (options_.guard != nullptr)
    if (auto unguarded = options_.guard->unguard(hostIfName); !unguarded)
      SLUICE_LOG(kWarning, "cni") << "ingress guard of " << hostIfName << ": "
                                  << unguarded.error().message;
  auto deleted = ovsdb_.deletePort(options_.bridge, hostIfName);
  if (!deleted) return deleted.error();
  return {};
}

Result<std::vector<PodAttachment>> OvsdbPodPorts::list() {
  auto snapshot = ovsdb_.readSnapshot();
  if (!snapshot) return snapshot.error();
  std::vector<PodAttachment> ports;
  for (const auto& interface : snapshot->interfaces) {
    const auto& ids = interface.externalIds;
    auto containerId = ids.find("sluice-container-id");
    if (containerId == ids.end() || !interface.ofport || *interface.ofport <= 0) continue;
    const auto ip = parseIpv4(idOr(ids, "sluice-pod-ip", ""));
    if (!ip) continue;
    PodAttachment port;
    port.containerId = containerId->second;
    port.ifName = idOr(ids, "sluice-if-name", "eth0");
    port.podNamespace = idOr(ids, "sluice-pod-namespace", "");
    port.podName = idOr(ids, "sluice-pod-name", "");
    port.hostIfName = interface.name;
    port.podMac = idOr(ids, "sluice-pod-mac", "");
    port.ip = *ip;
    port.ofport = static_cast<int>(*interface.ofport);
    ports.push_back(port);
  }
  return ports;
}

}  // namespace sluice::agent
