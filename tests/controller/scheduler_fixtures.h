// Small builders for scheduler inputs, shared by the example and property tests.
#pragma once

#include <string>

#include "common/ipv4.h"
#include "controller/egress_scheduler.h"

namespace sluice::controller::testing {

inline Ipv4 ip(const std::string& text) { return *parseIpv4(text); }

inline IpRange range(const std::string& first, const std::string& last) {
  return IpRange{ip(first), ip(last)};
}

inline NodeModel node(std::string name, int capacity = 100, bool alive = true) {
  return NodeModel{std::move(name), alive, capacity};
}

inline EgressModel poolEgress(std::string name, std::int64_t age, std::string pool) {
  EgressModel egress{std::move(name), age, {}, {}};
  egress.slots.push_back(SlotRequest{std::nullopt, std::move(pool)});
  return egress;
}

// Feeds a schedule's result back as the next round's previous status.
inline void carryOver(SchedulerInput& input, const SchedulerOutput& output) {
  for (auto& egress : input.egresses) {
    egress.previous.clear();
    for (const auto& slot : output.egresses.at(egress.name).slots)
      if (slot.ip) egress.previous.push_back(PreviousAssignment{*slot.ip, slot.pool, slot.node});
  }
}

}  // namespace sluice::controller::testing
