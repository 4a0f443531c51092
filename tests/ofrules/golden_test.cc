// Golden-string tests: every match and action renders exactly as expected.
#include <catch2/catch.hpp>

#include <set>

#include "golden_cases.h"
#include "ofrules/flow_builder.h"

namespace sluice::ofrules::testing {
namespace {

TEST_CASE("every golden flow builds and renders its golden string", "[unit]") {
  Pipeline pipeline = fullPipeline();
  auto cases = goldenFlows(pipeline);
  REQUIRE(cases.size() >= 25);
  for (const auto& golden : cases) {
    INFO(golden.name);
    if (!golden.flow.ok()) FAIL(golden.flow.error().message);
    CHECK(renderFlow(*golden.flow) == golden.expected);
  }
}

TEST_CASE("golden flows have distinct keys", "[unit]") {
  Pipeline pipeline = fullPipeline();
  std::set<FlowKey> keys;
  for (const auto& golden : goldenFlows(pipeline)) {
    REQUIRE(golden.flow.ok());
    INFO(golden.name);
    CHECK(keys.insert(golden.flow->key()).second);
  }
}

}  // namespace
}  // namespace sluice::ofrules::testing
