// PhysicalBridgeArp: EgressArp on br-phy's LOCAL port: gratuitous ARP from an egress IP's
// floating MAC, and claims through an ArpClaimer (arp_claim.h) when br-phy's MAC is known.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "agent/arp_claim.h"
#include "agent/egress_plan.h"

namespace sluice::agent {

struct PhysicalBridgeArpOptions {
  std::string bridge;  // br-phy; empty (no userspace datapath): no ARP at all
  Ipv4 nodeIp = 0;
  int gratuitousArpCount = 3;
  // Called on the claimer's thread once an IP is claimed (nobody else answers ARP for it).
  std::function<void(Ipv4 ip)> onClaimed;
};

class PhysicalBridgeArp : public EgressArp {
 public:
  explicit PhysicalBridgeArp(PhysicalBridgeArpOptions options);
  ~PhysicalBridgeArp() override;

  void announce(Ipv4 egressIp) override;
  void claim(Ipv4 egressIp) override;
  bool claims() const override { return claimer_ != nullptr; }
  // Stops the claimer, whose callback may post to the loop.
  void stop() { claimer_.reset(); }

 private:
  PhysicalBridgeArpOptions options_;
  std::unique_ptr<ArpClaimer> claimer_;
};

}  // namespace sluice::agent
