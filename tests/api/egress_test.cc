// api::Egress: every field decoded once, wrong types as problems naming the field, and the
// status wire form the controller writes and the agents and sluicectl read.
#include <catch2/catch.hpp>

#include "api/egress.h"

namespace sluice::api {
namespace {

using nlohmann::json;

json listing1() {
  return json::parse(R"({
    "apiVersion": "crd.antrea.io/v1beta1", "kind": "Egress",
    "metadata": {"name": "egress-prod-web", "uid": "u1", "resourceVersion": "7", "generation": 2,
                 "creationTimestamp": "2026-11-26T06:40:00Z"},
    "spec": {"appliedTo": {"namespaceSelector": {"matchLabels": {"env": "prod"}},
                           "podSelector": {"matchLabels": {"role": "web"}}},
             "egressIP": "10.10.0.8", "externalIPPool": "prod-external-ip-pool",
             "destinationCIDRs": ["203.0.113.0/24"]},
    "status": {"egressIP": "10.10.0.8", "egressNode": "node02",
               "conditions": [{"type": "IPAssigned", "status": "True", "reason": "Assigned",
                               "message": "on node02", "lastTransitionTime": "2026-11-26T06:41:00Z"}]}
  })");
}

TEST_CASE("an Egress decodes into its typed model", "[unit]") {
  const auto egress = Egress::decode(listing1());
  CHECK(egress.problems.empty());
  CHECK(egress.metadata.name == "egress-prod-web");
  CHECK(egress.metadata.uid == "u1");
  CHECK(egress.metadata.resourceVersion == "7");
  CHECK(egress.metadata.generation == 2);
  CHECK(egress.metadata.creationOrder > 0);
  CHECK(egress.spec.hasAppliedTo);
  CHECK(egress.spec.appliedTo.hasPodSelector);
  REQUIRE(egress.spec.appliedTo.podSelector);
  CHECK(egress.spec.appliedTo.podSelector->matchLabels.at("role") == "web");
  REQUIRE(egress.spec.appliedTo.namespaceSelector);
  CHECK(egress.spec.egressIP == "10.10.0.8");
  CHECK(egress.spec.externalIPPool == "prod-external-ip-pool");
  CHECK_FALSE(egress.spec.multiIp());
  CHECK(egress.spec.destinationCIDRs == std::vector<Cidr>{*parseCidr("203.0.113.0/24")});
  CHECK(egress.status.assignments() ==
        std::vector<EgressIpStatus>{{"10.10.0.8", "node02", "", ""}});
  const auto* assigned = findCondition(egress.status.conditions, "IPAssigned");
  REQUIRE(assigned);
  CHECK(assigned->status == "True");
  CHECK(assigned->lastTransitionTime == "2026-11-26T06:41:00Z");
  CHECK(findCondition(egress.status.conditions, "IPAllocated") == nullptr);
}

TEST_CASE("status.egressIPs wins over the single form and carries previousNode", "[unit]") {
  auto object = listing1();
  object["status"]["egressIPs"] =
      json::parse(R"([{"ip":"10.10.0.8","node":"node03","previousNode":"node02","pool":"p"}, 7])");
  const auto egress = Egress::decode(object);
  CHECK(egress.problems.empty());  // an entry that is not an object is skipped
  CHECK(egress.status.assignments() ==
        std::vector<EgressIpStatus>{{"10.10.0.8", "node03", "p", "node02"}});
}

TEST_CASE("the status wire form round-trips", "[unit]") {
  EgressStatus status;
  status.egressIP = "10.10.0.8";
  status.egressNode = "node02";
  status.egressIPs = std::vector<EgressIpStatus>{{"10.10.0.8", "node02", "pool-a", ""},
                                                 {"10.10.0.9", "", "", "node01"}};
  status.conditions = {{"IPAllocated", "True", "Allocated", "ok", "2026-11-26T06:40:00Z"}};
  const auto wire = toJson(status);
  CHECK(wire["egressIPs"][0] == json{{"ip", "10.10.0.8"}, {"node", "node02"}, {"pool", "pool-a"}});
  CHECK(wire["egressIPs"][1] ==
        json{{"ip", "10.10.0.9"}, {"node", ""}, {"previousNode", "node01"}});
  std::vector<Problem> problems;
  CHECK(decodeEgressStatus(wire, "e", problems) == status);
  CHECK(problems.empty());
  CHECK(toJson(EgressStatus{}) == json{{"conditions", json::array()}});
}

TEST_CASE("fields of the wrong type are problems naming the field, never exceptions", "[unit]") {
  for (const auto* text : {R"(4)", R"({"metadata":5})", R"({"metadata":{"name":"e"},"spec":[]})",
                           R"({"metadata":{"name":"e"},"spec":{},"status":"up"})",
                           R"({"metadata":{"name":"e"},"spec":{"egressIPs":["10.0.0.1",5]}})",
                           R"({"metadata":{"name":"e","generation":"two"}})",
                           R"({"metadata":{"name":"e"},"status":{"egressIPs":[{"ip":3}]}})"}) {
    INFO(text);
    Egress egress;
    CHECK_NOTHROW(egress = Egress::decode(json::parse(text)));
    REQUIRE_FALSE(egress.problems.empty());
    CHECK_THAT(egress.problems[0].message, Catch::Contains("has a field of the wrong type"));
    CHECK_THAT(egress.problems[0].message, Catch::Contains("fix the object"));
  }
  const auto egress =
      Egress::decode(json::parse(R"({"metadata":{"name":"e"},"spec":{"egressIP":5}})"));
  REQUIRE(egress.problems.size() == 1);
  CHECK(egress.problems[0].field == "spec.egressIP");
  CHECK(egress.problems[0].message ==
        "Egress e has a field of the wrong type (spec.egressIP must be a string, not number); "
        "fix the object to match the CRD schema");
  CHECK(egress.problems[0].detail == "spec.egressIP must be a string, not number");
}

TEST_CASE("invalid selectors and CIDRs are problems with the object in front", "[unit]") {
  auto object = listing1();
  object["spec"]["destinationCIDRs"] = {"10.0.0.1/8"};
  auto egress = Egress::decode(object);
  REQUIRE(egress.problems.size() == 1);
  CHECK(egress.problems[0].field == "spec.destinationCIDRs[0]");
  CHECK(egress.problems[0].message ==
        "Egress egress-prod-web: spec.destinationCIDRs[0]: \"10.0.0.1/8\" is not an IPv4 CIDR "
        "such as 203.0.113.0/24");
  CHECK(egress.spec.destinationCIDRs.empty());

  object = listing1();
  object["spec"]["excludedCIDRs"] = "10.0.0.0/8";
  egress = Egress::decode(object);
  REQUIRE(egress.problems.size() == 1);
  CHECK(egress.problems[0].detail == "spec.excludedCIDRs must be a list of IPv4 CIDRs");

  object = listing1();
  object["spec"]["appliedTo"]["podSelector"] = {{"matchLabels", {{"bad key!", "x"}}}};
  egress = Egress::decode(object);
  REQUIRE(egress.problems.size() == 1);
  CHECK(egress.problems[0].field == "spec.appliedTo.podSelector");
  CHECK_FALSE(egress.spec.appliedTo.podSelector);
  CHECK(egress.spec.appliedTo.hasPodSelector);
}

TEST_CASE("null reads as absent; the list forms make a multi-IP Egress", "[unit]") {
  const auto egress = Egress::decode(json::parse(R"({"metadata":{"name":"e"},
    "spec":{"appliedTo":{"podSelector":null},"egressIP":null,"externalIPPools":["a","b"]}})"));
  CHECK(egress.problems.empty());
  CHECK(egress.spec.appliedTo.hasPodSelector);
  CHECK_FALSE(egress.spec.appliedTo.podSelector);
  CHECK(egress.spec.egressIP.empty());
  CHECK(egress.spec.multiIp());
  CHECK(egress.spec.externalIPPools == std::vector<std::string>{"a", "b"});
}

TEST_CASE("isUnder matches a field and what lies beneath it", "[unit]") {
  CHECK(isUnder("spec.appliedTo", "spec.appliedTo"));
  CHECK(isUnder("spec.appliedTo.podSelector", "spec.appliedTo"));
  CHECK(isUnder("spec.egressIPs[1]", "spec.egressIPs"));
  CHECK_FALSE(isUnder("spec.appliedToX", "spec.appliedTo"));
  CHECK_FALSE(isUnder("spec", "spec.appliedTo"));
}

}  // namespace
}  // namespace sluice::api
