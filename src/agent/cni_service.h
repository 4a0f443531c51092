// CniService: the agent's side of sluice-cni. It turns an ADD/DEL/CHECK/STATUS/GC request into
// an IP from the podCIDR, a veth, an OVS port and the pod's flows, and undoes all of it on
// failure, so a failed ADD leaves no veth, port or IP behind.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "agent/pod_interface.h"
#include "agent/pod_ipam.h"
#include "cni/cni_protocol.h"
#include "common/result.h"

namespace sluice::agent {

// One pod attachment as the rest of the agent sees it.
struct PodAttachment {
  std::string containerId;
  std::string ifName;
  std::string podNamespace;
  std::string podName;
  std::string podUid;
  std::string hostIfName;
  std::string podMac;
  Ipv4 ip = 0;
  int ofport = 0;
};

// The veth side: real netlink in the agent, a fake in unit tests.
class InterfaceOps {
 public:
  virtual ~InterfaceOps() = default;
  virtual Result<PodInterface> create(const PodInterfaceSpec& spec) = 0;
  virtual Result<void> remove(const std::string& hostIfName) = 0;
  virtual Result<void> check(const PodInterfaceSpec& spec) = 0;
  virtual bool netnsExists(const std::string& path) = 0;
};

// The OVS side: adds the port with the pod's identity in external_ids and installs its flows.
class PodDatapath {
 public:
  virtual ~PodDatapath() = default;
  // Returns the ofport.
  virtual Result<int> attach(const PodAttachment& attachment) = 0;
  virtual Result<void> detach(const PodAttachment& attachment) = 0;
  // Whether OVS and the pipeline are ready to take pods (CNI STATUS).
  virtual Result<void> ready() = 0;
};

class NetlinkInterfaceOps : public InterfaceOps {
 public:
  Result<PodInterface> create(const PodInterfaceSpec& spec) override {
    return createPodInterface(spec);
  }
  Result<void> remove(const std::string& hostIfName) override {
    return deletePodInterface(hostIfName);
  }
  Result<void> check(const PodInterfaceSpec& spec) override { return checkPodInterface(spec); }
  bool netnsExists(const std::string& path) override { return agent::netnsExists(path); }
};

struct CniServiceOptions {
  std::string ipamStatePath;  // where allocations persist; empty keeps them in memory (tests)
  int mtu = 1450;
  bool disableTxChecksum = true;  // the netdev datapath needs it (docs/userspace-datapath.md)
};

class CniService {
 public:
  CniService(PodIpam ipam, InterfaceOps& interfaces, PodDatapath& datapath,
             CniServiceOptions options);

  using Response = std::variant<nlohmann::json, cni::CniError>;
  Response handle(const cni::Request& request);

  std::vector<PodAttachment> attachments() const;
  const PodIpam& ipam() const { return ipam_; }

 private:
  Response add(const cni::Request& request);
  Response del(const cni::Request& request);
  Response check(const cni::Request& request);
  Response gc(const cni::Request& request);
  Result<void> persist();
  PodInterfaceSpec interfaceSpec(const cni::Request& request, Ipv4 ip) const;
  static std::string key(const std::string& containerId, const std::string& ifName);

  mutable std::mutex mutex_;  // requests arrive on several connections at once
  PodIpam ipam_;
  InterfaceOps& interfaces_;
  PodDatapath& datapath_;
  CniServiceOptions options_;
  std::map<std::string, PodAttachment> attachments_;  // by key(containerId, ifName)
};

}  // namespace sluice::agent
