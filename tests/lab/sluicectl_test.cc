// sluicectl against a running lab, through `sluice-lab node-exec NODE -- sluicectl ...`: the flow
// filters, -o json parsed and checked, get egress after applying an Egress, and a trace of a
// selected pod's packet to the external host that shows SNAT to the egress IP on the egress node.
// One lab for every check: bringing one up is the slow part.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "lab_fixture.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

CommandResult sluicectl(const Lab& lab, const std::string& node, const std::string& arguments) {
  return lab.nodeExec(node, "sluicectl " + arguments);
}

// Runs sluicectl with -o json (stderr dropped) and parses what it printed.
json sluicectlJson(const Lab& lab, const std::string& node, const std::string& arguments) {
  const auto result = lab.nodeExec(node, "sluicectl " + arguments + " -o json 2>/dev/null");
  INFO("sluicectl " << arguments << " on " << node << ":\n" << result.output);
  REQUIRE(result.ok());
  return json::parse(result.output);
}

struct EgressLab {
  Lab lab{{.nodes = 3}};
  std::string web, other, elsewhere, egressNode;
  EgressLab() {
    REQUIRE(lab.up());
    REQUIRE(lab.lab("ns add prod --labels env=prod").ok());
    REQUIRE(lab.lab("node label node02 network-role=egress-gateway").ok());
    REQUIRE(lab.lab("node label node03 network-role=egress-gateway").ok());
    web = lab.addPod("web-1", "node01", "role=web", "prod");
    other = lab.addPod("other-1", "node01", "role=db", "prod");
    elsewhere = lab.addPod("web-2", "node02", "role=web", "prod");
    REQUIRE_FALSE(web.empty());
    REQUIRE_FALSE(other.empty());
    REQUIRE_FALSE(elsewhere.empty());
    const std::string fixtures = std::string(SLUICE_SOURCE_ROOT) + "/tests/fixtures/thesis/";
    REQUIRE(lab.kubectl("apply -f " + fixtures + "listing2-pool.yml").ok());
    REQUIRE(lab.kubectl("apply -f " + fixtures + "listing1-egress.yml").ok());
    REQUIRE(waitFor(
        10s, [&] { return seenFrom(lab, "prod/web-1") == "10.10.0.8"; }, 50ms));
    egressNode =
        lab.kubectl("get egress egress-prod-web -o jsonpath='{.status.egressNode}'").output;
    REQUIRE((egressNode == "node02" || egressNode == "node03"));
  }
};

TEST_CASE("sluicectl in a lab: flows, egress, pools, nodes and trace", "[lab][sluicectl]") {
  EgressLab setup;
  auto& lab = setup.lab;

  {  // get egress shows the IP, the node, the local pod and the state
    // The agent's view follows the informer: wait until it lists web-1 as selected.
    json egresses;
    REQUIRE(waitFor(5s, [&] {
      egresses = sluicectlJson(lab, "node01", "get egress");
      return egresses.size() == 1 && !egresses[0]["localPods"].empty();
    }));
    const auto& egress = egresses[0];
    CHECK(egress["name"] == "egress-prod-web");
    CHECK(egress["egressIPs"] == json::array({"10.10.0.8"}));
    CHECK(egress["nodes"] == json::array({setup.egressNode}));
    CHECK(egress["state"] == "Assigned");
    REQUIRE(egress["localPods"].size() == 1);  // other-1 is not selected; web-2 is not local
    CHECK(egress["localPods"][0]["pod"] == "prod/web-1");
    CHECK(egress["heldHere"] == false);
    const auto onEgressNode = sluicectlJson(lab, setup.egressNode, "get egress egress-prod-web");
    CHECK(onEgressNode[0]["heldHere"] == true);

    const auto table = sluicectl(lab, "node01", "get egress");
    REQUIRE(table.ok());
    CHECK_THAT(table.output, Catch::StartsWith("NAME"));
    CHECK_THAT(table.output, Catch::Contains("egress-prod-web   10.10.0.8"));
    CHECK_THAT(table.output, Catch::Contains(setup.egressNode));
    CHECK_THAT(table.output, Catch::Contains("prod/web-1"));
    const auto yaml = sluicectl(lab, "node01", "get egress -o yaml");
    REQUIRE(yaml.ok());
    CHECK_THAT(yaml.output, Catch::Contains("- 10.10.0.8"));

    const auto missing = sluicectl(lab, "node01", "get egress nope");
    CHECK_FALSE(missing.ok());
    CHECK_THAT(missing.output, Catch::Contains("Egress nope not found"));
  }

  {  // get ovsflows: table names, decoded cookies, and the -T, -p and --egress filters
    const auto all = sluicectlJson(lab, "node01", "get ovsflows");
    REQUIRE(all.size() > 20);
    std::set<std::string> tables;
    for (const auto& flow : all) {
      tables.insert(flow["table"].get<std::string>());
      CHECK(flow["cookie"].get<std::string>().rfind("0x", 0) == 0);
      CHECK(flow["category"] != "unknown");
    }
    CHECK(tables.contains("Classifier"));
    CHECK(tables.contains("L3Forwarding"));
    CHECK(tables.contains("EgressMark"));

    const auto egressMark = sluicectlJson(lab, "node01", "get ovsflows -T EgressMark");
    REQUIRE_FALSE(egressMark.empty());
    CHECK(egressMark.size() < all.size());
    for (const auto& flow : egressMark) CHECK(flow["table"] == "EgressMark");
    const auto bogus = sluicectl(lab, "node01", "get ovsflows -T Bogus");
    CHECK_FALSE(bogus.ok());
    CHECK_THAT(bogus.output, Catch::Contains("valid tables:"));
    CHECK_THAT(bogus.output, Catch::Contains("L3Forwarding"));

    const auto podFlows = sluicectlJson(lab, "node01", "get ovsflows -p prod/web-1");
    REQUIRE_FALSE(podFlows.empty());
    bool ownFlow = false, egressFlow = false;
    for (const auto& flow : podFlows) {
      const auto match = flow["match"].get<std::string>();
      ownFlow = ownFlow || flow["owner"] == "pod/prod/web-1";
      egressFlow = egressFlow || (flow["owner"] == "egress/egress-prod-web" &&
                                  match.find("nw_src=" + setup.web) != std::string::npos);
      CHECK(match.find(setup.other) == std::string::npos);
      CHECK(flow["owner"] != "pod/prod/other-1");
    }
    CHECK(ownFlow);
    CHECK(egressFlow);
    const auto notHere = sluicectl(lab, "node01", "get ovsflows -p prod/web-2");
    CHECK_FALSE(notHere.ok());
    CHECK_THAT(notHere.output, Catch::Contains("is on node node02"));

    // Source side on node01: the Egress's flows match web-1. Egress node: SNAT to 10.10.0.8.
    const auto source = sluicectlJson(lab, "node01", "get ovsflows --egress egress-prod-web");
    REQUIRE_FALSE(source.empty());
    for (const auto& flow : source) {
      CHECK(flow["owner"] == "egress/egress-prod-web");
      CHECK(flow["table"] == "EgressMark");
    }
    const auto gateway =
        sluicectlJson(lab, setup.egressNode, "get ovsflows --egress egress-prod-web -T Snat");
    REQUIRE(gateway.size() == 1);
    CHECK(gateway[0]["owner"] == "egress/egress-prod-web ip 10.10.0.8");
    CHECK_THAT(gateway[0]["actions"].get<std::string>(), Catch::Contains("nat(src=10.10.0.8)"));

    const auto text = sluicectl(lab, "node01", "get ovsflows -T L3Forwarding");
    REQUIRE(text.ok());
    CHECK_THAT(text.output, Catch::StartsWith("TABLE"));
    CHECK_THAT(text.output, Catch::Contains("L3Forwarding"));
  }

  {  // trace follows web-1's packet through the tunnel to SNAT on the egress node
    const auto trace = sluicectlJson(
        lab, "node01", "trace --pod prod/web-1 --dst 10.10.3.1 --proto tcp --dport 8080");
    REQUIRE(trace["hops"].size() == 2);
    const auto& first = trace["hops"][0];
    CHECK(first["node"] == "node01");
    CHECK_THAT(first["output"].get<std::string>(), Catch::Contains("tunnel to 10.10.2."));
    CHECK_THAT(first["output"].get<std::string>(), Catch::Contains(setup.egressNode));
    std::set<std::string> passed;
    for (const auto& table : first["tables"]) passed.insert(table["table"].get<std::string>());
    CHECK(passed.contains("Classifier"));
    CHECK(passed.contains("EgressMark"));
    const auto& second = trace["hops"][1];
    CHECK(second["node"] == setup.egressNode);
    CHECK(second["snat"] == "10.10.0.8");
    CHECK_THAT(second["output"].get<std::string>(), Catch::Contains("gateway"));
    CHECK(trace["snat"] == "10.10.0.8");

    const auto text =
        sluicectl(lab, "node01", "trace --pod prod/web-1 --dst 10.10.3.1 --proto tcp --dport 8080");
    REQUIRE(text.ok());
    CHECK_THAT(text.output, Catch::Contains("SNAT: source 10.10.0.8"));
    CHECK_THAT(text.output, Catch::Contains("EgressMark"));

    // Without the other agents, trace stops at the tunnel and says where it goes.
    const auto alone = sluicectl(
        lab, "node01", "--agent-socket-pattern '' trace --pod prod/web-1 --dst 10.10.3.1");
    REQUIRE(alone.ok());
    CHECK_THAT(alone.output, Catch::Contains("tunnel to 10.10.2."));
    CHECK_THAT(alone.output, Catch::Contains("tun_id"));
    CHECK_THAT(alone.output, Catch::Contains("(" + setup.egressNode + ")"));

    // A pod no Egress selects leaves through its own node's gateway as the node's IP.
    const auto plain = sluicectlJson(lab, "node01", "trace --pod prod/other-1 --dst 10.10.3.1");
    REQUIRE(plain["hops"].size() == 1);
    CHECK(plain["snat"] == "10.10.2.1");
    CHECK_THAT(plain["hops"][0]["output"].get<std::string>(), Catch::Contains("gateway"));
  }

  {  // get pools and get nodes
    const auto pools = sluicectlJson(lab, "node01", "get pools");
    REQUIRE(pools.size() == 1);
    CHECK(pools[0]["name"] == "prod-external-ip-pool");
    CHECK(pools[0]["used"] == 1);
    CHECK(pools[0]["total"] == 23);  // 10.10.0.2-10.10.0.10 and a /28 less its two ends
    CHECK(pools[0]["egresses"] == json::array({"egress-prod-web"}));

    json nodes;
    REQUIRE(waitFor(5s, [&] {
      nodes = sluicectlJson(lab, "node01", "get nodes");
      return nodes.size() == 3 && std::all_of(nodes.begin(), nodes.end(), [](const json& node) {
               return node["liveness"] == "Alive";
             });
    }));
    for (const auto& node : nodes)
      CHECK(node["egressIPs"] ==
            (node["name"] == setup.egressNode ? json::array({"10.10.0.8"}) : json::array()));
    const auto table = sluicectl(lab, "node02", "get nodes");
    REQUIRE(table.ok());
    CHECK_THAT(table.output, Catch::Contains("node01   Alive"));
  }

  {  // a stopped agent is named with its socket and how to start it
    REQUIRE(lab.lab("node agent-stop node03").ok());
    const auto down = sluicectl(lab, "node03", "get ovsflows");
    CHECK_FALSE(down.ok());
    CHECK_THAT(down.output, Catch::Contains(lab.stateDir() + "/nodes/node03/cni.sock"));
    CHECK_THAT(down.output, Catch::Contains("agent-start"));
  }
}

}  // namespace
}  // namespace sluice::testing
