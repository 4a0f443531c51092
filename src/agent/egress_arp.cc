// ARP for egress IPs on br-phy (egress_arp.h).
#include "agent/egress_arp.h"

#include <fstream>

#include "agent/features/egress.h"
#include "common/log.h"

namespace sluice::agent {

PhysicalBridgeArp::PhysicalBridgeArp(PhysicalBridgeArpOptions options)
    : options_(std::move(options)) {
  if (options_.bridge.empty()) return;  // no br-phy: nothing to claim on
  std::ifstream address("/sys/class/net/" + options_.bridge + "/address");
  std::string text;
  std::optional<MacAddress> mac;
  if (address >> text) mac = parseMac(text);
  if (!mac) {
    SLUICE_LOG(kWarning, "egress")
        << "cannot read " << options_.bridge << "'s MAC: egress IPs are owned without a claim";
    return;
  }
  claimer_ = std::make_unique<ArpClaimer>(
      ArpClaimOptions{.interfaceName = options_.bridge,
                      .nodeMac = *mac,
                      .nodeIp = options_.nodeIp,
                      .gratuitousArpCount = options_.gratuitousArpCount},
      [this](Ipv4 ip, bool contested) {
        if (contested)
          SLUICE_LOG(kInfo, "egress") << "egress IP " << formatIpv4(ip)
                                      << ": another node answered ARP for it until it heard us";
        if (options_.onClaimed) options_.onClaimed(ip);
      });
}

PhysicalBridgeArp::~PhysicalBridgeArp() = default;

void PhysicalBridgeArp::announce(Ipv4 egressIp) {
  if (options_.bridge.empty() || options_.gratuitousArpCount <= 0) return;
  // A request-form GARP: it updates neighbours that already have an entry
  // (docs/egress-datapath.md). Sent from br-phy's LOCAL port with the IP's floating MAC; br-phy
  // floods it out of the uplink.
  if (!sendFrame(options_.bridge,
                 arpRequestFrame(*parseMac(features::floatingMac(egressIp)), egressIp, egressIp),
                 options_.gratuitousArpCount))
    SLUICE_LOG(kWarning, "egress") << "could not send gratuitous ARP for " << formatIpv4(egressIp)
                                   << " on " << options_.bridge;
}

void PhysicalBridgeArp::claim(Ipv4 egressIp) {
  if (claimer_) claimer_->claim(egressIp, *parseMac(features::floatingMac(egressIp)));
}

}  // namespace sluice::agent
