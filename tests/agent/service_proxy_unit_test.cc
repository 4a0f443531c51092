// ServiceProxyUnit against fakes: owners per Service, group IDs, the node side's plan, Events on
// bad input, and the owner dropped when the Service goes.
#include <catch2/catch.hpp>

#include <filesystem>

#include <unistd.h>

#include "agent/service_proxy_unit.h"
#include "fakes.h"

namespace sluice::agent {
namespace {

using nlohmann::json;

class FakeServiceStore : public ServiceStore {
 public:
  kube::ObjectPtr service(const std::string& key) const override {
    return find(servicesByKey, key);
  }
  std::vector<kube::ObjectPtr> services() const override { return all(servicesByKey); }
  kube::ObjectPtr slice(const std::string& key) const override { return find(slicesByKey, key); }
  std::vector<kube::ObjectPtr> slices() const override { return all(slicesByKey); }
  void putService(const char* text) { put(servicesByKey, text); }
  void putSlice(const char* text) { put(slicesByKey, text); }

  std::map<std::string, kube::ObjectPtr> servicesByKey;
  std::map<std::string, kube::ObjectPtr> slicesByKey;

 private:
  static void put(std::map<std::string, kube::ObjectPtr>& map, const char* text) {
    auto object = std::make_shared<const json>(json::parse(text));
    map[kube::keyOf(*object)] = object;
  }
  static kube::ObjectPtr find(const std::map<std::string, kube::ObjectPtr>& map,
                              const std::string& key) {
    const auto found = map.find(key);
    return found == map.end() ? nullptr : found->second;
  }
  static std::vector<kube::ObjectPtr> all(const std::map<std::string, kube::ObjectPtr>& map) {
    std::vector<kube::ObjectPtr> out;
    for (const auto& [key, object] : map) out.push_back(object);
    return out;
  }
};

struct Recorded {
  std::string object;
  std::string reason;
  std::string message;
};

struct ProxyFixture {
  ofrules::Pipeline pipeline;
  features::NodeNetwork network{"node01",
                                *parseIpv4("10.10.2.1"),
                                *parseCidr("10.244.1.0/24"),
                                "02:00:00:00:01:01",
                                {*parseCidr("10.244.1.0/24")}};
  testing::FakeFlowSink sink;
  testing::FakeServiceHost host;
  FakeServiceStore store;
  TaskLoop loop;
  std::vector<Recorded> events;
  int changes = 0;
  std::unique_ptr<ServiceProxyUnit> unit;

  explicit ProxyFixture(bool enabled = true, std::string cachePath = "") {
    ofrules::PipelineBuilder builder;
    features::declarePodNetworkTables(builder);
    features::declareEgressTables(builder);
    features::declareServiceTables(builder);
    pipeline = builder.build();
    unit = std::make_unique<ServiceProxyUnit>(ServiceProxyUnit::Dependencies{
        .loop = loop,
        .pipeline = pipeline,
        .network = network,
        .integration = sink,
        .host = host,
        .config = {.enabled = enabled, .serviceCidr = *parseCidr("10.96.0.0/12")},
        .nodePortAddresses = {},
        .serviceCidrSource = "default",
        .gateway = "sluice-gw0",
        .recordProblem =
            [this](const json& object, const std::string& reason, const std::string& message) {
              events.push_back({kube::keyOf(object), reason, message});
            },
        .onChanged = [this] { ++changes; },
        .cachePath = std::move(cachePath)});
    unit->setStore(store);
  }
};

const char* kWeb = R"({"metadata":{"name":"web","namespace":"shop"},
  "spec":{"type":"NodePort","clusterIP":"10.96.0.10",
    "ports":[{"name":"http","port":80,"targetPort":8080,"nodePort":30080}]}})";
const char* kWebSlice = R"({"metadata":{"name":"web-a","namespace":"shop",
    "labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4",
  "endpoints":[{"addresses":["10.244.1.5"],"nodeName":"node01"},
               {"addresses":["10.244.2.5"],"nodeName":"node02"}],
  "ports":[{"name":"http","port":8080}]})";

TEST_CASE("the proxy unit sets the node flows once and the node side without NodePorts", "[unit]") {
  ProxyFixture fixture;
  REQUIRE(fixture.unit->installNodeFlows().ok());
  CHECK(fixture.sink.owners.contains("proxy"));
  REQUIRE(fixture.host.plans.size() == 1);
  CHECK(fixture.host.plans[0].enabled);
  CHECK(fixture.host.plans[0].nodeIp == fixture.network.nodeIp);
  CHECK(fixture.host.plans[0].serviceCidr == *parseCidr("10.96.0.0/12"));
  CHECK(fixture.host.plans[0].nodePorts.empty());
}

TEST_CASE("with the proxy off the node side is removed and nothing is watched", "[unit]") {
  ProxyFixture fixture(false);
  REQUIRE(fixture.unit->installNodeFlows().ok());
  REQUIRE(fixture.host.plans.size() == 1);
  CHECK_FALSE(fixture.host.plans[0].enabled);
}

TEST_CASE("a Service becomes its owner with group IDs, NodePort rules and endpoints", "[unit]") {
  ProxyFixture fixture;
  fixture.store.putService(kWeb);
  fixture.store.putSlice(kWebSlice);
  fixture.unit->reconcileAll();
  CHECK(fixture.sink.owners.contains("service:shop/web"));
  REQUIRE(fixture.unit->services().size() == 1);
  const auto& view = fixture.unit->services().at("shop/web");
  REQUIRE(view.ports.size() == 1);
  REQUIRE(view.groups.size() == 1);
  CHECK(view.groups[0].cluster != 0);
  CHECK(view.groups[0].external != 0);
  CHECK(view.groups[0].cluster != view.groups[0].external);
  CHECK(view.ports[0].endpoints.size() == 2);
  CHECK(fixture.unit->endpointCount() == 2);
  REQUIRE_FALSE(fixture.host.plans.empty());
  CHECK(fixture.host.plans.back().nodePorts ==
        std::vector<NodePortRule>{{features::ServiceProtocol::kTcp, 30080, true}});
  CHECK(fixture.sink.syncs == 1);
  CHECK(fixture.changes == 1);
  CHECK(fixture.events.empty());

  // Reconciled again: the same IDs.
  const auto ids = view.groups[0];
  fixture.unit->reconcile({"shop/web"});
  CHECK(fixture.unit->services().at("shop/web").groups[0].cluster == ids.cluster);

  // The Service goes: its owner, its IDs and its NodePort go too.
  fixture.store.servicesByKey.clear();
  fixture.unit->reconcile({"shop/web"});
  CHECK_FALSE(fixture.sink.owners.contains("service:shop/web"));
  CHECK(fixture.unit->services().empty());
  CHECK(fixture.host.plans.back().nodePorts.empty());
}

TEST_CASE("a malformed slice is an Event on it; its good endpoints are still served", "[unit]") {
  ProxyFixture fixture;
  fixture.store.putService(kWeb);
  fixture.store.putSlice(R"({"metadata":{"name":"web-a","namespace":"shop",
      "labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4",
    "endpoints":[{"addresses":["10.244.1.500"]},{"addresses":["10.244.1.6"]}],
    "ports":[{"name":"http","port":8080}]})");
  // A slice without its Service's label, and a Service with an unknown protocol.
  fixture.store.putSlice(R"({"metadata":{"name":"stray","namespace":"shop"},
    "addressType":"IPv4","endpoints":[{"addresses":["10.244.1.7"]}]})");
  fixture.store.putService(R"({"metadata":{"name":"odd","namespace":"shop"},
    "spec":{"clusterIP":"10.96.0.11","ports":[{"name":"q","protocol":"QUIC","port":443},
                                               {"name":"h","port":80}]}})");
  fixture.unit->reconcileAll();
  REQUIRE(fixture.events.size() == 3);
  std::map<std::string, Recorded> byObject;
  for (const auto& event : fixture.events) byObject[event.object] = event;
  CHECK(byObject.at("shop/web-a").reason == "InvalidEndpointSlice");
  CHECK_THAT(byObject.at("shop/web-a").message, Catch::Contains("endpoints[0].addresses[0]"));
  CHECK(byObject.at("shop/stray").reason == "InvalidEndpointSlice");
  CHECK_THAT(byObject.at("shop/stray").message, Catch::Contains("kubernetes.io/service-name"));
  CHECK(byObject.at("shop/odd").reason == "InvalidService");
  CHECK_THAT(byObject.at("shop/odd").message, Catch::Contains("spec.ports[0].protocol"));
  // Everything usable is served.
  REQUIRE(fixture.unit->services().size() == 2);
  CHECK(fixture.unit->services().at("shop/web").ports[0].endpoints.size() == 1);
  CHECK(fixture.unit->services().at("shop/odd").ports.size() == 1);
  // The same problems again are not reported twice.
  fixture.unit->reconcileAll();
  CHECK(fixture.events.size() == 3);
}

TEST_CASE("group IDs of different Services never collide and freed ones are reused", "[unit]") {
  ProxyFixture fixture;
  fixture.store.putService(kWeb);
  fixture.store.putService(R"({"metadata":{"name":"db","namespace":"shop"},
    "spec":{"clusterIP":"10.96.0.12","ports":[{"port":5432}]}})");
  fixture.unit->reconcileAll();
  std::set<std::uint32_t> ids;
  for (const auto& [key, view] : fixture.unit->services())
    for (const auto& group : view.groups) {
      CHECK(ids.insert(group.cluster).second);
      if (group.external != 0) CHECK(ids.insert(group.external).second);
    }
  CHECK(ids.size() == 3);
  const auto dbId = fixture.unit->services().at("shop/db").groups[0].cluster;
  fixture.store.servicesByKey.erase("shop/db");
  fixture.unit->reconcile({"shop/db"});
  fixture.store.putService(R"({"metadata":{"name":"cache","namespace":"shop"},
    "spec":{"clusterIP":"10.96.0.13","ports":[{"port":6379}]}})");
  fixture.unit->reconcile({"shop/cache"});
  CHECK(fixture.unit->services().at("shop/cache").groups[0].cluster == dbId);
}

TEST_CASE("sliceServiceKey reads the label; a ClusterIP outside the CIDR names the fix", "[unit]") {
  CHECK(sliceServiceKey(json::parse(kWebSlice)) == "shop/web");
  CHECK(sliceServiceKey(json::parse(R"({"metadata":{"name":"s","namespace":"n"}})")).empty());
  CHECK(sliceServiceKey(json(1)).empty());
  const auto cidr = *parseCidr("10.96.0.0/12");
  CHECK(serviceCidrMismatch(cidr, "default", *parseIpv4("10.96.0.10"), "n/a").empty());
  CHECK_THAT(serviceCidrMismatch(cidr, "default", *parseIpv4("10.200.0.10"), "n/a"),
             Catch::Contains("set serviceCIDR"));
}

}  // namespace
}  // namespace sluice::agent

namespace sluice::agent {
namespace {

TEST_CASE("the services answer lists each frontend with its endpoints and groups", "[unit]") {
  features::ServicePort port;
  port.service = "shop/web";
  port.portName = "http";
  port.clusterIp = *parseIpv4("10.96.0.10");
  port.port = 80;
  port.nodePort = 30080;
  port.externalLocal = true;
  port.affinityTimeoutSeconds = 60;
  port.endpoints = {{*parseIpv4("10.244.1.5"), 8080, true, true, false, true}};
  const std::map<std::string, ServiceView> services = {
      {"shop/web", ServiceView{{port}, {{65536, 65537}}, 4}}};
  const auto answer =
      servicesAnswer(services, {.enabled = true, .serviceCidr = *parseCidr("10.96.0.0/12")});
  CHECK(answer["proxy"] == true);
  CHECK(answer["serviceCIDR"] == "10.96.0.0/12");
  REQUIRE(answer["services"].size() == 1);
  const auto& item = answer["services"][0];
  CHECK(item["service"] == "shop/web");
  CHECK(item["clusterIP"] == "10.96.0.10");
  CHECK(item["nodePort"] == 30080);
  CHECK(item["externalTrafficPolicy"] == "Local");
  CHECK(item["internalTrafficPolicy"] == "Cluster");
  CHECK(item["sessionAffinity"] == "ClientIP");
  CHECK(item["affinityTimeoutSeconds"] == 60);
  CHECK(item["clusterGroup"] == 65536);
  CHECK(item["externalGroup"] == 65537);
  CHECK(item["owner"] == "service:shop/web");
  REQUIRE(item["endpoints"].size() == 1);
  CHECK(item["endpoints"][0]["ip"] == "10.244.1.5");
  CHECK(item["endpoints"][0]["local"] == true);
  CHECK(item["endpoints"][0].contains("usable"));  // usableEndpoints() decides (the feature)
}

TEST_CASE("a restarted unit restores its Services with the same groups, then corrects them",
          "[unit]") {
  char name[] = "/tmp/sl-svc-cache-XXXXXX";
  const std::string dir = ::mkdtemp(name);
  const auto path = dir + "/services-cache.json";
  features::ServiceGroupIds before;
  {
    ProxyFixture first(true, path);
    first.store.putService(kWeb);
    first.store.putSlice(kWebSlice);
    first.unit->reconcileAll();
    before = first.unit->services().at("shop/web").groups[0];
  }
  REQUIRE(std::filesystem::exists(path));
  ProxyFixture second(true, path);
  second.unit->restoreFromCache();
  CHECK(second.sink.owners.contains("service:shop/web"));
  REQUIRE(second.unit->services().contains("shop/web"));
  const auto& view = second.unit->services().at("shop/web");
  CHECK(view.groups[0].cluster == before.cluster);
  CHECK(view.groups[0].external == before.external);
  CHECK(view.ports[0].endpoints.size() == 2);
  CHECK(second.host.plans.back().nodePorts.size() == 1);
  // The informers' first full pass: the Service is gone, and so are its flows and its cache entry.
  second.unit->reconcileAll();
  CHECK(second.unit->services().empty());
  CHECK_FALSE(second.sink.owners.contains("service:shop/web"));
  ProxyFixture third(true, path);
  third.unit->restoreFromCache();
  CHECK(third.unit->services().empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::agent
