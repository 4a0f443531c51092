// sluicectl's views: tables, YAML, cookie decoding with table and owner names, flow filters, and
// the egress/pool/node rows.
#include <catch2/catch.hpp>

#include "ofrules/flow.h"
#include "sluicectl/flow_view.h"
#include "sluicectl/resource_view.h"
#include "sluicectl/service_view.h"

namespace sluice::sluicectl {
namespace {

using nlohmann::json;

std::uint64_t cookieOf(std::uint16_t round, ofrules::Category category, const std::string& key) {
  return ofrules::Cookie{round, category, ownerHash(key)}.encode();
}

json statusAnswer() {
  return json{
      {"node", "node01"},
      {"nodeIP", "10.10.2.1"},
      {"gatewayMAC", "02:00:00:00:00:01"},
      {"heldEgressIPs", {"10.10.0.9"}},
      {"round", 3},
      {"tables",
       {{{"id", 0}, {"name", "Classifier"}, {"stage", "Classifier"}},
        {{"id", 9}, {"name", "L3Forwarding"}, {"stage", "Routing"}},
        {{"id", 10}, {"name", "EgressMark"}, {"stage", "Routing"}},
        {{"id", 13}, {"name", "Snat"}, {"stage", "PostRouting"}}}},
      {"pods",
       {{{"namespace", "prod"},
         {"name", "web-1"},
         {"owner", "pod:abc/eth0"},
         {"ip", "10.244.1.2"},
         {"mac", "02:11:22:33:44:55"},
         {"ofport", 5},
         {"egress", {{"name", "egress-prod-web"}, {"ip", "10.10.0.8"}, {"node", "node02"}}}},
        {{"namespace", "prod"},
         {"name", "other-1"},
         {"owner", "pod:def/eth0"},
         {"ip", "10.244.1.3"},
         {"mac", "02:11:22:33:44:66"},
         {"ofport", 6},
         {"egress", nullptr}}}},
      {"owners",
       {{{"key", "pod:abc/eth0"}, {"display", "pod/prod/web-1"}, {"hash", "0x0"}},
        {{"key", "egress:egress-prod-web"}, {"display", "egress/egress-prod-web"}}}}};
}

AgentStatus status() {
  auto answer = statusAnswer();
  // Hashes as the agent sends them.
  for (auto& owner : answer["owners"]) {
    char text[24];
    std::snprintf(text, sizeof text, "0x%llx",
                  static_cast<unsigned long long>(ownerHash(owner["key"].get<std::string>())));
    owner["hash"] = text;
  }
  auto decoded = decodeAgentStatus(answer);
  REQUIRE(decoded);
  return *decoded;
}

json flowsAnswer() {
  return json{{"flows",
               {{{"table", 9},
                 {"priority", 200},
                 {"cookie", cookieOf(3, ofrules::Category::kPod, "pod:abc/eth0")},
                 {"match", "ip,nw_dst=10.244.1.2"},
                 {"actions", "set_field:02:11:22:33:44:55->eth_dst,goto_table:13"},
                 {"packets", 7},
                 {"bytes", 700}},
                {{"table", 10},
                 {"priority", 100},
                 {"cookie", cookieOf(3, ofrules::Category::kEgress, "egress:egress-prod-web")},
                 {"match", "ip,nw_src=10.244.1.2"},
                 {"actions", "set_field:10.10.2.2->tun_dst,goto_table:13"}},
                {{"table", 0},
                 {"priority", 0},
                 {"cookie", cookieOf(3, ofrules::Category::kPipeline, "pipeline")},
                 {"match", ""},
                 {"actions", "goto_table:9"}},
                {{"table", 13},
                 {"priority", 210},
                 {"cookie", cookieOf(2, ofrules::Category::kEgress, "egress-ip:10.10.0.9")},
                 {"match", "ip,reg0=0x100/0x100"},
                 {"actions", "ct(commit,table=13,zone=65521,nat(src=10.10.0.9)),output:2"}},
                {{"table", 10},
                 {"priority", 110},
                 {"cookie", cookieOf(3, ofrules::Category::kEgress, "egress:other")},
                 {"match", "ip,nw_src=10.244.1.3"},
                 {"actions", "drop"}}}}};
}

TEST_CASE("tables are padded like kubectl's", "[unit]") {
  TextTable table{{"NAME", "IP"}, {{"egress-prod-web", "10.10.0.8"}, {"e", "<none>"}}};
  CHECK(renderTable(table) ==
        "NAME              IP\n"
        "egress-prod-web   10.10.0.8\n"
        "e                 <none>\n");
  CHECK(renderTable(TextTable{{"NAME"}, {}}) == "No resources found.\n");
  CHECK(renderTable(TextTable{{"NAME"}, {}}, "No flows found.") == "No flows found.\n");
}

TEST_CASE("YAML output keeps structure", "[unit]") {
  const auto yaml = renderYaml(json::array({{{"name", "a"}, {"ips", {"10.10.0.8"}}, {"n", 3}}}));
  CHECK_THAT(yaml, Catch::Contains("- "));
  CHECK_THAT(yaml, Catch::Contains("name: a"));
  CHECK_THAT(yaml, Catch::Contains("- 10.10.0.8"));
  CHECK_THAT(yaml, Catch::Contains("n: 3"));
}

TEST_CASE("flows decode to table names, rounds, categories and owners", "[unit]") {
  const auto local = status();
  auto rows = decodeFlows(flowsAnswer(), local);
  REQUIRE(rows);
  REQUIRE(rows->size() == 5);
  // Sorted by table, then highest priority first.
  CHECK((*rows)[0].tableName == "Classifier");
  CHECK((*rows)[0].category == "pipeline");
  CHECK((*rows)[0].actions == "goto_table:L3Forwarding");
  CHECK((*rows)[1].tableName == "L3Forwarding");
  CHECK((*rows)[1].owner == "pod/prod/web-1");
  CHECK((*rows)[1].category == "pod");
  CHECK((*rows)[1].round == 3);
  CHECK((*rows)[1].packets == 7);
  CHECK((*rows)[1].actions == "set_field:02:11:22:33:44:55->eth_dst,goto_table:Snat");
  CHECK((*rows)[2].tableName == "EgressMark");
  CHECK((*rows)[2].priority == 110);
  CHECK((*rows)[3].owner == "egress/egress-prod-web");
  // An owner the agent did not name shows as its hash; the round is the cookie's.
  CHECK((*rows)[4].tableName == "Snat");
  CHECK((*rows)[4].round == 2);
  CHECK((*rows)[4].owner.rfind("0x", 0) == 0);
  CHECK((*rows)[4].actions == "ct(commit,table=Snat,zone=65521,nat(src=10.10.0.9)),output:2");
}

TEST_CASE("flow filters: table, pod, Egress", "[unit]") {
  const auto local = status();
  auto rows = decodeFlows(flowsAnswer(), local);
  REQUIRE(rows);
  const auto count = [&](const FlowFilter& filter) {
    return std::count_if(rows->begin(), rows->end(),
                         [&](const FlowRow& row) { return selected(row, filter); });
  };
  CHECK(count(FlowFilter{}) == 5);
  auto table = resolveTable(local, "egressmark");  // case-insensitive
  REQUIRE(table);
  CHECK(count(FlowFilter{.table = *table, .owners = {}, .matchTerms = {}}) == 2);
  CHECK(*resolveTable(local, "13") == 13);
  AgentStatus physical = local;  // br-phy: no names, any number
  physical.tables.clear();
  CHECK(*resolveTable(physical, "0") == 0);
  CHECK_THAT(resolveTable(physical, "Classifier").error().message,
             Catch::Contains("give a table number"));
  auto unknown = resolveTable(local, "Nope");
  REQUIRE_FALSE(unknown);
  CHECK_THAT(unknown.error().message,
             Catch::Contains("valid tables: Classifier, L3Forwarding, EgressMark, Snat"));

  const auto* web = local.findPod("prod", "web-1");
  REQUIRE(web != nullptr);
  // Its own flow (owner) and the Egress flow matching its IP; not other-1's.
  CHECK(count(podFilter(*web)) == 2);
  CHECK(count(egressFilter("egress-prod-web", {"10.10.0.9"})) == 2);
  CHECK(count(egressFilter("egress-prod-web", {})) == 1);
  auto both = podFilter(*web);
  both.table = 9;
  CHECK(count(both) == 1);
}

TEST_CASE("flow rows render as a table and as JSON", "[unit]") {
  const auto local = status();
  auto rows = decodeFlows(flowsAnswer(), local);
  REQUIRE(rows);
  const auto text = renderTable(flowTable(*rows, false));
  CHECK_THAT(text, Catch::StartsWith("TABLE          PRIORITY   CATEGORY   OWNER"));
  CHECK_THAT(text, Catch::Contains("L3Forwarding   200        pod        pod/prod/web-1"));
  CHECK_THAT(renderTable(flowTable(*rows, true)), Catch::Contains("PACKETS"));
  const auto list = flowsJson(*rows);
  CHECK(list[1]["table"] == "L3Forwarding");
  CHECK(list[1]["tableId"] == 9);
  CHECK(list[1]["owner"] == "pod/prod/web-1");
  CHECK(list[1]["cookie"].get<std::string>().rfind("0x3", 0) == 0);
}

TEST_CASE("the agent status answer is checked", "[unit]") {
  CHECK_FALSE(decodeAgentStatus(json{{"nodeIP", "1.2.3.4"}}));
  const auto local = status();
  CHECK(local.node == "node01");
  CHECK(local.pods.size() == 2);
  REQUIRE(local.pods[0].egress);
  CHECK(local.pods[0].egress->node == "node02");
  CHECK_FALSE(local.pods[1].egress);
}

json egressObject() {
  return json{{"metadata", {{"name", "egress-prod-web"}}},
              {"spec",
               {{"appliedTo",
                 {{"namespaceSelector", {{"matchLabels", {{"env", "prod"}}}}},
                  {"podSelector", {{"matchLabels", {{"role", "web"}}}}}}},
                {"egressIP", "10.10.0.8"},
                {"externalIPPool", "prod-external-ip-pool"}}},
              {"status",
               {{"egressIP", "10.10.0.8"},
                {"egressNode", "node02"},
                {"conditions",
                 {{{"type", "IPAllocated"}, {"status", "True"}, {"reason", "Allocated"}},
                  {{"type", "IPAssigned"}, {"status", "True"}, {"reason", "Assigned"}}}}}}};
}

TEST_CASE("get egress rows: IPs, nodes, local pods, state", "[unit]") {
  const auto local = status();
  const auto items = egressItems({egressObject()}, &local);
  REQUIRE(items.size() == 1);
  CHECK(items[0]["egressIPs"] == json::array({"10.10.0.8"}));
  CHECK(items[0]["nodes"] == json::array({"node02"}));
  CHECK(items[0]["localPods"][0]["pod"] == "prod/web-1");
  CHECK(items[0]["state"] == "Assigned");
  CHECK(items[0]["heldHere"] == false);
  CHECK(renderTable(egressTable(items, false)) ==
        "NAME              EGRESS IPS   NODES    LOCAL PODS   STATE\n"
        "egress-prod-web   10.10.0.8    node02   prod/web-1   Assigned\n");
  CHECK_THAT(renderTable(egressTable(items, true)), Catch::Contains("env=prod"));

  auto pending = egressObject();
  pending["status"] = {
      {"conditions", {{{"type", "IPAssigned"}, {"status", "False"}, {"reason", "NoNode"}}}}};
  const auto waiting = egressItems({pending}, nullptr);
  CHECK(waiting[0]["state"] == "NoNode");
  CHECK_FALSE(waiting[0].contains("heldHere"));

  auto multi = egressObject();
  multi["status"]["egressIPs"] = {{{"ip", "10.10.0.20"}, {"node", "node02"}},
                                  {{"ip", "10.10.0.25"}, {"node", "node03"}}};
  CHECK(egressItems({multi}, nullptr)[0]["nodes"] == json::array({"node02", "node03"}));
}

TEST_CASE("get pools rows: usage and users", "[unit]") {
  const json pool = {
      {"metadata", {{"name", "prod-external-ip-pool"}}},
      {"spec",
       {{"ipRanges", {{{"start", "10.10.0.2"}, {"end", "10.10.0.10"}}, {{"cidr", "10.10.1.0/28"}}}},
        {"nodeSelector", {{"matchLabels", {{"network-role", "egress-gateway"}}}}}}},
      {"status", {{"usage", {{"total", 25}, {"used", 1}}}}}};
  const auto items = poolItems({pool}, {egressObject()});
  CHECK(items[0]["available"] == 24);
  CHECK(items[0]["egresses"] == json::array({"egress-prod-web"}));
  CHECK(renderTable(poolTable(items, false)) ==
        "NAME                    TOTAL   USED   AVAILABLE   NODE SELECTOR\n"
        "prod-external-ip-pool   25      1      24          network-role=egress-gateway\n");
  CHECK_THAT(renderTable(poolTable(items, true)),
             Catch::Contains("10.10.0.2-10.10.0.10,10.10.1.0/28"));
}

TEST_CASE("get nodes rows: the controller's liveness joined with Node objects", "[unit]") {
  const json view = {{"leader", true},
                     {"nodes",
                      {{{"node", "node01"},
                        {"liveness", "Alive"},
                        {"sinceLastReportMs", 40},
                        {"reports", 12},
                        {"lastSequence", 12},
                        {"witnesses", {"node02", "node03"}},
                        {"witnessesConfirming", 0},
                        {"witnessSetSize", 2}},
                       {{"node", "node02"},
                        {"liveness", "Dead"},
                        {"sinceLastReportMs", 65000},
                        {"fenced", true},
                        {"witnessesConfirming", 2},
                        {"witnessSetSize", 2}}}}};
  const json node01 = {
      {"metadata", {{"name", "node01"}}},
      {"status", {{"addresses", {{{"type", "InternalIP"}, {"address", "10.10.2.1"}}}}}}};
  const json node03 = {{"metadata", {{"name", "node03"}}}};
  auto egress = egressObject();
  egress["status"]["egressNode"] = "node01";
  const auto items = nodeItems(view, {node01, node03}, {egress});
  REQUIRE(items.size() == 3);
  CHECK(items[0]["liveness"] == "Alive");
  CHECK(items[0]["internalIP"] == "10.10.2.1");
  CHECK(items[0]["egressIPs"] == json::array({"10.10.0.8"}));
  CHECK(items[2]["liveness"] == "NotTracked");
  CHECK(renderTable(nodeTable(items, false)) ==
        "NAME     LIVENESS     LAST REPORT   NOT HEARD BY   INTERNAL IP   EGRESS IPS   FENCED\n"
        "node01   Alive        40ms ago      0/2            10.10.2.1     10.10.0.8    no\n"
        "node02   Dead         1m5s ago      2/2            <none>        <none>       yes\n"
        "node03   NotTracked   <never>       <none>         <none>        <none>       no\n");
  CHECK_THAT(renderTable(nodeTable(items, true)), Catch::Contains("node02,node03"));
}

TEST_CASE("get services: one row per Service port, usable endpoints, local ones marked", "[unit]") {
  const auto answer = nlohmann::json::parse(R"({"proxy":true,"serviceCIDR":"10.96.0.0/12",
    "services":[
      {"service":"shop/web","port":"http","protocol":"tcp","clusterIP":"10.96.0.10",
       "servicePort":80,"nodePort":30080,"internalTrafficPolicy":"Cluster",
       "externalTrafficPolicy":"Local","sessionAffinity":"ClientIP","affinityTimeoutSeconds":60,
       "clusterGroup":65537,"externalGroup":65538,"owner":"service:shop/web",
       "endpoints":[{"ip":"10.244.1.5","port":8080,"ready":true,"serving":true,
                     "terminating":false,"local":true,"usable":true},
                    {"ip":"10.244.2.5","port":8080,"ready":false,"serving":false,
                     "terminating":false,"local":false,"usable":false}]},
      {"service":"kube-system/dns","port":"","protocol":"udp","clusterIP":"10.96.0.53",
       "servicePort":53,"nodePort":0,"clusterGroup":65539,"externalGroup":0,"endpoints":[]}]})");
  CHECK(serviceItems(answer, std::nullopt).size() == 2);
  CHECK(serviceItems(answer, std::string("shop/web")).size() == 1);
  CHECK(serviceItems(answer, std::string("shop")).size() == 1);
  CHECK(serviceItems(answer, std::string("sho")).empty());
  const auto table = serviceTable(serviceItems(answer, std::nullopt), false);
  REQUIRE(table.rows.size() == 2);
  CHECK(table.rows[0] == std::vector<std::string>{"shop/web", "80/tcp (http)", "10.96.0.10",
                                                  "30080", "10.244.1.5:8080(local)", "65537"});
  CHECK(table.rows[1] == std::vector<std::string>{"kube-system/dns", "53/udp", "10.96.0.53",
                                                  "<none>", "<none>", "65539"});
  const auto wide = serviceTable(serviceItems(answer, std::string("shop/web")), true);
  REQUIRE(wide.rows.size() == 1);
  CHECK(wide.rows[0][6] == "Cluster");
  CHECK(wide.rows[0][7] == "Local");
  CHECK(wide.rows[0][8] == "ClientIP 60s");
  CHECK(wide.rows[0][9] == "65538");
  CHECK(wide.rows[0][10] == "10.244.1.5:8080(local)[ready+serving],10.244.2.5:8080[not-ready]");
}

}  // namespace
}  // namespace sluice::sluicectl
