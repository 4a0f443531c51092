// Node bootstrap: OVSDB for bridges and ports, netlink for addresses and routes, sysctls.
#include "agent/node_bootstrap.h"

#include <chrono>
#include <fstream>

#include "agent/netlink.h"
#include "common/log.h"

namespace sluice::agent {
namespace {

using namespace std::chrono_literals;
using features::kGatewayOfPort;
using features::kPatchOfPort;
using features::kPhyPatchOfPort;
using features::kTunnelOfPort;
using features::kUplinkOfPort;

constexpr const char* kPhyPatchName = "patch-int";
constexpr const char* kIntPatchName = "patch-phy";

ovsdb::DatapathType datapathOf(const AgentConfig& config) {
  return config.datapathType == DatapathType::kNetdev ? ovsdb::DatapathType::kNetdev
                                                      : ovsdb::DatapathType::kSystem;
}

Result<void> writeSysctl(const std::string& key, const std::string& value) {
  std::string path = "/proc/sys/" + key;
  for (auto& c : path)
    if (c == '.') c = '/';
  std::ofstream out(path);
  if (!(out << value))
    return makeError("cannot set sysctl " + key + "=" + value + " (" + path + ")");
  return {};
}

// The interface that holds `ip`, if any.
Result<std::optional<netlink::AddressInfo>> findAddress(Ipv4 ip) {
  auto addresses = netlink::listAddresses();
  if (!addresses) return addresses.error();
  for (const auto& address : *addresses)
    if (address.ip == ip) return std::optional<netlink::AddressInfo>(address);
  return std::optional<netlink::AddressInfo>();
}

// Moves the node IP (and routes through the uplink) from the uplink to br-phy, so OVS's userspace
// tunnelling can route and ARP through br-phy (docs/userspace-datapath.md).
Result<void> moveNodeIpToPhysicalBridge(const AgentConfig& config,
                                        const netlink::AddressInfo& address) {
  auto routes = netlink::listRoutes();
  if (!routes) return routes.error();
  if (auto added = netlink::addAddress(config.physicalBridge, address.ip, address.prefixLength);
      !added)
    return added;
  if (auto removed = netlink::deleteAddress(address.link, address.ip, address.prefixLength);
      !removed)
    return removed;
  for (const auto& route : *routes) {
    if (route.link != address.link || !route.gateway)
      continue;  // connected routes moved with the address
    auto moved = route;
    moved.link = config.physicalBridge;
    if (auto replaced = netlink::replaceRoute(moved); !replaced) return replaced;
  }
  SLUICE_LOG(kInfo, "bootstrap") << "moved " << formatIpv4(address.ip) << "/"
                                 << address.prefixLength << " from " << address.link << " to "
                                 << config.physicalBridge;
  return {};
}

Result<std::string> setUpPhysicalBridge(const AgentConfig& config, const NodeIdentity& identity,
                                        ovsdb::OvsdbClient& ovsdb, IngressGuard& guard) {
  // The uplink: configured, or the interface holding the node IP, or the one br-phy already has.
  // Absent on the first start, when br-phy does not exist yet.
  auto bridgeUplink =
      ovsdb.getExternalId(ovsdb::RecordRef::bridge(config.physicalBridge), "sluice-uplink");
  if (!bridgeUplink) bridgeUplink = std::optional<std::string>();
  auto holder = findAddress(identity.nodeIp);
  if (!holder) return holder.error();
  std::string uplink = config.uplinkInterface;
  if (uplink.empty() && bridgeUplink->has_value()) uplink = **bridgeUplink;
  if (uplink.empty() && holder->has_value() && (*holder)->link != config.physicalBridge)
    uplink = (*holder)->link;
  if (uplink.empty())
    return makeError("cannot find the uplink: no interface holds the node IP " +
                     formatIpv4(identity.nodeIp) + "; set transportInterface in sluice-agent.conf");
  auto link = netlink::getLink(uplink);
  if (!link) return makeError("uplink " + uplink + ": " + link.error().message);

  ovsdb::BridgeOptions bridge{
      .name = config.physicalBridge,
      .datapathType = ovsdb::DatapathType::kNetdev,
      .failMode = ovsdb::FailMode::kSecure,
      // br-phy answers with the uplink's MAC, so the underlay sees no new MAC.
      .otherConfig = {{"hwaddr", link->mac}, {"disable-in-band", "true"}},
      .externalIds = {{"sluice-uplink", uplink}}};
  if (auto ensured = ovsdb.ensureBridge(bridge); !ensured) return ensured.error();
  ovsdb::PortOptions uplinkPort{.bridge = config.physicalBridge,
                                .name = uplink,
                                .type = ovsdb::PortType::kSystem,
                                .ofportRequest = kUplinkOfPort};
  if (auto ensured = ovsdb.ensurePort(uplinkPort); !ensured) return ensured.error();
  ovsdb::PortOptions patch{.bridge = config.physicalBridge,
                           .name = kPhyPatchName,
                           .type = ovsdb::PortType::kPatch,
                           .patchPeer = kIntPatchName,
                           .ofportRequest = kPhyPatchOfPort};
  if (auto ensured = ovsdb.ensurePort(patch); !ensured) return ensured.error();
  if (auto applied = ovsdb.waitForVswitchd(10s); !applied) return applied.error();

  if (auto mtu = netlink::setMtu(config.physicalBridge, link->mtu); !mtu) return mtu.error();
  if (auto up = netlink::setLinkUp(config.physicalBridge); !up) return up.error();
  // The node's own TCP leaves through this tap into OVS's userspace datapath, which would send
  // its partial checksums out unfinished (docs/userspace-datapath.md): the kernel must complete
  // them.
  if (auto off = netlink::disableTxChecksum(config.physicalBridge); !off) return off.error();
  if (holder->has_value() && (*holder)->link == uplink) {
    if (auto moved = moveNodeIpToPhysicalBridge(config, **holder); !moved) return moved.error();
  } else if (!holder->has_value()) {
    return makeError("the node IP " + formatIpv4(identity.nodeIp) +
                     " is on no interface; check the Node's InternalIP");
  }
  // The kernel must not act on frames OVS owns (docs/userspace-datapath.md); OVS still reads them.
  if (auto guarded = guard.guard(uplink); !guarded) return guarded.error();
  return uplink;
}

}  // namespace

int podMtuFor(int configuredMtu, int uplinkMtu) {
  return configuredMtu > 0 ? configuredMtu : uplinkMtu - kGeneveOverhead;
}

Result<BootstrapResult> bootstrapNode(const AgentConfig& config, const NodeIdentity& identity,
                                      ovsdb::OvsdbClient& ovsdb, IngressGuard& guard) {
  BootstrapResult result;
  const bool netdev = config.datapathType == DatapathType::kNetdev;
  ovsdb::BridgeOptions integration{.name = config.integrationBridge,
                                   .datapathType = datapathOf(config),
                                   .failMode = ovsdb::FailMode::kSecure,
                                   .otherConfig = {{"disable-in-band", "true"}},
                                   .externalIds = {{"sluice-node", config.nodeName}}};
  if (auto ensured = ovsdb.ensureBridge(integration); !ensured) return ensured.error();

  int uplinkMtu = 1500;
  if (netdev) {
    auto uplink = setUpPhysicalBridge(config, identity, ovsdb, guard);
    if (!uplink) return uplink.error();
    result.uplink = *uplink;
    if (auto link = netlink::getLink(*uplink); link) uplinkMtu = link->mtu;
    ovsdb::PortOptions patch{.bridge = config.integrationBridge,
                             .name = kIntPatchName,
                             .type = ovsdb::PortType::kPatch,
                             .patchPeer = kPhyPatchName,
                             .ofportRequest = kPatchOfPort};
    if (auto ensured = ovsdb.ensurePort(patch); !ensured) return ensured.error();
  } else {
    auto holder = findAddress(identity.nodeIp);
    if (!holder) return holder.error();
    if (holder->has_value()) {
      result.uplink = (*holder)->link;
      if (auto link = netlink::getLink(result.uplink); link) uplinkMtu = link->mtu;
    }
  }
  result.podMtu = podMtuFor(config.mtu, uplinkMtu);

  ovsdb::PortOptions tunnel{.bridge = config.integrationBridge,
                            .name = config.tunnelInterface,
                            .type = ovsdb::PortType::kGeneve,
                            .geneve = {.destinationPort = static_cast<uint16_t>(config.tunnelPort)},
                            .ofportRequest = kTunnelOfPort};
  if (auto ensured = ovsdb.ensurePort(tunnel); !ensured) return ensured.error();
  ovsdb::PortOptions gateway{.bridge = config.integrationBridge,
                             .name = config.gatewayInterface,
                             .type = ovsdb::PortType::kInternal,
                             .ofportRequest = kGatewayOfPort,
                             .mtuRequest = result.podMtu};
  if (auto ensured = ovsdb.ensurePort(gateway); !ensured) return ensured.error();
  if (auto assigned = ovsdb.waitForOfport(config.gatewayInterface, 10s); !assigned)
    return assigned.error();
  if (auto applied = ovsdb.waitForVswitchd(10s); !applied) return applied.error();

  // The gateway carries the podCIDR's first address for the node's kernel.
  const Ipv4 gatewayIp = identity.podCidr.first() + 1;
  if (auto mtu = netlink::setMtu(config.gatewayInterface, result.podMtu); !mtu) return mtu.error();
  if (auto added = netlink::addAddress(config.gatewayInterface, gatewayIp, identity.podCidr.prefix);
      !added)
    return added.error();
  if (auto up = netlink::setLinkUp(config.gatewayInterface); !up) return up.error();
  if (netdev) {
    if (auto off = netlink::disableTxChecksum(config.gatewayInterface); !off) return off.error();
  }
  auto gatewayLink = netlink::getLink(config.gatewayInterface);
  if (!gatewayLink) return gatewayLink.error();

  // The kernel routes pod traffic that OVS SNATed to the node IP (docs/pipeline.md): it must
  // forward, and accept packets on the gateway whose source is its own address.
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"net.ipv4.ip_forward", "1"},
           {"net.ipv4.conf.all.rp_filter", "0"},
           {"net.ipv4.conf." + config.gatewayInterface + ".rp_filter", "0"},
           {"net.ipv4.conf." + config.gatewayInterface + ".accept_local", "1"}}) {
    if (auto written = writeSysctl(key, value); !written) return written.error();
  }

  result.network.nodeName = config.nodeName;
  result.network.nodeIp = identity.nodeIp;
  result.network.tunnelPort = static_cast<std::uint16_t>(config.tunnelPort);
  result.network.podCidr = identity.podCidr;
  result.network.gatewayMac = gatewayLink->mac;
  SLUICE_LOG(kInfo, "bootstrap")
      << config.nodeName << ": " << config.integrationBridge << " ready, gateway "
      << formatIpv4(gatewayIp) << " " << gatewayLink->mac << ", pod MTU " << result.podMtu
      << (netdev ? ", uplink " + result.uplink + " under " + config.physicalBridge : "");
  return result;
}

Result<void> ensureRemotePodRoute(const AgentConfig& config, const Cidr& remotePodCidr) {
  return netlink::replaceRoute(
      netlink::RouteInfo{remotePodCidr, remotePodCidr.first() + 1, config.gatewayInterface, true});
}

}  // namespace sluice::agent
