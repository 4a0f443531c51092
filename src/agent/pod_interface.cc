// Pod interface plumbing over libnl-3. Work inside the pod's netns runs on a short-lived thread,
// because setns() switches only the calling thread and the agent's other threads must stay put.
#include "agent/pod_interface.h"

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>

#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

namespace sluice::agent {
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
using SocketPtr = std::unique_ptr<nl_sock, SocketDeleter>;
using LinkPtr = std::unique_ptr<rtnl_link, LinkDeleter>;
using AddrPtr = std::unique_ptr<nl_addr, AddrDeleter>;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string nlError(int code) { return nl_geterror(code); }

Result<SocketPtr> connectRoute() {
  SocketPtr socket(nl_socket_alloc());
  if (!socket) return makeError("netlink: out of memory");
  if (int error = nl_connect(socket.get(), NETLINK_ROUTE); error < 0)
    return makeError("netlink: cannot connect: " + nlError(error));
  return socket;
}

Result<LinkPtr> getLink(nl_sock* socket, const std::string& name) {
  rtnl_link* link = nullptr;
  if (int error = rtnl_link_get_kernel(socket, 0, name.c_str(), &link); error < 0)
    return makeError("interface " + name + ": " + nlError(error));
  return LinkPtr(link);
}

std::string macOf(rtnl_link* link) {
  char buffer[32] = {};
  nl_addr* address = rtnl_link_get_addr(link);
  return address == nullptr ? std::string() : nl_addr2str(address, buffer, sizeof buffer);
}

Result<AddrPtr> parseAddress(const std::string& text) {
  nl_addr* address = nullptr;
  if (int error = nl_addr_parse(text.c_str(), AF_INET, &address); error < 0)
    return makeError("bad address " + text + ": " + nlError(error));
  return AddrPtr(address);
}

Result<void> setUp(nl_sock* socket, rtnl_link* link) {
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int error = rtnl_link_change(socket, link, change.get(), 0); error < 0)
    return makeError(std::string("cannot bring ") + rtnl_link_get_name(link) + " up: " + nlError(error));
  return {};
}

Result<void> disableTxChecksum(const std::string& ifName) {
  Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return makeError(std::string("ethtool socket: ") + std::strerror(errno));
  ethtool_value value{};
  value.cmd = ETHTOOL_STXCSUM;
  value.data = 0;
  ifreq request{};
  std::strncpy(request.ifr_name, ifName.c_str(), IFNAMSIZ - 1);
  request.ifr_data = reinterpret_cast<char*>(&value);
  if (::ioctl(fd.get(), SIOCETHTOOL, &request) < 0)
    return makeError("cannot turn tx checksum offload off on " + ifName + ": " + std::strerror(errno));
  return {};
}

// Runs `work` on a fresh thread that has entered `netnsPath`.
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

Result<std::string> configurePodSide(const PodInterfaceSpec& spec) {
  std::string podMac;
  auto configured = inNetns(spec.netnsPath, [&]() -> Result<void> {
    auto socket = connectRoute();
    if (!socket) return socket.error();
    if (auto loopback = getLink(socket->get(), "lo"); loopback.ok()) {
      if (auto up = setUp(socket->get(), loopback->get()); !up) return up.error();
    }
    auto link = getLink(socket->get(), spec.ifName);
    if (!link) return link.error();
    podMac = macOf(link->get());
    const int index = rtnl_link_get_ifindex(link->get());

    auto local = parseAddress(formatIpv4(spec.ip) + "/" + std::to_string(spec.prefixLength));
    if (!local) return local.error();
    std::unique_ptr<rtnl_addr, void (*)(rtnl_addr*)> address(rtnl_addr_alloc(), rtnl_addr_put);
    rtnl_addr_set_ifindex(address.get(), index);
    rtnl_addr_set_local(address.get(), local->get());
    if (int error = rtnl_addr_add(socket->get(), address.get(), 0); error < 0)
      return makeError("cannot add " + formatIpv4(spec.ip) + " to " + spec.ifName + ": " + nlError(error));
    if (auto up = setUp(socket->get(), link->get()); !up) return up.error();

    auto destination = parseAddress("0.0.0.0/0");
    auto gateway = parseAddress(formatIpv4(spec.gateway));
    if (!destination) return destination.error();
    if (!gateway) return gateway.error();
    std::unique_ptr<rtnl_route, void (*)(rtnl_route*)> route(rtnl_route_alloc(), rtnl_route_put);
    rtnl_route_set_family(route.get(), AF_INET);
    rtnl_route_set_dst(route.get(), destination->get());
    rtnl_nexthop* hop = rtnl_route_nh_alloc();
    rtnl_route_nh_set_gateway(hop, gateway->get());
    rtnl_route_nh_set_ifindex(hop, index);
    rtnl_route_add_nexthop(route.get(), hop);  // the route owns the hop from here
    if (int error = rtnl_route_add(socket->get(), route.get(), NLM_F_CREATE | NLM_F_REPLACE); error < 0)
      return makeError("cannot add the default route via " + formatIpv4(spec.gateway) + ": " + nlError(error));
    if (spec.disableTxChecksum) return disableTxChecksum(spec.ifName);
    return {};
  });
  if (!configured) return configured.error();
  return podMac;
}

}  // namespace

std::string hostInterfaceName(const std::string& containerId, const std::string& ifName) {
  // FNV-1a: stable across runs and builds, unlike std::hash.
  std::uint64_t hash = 1469598103934665603ull;
  for (char c : containerId + "/" + ifName) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  char name[16];
  std::snprintf(name, sizeof name, "sl%012llx", static_cast<unsigned long long>(hash & 0xffffffffffffull));
  return name;
}

bool netnsExists(const std::string& netnsPath) {
  struct stat info {};
  return !netnsPath.empty() && ::stat(netnsPath.c_str(), &info) == 0;
}

Result<PodInterface> createPodInterface(const PodInterfaceSpec& spec) {
  if (!netnsExists(spec.netnsPath))
    return makeError("netns " + spec.netnsPath + " does not exist; the container is gone or the runtime passed a wrong CNI_NETNS");
  auto socket = connectRoute();
  if (!socket) return socket.error();
  Fd netns(::open(spec.netnsPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (netns.get() < 0) return makeError("netns " + spec.netnsPath + ": " + std::strerror(errno));

  // A leftover from a crashed ADD with the same identity is replaced, not reported.
  (void)deletePodInterface(spec.hostIfName);
  LinkPtr veth(rtnl_link_veth_alloc());
  if (!veth) return makeError("netlink: out of memory");
  rtnl_link_set_name(veth.get(), spec.hostIfName.c_str());
  rtnl_link_set_mtu(veth.get(), static_cast<unsigned>(spec.mtu));
  rtnl_link* peer = rtnl_link_veth_get_peer(veth.get());
  rtnl_link_set_name(peer, spec.ifName.c_str());
  rtnl_link_set_mtu(peer, static_cast<unsigned>(spec.mtu));
  rtnl_link_set_ns_fd(peer, netns.get());
  const int added = rtnl_link_add(socket->get(), veth.get(), NLM_F_CREATE | NLM_F_EXCL);
  rtnl_link_put(peer);
  if (added < 0)
    return makeError("cannot create veth " + spec.hostIfName + " <-> " + spec.ifName + ": " + nlError(added));

  auto cleanup = [&](const Error& error) -> Result<PodInterface> {
    (void)deletePodInterface(spec.hostIfName);
    return error;
  };
  auto host = getLink(socket->get(), spec.hostIfName);
  if (!host) return cleanup(host.error());
  if (auto up = setUp(socket->get(), host->get()); !up) return cleanup(up.error());
  if (spec.disableTxChecksum) {
    if (auto off = disableTxChecksum(spec.hostIfName); !off) return cleanup(off.error());
  }
  auto podMac = configurePodSide(spec);
  if (!podMac) return cleanup(podMac.error());
  return PodInterface{spec.hostIfName, macOf(host->get()), *podMac, rtnl_link_get_ifindex(host->get())};
}

Result<void> deletePodInterface(const std::string& hostIfName) {
  auto socket = connectRoute();
  if (!socket) return socket.error();
  LinkPtr link(rtnl_link_alloc());
  rtnl_link_set_name(link.get(), hostIfName.c_str());
  const int error = rtnl_link_delete(socket->get(), link.get());
  if (error < 0 && error != -NLE_OBJ_NOTFOUND && error != -NLE_NODEV)
    return makeError("cannot delete interface " + hostIfName + ": " + nlError(error));
  return {};
}

Result<void> checkPodInterface(const PodInterfaceSpec& spec) {
  if (!netnsExists(spec.netnsPath)) return makeError("netns " + spec.netnsPath + " does not exist");
  return inNetns(spec.netnsPath, [&]() -> Result<void> {
    auto socket = connectRoute();
    if (!socket) return socket.error();
    auto link = getLink(socket->get(), spec.ifName);
    if (!link) return link.error();
    nl_cache* cache = nullptr;
    if (int error = rtnl_addr_alloc_cache(socket->get(), &cache); error < 0)
      return makeError("cannot list addresses: " + nlError(error));
    bool found = false;
    const int index = rtnl_link_get_ifindex(link->get());
    for (nl_object* object = nl_cache_get_first(cache); object != nullptr; object = nl_cache_get_next(object)) {
      auto* address = reinterpret_cast<rtnl_addr*>(object);
      if (rtnl_addr_get_ifindex(address) != index || rtnl_addr_get_family(address) != AF_INET) continue;
      char buffer[64] = {};
      const std::string text = nl_addr2str(rtnl_addr_get_local(address), buffer, sizeof buffer);
      if (text == formatIpv4(spec.ip) + "/" + std::to_string(spec.prefixLength)) found = true;
    }
    nl_cache_free(cache);
    if (!found)
      return makeError(spec.ifName + " in " + spec.netnsPath + " no longer has " + formatIpv4(spec.ip));
    return {};
  });
}

}  // namespace sluice::agent
