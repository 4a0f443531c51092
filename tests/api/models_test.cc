// api::ExternalIpPool, api::Node, api::Pod and api::Namespace decoding.
#include <catch2/catch.hpp>

#include "api/core.h"
#include "api/external_ip_pool.h"

namespace sluice::api {
namespace {

using nlohmann::json;

TEST_CASE("an ExternalIPPool keeps its ranges as written", "[unit]") {
  const auto pool = ExternalIpPool::decode(json::parse(R"({"metadata":{"name":"p"},
    "spec":{"ipRanges":[{"cidr":"10.10.1.0/28"},{"start":"10.10.0.2","end":"10.10.0.9"},3],
            "nodeSelector":{"matchLabels":{"role":"egress"}}},
    "status":{"usage":{"total":20,"used":1},
              "conditions":[{"type":"Overlapping","status":"False","reason":"NoOverlap"}]}})"));
  CHECK(pool.problems.empty());
  REQUIRE(pool.spec.ipRanges.size() == 3);
  CHECK(pool.spec.ipRanges[0] == IpRangeSpec{"10.10.1.0/28", "", ""});
  CHECK(pool.spec.ipRanges[1] == IpRangeSpec{"", "10.10.0.2", "10.10.0.9"});
  CHECK_FALSE(pool.spec.ipRanges[2]);
  CHECK(pool.spec.hasNodeSelector);
  REQUIRE(pool.spec.nodeSelector);
  CHECK(pool.status.total == 20);
  CHECK(pool.status.used == 1);
  CHECK(findCondition(pool.status.conditions, "Overlapping")->reason == "NoOverlap");
}

TEST_CASE("an invalid nodeSelector is a problem, and the pool knows one was given", "[unit]") {
  const auto pool = ExternalIpPool::decode(json::parse(
      R"({"metadata":{"name":"p"},"spec":{"nodeSelector":{"matchExpressions":[{"key":"a"}]}}})"));
  REQUIRE(pool.problems.size() == 1);
  CHECK(pool.problems[0].field == "spec.nodeSelector");
  CHECK_THAT(pool.problems[0].message, Catch::StartsWith("ExternalIPPool p: spec.nodeSelector"));
  CHECK(pool.spec.hasNodeSelector);
  CHECK_FALSE(pool.spec.nodeSelector);
  const auto wrong = ExternalIpPool::decode(json::parse(R"({"metadata":{"name":"p"},"spec":4})"));
  REQUIRE(wrong.problems.size() == 1);
  CHECK_THAT(wrong.problems[0].message, Catch::Contains("ExternalIPPool p has a field"));
}

TEST_CASE("a Node gives its podCIDR, InternalIP, labels and annotations", "[unit]") {
  const auto node = Node::decode(json::parse(R"({
    "metadata":{"name":"node02","labels":{"role":"egress","n":1},
                "annotations":{"sluice.io/egress-ip-capacity":"3"}},
    "spec":{"podCIDR":"10.244.2.0/24"},
    "status":{"addresses":[{"type":"Hostname","address":"node02"},
                           {"type":"InternalIP","address":"10.10.2.1"}]}})"));
  CHECK(node.problems.empty());
  CHECK(node.metadata.labels == kube::Labels{{"role", "egress"}});
  CHECK(node.metadata.annotations.at(kEgressCapacityAnnotation) == "3");
  CHECK(node.podCidr() == parseCidr("10.244.2.0/24"));
  CHECK(node.internalIp() == parseIpv4("10.10.2.1"));
  const auto bare = Node::decode(json::parse(R"({"metadata":{"name":"node03"}})"));
  CHECK_FALSE(bare.podCidr());
  CHECK_FALSE(bare.internalIp());
  CHECK(bare.problems.empty());
}

TEST_CASE("a Pod gives its namespace, labels, node and IP; a Namespace its labels", "[unit]") {
  const auto pod = Pod::decode(json::parse(R"({
    "metadata":{"name":"web-1","namespace":"prod","labels":{"role":"web"}},
    "spec":{"nodeName":"node01"},"status":{"podIP":"10.244.1.5"}})"));
  CHECK(pod.problems.empty());
  CHECK(pod.metadata.namespaceName == "prod");
  CHECK(pod.metadata.labels.at("role") == "web");
  CHECK(pod.nodeName == "node01");
  CHECK(pod.ip() == parseIpv4("10.244.1.5"));
  const auto bad = Pod::decode(json::parse(R"({"metadata":{"name":"x"},"spec":{"nodeName":1}})"));
  REQUIRE(bad.problems.size() == 1);
  CHECK(bad.problems[0].field == "spec.nodeName");

  const auto ns =
      Namespace::decode(json::parse(R"({"metadata":{"name":"prod","labels":{"env":"prod"}}})"));
  CHECK(ns.metadata.name == "prod");
  CHECK(ns.metadata.labels.at("env") == "prod");
  CHECK(Namespace::decode(json(4)).problems.size() == 1);
}

}  // namespace
}  // namespace sluice::api
