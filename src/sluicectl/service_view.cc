// get services (service_view.h).
#include "sluicectl/service_view.h"

namespace sluice::sluicectl {
namespace {

using nlohmann::json;

std::string endpointText(const json& endpoint) {
  return endpoint.value("ip", "") + ":" + std::to_string(endpoint.value("port", 0)) +
         (endpoint.value("local", false) ? "(local)" : "");
}

std::string conditions(const json& endpoint) {
  std::string text;
  for (const char* condition : {"ready", "serving", "terminating"})
    if (endpoint.value(condition, false))
      text += (text.empty() ? "" : "+") + std::string(condition);
  return text.empty() ? "not-ready" : text;
}

}  // namespace

json serviceItems(const json& answer, const std::optional<std::string>& name) {
  json items = json::array();
  for (const auto& item : answer.value("services", json::array())) {
    const auto service = item.value("service", "");
    if (name) {
      const bool exact = name->find('/') != std::string::npos;
      if (exact ? service != *name : service.rfind(*name + "/", 0) != 0) continue;
    }
    items.push_back(item);
  }
  return items;
}

TextTable serviceTable(const json& items, bool wide) {
  TextTable table;
  table.headers = {"NAME", "PORT", "CLUSTER-IP", "NODE-PORT", "ENDPOINTS", "GROUP"};
  if (wide)
    table.headers.insert(table.headers.end(),
                         {"INTERNAL", "EXTERNAL", "AFFINITY", "NODEPORT-GROUP", "ALL ENDPOINTS"});
  for (const auto& item : items) {
    std::string usable;
    std::string all;
    for (const auto& endpoint : item.value("endpoints", json::array())) {
      if (endpoint.value("usable", false))
        usable += (usable.empty() ? "" : ",") + endpointText(endpoint);
      all += (all.empty() ? "" : ",") + endpointText(endpoint) + "[" + conditions(endpoint) + "]";
    }
    const auto portName = item.value("port", "");
    const auto port = std::to_string(item.value("servicePort", 0)) + "/" +
                      item.value("protocol", "") + (portName.empty() ? "" : " (" + portName + ")");
    const auto nodePort = item.value("nodePort", 0);
    std::vector<std::string> row = {item.value("service", ""),
                                    port,
                                    orNone(item.value("clusterIP", "")),
                                    nodePort == 0 ? "<none>" : std::to_string(nodePort),
                                    orNone(usable),
                                    std::to_string(item.value("clusterGroup", 0))};
    if (wide) {
      const auto affinity = item.value("sessionAffinity", "None");
      const auto external = item.value("externalGroup", 0);
      row.push_back(item.value("internalTrafficPolicy", ""));
      row.push_back(item.value("externalTrafficPolicy", ""));
      row.push_back(affinity == "ClientIP"
                        ? "ClientIP " + std::to_string(item.value("affinityTimeoutSeconds", 0)) +
                              "s"
                        : affinity);
      row.push_back(external == 0 ? "<none>" : std::to_string(external));
      row.push_back(orNone(all));
    }
    table.rows.push_back(row);
  }
  return table;
}

}  // namespace sluice::sluicectl
