// The egress node-side transition plan: what a reconcile GARPs, claims and flushes, and the
// executor that carries a plan out through the fakes.
#include <catch2/catch.hpp>

#include "agent/egress_plan.h"
#include "fakes.h"

namespace sluice::agent {
namespace {

Ipv4 ip(const char* text) { return *parseIpv4(text); }

std::vector<Ipv4> ips(std::initializer_list<const char*> texts) {
  std::vector<Ipv4> out;
  for (const auto* text : texts) out.push_back(ip(text));
  return out;
}

features::EgressFlows flowsOf(std::vector<Ipv4> held, std::vector<Ipv4> passive,
                              std::map<Ipv4, std::string> podRoutes = {}) {
  features::EgressFlows flows;
  flows.heldIps = std::move(held);
  flows.passiveIps = std::move(passive);
  flows.podRoutes = std::move(podRoutes);
  return flows;
}

EgressNodeState stateOf(std::vector<Ipv4> held, std::vector<Ipv4> served,
                        std::map<Ipv4, std::string> podRoutes = {}, bool known = true) {
  return EgressNodeState{.held = {held.begin(), held.end()},
                         .served = {served.begin(), served.end()},
                         .podRoutes = std::move(podRoutes),
                         .podRoutesKnown = known};
}

TEST_CASE("a takeover GARPs the newly held IP and flushes nothing", "[unit]") {
  const auto previous = stateOf({}, ips({"10.10.0.8"}));  // served passively before
  const auto plan = planEgressTransition(previous, flowsOf(ips({"10.10.0.8"}), {}), {});
  CHECK(plan.takenOver == ips({"10.10.0.8"}));
  CHECK(plan.released.empty());
  CHECK(plan.flushEgressIps.empty());
  CHECK(plan.next.held == std::set<Ipv4>{ip("10.10.0.8")});
  CHECK(plan.next.served == std::set<Ipv4>{ip("10.10.0.8")});
}

TEST_CASE("a held IP is not GARPed again by the next reconcile", "[unit]") {
  const auto previous = stateOf(ips({"10.10.0.8"}), ips({"10.10.0.8"}));
  const auto plan = planEgressTransition(previous, flowsOf(ips({"10.10.0.8"}), {}), {});
  CHECK(plan.takenOver.empty());
}

TEST_CASE("a release that stops serving flushes the IP's SNAT entries", "[unit]") {
  const auto previous = stateOf(ips({"10.10.0.8"}), ips({"10.10.0.8"}));
  const auto plan = planEgressTransition(previous, flowsOf({}, {}), {});
  CHECK(plan.released == ips({"10.10.0.8"}));
  CHECK(plan.draining.empty());
  CHECK(plan.flushEgressIps == ips({"10.10.0.8"}));
  CHECK(plan.next.served.empty());
}

TEST_CASE("a drain releases the IP but keeps serving it, so nothing is flushed yet", "[unit]") {
  const auto previous = stateOf(ips({"10.10.0.8"}), ips({"10.10.0.8"}));
  const auto plan = planEgressTransition(previous, flowsOf({}, ips({"10.10.0.8"})), {});
  CHECK(plan.released == ips({"10.10.0.8"}));
  CHECK(plan.draining == ips({"10.10.0.8"}));
  CHECK(plan.flushEgressIps.empty());
  CHECK(plan.next.served == std::set<Ipv4>{ip("10.10.0.8")});
  CHECK(plan.next.held.empty());
  // The drain ends: now the entries go.
  const auto after = planEgressTransition(plan.next, flowsOf({}, {}), {});
  CHECK(after.released.empty());
  CHECK(after.flushEgressIps == ips({"10.10.0.8"}));
}

TEST_CASE("a pod whose route out changes has its conntrack flushed", "[unit]") {
  const auto previous = stateOf({}, {},
                                {{ip("10.244.1.5"), "egress-a 10.10.0.8@node02"},
                                 {ip("10.244.1.6"), "egress-a 10.10.0.8@node02"},
                                 {ip("10.244.1.7"), "egress-a 10.10.0.8@node02"}});
  const auto plan = planEgressTransition(
      previous,
      flowsOf({}, {},
              {{ip("10.244.1.5"), "egress-a 10.10.0.8@node02"},     // unchanged
               {ip("10.244.1.6"), "egress-a 10.10.0.9@node03"},     // moved
               {ip("10.244.1.9"), "egress-b 10.10.0.10@node02"}}),  // newly selected
      {});
  // 1.7 is no longer selected: it leaves with the node IP from now on.
  CHECK(plan.flushPodIps == ips({"10.244.1.6", "10.244.1.7", "10.244.1.9"}));
}

TEST_CASE("the first reconcile after a restart flushes no pod", "[unit]") {
  const auto previous = stateOf({}, {}, {}, /*known=*/false);
  const auto plan = planEgressTransition(
      previous, flowsOf({}, {}, {{ip("10.244.1.5"), "egress-a 10.10.0.8@node02"}}), {});
  CHECK(plan.flushPodIps.empty());
  CHECK(plan.next.podRoutesKnown);
}

TEST_CASE("a restart keeps what it served from the cache: nothing released or flushed", "[unit]") {
  // restoreFromCache() fills `served`; held is empty until the first reconcile.
  const auto previous = stateOf({}, ips({"10.10.0.8"}), {}, /*known=*/false);
  const auto plan = planEgressTransition(previous, flowsOf(ips({"10.10.0.8"}), {}), {});
  CHECK(plan.flushEgressIps.empty());
  CHECK(plan.takenOver == ips({"10.10.0.8"}));  // ARP flows are new: neighbours are told
}

TEST_CASE("a fenced node drops everything: releases and flushes all it served", "[unit]") {
  const auto previous = stateOf(ips({"10.10.0.8"}), ips({"10.10.0.8", "10.10.0.9"}),
                                {{ip("10.244.1.5"), "egress-a 10.10.0.8@node01"}});
  // A fenced reconcile's flows hold and serve nothing; pods keep their source-side routes.
  const auto plan = planEgressTransition(
      previous, flowsOf({}, {}, {{ip("10.244.1.5"), "egress-a 10.10.0.8@node01"}}),
      {ip("10.10.0.8")});
  CHECK(plan.takenOver.empty());
  CHECK(plan.released == ips({"10.10.0.8"}));
  CHECK(plan.flushEgressIps == ips({"10.10.0.8", "10.10.0.9"}));
  CHECK(plan.claims.empty());  // nothing is served, so nothing is claimed
  CHECK(plan.flushPodIps.empty());
  CHECK(plan.next.held.empty());
  CHECK(plan.next.served.empty());
}

TEST_CASE("a claim starts only once the IP is served passively here", "[unit]") {
  const auto claiming = std::set<Ipv4>{ip("10.10.0.8"), ip("10.10.0.9")};
  const auto plan =
      planEgressTransition(stateOf({}, {}), flowsOf({}, ips({"10.10.0.8"})), claiming);
  CHECK(plan.claims == ips({"10.10.0.8"}));  // 10.10.0.9 is not served yet
  CHECK(plan.takenOver.empty());             // claiming is not holding
}

TEST_CASE("the executor GARPs and claims now and queues the flushes", "[unit]") {
  const auto previous = stateOf(ips({"10.10.0.9"}), ips({"10.10.0.9"}),
                                {{ip("10.244.1.5"), "egress-a 10.10.0.9@node01"}});
  const auto plan = planEgressTransition(previous,
                                         flowsOf(ips({"10.10.0.8"}), ips({"10.10.0.7"}),
                                                 {{ip("10.244.1.5"), "egress-a 10.10.0.8@node01"}}),
                                         {ip("10.10.0.7")});
  testing::FakeEgressArp arp;
  testing::FakeOvsControl control;
  ConntrackFlushes flushes;
  executeEgressTransition(plan, arp, flushes);
  CHECK(arp.announced == ips({"10.10.0.8"}));
  CHECK(arp.claimed == ips({"10.10.0.7"}));
  CHECK(control.commands.empty());  // nothing runs until the batch does
  CHECK(flushes.egressIps() == std::set<Ipv4>{ip("10.10.0.9")});
  CHECK(flushes.podIps() == std::set<Ipv4>{ip("10.244.1.5")});
  flushes.run(control);
  CHECK(control.commands ==
        std::vector<std::string>{"dpctl/flush-conntrack 'zone=65521' '' 'ct_nw_dst=10.10.0.9'",
                                 "dpctl/flush-conntrack 'zone=65521' 'ct_nw_src=10.244.1.5'"});
  CHECK(flushes.empty());
}

TEST_CASE("a flush asked for twice before the batch runs runs once", "[unit]") {
  testing::FakeOvsControl control;
  ConntrackFlushes flushes;
  flushes.flushPodIp(ip("10.244.1.5"));
  flushes.flushPodIp(ip("10.244.1.5"));
  flushes.run(control);
  CHECK(control.commands.size() == 1);
}

}  // namespace
}  // namespace sluice::agent
