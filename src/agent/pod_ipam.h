// Pod IPAM: hands out pod IPs from the node's podCIDR. The allocation table is plain data that
// the agent persists after every change, so allocations survive an agent restart without double
// allocation, and a garbage collection pass frees what no live container holds.
#pragma once

#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "common/ipv4.h"
#include "common/result.h"

namespace sluice::agent {

// Who holds an IP: the CNI identity of the attachment plus the pod, for people.
struct IpOwner {
  std::string containerId;
  std::string ifName;
  std::string pod;  // "namespace/name", may be empty (podman)
  bool operator==(const IpOwner&) const = default;
};

class PodIpam {
 public:
  // The first host address is the gateway; network and broadcast addresses are never handed out.
  static Result<PodIpam> create(const std::string& podCidr);

  // Idempotent per (containerId, ifName): a repeated ADD gets the same IP back.
  Result<Ipv4> allocate(const IpOwner& owner);
  // Frees the owner's IP; freeing what is not allocated is fine (DEL is idempotent).
  void release(const std::string& containerId, const std::string& ifName);
  // Frees every allocation whose container is not in `liveContainers`; returns what it freed.
  std::vector<IpOwner> collectGarbage(const std::set<std::string>& liveContainers);

  std::optional<Ipv4> find(const std::string& containerId, const std::string& ifName) const;
  const std::map<Ipv4, IpOwner>& allocations() const { return allocations_; }
  Ipv4 gateway() const { return cidr_.first() + 1; }
  const Cidr& cidr() const { return cidr_; }
  std::size_t capacity() const;

  nlohmann::json toJson() const;
  // Restores a saved table; entries outside the CIDR are an error (the podCIDR changed).
  static Result<PodIpam> fromJson(const std::string& podCidr, const nlohmann::json& saved);

 private:
  explicit PodIpam(Cidr cidr) : cidr_(cidr) {}
  Cidr cidr_;
  std::map<Ipv4, IpOwner> allocations_;
  Ipv4 next_ = 0;  // round-robin cursor, so a freed IP is not reused at once
};

// Persistence shell: load the table from a file (absent file = empty) and save it atomically.
Result<PodIpam> loadPodIpam(const std::string& path, const std::string& podCidr);
Result<void> savePodIpam(const std::string& path, const PodIpam& ipam);

}  // namespace sluice::agent
