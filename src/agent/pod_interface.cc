// Pod interface plumbing over libnl-3. Work inside the pod's netns runs on a short-lived thread,
// because setns() switches only the calling thread and the agent's other threads must stay put.
#include "agent/pod_interface.h"

#include "agent/netlink.h"
#include "common/hash.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sluice::agent {
namespace {

Result<std::string> configurePodSide(const PodInterfaceSpec& spec) {
  std::string podMac;
  auto configured = netlink::inNetns(spec.netnsPath, [&]() -> Result<void> {
    (void)netlink::setLinkUp("lo");
    auto link = netlink::getLink(spec.ifName);
    if (!link) return link.error();
    podMac = link->mac;
    if (auto added = netlink::addAddress(spec.ifName, spec.ip, spec.prefixLength); !added)
      return added;
    if (auto up = netlink::setLinkUp(spec.ifName); !up) return up;
    auto routed = netlink::replaceRoute(netlink::RouteInfo{Cidr{0, 0}, spec.gateway, spec.ifName});
    if (!routed) return routed;
    if (spec.disableTxChecksum) return netlink::disableTxChecksum(spec.ifName);
    return {};
  });
  if (!configured) return configured.error();
  return podMac;
}

}  // namespace

std::string hostInterfaceName(const std::string& containerId, const std::string& ifName) {
  const std::uint64_t hash = stableHash(containerId + "/" + ifName);
  char name[16];
  std::snprintf(name, sizeof name, "sl%012llx",
                static_cast<unsigned long long>(hash & 0xffffffffffffull));
  return name;
}

bool netnsExists(const std::string& netnsPath) {
  struct stat info {};
  return !netnsPath.empty() && ::stat(netnsPath.c_str(), &info) == 0;
}

Result<PodInterface> createPodInterface(const PodInterfaceSpec& spec) {
  if (!netnsExists(spec.netnsPath))
    return makeError(
        "netns " + spec.netnsPath +
        " does not exist; the container is gone or the runtime passed a wrong CNI_NETNS");
  netlink::Fd netns(::open(spec.netnsPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (netns.get() < 0) return makeError("netns " + spec.netnsPath + ": " + std::strerror(errno));
  // A leftover from a crashed ADD with the same identity is replaced, not reported.
  (void)netlink::deleteLink(spec.hostIfName);
  if (auto created = netlink::createVeth(spec.hostIfName, spec.ifName, netns.get(), spec.mtu);
      !created)
    return created.error();

  auto cleanup = [&](const Error& error) -> Result<PodInterface> {
    (void)deletePodInterface(spec.hostIfName);
    return error;
  };
  if (auto up = netlink::setLinkUp(spec.hostIfName); !up) return cleanup(up.error());
  if (spec.disableTxChecksum) {
    if (auto off = netlink::disableTxChecksum(spec.hostIfName); !off) return cleanup(off.error());
  }
  auto host = netlink::getLink(spec.hostIfName);
  if (!host) return cleanup(host.error());
  auto podMac = configurePodSide(spec);
  if (!podMac) return cleanup(podMac.error());
  return PodInterface{spec.hostIfName, host->mac, *podMac, host->index};
}

Result<void> deletePodInterface(const std::string& hostIfName) {
  return netlink::deleteLink(hostIfName);
}

Result<void> checkPodInterface(const PodInterfaceSpec& spec) {
  if (!netnsExists(spec.netnsPath)) return makeError("netns " + spec.netnsPath + " does not exist");
  return netlink::inNetns(spec.netnsPath, [&]() -> Result<void> {
    auto addresses = netlink::listAddresses();
    if (!addresses) return addresses.error();
    for (const auto& address : *addresses)
      if (address.link == spec.ifName && address.ip == spec.ip &&
          address.prefixLength == spec.prefixLength)
        return {};
    return makeError(spec.ifName + " in " + spec.netnsPath + " no longer has " +
                     formatIpv4(spec.ip));
  });
}

}  // namespace sluice::agent
