// Pod interfaces: the veth pair between a node and a pod, made with netlink (libnl-3). The pod end
// gets its IP, default route, MTU and (on the userspace datapath) tx checksum offload off.
#pragma once

#include <string>

#include "common/ipv4.h"
#include "common/result.h"

namespace sluice::agent {

struct PodInterfaceSpec {
  std::string netnsPath;  // e.g. /run/netns/pod-1 or /proc/PID/ns/net
  std::string ifName = "eth0";
  std::string hostIfName;  // see hostInterfaceName()
  Ipv4 ip = 0;
  int prefixLength = 24;
  Ipv4 gateway = 0;
  int mtu = 1450;
  // docs/userspace-datapath.md: with OVS's userspace datapath, partial checksums cross AF_PACKET
  // unfinished.
  bool disableTxChecksum = true;
};

struct PodInterface {
  std::string hostIfName;
  std::string hostMac;
  std::string podMac;
  int hostIfIndex = 0;
};

// A stable host-side name for an attachment: "sl" + 12 hex digits of a hash of the identity.
std::string hostInterfaceName(const std::string& containerId, const std::string& ifName);

// Creates the pair and configures the pod side. On failure nothing is left behind.
Result<PodInterface> createPodInterface(const PodInterfaceSpec& spec);
// Deletes the pair through its host end; absent is fine (DEL is idempotent).
Result<void> deletePodInterface(const std::string& hostIfName);
// Checks that the pod side still has the expected IP (for CNI CHECK).
Result<void> checkPodInterface(const PodInterfaceSpec& spec);
// Whether a network namespace path exists and is a namespace.
bool netnsExists(const std::string& netnsPath);

}  // namespace sluice::agent
