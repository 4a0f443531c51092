// Security end to end (docs/security.md): what a pod must not be able to do to another pod's
// egress, checked at the external host, which logs every probe that reaches it.
#include <catch2/catch.hpp>

#include <regex>
#include <string>

#include "lab_fixture.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

int probesWithTag(const Lab& lab, const std::string& tag) {
  const auto log = shell("cat " + lab.stateDir() + "/ext/probes.log").output;
  int count = 0;
  const std::regex line("\\d+ \\S+ \\d+ " + tag + "\\n");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator();
       ++it)
    ++count;
  return count;
}

std::string attack(const std::string& arguments) {
  return "python3 " + std::string(SLUICE_SOURCE_ROOT) + "/tools/lab/spoof.py " + arguments;
}

TEST_CASE("a pod can neither spoof a source IP nor tunnel to an egress node to use its IP",
          "[lab][security]") {
  Lab lab{{.nodes = 3}};
  REQUIRE(lab.up());
  REQUIRE(lab.lab("ns add prod --labels env=prod").ok());
  REQUIRE(lab.lab("node label node02 network-role=egress-gateway").ok());
  const auto web = lab.addPod("web-1", "node01", "role=web", "prod");
  const auto attacker = lab.addPod("attacker", "node01", "role=attacker", "default");
  REQUIRE_FALSE(web.empty());
  REQUIRE_FALSE(attacker.empty());
  const std::string fixtures = std::string(SLUICE_SOURCE_ROOT) + "/tests/fixtures/thesis/";
  REQUIRE(lab.kubectl("apply -f " + fixtures + "listing2-pool.yml").ok());
  REQUIRE(lab.kubectl("apply -f " + fixtures + "listing1-egress.yml").ok());
  // web-1 leaves as 10.10.0.8 through node02 (the only egress-gateway node): the IP is live.
  REQUIRE(waitFor(15s, [&] {
    return lab.kubectl("get egress egress-prod-web -o jsonpath='{.status.egressNode}'").output ==
           "node02";
  }));
  const auto node02 = lab.kubectl(
      "get node node02 -o jsonpath='{.status.addresses[?(@.type==\"InternalIP\")].address}'");
  REQUIRE(node02.ok());
  REQUIRE_FALSE(node02.output.empty());

  // The control: plain probes from the attacker arrive, so silence below means "dropped".
  REQUIRE(lab.exec("default/attacker", attack("--control --tag control")).ok());
  REQUIRE(waitFor(5s, [&] { return probesWithTag(lab, "control") > 0; }));

  // 1. web-1's source IP from the attacker's port: SpoofGuard's miss drops it.
  REQUIRE(lab.exec("default/attacker", attack("--spoof-src " + web + " --tag spoofsrc")).ok());
  // 2. Geneve to the egress node with 10.10.0.8's tunnel ID (0x0a0008): the source node drops
  //    pod traffic to another node's tunnel port, so node02 never SNATs it to the egress IP.
  REQUIRE(lab.exec("default/attacker",
                   attack("--geneve " + node02.output + " --vni 0x0a0008 --inner-src " + attacker +
                          " --tag geneve"))
              .ok());
  // One more control after the attacks: when it has arrived, so would have anything sent before.
  REQUIRE(lab.exec("default/attacker", attack("--control --tag control2")).ok());
  REQUIRE(waitFor(5s, [&] { return probesWithTag(lab, "control2") > 0; }));
  INFO(shell("tail -n 20 " + lab.stateDir() + "/ext/probes.log").output);
  CHECK(probesWithTag(lab, "spoofsrc") == 0);
  CHECK(probesWithTag(lab, "geneve") == 0);
}

}  // namespace
}  // namespace sluice::testing
