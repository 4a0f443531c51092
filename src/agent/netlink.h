// Small synchronous rtnetlink helpers over libnl-3 for the agent: links, addresses, routes.
// Each call opens its own socket, so it acts in the network namespace of the calling thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/ipv4.h"
#include "common/mac_address.h"
#include "common/result.h"

namespace sluice::agent::netlink {

// An owned file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Runs `work` on a fresh thread that has entered the network namespace at `netnsPath`. setns()
// switches only the calling thread, so the rest of the process stays where it is.
Result<void> inNetns(const std::string& netnsPath, const std::function<Result<void>()>& work);

struct LinkInfo {
  std::string name;
  int index = 0;
  std::string mac;
  int mtu = 0;
  bool up = false;
};

struct AddressInfo {
  std::string link;
  Ipv4 ip = 0;
  int prefixLength = 0;
};

struct RouteInfo {
  Cidr destination;
  std::optional<Ipv4> gateway;
  std::string link;
  bool onlink = false;  // the gateway is reachable on the link though no address covers it
};

Result<LinkInfo> getLink(const std::string& name);
Result<std::vector<LinkInfo>> listLinks();
Result<std::vector<AddressInfo>> listAddresses();
Result<std::vector<RouteInfo>> listRoutes();  // IPv4, main table

Result<void> setLinkUp(const std::string& name);
Result<void> setMtu(const std::string& name, int mtu);
Result<void> setMac(const std::string& name, const std::string& mac);
// Adding an address that is already there succeeds.
Result<void> addAddress(const std::string& link, Ipv4 ip, int prefixLength);
Result<void> deleteAddress(const std::string& link, Ipv4 ip, int prefixLength);
// The MAC the kernel has for `ip` on `link` (a usable neighbour entry); nothing while it has none.
Result<std::optional<MacAddress>> neighbourMac(const std::string& link, Ipv4 ip);
// Creates or replaces the route to `destination`.
Result<void> replaceRoute(const RouteInfo& route);
// Deletes the route as replaceRoute made it (destination, link, gateway, onlink); a missing route
// or link is fine.
Result<void> deleteRoute(const RouteInfo& route);
// Creates or replaces a permanent neighbour entry (ip lladdr MAC nud permanent).
Result<void> replaceNeighbour(const std::string& link, Ipv4 ip, const std::string& mac);
// Deletes the neighbour entry; a missing one (or a missing link) is fine.
Result<void> deleteNeighbour(const std::string& link, Ipv4 ip);

// Creates a veth pair; the peer goes straight into the namespace behind `peerNetnsFd`.
Result<void> createVeth(const std::string& name, const std::string& peerName, int peerNetnsFd,
                        int mtu);
// Deletes a link (for a veth, both ends); a missing link is fine.
Result<void> deleteLink(const std::string& name);

// Turns tx checksum offload off (ethtool), which the userspace datapath needs
// (docs/userspace-datapath.md).
Result<void> disableTxChecksum(const std::string& name);

}  // namespace sluice::agent::netlink
