// The egress transition plan and its executor (egress_plan.h).
#include "agent/egress_plan.h"

#include "common/log.h"

namespace sluice::agent {

EgressTransition planEgressTransition(const EgressNodeState& previous,
                                      const features::EgressFlows& flows,
                                      const std::set<Ipv4>& claimingIps) {
  EgressTransition plan;
  auto& next = plan.next;
  next.held.insert(flows.heldIps.begin(), flows.heldIps.end());
  next.served = next.held;
  next.served.insert(flows.passiveIps.begin(), flows.passiveIps.end());
  next.podRoutes = flows.podRoutes;
  next.podRoutesKnown = true;
  for (const auto ip : next.held)
    if (!previous.held.contains(ip)) plan.takenOver.push_back(ip);
  for (const auto ip : previous.held) {
    if (next.held.contains(ip)) continue;
    plan.released.push_back(ip);
    if (next.served.contains(ip)) plan.draining.push_back(ip);
  }
  for (const auto ip : previous.served)
    if (!next.served.contains(ip)) plan.flushEgressIps.push_back(ip);
  for (const auto ip : claimingIps)
    if (next.served.contains(ip)) plan.claims.push_back(ip);
  if (previous.podRoutesKnown) {
    std::set<Ipv4> changed;
    for (const auto& [podIp, route] : next.podRoutes)
      if (auto before = previous.podRoutes.find(podIp);
          before == previous.podRoutes.end() || before->second != route)
        changed.insert(podIp);
    for (const auto& [podIp, route] : previous.podRoutes)
      if (!next.podRoutes.contains(podIp)) changed.insert(podIp);
    plan.flushPodIps.assign(changed.begin(), changed.end());
  }
  return plan;
}

void executeEgressTransition(const EgressTransition& plan, EgressArp& arp,
                             ConntrackFlushes& flushes) {
  for (const auto ip : plan.takenOver) {
    // Taken over: the sources already point here (the bundle just sent), so tell the neighbours.
    SLUICE_LOG(kInfo, "egress") << "holding egress IP " << formatIpv4(ip) << " ("
                                << features::floatingMac(ip) << ")";
    arp.announce(ip);
  }
  const std::set<Ipv4> draining(plan.draining.begin(), plan.draining.end());
  for (const auto ip : plan.released)
    SLUICE_LOG(kInfo, "egress") << "released egress IP " << formatIpv4(ip)
                                << (draining.contains(ip) ? " (draining)" : "");
  for (const auto ip : plan.flushEgressIps) flushes.flushEgressIp(ip);
  for (const auto ip : plan.claims) arp.claim(ip);
  for (const auto ip : plan.flushPodIps) flushes.flushPodIp(ip);
}

}  // namespace sluice::agent
