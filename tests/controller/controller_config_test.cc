// Unit tests of sluice-controller.conf parsing, including the ConfigMap the manifests ship.
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>
#include <catch2/catch.hpp>

#include "controller/controller_config.h"

namespace sluice::controller {
namespace {

std::string shippedControllerConfig() {
  std::ifstream file(std::string(SLUICE_SOURCE_ROOT) + "/manifests/parts/20-config.yml");
  std::stringstream text;
  text << file.rdbuf();
  for (const auto& document : YAML::LoadAll(text.str()))
    if (document["kind"] && document["kind"].as<std::string>() == "ConfigMap")
      return document["data"]["sluice-controller.conf"].as<std::string>();
  return {};
}

TEST_CASE("the shipped ConfigMap's controller config parses unchanged", "[unit]") {
  const auto text = shippedControllerConfig();
  REQUIRE_FALSE(text.empty());
  auto config = parseControllerConfig(text, "ConfigMap sluice-config");
  INFO((config ? "" : config.error().message));
  REQUIRE(config);
  CHECK(config->listenAddress == "0.0.0.0:10349");
  CHECK(config->authenticateAgents);
  CHECK(config->leaderElection.enabled);
  CHECK(config->leaderElection.leaseName == "sluice-controller");
  CHECK(config->leaderElection.leaseDuration == std::chrono::seconds(5));
  CHECK(config->leaderElection.renewDeadline == std::chrono::seconds(3));
  CHECK(config->leaderElection.retryPeriod == std::chrono::seconds(1));
  CHECK(config->nodeSilenceTimeout == std::chrono::milliseconds(500));
  CHECK(config->peerWitnesses == 5);
  CHECK(config->maxEgressIPsPerNode == 255);
  CHECK_FALSE(config->rebalance);
  CHECK(config->serviceCIDR.toString() == "10.96.0.0/12");
  CHECK_FALSE(config->serviceCIDRConfigured);  // detected at start, else this default
  auto set = parseControllerConfig("serviceCIDR: 10.100.0.0/16\n", "test");
  REQUIRE(set);
  CHECK(set->serviceCIDR.toString() == "10.100.0.0/16");
  CHECK(set->serviceCIDRConfigured);
  // The shipped agent defaults (100ms reports, 300ms fencing) satisfy the timing contract.
  CHECK(validateTiming(AgentTiming{}, config->nodeSilenceTimeout));
}

TEST_CASE("unknown keys and bad values name the key and the fix", "[unit]") {
  auto unknown = parseControllerConfig("nodeSilenceTimout: 500ms\n", "test");
  REQUIRE_FALSE(unknown);
  CHECK_THAT(unknown.error().message, Catch::Contains("unknown key nodeSilenceTimout"));
  CHECK_THAT(unknown.error().message, Catch::Contains("nodeSilenceTimeout"));

  auto nested = parseControllerConfig("leaderElection:\n  leaseNme: x\n", "test");
  REQUIRE_FALSE(nested);
  CHECK_THAT(nested.error().message, Catch::Contains("leaderElection.leaseNme"));

  auto duration = parseControllerConfig("nodeSilenceTimeout: 500\n", "test");
  REQUIRE_FALSE(duration);
  CHECK_THAT(duration.error().message, Catch::Contains("nodeSilenceTimeout must be a duration"));

  auto boolean = parseControllerConfig("rebalance: yes please\n", "test");
  REQUIRE_FALSE(boolean);
  CHECK_THAT(boolean.error().message, Catch::Contains("rebalance must be true or false"));

  auto services = parseControllerConfig("serviceCIDR: 10.96.0.1/12\n", "test");
  REQUIRE_FALSE(services);
  CHECK_THAT(services.error().message,
             Catch::Contains("serviceCIDR must be the cluster's Service CIDR"));
  CHECK_THAT(services.error().message, Catch::Contains("10.96.0.0/12"));

  auto order =
      parseControllerConfig("leaderElection:\n  leaseDuration: 5s\n  renewDeadline: 6s\n", "test");
  REQUIRE_FALSE(order);
  CHECK_THAT(order.error().message,
             Catch::Contains("renewDeadline must be shorter than leaseDuration"));
}

TEST_CASE("durations take ms, s and m", "[unit]") {
  CHECK(parseDuration("500ms") == std::chrono::milliseconds(500));
  CHECK(parseDuration("15s") == std::chrono::milliseconds(15'000));
  CHECK(parseDuration("2m") == std::chrono::milliseconds(120'000));
  CHECK_FALSE(parseDuration("1.5s"));
  CHECK_FALSE(parseDuration("s"));
  CHECK_FALSE(parseDuration("10h"));
}

TEST_CASE("fencing must finish before the controller moves IPs", "[unit]") {
  CHECK(validateTiming(AgentTiming{std::chrono::milliseconds(100), std::chrono::milliseconds(300)},
                       std::chrono::milliseconds(500)));
  auto tooSlow =
      validateTiming(AgentTiming{std::chrono::milliseconds(100), std::chrono::milliseconds(400)},
                     std::chrono::milliseconds(500));
  REQUIRE_FALSE(tooSlow);
  CHECK_THAT(tooSlow.error().message, Catch::Contains("fencingTimeout"));
  CHECK_THAT(tooSlow.error().message, Catch::Contains("nodeSilenceTimeout"));
}

}  // namespace
}  // namespace sluice::controller

namespace sluice::controller {
namespace {

TEST_CASE("the shipped agent timing fits the shipped controller timing", "[unit]") {
  std::ifstream file(std::string(SLUICE_SOURCE_ROOT) + "/manifests/parts/20-config.yml");
  std::stringstream text;
  text << file.rdbuf();
  std::string agentText;
  for (const auto& document : YAML::LoadAll(text.str()))
    if (document["kind"] && document["kind"].as<std::string>() == "ConfigMap")
      agentText = document["data"]["sluice-agent.conf"].as<std::string>();
  auto timing = parseAgentTiming(agentText, "ConfigMap sluice-config");
  REQUIRE(timing);
  CHECK(timing->reportInterval == std::chrono::milliseconds(100));
  CHECK(timing->fencingTimeout == std::chrono::milliseconds(300));
  auto controller = parseControllerConfig(shippedControllerConfig(), "ConfigMap sluice-config");
  REQUIRE(controller);
  CHECK(validateTiming(*timing, controller->nodeSilenceTimeout));
  CHECK_FALSE(validateTiming(*timing, std::chrono::milliseconds(400)));
  CHECK(validateElectionTiming(*timing, controller->leaderElection));
}

TEST_CASE("the lab's short Lease validates, and an old leader's word expires before a new one",
          "[unit]") {
  auto lab = parseControllerConfig(
      "leaderElection:\n  leaseDuration: 2s\n  renewDeadline: 1500ms\n  retryPeriod: 250ms\n"
      "nodeSilenceTimeout: 500ms\n",
      "lab");
  INFO((lab ? "" : lab.error().message));
  REQUIRE(lab);
  CHECK(validateTiming(AgentTiming{}, lab->nodeSilenceTimeout));
  CHECK(validateElectionTiming(AgentTiming{}, lab->leaderElection));
  // 1800ms + 300ms is not below 2s: an agent could hold on the old leader's word.
  auto tight = lab->leaderElection;
  tight.renewDeadline = std::chrono::milliseconds(1800);
  auto refused = validateElectionTiming(AgentTiming{}, tight);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message, Catch::Contains("renewDeadline"));
  CHECK_THAT(refused.error().message, Catch::Contains("leaseDuration"));
  CHECK_FALSE(parseControllerConfig("peerWitnesses: 0\n", "test"));
  auto three = parseControllerConfig("peerWitnesses: 3\n", "test");
  REQUIRE(three);
  CHECK(three->peerWitnesses == 3);
}

}  // namespace
}  // namespace sluice::controller
