// Unit tests of strict agent config parsing.
#include <catch2/catch.hpp>

#include <fstream>

#include "agent/agent_config.h"

namespace sluice::agent {
namespace {

TEST_CASE("the agent config parses known keys and keeps defaults", "[unit]") {
  auto config = parseAgentConfig(
      "ovsDatapathType: netdev\nmtu: 1400\ncontrollerAddress: 10.10.4.1:10349\nreportInterval: "
      "50ms\n",
      "node01");
  REQUIRE(config);
  CHECK(config->datapathType == DatapathType::kNetdev);
  CHECK(config->mtu == 1400);
  CHECK(config->nodeName == "node01");
  CHECK(config->integrationBridge == "br-int");
  CHECK(config->reportIntervalMs == 50);
  CHECK(parseAgentConfig("mtu: auto\n", "n")->mtu == 0);
  CHECK(config->ovsdbRemote() == "unix:/var/run/openvswitch/db.sock");
  CHECK(parseAgentConfig("", "node01").ok());
}

TEST_CASE("the ConfigMap's agent config parses unchanged", "[unit]") {
  // The block scalar sluice-agent.conf of manifests/parts/20-config.yml, read from the repo.
  std::ifstream in(SLUICE_SOURCE_ROOT "/manifests/parts/20-config.yml");
  REQUIRE(in);
  std::string line, conf;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.rfind("  sluice-agent.conf: |", 0) == 0) {
      inside = true;
      continue;
    }
    if (inside && !line.empty() && line.rfind("    ", 0) != 0) break;
    if (inside) conf += (line.size() >= 4 ? line.substr(4) : "") + "\n";
  }
  REQUIRE_FALSE(conf.empty());
  auto config = parseAgentConfig(conf, "node01");
  INFO(conf);
  REQUIRE(config);
  CHECK(config->reportIntervalMs == 100);
  CHECK(config->fencingTimeoutMs == 300);
}

TEST_CASE("bad agent config names the key and the fix", "[unit]") {
  auto unknown = parseAgentConfig("ovsDatapath: netdev\n", "n");
  REQUIRE_FALSE(unknown);
  CHECK_THAT(unknown.error().message,
             Catch::Contains("ovsDatapath") && Catch::Contains("ovsDatapathType"));
  auto badType = parseAgentConfig("ovsDatapathType: dpdk\n", "n");
  CHECK_THAT(badType.error().message,
             Catch::Contains("ovsDatapathType") && Catch::Contains("netdev"));
  CHECK_THAT(parseAgentConfig("mtu: huge\n", "n").error().message, Catch::Contains("mtu"));
  CHECK_THAT(parseAgentConfig("tunnelType: vxlan\n", "n").error().message,
             Catch::Contains("geneve"));
  CHECK_THAT(parseAgentConfig("a: [\n", "n").error().message, Catch::Contains("YAML"));
  CHECK_THAT(parseAgentConfig("", "").error().message, Catch::Contains("NODE_NAME"));
  CHECK_THAT(
      parseAgentConfig("reportInterval: 500ms\nfencingTimeout: 400ms\n", "n").error().message,
      Catch::Contains("fencingTimeout"));
  CHECK_THAT(parseAgentConfig("fencingTimeout: soon\n", "n").error().message,
             Catch::Contains("duration"));
  CHECK(parseDurationMs("4s") == 4000);
  CHECK_FALSE(parseDurationMs("4h").has_value());
}

}  // namespace
}  // namespace sluice::agent

namespace sluice::agent {
namespace {

TEST_CASE("the Service proxy: on by default with kubeadm's Service CIDR", "[unit]") {
  const auto defaults = parseAgentConfig("", "node01");
  REQUIRE(defaults);
  CHECK(defaults->proxy.enabled);
  CHECK(defaults->proxy.serviceCidr == *parseCidr("10.96.0.0/12"));
  CHECK_FALSE(defaults->proxy.serviceCidrConfigured);
  CHECK(defaults->proxy.nodePortAddresses.empty());
  const auto set = parseAgentConfig(
      "serviceProxy: false\nserviceCIDR: 10.100.0.0/16\nnodePortAddresses: [10.10.0.0/16]\n",
      "node01");
  REQUIRE(set);
  CHECK_FALSE(set->proxy.enabled);
  CHECK(set->proxy.serviceCidr == *parseCidr("10.100.0.0/16"));
  CHECK(set->proxy.serviceCidrConfigured);
  CHECK(set->proxy.nodePortAddresses == std::vector<Cidr>{*parseCidr("10.10.0.0/16")});
}

TEST_CASE("a bad Service proxy setting is an error naming the field and the fix", "[unit]") {
  const auto cidr = parseAgentConfig("serviceCIDR: 10.96.0.1/12\n", "node01");
  REQUIRE_FALSE(cidr);
  CHECK_THAT(cidr.error().message, Catch::Contains("serviceCIDR: "));
  CHECK_THAT(cidr.error().message, Catch::Contains("--service-cluster-ip-range"));
  const auto garbage = parseAgentConfig("serviceCIDR: ten\n", "node01");
  REQUIRE_FALSE(garbage);
  CHECK_THAT(garbage.error().message, Catch::Contains("serviceCIDR"));
  const auto enabled = parseAgentConfig("serviceProxy: maybe\n", "node01");
  REQUIRE_FALSE(enabled);
  CHECK_THAT(enabled.error().message, Catch::Contains("serviceProxy: must be true"));
  const auto addresses = parseAgentConfig("nodePortAddresses: [x]\n", "node01");
  REQUIRE_FALSE(addresses);
  CHECK_THAT(addresses.error().message, Catch::Contains("nodePortAddresses: entry 0"));
  CHECK_FALSE(parseAgentConfig("nodePortAddresses: 10.0.0.0/8\n", "node01"));
}

}  // namespace
}  // namespace sluice::agent
