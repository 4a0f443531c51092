// CniService implementation: every step of ADD has its undo, run in reverse on failure.
#include "agent/cni_service.h"

#include <vector>

#include "common/log.h"

namespace sluice::agent {
namespace {

using cni::CniError;
using cni::ErrorCode;

CniError ioError(const std::string& what, const Error& error) {
  return CniError{ErrorCode::kIoFailure, what, error.message};
}

}  // namespace

CniService::CniService(PodIpam ipam, InterfaceOps& interfaces, PodDatapath& datapath,
                       CniServiceOptions options)
    : ipam_(std::move(ipam)),
      interfaces_(interfaces),
      datapath_(datapath),
      options_(std::move(options)) {}

std::string CniService::key(const std::string& containerId, const std::string& ifName) {
  return containerId + "/" + ifName;
}

std::vector<PodAttachment> CniService::attachments() const {
  std::lock_guard lock(mutex_);
  std::vector<PodAttachment> out;
  for (const auto& [key, attachment] : attachments_) out.push_back(attachment);
  return out;
}

Result<void> CniService::persist() {
  if (options_.ipamStatePath.empty()) return {};
  return savePodIpam(options_.ipamStatePath, ipam_);
}

PodInterfaceSpec CniService::interfaceSpec(const cni::Request& request, Ipv4 ip) const {
  PodInterfaceSpec spec;
  spec.netnsPath = request.netns;
  spec.ifName = request.ifName;
  spec.hostIfName = hostInterfaceName(request.containerId, request.ifName);
  spec.ip = ip;
  spec.prefixLength = ipam_.cidr().prefix;
  spec.gateway = ipam_.gateway();
  spec.mtu = options_.mtu;
  spec.disableTxChecksum = options_.disableTxChecksum;
  return spec;
}

CniService::Response CniService::handle(const cni::Request& request) {
  std::lock_guard lock(mutex_);
  switch (request.command) {
    case cni::Command::kAdd: return add(request);
    case cni::Command::kDel: return del(request);
    case cni::Command::kCheck: return check(request);
    case cni::Command::kGc: return gc(request);
    case cni::Command::kStatus:
      if (auto ready = datapath_.ready(); !ready)
        return CniError{ErrorCode::kPluginNotAvailable, "sluice-agent is not ready for pods",
                        ready.error().message};
      return nlohmann::json::object();
    case cni::Command::kVersion: return cni::renderVersion(request.cniVersion);
  }
  return CniError{ErrorCode::kInvalidEnvironment, "unknown command", ""};
}

CniService::Response CniService::add(const cni::Request& request) {
  if (!interfaces_.netnsExists(request.netns))
    return CniError{
        ErrorCode::kContainerUnknown, "netns " + request.netns + " does not exist",
        "the container is gone or the runtime passed a wrong CNI_NETNS; nothing was changed"};
  const auto pod = request.podNamespace().empty()
                       ? request.podName()
                       : request.podNamespace() + "/" + request.podName();
  auto ip = ipam_.allocate(IpOwner{request.containerId, request.ifName, pod});
  if (!ip)
    return CniError{ErrorCode::kTryAgainLater, "no pod IP is free on this node",
                    ip.error().message};
  std::vector<std::function<void()>> undo;
  auto rollback = [&](CniError error) -> Response {
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) (*it)();
    ipam_.release(request.containerId, request.ifName);
    if (auto saved = persist(); !saved)
      SLUICE_LOG(kWarning, "cni") << "cannot record the released pod IP: " << saved.error().message;
    SLUICE_LOG(kWarning, "cni") << "ADD " << request.containerId << " failed: " << error.message
                                << ": " << error.details;
    return error;
  };
  if (auto saved = persist(); !saved)
    return rollback(ioError("cannot record the pod IP", saved.error()));

  const auto spec = interfaceSpec(request, *ip);
  auto interface = interfaces_.create(spec);
  if (!interface) return rollback(ioError("cannot create the pod interface", interface.error()));
  undo.push_back([&] {
    if (auto removed = interfaces_.remove(spec.hostIfName); !removed)
      SLUICE_LOG(kWarning, "cni") << "undoing ADD: " << removed.error().message;
  });

  PodAttachment attachment{request.containerId,
                           request.ifName,
                           request.podNamespace(),
                           request.podName(),
                           request.podUid(),
                           spec.hostIfName,
                           interface->podMac,
                           *ip,
                           0};
  auto ofport = datapath_.attach(attachment);
  if (!ofport) return rollback(ioError("cannot attach the pod to OVS", ofport.error()));
  attachment.ofport = *ofport;
  attachments_[key(request.containerId, request.ifName)] = attachment;

  cni::AddResult result;
  result.interfaces = {{spec.hostIfName, interface->hostMac, ""},
                       {request.ifName, interface->podMac, request.netns}};
  result.ips = {
      {formatIpv4(*ip) + "/" + std::to_string(spec.prefixLength), formatIpv4(spec.gateway), 1}};
  result.routes = {{"0.0.0.0/0", formatIpv4(spec.gateway)}};
  SLUICE_LOG(kInfo, "cni") << "ADD " << pod << " " << request.containerId << " -> "
                           << formatIpv4(*ip) << " port " << spec.hostIfName << " ofport "
                           << *ofport;
  return cni::renderResult(result, request.cniVersion);
}

CniService::Response CniService::del(const cni::Request& request) {
  // Idempotent, and works without a netns or a prevResult: everything is found by identity.
  const auto hostIfName = hostInterfaceName(request.containerId, request.ifName);
  auto found = attachments_.find(key(request.containerId, request.ifName));
  PodAttachment attachment = found != attachments_.end() ? found->second
                                                         : PodAttachment{request.containerId,
                                                                         request.ifName,
                                                                         request.podNamespace(),
                                                                         request.podName(),
                                                                         request.podUid(),
                                                                         hostIfName,
                                                                         "",
                                                                         0,
                                                                         0};
  if (auto detached = datapath_.detach(attachment); !detached)
    return ioError("cannot detach the pod from OVS", detached.error());
  if (auto removed = interfaces_.remove(hostIfName); !removed)
    return ioError("cannot delete the pod interface", removed.error());
  if (found != attachments_.end()) attachments_.erase(found);
  ipam_.release(request.containerId, request.ifName);
  if (auto saved = persist(); !saved)
    return ioError("cannot record the freed pod IP", saved.error());
  SLUICE_LOG(kInfo, "cni") << "DEL " << request.containerId << " " << hostIfName;
  return nlohmann::json::object();
}

CniService::Response CniService::check(const cni::Request& request) {
  auto ip = ipam_.find(request.containerId, request.ifName);
  if (!ip)
    return CniError{ErrorCode::kContainerUnknown,
                    "no pod IP is recorded for " + request.containerId,
                    "ADD was never run for this container, or DEL already removed it"};
  if (auto checked = interfaces_.check(interfaceSpec(request, *ip)); !checked)
    return ioError("the pod interface is not as ADD left it", checked.error());
  return nlohmann::json::object();
}

CniService::Response CniService::gc(const cni::Request& request) {
  // CNI 1.1 GC: "cni.dev/valid-attachments" lists what the runtime still has; free the rest.
  std::set<std::string> live;
  if (request.config.contains("cni.dev/valid-attachments"))
    for (const auto& entry : request.config["cni.dev/valid-attachments"])
      live.insert(entry.value("containerID", std::string()));
  for (const auto& owner : ipam_.collectGarbage(live)) {
    const auto hostIfName = hostInterfaceName(owner.containerId, owner.ifName);
    auto found = attachments_.find(key(owner.containerId, owner.ifName));
    if (found != attachments_.end()) {
      if (auto detached = datapath_.detach(found->second); !detached)
        SLUICE_LOG(kWarning, "cni")
            << "GC of " << owner.containerId << ": " << detached.error().message;
      attachments_.erase(found);
    }
    if (auto removed = interfaces_.remove(hostIfName); !removed)
      SLUICE_LOG(kWarning, "cni") << "GC of " << owner.containerId << ": "
                                  << removed.error().message;
    SLUICE_LOG(kInfo, "cni") << "GC freed " << owner.containerId << " (" << owner.pod << ")";
  }
  if (auto saved = persist(); !saved) return ioError("cannot record freed pod IPs", saved.error());
  return nlohmann::json::object();
}

}  // namespace sluice::agent
