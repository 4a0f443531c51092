// Pod IPAM implementation: a round-robin allocator over the podCIDR, persisted as JSON.
#include "agent/pod_ipam.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace sluice::agent {

Result<PodIpam> PodIpam::create(const std::string& podCidr) {
  const auto cidr = parseCidr(podCidr);
  if (!cidr)
    return makeError("podCIDR \"" + podCidr +
                     "\" is not an IPv4 CIDR; set the Node's spec.podCIDR");
  if (cidr->prefix > 30)
    return makeError("podCIDR " + podCidr +
                     " is too small: it needs room for a gateway and pods (/30 or larger)");
  PodIpam ipam(*cidr);
  ipam.next_ = ipam.gateway() + 1;
  return ipam;
}

std::size_t PodIpam::capacity() const {
  // Network, gateway and broadcast are not for pods.
  return static_cast<std::size_t>(cidr_.last() - cidr_.first() + 1) - 3;
}

std::optional<Ipv4> PodIpam::find(const std::string& containerId, const std::string& ifName) const {
  for (const auto& [ip, owner] : allocations_)
    if (owner.containerId == containerId && owner.ifName == ifName) return ip;
  return std::nullopt;
}

Result<Ipv4> PodIpam::allocate(const IpOwner& owner) {
  if (auto existing = find(owner.containerId, owner.ifName)) return *existing;
  const Ipv4 first = gateway() + 1;
  const Ipv4 last = cidr_.last() - 1;
  if (next_ < first || next_ > last) next_ = first;
  for (Ipv4 tried = 0, candidate = next_; tried <= last - first; ++tried) {
    if (!allocations_.contains(candidate)) {
      allocations_.emplace(candidate, owner);
      next_ = candidate == last ? first : candidate + 1;
      return candidate;
    }
    candidate = candidate == last ? first : candidate + 1;
  }
  return makeError("podCIDR " + cidr_.toString() + " is exhausted: all " +
                   std::to_string(capacity()) +
                   " pod IPs are in use; delete pods on this node or give it a larger podCIDR");
}

void PodIpam::release(const std::string& containerId, const std::string& ifName) {
  if (auto ip = find(containerId, ifName)) allocations_.erase(*ip);
}

std::vector<IpOwner> PodIpam::collectGarbage(const std::set<std::string>& liveContainers) {
  std::vector<IpOwner> freed;
  for (auto it = allocations_.begin(); it != allocations_.end();) {
    if (liveContainers.contains(it->second.containerId)) {
      ++it;
      continue;
    }
    freed.push_back(it->second);
    it = allocations_.erase(it);
  }
  return freed;
}

nlohmann::json PodIpam::toJson() const {
  nlohmann::json table = nlohmann::json::array();
  for (const auto& [ip, owner] : allocations_)
    table.push_back({{"ip", formatIpv4(ip)},
                     {"containerId", owner.containerId},
                     {"ifName", owner.ifName},
                     {"pod", owner.pod}});
  return {{"podCIDR", cidr_.toString()}, {"next", formatIpv4(next_)}, {"allocations", table}};
}

Result<PodIpam> PodIpam::fromJson(const std::string& podCidr, const nlohmann::json& saved) {
  auto ipam = create(podCidr);
  if (!ipam) return ipam;
  try {
    for (const auto& entry : saved.at("allocations")) {
      const auto ip = parseIpv4(entry.at("ip").get<std::string>());
      if (!ip || !ipam->cidr_.contains(*ip))
        return makeError("saved pod IP " + entry.at("ip").get<std::string>() +
                         " is outside podCIDR " + podCidr +
                         "; the node's podCIDR changed: drain the node and remove the IPAM file");
      ipam->allocations_.emplace(
          *ip, IpOwner{entry.at("containerId").get<std::string>(),
                       entry.at("ifName").get<std::string>(), entry.value("pod", std::string())});
    }
    if (auto next = parseIpv4(saved.value("next", std::string()))) ipam->next_ = *next;
  } catch (const nlohmann::json::exception& error) {
    return makeError(std::string("saved pod IPAM table is malformed: ") + error.what());
  }
  return ipam;
}

Result<PodIpam> loadPodIpam(const std::string& path, const std::string& podCidr) {
  std::ifstream in(path);
  if (!in) return PodIpam::create(podCidr);
  try {
    const auto saved = nlohmann::json::parse(in);
    auto ipam = PodIpam::fromJson(podCidr, saved);
    if (!ipam) return makeError(path + ": " + ipam.error().message);
    return ipam;
  } catch (const nlohmann::json::exception& error) {
    return makeError(path + ": not valid JSON (" + error.what() + "); fix or remove the file");
  }
}

Result<void> savePodIpam(const std::string& path, const PodIpam& ipam) {
  // Write a temporary file, fsync, rename: a crash leaves the old table or the new, never half.
  const std::string temporary = path + ".tmp";
  const std::string text = ipam.toJson().dump(1);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return makeError("cannot write " + temporary + ": " + std::strerror(errno));
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  if (!written || std::rename(temporary.c_str(), path.c_str()) != 0)
    return makeError("cannot save pod IPAM table to " + path + ": " + std::strerror(errno));
  return {};
}

}  // namespace sluice::agent
