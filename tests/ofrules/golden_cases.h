// Golden flows and groups: each builder call next to the exact ovs-ofctl string it must render.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "ofrules/flow.h"
#include "ofrules/pipeline.h"

namespace sluice::ofrules::testing {

struct GoldenFlow {
  std::string name;
  Result<Flow> flow;
  std::string expected;  // renderFlow() of the flow
};

struct GoldenGroup {
  std::string name;
  Result<Group> group;
  std::string expected;  // renderGroup() of the group
};

// Every table declared, so table IDs equal the Table enum's values (Classifier 0 ... Output 17).
Pipeline fullPipeline();
// The cookie every golden flow carries: round 1, Category::kTest, owner 0x42.
Cookie goldenCookie();

std::vector<GoldenFlow> goldenFlows(const Pipeline& pipeline);
std::vector<GoldenGroup> goldenGroups(const Pipeline& pipeline);

}  // namespace sluice::ofrules::testing
