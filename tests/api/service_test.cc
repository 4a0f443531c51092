// api::Service and api::EndpointSlice decoding: the fields the proxy uses, and the problems that
// name the object, the field and the fix while everything else keeps working.
#include <catch2/catch.hpp>

#include "api/service.h"

namespace sluice::api {
namespace {

using nlohmann::json;

TEST_CASE("a NodePort Service decodes its ports, policies and affinity", "[unit]") {
  const auto service = Service::decode(json::parse(R"({
    "metadata":{"name":"web","namespace":"shop"},
    "spec":{"type":"NodePort","clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],
      "selector":{"app":"web"},
      "ports":[{"name":"http","port":80,"targetPort":8080,"nodePort":30080},
               {"name":"dns","protocol":"UDP","port":53,"targetPort":"dns"},
               {"name":"num","protocol":"SCTP","port":9,"targetPort":"9000"}],
      "sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":60}},
      "internalTrafficPolicy":"Local","externalTrafficPolicy":"Local"}})"));
  CHECK(service.problems.empty());
  CHECK(service.namespacedName() == "shop/web");
  CHECK(service.clusterIp() == parseIpv4("10.96.0.10"));
  CHECK(service.hasNodePorts());
  REQUIRE(service.spec.ports.size() == 3);
  CHECK(service.spec.ports[0] == ServicePortSpec{"http", Protocol::kTcp, 80, 8080, "", 30080});
  CHECK(service.spec.ports[1] == ServicePortSpec{"dns", Protocol::kUdp, 53, 0, "dns", 0});
  CHECK(service.spec.ports[2] == ServicePortSpec{"num", Protocol::kSctp, 9, 9000, "", 0});
  CHECK(service.spec.selector == std::map<std::string, std::string>{{"app", "web"}});
  CHECK(service.spec.clientIpAffinity);
  CHECK(service.spec.affinityTimeoutSeconds == 60);
  CHECK(service.spec.internalLocal);
  CHECK(service.spec.externalLocal);
}

TEST_CASE("a Service's defaults: TCP, targetPort = port, 10800 s affinity, Cluster policies",
          "[unit]") {
  const auto service = Service::decode(json::parse(R"({
    "metadata":{"name":"a","namespace":"n"},
    "spec":{"clusterIP":"10.96.1.1","ports":[{"port":443}],"sessionAffinity":"ClientIP"}})"));
  CHECK(service.problems.empty());
  CHECK(service.spec.type == "ClusterIP");
  CHECK_FALSE(service.hasNodePorts());
  REQUIRE(service.spec.ports.size() == 1);
  CHECK(service.spec.ports[0] == ServicePortSpec{"", Protocol::kTcp, 443, 443, "", 0});
  CHECK(service.spec.affinityTimeoutSeconds == kDefaultAffinityTimeoutSeconds);
  CHECK_FALSE(service.spec.internalLocal);
  CHECK_FALSE(service.spec.externalLocal);
}

TEST_CASE("headless, ExternalName and IPv6-only Services have no IPv4 ClusterIP", "[unit]") {
  CHECK_FALSE(Service::decode(json::parse(R"({"metadata":{"name":"h","namespace":"n"},
    "spec":{"clusterIP":"None","ports":[{"port":80}]}})"))
                  .clusterIp());
  CHECK_FALSE(Service::decode(json::parse(R"({"metadata":{"name":"e","namespace":"n"},
    "spec":{"type":"ExternalName","externalName":"example.com"}})"))
                  .clusterIp());
  const auto dual = Service::decode(json::parse(R"({"metadata":{"name":"d","namespace":"n"},
    "spec":{"clusterIP":"fd00::10","clusterIPs":["fd00::10","10.96.0.7"]}})"));
  CHECK(dual.problems.empty());
  CHECK(dual.clusterIp() == parseIpv4("10.96.0.7"));
}

TEST_CASE("an unknown protocol skips that port with a problem naming the field and the fix",
          "[unit]") {
  const auto service = Service::decode(json::parse(R"({"metadata":{"name":"w","namespace":"n"},
    "spec":{"clusterIP":"10.96.0.3","ports":[{"name":"a","protocol":"QUIC","port":1},
                                              {"name":"b","port":2}]}})"));
  REQUIRE(service.problems.size() == 1);
  CHECK(service.problems[0].field == "spec.ports[0].protocol");
  CHECK_THAT(service.problems[0].message, Catch::StartsWith("Service n/w: spec.ports[0].protocol"));
  CHECK_THAT(service.problems[0].message, Catch::Contains("use TCP, UDP or SCTP"));
  REQUIRE(service.spec.ports.size() == 1);
  CHECK(service.spec.ports[0].name == "b");
}

TEST_CASE("a malformed clusterIP, port or timeout is a problem, never an exception", "[unit]") {
  const auto service = Service::decode(json::parse(R"({"metadata":{"name":"w","namespace":"n"},
    "spec":{"clusterIP":"10.96.0.300","ports":[{"port":70000},{"name":"x"},"junk"],
    "sessionAffinityConfig":{"clientIP":{"timeoutSeconds":0}}}})"));
  CHECK(service.problems.size() == 5);
  CHECK(service.spec.ports.empty());
  CHECK_FALSE(service.clusterIp());
  CHECK(service.spec.affinityTimeoutSeconds == kDefaultAffinityTimeoutSeconds);
  CHECK_NOTHROW(Service::decode(json(3)));
  CHECK(Service::decode(json::parse(R"({"metadata":{"name":"w"},"spec":[]})")).problems.size() ==
        1);
}

TEST_CASE("an EndpointSlice decodes endpoints, conditions and ports", "[unit]") {
  const auto slice = EndpointSlice::decode(json::parse(R"({
    "metadata":{"name":"web-abc","namespace":"shop",
                "labels":{"kubernetes.io/service-name":"web"}},
    "addressType":"IPv4",
    "endpoints":[{"addresses":["10.244.1.5"],"nodeName":"node01"},
                 {"addresses":["10.244.2.6"],"conditions":{"ready":false},"nodeName":"node02"},
                 {"addresses":["10.244.2.7"],
                  "conditions":{"ready":false,"serving":true,"terminating":true}}],
    "ports":[{"name":"http","port":8080,"protocol":"TCP"},{"name":"dns","port":53,
              "protocol":"UDP"}]})"));
  CHECK(slice.problems.empty());
  CHECK(slice.serviceKey() == "shop/web");
  REQUIRE(slice.endpoints.size() == 3);
  CHECK(slice.endpoints[0] ==
        Endpoint{{*parseIpv4("10.244.1.5")}, EndpointConditions{true, true, false}, "node01"});
  // Absent serving is the same as ready.
  CHECK(slice.endpoints[1].conditions == EndpointConditions{false, false, false});
  CHECK(slice.endpoints[2].conditions == EndpointConditions{false, true, true});
  CHECK(slice.endpoints[2].nodeName.empty());
  REQUIRE(slice.ports.size() == 2);
  CHECK(slice.ports[1] == EndpointPort{"dns", Protocol::kUdp, 53});
}

TEST_CASE("a malformed address skips only its endpoint, with a problem", "[unit]") {
  const auto slice = EndpointSlice::decode(json::parse(R"({
    "metadata":{"name":"s","namespace":"n","labels":{"kubernetes.io/service-name":"web"}},
    "addressType":"IPv4",
    "endpoints":[{"addresses":["10.244.1.999"]},{"addresses":["10.244.1.6"]},{"addresses":[]},
                 {"addresses":["10.244.1.7"],"conditions":{"ready":"yes"}}],
    "ports":[{"port":80,"protocol":"ICMP"},{"port":81}]})"));
  REQUIRE(slice.problems.size() == 4);
  CHECK(slice.problems[0].field == "endpoints[0].addresses[0]");
  CHECK_THAT(slice.problems[0].message,
             Catch::StartsWith("EndpointSlice n/s: endpoints[0].addresses[0]"));
  CHECK_THAT(slice.problems[0].message, Catch::Contains("not an IPv4 address"));
  CHECK(slice.problems[1].field == "endpoints[2].addresses");
  CHECK(slice.problems[2].field == "endpoints[3].conditions.ready");
  CHECK(slice.problems[3].field == "ports[0].protocol");
  REQUIRE(slice.endpoints.size() == 2);
  CHECK(slice.endpoints[0].addresses == std::vector<Ipv4>{*parseIpv4("10.244.1.6")});
  CHECK(slice.endpoints[1].conditions.ready);  // the wrong type reads as absent
  REQUIRE(slice.ports.size() == 1);
  CHECK(slice.ports[0].port == 81);
}

TEST_CASE("a slice without the service-name label is a problem; IPv6 slices give nothing",
          "[unit]") {
  const auto orphan = EndpointSlice::decode(json::parse(R"({
    "metadata":{"name":"s","namespace":"n"},"addressType":"IPv4",
    "endpoints":[{"addresses":["10.244.1.6"]}]})"));
  REQUIRE(orphan.problems.size() == 1);
  CHECK_THAT(orphan.problems[0].message, Catch::Contains("kubernetes.io/service-name"));
  CHECK(orphan.serviceKey().empty());
  const auto six = EndpointSlice::decode(json::parse(R"({
    "metadata":{"name":"s6","namespace":"n","labels":{"kubernetes.io/service-name":"web"}},
    "addressType":"IPv6","endpoints":[{"addresses":["fd00::5"]}]})"));
  CHECK(six.problems.empty());
  CHECK(six.endpoints.empty());
}

}  // namespace
}  // namespace sluice::api
