// Flow stats dump through libopenvswitch: flow stats request, reply decoding, OVS's own formatting.
#include "ofrules/flow_stats.h"

#include <cinttypes>
#include <cstdio>

#include "ofrules/ovs_headers.h"

namespace sluice::ofrules {
namespace {

std::string formatMatch(const match& flowMatch) {
  ds text = DS_EMPTY_INITIALIZER;
  match_format(&flowMatch, nullptr, &text, OFP_DEFAULT_PRIORITY);
  std::string result(ds_cstr(&text));
  ds_destroy(&text);
  return result;
}

std::string formatActions(const ofpact* actions, std::size_t length) {
  ds text = DS_EMPTY_INITIALIZER;
  ofpact_format_params params{};
  params.s = &text;
  ofpacts_format(actions, length, &params);
  std::string result(ds_cstr(&text));
  ds_destroy(&text);
  return result;
}

}  // namespace

std::string FlowStats::text() const {
  std::string line;
  char buffer[40];
  if (cookie) {
    std::snprintf(buffer, sizeof buffer, "cookie=0x%" PRIx64 ", ", cookie);
    line += buffer;
  }
  if (table) {
    line += "table=" + std::to_string(table) + ", ";
  }
  std::string head;
  if (priority != OFP_DEFAULT_PRIORITY) {
    head = "priority=" + std::to_string(priority);
  }
  if (!match.empty()) {
    head += (head.empty() ? "" : ",") + match;
  }
  line += head;
  if (!head.empty()) {
    line += " ";
  }
  return line + "actions=" + actions;
}

Result<std::vector<FlowStats>> dumpFlowStats(OfConnection& connection,
                                             const FlowDumpFilter& filter) {
  std::vector<FlowStats> flows;
  auto result = connection.dumpFlows(filter, [&flows](const ofputil_flow_stats& stats) {
    FlowStats flow;
    flow.table = stats.table_id;
    flow.priority = stats.priority;
    flow.cookie = be64toh(stats.cookie);
    flow.match = formatMatch(stats.match);
    flow.actions = formatActions(stats.ofpacts, stats.ofpacts_len);
    flow.packets = stats.packet_count;
    flow.bytes = stats.byte_count;
    flow.duration =
        std::chrono::seconds(stats.duration_sec) + std::chrono::nanoseconds(stats.duration_nsec);
    flow.idleAgeSeconds = stats.idle_age;
    flows.push_back(std::move(flow));
  });
  if (!result) {
    return result.error();
  }
  return flows;
}

}  // namespace sluice::ofrules
