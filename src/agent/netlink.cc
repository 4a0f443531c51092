// rtnetlink helpers over libnl-3.
#include "agent/netlink.h"

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>

#include <fcntl.h>
#include <sched.h>

#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/neighbour.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>

namespace sluice::agent::netlink {
namespace {

struct SocketDeleter {
  void operator()(nl_sock* socket) const { nl_socket_free(socket); }
};
struct LinkDeleter {
  void operator()(rtnl_link* link) const { rtnl_link_put(link); }
};
struct AddrDeleter {
  void operator()(nl_addr* address) const { nl_addr_put(address); }
};
struct CacheDeleter {
  void operator()(nl_cache* cache) const { nl_cache_free(cache); }
};
using SocketPtr = std::unique_ptr<nl_sock, SocketDeleter>;
using LinkPtr = std::unique_ptr<rtnl_link, LinkDeleter>;
using AddrPtr = std::unique_ptr<nl_addr, AddrDeleter>;
using CachePtr = std::unique_ptr<nl_cache, CacheDeleter>;

std::string nlError(int code) { return nl_geterror(code); }

Result<SocketPtr> connectRoute() {
  SocketPtr socket(nl_socket_alloc());
  if (!socket) return makeError("netlink: out of memory");
  if (int error = nl_connect(socket.get(), NETLINK_ROUTE); error < 0)
    return makeError("netlink: cannot connect: " + nlError(error));
  return socket;
}

Result<LinkPtr> kernelLink(nl_sock* socket, const std::string& name) {
  rtnl_link* link = nullptr;
  if (int error = rtnl_link_get_kernel(socket, 0, name.c_str(), &link); error < 0)
    return makeError("interface " + name + ": " + nlError(error));
  return LinkPtr(link);
}

std::string addrText(nl_addr* address) {
  char buffer[64] = {};
  return address == nullptr ? std::string() : nl_addr2str(address, buffer, sizeof buffer);
}

LinkInfo describe(rtnl_link* link) {
  return LinkInfo{rtnl_link_get_name(link), rtnl_link_get_ifindex(link),
                  addrText(rtnl_link_get_addr(link)), static_cast<int>(rtnl_link_get_mtu(link)),
                  (rtnl_link_get_flags(link) & IFF_UP) != 0};
}

Result<AddrPtr> parse(const std::string& text, int family) {
  nl_addr* address = nullptr;
  if (int error = nl_addr_parse(text.c_str(), family, &address); error < 0)
    return makeError("bad address " + text + ": " + nlError(error));
  return AddrPtr(address);
}

Result<void> changeLink(const std::string& name, const std::function<void(rtnl_link*)>& edit,
                        const std::string& what) {
  auto socket = connectRoute();
  if (!socket) return socket.error();
  auto link = kernelLink(socket->get(), name);
  if (!link) return link.error();
  LinkPtr change(rtnl_link_alloc());
  edit(change.get());
  if (int error = rtnl_link_change(socket->get(), link->get(), change.get(), 0); error < 0)
    return makeError("cannot " + what + " on " + name + ": " + nlError(error));
  return {};
}

Result<void> changeAddress(const std::string& link, Ipv4 ip, int prefixLength, bool add) {
  auto socket = connectRoute();
  if (!socket) return socket.error();
  auto target = kernelLink(socket->get(), link);
  if (!target) return target.error();
  const auto text = formatIpv4(ip) + "/" + std::to_string(prefixLength);
  auto local = parse(text, AF_INET);
  if (!local) return local.error();
  std::unique_ptr<rtnl_addr, void (*)(rtnl_addr*)> address(rtnl_addr_alloc(), rtnl_addr_put);
  rtnl_addr_set_ifindex(address.get(), rtnl_link_get_ifindex(target->get()));
  rtnl_addr_set_local(address.get(), local->get());
  const int error = add ? rtnl_addr_add(socket->get(), address.get(), 0)
                        : rtnl_addr_delete(socket->get(), address.get(), 0);
  if (error < 0 && !(add && error == -NLE_EXIST) && !(!add && error == -NLE_NOADDR) &&
      !(!add && error == -NLE_OBJ_NOTFOUND))
    return makeError(std::string("cannot ") + (add ? "add " : "delete ") + text +
                     (add ? " to " : " from ") + link + ": " + nlError(error));
  return {};
}

}  // namespace

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> inNetns(const std::string& netnsPath, const std::function<Result<void>()>& work) {
  Result<void> result = makeError("netns " + netnsPath + ": not run");
  std::thread worker([&] {
    Fd target(::open(netnsPath.c_str(), O_RDONLY | O_CLOEXEC));
    if (target.get() < 0) {
      result = makeError("netns " + netnsPath + ": " + std::strerror(errno));
      return;
    }
    // The thread is thrown away afterwards, so it never has to switch back.
    if (::unshare(CLONE_FS) != 0 || ::setns(target.get(), CLONE_NEWNET) != 0) {
      result = makeError("cannot enter netns " + netnsPath + ": " + std::strerror(errno));
      return;
    }
    result = work();
  });
  worker.join();
  return result;
}

Result<LinkInfo> getLink(const std::string& name) {
  auto socket = connectRoute();
  if (!socket) return socket.error();
  auto link = kernelLink(socket->get(), name);
  if (!link) return link.error();
  return describe(link->get());
}

Result<std::vector<LinkInfo>> listLinks() {
  auto socket = connectRoute();
  if (!socket) return socket.error();
  nl_cache* raw = nullptr;
  if (int error = rtnl_link_alloc_cache(socket->get(), AF_UNSPEC, &raw); error < 0)
    return makeError("cannot list links: " + nlError(error));
  CachePtr cache(raw);
  std::vector<LinkInfo> links;
  for (nl_object* object = nl_cache_get_first(raw); object != nullptr;
       object = nl_cache_get_next(object))
    links.push_back(describe(reinterpret_cast<rtnl_link*>(object)));
  return links;
}

Result<std::vector<AddressInfo>> listAddresses() {
  auto socket = connectRoute();
  if (!socket) return socket.error();
  nl_cache* links = nullptr;
  nl_cache* addresses = nullptr;
  if (int error = rtnl_link_alloc_cache(socket->get(), AF_UNSPEC, &links); error < 0)
    return makeError("cannot list links: " + nlError(error));
  CachePtr linkCache(links);
  if (int error = rtnl_addr_alloc_cache(socket->get(), &addresses); error < 0)
    return makeError("cannot list addresses: " + nlError(error));
  CachePtr addressCache(addresses);
  std::vector<AddressInfo> out;
  for (nl_object* object = nl_cache_get_first(addresses); object != nullptr;
       object = nl_cache_get_next(object)) {
    auto* address = reinterpret_cast<rtnl_addr*>(object);
    if (rtnl_addr_get_family(address) != AF_INET) continue;
    nl_addr* local = rtnl_addr_get_local(address);
    if (local == nullptr || nl_addr_get_len(local) != 4) continue;
    Ipv4 ip = 0;
    std::memcpy(&ip, nl_addr_get_binary_addr(local), 4);
    char name[IFNAMSIZ] = {};
    rtnl_link_i2name(links, rtnl_addr_get_ifindex(address), name, sizeof name);
    out.push_back(AddressInfo{name, ntohl(ip), rtnl_addr_get_prefixlen(address)});
  }
  return out;
}

Result<std::vector<RouteInfo>> listRoutes() {
  auto socket = connectRoute();
  if (!socket) return socket.error();
  nl_cache* links = nullptr;
  nl_cache* routes = nullptr;
  if (int error = rtnl_link_alloc_cache(socket->get(), AF_UNSPEC, &links); error < 0)
    return makeError("cannot list links: " + nlError(error));
  CachePtr linkCache(links);
  if (int error = rtnl_route_alloc_cache(socket->get(), AF_INET, 0, &routes); error < 0)
    return makeError("cannot list routes: " + nlError(error));
  CachePtr routeCache(routes);
  std::vector<RouteInfo> out;
  for (nl_object* object = nl_cache_get_first(routes); object != nullptr;
       object = nl_cache_get_next(object)) {
    auto* route = reinterpret_cast<rtnl_route*>(object);
    if (rtnl_route_get_table(route) != RT_TABLE_MAIN) continue;
    RouteInfo info;
    nl_addr* destination = rtnl_route_get_dst(route);
    Ipv4 base = 0;
    if (destination != nullptr && nl_addr_get_len(destination) == 4)
      std::memcpy(&base, nl_addr_get_binary_addr(destination), 4);
    info.destination =
        Cidr{ntohl(base),
             destination == nullptr ? 0 : static_cast<int>(nl_addr_get_prefixlen(destination))};
    if (rtnl_route_get_nnexthops(route) > 0) {
      rtnl_nexthop* hop = rtnl_route_nexthop_n(route, 0);
      if (nl_addr* gateway = rtnl_route_nh_get_gateway(hop);
          gateway != nullptr && nl_addr_get_len(gateway) == 4) {
        Ipv4 via = 0;
        std::memcpy(&via, nl_addr_get_binary_addr(gateway), 4);
        info.gateway = ntohl(via);
      }
      char name[IFNAMSIZ] = {};
      rtnl_link_i2name(links, rtnl_route_nh_get_ifindex(hop), name, sizeof name);
      info.link = name;
    }
    out.push_back(info);
  }
  return out;
}

Result<std::optional<MacAddress>> neighbourMac(const std::string& link, Ipv4 ip) {
  auto socket = connectRoute();
  if (!socket) return socket.error();
  auto device = kernelLink(socket->get(), link);
  if (!device) return device.error();
  nl_cache* neighbours = nullptr;
  if (int error = rtnl_neigh_alloc_cache(socket->get(), &neighbours); error < 0)
    return makeError("cannot list neighbours: " + nlError(error));
  CachePtr cache(neighbours);
  auto address = parse(formatIpv4(ip), AF_INET);
  if (!address) return address.error();
  rtnl_neigh* neighbour =
      rtnl_neigh_get(neighbours, rtnl_link_get_ifindex(device->get()), address->get());
  if (neighbour == nullptr) return std::optional<MacAddress>();
  const int state = rtnl_neigh_get_state(neighbour);
  nl_addr* mac = rtnl_neigh_get_lladdr(neighbour);
  std::optional<MacAddress> found;
  constexpr int kUsable = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT;
  if ((state & kUsable) != 0 && mac != nullptr && nl_addr_get_len(mac) == 6)
    found = parseMac(addrText(mac));
  rtnl_neigh_put(neighbour);
  return found;
}

Result<void> setLinkUp(const std::string& name) {
  return changeLink(
      name, [](rtnl_link* change) { rtnl_link_set_flags(change, IFF_UP); }, "bring the link up");
}

Result<void> setMtu(const std::string& name, int mtu) {
  return changeLink(
      name, [mtu](rtnl_link* change) { rtnl_link_set_mtu(change, static_cast<unsigned>(mtu)); },
      "set MTU " + std::to_string(mtu));
}

Result<void> setMac(const std::string& name, const std::string& mac) {
  auto address = parse(mac, AF_LLC);
  if (!address) return address.error();
  return changeLink(
      name, [&](rtnl_link* change) { rtnl_link_set_addr(change, address->get()); },
      "set MAC " + mac);
}

Result<void> addAddress(const std::string& link, Ipv4 ip, int prefixLength) {
  return changeAddress(link, ip, prefixLength, true);
}

Result<void> deleteAddress(const std::string& link, Ipv4 ip, int prefixLength) {
  return changeAddress(link, ip, prefixLength, false);
}

namespace {

using RoutePtr = std::unique_ptr<rtnl_route, void (*)(rtnl_route*)>;

// The route of `info` through `link`, as both replace and delete send it.
Result<RoutePtr> routeOf(const RouteInfo& info, rtnl_link* link) {
  auto destination = parse(info.destination.toString(), AF_INET);
  if (!destination) return destination.error();
  RoutePtr route(rtnl_route_alloc(), rtnl_route_put);
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_dst(route.get(), destination->get());
  rtnl_nexthop* hop = rtnl_route_nh_alloc();
  rtnl_route_nh_set_ifindex(hop, rtnl_link_get_ifindex(link));
  if (info.gateway) {
    auto gateway = parse(formatIpv4(*info.gateway), AF_INET);
    if (!gateway) {
      rtnl_route_nh_free(hop);
      return gateway.error();
    }
    rtnl_route_nh_set_gateway(hop, gateway->get());
  }
  if (info.onlink) rtnl_route_nh_set_flags(hop, RTNH_F_ONLINK);
  rtnl_route_add_nexthop(route.get(), hop);
  return route;
}

}  // namespace

Result<void> replaceRoute(const RouteInfo& info) {
  auto socket = connectRoute();
  if (!socket) return socket.error();
  auto link = kernelLink(socket->get(), info.link);
  if (!link) return link.error();
  auto route = routeOf(info, link->get());
  if (!route) return route.error();
  if (int error = rtnl_route_add(socket->get(), route->get(), NLM_F_CREATE | NLM_F_REPLACE);
      error < 0)
    return makeError("cannot route " + info.destination.toString() + " via " + info.link + ": " +
                     nlError(error));
  return {};
}

Result<void> deleteRoute(const RouteInfo& info) {
  auto socket = connectRoute();
  if (!socket) return socket.error();
  auto device = kernelLink(socket->get(), info.link);
  if (!device) return {};  // no link, no route through it
  auto route = routeOf(info, device->get());
  if (!route) return route.error();
  if (int error = rtnl_route_delete(socket->get(), route->get(), 0);
      error < 0 && error != -NLE_OBJ_NOTFOUND)
    return makeError("cannot delete the route to " + info.destination.toString() + " via " +
                     info.link + ": " + nlError(error));
  return {};
}

Result<void> replaceNeighbour(const std::string& link, Ipv4 ip, const std::string& mac) {
  auto socket = connectRoute();
  if (!socket) return socket.error();
  auto device = kernelLink(socket->get(), link);
  if (!device) return device.error();
  auto address = parse(formatIpv4(ip), AF_INET);
  if (!address) return address.error();
  auto lladdr = parse(mac, AF_LLC);
  if (!lladdr) return lladdr.error();
  std::unique_ptr<rtnl_neigh, void (*)(rtnl_neigh*)> neighbour(rtnl_neigh_alloc(), rtnl_neigh_put);
  rtnl_neigh_set_ifindex(neighbour.get(), rtnl_link_get_ifindex(device->get()));
  rtnl_neigh_set_dst(neighbour.get(), address->get());
  rtnl_neigh_set_lladdr(neighbour.get(), lladdr->get());
  rtnl_neigh_set_state(neighbour.get(), NUD_PERMANENT);
  if (int error = rtnl_neigh_add(socket->get(), neighbour.get(), NLM_F_CREATE | NLM_F_REPLACE);
      error < 0)
    return makeError("cannot set the neighbour " + formatIpv4(ip) + " lladdr " + mac + " on " +
                     link + ": " + nlError(error));
  return {};
}

Result<void> deleteNeighbour(const std::string& link, Ipv4 ip) {
  auto socket = connectRoute();
  if (!socket) return socket.error();
  auto device = kernelLink(socket->get(), link);
  if (!device) return {};
  auto address = parse(formatIpv4(ip), AF_INET);
  if (!address) return address.error();
  std::unique_ptr<rtnl_neigh, void (*)(rtnl_neigh*)> neighbour(rtnl_neigh_alloc(), rtnl_neigh_put);
  rtnl_neigh_set_ifindex(neighbour.get(), rtnl_link_get_ifindex(device->get()));
  rtnl_neigh_set_dst(neighbour.get(), address->get());
  if (int error = rtnl_neigh_delete(socket->get(), neighbour.get(), 0);
      error < 0 && error != -NLE_OBJ_NOTFOUND)
    return makeError("cannot delete the neighbour " + formatIpv4(ip) + " on " + link + ": " +
                     nlError(error));
  return {};
}

Result<void> createVeth(const std::string& name, const std::string& peerName, int peerNetnsFd,
                        int mtu) {
  auto socket = connectRoute();
  if (!socket) return socket.error();
  LinkPtr veth(rtnl_link_veth_alloc());
  if (!veth) return makeError("netlink: out of memory");
  rtnl_link_set_name(veth.get(), name.c_str());
  rtnl_link_set_mtu(veth.get(), static_cast<unsigned>(mtu));
  rtnl_link* peer = rtnl_link_veth_get_peer(veth.get());
  rtnl_link_set_name(peer, peerName.c_str());
  rtnl_link_set_mtu(peer, static_cast<unsigned>(mtu));
  rtnl_link_set_ns_fd(peer, peerNetnsFd);
  const int added = rtnl_link_add(socket->get(), veth.get(), NLM_F_CREATE | NLM_F_EXCL);
  rtnl_link_put(peer);
  if (added < 0)
    return makeError("cannot create veth " + name + " <-> " + peerName + ": " + nlError(added));
  return {};
}

Result<void> deleteLink(const std::string& name) {
  auto socket = connectRoute();
  if (!socket) return socket.error();
  LinkPtr link(rtnl_link_alloc());
  rtnl_link_set_name(link.get(), name.c_str());
  const int error = rtnl_link_delete(socket->get(), link.get());
  if (error < 0 && error != -NLE_OBJ_NOTFOUND && error != -NLE_NODEV)
    return makeError("cannot delete interface " + name + ": " + nlError(error));
  return {};
}

Result<void> disableTxChecksum(const std::string& name) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return makeError(std::string("ethtool socket: ") + std::strerror(errno));
  ethtool_value value{};
  value.cmd = ETHTOOL_STXCSUM;
  ifreq request{};
  std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
  request.ifr_data = reinterpret_cast<char*>(&value);
  const int result = ::ioctl(fd, SIOCETHTOOL, &request);
  const int savedErrno = errno;
  ::close(fd);
  if (result < 0)
    return makeError("cannot turn tx checksum offload off on " + name + ": " +
                     std::strerror(savedErrno));
  return {};
}

}  // namespace sluice::agent::netlink
