// Remote nodes' neighbours for OVS's userspace tunnelling (tunnel_neighbours.h).
#include "agent/tunnel_neighbours.h"

#include <algorithm>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/netlink.h"
#include "common/log.h"

namespace sluice::agent {

Result<std::optional<Neighbour>> KernelNeighbourTable::lookup(Ipv4 nodeIp) {
  auto routes = netlink::listRoutes();
  if (!routes) return routes.error();
  // The most specific route to the node decides the next hop, as it does for OVS's own routing.
  const netlink::RouteInfo* best = nullptr;
  for (const auto& route : *routes)
    if (route.destination.contains(nodeIp) &&
        (best == nullptr || route.destination.prefix > best->destination.prefix))
      best = &route;
  const Ipv4 nextHop = best != nullptr && best->gateway ? *best->gateway : nodeIp;
  auto mac = netlink::neighbourMac(bridge_, nextHop);
  if (!mac) return mac.error();
  if (!*mac) return std::optional<Neighbour>();
  return std::optional<Neighbour>(Neighbour{nextHop, **mac});
}

void KernelNeighbourTable::probe(Ipv4 nodeIp) {
  // One empty datagram from the node's own stack makes the kernel ARP for the next hop. (UDP
  // discard port; nothing listens.)
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(9);
  peer.sin_addr.s_addr = htonl(nodeIp);
  (void)::sendto(fd, "", 0, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&peer), sizeof peer);
  ::close(fd);
}

bool TunnelNeighbours::resolved(Ipv4 nodeIp) const {
  const auto node = nodes_.find(nodeIp);
  return node != nodes_.end() && node->second.resolved;
}

void TunnelNeighbours::resolve(Ipv4 nodeIp) {
  auto& node = nodes_[nodeIp];
  node.resolved = false;
  node.nextRetry = options_.firstRetry;
  attempt(nodeIp);
}

void TunnelNeighbours::refreshAll() {
  for (auto& [ip, node] : nodes_) {
    node.resolved = false;
    node.nextRetry = options_.firstRetry;
  }
  for (const auto& [ip, node] : std::map<Ipv4, Node>(nodes_)) attempt(ip);
}

Result<void> TunnelNeighbours::handOver(Ipv4 nodeIp, Node& node) {
  auto neighbour = table_.lookup(nodeIp);
  std::optional<Neighbour> chosen;
  if (neighbour && *neighbour) {
    chosen = **neighbour;
  } else {
    // Not known to the kernel (yet, or no more: br-phy may have just been re-created): make it
    // ask, and meanwhile hand over what was known before, if anything.
    table_.probe(nodeIp);
    chosen = node.known;
  }
  if (!chosen)
    return makeError(neighbour ? std::string("the kernel has no neighbour for it yet")
                               : neighbour.error().message);
  auto set = control_.run("tnl/neigh/set",
                          {options_.bridge, formatIpv4(chosen->ip), chosen->mac.toString()});
  if (!set) return set.error();
  node.known = chosen;
  return {};
}

void TunnelNeighbours::attempt(Ipv4 nodeIp) {
  auto found = nodes_.find(nodeIp);
  if (found == nodes_.end() || found->second.resolved) return;  // forgotten, or done meanwhile
  auto& node = found->second;
  auto handed = handOver(nodeIp, node);
  if (handed) {
    node.resolved = true;
    return;
  }
  SLUICE_LOG(kDebug, "agent") << "tunnel neighbour of " << formatIpv4(nodeIp) << ": "
                              << handed.error().message << "; asking again";
  if (node.retryPending) return;
  node.retryPending = true;
  const auto delay = node.nextRetry;
  node.nextRetry = std::min(options_.maxRetry, node.nextRetry * 2);
  loop_.postAt(TaskLoop::Clock::now() + delay, [this, nodeIp] {
    if (auto again = nodes_.find(nodeIp); again != nodes_.end()) {
      again->second.retryPending = false;
      attempt(nodeIp);
    }
  });
}

}  // namespace sluice::agent
