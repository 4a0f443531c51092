// Flow stats dump: every installed flow with its counters, match and actions as OVS prints them.
// Used by tests, sluicectl and metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "ofrules/flow.h"
#include "ofrules/ofconn.h"

namespace sluice::ofrules {

struct FlowStats {
  std::uint8_t table = 0;
  std::uint16_t priority = 0;
  std::uint64_t cookie = 0;
  std::string match;          // as ovs-ofctl prints it, without the priority; "" matches everything
  std::string actions;        // as ovs-ofctl prints it
  std::uint64_t packets = 0;  // UINT64_MAX when the switch does not count
  std::uint64_t bytes = 0;
  std::chrono::nanoseconds duration{0};
  int idleAgeSeconds = -1;  // -1 when unknown

  FlowKey key() const { return FlowKey{table, priority, match}; }
  // The line ovs-ofctl dump-flows --no-stats prints, without its leading space.
  std::string text() const;
};

// Dumps the flows selected by `filter` (all tables and cookies by default).
Result<std::vector<FlowStats>> dumpFlowStats(OfConnection& connection,
                                             const FlowDumpFilter& filter = {});

}  // namespace sluice::ofrules
