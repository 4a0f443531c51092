// Egress, pool and node rows.
#include "sluicectl/resource_view.h"

#include <algorithm>
#include <set>

#include "api/core.h"
#include "api/egress.h"
#include "api/external_ip_pool.h"

namespace sluice::sluicectl {
namespace {

using nlohmann::json;

std::string joined(const json& list, const std::string& separator = ",") {
  std::string text;
  for (const auto& item : list)
    text += (text.empty() ? "" : separator) + (item.is_string() ? item.get<std::string>() : "");
  return text;
}

// The pools an Egress draws from: externalIPPool or externalIPPools.
std::vector<std::string> poolsOf(const api::EgressSpec& spec) {
  std::vector<std::string> pools;
  if (!spec.externalIPPool.empty()) pools.push_back(spec.externalIPPool);
  for (const auto& pool : spec.externalIPPools.value_or(std::vector<std::string>{}))
    pools.push_back(pool);
  return pools;
}

std::vector<EgressIpPlacement> placementsOf(const api::Egress& egress) {
  std::vector<EgressIpPlacement> placements;
  for (const auto& assignment : egress.status.assignments())
    placements.push_back({assignment.ip, assignment.node});
  return placements;
}

}  // namespace

std::string selectorText(const json& selector) {
  if (!selector.is_object()) return "";
  std::string text;
  const auto labels = selector.value("matchLabels", json::object());  // named: items() is a view
  for (const auto& [key, value] : labels.items())
    text +=
        (text.empty() ? "" : ",") + key + "=" + (value.is_string() ? value.get<std::string>() : "");
  for (const auto& expression : selector.value("matchExpressions", json::array())) {
    text += (text.empty() ? "" : ",") + expression.value("key", "") + " " +
            expression.value("operator", "");
    const auto values = expression.value("values", json::array());
    if (!values.empty()) text += " (" + joined(values) + ")";
  }
  return text;
}

std::vector<EgressIpPlacement> placementsOf(const json& egress) {
  return placementsOf(api::Egress::decode(egress));
}

json egressItems(const std::vector<json>& egresses, const AgentStatus* local) {
  json items = json::array();
  for (const auto& object : egresses) {
    const auto egress = api::Egress::decode(object);
    const auto& name = egress.metadata.name;
    json ips = json::array(), nodes = json::array(), pools = json::array(), pods = json::array();
    bool heldHere = false;
    for (const auto& placement : placementsOf(egress)) {
      ips.push_back(placement.ip);
      if (!placement.node.empty() &&
          std::find(nodes.begin(), nodes.end(), placement.node) == nodes.end())
        nodes.push_back(placement.node);
      if (local && std::find(local->heldEgressIps.begin(), local->heldEgressIps.end(),
                             placement.ip) != local->heldEgressIps.end())
        heldHere = true;
    }
    for (const auto& pool : poolsOf(egress.spec)) pools.push_back(pool);
    if (local)
      for (const auto& pod : local->pods)
        if (pod.egress && pod.egress->name == name) {
          json entry = {{"pod", pod.podNamespace + "/" + pod.name}, {"ip", pod.ip}};
          entry["egressIP"] = pod.egress->ip;
          pods.push_back(entry);
        }
    std::string state = "Pending", message;
    if (const auto* assigned = api::findCondition(egress.status.conditions, "IPAssigned")) {
      state = assigned->status == "True" ? "Assigned" : assigned->reason;
      message = assigned->message;
    }
    if (ips.empty() && state == "Assigned") state = "Pending";
    // The selectors as the user wrote them (even when invalid), not as the model parsed them.
    const auto spec = object.is_object() ? object.value("spec", json::object()) : json();
    const auto appliedTo = spec.is_object() ? spec.value("appliedTo", json::object()) : json();
    json item = {{"name", name},
                 {"egressIPs", ips},
                 {"nodes", nodes},
                 {"pools", pools},
                 {"localPods", pods},
                 {"state", state},
                 {"message", message},
                 {"namespaceSelector", selectorText(appliedTo.value("namespaceSelector", json()))},
                 {"podSelector", selectorText(appliedTo.value("podSelector", json()))}};
    if (local) {
      item["node"] = local->node;
      item["heldHere"] = heldHere;
    }
    items.push_back(item);
  }
  return items;
}

TextTable egressTable(const json& items, bool wide) {
  TextTable table;
  table.headers = {"NAME", "EGRESS IPS", "NODES", "LOCAL PODS", "STATE"};
  if (wide)
    table.headers.insert(table.headers.end(),
                         {"POOLS", "NAMESPACE SELECTOR", "POD SELECTOR", "HELD HERE", "MESSAGE"});
  for (const auto& item : items) {
    std::string pods;
    for (const auto& pod : item["localPods"])
      pods += (pods.empty() ? "" : ",") + pod.value("pod", "");
    std::vector<std::string> row = {item.value("name", ""), orNone(joined(item["egressIPs"])),
                                    orNone(joined(item["nodes"])), orNone(pods),
                                    item.value("state", "")};
    if (wide) {
      row.push_back(orNone(joined(item["pools"])));
      row.push_back(orNone(item.value("namespaceSelector", "")));
      row.push_back(orNone(item.value("podSelector", "")));
      row.push_back(item.contains("heldHere") ? (item["heldHere"].get<bool>() ? "yes" : "no")
                                              : "<unknown>");
      row.push_back(item.value("message", ""));
    }
    table.rows.push_back(row);
  }
  return table;
}

json poolItems(const std::vector<json>& pools, const std::vector<json>& egresses) {
  json items = json::array();
  std::vector<api::Egress> decodedEgresses;
  decodedEgresses.reserve(egresses.size());
  for (const auto& egress : egresses) decodedEgresses.push_back(api::Egress::decode(egress));
  for (const auto& object : pools) {
    const auto pool = api::ExternalIpPool::decode(object);
    const auto& name = pool.metadata.name;
    const auto spec = object.is_object() ? object.value("spec", json::object()) : json();
    json ranges = json::array();
    for (const auto& range : pool.spec.ipRanges) {
      if (!range) continue;
      ranges.push_back(!range->cidr.empty() ? range->cidr : range->start + "-" + range->end);
    }
    json users = json::array();
    for (const auto& egress : decodedEgresses) {
      const auto drawsFrom = poolsOf(egress.spec);
      if (std::find(drawsFrom.begin(), drawsFrom.end(), name) != drawsFrom.end())
        users.push_back(egress.metadata.name);
    }
    const long long total = pool.status.total.value_or(-1), used = pool.status.used.value_or(-1);
    json item = {{"name", name},
                 {"total", total < 0 ? json(nullptr) : json(total)},
                 {"used", used < 0 ? json(nullptr) : json(used)},
                 {"available", total < 0 || used < 0 ? json(nullptr) : json(total - used)},
                 {"nodeSelector",
                  selectorText(spec.is_object() ? spec.value("nodeSelector", json()) : json())},
                 {"ranges", ranges},
                 {"egresses", users}};
    items.push_back(item);
  }
  return items;
}

TextTable poolTable(const json& items, bool wide) {
  TextTable table;
  table.headers = {"NAME", "TOTAL", "USED", "AVAILABLE", "NODE SELECTOR"};
  if (wide) table.headers.insert(table.headers.end(), {"RANGES", "EGRESSES"});
  const auto number = [](const json& value) {
    return value.is_number() ? std::to_string(value.get<long long>()) : std::string("<unknown>");
  };
  for (const auto& item : items) {
    std::vector<std::string> row = {item.value("name", ""), number(item["total"]),
                                    number(item["used"]), number(item["available"]),
                                    orNone(item.value("nodeSelector", ""))};
    if (wide) {
      row.push_back(orNone(joined(item["ranges"])));
      row.push_back(orNone(joined(item["egresses"])));
    }
    table.rows.push_back(row);
  }
  return table;
}

json nodeItems(const json& controllerView, const std::vector<json>& nodes,
               const std::vector<json>& egresses) {
  std::map<std::string, json> byName;
  for (const auto& entry : controllerView.value("nodes", json::array()))
    byName[entry.value("node", "")] = entry;
  std::vector<api::Node> decodedNodes;
  decodedNodes.reserve(nodes.size());
  for (const auto& node : nodes) decodedNodes.push_back(api::Node::decode(node));
  std::vector<api::Egress> decodedEgresses;
  decodedEgresses.reserve(egresses.size());
  for (const auto& egress : egresses) decodedEgresses.push_back(api::Egress::decode(egress));
  std::set<std::string> names;
  for (const auto& [name, entry] : byName) names.insert(name);
  for (const auto& node : decodedNodes) names.insert(node.metadata.name);
  json items = json::array();
  for (const auto& name : names) {
    json item = {{"name", name}};
    const auto tracked = byName.find(name);
    if (tracked != byName.end()) {
      item["liveness"] = tracked->second.value("liveness", "Unknown");
      item["sinceLastReportMs"] = tracked->second.value("sinceLastReportMs", json(nullptr));
      item["reports"] = tracked->second.value("reports", 0);
      item["lastSequence"] = tracked->second.value("lastSequence", 0);
      item["fenced"] = tracked->second.value("fenced", false);
      item["witnesses"] = tracked->second.value("witnesses", json::array());
      item["witnessesConfirming"] = tracked->second.value("witnessesConfirming", 0);
      item["witnessSetSize"] = tracked->second.value("witnessSetSize", 0);
    } else {
      item["liveness"] = "NotTracked";
      item["sinceLastReportMs"] = nullptr;
    }
    item["internalIP"] = "";
    item["labels"] = json::object();
    for (const auto& node : decodedNodes)
      if (node.metadata.name == name) {
        item["internalIP"] = node.internalIP;
        item["labels"] = node.metadata.labels;
      }
    json ips = json::array();
    for (const auto& egress : decodedEgresses)
      for (const auto& placement : placementsOf(egress))
        if (placement.node == name) ips.push_back(placement.ip);
    item["egressIPs"] = ips;
    items.push_back(item);
  }
  return items;
}

TextTable nodeTable(const json& items, bool wide) {
  TextTable table;
  // NOT HEARD BY: how many of the node's witnesses report not hearing it for nodeSilenceTimeout
  // (a majority, with the controller's own silence, moves its IPs); FENCED: it says it lost its
  // quorum and holds nothing.
  table.headers = {"NAME",        "LIVENESS",   "LAST REPORT", "NOT HEARD BY",
                   "INTERNAL IP", "EGRESS IPS", "FENCED"};
  if (wide)
    table.headers.insert(table.headers.end(), {"WITNESSES", "REPORTS", "LAST SEQ", "LABELS"});
  for (const auto& item : items) {
    const auto since = item.value("sinceLastReportMs", json(nullptr));
    const auto setSize = item.value("witnessSetSize", 0);
    std::vector<std::string> row = {
        item.value("name", ""),
        item.value("liveness", ""),
        since.is_number() ? shortDuration(since.get<long long>()) + " ago" : "<never>",
        since.is_number()
            ? std::to_string(item.value("witnessesConfirming", 0)) + "/" + std::to_string(setSize)
            : "<none>",
        orNone(item.value("internalIP", "")),
        orNone(joined(item["egressIPs"])),
        item.value("fenced", false) ? "yes" : "no"};
    if (wide) {
      row.push_back(orNone(joined(item.value("witnesses", json::array()))));
      row.push_back(std::to_string(item.value("reports", 0)));
      row.push_back(std::to_string(item.value("lastSequence", 0)));
      std::string labels;
      for (const auto& [key, value] : item["labels"].items())
        labels += (labels.empty() ? "" : ",") + key + "=" +
                  (value.is_string() ? value.get<std::string>() : "");
      row.push_back(orNone(labels));
    }
    table.rows.push_back(row);
  }
  return table;
}

}  // namespace sluice::sluicectl
