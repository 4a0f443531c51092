// egressOf(): the Egress the agent reports for a local pod (get egress's LOCAL PODS) is the one
// the datapath uses: the oldest of those that select the pod.
#include <catch2/catch.hpp>

#include "agent/features/egress.h"

namespace sluice::agent::features {
namespace {

EgressPolicy policy(const std::string& name, std::int64_t order, const std::string& role) {
  EgressPolicy egress;
  egress.name = name;
  egress.creationOrder = order;
  kube::LabelSelector selector;
  selector.matchLabels = {{"role", role}};
  egress.podSelector = selector;
  return egress;
}

TEST_CASE("the oldest selecting Egress applies to a pod; none when nothing selects it", "[unit]") {
  EgressInputs inputs;
  inputs.policies = {policy("newer", 20, "web"), policy("older", 10, "web"),
                     policy("db-only", 5, "db")};
  const EgressPod web{"pod:a/eth0", "prod", "web-1", {{"role", "web"}}, 0x0af40102};
  const EgressPod cache{"pod:b/eth0", "prod", "cache-1", {{"role", "cache"}}, 0x0af40103};
  const auto* chosen = egressOf(inputs, web);
  REQUIRE(chosen != nullptr);
  CHECK(chosen->name == "older");
  CHECK(egressOf(inputs, cache) == nullptr);
}

}  // namespace
}  // namespace sluice::agent::features
