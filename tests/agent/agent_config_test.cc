// Unit tests of strict agent config parsing.
#include <catch2/catch.hpp>

#include "agent/agent_config.h"

namespace sluice::agent {
namespace {

TEST_CASE("the agent config parses known keys and keeps defaults", "[unit]") {
  auto config = parseAgentConfig("ovsDatapathType: netdev\nmtu: 1400\ncontrollerAddress: 10.10.4.1:10352\n", "node01");
  REQUIRE(config);
  CHECK(config->datapathType == DatapathType::kNetdev);
  CHECK(config->mtu == 1400);
  CHECK(config->nodeName == "node01");
  CHECK(config->integrationBridge == "br-int");
  CHECK(config->ovsdbRemote() == "unix:/var/run/openvswitch/db.sock");
  CHECK(parseAgentConfig("", "node01").ok());
}

TEST_CASE("bad agent config names the key and the fix", "[unit]") {
  auto unknown = parseAgentConfig("ovsDatapath: netdev\n", "n");
  REQUIRE_FALSE(unknown);
  CHECK_THAT(unknown.error().message, Catch::Contains("ovsDatapath") && Catch::Contains("ovsDatapathType"));
  auto badType = parseAgentConfig("ovsDatapathType: dpdk\n", "n");
  CHECK_THAT(badType.error().message, Catch::Contains("ovsDatapathType") && Catch::Contains("netdev"));
  CHECK_THAT(parseAgentConfig("mtu: huge\n", "n").error().message, Catch::Contains("mtu"));
  CHECK_THAT(parseAgentConfig("tunnelType: vxlan\n", "n").error().message, Catch::Contains("geneve"));
  CHECK_THAT(parseAgentConfig("a: [\n", "n").error().message, Catch::Contains("YAML"));
  CHECK_THAT(parseAgentConfig("", "").error().message, Catch::Contains("NODE_NAME"));
  CHECK_THAT(parseAgentConfig("livenessIntervalMs: 500\nfencingTimeoutMs: 400\n", "n").error().message,
             Catch::Contains("fencingTimeoutMs"));
}

}  // namespace
}  // namespace sluice::agent
