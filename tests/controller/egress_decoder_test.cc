// Unit tests of decoding Egress/ExternalIPPool/Node JSON into scheduler input and status.
#include <catch2/catch.hpp>

#include "controller/egress_decoder.h"

namespace sluice::controller {
namespace {

using nlohmann::json;

json listing1() {
  return json::parse(R"({"apiVersion":"crd.antrea.io/v1alpha2","kind":"Egress",
    "metadata":{"name":"egress-prod-web","creationTimestamp":"2026-11-26T07:00:00Z","generation":1},
    "spec":{"appliedTo":{"namespaceSelector":{"matchLabels":{"env":"prod"}},"podSelector":{"matchLabels":{"role":"web"}}},
            "egressIP":"10.10.0.8","externalIPPool":"prod-external-ip-pool"}})");
}

json listing2() {
  return json::parse(R"({"apiVersion":"crd.antrea.io/v1alpha2","kind":"ExternalIPPool",
    "metadata":{"name":"prod-external-ip-pool"},
    "spec":{"ipRanges":[{"start":"10.10.0.2","end":"10.10.0.10"},{"cidr":"10.10.1.0/28"}],
            "nodeSelector":{"matchLabels":{"network-role":"egress-gateway"}}}})");
}

json node(const std::string& name, json labels, json annotations = json::object()) {
  return json{{"metadata", {{"name", name}, {"labels", labels}, {"annotations", annotations}}}};
}

NodeLiveness allAlive(const std::string&) { return NodeLiveness::kAlive; }

TEST_CASE("Listing 2: start/end and a cidr without network and broadcast", "[unit]") {
  const auto pool = decodePool(listing2());
  CHECK(pool.problems.empty());
  REQUIRE(pool.ranges.size() == 2);
  CHECK(pool.ranges[0] == IpRange{*parseIpv4("10.10.0.2"), *parseIpv4("10.10.0.10")});
  CHECK(pool.ranges[1] == IpRange{*parseIpv4("10.10.1.1"), *parseIpv4("10.10.1.14")});
  REQUIRE(pool.nodeSelector);
}

TEST_CASE("pool CEL rules are repeated: bad entries are reported and skipped", "[unit]") {
  auto pool = decodePool(json::parse(R"({"metadata":{"name":"p"},"spec":{"ipRanges":[
      {"start":"10.0.0.9","end":"10.0.0.1"},
      {"cidr":"10.0.1.0/24","start":"10.0.1.1","end":"10.0.1.2"},
      {"start":"10.0.2.1"},
      {"cidr":"fd00::/64"},
      {"cidr":"10.0.3.5/30"}]}})"));
  REQUIRE(pool.problems.size() == 4);
  CHECK_THAT(pool.problems[0], Catch::Contains("start must not be greater than end"));
  CHECK_THAT(pool.problems[1], Catch::Contains("either cidr, or both start and end"));
  CHECK_THAT(pool.problems[2], Catch::Contains("either cidr, or both start and end"));
  CHECK_THAT(pool.problems[3], Catch::Contains("spec.ipRanges[3].cidr"));
  // Host bits are read as the network, as Antrea does: 10.0.3.4/30 -> .5 and .6.
  REQUIRE(pool.ranges.size() == 1);
  CHECK(pool.ranges[0] == IpRange{*parseIpv4("10.0.3.5"), *parseIpv4("10.0.3.6")});
}

TEST_CASE(
    "Listing 1 decodes to one fixed IP in its pool, and status rebuilds the previous decision",
    "[unit]") {
  auto object = listing1();
  auto egress = decodeEgress(object);
  CHECK(egress.invalidMessage.empty());
  REQUIRE(egress.slots.size() == 1);
  CHECK(egress.slots[0].staticIp == parseIpv4("10.10.0.8"));
  CHECK(egress.slots[0].pool == "prod-external-ip-pool");
  CHECK(egress.previous.empty());  // Listing 1's status block is dropped by the API server anyway

  object["status"] = {{"egressIP", "10.10.0.8"}, {"egressNode", "node02"}};
  egress = decodeEgress(object);
  REQUIRE(egress.previous.size() == 1);
  CHECK(egress.previous[0].node == "node02");
  CHECK(egress.previous[0].pool == "prod-external-ip-pool");
}

TEST_CASE("the Egress CEL rules are repeated with the CRD's messages", "[unit]") {
  auto withSpec = [](json spec) {
    spec["appliedTo"] = {{"podSelector", json::object()}};
    return decodeEgress(json{{"metadata", {{"name", "e"}}}, {"spec", spec}}).invalidMessage;
  };
  CHECK_THAT(withSpec({{"egressIP", "10.0.0.1"}, {"egressIPs", {"10.0.0.2"}}}),
             Catch::Contains("not both"));
  CHECK_THAT(withSpec({{"externalIPPool", "a"}, {"externalIPPools", {"b"}}}),
             Catch::Contains("not both"));
  CHECK_THAT(withSpec({{"egressIP", "10.0.0.1"}, {"externalIPPools", {"b"}}}),
             Catch::Contains("do not mix"));
  CHECK_THAT(withSpec(json::object()), Catch::Contains("set spec.externalIPPool"));
  CHECK_THAT(withSpec({{"egressIPs", {"10.0.0.1"}}, {"externalIPPools", {"a", "b"}}}),
             Catch::Contains("same length"));
  CHECK_THAT(withSpec({{"egressIP", "10.010.0.1"}}), Catch::Contains("not an IPv4 address"));
  CHECK(
      withSpec({{"egressIPs", {"10.0.0.1", "10.0.0.2"}}, {"externalIPPools", {"a", "b"}}}).empty());
  auto noSelector =
      decodeEgress(json{{"metadata", {{"name", "e"}}}, {"spec", {{"egressIP", "10.0.0.1"}}}});
  CHECK_THAT(noSelector.invalidMessage, Catch::Contains("spec.appliedTo needs"));
}

TEST_CASE("multi-IP Egresses zip egressIPs with externalIPPools and remember egressIPs status",
          "[unit]") {
  auto egress = decodeEgress(json::parse(R"({"metadata":{"name":"web-spread"},
    "spec":{"appliedTo":{"podSelector":{}},"externalIPPools":["rack-a","rack-b"]},
    "status":{"egressIPs":[{"ip":"10.20.0.8","node":"node-c","pool":"rack-b"}]}})"));
  REQUIRE(egress.multiIp);
  REQUIRE(egress.slots.size() == 2);
  CHECK(egress.slots[1].pool == "rack-b");
  CHECK_FALSE(egress.slots[1].staticIp);
  REQUIRE(egress.previous.size() == 1);
  CHECK(egress.previous[0].pool == "rack-b");
}

TEST_CASE("node selector and capacity annotation shape the scheduler input", "[unit]") {
  std::vector<DecodedNode> nodes = {
      decodeNode(node("node01", json::object())),
      decodeNode(
          node("node02", {{"network-role", "egress-gateway"}}, {{kCapacityAnnotation, "3"}})),
      decodeNode(
          node("node03", {{"network-role", "egress-gateway"}}, {{kCapacityAnnotation, "many"}})),
  };
  CHECK(nodes[1].capacity == 3);
  CHECK_THAT(nodes[2].problem, Catch::Contains(kCapacityAnnotation));
  const auto input =
      buildSchedulerInput({decodePool(listing2())}, nodes, {decodeEgress(listing1())}, allAlive,
                          BuildOptions{.defaultCapacity = 255});
  REQUIRE(input.pools.size() == 1);
  CHECK(input.pools[0].eligibleNodes == std::set<std::string>{"node02", "node03"});
  CHECK(input.nodes[1].capacity == 3);
  CHECK(input.nodes[2].capacity == 255);
  const auto output = schedule(input);
  const auto& slot = output.egresses.at("egress-prod-web").slots.at(0);
  CHECK(slot.ip == parseIpv4("10.10.0.8"));
  CHECK((slot.node == "node02" || slot.node == "node03"));
}

TEST_CASE("a node a new leader has not heard from keeps its IPs but gets no new ones", "[unit]") {
  auto held = listing1();
  held["status"] = {{"egressIP", "10.10.0.8"}, {"egressNode", "node03"}};
  auto fresh = listing1();
  fresh["metadata"]["name"] = "second";
  fresh["spec"].erase("egressIP");
  std::vector<DecodedNode> nodes = {
      decodeNode(node("node02", {{"network-role", "egress-gateway"}})),
      decodeNode(node("node03", {{"network-role", "egress-gateway"}}))};
  auto unknown = [](const std::string&) { return NodeLiveness::kUnknown; };
  const auto output = schedule(buildSchedulerInput(
      {decodePool(listing2())}, nodes, {decodeEgress(held), decodeEgress(fresh)}, unknown, {}));
  CHECK(output.egresses.at("egress-prod-web").slots[0].node == "node03");  // moved nothing
  CHECK_FALSE(output.egresses.at("second").slots[0].assigned());           // waits for a report
}

TEST_CASE("desired status: conditions in Antrea's style, stable transition times", "[unit]") {
  const auto egress = decodeEgress(listing1());
  EgressResult result{"egress-prod-web", {}};
  SlotResult slot;
  slot.ip = *parseIpv4("10.10.0.8");
  slot.pool = "prod-external-ip-pool";
  slot.node = "node02";
  slot.allocationReason = "Allocated";
  slot.allocationMessage = "allocated 10.10.0.8 from prod-external-ip-pool";
  slot.assignmentReason = "Assigned";
  slot.assignmentMessage = "10.10.0.8 is on node node02";
  result.slots.push_back(slot);
  const auto first = desiredEgressStatus(egress, &result, json::object(), "2026-11-26T07:00:00Z");
  CHECK(first["egressIP"] == "10.10.0.8");
  CHECK(first["egressNode"] == "node02");
  CHECK_FALSE(first.contains("egressIPs"));
  REQUIRE(first["conditions"].size() == 2);
  CHECK(first["conditions"][0]["type"] == "IPAllocated");
  CHECK(first["conditions"][0]["status"] == "True");
  CHECK(first["conditions"][1]["reason"] == "Assigned");
  // Unchanged: the same status, including lastTransitionTime, so nothing is written.
  CHECK(desiredEgressStatus(egress, &result, first, "2026-11-26T08:00:00Z") == first);

  result.slots[0].node.clear();
  result.slots[0].assignmentReason = "NoEligibleNode";
  const auto lost = desiredEgressStatus(egress, &result, first, "2026-11-26T08:00:00Z");
  CHECK_FALSE(lost.contains("egressNode"));
  CHECK(lost["conditions"][1]["status"] == "False");
  CHECK(lost["conditions"][1]["reason"] == "NoEligibleNode");
  CHECK(lost["conditions"][1]["lastTransitionTime"] == "2026-11-26T08:00:00Z");
  CHECK(lost["conditions"][0]["lastTransitionTime"] == "2026-11-26T07:00:00Z");
}

TEST_CASE("a move between two nodes is announced with previousNode", "[unit]") {
  const json before = {{"egressIP", "10.10.0.8"}, {"egressNode", "node02"}};
  const json after = {{"egressIP", "10.10.0.8"}, {"egressNode", "node03"}};
  const auto moves = findMoves(before, after);
  REQUIRE(moves == std::vector<Handover>{{"10.10.0.8", "node03", "node02"}});
  CHECK(findMoves(after, after).empty());
  CHECK(findMoves(json::object(), after).empty());  // a first assignment is not a move
  CHECK(findMoves(before, {{"egressIP", "10.10.0.8"}, {"egressNode", ""}}).empty());

  // A single-IP Egress gets an egressIPs list only while the move is in flight.
  const auto announced = withHandovers(after, moves);
  CHECK(announced["egressIPs"] ==
        json::parse(R"([{"ip":"10.10.0.8","node":"node03","previousNode":"node02"}])"));
  CHECK(announced["egressNode"] == "node03");
  CHECK(withHandovers(after, {}) == after);
  // A hand-over that status no longer matches (the IP moved again) is not announced.
  CHECK(withHandovers(after, {{"10.10.0.8", "node01", "node02"}}) == after);

  const json multi = json::parse(
      R"({"egressIPs":[{"ip":"10.10.0.8","node":"node03"},{"ip":"10.10.0.9","node":"node01"}]})");
  const auto listed = withHandovers(multi, moves);
  CHECK(listed["egressIPs"][0]["previousNode"] == "node02");
  CHECK_FALSE(listed["egressIPs"][1].contains("previousNode"));
  // findMoves reads the list form too, and previousNode does not make a move by itself.
  CHECK(findMoves(listed, listed).empty());
}

TEST_CASE("an invalid Egress gets InvalidSpec conditions", "[unit]") {
  auto egress = decodeEgress(json{{"metadata", {{"name", "e"}}},
                                  {"spec", {{"appliedTo", {{"podSelector", json::object()}}}}}});
  const auto status = desiredEgressStatus(egress, nullptr, json::object(), "2026-11-26T07:00:00Z");
  CHECK(status["conditions"][0]["reason"] == "InvalidSpec");
  CHECK(status["conditions"][0]["status"] == "False");
}

}  // namespace
}  // namespace sluice::controller

namespace sluice::controller {
namespace {

TEST_CASE("an Egress whose destinationCIDRs overlap the Service CIDR is told so", "[unit]") {
  const Cidr services = *parseCidr("10.96.0.0/12");
  auto spec = listing1();
  spec["spec"]["destinationCIDRs"] = json::array({"192.0.2.0/24", "10.0.0.0/8"});
  auto egress = decodeEgress(spec);
  noteServiceCidrOverlap(egress, services);
  CHECK(egress.serviceCidrOverlap.find("spec.destinationCIDRs[1] 10.0.0.0/8 overlaps the Service "
                                       "CIDR 10.96.0.0/12") != std::string::npos);
  EgressResult result{"egress-prod-web", {}};
  SlotResult slot;
  slot.ip = *parseIpv4("10.10.0.8");
  slot.pool = "prod-external-ip-pool";
  slot.node = "node02";
  result.slots.push_back(slot);
  const auto status = desiredEgressStatus(egress, &result, json::object(), "2026-12-03T07:00:00Z");
  REQUIRE(status["conditions"].size() == 3);
  CHECK(status["conditions"][2]["type"] == "ServiceCIDROverlap");
  CHECK(status["conditions"][2]["status"] == "True");
  CHECK(status["conditions"][2]["reason"] == "DestinationOverlapsServiceCIDR");

  // A destination inside the Service CIDR overlaps too; one beside it does not.
  spec["spec"]["destinationCIDRs"] = json::array({"10.100.0.0/16"});
  egress = decodeEgress(spec);
  noteServiceCidrOverlap(egress, services);
  CHECK_FALSE(egress.serviceCidrOverlap.empty());
  spec["spec"]["destinationCIDRs"] = json::array({"10.112.0.0/12"});
  egress = decodeEgress(spec);
  noteServiceCidrOverlap(egress, services);
  CHECK(egress.serviceCidrOverlap.empty());
  CHECK(desiredEgressStatus(egress, &result, json::object(), "2026-12-03T07:00:00Z")["conditions"]
            .size() == 2);
}

TEST_CASE("pool status: usage and the Overlapping condition", "[unit]") {
  const PoolUsage usage{23, 1, {}};
  const auto clean = desiredPoolStatus(usage, {}, nlohmann::json::object(), "2026-11-26T07:00:00Z");
  CHECK(clean["usage"] == nlohmann::json{{"total", 23}, {"used", 1}});
  CHECK(clean["conditions"][0]["type"] == "Overlapping");
  CHECK(clean["conditions"][0]["status"] == "False");
  const PoolOverlap overlap{"zz", "aa", IpRange{*parseIpv4("10.0.0.2"), *parseIpv4("10.0.0.3")}};
  const auto overlapping = desiredPoolStatus(usage, {overlap}, clean, "2026-11-26T08:00:00Z");
  CHECK(overlapping["conditions"][0]["status"] == "True");
  CHECK(overlapping["conditions"][0]["reason"] == "RangesOverlap");
  CHECK_THAT(overlapping["conditions"][0]["message"].get<std::string>(),
             Catch::Contains("10.0.0.2-10.0.0.3 also in ExternalIPPool aa"));
}

// Regression (fuzz_kube_objects): fields of the wrong JSON type threw out of the decoders (and
// so out of the controller's worker). They are now invalid objects with the reason.
TEST_CASE("fuzz regression: wrong JSON types decode as invalid objects, never throw", "[unit]") {
  for (const auto* text : {R"(4)", R"({"metadata":5})", R"({"metadata":{"name":"x"},"spec":[]})",
                           R"({"metadata":{"name":"x","annotations":[1]},"spec":{"ipRanges":[7]}})",
                           R"({"spec":{"appliedTo":3,"egressIPs":[{}]},"status":"up"})"}) {
    INFO(text);
    const auto object = nlohmann::json::parse(text);
    CHECK_NOTHROW(decodePool(object));
    CHECK_NOTHROW(decodeNode(object));
    CHECK_NOTHROW(decodeEgress(object));
  }
  const auto egress = decodeEgress(nlohmann::json::parse(R"({"metadata":{"name":"e"},"spec":[]})"));
  CHECK_THAT(egress.invalidMessage, Catch::Contains("Egress e has a field of the wrong type"));
  const auto pool = decodePool(nlohmann::json::parse(R"({"metadata":{"name":"p"},"spec":4})"));
  REQUIRE(pool.problems.size() == 1);
  CHECK_THAT(pool.problems[0], Catch::Contains("ExternalIPPool p"));
}

}  // namespace
}  // namespace sluice::controller
