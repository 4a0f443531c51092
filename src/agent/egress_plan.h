// The node side of egress as a pure transition: from what this node held, served, claimed and
// routed before a reconcile, and the new EgressFlows, what it must now do (GARP, claim, flush
// conntrack) and what it holds afterwards. EgressExecutor carries a plan out through small
// interfaces, so the plan is unit-tested without sockets (tests/agent/egress_plan_test.cc).
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent/features/egress.h"
#include "agent/ovs_control.h"
#include "common/ipv4.h"

namespace sluice::agent {

// What a node holds for egress between two reconciles.
struct EgressNodeState {
  std::set<Ipv4> held;    // owned: answers ARP, floating MAC
  std::set<Ipv4> served;  // owned or passive: SNAT flows installed
  // EgressFlows::podRoutes of the last reconcile. Unknown before the first one after a start:
  // a restart flushes nothing, since what the pods had before is not known.
  std::map<Ipv4, std::string> podRoutes;
  bool podRoutesKnown = false;
};

struct EgressTransition {
  std::vector<Ipv4> takenOver;       // newly held: GARP, the sources already point here
  std::vector<Ipv4> released;        // no longer held
  std::vector<Ipv4> draining;        // released but still served passively (a subset)
  std::vector<Ipv4> claims;          // assigned here, served passively, not yet claimed
  std::vector<Ipv4> flushEgressIps;  // no longer served: their SNAT entries go
  std::vector<Ipv4> flushPodIps;     // their route out changed: their SNAT entries go
  EgressNodeState next;
};

// `claimingIps` is EgressInputs::claimingIps: claims start once the IP is served passively here,
// so whatever the tunnel brings is SNATed while the claim listens. A fenced reconcile's flows hold
// and serve nothing, so its plan releases and flushes everything.
EgressTransition planEgressTransition(const EgressNodeState& previous,
                                      const features::EgressFlows& flows,
                                      const std::set<Ipv4>& claimingIps);

// ARP for egress IPs on the physical bridge: real sockets in the agent, a fake in tests.
class EgressArp {
 public:
  virtual ~EgressArp() = default;
  virtual void announce(Ipv4 egressIp) = 0;  // gratuitous ARP from the floating MAC
  virtual void claim(Ipv4 egressIp) = 0;     // ArpClaimer; a no-op where there is none
  // Whether IPs are claimed before they are owned (false: owned at once).
  virtual bool claims() const = 0;
};

// Carries a plan out: logs, GARPs and claims now; queues the flushes in `flushes`, which the
// caller runs after its reply (ConntrackFlushes).
void executeEgressTransition(const EgressTransition& plan, EgressArp& arp,
                             ConntrackFlushes& flushes);

}  // namespace sluice::agent
