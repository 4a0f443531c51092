// get ovsflows: the agent's flow dump joined with its pipeline and owners (table names, decoded
// cookies), filtered by table, pod or Egress, and rendered. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "sluicectl/agent_status.h"
#include "sluicectl/render.h"

namespace sluice::sluicectl {

struct FlowRow {
  int table = 0;
  std::string tableName;  // the number as text when the pipeline does not name it
  int priority = 0;
  std::uint64_t cookie = 0;
  int round = 0;
  std::string category;  // "pod", "egress", ...
  std::string owner;     // "pod/prod/web-1", or the owner hash when no owner is known
  std::string match;
  std::string actions;  // table numbers in goto_table/resubmit/ct(table=) replaced by names
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

// Decodes the agent's "flows" answer. Rows are sorted by table, then priority (highest first).
Result<std::vector<FlowRow>> decodeFlows(const nlohmann::json& answer, const AgentStatus& status);

// goto_table:9 -> goto_table:L3Forwarding, resubmit(,9) -> resubmit(,L3Forwarding),
// ct(table=9,...) -> ct(table=L3Forwarding,...).
std::string nameTables(const std::string& actions, const AgentStatus& status);

struct FlowFilter {
  std::optional<int> table;
  // Owner hashes whose flows are selected; flows whose match names one of `matchTerms` (e.g.
  // "nw_src=10.244.1.5", "in_port=5") are selected too. Both empty: no owner filter.
  std::set<std::uint64_t> owners;
  std::set<std::string> matchTerms;
};

bool selected(const FlowRow& row, const FlowFilter& filter);

// The filter for one local pod: its own flows and every flow that matches its IP, MAC or port.
FlowFilter podFilter(const LocalPod& pod);
// The filter for an Egress: its source-side flows ("egress:NAME") and the egress-node flows of
// its IPs ("egress-ip:IP").
FlowFilter egressFilter(const std::string& name, const std::vector<std::string>& ips);

// The 40-bit owner hash cookies carry for an owner key.
std::uint64_t ownerHash(const std::string& key);

TextTable flowTable(const std::vector<FlowRow>& rows, bool wide);
nlohmann::json flowsJson(const std::vector<FlowRow>& rows);

}  // namespace sluice::sluicectl
