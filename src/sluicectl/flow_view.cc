// Flow rows: decoding, naming tables, filtering and rendering.
#include "sluicectl/flow_view.h"

#include <algorithm>
#include <regex>

#include "common/hash.h"
#include "ofrules/cookie_text.h"
#include "ofrules/feature.h"
#include "ofrules/flow.h"

namespace sluice::sluicectl {
namespace {

std::string hex(std::uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

std::vector<std::string> splitMatch(const std::string& match) {
  std::vector<std::string> terms;
  std::size_t start = 0;
  while (start <= match.size()) {
    const auto end = std::min(match.find(',', start), match.size());
    if (end > start) terms.push_back(match.substr(start, end - start));
    start = end + 1;
  }
  return terms;
}

}  // namespace

std::uint64_t ownerHash(const std::string& key) {
  return stableHash(key) & ofrules::Cookie::kOwnerMask;
}

std::string nameTables(const std::string& actions, const AgentStatus& status) {
  static const std::regex kTableReference(R"((goto_table:|resubmit\(,|table=)(\d+))");
  std::string out;
  auto last = actions.cbegin();
  for (auto it = std::sregex_iterator(actions.begin(), actions.end(), kTableReference);
       it != std::sregex_iterator(); ++it) {
    const auto& found = *it;
    out.append(last, found[0].first);
    const auto name = status.tableName(std::stoi(found[2].str()));
    out += found[1].str() + (name ? *name : found[2].str());
    last = found[0].second;
  }
  out.append(last, actions.cend());
  return out;
}

Result<std::vector<FlowRow>> decodeFlows(const nlohmann::json& answer, const AgentStatus& status) {
  std::vector<FlowRow> rows;
  try {
    for (const auto& flow : answer.at("flows")) {
      FlowRow row;
      row.table = flow.at("table").get<int>();
      row.tableName = status.tableName(row.table).value_or(std::to_string(row.table));
      row.priority = flow.at("priority").get<int>();
      row.cookie = flow.at("cookie").get<std::uint64_t>();
      const auto cookie = ofrules::Cookie::decode(row.cookie);
      row.round = cookie.round;
      row.category = std::string(ofrules::categoryName(cookie.category));
      row.owner = hex(cookie.ownerHash);
      for (const auto& owner : status.owners)
        if (owner.hash == cookie.ownerHash) row.owner = owner.display;
      row.match = flow.value("match", "");
      row.actions = nameTables(flow.value("actions", ""), status);
      row.packets = flow.value("packets", std::uint64_t{0});
      row.bytes = flow.value("bytes", std::uint64_t{0});
      rows.push_back(std::move(row));
    }
  } catch (const nlohmann::json::exception& error) {
    return makeError(std::string("malformed flows answer from sluice-agent: ") + error.what());
  }
  std::stable_sort(rows.begin(), rows.end(), [](const FlowRow& a, const FlowRow& b) {
    return std::tie(a.table, b.priority) < std::tie(b.table, a.priority);
  });
  return rows;
}

bool selected(const FlowRow& row, const FlowFilter& filter) {
  if (filter.table && row.table != *filter.table) return false;
  if (filter.owners.empty() && filter.matchTerms.empty()) return true;
  if (filter.owners.contains(ofrules::Cookie::decode(row.cookie).ownerHash)) return true;
  for (const auto& term : splitMatch(row.match))
    if (filter.matchTerms.contains(term)) return true;
  return false;
}

FlowFilter podFilter(const LocalPod& pod) {
  FlowFilter filter;
  filter.owners.insert(ownerHash(pod.owner));
  for (const auto* field : {"nw_src=", "nw_dst=", "arp_spa=", "arp_tpa="})
    filter.matchTerms.insert(field + pod.ip);
  if (!pod.mac.empty())
    for (const auto* field : {"dl_src=", "dl_dst="}) filter.matchTerms.insert(field + pod.mac);
  if (pod.ofport > 0) filter.matchTerms.insert("in_port=" + std::to_string(pod.ofport));
  return filter;
}

FlowFilter egressFilter(const std::string& name, const std::vector<std::string>& ips) {
  FlowFilter filter;
  filter.owners.insert(ownerHash("egress:" + name));
  for (const auto& ip : ips) filter.owners.insert(ownerHash("egress-ip:" + ip));
  return filter;
}

TextTable flowTable(const std::vector<FlowRow>& rows, bool wide) {
  TextTable table;
  table.headers = {"TABLE", "PRIORITY", "CATEGORY", "OWNER", "MATCH", "ACTIONS"};
  if (wide)
    table.headers = {"TABLE", "ID",      "PRIORITY", "COOKIE", "ROUND",  "CATEGORY",
                     "OWNER", "PACKETS", "BYTES",    "MATCH",  "ACTIONS"};
  for (const auto& row : rows) {
    const auto match = row.match.empty() ? std::string("*") : row.match;
    if (wide)
      table.rows.push_back({row.tableName, std::to_string(row.table), std::to_string(row.priority),
                            hex(row.cookie), std::to_string(row.round), row.category, row.owner,
                            std::to_string(row.packets), std::to_string(row.bytes), match,
                            row.actions});
    else
      table.rows.push_back({row.tableName, std::to_string(row.priority), row.category, row.owner,
                            match, row.actions});
  }
  return table;
}

nlohmann::json flowsJson(const std::vector<FlowRow>& rows) {
  auto list = nlohmann::json::array();
  for (const auto& row : rows)
    list.push_back({{"table", row.tableName},
                    {"tableId", row.table},
                    {"priority", row.priority},
                    {"cookie", hex(row.cookie)},
                    {"round", row.round},
                    {"category", row.category},
                    {"owner", row.owner},
                    {"match", row.match},
                    {"actions", row.actions},
                    {"packets", row.packets},
                    {"bytes", row.bytes}});
  return list;
}

}  // namespace sluice::sluicectl
