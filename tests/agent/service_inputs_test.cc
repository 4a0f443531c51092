// The service proxy's pure inputs: Services + EndpointSlices to frontends, group IDs, and the
// node side's nftables script.
#include <catch2/catch.hpp>

#include "agent/service_host.h"
#include "agent/service_inputs.h"

namespace sluice::agent {
namespace {

using nlohmann::json;

api::Service service(const char* text) { return api::Service::decode(json::parse(text)); }
api::EndpointSlice slice(const char* text) { return api::EndpointSlice::decode(json::parse(text)); }

const char* kWeb = R"({"metadata":{"name":"web","namespace":"shop"},
  "spec":{"type":"NodePort","clusterIP":"10.96.0.10","externalTrafficPolicy":"Local",
    "sessionAffinity":"ClientIP",
    "ports":[{"name":"http","port":80,"targetPort":"http","nodePort":30080},
             {"name":"dns","protocol":"UDP","port":53}]}})";

TEST_CASE("a Service port per frontend, endpoints matched by port name across slices", "[unit]") {
  const auto web = service(kWeb);
  const std::vector<api::EndpointSlice> slices = {
      slice(R"({"metadata":{"name":"web-a","namespace":"shop",
          "labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4",
        "endpoints":[{"addresses":["10.244.1.5"],"nodeName":"node01"},
                     {"addresses":["10.244.2.5"],"nodeName":"node02",
                      "conditions":{"ready":false}}],
        "ports":[{"name":"http","port":8080},{"name":"dns","port":5353,"protocol":"UDP"}]})"),
      // A second slice repeats 10.244.2.5, ready this time, and adds one more.
      slice(R"({"metadata":{"name":"web-b","namespace":"shop",
          "labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4",
        "endpoints":[{"addresses":["10.244.2.5"],"nodeName":"node02"},
                     {"addresses":["10.244.3.5"],"nodeName":"node03"}],
        "ports":[{"name":"http","port":8080}]})"),
      // An IPv6 slice of the same Service gives nothing.
      slice(R"({"metadata":{"name":"web-6","namespace":"shop",
          "labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv6",
        "endpoints":[{"addresses":["fd00::5"]}],"ports":[{"name":"http","port":8080}]})")};
  const auto ports = servicePorts(web, slices, "node01");
  REQUIRE(ports.size() == 2);
  const auto& http = ports[0];
  CHECK(http.service == "shop/web");
  CHECK(http.portName == "http");
  CHECK(http.protocol == features::ServiceProtocol::kTcp);
  CHECK(http.clusterIp == *parseIpv4("10.96.0.10"));
  CHECK(http.port == 80);
  CHECK(http.nodePort == 30080);
  CHECK(http.externalLocal);
  CHECK_FALSE(http.internalLocal);
  CHECK(http.affinityTimeoutSeconds == std::optional<std::uint32_t>(10800));
  REQUIRE(http.endpoints.size() == 3);
  CHECK(http.endpoints[0].ip == *parseIpv4("10.244.1.5"));
  CHECK(http.endpoints[0].port == 8080);
  CHECK(http.endpoints[0].local);
  CHECK(http.endpoints[1].ip == *parseIpv4("10.244.2.5"));
  CHECK(http.endpoints[1].ready);  // the better of the two copies
  CHECK_FALSE(http.endpoints[1].local);
  const auto& dns = ports[1];
  CHECK(dns.protocol == features::ServiceProtocol::kUdp);
  CHECK(dns.nodePort == 0);
  REQUIRE(dns.endpoints.size() == 2);  // only web-a has the dns port
  CHECK(dns.endpoints[0].port == 5353);
  CHECK_FALSE(dns.endpoints[1].ready);
}

TEST_CASE("a port the slices do not name, or name with another protocol, has no endpoints",
          "[unit]") {
  const auto ports =
      servicePorts(service(kWeb), {slice(R"({"metadata":{"name":"s","namespace":"shop",
      "labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4",
      "endpoints":[{"addresses":["10.244.1.5"]}],
      "ports":[{"name":"dns","port":53,"protocol":"TCP"},{"name":"other","port":1}]})")},
                   "node01");
  REQUIRE(ports.size() == 2);
  CHECK(ports[0].endpoints.empty());
  CHECK(ports[1].endpoints.empty());
}

TEST_CASE("headless, ExternalName and ClusterIP-less Services get no ClusterIP frontend",
          "[unit]") {
  CHECK(servicePorts(service(R"({"metadata":{"name":"h","namespace":"n"},
    "spec":{"clusterIP":"None","ports":[{"port":80}]}})"),
                     {}, "node01")
            .empty());
  CHECK(servicePorts(service(R"({"metadata":{"name":"e","namespace":"n"},
    "spec":{"type":"ExternalName","externalName":"x.example","ports":[{"port":80}]}})"),
                     {}, "node01")
            .empty());
  CHECK(servicePorts(service(R"({"metadata":{"name":"p","namespace":"n"},
    "spec":{"ports":[{"port":80}]}})"),
                     {}, "node01")
            .empty());
  // A ClusterIP Service's nodePort field (left from a type change) is not served.
  const auto ports = servicePorts(service(R"({"metadata":{"name":"c","namespace":"n"},
    "spec":{"clusterIP":"10.96.0.4","ports":[{"port":80,"nodePort":30001}]}})"),
                                  {}, "node01");
  REQUIRE(ports.size() == 1);
  CHECK(ports[0].nodePort == 0);
  CHECK_FALSE(ports[0].affinityTimeoutSeconds);
}

features::ServicePort frontend(const char* service, const char* name, std::uint16_t nodePort) {
  features::ServicePort port;
  port.service = service;
  port.portName = name;
  port.nodePort = nodePort;
  return port;
}

TEST_CASE("group IDs are stable per frontend and kind, freed IDs are reused, none collide",
          "[unit]") {
  ServiceGroupAllocator ids(100);
  const auto a = ids.assign(frontend("n/a", "http", 30080));
  CHECK(a.cluster == 100);
  CHECK(a.external == 101);
  const auto b = ids.assign(frontend("n/b", "", 0));
  CHECK(b.cluster == 102);
  CHECK(b.external == 0);
  CHECK(ids.assign(frontend("n/a", "http", 30080)).cluster == 100);  // stable
  CHECK(ids.assign(frontend("n/a", "http", 30080)).external == 101);
  // a loses its NodePort: its external ID is freed and goes to the next one that needs one.
  CHECK(ids.assign(frontend("n/a", "http", 0)).external == 0);
  const auto c = ids.assign(frontend("n/c", "", 30090));
  CHECK(c.cluster == 101);
  CHECK(c.external == 103);
  ids.releaseService("n/a");
  CHECK(ids.size() == 3);
  CHECK(ids.assign(frontend("n/d", "", 0)).cluster == 100);
  // Keeping some ports of a Service frees only the others.
  ids.assign(frontend("n/c", "dns", 0));
  ids.releaseService("n/c", {frontendKey(frontend("n/c", "dns", 0))});
  CHECK(ids.assign(frontend("n/c", "dns", 0)).cluster == 104);
  CHECK(ids.size() == 3);
}

TEST_CASE("NodePort rules: one per protocol and port, masquerade unless Local", "[unit]") {
  auto cluster = frontend("n/a", "", 30080);
  auto local = frontend("n/b", "", 30081);
  local.externalLocal = true;
  auto udp = frontend("n/c", "", 30080);
  udp.protocol = features::ServiceProtocol::kUdp;
  const auto rules = nodePortRules({local, cluster, udp, frontend("n/d", "", 0)});
  REQUIRE(rules.size() == 3);
  CHECK(rules[0] == NodePortRule{features::ServiceProtocol::kTcp, 30080, true});
  CHECK(rules[1] == NodePortRule{features::ServiceProtocol::kTcp, 30081, false});
  CHECK(rules[2] == NodePortRule{features::ServiceProtocol::kUdp, 30080, true});
}

TEST_CASE("the nftables script replaces the table: DNAT, masquerade and the CIDR's reject",
          "[unit]") {
  ServiceHostPlan plan{.enabled = true,
                       .nodeIp = *parseIpv4("10.10.2.1"),
                       .nodePortAddresses = {},
                       .serviceCidr = *parseCidr("10.96.0.0/12"),
                       .gateway = "sluice-gw0",
                       .nodePorts = {{features::ServiceProtocol::kTcp, 30080, true},
                                     {features::ServiceProtocol::kUdp, 30053, false}}};
  const auto script = renderServiceNftables(plan);
  CHECK_THAT(script, Catch::StartsWith("add table ip sluice-proxy\ndelete table ip sluice-proxy\n"
                                       "table ip sluice-proxy {\n"));
  CHECK_THAT(script, Catch::Contains("ip daddr 10.10.2.1 tcp dport 30080 dnat to 169.254.0.252"));
  CHECK_THAT(script, Catch::Contains("ip daddr 10.10.2.1 udp dport 30053 dnat to 169.254.0.252"));
  CHECK_THAT(script, Catch::Contains("ip daddr 169.254.0.252 tcp dport 30080 masquerade"));
  CHECK_THAT(script, !Catch::Contains("udp dport 30053 masquerade"));
  CHECK_THAT(script, Catch::Contains("type nat hook prerouting priority -100"));
  CHECK_THAT(script, Catch::Contains("type nat hook postrouting priority 100"));
  CHECK_THAT(script,
             Catch::Contains("ip daddr 10.96.0.0/12 meta l4proto tcp reject with tcp reset\n"));
  CHECK_THAT(script,
             Catch::Contains("ip daddr 10.96.0.0/12 reject with icmp type port-unreachable\n"));
  CHECK_THAT(script, Catch::Contains("oifname != \"sluice-gw0\" meta l4proto tcp reject"));
  plan.nodePortAddresses = {*parseCidr("10.10.0.0/16"), *parseCidr("192.168.0.0/24")};
  CHECK_THAT(renderServiceNftables(plan),
             Catch::Contains("fib daddr type local ip daddr { 10.10.0.0/16, 192.168.0.0/24 } tcp "
                             "dport 30080 dnat to 169.254.0.252"));
  plan.enabled = false;
  CHECK(renderServiceNftables(plan) == "add table ip sluice-proxy\ndelete table ip sluice-proxy\n");
  CHECK_THAT(renderSnatNftables("sluice-gw0"),
             Catch::Contains("type filter hook prerouting priority raw;") &&
                 Catch::Contains("iifname \"sluice-gw0\" ether saddr aa:bb:cc:dd:ee:fd notrack"));
}

TEST_CASE("reserved group IDs are kept after a restart and never given twice", "[unit]") {
  ServiceGroupAllocator ids(100);
  CHECK(ids.reserve(frontend("n/a", "", 30080), {103, 105}));
  CHECK_FALSE(ids.reserve(frontend("n/b", "", 0), {103, 0}));  // a's
  CHECK_FALSE(ids.reserve(frontend("n/c", "", 0), {7, 0}));    // below the range
  // The gaps below the reserved IDs are given out first.
  CHECK(ids.assign(frontend("n/b", "", 0)).cluster == 100);
  CHECK(ids.assign(frontend("n/c", "", 0)).cluster == 101);
  CHECK(ids.assign(frontend("n/d", "", 0)).cluster == 102);
  CHECK(ids.assign(frontend("n/e", "", 0)).cluster == 104);
  CHECK(ids.assign(frontend("n/f", "", 0)).cluster == 106);
  CHECK(ids.assign(frontend("n/a", "", 30080)).external == 105);
}

TEST_CASE("the services cache round-trips frontends and their group IDs", "[unit]") {
  auto port = frontend("shop/web", "http", 30080);
  port.protocol = features::ServiceProtocol::kUdp;
  port.clusterIp = *parseIpv4("10.96.0.10");
  port.port = 80;
  port.externalLocal = true;
  port.affinityTimeoutSeconds = 60;
  port.endpoints = {{*parseIpv4("10.244.1.5"), 8080, true, true, false, true}};
  const auto saved = servicePortsToJson({{"shop/web", {{port}, {{100, 101}}}}});
  const auto loaded = servicePortsFromJson(saved);
  REQUIRE(loaded.contains("shop/web"));
  const auto& [ports, groups] = loaded.at("shop/web");
  REQUIRE(ports.size() == 1);
  CHECK(ports[0].service == "shop/web");
  CHECK(ports[0].protocol == features::ServiceProtocol::kUdp);
  CHECK(ports[0].clusterIp == port.clusterIp);
  CHECK(ports[0].nodePort == 30080);
  CHECK(ports[0].externalLocal);
  CHECK(ports[0].affinityTimeoutSeconds == std::optional<std::uint32_t>(60));
  REQUIRE(ports[0].endpoints.size() == 1);
  CHECK(ports[0].endpoints[0].local);
  CHECK(groups[0].cluster == 100);
  CHECK(groups[0].external == 101);
  CHECK(servicePortsFromJson(json::parse(R"({"a/b":[{"portName":1}],"c/d":3})")).empty());
  CHECK(servicePortsFromJson(json(3)).empty());
}

}  // namespace
}  // namespace sluice::agent
